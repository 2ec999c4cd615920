"""Staff actions at the doors: let a shopper in by hand, close the visit of one who walked
out unseen (which settles their receipt, as the exit gate would), and correct a receipt after
the exit (a new revision of it)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from store.api.permissions import IsStaff
from store.api.serializers import VisitSerializer
from store.models import Product, Receipt, Shopper, Slot, Visit
from store.services.receipts import receipt_correct, receipt_payload
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


class CorrectionSerializer(serializers.Serializer):
    product = serializers.PrimaryKeyRelatedField(queryset=Product.objects.all())
    quantity = serializers.IntegerField(min_value=-1000, max_value=1000)
    note = serializers.CharField(max_length=200)
    slot = serializers.PrimaryKeyRelatedField(
        queryset=Slot.objects.all(), required=False, allow_null=True
    )

    def validate_quantity(self, value: int) -> int:
        if value == 0:
            raise serializers.ValidationError("add (positive) or remove (negative) items")
        return value


class ReceiptCorrection(APIView):
    """Add items to (positive quantity) or remove them from (negative) a closed visit's
    receipt: a correction entry on its ledger and a new revision of the receipt. With `slot`
    the stock of that slot moves with it."""

    permission_classes = [IsStaff]

    @extend_schema(request=CorrectionSerializer, responses=dict)
    def post(self, request, pk: int):
        receipt = get_object_or_404(Receipt, pk=pk)
        data = CorrectionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        receipt = receipt_correct(receipt=receipt, by=request.user, **data.validated_data)
        return Response(receipt_payload(receipt=receipt))
