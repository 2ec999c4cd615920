"""Face enrolment and consent: the shopper's own (/api/me/consent/, /api/me/face/) and the
staff kiosk's (/api/shoppers/<id>/faces/). Photos are read in memory and never stored."""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from store.api.permissions import IsStaff, me_shopper
from store.errors import DomainError
from store.models import Shopper
from store.ratelimit import ratelimit_hit
from store.services.faces import face_consent_set, face_count, face_delete, face_enrol


def _enrol_quota(key: str) -> None:
    """Enrolment runs the face model on every photo: limit it per shopper and per kiosk user."""
    limits = settings.MINIGO
    ratelimit_hit(
        scope="enrol", key=key, limit=limits["ENROL_LIMIT"], window_s=limits["ENROL_WINDOW_S"]
    )


class ConsentIn(serializers.Serializer):
    face = serializers.BooleanField()


class ConsentOut(serializers.Serializer):
    face = serializers.BooleanField()
    face_consent_at = serializers.DateTimeField(allow_null=True)
    embeddings = serializers.IntegerField()


def _consent_out(shopper: Shopper) -> dict:
    return ConsentOut(
        {
            "face": shopper.face_consent,
            "face_consent_at": shopper.face_consent_at,
            "embeddings": face_count(shopper=shopper),
        }
    ).data


class MyConsent(APIView):
    """Record ({"face": true}) or withdraw ({"face": false}) consent to face identification.
    Withdrawing deletes the face data at once."""

    @extend_schema(responses=ConsentOut)
    def get(self, request):
        return Response(_consent_out(me_shopper(request)))

    @extend_schema(request=ConsentIn, responses=ConsentOut)
    def post(self, request):
        shopper = me_shopper(request)
        data = ConsentIn(data=request.data)
        data.is_valid(raise_exception=True)
        face_consent_set(shopper=shopper, consent=data.validated_data["face"])
        return Response(_consent_out(shopper))


FaceOut = inline_serializer("FaceOut", {"embeddings": serializers.IntegerField()})


def _read(upload) -> bytes:
    # Uploads larger than the in-memory limit arrive as temporary files, which Django deletes
    # when the request ends; nothing is written anywhere else.
    return b"".join(upload.chunks())


class MyFace(APIView):
    """POST a selfie (multipart field "image") → 201 {"embeddings": n stored for you}, or 400
    with a code: consent_required, no_face, many_faces, face_too_small, face_blurry,
    face_matches_other, face_other_person, frame_corrupt, frame_bad_type, frame_too_large,
    frame_dimensions.
    DELETE removes all your face data → 204."""

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(responses=FaceOut)
    def get(self, request):
        return Response({"embeddings": face_count(shopper=me_shopper(request))})

    @extend_schema(
        request={
            "multipart/form-data": inline_serializer("Selfie", {"image": serializers.FileField()})
        },
        responses={201: FaceOut},
    )
    def post(self, request):
        shopper = me_shopper(request)
        _enrol_quota(f"shopper-{shopper.pk}")
        upload = request.FILES.get("image")
        if upload is None:
            raise DomainError("image_required", "send the photo in the multipart field 'image'")
        result = face_enrol(shopper=shopper, images=[_read(upload)], source="selfie")
        if result.errors:
            _index, code, message = result.errors[0]
            raise DomainError(code, message)
        return Response({"embeddings": result.total}, status=201)

    @extend_schema(responses={204: None})
    def delete(self, request):
        face_delete(shopper=me_shopper(request))
        return Response(status=204)


KioskOut = inline_serializer(
    "KioskFacesOut",
    {
        "added": serializers.IntegerField(),
        "embeddings": serializers.IntegerField(),
        "errors": serializers.ListField(child=serializers.DictField()),
    },
)


class ShopperFaces(APIView):
    """Staff kiosk: POST several photos (multipart field "images", repeated) for a shopper who
    has recorded consent → {"added": n, "embeddings": total, "errors": [{"name", "code"}]}.
    DELETE removes the shopper's face data → 204."""

    permission_classes = [IsStaff]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={
            "multipart/form-data": inline_serializer(
                "KioskPhotos", {"images": serializers.ListField(child=serializers.FileField())}
            )
        },
        responses=KioskOut,
    )
    def post(self, request, pk: int):
        shopper = get_object_or_404(Shopper, pk=pk)
        _enrol_quota(f"staff-{request.user.pk}")
        uploads = request.FILES.getlist("images")
        if not uploads:
            raise DomainError("image_required", "send the photos in the multipart field 'images'")
        if len(uploads) > 20:
            raise DomainError("too_many_images", "send at most 20 photos at once")
        result = face_enrol(shopper=shopper, images=[_read(u) for u in uploads], source="kiosk")
        errors = [
            {"name": uploads[i].name, "code": code, "detail": message}
            for i, code, message in result.errors
        ]
        return Response({"added": result.added, "embeddings": result.total, "errors": errors})

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        face_delete(shopper=get_object_or_404(Shopper, pk=pk))
        return Response(status=204)
