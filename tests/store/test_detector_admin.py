from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from store.errors import DomainError
from store.models import ClassMapping, DatasetImage, DetectorModel, Shelf, Slot
from store.services import detectors
from tests.store.test_dataset import small_folder
from tests.vision.onnx_models import constant_model, v5_output, v8_output

NAMES = ["COLA", "juice", "hand"]
ADD_URL = "/admin/store/detectormodel/add/"


def model_bytes(names=NAMES, **kwargs) -> bytes:
    rows = [[32, 32, 8, 8, 0.9, 0.0, 0.0]]
    return constant_model(v8_output(rows, 3), names=names, **kwargs)


def upload(client, data: bytes, *, labels: bytes | None = None, shelves=()):
    form = {
        "name": "shelf model",
        "file": SimpleUploadedFile("model.onnx", data),
        "input_size": 640,
        "confidence": 0.25,
        "iou": 0.45,
        "shelves": [s.pk for s in shelves],
        "mappings-TOTAL_FORMS": 0,
        "mappings-INITIAL_FORMS": 0,
    }
    if labels is not None:
        form["labels_file"] = SimpleUploadedFile("labels.txt", labels)
    return client.post(ADD_URL, form)


@pytest.mark.django_db
def test_the_manager_uploads_a_model_and_picks_the_shelves_that_use_it(client, manager, store):
    client.force_login(manager)
    response = upload(client, model_bytes(), shelves=[store.shelf])
    assert response.status_code == 302, response.content.decode()[:2000]
    model = DetectorModel.objects.get()
    assert (model.layout, model.class_names, model.input_size) == ("v8", NAMES, 64)
    # Class names that are a product's SKU are mapped already; the rest wait for a person.
    assert dict(ClassMapping.objects.values_list("class_name", "product__sku")) == {
        "COLA": "COLA",
        "juice": None,
        "hand": None,
    }
    assert Shelf.objects.get(pk=store.shelf.pk).detector == model


@pytest.mark.django_db
def test_the_manager_maps_a_class_to_a_product_inline(client, manager, store):
    client.force_login(manager)
    upload(client, model_bytes())
    model = DetectorModel.objects.get()
    rows = list(model.mappings.order_by("id"))
    form = {
        "name": model.name,
        "input_size": 640,
        "confidence": 0.3,
        "iou": 0.45,
        "shelves": [],
        "mappings-TOTAL_FORMS": len(rows),
        "mappings-INITIAL_FORMS": len(rows),
    }
    for i, row in enumerate(rows):
        form[f"mappings-{i}-id"] = row.pk
        form[f"mappings-{i}-detector"] = model.pk
        form[f"mappings-{i}-product"] = (
            store.chips.pk if row.class_name == "juice" else (row.product_id or "")
        )
    response = client.post(f"/admin/store/detectormodel/{model.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert ClassMapping.objects.get(class_name="juice").product == store.chips
    model.refresh_from_db()
    assert model.confidence == 0.3 and model.class_names == NAMES


@pytest.mark.django_db
def test_a_file_that_is_not_a_model_is_refused_with_a_clear_message(client, manager):
    client.force_login(manager)
    response = upload(client, b"PK\x03\x04 not an onnx model")
    assert response.status_code == 200
    assert "This model cannot be used" in response.content.decode()
    assert "model_unloadable" in response.content.decode()
    assert not DetectorModel.objects.exists()


@pytest.mark.django_db
def test_a_model_without_class_names_needs_a_labels_file(client, manager):
    client.force_login(manager)
    response = upload(client, model_bytes(names=None))
    assert "model_no_class_names" in response.content.decode()
    assert not DetectorModel.objects.exists()
    response = upload(client, model_bytes(names=None), labels=b"COLA\njuice\nhand\n")
    assert response.status_code == 302
    assert DetectorModel.objects.get().class_names == NAMES


@pytest.mark.django_db
def test_a_labels_file_with_the_wrong_number_of_classes_is_refused(client, manager):
    client.force_login(manager)
    response = upload(client, model_bytes(names=None), labels=b"COLA\njuice\n")
    assert "model_class_count_mismatch" in response.content.decode()
    assert not DetectorModel.objects.exists()


@pytest.mark.django_db
def test_a_model_whose_output_is_no_yolo_layout_is_refused(client, manager):
    import numpy as np

    client.force_login(manager)
    data = constant_model(np.zeros((1, 2, 3, 4), np.float32), names=["a"])
    response = upload(client, data)
    assert "model_layout_unknown" in response.content.decode()
    assert not DetectorModel.objects.exists()


def test_the_service_reads_a_v5_model():
    info = detectors.detector_inspect(
        data=constant_model(v5_output([[1, 1, 1, 1, 1, 0.5, 0.5]], 2), names=["a", "b"])
    )
    assert (info.layout, info.class_names, info.input_size) == ("v5", ["a", "b"], 64)


def test_the_service_refuses_an_empty_file():
    with pytest.raises(DomainError) as err:
        detectors.detector_inspect(data=b"")
    assert err.value.code == "model_unloadable"


@pytest.mark.django_db
def test_a_slot_camera_region_is_validated(store):
    from django.core.exceptions import ValidationError

    slot = Slot.objects.get(pk=store.a1.pk)
    slot.camera_region = [0.5, 0, 0.4, 1]
    with pytest.raises(ValidationError, match="camera region"):
        slot.full_clean()
    slot.camera_region = [0, 0, 0.5, 1]
    slot.full_clean()


@pytest.mark.django_db
def test_the_manager_reviews_dataset_images_in_the_admin(client, manager, tmp_path):
    call_command("dataset", "import-voc", str(small_folder(tmp_path, n=2)))
    DatasetImage.objects.update(reviewed=False)
    client.force_login(manager)
    image = DatasetImage.objects.first()
    page = client.get(f"/admin/store/datasetimage/{image.pk}/change/").content.decode()
    assert "<svg" in page and "data:image/jpeg;base64," in page and "cocacola" in page
    response = client.post(
        "/admin/store/datasetimage/",
        {"action": "mark_reviewed", "_selected_action": [image.pk]},
    )
    assert response.status_code == 302
    assert list(DatasetImage.objects.filter(reviewed=True)) == [image]
