"""Staff: the shoppers, creating one at the kiosk, and their set-password invites
(/api/shoppers/...)."""

from __future__ import annotations

from django.db.models import Count, Q
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from store.api.permissions import IsStaff
from store.models import Shopper
from store.services.invites import shopper_invite
from store.services.shoppers import shopper_create


class ShopperIn(serializers.Serializer):
    username = serializers.RegexField(r"^[\w.@+-]+\Z", max_length=150)
    display_name = serializers.CharField(max_length=100)
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    face_consent = serializers.BooleanField(default=False)


class ShopperOut(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username")
    email = serializers.CharField(source="user.email")
    embeddings = serializers.IntegerField(source="embeddings_count", read_only=True)

    class Meta:
        model = Shopper
        fields = [
            "id",
            "username",
            "display_name",
            "email",
            "face_consent",
            "face_consent_at",
            "embeddings",
            "created_at",
        ]


class ShopperList(generics.ListAPIView):
    """Staff: the shoppers (paginated like every list: {"count", "results"}; `?q=` searches
    names and usernames), and creating one at the kiosk."""

    serializer_class = ShopperOut
    permission_classes = [IsStaff]

    def get_queryset(self):
        qs = Shopper.objects.select_related("user").annotate(embeddings_count=Count("embeddings"))
        q = self.request.query_params.get("q")
        if q:
            qs = qs.filter(Q(display_name__icontains=q) | Q(user__username__icontains=q))
        return qs.order_by("display_name", "id")

    @extend_schema(request=ShopperIn, responses={201: ShopperOut})
    def post(self, request):
        data = ShopperIn(data=request.data)
        data.is_valid(raise_exception=True)
        shopper = shopper_create(**data.validated_data)
        shopper.embeddings_count = 0
        return Response(ShopperOut(shopper).data, status=201)


InviteOut = inline_serializer(
    "InviteOut",
    {
        "url": serializers.CharField(),
        "svg": serializers.CharField(),
        "expires_at": serializers.DateTimeField(),
        "emailed": serializers.BooleanField(),
        "username": serializers.CharField(),
    },
)


class ShopperInvite(APIView):
    """Staff: a set-password link for a shopper created at the kiosk, with its QR code to
    print or scan; mailed too when the shopper has an address (unless {"email": false})."""

    permission_classes = [IsStaff]

    @extend_schema(request=None, responses=InviteOut)
    def post(self, request, pk: int):
        shopper = get_object_or_404(Shopper.objects.select_related("user"), pk=pk)
        email = request.data.get("email", True) not in (False, "false", "0")
        invite = shopper_invite(
            shopper=shopper, base_url=request.build_absolute_uri("/"), email=email
        )
        return Response(
            {
                "url": invite.url,
                "svg": invite.svg,
                "expires_at": invite.expires_at.isoformat(),
                "emailed": invite.emailed,
                "username": shopper.user.get_username(),
            }
        )
