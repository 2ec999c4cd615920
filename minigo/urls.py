from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.urls import include, path, re_path

from store.web import site
from store.web.login import LoginView

admin.site.site_header = "MiniGo administration"
admin.site.site_title = "MiniGo"

urlpatterns = [
    path("", site.home, name="home"),
    path("healthz", site.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/", include("store.api.urls")),
    path("", include("store.web.urls")),
    # Uploaded product images and models: small shops run without a separate file server.
    # Staff only; nothing a shopper needs lives under media/.
    re_path(r"^media/(?P<path>.*)$", staff_member_required(site.media), name="media"),
]
