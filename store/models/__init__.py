from __future__ import annotations

from .catalog import Product, SensorKind, Shelf, Slot
from .detection import ClassMapping, DatasetBox, DatasetImage, DetectorModel
from .devices import Device, DeviceKind, EventStatus, Frame, ShelfEvent
from .review import Dispute, ReviewItem, ReviewStatus
from .shoppers import FaceEmbedding, Shopper
from .sightings import Sighting
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
    "Sighting",
    "Slot",
    "Visit",
    "VisitStatus",
]
