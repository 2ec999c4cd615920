"""Staff actions at the doors: let a shopper in by hand, and close the visit of one who
walked out unseen (which issues their receipt, as the exit gate would)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from store.api.permissions import IsStaff
from store.api.serializers import VisitSerializer
from store.models import Shopper, Visit
from store.services.receipts import receipt_payload
from store.services.visits import visit_close, visit_open


class AdmitSerializer(serializers.Serializer):
    shopper = serializers.PrimaryKeyRelatedField(queryset=Shopper.objects.all())


class VisitAdmit(APIView):
    permission_classes = [IsStaff]

    @extend_schema(request=AdmitSerializer, responses=VisitSerializer)
    def post(self, request):
        data = AdmitSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        visit, created = visit_open(shopper=data.validated_data["shopper"], method="manual")
        return Response(VisitSerializer(visit).data, status=201 if created else 200)


class VisitClose(APIView):
    permission_classes = [IsStaff]

    @extend_schema(request=None, responses=dict)
    def post(self, request, pk: int):
        visit = get_object_or_404(Visit, pk=pk)
        receipt = visit_close(visit=visit)
        if receipt is None:
            # The receipt waits for the store's shelves to report past the exit (202: it
            # follows on the live socket and in the receipts list).
            visit.refresh_from_db()
            return Response(
                {"visit": visit.pk, "status": "settling", "exited_at": visit.exited_at},
                status=202,
            )
        return Response(receipt_payload(receipt=receipt))
