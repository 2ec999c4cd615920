"""The shopper's entry QR code (/api/me/qr/)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from store.api.permissions import me_shopper
from store.services.qr import qr_issue


class MyQr(APIView):
    """A fresh entry code: {"token", "expires_at", "svg"} (the SVG is the QR of the token)."""

    @extend_schema(
        responses=inline_serializer(
            "QrCode",
            {
                "token": serializers.CharField(),
                "expires_at": serializers.DateTimeField(),
                "svg": serializers.CharField(),
            },
        )
    )
    def get(self, request):
        code = qr_issue(shopper=me_shopper(request))
        response = Response(
            {"token": code.token, "expires_at": code.expires_at.isoformat(), "svg": code.svg}
        )
        response["Cache-Control"] = "no-store"
        return response
