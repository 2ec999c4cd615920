from __future__ import annotations

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from store.api import faces as f
from store.api import manage_views as mv
from store.api import qr, shoppers
from store.api import views as v

urlpatterns = [
    path("products/", v.ProductList.as_view(), name="api-products"),
    path("products/<int:pk>/", v.ProductDetail.as_view(), name="api-product"),
    path("shelves/", v.ShelfList.as_view(), name="api-shelves"),
    path("shelves/<int:pk>/", v.ShelfDetail.as_view(), name="api-shelf"),
    path("slots/", v.SlotList.as_view(), name="api-slots"),
    path("slots/<int:pk>/", v.SlotDetail.as_view(), name="api-slot"),
    path("slots/<int:pk>/restock/", v.SlotRestock.as_view(), name="api-slot-restock"),
    path("slots/<int:pk>/reach/", v.SlotReach.as_view(), name="api-slot-reach"),
    path("stock/", v.StockList.as_view(), name="api-stock"),
    path("visits/", v.VisitList.as_view(), name="api-visits"),
    path("visits/admit/", mv.VisitAdmit.as_view(), name="api-visit-admit"),
    path("visits/<int:pk>/", v.VisitDetail.as_view(), name="api-visit"),
    path("visits/<int:pk>/close/", mv.VisitClose.as_view(), name="api-visit-close"),
    path("visits/<int:pk>/cart/", v.VisitCart.as_view(), name="api-visit-cart"),
    path("cart/", v.MyCart.as_view(), name="api-my-cart"),
    path("receipts/", v.ReceiptList.as_view(), name="api-receipts"),
    path("receipts/<int:pk>/", v.ReceiptDetail.as_view(), name="api-receipt"),
    path(
        "receipts/<int:pk>/corrections/",
        mv.ReceiptCorrection.as_view(),
        name="api-receipt-correction",
    ),
    path("review/", v.ReviewList.as_view(), name="api-review"),
    path("review/<int:pk>/resolve/", v.ReviewResolve.as_view(), name="api-review-resolve"),
    path("me/consent/", f.MyConsent.as_view(), name="api-me-consent"),
    path("me/face/", f.MyFace.as_view(), name="api-me-face"),
    path("me/qr/", qr.MyQr.as_view(), name="api-me-qr"),
    path("shoppers/", shoppers.ShopperList.as_view(), name="api-shoppers"),
    path("shoppers/<int:pk>/faces/", f.ShopperFaces.as_view(), name="api-shopper-faces"),
    path("shoppers/<int:pk>/invite/", shoppers.ShopperInvite.as_view(), name="api-shopper-invite"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
