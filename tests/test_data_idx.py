"""The IDX parser: round trips, clear errors, and fuzzing that only ever raises DataError."""

import contextlib
import gzip
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinysiam.experiments.data.errors import DataError
from tinysiam.experiments.data.idx import parse_idx, read_idx

FUZZ = settings(max_examples=200, deadline=None)


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array as an IDX file: magic 0x000008<ndim>, big-endian dims, data."""
    header = bytes([0, 0, 0x08, array.ndim])
    dims = b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + dims + array.astype(np.uint8).tobytes()


SMALL_IMAGES = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
SMALL_FILE = idx_bytes(SMALL_IMAGES)


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("shape", [(5,), (2, 3, 4), (1, 28, 28)])
def test_round_trip(tmp_path: Path, compress: bool, shape: tuple[int, ...]) -> None:
    array = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    data = idx_bytes(array)
    path = tmp_path / ("file.gz" if compress else "file")
    path.write_bytes(gzip.compress(data) if compress else data)
    loaded = read_idx(path, ndim=len(shape))
    assert loaded.dtype == np.uint8 and loaded.flags.writeable
    np.testing.assert_array_equal(loaded, array)


def test_wrong_magic_names_file_and_expected_value(tmp_path: Path) -> None:
    path = tmp_path / "images.idx"
    path.write_bytes(b"\x00\x00\x09\x03" + SMALL_FILE[4:])  # dtype 0x09 (signed byte)
    with pytest.raises(DataError, match=r"images\.idx.*0x00000903.*expected 0x00000803"):
        read_idx(path, ndim=3)


def test_labels_read_as_images_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "labels.idx"
    path.write_bytes(idx_bytes(np.zeros(7, np.uint8)))
    with pytest.raises(DataError, match=r"0x00000801.*expected 0x00000803"):
        read_idx(path, ndim=3)


@pytest.mark.parametrize("cut, extra", [(1, b""), (0, b"\x00")])
def test_wrong_size_names_expected_and_found(tmp_path: Path, cut: int, extra: bytes) -> None:
    path = tmp_path / "images.idx"
    path.write_bytes(SMALL_FILE[: len(SMALL_FILE) - cut] + extra)
    found = len(SMALL_FILE) - cut + len(extra)
    with pytest.raises(DataError, match=rf"images\.idx: {found} bytes, expected {len(SMALL_FILE)}"):
        read_idx(path)


def test_truncated_gzip_names_file(tmp_path: Path) -> None:
    path = tmp_path / "images.gz"
    path.write_bytes(gzip.compress(SMALL_FILE)[:-10])
    with pytest.raises(DataError, match=r"images\.gz"):
        read_idx(path)


def test_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="nowhere.gz"):
        read_idx(tmp_path / "nowhere.gz")


@FUZZ
@given(st.binary(max_size=64))
def test_random_bytes_raise_only_data_error(data: bytes) -> None:
    try:
        array = parse_idx(data)
    except DataError:
        return
    assert array.dtype == np.uint8 and array.size == len(data) - 4 - 4 * array.ndim


@FUZZ
@given(st.binary(max_size=64), st.booleans())
def test_random_files_raise_only_data_error(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, gzip_magic: bool
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "random"
    path.write_bytes((b"\x1f\x8b" if gzip_magic else b"") + data)
    with contextlib.suppress(DataError):
        read_idx(path)


@FUZZ
@given(st.data())
def test_every_truncation_is_refused(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    compress = data.draw(st.booleans())
    full = gzip.compress(SMALL_FILE) if compress else SMALL_FILE
    cut = data.draw(st.integers(0, len(full) - 1))
    path = tmp_path_factory.mktemp("cut") / ("cut.gz" if compress else "cut")
    path.write_bytes(full[:cut])
    with pytest.raises(DataError, match="cut"):
        read_idx(path)
