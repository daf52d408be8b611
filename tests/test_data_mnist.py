"""MNIST on the real files, plus finding, downloading and refusing bad copies (network faked)."""

import gzip
import http.client
import io
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from tinysiam.experiments.data.errors import DataError
from tinysiam.experiments.data.mnist import MIRRORS, load_mnist
from tinysiam.experiments.data.sources import TIMEOUT_S

COUNTS = {
    "train": [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
    "test": [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
}
TEST_FILES = ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


class CutResponse(io.BytesIO):
    """A response whose connection drops after a few bytes."""

    def read(self, *args: int) -> bytes:
        raise http.client.IncompleteRead(b"\x1f\x8b", expected=1000)


def fake_urlopen(serve: dict[str, bytes | io.BytesIO], tried: list[str]):
    """A stand-in for urllib.request.urlopen: ``serve[url]`` (bytes or response), else URLError."""

    def urlopen(request: urllib.request.Request, timeout: float) -> io.BytesIO:
        assert timeout <= 10, "downloads must give up quickly"
        tried.append(request.full_url)
        if request.full_url not in serve:
            raise urllib.error.URLError("network unreachable")
        response = serve[request.full_url]
        return io.BytesIO(response) if isinstance(response, bytes) else response

    return urlopen


def files_in(folder: Path) -> list[str]:
    """The names in ``folder``, hidden ones included; none if it does not exist."""
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize("split", ["train", "test"])
def test_real_mnist(shared_data: Path, cache_home: Path, split: str) -> None:
    images, labels = load_mnist(split, root=shared_data, download=False)
    n = sum(COUNTS[split])
    assert images.shape == (n, 1, 28, 28) and images.dtype == np.float32
    assert labels.shape == (n,) and labels.dtype == np.int64
    assert images.min() == 0.0 and images.max() == 1.0
    assert 0.1 < images.mean() < 0.15  # mostly background: ink is high
    assert np.bincount(labels, minlength=10).tolist() == COUNTS[split]
    assert not cache_home.exists()  # local files are read in place, nothing is written


def test_data_root_from_environment(
    shared_data: Path, cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TINYSIAM_DATA", str(shared_data))
    assert np.bincount(load_mnist("test", download=False)[1]).tolist() == COUNTS["test"]


def test_unknown_split() -> None:
    with pytest.raises(ValueError, match="'validation'"):
        load_mnist("validation")


def test_missing_root_without_download_names_the_path(tmp_path: Path, cache_home: Path) -> None:
    root = tmp_path / "no-such-root"
    with pytest.raises(DataError, match="download=False") as error:
        load_mnist("test", root=root, download=False)
    assert str(root / "mnist" / "t10k-images-idx3-ubyte.gz") in str(error.value)
    assert "TINYSIAM_DATA" in str(error.value)
    assert not root.exists()


def test_offline_download_fails_fast_naming_urls_and_destination(
    tmp_path: Path, cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tried: list[str] = []
    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen({}, tried))
    start = time.perf_counter()
    with pytest.raises(DataError) as error:
        load_mnist("test", root=tmp_path)
    assert time.perf_counter() - start < 1
    message = str(error.value)
    urls = [mirror + TEST_FILES[0] for mirror in MIRRORS]
    assert tried == urls and all(url in message for url in urls)
    assert str(tmp_path / "mnist" / TEST_FILES[0]) in message
    assert files_in(tmp_path / "mnist") == []


def test_download_falls_back_to_next_mirror_and_loads(
    shared_data: Path, tmp_path: Path, cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    serve = {MIRRORS[1] + name: (shared_data / "mnist" / name).read_bytes() for name in TEST_FILES}
    tried: list[str] = []
    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen(serve, tried))
    images, labels = load_mnist("test", root=tmp_path)
    assert tried == [MIRRORS[0] + TEST_FILES[0], MIRRORS[1] + TEST_FILES[0]] + [
        MIRRORS[0] + TEST_FILES[1],
        MIRRORS[1] + TEST_FILES[1],
    ]
    assert files_in(tmp_path / "mnist") == TEST_FILES
    assert images.shape == (10_000, 1, 28, 28) and np.bincount(labels).tolist() == COUNTS["test"]


def test_download_into_cache_when_root_is_read_only(
    shared_data: Path, tmp_path: Path, cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "read-only"
    root.mkdir(mode=0o555)
    serve = {MIRRORS[0] + n: (shared_data / "mnist" / n).read_bytes() for n in TEST_FILES}
    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen(serve, []))
    load_mnist("test", root=root)
    assert files_in(root) == []
    assert files_in(cache_home / "tinysiam" / "mnist") == TEST_FILES


def test_download_failing_checksum_is_not_kept(
    tmp_path: Path, cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    junk = gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x01\x07")  # a valid IDX, not MNIST
    serve = {mirror + TEST_FILES[0]: junk for mirror in MIRRORS}
    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen(serve, []))
    with pytest.raises(DataError, match="sha256 .*, expected 0fa7898d"):
        load_mnist("test", root=tmp_path)
    assert files_in(tmp_path / "mnist") == []  # no file, no leftover temporary


def test_interrupted_download_is_not_kept(
    tmp_path: Path, cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        urllib.request, "urlopen", fake_urlopen({MIRRORS[0] + TEST_FILES[0]: CutResponse()}, [])
    )
    with pytest.raises(DataError, match="IncompleteRead"):
        load_mnist("test", root=tmp_path)
    assert files_in(tmp_path / "mnist") == []


def test_timeout_is_short() -> None:
    assert 0 < TIMEOUT_S <= 10


def test_local_copy_with_wrong_content_is_refused(tmp_path: Path, cache_home: Path) -> None:
    folder = tmp_path / "mnist"
    folder.mkdir()
    header = b"\x00\x00\x08\x03" + b"".join(n.to_bytes(4, "big") for n in (2, 28, 28))
    (folder / TEST_FILES[0]).write_bytes(gzip.compress(header + bytes(2 * 28 * 28)))
    with pytest.raises(DataError, match=rf"{TEST_FILES[0]}: sha256 .* expected 0fa7898d"):
        load_mnist("test", root=tmp_path, download=False)


def test_truncated_local_copy_names_the_file(
    shared_data: Path, tmp_path: Path, cache_home: Path
) -> None:
    folder = tmp_path / "mnist"
    folder.mkdir()
    whole = (shared_data / "mnist" / TEST_FILES[0]).read_bytes()
    (folder / TEST_FILES[0]).write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match=str(folder / TEST_FILES[0])):
        load_mnist("test", root=tmp_path, download=False)
