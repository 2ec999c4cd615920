"""Face embeddings encrypted at rest (AES-256-GCM) with a key from the environment.

MINIGO_FACE_KEY is 32 random bytes, base64 (urlsafe) encoded; `python manage.py
face_key` prints a new one. Without it a local install keeps a generated key in
var/face_key, as it does for SECRET_KEY. Every stored vector is nonce ‖ ciphertext, with the
shopper id as associated data, so a vector copied onto another shopper's row fails to decrypt.
"""

from __future__ import annotations

import base64
import os
import secrets
from functools import lru_cache

import numpy as np
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from minigo.local_state import local_key
from store.errors import DomainError

MAGIC = b"MGE1"
DIM = 128


def new_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


@lru_cache(maxsize=1)
def _aead() -> AESGCM:
    raw = os.environ.get("MINIGO_FACE_KEY", "")
    if not raw:
        raw = local_key(settings.VAR_DIR / "face_key", new_key)
    try:
        key = base64.urlsafe_b64decode(raw.encode())
    except (ValueError, TypeError):
        raise ImproperlyConfigured("MINIGO_FACE_KEY must be base64 of 32 bytes") from None
    if len(key) != 32:
        raise ImproperlyConfigured("MINIGO_FACE_KEY must be base64 of 32 bytes")
    return AESGCM(key)


def embedding_encrypt(*, vector: np.ndarray, shopper_id: int) -> bytes:
    vec = np.asarray(vector, dtype=np.float64).reshape(-1)
    if vec.shape != (DIM,) or not np.all(np.isfinite(vec)):
        raise DomainError("bad_embedding", f"a face embedding is {DIM} finite numbers")
    nonce = secrets.token_bytes(12)
    aad = MAGIC + str(shopper_id).encode()
    return MAGIC + nonce + _aead().encrypt(nonce, vec.tobytes(), aad)


def embedding_decrypt(*, blob: bytes, shopper_id: int) -> np.ndarray:
    blob = bytes(blob)
    if not blob.startswith(MAGIC):
        raise DomainError("bad_embedding", "the stored embedding is not encrypted")
    nonce, body = blob[4:16], blob[16:]
    try:
        raw = _aead().decrypt(nonce, body, MAGIC + str(shopper_id).encode())
    except Exception:
        raise DomainError("bad_embedding", "the stored embedding cannot be decrypted") from None
    return np.frombuffer(raw, dtype=np.float64).copy()
