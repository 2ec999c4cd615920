from __future__ import annotations

from .accounts import Account, AccountEntry, AccountEntryKind, AccountMode, Payment, StorePolicy
from .catalog import Product, SensorKind, Shelf, Slot
from .detection import ClassMapping, DatasetBox, DatasetImage, DetectorModel
from .devices import Device, DeviceKind, EventStatus, Frame, ShelfEvent
from .groups import GroupMember, ShoppingGroup
from .review import Dispute, ReviewItem, ReviewStatus
from .settings import StoreSettings
from .shoppers import FaceEmbedding, Shopper
from .sightings import Sighting
from .stock import StockBatch, StockMove, StockMoveReason
from .visits import (
    CartEntry,
    EntryKind,
    Receipt,
    ReceiptLine,
    ReceiptRevision,
    RevisionReason,
    Visit,
    VisitStatus,
)

__all__ = [
    "Account",
    "AccountEntry",
    "AccountEntryKind",
    "AccountMode",
    "CartEntry",
    "ClassMapping",
    "DatasetBox",
    "DatasetImage",
    "DetectorModel",
    "Device",
    "DeviceKind",
    "Dispute",
    "EntryKind",
    "EventStatus",
    "FaceEmbedding",
    "Frame",
    "GroupMember",
    "Payment",
    "Product",
    "Receipt",
    "ReceiptLine",
    "ReceiptRevision",
    "ReviewItem",
    "ReviewStatus",
    "RevisionReason",
    "SensorKind",
    "Shelf",
    "ShelfEvent",
    "Shopper",
    "ShoppingGroup",
    "Sighting",
    "StoreSettings",
    "Slot",
    "StockBatch",
    "StockMove",
    "StockMoveReason",
    "StorePolicy",
    "Visit",
    "VisitStatus",
]
