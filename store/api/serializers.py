from __future__ import annotations

from rest_framework import serializers

from store.models import (
    Product,
    Receipt,
    ReceiptLine,
    ReceiptRevision,
    ReviewItem,
    Shelf,
    Slot,
    Visit,
)


class ProductSerializer(serializers.ModelSerializer):
    class Meta:
        model = Product
        fields = [
            "id",
            "sku",
            "name",
            "price",
            "tax_rate",
            "unit_weight_g",
            "weight_tolerance_g",
            "image",
            "age_restricted",
            "active",
        ]
        read_only_fields = ["image"]

    def validate_unit_weight_g(self, value: float) -> float:
        if not 0 < value <= 100_000:
            raise serializers.ValidationError("a unit weight is between 0 and 100 kg")
        return value


class ReachField(serializers.ListField):
    """A slot's calibrated reach band as [x1, x2] (fractions of its camera's view), or null."""

    def __init__(self, **kwargs):
        super().__init__(
            child=serializers.FloatField(min_value=0.0, max_value=1.0),
            min_length=2,
            max_length=2,
            allow_null=True,
            **kwargs,
        )

    def to_representation(self, data):
        return list(data) if data is not None else None


class SlotSerializer(serializers.ModelSerializer):
    product_sku = serializers.CharField(source="product.sku", read_only=True, default=None)
    is_low = serializers.BooleanField(read_only=True)
    reach = ReachField(required=False)

    class Meta:
        model = Slot
        fields = [
            "id",
            "shelf",
            "code",
            "product",
            "product_sku",
            "sensor",
            "stock",
            "capacity",
            "low_stock_threshold",
            "lane_depth_mm",
            "item_depth_mm",
            "reach",
            "is_low",
        ]

    def validate(self, attrs):
        if "reach" in attrs:
            reach = attrs.pop("reach")
            if reach is not None and not reach[0] < reach[1]:
                raise serializers.ValidationError({"reach": "the band's left edge comes first"})
            attrs["reach_from"], attrs["reach_to"] = reach if reach is not None else (None, None)
        capacity = attrs.get("capacity", getattr(self.instance, "capacity", None))
        stock = attrs.get("stock", getattr(self.instance, "stock", 0))
        if capacity is not None and stock > capacity:
            raise serializers.ValidationError({"stock": "stock cannot exceed capacity"})
        return attrs


class ShelfSerializer(serializers.ModelSerializer):
    slots = SlotSerializer(many=True, read_only=True)
    device_id = serializers.CharField(source="device.device_id", read_only=True, default=None)

    class Meta:
        model = Shelf
        fields = ["id", "name", "device", "device_id", "has_camera", "detector", "slots"]


class RestockSerializer(serializers.Serializer):
    quantity = serializers.IntegerField(min_value=1, max_value=10_000)
    batch_code = serializers.CharField(max_length=64, required=False, allow_blank=True)
    best_before = serializers.DateField(required=False, allow_null=True)


class CartLineSerializer(serializers.Serializer):
    product = serializers.IntegerField()
    sku = serializers.CharField()
    name = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price = serializers.DecimalField(max_digits=10, decimal_places=2)
    line_total = serializers.DecimalField(max_digits=12, decimal_places=2)


class CartSerializer(serializers.Serializer):
    visit = serializers.IntegerField()
    shopper = serializers.IntegerField()
    status = serializers.CharField()
    lines = CartLineSerializer(many=True)
    total = serializers.DecimalField(max_digits=12, decimal_places=2)
    items = serializers.IntegerField()


class VisitSerializer(serializers.ModelSerializer):
    shopper_name = serializers.CharField(source="shopper.display_name", read_only=True)

    class Meta:
        model = Visit
        fields = [
            "id",
            "shopper",
            "shopper_name",
            "status",
            "entered_at",
            "exited_at",
            "entry_method",
        ]


class ReceiptLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReceiptLine
        fields = ["id", "sku", "name", "quantity", "unit_price", "tax_rate", "line_total"]


class ReceiptRevisionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReceiptRevision
        fields = [
            "revision",
            "reason",
            "provisional",
            "total",
            "difference",
            "changes",
            "note",
            "created_at",
        ]


class ReceiptSerializer(serializers.ModelSerializer):
    lines = ReceiptLineSerializer(many=True, read_only=True)
    revisions = ReceiptRevisionSerializer(many=True, read_only=True)

    class Meta:
        model = Receipt
        fields = [
            "id",
            "number",
            "visit",
            "shopper",
            "issued_at",
            "subtotal",
            "tax",
            "total",
            "currency",
            "revision",
            "provisional",
            "waiting_for",
            "lines",
            "revisions",
        ]


class ReviewItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReviewItem
        fields = [
            "id",
            "reason",
            "status",
            "shelf_event",
            "frame",
            "slot",
            "product",
            "quantity",
            "candidates",
            "evidence",
            "created_at",
            "resolved_at",
            "resolution",
        ]


class ReviewResolveSerializer(serializers.Serializer):
    dismiss = serializers.BooleanField(default=False)
    visit = serializers.PrimaryKeyRelatedField(queryset=Visit.objects.all(), required=False)
    product = serializers.PrimaryKeyRelatedField(queryset=Product.objects.all(), required=False)
    quantity = serializers.IntegerField(required=False, min_value=-1000, max_value=1000)
    note = serializers.CharField(required=False, allow_blank=True, max_length=200)


class ReachSerializer(serializers.Serializer):
    reach = ReachField()
