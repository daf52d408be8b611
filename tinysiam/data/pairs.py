"""Random Siamese pairs: two images of one class (similar, y = 1) or of two classes (y = 0).

As in the reference MATLAB examples, each pair is similar with probability 0.5. A similar pair
picks a class uniformly, then two *different* images of it; a dissimilar pair picks a class
uniformly, then a second, different class, then one image of each. With ``within_group=True``
the second class comes from the first one's group (e.g. the same Omniglot alphabet), which
makes dissimilar pairs harder to tell apart.

Every draw is vectorised over the batch: images are sorted by class once, so "a random image of
class c" is ``order[first[c] + offset]`` with a random ``offset < count[c]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..checks import check_int


class _Blocks:
    """Items 0..M-1 sorted into blocks (images into classes, classes into groups).

    The members of block ``b`` are ``order[first[b] : first[b] + count[b]]``, and ``rank[i]`` is
    where item ``i`` sits inside its own block.
    """

    def __init__(self, block_of: np.ndarray) -> None:
        self.order = np.argsort(block_of, kind="stable")
        self.count = np.bincount(block_of)
        self.first = np.cumsum(self.count) - self.count
        self.rank = np.empty_like(self.order)
        self.rank[self.order] = np.arange(len(block_of)) - self.first[block_of[self.order]]

    def draw(
        self, rng: np.random.Generator, blocks: np.ndarray, skip: np.ndarray | None = None
    ) -> np.ndarray:
        """One random member of each block in ``blocks``.

        Args:
            rng: the generator to draw from.
            blocks: (K,) block ids.
            skip: optional (K,) items, ``skip[k]`` a member of ``blocks[k]`` (a block of >= 2
                items): then the member drawn is never ``skip[k]``.

        Returns:
            (K,) items.
        """
        if skip is None:
            return self.order[self.first[blocks] + rng.integers(0, self.count[blocks])]
        offset = rng.integers(0, self.count[blocks] - 1)
        offset += offset >= self.rank[skip]  # step over the skipped member
        return self.order[self.first[blocks] + offset]


class PairSampler:
    """Draws random similar/dissimilar pairs of images, reproducibly from a seed.

    Args:
        images: (N, ...) array (NumPy or CuPy) that pairs are taken from.
        labels: (N,) class of each image: ints or strings.
        seed: seed of the sampler's ``np.random.default_rng`` (exposed as ``.rng``).
        groups: optional (N,) group of each image (e.g. the Omniglot alphabet); every image of a
            class must share one group. Only used when ``within_group`` is True.
        within_group: draw the two classes of a dissimilar pair from the same group.

    Raises:
        TypeError: when ``images`` is not an array (a list, say).
        ValueError: on a negative or non-integer seed, mismatched lengths, fewer than 2 classes, no class with 2 images (a class
            with a single image is simply never used for similar pairs), or, with
            ``within_group``, a class spread over several groups or no group with 2 classes.

    Example:
        >>> sampler = PairSampler(images, labels, seed=0)
        >>> x1, x2, y = sampler.sample(180)   # x1, x2: (180, 1, 28, 28); y: (180,) float32
    """

    def __init__(
        self,
        images: Any,
        labels: Any,
        seed: int = 0,
        groups: Any = None,
        within_group: bool = False,
    ) -> None:
        if not hasattr(images, "shape") or len(images.shape) < 1:
            raise TypeError(
                f"images must be a NumPy or CuPy array of shape (N, ...), got {type(images).__name__}"
            )
        check_int("seed", seed, minimum=0)
        labels = np.asarray(labels)
        if labels.ndim != 1 or len(labels) != len(images):
            raise ValueError(
                f"labels must be 1-D with one label per image: got shape {labels.shape} for {len(images)} images"
            )
        classes, class_of = np.unique(labels, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(
                f"pairs need at least 2 classes, got {len(classes)}: {classes[:5].tolist()}"
            )
        self.images = images
        self.rng = np.random.default_rng(seed)
        self._images_of = _Blocks(class_of)
        self._pairable = np.flatnonzero(self._images_of.count >= 2)  # classes with two images
        if len(self._pairable) == 0:
            raise ValueError(
                f"similar pairs need a class with at least 2 images; all {len(classes)} classes have 1"
            )

        group_of_class = np.zeros(len(classes), dtype=np.intp)  # one group of all classes
        if within_group:
            group_of_class = _group_of_class(groups, class_of, len(images))
        self._group_of_class = group_of_class
        self._classes_of = _Blocks(group_of_class)
        self._mixable = np.flatnonzero(self._classes_of.count[group_of_class] >= 2)  # has a partner
        if len(self._mixable) == 0:
            raise ValueError(
                "within_group=True needs a group with at least 2 classes; every group has 1"
            )

    def sample_indices(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Draw ``n`` pairs as indices into ``images``, to build them on any array of the same length.

        Returns:
            i1, i2: (n,) int indices of the two images of each pair.
            y: (n,) float32, 1 for a similar pair (same class, ``i1 != i2``), 0 for a dissimilar one.
        """
        check_int("n", n, minimum=1)
        rng = self.rng
        similar = rng.random(n) < 0.5
        i1, i2 = np.empty(n, dtype=np.intp), np.empty(n, dtype=np.intp)

        c = self._pairable[
            rng.integers(0, len(self._pairable), int(similar.sum()))
        ]  # class per pair
        first = self._images_of.draw(rng, c)
        i1[similar], i2[similar] = first, self._images_of.draw(rng, c, skip=first)

        a = self._mixable[rng.integers(0, len(self._mixable), n - int(similar.sum()))]
        b = self._classes_of.draw(rng, self._group_of_class[a], skip=a)
        i1[~similar] = self._images_of.draw(rng, a)
        i2[~similar] = self._images_of.draw(rng, b)
        return i1, i2, similar.astype(np.float32)

    def sample(self, n: int) -> tuple[Any, Any, np.ndarray]:
        """Draw ``n`` pairs of images.

        Returns:
            x1, x2: (n, ...) images of each pair, indexed from ``images`` (same dtype and device).
            y: (n,) float32, 1 = similar, 0 = dissimilar.
        """
        i1, i2, y = self.sample_indices(n)
        return self.images[i1], self.images[i2], y

    def sample_class_batch(self, per_class: int) -> np.ndarray:
        """Indices of a batch with ``per_class`` different images of every class that has that many.

        For training on every pair of a batch (:func:`all_pairs`) instead of on separate pairs:
        each image's embedding is computed once and compared with all the others.

        Returns:
            (K * per_class,) int indices into ``images``, class by class (K: the classes used).
        """
        check_int("per_class", per_class, minimum=2)
        blocks = self._images_of
        classes = np.flatnonzero(blocks.count >= per_class)
        if len(classes) < 2:
            raise ValueError(f"per_class={per_class}: fewer than 2 classes have that many images")
        picks = [
            blocks.order[
                blocks.first[c] + self.rng.choice(blocks.count[c], per_class, replace=False)
            ]
            for c in classes
        ]
        return np.concatenate(picks)

    def state_dict(self) -> dict[str, Any]:
        """The random generator's state, for a checkpoint: ``{"rng": bit_generator.state}``."""
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state from :meth:`state_dict`, so the next pairs are the ones that followed it."""
        if "rng" not in state:
            raise ValueError(f"a PairSampler state needs the key 'rng', got keys {sorted(state)}")
        self.rng.bit_generator.state = state["rng"]


def _group_of_class(groups: Any, class_of: np.ndarray, n: int) -> np.ndarray:
    """The group id of each class, checking that no class is split over two groups."""
    if groups is None:
        raise ValueError("within_group=True needs groups, one group per image (e.g. the alphabet)")
    groups = np.asarray(groups)
    if groups.shape != (n,):
        raise ValueError(f"groups must have shape ({n},), one per image, got {groups.shape}")
    _, group_of = np.unique(groups, return_inverse=True)
    group_of_class = np.zeros(class_of.max() + 1, dtype=np.intp)
    group_of_class[class_of] = group_of
    split = np.flatnonzero(group_of_class[class_of] != group_of)
    if len(split):
        raise ValueError(
            f"each class must lie in one group, but image {split[0]}'s class spans several groups"
        )
    return group_of_class


def all_pairs(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every pair (i < j) of a batch, its label, and weights giving both kinds of pair half the loss.

    A batch of B images holds B (B - 1) / 2 pairs, most of them dissimilar; weighting each similar
    pair by 0.5 / (number of similar pairs) and each dissimilar one by 0.5 / (number of dissimilar
    pairs) makes the weighted sum of per-pair losses an average in which both kinds count equally.

    Args:
        labels: (B,) class of each image of the batch.

    Returns:
        i, j: (P,) int indices of the two images of each pair, P = B (B - 1) / 2.
        y: (P,) float32, 1 for a similar pair (same class), 0 for a dissimilar one.
        weight: (P,) float32 summing to 1 (to 0.5 per kind, or 1 if the batch has one kind only).

    Example:
        >>> i, j, y, weight = all_pairs(labels[batch])
        >>> loss = (contrastive_loss(f[i], f[j], y, reduction="none") * tinysiam.tensor(weight)).sum()
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) < 2:
        raise ValueError(f"labels must be 1-D with at least 2 entries, got shape {labels.shape}")
    i, j = np.triu_indices(len(labels), k=1)
    similar = labels[i] == labels[j]
    n_similar = int(similar.sum())
    kinds = (n_similar > 0) + (n_similar < len(i))
    weight = np.where(similar, 1 / max(n_similar, 1), 1 / max(len(i) - n_similar, 1)) / kinds
    return i, j, similar.astype(np.float32), weight.astype(np.float32)
