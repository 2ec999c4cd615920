"""Face enrolment, consent and the entry QR code: the shopper's own (/api/me/...) and the
staff kiosk's (/api/shoppers/...). Photos are read in memory and never stored."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from store.api.permissions import IsStaff
from store.errors import DomainError
from store.models import Shopper
from store.ratelimit import ratelimit_hit
from store.services.faces import face_consent_set, face_count, face_delete, face_enrol
from store.services.invites import shopper_invite
from store.services.qr import qr_issue
from store.services.shoppers import shopper_create


def _me(request) -> Shopper:
    shopper = getattr(request.user, "shopper", None)
    if shopper is None:
        raise DomainError("not_a_shopper", "this account has no shopper profile", status=403)
    return shopper


def _enrol_quota(key: str) -> None:
    """Enrolment runs the face model on every photo: limit it per shopper and per kiosk user."""
    limits = settings.MINIGO
    ratelimit_hit(
        scope="enrol", key=key, limit=limits["ENROL_LIMIT"], window_s=limits["ENROL_WINDOW_S"]
    )


class ConsentIn(serializers.Serializer):
    face = serializers.BooleanField()


class ConsentOut(serializers.Serializer):
    face = serializers.BooleanField()
    face_consent_at = serializers.DateTimeField(allow_null=True)
    embeddings = serializers.IntegerField()


def _consent_out(shopper: Shopper) -> dict:
    return ConsentOut(
        {
            "face": shopper.face_consent,
            "face_consent_at": shopper.face_consent_at,
            "embeddings": face_count(shopper=shopper),
        }
    ).data


class MyConsent(APIView):
    """Record ({"face": true}) or withdraw ({"face": false}) consent to face identification.
    Withdrawing deletes the face data at once."""

    @extend_schema(responses=ConsentOut)
    def get(self, request):
        return Response(_consent_out(_me(request)))

    @extend_schema(request=ConsentIn, responses=ConsentOut)
    def post(self, request):
        shopper = _me(request)
        data = ConsentIn(data=request.data)
        data.is_valid(raise_exception=True)
        face_consent_set(shopper=shopper, consent=data.validated_data["face"])
        return Response(_consent_out(shopper))


FaceOut = inline_serializer("FaceOut", {"embeddings": serializers.IntegerField()})


def _read(upload) -> bytes:
    # Uploads larger than the in-memory limit arrive as temporary files, which Django deletes
    # when the request ends; nothing is written anywhere else.
    return b"".join(upload.chunks())


class MyFace(APIView):
    """POST a selfie (multipart field "image") → 201 {"embeddings": n stored for you}, or 400
    with a code: consent_required, no_face, many_faces, face_too_small, face_blurry,
    face_matches_other, face_other_person, frame_corrupt, frame_bad_type, frame_too_large,
    frame_dimensions.
    DELETE removes all your face data → 204."""

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(responses=FaceOut)
    def get(self, request):
        return Response({"embeddings": face_count(shopper=_me(request))})

    @extend_schema(
        request={
            "multipart/form-data": inline_serializer("Selfie", {"image": serializers.FileField()})
        },
        responses={201: FaceOut},
    )
    def post(self, request):
        shopper = _me(request)
        _enrol_quota(f"shopper-{shopper.pk}")
        upload = request.FILES.get("image")
        if upload is None:
            raise DomainError("image_required", "send the photo in the multipart field 'image'")
        result = face_enrol(shopper=shopper, images=[_read(upload)], source="selfie")
        if result.errors:
            _index, code, message = result.errors[0]
            raise DomainError(code, message)
        return Response({"embeddings": result.total}, status=201)

    @extend_schema(responses={204: None})
    def delete(self, request):
        face_delete(shopper=_me(request))
        return Response(status=204)


class MyQr(APIView):
    """A fresh entry code: {"token", "expires_at", "svg"} (the SVG is the QR of the token)."""

    @extend_schema(
        responses=inline_serializer(
            "QrCode",
            {
                "token": serializers.CharField(),
                "expires_at": serializers.DateTimeField(),
                "svg": serializers.CharField(),
            },
        )
    )
    def get(self, request):
        code = qr_issue(shopper=_me(request))
        response = Response(
            {"token": code.token, "expires_at": code.expires_at.isoformat(), "svg": code.svg}
        )
        response["Cache-Control"] = "no-store"
        return response


# --- staff kiosk ----------------------------------------------------------------------------
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


KioskOut = inline_serializer(
    "KioskFacesOut",
    {
        "added": serializers.IntegerField(),
        "embeddings": serializers.IntegerField(),
        "errors": serializers.ListField(child=serializers.DictField()),
    },
)


class ShopperFaces(APIView):
    """Staff kiosk: POST several photos (multipart field "images", repeated) for a shopper who
    has recorded consent → {"added": n, "embeddings": total, "errors": [{"name", "code"}]}.
    DELETE removes the shopper's face data → 204."""

    permission_classes = [IsStaff]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={
            "multipart/form-data": inline_serializer(
                "KioskPhotos", {"images": serializers.ListField(child=serializers.FileField())}
            )
        },
        responses=KioskOut,
    )
    def post(self, request, pk: int):
        shopper = get_object_or_404(Shopper, pk=pk)
        _enrol_quota(f"staff-{request.user.pk}")
        uploads = request.FILES.getlist("images")
        if not uploads:
            raise DomainError("image_required", "send the photos in the multipart field 'images'")
        if len(uploads) > 20:
            raise DomainError("too_many_images", "send at most 20 photos at once")
        result = face_enrol(shopper=shopper, images=[_read(u) for u in uploads], source="kiosk")
        errors = [
            {"name": uploads[i].name, "code": code, "detail": message}
            for i, code, message in result.errors
        ]
        return Response({"added": result.added, "embeddings": result.total, "errors": errors})

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        face_delete(shopper=get_object_or_404(Shopper, pk=pk))
        return Response(status=204)


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
