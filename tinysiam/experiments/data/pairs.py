"""Random Siamese pairs: two images of one class (similar, y = 1) or of two classes (y = 0).

As in the reference MATLAB examples, each pair is similar with probability 0.5. A similar pair
picks a class uniformly, then two *different* images of it; a dissimilar pair picks a class
uniformly, then a second, different class, then one image of each. With ``within_group=True``
the second class comes from the first one's group (e.g. the same Omniglot alphabet), which
makes dissimilar pairs harder to tell apart.

One idea serves every sampler here: images are sorted by class once, so "a random image of
class c" is ``order[first[c] + offset]`` with a random ``offset < count[c]``, vectorised over
the batch (classes sorted into groups work the same way). On it stand:

* :class:`PairSampler` - separate random pairs (:meth:`~PairSampler.sample`), a batch of
  ``per_class`` images of every class (:meth:`~PairSampler.sample_class_batch`), or two images
  of each of a few classes taken group by group (:meth:`~PairSampler.sample_group_batch`), the
  last two for scoring every pair of a batch (:func:`all_pairs`);
* :class:`CrossPairSampler` - pairs across two sets of images (handwritten and printed digits,
  say): an image of the first set, and an image of the second set of its class or of another.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinysiam.checks import check_int


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
            class must share one group. Used by ``within_group`` and :meth:`sample_group_batch`.
        within_group: draw the two classes of a dissimilar pair from the same group.

    Raises:
        TypeError: when ``images`` is not an array (a list, say).
        ValueError: on a negative or non-integer seed, mismatched lengths, fewer than 2
            classes, no class with 2 images (a class with a single image is simply never used
            for similar pairs), or, with
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
                "images must be a NumPy or CuPy array of shape (N, ...), "
                f"got {type(images).__name__}"
            )
        check_int("seed", seed, minimum=0)
        labels = np.asarray(labels)
        if labels.ndim != 1 or len(labels) != len(images):
            raise ValueError(
                "labels must be 1-D with one label per image: "
                f"got shape {labels.shape} for {len(images)} images"
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
                "similar pairs need a class with at least 2 images; "
                f"all {len(classes)} classes have 1"
            )

        group_of_class = np.zeros(len(classes), dtype=np.intp)  # one group of all classes
        self._group_pools: list[np.ndarray] | None = None  # for sample_group_batch
        if within_group or groups is not None:
            real_groups = _group_of_class(groups, class_of, len(images))
            self._group_pools = _pools(_Blocks(real_groups), self._pairable)
            if within_group:
                group_of_class = real_groups
        self._group_of_class = group_of_class
        self._classes_of = _Blocks(group_of_class)
        self._mixable = np.flatnonzero(self._classes_of.count[group_of_class] >= 2)  # has a partner
        if len(self._mixable) == 0:
            raise ValueError(
                "within_group=True needs a group with at least 2 classes; every group has 1"
            )

    def sample_indices(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Draw ``n`` pairs as indices into ``images`` (or any array of the same length).

        Returns:
            i1, i2: (n,) int indices of the two images of each pair.
            y: (n,) float32, 1 for a similar pair (same class, ``i1 != i2``), 0 for a
                dissimilar one.
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

    def sample_group_batch(self, classes: int, per_group: int = 8) -> np.ndarray:
        """Indices of two different images of each of ``classes`` classes, chosen group by group.

        Groups are visited in a random order; from each, up to ``per_group`` of its classes are
        taken, until the batch holds ``classes`` of them (or every group has been visited). Many
        dissimilar pairs of the batch then come from one group: for Omniglot, two characters of
        one alphabet, the hard case of the one-shot benchmark. Needs ``groups``.

        Returns:
            (2K,) int indices into ``images``, class by class: images 2k and 2k + 1 show one class.
        """
        check_int("classes", classes, minimum=1)
        check_int("per_group", per_group, minimum=1)
        if self._group_pools is None:
            raise ValueError("sample_group_batch needs the sampler built with groups=")
        rng, chosen, total = self.rng, [], 0
        pools = self._group_pools
        for g in rng.permutation(len(pools)):
            pool = pools[g]
            chosen.append(rng.choice(pool, min(per_group, len(pool)), replace=False))
            total += len(chosen[-1])
            if total >= classes:
                break
        c = np.concatenate(chosen)[:classes]
        first = self._images_of.draw(rng, c)
        second = self._images_of.draw(rng, c, skip=first)
        return np.stack([first, second], axis=1).reshape(-1)

    def state_dict(self) -> dict[str, Any]:
        """The random generator's state, for a checkpoint: ``{"rng": bit_generator.state}``."""
        return _rng_state(self.rng)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state from :meth:`state_dict`: the next pairs are those that followed it."""
        _load_rng_state(self.rng, state, "PairSampler")


class CrossPairSampler:
    """Pairs across two sets of images: an image of the first set, and one of the second set that
    shows the same class (y = 1) with probability 0.5, else one of another class (y = 0).

    For a twin whose two inputs are different kinds of data (handwritten digits on one side,
    printed ones on the other). The first image is drawn uniformly from its set; the other
    class, uniformly from the classes of the second set.

    Args:
        labels: (NA,) class of each image of the first set.
        partner_labels: (NB,) class of each image of the second set; every class of the first
            set must occur in it, and it needs at least 2 classes.
        seed: seed of the sampler's generator (saved in checkpoints through :meth:`state_dict`).

    Example:
        >>> pairs = CrossPairSampler(hand_labels, print_labels, seed=0)
        >>> i, j, y = pairs.sample_indices(128)   # hand_images[i] and print_images[j]
    """

    def __init__(self, labels: Any, partner_labels: Any, seed: int = 0) -> None:
        check_int("seed", seed, minimum=0)
        labels, partner_labels = np.asarray(labels), np.asarray(partner_labels)
        for name, value in (("labels", labels), ("partner_labels", partner_labels)):
            if value.ndim != 1 or len(value) == 0:
                raise ValueError(f"{name} must be 1-D and not empty, got shape {value.shape}")
        classes, partner_class = np.unique(partner_labels, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(f"partner_labels need at least 2 classes, got {classes.tolist()}")
        missing = np.setdiff1d(labels, classes)
        if len(missing):
            raise ValueError(
                f"every class of labels needs a partner image; none for {missing[:5].tolist()}"
            )
        self._class_of = np.searchsorted(classes, labels)  # (NA,) class index of each image
        self._partners_of = _Blocks(partner_class)
        self.rng = np.random.default_rng(seed)

    def sample_indices(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """i: (n,) first-set indices, j: (n,) second-set ones, y: (n,) float32, 1 = same class."""
        check_int("n", n, minimum=1)
        rng, k = self.rng, len(self._partners_of.count)
        i = rng.integers(0, len(self._class_of), n)
        same = rng.random(n) < 0.5
        other = (self._class_of[i] + rng.integers(1, k, n)) % k  # uniform over the other classes
        j = self._partners_of.draw(rng, np.where(same, self._class_of[i], other))
        return i, j, same.astype(np.float32)

    def state_dict(self) -> dict[str, Any]:
        """The random generator's state, for a checkpoint: ``{"rng": bit_generator.state}``."""
        return _rng_state(self.rng)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state from :meth:`state_dict`: the next pairs are those that followed it."""
        _load_rng_state(self.rng, state, "CrossPairSampler")


def _rng_state(rng: np.random.Generator) -> dict[str, Any]:
    return {"rng": rng.bit_generator.state}


def _load_rng_state(rng: np.random.Generator, state: dict[str, Any], owner: str) -> None:
    if "rng" not in state:
        raise ValueError(f"a {owner} state needs the key 'rng', got keys {sorted(state)}")
    rng.bit_generator.state = state["rng"]


def _pools(classes_of: _Blocks, usable: np.ndarray) -> list[np.ndarray]:
    """The usable classes of each group, groups in id order (those with none left out)."""
    pools = []
    for g in range(len(classes_of.count)):
        members = classes_of.order[classes_of.first[g] : classes_of.first[g] + classes_of.count[g]]
        members = members[np.isin(members, usable)]
        if len(members):
            pools.append(members)
    return pools


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
    """Every pair (i < j) of a batch, its label, and weights giving each kind of pair half the loss.

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
        >>> per_pair = contrastive_loss(f[i], f[j], y, reduction="none")
        >>> loss = (per_pair * tinysiam.tensor(weight)).sum()
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
