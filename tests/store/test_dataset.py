from __future__ import annotations

import os
import shutil
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import yaml
from django.core.management import CommandError, call_command

from store.models import DatasetBox, DatasetImage
from tests.conftest import FIXTURES
from vision import datasets

SHELF_FRAMES = Path(FIXTURES) / "shelf-frames"


def expected_boxes() -> dict[str, list[tuple]]:
    """The labelImg annotations, read straight from the fixture XML files."""
    boxes = {}
    for xml in sorted(SHELF_FRAMES.glob("*.xml")):
        ann = datasets.parse_voc(xml.read_bytes())
        boxes[Path(ann.filename).stem] = sorted(
            (b.label, b.x_min, b.y_min, b.x_max, b.y_max) for b in ann.boxes
        )
    return boxes


def small_folder(tmp_path: Path, n: int = 3) -> Path:
    folder = tmp_path / "labelimg"
    folder.mkdir()
    for xml in sorted(SHELF_FRAMES.glob("*.xml"))[:n]:
        shutil.copy(xml, folder)
        shutil.copy(xml.with_suffix(".jpg"), folder)
    return folder


def media_files(settings) -> list[str]:
    root = Path(settings.MEDIA_ROOT)
    return [str(p) for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.mark.django_db
def test_all_481_boxes_survive_import_and_export_in_both_formats(tmp_path):
    expected = expected_boxes()
    assert len(expected) == 117
    assert sum(len(v) for v in expected.values()) == 481

    call_command("dataset", "import-voc", str(SHELF_FRAMES))
    assert DatasetImage.objects.count() == 117
    assert DatasetBox.objects.count() == 481
    assert set(DatasetImage.objects.values_list("width", "height")) == {(640, 480)}
    assert not DatasetImage.objects.filter(reviewed=False).exists()

    voc = tmp_path / "voc"
    call_command("dataset", "export", "--format", "voc", str(voc))
    got = {}
    for xml in sorted(voc.glob("*.xml")):
        ann = datasets.parse_voc(xml.read_bytes())
        assert (voc / ann.filename).is_file()
        got[xml.stem] = sorted((b.label, b.x_min, b.y_min, b.x_max, b.y_max) for b in ann.boxes)
    assert got == expected

    yolo = tmp_path / "yolo"
    call_command("dataset", "export", "--format", "yolo", str(yolo))
    data_yaml = (yolo / "data.yaml").read_text()
    assert "train: images/train" in data_yaml and "val: images/val" in data_yaml
    assert f'path: "{yolo.resolve()}"' in data_yaml
    classes = (yolo / "classes.txt").read_text().split()
    assert classes == ["cocacola", "hand", "juice", "noodles"]
    parsed = yaml.safe_load(data_yaml)
    assert parsed["names"] == dict(enumerate(classes)) and parsed["nc"] == 4
    assert (Path(parsed["path"]) / parsed["train"]).is_dir()
    got = {}
    for split in ("train", "val"):
        for label_file in (yolo / "labels" / split).glob("*.txt"):
            assert (yolo / "images" / split / f"{label_file.stem}.jpg").is_file()
            boxes = datasets.parse_yolo(
                label_file.read_text(), classes=classes, width=640, height=480
            )
            # Sorted on rounded corners: the YOLO round trip moves them by < 0.001 px.
            got[label_file.stem] = sorted(
                ((b.label, b.x_min, b.y_min, b.x_max, b.y_max) for b in boxes),
                key=lambda b: (b[0], *(round(v, 2) for v in b[1:])),
            )
    assert len(list((yolo / "images" / "val").glob("*.jpg"))) > 0
    assert got.keys() == expected.keys()
    for stem, boxes in expected.items():
        assert [b[0] for b in got[stem]] == [b[0] for b in boxes], stem
        np.testing.assert_allclose(
            [b[1:] for b in got[stem]], [b[1:] for b in boxes], atol=0.01, err_msg=stem
        )


@pytest.mark.django_db
def test_importing_the_same_folder_twice_adds_nothing(tmp_path, capsys):
    folder = small_folder(tmp_path)
    call_command("dataset", "import-voc", str(folder))
    call_command("dataset", "import-voc", str(folder))
    assert DatasetImage.objects.count() == 3
    assert "0 images" in capsys.readouterr().out.splitlines()[-1]


@pytest.mark.django_db
def test_a_corrupt_xml_stops_the_import_with_nothing_stored(tmp_path, settings, capsys):
    folder = small_folder(tmp_path)
    next(folder.glob("*.xml")).write_text("<annotation><size>")
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("dataset", "import-voc", str(folder))
    assert "xml_corrupt" in capsys.readouterr().err
    assert DatasetImage.objects.count() == 0
    assert media_files(settings) == []


@pytest.mark.django_db
def test_a_missing_image_is_reported_by_name(tmp_path, capsys):
    folder = small_folder(tmp_path)
    jpg = sorted(folder.glob("*.jpg"))[0]
    jpg.unlink()
    with pytest.raises(CommandError):
        call_command("dataset", "import-voc", str(folder))
    err = capsys.readouterr().err
    assert "image_missing" in err and jpg.name in err
    assert DatasetImage.objects.count() == 0


@pytest.mark.django_db
def test_a_box_outside_the_image_is_refused(tmp_path, capsys):
    folder = small_folder(tmp_path)
    xml = sorted(folder.glob("*.xml"))[0]
    text = xml.read_text()
    xml.write_text(text.replace("<xmax>", "<xmax>9", 1))
    with pytest.raises(CommandError):
        call_command("dataset", "import-voc", str(folder))
    assert "box_outside_image" in capsys.readouterr().err
    assert DatasetImage.objects.count() == 0


@pytest.mark.django_db
def test_skip_bad_imports_the_good_pairs(tmp_path, capsys):
    folder = small_folder(tmp_path)
    sorted(folder.glob("*.jpg"))[0].write_bytes(b"not a jpeg")
    call_command("dataset", "import-voc", str(folder), "--skip-bad")
    assert "frame_corrupt" in capsys.readouterr().err
    assert DatasetImage.objects.count() == 2


@pytest.mark.django_db
def test_an_image_whose_size_disagrees_with_its_xml_is_refused(tmp_path, capsys):
    folder = small_folder(tmp_path, n=1)
    xml = next(folder.glob("*.xml"))
    xml.write_text(xml.read_text().replace("<width>640</width>", "<width>800</width>"))
    with pytest.raises(CommandError):
        call_command("dataset", "import-voc", str(folder))
    assert "image_size_mismatch" in capsys.readouterr().err


@pytest.mark.django_db
def test_export_refuses_a_directory_that_is_not_empty(tmp_path):
    call_command("dataset", "import-voc", str(small_folder(tmp_path)))
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(CommandError, match="output_not_empty"):
        call_command("dataset", "export", "--format", "yolo", str(out))
    assert os.listdir(out) == ["keep.txt"]


@pytest.mark.django_db
def test_unreviewed_images_are_exported_only_when_asked(tmp_path):
    call_command("dataset", "import-voc", str(small_folder(tmp_path)))
    DatasetImage.objects.filter(pk=DatasetImage.objects.first().pk).update(reviewed=False)
    call_command("dataset", "export", "--format", "voc", str(tmp_path / "a"))
    assert len(list((tmp_path / "a").glob("*.xml"))) == 2
    call_command(
        "dataset", "export", "--format", "voc", "--include-unreviewed", str(tmp_path / "b")
    )
    assert len(list((tmp_path / "b").glob("*.xml"))) == 3


@pytest.mark.django_db
def test_export_of_an_empty_dataset_says_so(tmp_path):
    with pytest.raises(CommandError, match="dataset_empty"):
        call_command("dataset", "export", "--format", "voc", str(tmp_path / "out"))


def test_voc_xml_written_reads_back_the_same():
    ann = datasets.Annotation(
        "a.jpg",
        100,
        50,
        [datasets.Box("hand", 1, 2, 30.5, 40), datasets.Box("juice", 0, 0, 100, 50)],
    )
    assert datasets.parse_voc(datasets.write_voc(ann)) == ann


def test_yolo_lines_are_normalised_centre_and_size():
    ann = datasets.Annotation("a.jpg", 200, 100, [datasets.Box("b", 50, 25, 150, 75)])
    assert datasets.yolo_lines(ann, classes=["a", "b"]) == "1 0.500000 0.500000 0.500000 0.500000\n"


def test_the_video_is_split_every_n_seconds(tmp_path):
    import cv2

    video = tmp_path / "shelf.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    for i in range(30):  # three seconds at 10 fps
        writer.write(np.full((48, 64, 3), i * 8, np.uint8))
    writer.release()
    out = tmp_path / "frames"
    call_command("video_frames", str(video), str(out), "--every", "0.5")
    names = sorted(p.name for p in out.glob("*.jpg"))
    assert names == [f"shelf_{ms:08d}ms.jpg" for ms in range(0, 3000, 500)]
    assert cv2.imread(str(out / names[1])).shape == (48, 64, 3)


def test_video_frames_refuses_a_file_that_is_no_video(tmp_path):
    bad = tmp_path / "x.mp4"
    bad.write_bytes(b"nope")
    with pytest.raises(CommandError, match="not a video"):
        call_command("video_frames", str(bad), str(tmp_path / "out"), "--every", "1")


def test_video_frames_refuses_a_bad_interval(tmp_path):
    with pytest.raises(CommandError, match="positive"):
        call_command("video_frames", str(tmp_path / "x.mp4"), str(tmp_path), "--every", "0")


@pytest.mark.django_db
def test_unreviewed_frame_images_expire_with_their_frame_and_reviewed_ones_stay(tmp_path):
    from datetime import timedelta

    from django.utils import timezone

    from store.services.dataset import dataset_expire

    call_command("dataset", "import-voc", str(small_folder(tmp_path)))
    old = timezone.now() - timedelta(days=30)
    first, second, third = DatasetImage.objects.all()
    DatasetImage.objects.filter(pk__in=[first.pk, second.pk]).update(
        source="frame", reviewed=False, created_at=old
    )
    DatasetImage.objects.filter(pk=third.pk).update(source="frame", reviewed=True, created_at=old)
    path = Path(first.file.path)
    assert dataset_expire() == 2
    assert list(DatasetImage.objects.values_list("pk", flat=True)) == [third.pk]
    assert not path.exists()
    by_label = defaultdict(int)
    for box in DatasetBox.objects.all():
        by_label[box.label] += 1
    assert sum(by_label.values()) == third.boxes.count()
