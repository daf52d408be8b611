"""The Omniglot handwritten characters (Lake, Salakhutdinov and Tenenbaum, Science 2015).

Read from the official zips, e.g. ``omniglot/images_background.zip`` whose members are
``images_background/<Alphabet>/characterNN/NNNN_DD.png`` (105x105 one-bit PNGs, black ink on
white), or from the folder that unzipping it gives, ``omniglot/images_background/``. Files are
looked for and downloaded as :mod:`tinysiam.experiments.data.sources` describes. Local zips are
checked by their layout and image counts, not by md5 (repacked copies have other md5s, same images).

Decoding ~20,000 PNGs takes seconds, so the decoded pixels are cached as uint8 ``.npy`` in
``<cache>/omniglot/decoded/``, keyed by the split, the size, and the source's path, byte size and
modification time; a changed source gets a new entry (stale entries may be deleted at will).
"""

import hashlib
import io
import re
import struct
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image

from .errors import DataError
from .sources import RemoteFile, atomic_write, cache_dir, fetch, find

BASE_URL = "https://raw.githubusercontent.com/brendenlake/omniglot/master/python/"
SIDE = 105  # the side of every Omniglot PNG
SPLITS = {  # split -> (zip stem, md5 of the official zip, characters, images)
    "background": ("images_background", "68d2efa1b9178cc56df9314c21c6e718", 964, 19_280),
    "evaluation": ("images_evaluation", "6b91aef0f799c5bb55b94e3f2daec811", 659, 13_180),
    "background_small1": (
        "images_background_small1",
        "e704a628b5459e08445c13499850abc4",
        136,
        2720,
    ),
    "background_small2": (
        "images_background_small2",
        "b75a71a51d3b13f821f212756fe481fd",
        156,
        3120,
    ),
}
RUNS_MD5 = "e8996daecdf12afeeb4a53a179f06b19"  # all_runs.zip
RUN_WAYS = 20
# What PIL and zipfile raise on damaged bytes (PIL reports a broken PNG chunk as SyntaxError).
_DECODE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    struct.error,
    zlib.error,
    zipfile.BadZipFile,
)

Reader = Callable[[str], bytes]


class OmniglotSplit(NamedTuple):
    """One Omniglot split; unpacks as ``images, labels, alphabets, class_names``.

    Attributes:
        images: (N, 1, size, size) float32 in [0, 1], ink high.
        labels: (N,) int64 character (class) index of each image.
        alphabets: (N,) int64 alphabet index of each image.
        class_names: one ``"<Alphabet>-characterNN"`` per class, in label order.
    """

    images: np.ndarray
    labels: np.ndarray
    alphabets: np.ndarray
    class_names: list[str]

    @property
    def alphabet_names(self) -> list[str]:
        """The alphabet names in alphabet-index order, e.g. ``"Alphabet_of_the_Magi"``."""
        return list(dict.fromkeys(name.rsplit("-", 1)[0] for name in self.class_names))


@dataclass(frozen=True)
class OneShotRun:
    """One run of the 20-way one-shot benchmark: 20 queries, each matching one of 20 candidates.

    Attributes:
        name: ``"run01"`` to ``"run20"``.
        candidates: (20, 1, size, size) float32, one image per class (``training/classNN.png``).
        queries: (20, 1, size, size) float32 (``test/itemNN.png``).
        answers: (20,) int64; ``candidates[answers[i]]`` is the class of ``queries[i]``.
    """

    name: str
    candidates: np.ndarray
    queries: np.ndarray
    answers: np.ndarray


def load_omniglot(
    split: str = "background",
    root: str | Path | None = None,
    size: int = SIDE,
    download: bool = True,
) -> OmniglotSplit:
    """Load one Omniglot split, every image of every character, in sorted order.

    Ink is high: 1 is stroke, 0 is background (the PNGs, black on white, are inverted; MathWorks'
    Siamese example, the reference of experiment 2, reads them as they are, ink 0). With
    ``size`` other than 105 each image is shrunk by area averaging (PIL ``BOX``), so strokes
    turn into grey levels instead of aliasing away.

    Args:
        split: ``"background"`` (964 characters, 19,280 images, 30 alphabets), ``"evaluation"``
            (659, 13,180, 20), ``"background_small1"`` (136) or ``"background_small2"`` (156).
        root: a folder holding ``omniglot/<zip or extracted folder>``; default ``TINYSIAM_DATA``,
            then the cache.
        size: the side of the returned images, e.g. 105, 35 or 28.
        download: download a missing zip into the first writable folder searched.

    Returns:
        An :class:`OmniglotSplit` (images, labels, alphabets, class_names), plus ``alphabet_names``.

    Raises:
        ValueError: for an unknown split or a size below 1.
        DataError: for a missing file, a zip without the expected layout, or a corrupt PNG.

    Example:
        >>> images, labels, alphabets, class_names = load_omniglot(size=28)  # doctest: +SKIP
        >>> images.shape, class_names[0]  # doctest: +SKIP
        ((19280, 1, 28, 28), 'Alphabet_of_the_Magi-character01')
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, got {split!r}")
    if size < 1:
        raise ValueError(f"size must be a positive number of pixels, got {size}")
    stem, md5, n_classes, n_images = SPLITS[split]
    source = find("omniglot", stem, root)  # an extracted folder
    if source is None or not source.is_dir():
        source = fetch(_official_zip(stem, md5), root, download)
    with _open_source(source) as (names, read):
        members = _index(names, stem, source, n_classes, n_images)
        cache = _cache_path(source, split, size)
        pixels = _load_cached(cache, (n_images, size, size))
        if pixels is None:
            pixels = _decode_all([member[3] for member in members], read, size, source)
            _save_cached(cache, pixels)
    return OmniglotSplit(_to_float(pixels), *_labels(members))


def load_omniglot_runs(
    root: str | Path | None = None, size: int = SIDE, download: bool = True
) -> list[OneShotRun]:
    """Load the 20 runs of the official 20-way within-alphabet one-shot benchmark (all_runs.zip).

    Each run holds 20 candidate images, one per class, and 20 query images; a model scores a
    query by picking the most similar candidate. Images are ink high, shrunk as in
    :func:`load_omniglot`.

    Args:
        root: a folder holding ``omniglot/all_runs.zip``; default ``TINYSIAM_DATA``, then the cache.
        size: the side of the returned images.
        download: download a missing all_runs.zip.

    Returns:
        20 :class:`OneShotRun`, ``run01`` to ``run20``.

    Raises:
        DataError: for a missing file, a run without the expected layout, or a corrupt PNG.

    Example:
        >>> runs = load_omniglot_runs(size=28)  # doctest: +SKIP
        >>> np.mean([np.mean(guess(run) == run.answers) for run in runs])  # doctest: +SKIP
    """
    if size < 1:
        raise ValueError(f"size must be a positive number of pixels, got {size}")
    source = fetch(_official_zip("all_runs", RUNS_MD5), root, download)
    with _open_source(source) as (names, read):
        return [_read_run(f"run{r:02d}", names, read, size, source) for r in range(1, RUN_WAYS + 1)]


def _official_zip(stem: str, md5: str) -> RemoteFile:
    """The download description of an official Omniglot zip, e.g. ``images_evaluation``."""
    return RemoteFile("omniglot", f"{stem}.zip", (f"{BASE_URL}{stem}.zip",), "md5", md5)


@contextmanager
def _open_source(path: Path) -> Iterator[tuple[list[str], Reader]]:
    """Yield the member names of a zip, or of an extracted folder (relative to its parent, as in
    the zip), and a function reading one member's bytes."""
    if path.is_dir():
        names = [p.relative_to(path.parent).as_posix() for p in path.rglob("*.png")]
        yield names, lambda name: (path.parent / name).read_bytes()
        return
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as error:
        raise DataError(f"{path}: not a readable zip file ({error})") from error
    with archive:
        yield archive.namelist(), archive.read


def _index(
    names: list[str], stem: str, source: Path, n_classes: int, n_images: int
) -> list[tuple[str, str, str, str]]:
    """Return the sorted (alphabet, character, file, member name) of a split; check its counts."""
    layout = f"{stem}/<Alphabet>/characterNN/NNNN_DD.png"
    pattern = re.compile(rf"{re.escape(stem)}/([^/]+)/(character\d+)/([^/]+\.png)")
    members = sorted((m[1], m[2], m[3], name) for name in names if (m := pattern.fullmatch(name)))
    found_classes = len({member[:2] for member in members})
    if (found_classes, len(members)) != (n_classes, n_images):
        raise DataError(
            f"{source}: found {found_classes} characters and {len(members)} images in the layout "
            f"{layout}, expected {n_classes} and {n_images}"
        )
    return members


def _labels(members: Sequence[tuple[str, ...]]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Return the class and alphabet index of each sorted member, and the class names."""
    classes = list(dict.fromkeys(member[:2] for member in members))
    alphabet_names = sorted({alphabet for alphabet, _ in classes})
    class_index = {key: i for i, key in enumerate(classes)}
    labels = np.array([class_index[member[:2]] for member in members], np.int64)
    class_alphabet = np.array([alphabet_names.index(alphabet) for alphabet, _ in classes], np.int64)
    class_names = [f"{alphabet}-{character}" for alphabet, character in classes]
    return labels, class_alphabet[labels], class_names


def _read_run(run: str, names: list[str], read: Reader, size: int, source: Path) -> OneShotRun:
    """Read one run: its training (candidate) and test (query) images and class_labels.txt."""
    candidates = sorted(n for n in names if re.fullmatch(rf"{run}/training/class\d+\.png", n))
    queries = sorted(n for n in names if re.fullmatch(rf"{run}/test/item\d+\.png", n))
    label_file = f"{run}/class_labels.txt"
    if len(candidates) != RUN_WAYS or len(queries) != RUN_WAYS or label_file not in names:
        raise DataError(
            f"{source}: {run} should hold {RUN_WAYS} training/classNN.png, "
            f"{RUN_WAYS} test/itemNN.png and class_labels.txt; found {len(candidates)}, "
            f"{len(queries)} and {'a' if label_file in names else 'no'} class_labels.txt"
        )
    pairs = [line.split() for line in read(label_file).decode("utf-8", "replace").splitlines()]
    answer_of = {pair[0]: pair[1] for pair in pairs if len(pair) == 2}
    if any(answer_of.get(query) not in candidates for query in queries):
        raise DataError(
            f"{source}: {label_file} does not map every test image of {run} to a training image"
        )
    answers = np.array([candidates.index(answer_of[query]) for query in queries], np.int64)
    return OneShotRun(
        run,
        _to_float(_decode_all(candidates, read, size, source)),
        _to_float(_decode_all(queries, read, size, source)),
        answers,
    )


def _decode_all(names: list[str], read: Reader, size: int, source: Path) -> np.ndarray:
    """Decode PNG members into (len(names), size, size) uint8 ink (255 = stroke)."""
    pixels = np.empty((len(names), size, size), np.uint8)
    for i, name in enumerate(names):
        pixels[i] = _decode(read, name, size, source)
    return pixels


def _decode(read: Reader, name: str, size: int, source: Path) -> np.ndarray:
    """Decode one PNG member into (size, size) uint8 ink, shrinking by area averaging."""
    try:
        with Image.open(io.BytesIO(read(name))) as image:
            ink = Image.fromarray(255 - np.asarray(image.convert("L")))
    except _DECODE_ERRORS as error:
        raise DataError(f"{source}: {name} is not a readable PNG ({error})") from error
    if ink.size != (SIDE, SIDE):
        width, height = ink.size
        raise DataError(f"{source}: {name} is {width}x{height} pixels, expected {SIDE}x{SIDE}")
    if size != SIDE:
        ink = ink.resize((size, size), Image.Resampling.BOX)
    return np.asarray(ink)


def _to_float(pixels: np.ndarray) -> np.ndarray:
    """(N, H, W) uint8 -> (N, 1, H, W) float32 in [0, 1]."""
    images = pixels[:, None].astype(np.float32)
    images /= 255  # in place: a second float array this size costs more than the conversion
    return images


def _cache_path(source: Path, split: str, size: int) -> Path:
    """The cache file of ``split`` at ``size`` from ``source``, keyed by path, size and mtime."""
    source = source.resolve()
    files = [source] if source.is_file() else sorted(source.rglob("*.png"))
    identity = [(str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files]
    key = hashlib.sha1(repr(identity).encode()).hexdigest()[:16]
    return cache_dir() / "omniglot" / "decoded" / f"{split}-{size}px-{key}.npy"


def _load_cached(path: Path, shape: tuple[int, ...]) -> np.ndarray | None:
    """Return the cached pixels if ``path`` holds a uint8 array of ``shape``, else None."""
    try:
        pixels = np.load(path)
    except (OSError, ValueError, EOFError):
        return None
    return pixels if pixels.shape == shape and pixels.dtype == np.uint8 else None


def _save_cached(path: Path, pixels: np.ndarray) -> None:
    """Write the cache file atomically; a cache that cannot be written only costs speed."""
    try:
        with atomic_write(path) as file:
            np.save(file, pixels)
    except OSError as error:
        warnings.warn(f"could not cache decoded Omniglot images at {path}: {error}", stacklevel=3)
