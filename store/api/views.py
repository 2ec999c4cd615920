"""One small view per operation: validate, call a service, serialize."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import F, QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from store.api import serializers as s
from store.api.permissions import IsStaff, ReadAnyWriteStaff
from store.errors import NotFound
from store.models import Product, ReviewItem, Shelf, Slot
from store.selectors import receipts_for, visits_for
from store.services.calibration import slot_calibrate
from store.services.carts import cart_snapshot
from store.services.restock import slot_restock, slot_stock_count
from store.services.review import review_resolve
from store.services.visits import visit_current


class ProductList(generics.ListCreateAPIView):
    queryset = Product.objects.all()
    serializer_class = s.ProductSerializer
    permission_classes = [ReadAnyWriteStaff]


class ProductDetail(generics.RetrieveUpdateAPIView):
    queryset = Product.objects.all()
    serializer_class = s.ProductSerializer
    permission_classes = [ReadAnyWriteStaff]


class ShelfList(generics.ListCreateAPIView):
    queryset = Shelf.objects.prefetch_related("slots__product").select_related("device")
    serializer_class = s.ShelfSerializer
    permission_classes = [IsStaff]


class ShelfDetail(generics.RetrieveUpdateAPIView):
    queryset = Shelf.objects.prefetch_related("slots__product").select_related("device")
    serializer_class = s.ShelfSerializer
    permission_classes = [IsStaff]


class SlotList(generics.ListCreateAPIView):
    queryset = Slot.objects.select_related("product", "shelf")
    serializer_class = s.SlotSerializer
    permission_classes = [IsStaff]


class SlotDetail(generics.RetrieveUpdateAPIView):
    queryset = Slot.objects.select_related("product", "shelf")
    serializer_class = s.SlotSerializer
    permission_classes = [IsStaff]

    def perform_update(self, serializer):
        # A new stock figure is a count by this staff member: kept in the slot's history.
        stock = serializer.validated_data.pop("stock", None)
        slot = serializer.save()
        if stock is not None and stock != slot.stock:
            slot_stock_count(slot=slot, stock=stock, by=self.request.user, note="api")
            slot.refresh_from_db()


class StockList(generics.ListAPIView):
    """Stock per slot, lowest first relative to its threshold."""

    serializer_class = s.SlotSerializer
    permission_classes = [IsStaff]

    def get_queryset(self):
        qs = Slot.objects.select_related("product", "shelf").order_by("stock", "shelf__name")
        if self.request.query_params.get("low") in ("1", "true"):
            qs = qs.filter(stock__lte=F("low_stock_threshold"))
        return qs


class SlotRestock(APIView):
    permission_classes = [IsStaff]

    @extend_schema(request=s.RestockSerializer, responses=s.SlotSerializer)
    def post(self, request, pk: int):
        slot = get_object_or_404(Slot, pk=pk)
        data = s.RestockSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        slot = slot_restock(
            slot=slot,
            quantity=data.validated_data["quantity"],
            by=request.user,
            batch_code=data.validated_data.get("batch_code") or "",
            best_before=data.validated_data.get("best_before"),
        )
        return Response(s.SlotSerializer(slot).data)


class SlotReach(APIView):
    """Calibrate a slot's reach band (drawn by the manager on the shelf camera's frame)."""

    permission_classes = [IsStaff]

    @extend_schema(request=s.ReachSerializer, responses=s.SlotSerializer)
    def post(self, request, pk: int):
        slot = get_object_or_404(Slot, pk=pk)
        data = s.ReachSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        slot = slot_calibrate(slot=slot, reach=data.validated_data["reach"])
        return Response(s.SlotSerializer(slot).data)


class Visible:
    """The rows the signed-in user may see, from a selector (a shopper their own, staff all);
    a list narrows them by the query parameters in `narrowed_by` ({parameter: lookup})."""

    selector: Callable[[Any], QuerySet]
    narrowed_by: dict[str, str] = {}

    def get_queryset(self) -> QuerySet:
        qs = self.selector(self.request.user)
        for param, lookup in self.narrowed_by.items():
            value = self.request.query_params.get(param)
            if value:
                qs = qs.filter(**{lookup: value})
        return qs


class VisitList(Visible, generics.ListAPIView):
    serializer_class = s.VisitSerializer
    selector = staticmethod(visits_for)
    narrowed_by = {"status": "status"}


class VisitDetail(Visible, generics.RetrieveAPIView):
    serializer_class = s.VisitSerializer
    selector = staticmethod(visits_for)


class VisitCart(APIView):
    @extend_schema(responses=s.CartSerializer)
    def get(self, request, pk: int):
        visit = get_object_or_404(visits_for(request.user), pk=pk)
        return Response(cart_snapshot(visit=visit))


class MyCart(APIView):
    """The signed-in shopper's cart while they are in the store."""

    @extend_schema(responses=s.CartSerializer)
    def get(self, request):
        shopper = getattr(request.user, "shopper", None)
        visit = visit_current(shopper=shopper) if shopper is not None else None
        if visit is None:
            raise NotFound("not_in_store", "you are not in the store")
        return Response(cart_snapshot(visit=visit))


class ReceiptList(Visible, generics.ListAPIView):
    serializer_class = s.ReceiptSerializer
    selector = staticmethod(receipts_for)
    narrowed_by = {"q": "number__icontains"}


class ReceiptDetail(Visible, generics.RetrieveAPIView):
    serializer_class = s.ReceiptSerializer
    selector = staticmethod(receipts_for)


class ReviewList(generics.ListAPIView):
    serializer_class = s.ReviewItemSerializer
    permission_classes = [IsStaff]

    def get_queryset(self):
        qs = ReviewItem.objects.all()
        status = self.request.query_params.get("status", "open")
        return qs if status == "all" else qs.filter(status=status)


class ReviewResolve(APIView):
    permission_classes = [IsStaff]

    @extend_schema(request=s.ReviewResolveSerializer, responses=s.ReviewItemSerializer)
    def post(self, request, pk: int):
        item = get_object_or_404(ReviewItem, pk=pk)
        data = s.ReviewResolveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        item = review_resolve(item=item, by=request.user, **data.validated_data)
        return Response(s.ReviewItemSerializer(item).data)
