from __future__ import annotations

from django.urls import path

from store.web import accounts as a
from store.web import invites as i
from store.web import manager as m
from store.web import receipts as rc
from store.web import restock as r
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
    path("manager/receipts/", rc.receipts, name="manager-receipts"),
    path("manager/receipts.csv", rc.receipts_csv, name="manager-receipts-csv"),
    path("manager/receipts/<int:pk>/", rc.receipt, name="manager-receipt"),
    path(
        "manager/receipts/<int:pk>/correct/",
        m.receipt_correct_view,
        name="manager-receipt-correct",
    ),
    path("manager/disputes/", m.disputes, name="manager-disputes"),
    path("manager/disputes/<int:pk>/decide/", m.dispute_decide, name="manager-dispute-decide"),
    path("manager/analytics/", m.analytics, name="manager-analytics"),
    path("manager/settings/", m.store_settings, name="manager-settings"),
    path("manager/analytics.json", m.analytics_data, name="manager-analytics-data"),
    path("manager/accounts/", a.counter, name="manager-accounts"),
    path("manager/accounts.json", a.counter_state, name="manager-accounts-state"),
    path("manager/accounts/<int:pk>/topup/", a.topup, name="manager-topup"),
    path("manager/accounts/<int:pk>/age/", a.verify_age, name="manager-verify-age"),
    path("manager/accounts/<int:pk>/", a.statement, name="manager-statement"),
    path("manager/cashup.csv", a.cashup, name="manager-cashup"),
    path("manager/restock/", r.page, name="manager-restock"),
    path("manager/restock.json", r.state, name="manager-restock-state"),
    path("manager/restock/<int:pk>/", r.restock, name="manager-restock-slot"),
    path("manager/restock/<int:pk>/history.json", r.history, name="manager-stock-history"),
    path("app/account/", a.my_account, name="shopper-account"),
    path("app/account.json", a.my_account_state, name="shopper-account-state"),
    path("app/account/group/", a.my_group, name="shopper-group"),
    path("invite/<uidb64>/<token>/", i.invite, name="shopper-invite"),
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
