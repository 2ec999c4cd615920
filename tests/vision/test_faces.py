"""vision/faces.py on the real photos in tests/fixtures/faces (see NOTICE.md there)."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest

from tests.faces_support import CACHED, real_faces, rgb_of  # noqa: F401
from vision import faces as vf

OBAMA = ["obama.jpg", "obama2.jpg", "obama3.jpg", "obama-480p.jpg"]


@pytest.fixture(scope="module")
def encodings():
    """Each fixture photo's faces, found and encoded once for the module."""
    found = {}
    with vf.use_backend(CACHED):
        for name in [*OBAMA, "biden.jpg", "two_people.jpg", "32bit.png"]:
            rgb = rgb_of(name)
            boxes = vf.detect(rgb)
            found[name] = (boxes, vf.encode(rgb, boxes))
    return found


def gallery_of(encodings, **people: str) -> tuple[vf.Gallery, dict[int, str]]:
    names = dict(enumerate(people, start=1))
    rows = [(i, encodings[people[name]][1][0]) for i, name in names.items()]
    return vf.Gallery.from_rows(rows), names


def test_one_person_is_matched_across_photos_and_the_other_is_not(encodings):
    gallery, _ = gallery_of(encodings, obama="obama.jpg")
    for name in OBAMA[1:] + ["32bit.png"]:
        (found,) = vf.match(encodings[name][1], gallery)
        assert found.owner == 1, name
        assert found.distance < 0.5 and found.confidence > 0.8, name
    (stranger,) = vf.match(encodings["biden.jpg"][1], gallery)
    assert stranger.owner is None and stranger.best == 1
    assert stranger.distance > 0.6 and stranger.confidence < 0.5


def test_two_people_yields_both(encodings):
    gallery, names = gallery_of(encodings, obama="obama.jpg", biden="biden.jpg")
    boxes, found = encodings["two_people.jpg"]
    assert len(boxes) == 2
    matches = vf.match(found, gallery)
    assert sorted(names[m.owner] for m in matches) == ["biden", "obama"]
    for m in matches:
        assert m.second is not None and m.second != m.owner and m.second_distance > 0.6


@pytest.mark.usefixtures("real_faces")
def test_partial_faces_and_the_32bit_png_do_not_crash():
    for name in ["obama_partial_face.jpg", "obama_partial_face2.jpg", "32bit.png"]:
        rgb = rgb_of(name)
        assert rgb.shape[2] == 3 and rgb.dtype == np.uint8
        boxes = vf.detect(rgb)
        height, width = rgb.shape[:2]
        for top, right, bottom, left in boxes:
            assert 0 <= top < bottom <= height and 0 <= left < right <= width
        assert vf.encode(rgb, boxes).shape == (len(boxes), 128)


@pytest.mark.usefixtures("real_faces")
def test_enrolment_quality_gates_give_their_codes():
    obama = rgb_of("obama-480p.jpg")
    blank = np.full((480, 640, 3), 200, np.uint8)
    tiny = blank.copy()
    small = cv2.resize(obama, (200, 113), interpolation=cv2.INTER_AREA)
    tiny[200:313, 200:400] = small
    blurry = cv2.GaussianBlur(obama, (0, 0), 4)
    cases = {
        "no_face": blank,
        "many_faces": rgb_of("two_people.jpg"),
        "face_too_small": tiny,
        "face_blurry": blurry,
    }
    for code, rgb in cases.items():
        with pytest.raises(vf.FaceQualityError) as caught:
            vf.enrolment_face(rgb)
        assert caught.value.code == code
    box, vector = vf.enrolment_face(obama)
    assert vector.shape == (128,) and box[2] - box[0] >= vf.MIN_FACE_PX


class FakeBackend:
    """Finds one face at a fixed place in whatever image it is given."""

    def __init__(self):
        self.seen: list[tuple[int, ...]] = []

    def locations(self, rgb, *, upsample):
        self.seen.append(rgb.shape)
        return [(10, 60, 60, 10)]

    def encodings(self, rgb, boxes, *, jitters):
        self.seen.append(rgb.shape)
        return np.ones((len(boxes), 128))


def test_detection_runs_downscaled_and_boxes_are_mapped_back():
    fake = FakeBackend()
    with vf.use_backend(fake):
        boxes = vf.detect(np.zeros((1280, 2560, 3), np.uint8), max_side=640)
        assert fake.seen == [(320, 640, 3)]
        assert boxes == [(40, 240, 240, 40)]
        vf.encode(np.zeros((1280, 2560, 3), np.uint8), boxes)
        assert fake.seen[-1] == (1280, 2560, 3)
        small = np.zeros((100, 120, 3), np.uint8)
        assert vf.detect(small, max_side=640) == [(10, 60, 60, 10)]
        assert fake.seen[-1] == (100, 120, 3)
        # Smaller than the detector's window: nothing can be found, the backend is not asked.
        calls = len(fake.seen)
        assert vf.detect(np.zeros((48, 64, 3), np.uint8)) == []
        assert len(fake.seen) == calls
        assert len(vf.detect(np.zeros((48, 64, 3), np.uint8), upsample=1)) == 1


def test_face_recognition_is_not_loaded_at_import():
    code = (
        "import sys, vision.faces; print('face_recognition' in sys.modules, 'dlib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_matching_is_per_person_exclusive_and_doubts_near_ties():
    rng = np.random.default_rng(4)
    base = rng.normal(size=(3, 128))
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    # Person 7 has two embeddings; the nearest one counts.
    gallery = vf.Gallery.from_rows([(7, base[0]), (9, base[1]), (7, base[2])])
    assert gallery.people == 2 and len(gallery) == 3
    probe = base[2] + 0.01
    (m,) = vf.match(probe[None, :], gallery)
    assert m.owner == 7 and m.distance < 0.12 and m.second == 9
    # Two faces of one frame both nearest to person 7: only the closer one keeps the match.
    both = vf.match(np.vstack([base[2] + 0.02, base[0] + 0.01]), gallery)
    assert [x.owner for x in both] == [None, 7] and both[0].best == 7
    # A near tie between two people within the tolerance is doubtful.
    a = np.zeros(128)
    twins = vf.Gallery.from_rows([(1, a), (2, a + 0.0001)])
    (tie,) = vf.match((a + 0.02)[None, :], twins)
    assert tie.owner in (1, 2) and tie.confidence < 0.1
    assert vf.match(probe[None, :], vf.Gallery.empty())[0].owner is None
    assert len(gallery.subset([9])) == 1


def test_distance_confidence_is_half_at_the_tolerance_and_monotonic():
    values = [vf.distance_confidence(d, 0.5) for d in np.linspace(0, 1.2, 25)]
    assert values[0] == 1.0 and values[-1] == 0.0
    assert all(a >= b for a, b in zip(values, values[1:]))
    assert vf.distance_confidence(0.5, 0.5) == pytest.approx(0.5)


def test_loading_the_models_keeps_truncated_images_refused():
    from PIL import ImageFile

    vf.DlibBackend()._fr()
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
