"""Omniglot splits and one-shot runs on the real zips, the decode cache, and clear errors."""

import io
import os
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tinysiam.experiments.data import omniglot
from tinysiam.experiments.data.errors import DataError
from tinysiam.experiments.data.omniglot import (
    BASE_URL,
    OmniglotSplit,
    load_omniglot,
    load_omniglot_runs,
)

SPLITS = {  # split -> characters, images, alphabets
    "background": (964, 19_280, 30),
    "evaluation": (659, 13_180, 20),
    "background_small1": (136, 2720, 5),
    "background_small2": (156, 3120, 5),
}


@pytest.fixture(scope="module")
def module_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One decode cache for the whole module, so each split is decoded once per session."""
    home = tmp_path_factory.mktemp("omniglot-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(home))
        yield home


@pytest.fixture(scope="module")
def small1(shared_data: Path, module_cache: Path) -> OmniglotSplit:
    return load_omniglot("background_small1", root=shared_data, download=False)


def fail_to_decode(*args: object) -> None:
    raise AssertionError("the cache should have been used")


@pytest.mark.parametrize("split", list(SPLITS))
def test_split_counts_and_labels(shared_data: Path, module_cache: Path, split: str) -> None:
    n_classes, n_images, n_alphabets = SPLITS[split]
    images, labels, alphabets, class_names = data = load_omniglot(split, shared_data, size=28)
    assert images.shape == (n_images, 1, 28, 28) and images.dtype == np.float32
    assert images.min() == 0.0 and images.max() == 1.0 and images.mean() < 0.15  # ink high
    assert labels.dtype == alphabets.dtype == np.int64
    assert len(class_names) == n_classes and class_names == sorted(class_names)
    assert np.bincount(labels).tolist() == [20] * n_classes  # 20 drawers per character
    assert np.all(np.diff(labels) >= 0)  # sorted by class
    assert len(data.alphabet_names) == n_alphabets == alphabets.max() + 1
    class_alphabets = [name.rsplit("-", 1)[0] for name in class_names]
    assert [data.alphabet_names[a] for a in alphabets] == [class_alphabets[c] for c in labels]


def test_full_size_is_binary_ink_high(small1: OmniglotSplit) -> None:
    assert small1.images.shape == (2720, 1, 105, 105)
    assert set(np.unique(small1.images)) == {0.0, 1.0}
    assert small1.images[:, :, 0, :].mean() < 0.01  # the border is background: 0


def test_resize_is_area_averaging(small1: OmniglotSplit, shared_data: Path) -> None:
    small = load_omniglot("background_small1", shared_data, size=35).images
    blocks = small1.images.reshape(2720, 1, 35, 3, 35, 3).mean(axis=(3, 5))
    assert small.shape == (2720, 1, 35, 35)
    np.testing.assert_allclose(small, blocks, atol=1 / 255)


def test_second_load_uses_the_cache(
    small1: OmniglotSplit, shared_data: Path, module_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded = module_cache / "tinysiam" / "omniglot" / "decoded"
    assert list(decoded.glob("background_small1-105px-*.npy"))
    monkeypatch.setattr(omniglot, "_decode", fail_to_decode)
    again = load_omniglot("background_small1", shared_data, download=False)
    np.testing.assert_array_equal(again.images, small1.images)
    np.testing.assert_array_equal(again.labels, small1.labels)


def test_changed_source_or_damaged_cache_decodes_again(
    small1: OmniglotSplit, shared_data: Path, tmp_path: Path, cache_home: Path
) -> None:
    folder = tmp_path / "omniglot"
    folder.mkdir()
    copy = folder / "images_background_small1.zip"
    copy.write_bytes((shared_data / "omniglot" / copy.name).read_bytes())
    load_omniglot("background_small1", tmp_path, size=28)
    (entry,) = (cache_home / "tinysiam" / "omniglot" / "decoded").iterdir()
    entry.write_bytes(entry.read_bytes()[:1000])  # damaged: decoded again and rewritten
    first = load_omniglot("background_small1", tmp_path, size=28)
    assert entry.stat().st_size > 1000
    os.utime(copy, ns=(0, 0))  # a changed source gets its own entry
    second = load_omniglot("background_small1", tmp_path, size=28)
    assert len(list(entry.parent.iterdir())) == 2
    np.testing.assert_array_equal(first.images, second.images)


def test_extracted_folder_reads_like_the_zip(
    small1: OmniglotSplit, shared_data: Path, tmp_path: Path, cache_home: Path
) -> None:
    with zipfile.ZipFile(shared_data / "omniglot" / "images_background_small1.zip") as archive:
        archive.extractall(tmp_path / "omniglot")
    data = load_omniglot("background_small1", tmp_path, download=False)
    np.testing.assert_array_equal(data.images, small1.images)
    assert data.class_names == small1.class_names


def test_one_shot_runs(shared_data: Path) -> None:
    runs = load_omniglot_runs(shared_data, size=28, download=False)
    assert [run.name for run in runs] == [f"run{r:02d}" for r in range(1, 21)]
    for run in runs:
        assert run.candidates.shape == run.queries.shape == (20, 1, 28, 28)
        assert run.candidates.dtype == np.float32 and run.candidates.mean() < 0.15
        assert run.answers.dtype == np.int64
        assert sorted(run.answers.tolist()) == list(range(20))  # one query per class
    assert sum(len(run.answers) for run in runs) == 400
    # run01/class_labels.txt begins: item01 -> class08, item02 -> class09, item03 -> class02
    assert runs[0].answers[:3].tolist() == [7, 8, 1]


def test_unknown_split_and_size() -> None:
    with pytest.raises(ValueError, match="'images_background'"):
        load_omniglot("images_background")
    with pytest.raises(ValueError, match="size"):
        load_omniglot("background", size=0)


def test_missing_root_without_download_names_the_path(tmp_path: Path, cache_home: Path) -> None:
    with pytest.raises(DataError, match="download=False") as error:
        load_omniglot("evaluation", root=tmp_path / "nowhere", download=False)
    assert str(tmp_path / "nowhere" / "omniglot" / "images_evaluation.zip") in str(error.value)


def test_zip_without_the_layout(tmp_path: Path, cache_home: Path) -> None:
    (tmp_path / "omniglot").mkdir()
    path = tmp_path / "omniglot" / "images_background_small1.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("Balinese/character01/0108_01.png", b"")  # no top folder
    layout_error = r"found 0 characters and 0 images .* expected 136 and 2720"
    with pytest.raises(DataError, match=layout_error):
        load_omniglot("background_small1", tmp_path, download=False)


def test_not_a_zip(tmp_path: Path, cache_home: Path) -> None:
    (tmp_path / "omniglot").mkdir()
    (tmp_path / "omniglot" / "all_runs.zip").write_bytes(b"<html>rate limited</html>")
    with pytest.raises(DataError, match="all_runs.zip: not a readable zip"):
        load_omniglot_runs(tmp_path, download=False)


def test_corrupt_png_names_the_member(tmp_path: Path, cache_home: Path) -> None:
    (tmp_path / "omniglot").mkdir()
    path = tmp_path / "omniglot" / "images_background_small1.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for c in range(136):
            for d in range(20):
                archive.writestr(f"images_background_small1/A/character{c:03d}/{d:02d}.png", b"x")
    with pytest.raises(DataError, match=r"A/character000/00\.png is not a readable PNG"):
        load_omniglot("background_small1", tmp_path, download=False)


def test_runs_without_the_layout(tmp_path: Path, cache_home: Path) -> None:
    (tmp_path / "omniglot").mkdir()
    with zipfile.ZipFile(tmp_path / "omniglot" / "all_runs.zip", "w") as archive:
        archive.writestr("run01/class_labels.txt", "")
    with pytest.raises(DataError, match="run01 should hold 20 training"):
        load_omniglot_runs(tmp_path, download=False)


def test_offline_download_fails_fast(
    tmp_path: Path, cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def offline(request: urllib.request.Request, timeout: float) -> None:
        raise urllib.error.URLError("network unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(DataError) as error:
        load_omniglot_runs(tmp_path)
    assert BASE_URL + "all_runs.zip" in str(error.value)
    assert str(tmp_path / "omniglot" / "all_runs.zip") in str(error.value)


@pytest.mark.parametrize("good", [False, True])
def test_download_is_checked_by_md5(
    shared_data: Path, tmp_path: Path, cache_home: Path, monkeypatch: pytest.MonkeyPatch, good: bool
) -> None:
    name = "images_background_small2.zip"  # the shared copy is the official zip
    payload = (shared_data / "omniglot" / name).read_bytes()
    payload = payload if good else payload[:-1]
    monkeypatch.setattr(urllib.request, "urlopen", lambda request, timeout: io.BytesIO(payload))
    if good:
        assert len(load_omniglot("background_small2", tmp_path, size=14).class_names) == 156
        assert (tmp_path / "omniglot" / name).read_bytes() == payload
    else:
        with pytest.raises(DataError, match="md5 .*, expected b75a71a5"):
            load_omniglot("background_small2", tmp_path)
        assert not (tmp_path / "omniglot").exists()
