from __future__ import annotations

import numpy as np
import pytest

from store import crypto
from store.errors import DomainError


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv("MINIGO_FACE_KEY", crypto.new_key())
    crypto._aead.cache_clear()
    yield
    crypto._aead.cache_clear()


def test_an_embedding_round_trips_and_is_not_stored_in_clear():
    vec = np.random.default_rng(1).normal(size=128)
    blob = crypto.embedding_encrypt(vector=vec, shopper_id=7)
    assert vec.tobytes() not in blob
    assert np.array_equal(crypto.embedding_decrypt(blob=blob, shopper_id=7), vec)


def test_a_vector_moved_to_another_shopper_does_not_decrypt():
    blob = crypto.embedding_encrypt(vector=np.zeros(128), shopper_id=7)
    with pytest.raises(DomainError) as err:
        crypto.embedding_decrypt(blob=blob, shopper_id=8)
    assert err.value.code == "bad_embedding"


def test_another_key_cannot_read_it(monkeypatch):
    blob = crypto.embedding_encrypt(vector=np.ones(128), shopper_id=1)
    monkeypatch.setenv("MINIGO_FACE_KEY", crypto.new_key())
    crypto._aead.cache_clear()
    with pytest.raises(DomainError):
        crypto.embedding_decrypt(blob=blob, shopper_id=1)


def test_a_bad_key_stops_start_up(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    monkeypatch.setenv("MINIGO_FACE_KEY", "c2hvcnQ=")
    crypto._aead.cache_clear()
    with pytest.raises(ImproperlyConfigured):
        crypto.embedding_encrypt(vector=np.zeros(128), shopper_id=1)


@pytest.mark.parametrize("vec", [np.zeros(127), np.full(128, np.nan)])
def test_malformed_vectors_are_refused(vec):
    with pytest.raises(DomainError):
        crypto.embedding_encrypt(vector=vec, shopper_id=1)
