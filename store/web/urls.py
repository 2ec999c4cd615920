from __future__ import annotations

from django.urls import path

from store.web import manager as m
from store.web import shopper as s

urlpatterns = [
    path("manager/", m.live, name="manager-live"),
    path("manager/state.json", m.state, name="manager-state"),
    path("manager/devices.json", m.devices, name="manager-devices"),
    path("manager/frames/<int:pk>.jpg", m.frame_jpeg, name="manager-frame"),
    path("manager/inventory/", m.inventory, name="manager-inventory"),
    path("manager/review/", m.review, name="manager-review"),
    path("manager/review.json", m.review_state, name="manager-review-state"),
    path("manager/kiosk/", m.kiosk, name="manager-kiosk"),
    path("manager/receipts/", m.receipts, name="manager-receipts"),
    path(
        "manager/receipts/<int:pk>/correct/",
        m.receipt_correct_view,
        name="manager-receipt-correct",
    ),
    path("manager/disputes/", m.disputes, name="manager-disputes"),
    path("manager/disputes/<int:pk>/decide/", m.dispute_decide, name="manager-dispute-decide"),
    path("manager/analytics/", m.analytics, name="manager-analytics"),
    path("manager/analytics.json", m.analytics_data, name="manager-analytics-data"),
    path("signup/", s.signup, name="signup"),
    path("app/", s.app, name="shopper-app"),
    path("app/state.json", s.state, name="shopper-state"),
    path("app/enrol/", s.enrol, name="shopper-enrol"),
    path("app/receipts/", s.receipts, name="shopper-receipts"),
    path("app/receipts/<int:pk>/", s.receipt, name="shopper-receipt"),
    path("app/receipts/<int:pk>/report/", s.report, name="shopper-report"),
    path("manifest.webmanifest", s.manifest, name="manifest"),
    path("sw.js", s.service_worker, name="service-worker"),
]
