"""Experiment 1's recipe: random pairs, one training step, and the 5-NN score (docs page 15).

The three pieces run-experiment takes from here to train the twin on your engine:

    sample_pairs    n random pairs of images, each similar (same class) with probability 0.5
    training_step   zero the gradients, embed both images, contrastive loss, backward, step
    knn_accuracy    the fraction of test points whose 5 nearest training points vote right

A pair sampler is reproducible from its generator: the same labels and seed give the same
pairs, and with them the same training run.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import losses, tensor

_BLOCK = 256  # query rows per block of the distance matrix (256 x 60,000 float64: 123 MB)


def sample_pairs(
    labels: np.ndarray, n_pairs: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw ``n_pairs`` random pairs of images as indices, each similar with probability 0.5.

    With the images sorted by class (``order``, stable), class c's images are
    ``order[first[c] : first[c] + count[c]]``. The draws, in this order, all from ``rng``:

        similar = rng.random(n_pairs) < 0.5                        which pairs are similar
        similar pairs (S of them):
            c   = classes with >= 2 images, drawn uniformly (rng.integers, S of them)
            o1  = rng.integers(0, count[c])                        first image's offset
            o2  = rng.integers(0, count[c] - 1), then +1 where o2 >= o1   a different image
        dissimilar pairs (D = n_pairs - S):
            a   = rng.integers(0, K, D)                            first class (K classes)
            b   = rng.integers(0, K - 1, D), then +1 where b >= a  a different class
            one image of a, then one of b: rng.integers(0, count[a]), rng.integers(0, count[b])

    Args:
        labels: (N,) class of each image (ints or strings), with >= 2 classes and a class of
            >= 2 images.
        n_pairs: how many pairs.
        rng: the generator every draw comes from.

    Returns:
        i, j: (n_pairs,) int indices of the two images of each pair.
        y: (n_pairs,) float32, 1 for a similar pair (same class, i != j), 0 for a dissimilar one.

    Example:
        >>> i, j, y = sample_pairs(np.array([0, 0, 0, 1, 1, 2]), 6, np.random.default_rng(3))
        >>> y
        array([1., 1., 0., 0., 1., 1.], dtype=float32)

    Course task 15.1 (docs/build-it-yourself.md).
    """
    classes, class_of = np.unique(labels, return_inverse=True)
    order = np.argsort(class_of, kind="stable")  # image indices, class by class
    count = np.bincount(class_of, minlength=len(classes))  # images per class
    first = np.cumsum(count) - count  # where each class starts in order
    similar = rng.random(n_pairs) < 0.5
    i, j = np.empty(n_pairs, dtype=np.intp), np.empty(n_pairs, dtype=np.intp)

    pairable = np.flatnonzero(count >= 2)
    c = pairable[rng.integers(0, len(pairable), int(similar.sum()))]
    o1 = rng.integers(0, count[c])
    o2 = rng.integers(0, count[c] - 1)
    o2 += o2 >= o1  # step over the first image
    i[similar], j[similar] = order[first[c] + o1], order[first[c] + o2]

    n_dissimilar = n_pairs - int(similar.sum())
    a = rng.integers(0, len(classes), n_dissimilar)
    b = rng.integers(0, len(classes) - 1, n_dissimilar)
    b += b >= a  # step over the first class
    i[~similar] = order[first[a] + rng.integers(0, count[a])]
    j[~similar] = order[first[b] + rng.integers(0, count[b])]
    return i, j, similar.astype(np.float32)


def training_step(
    twin: Any, optimizer: Any, x1: np.ndarray, x2: np.ndarray, y: np.ndarray, margin: float
) -> float:
    """One step of gradient descent on a batch of pairs; return the batch's loss.

    optimizer.zero_grad(); f1, f2 = twin(x1, x2);
    L = 0.5 * SUM_n [ y_n d_n^2 + (1 - y_n) max(margin - d_n, 0)^2 ]  (losses.contrastive_loss,
    reduction "sum"); L.backward(); optimizer.step().

    Args:
        twin: the twin network (nn.Twin).
        optimizer: its parameters' optimiser.
        x1, x2: (N, ...) the two images of each pair, NumPy arrays.
        y: (N,) 1 for a similar pair, 0 for a dissimilar one.
        margin: the contrastive loss's margin.

    Returns:
        The loss L as a Python float.

    Course task 15.2 (docs/build-it-yourself.md).
    """
    optimizer.zero_grad()
    f1, f2 = twin(tensor(x1), tensor(x2))
    loss = losses.contrastive_loss(f1, f2, tensor(y), margin=margin, reduction="sum")
    loss.backward()
    optimizer.step()
    return float(loss.item())


def knn_accuracy(
    train_embeddings: np.ndarray,
    train_labels: np.ndarray,
    test_embeddings: np.ndarray,
    test_labels: np.ndarray,
    k: int = 5,
) -> float:
    """The fraction of test points whose k nearest training points' majority label is right.

    Distances are Euclidean, computed in float64 as |q|^2 - 2 q.r + |r|^2 (clipped at 0), a
    block of test rows at a time; the k nearest are sorted nearest first, equal distances in
    the training points' order (a stable sort). The vote: each neighbour's label gets the
    count of neighbours that share it; a tie between labels goes to the nearest neighbour's.

    Args:
        train_embeddings: (R, D) the training points.
        train_labels: (R,) their labels.
        test_embeddings: (Q, D) the points to classify.
        test_labels: (Q,) their true labels.
        k: neighbours per test point (k <= R).

    Returns:
        The accuracy, a float in [0, 1].

    Course task 15.3 (docs/build-it-yourself.md).
    """
    references = train_embeddings.astype(np.float64)
    winners = []
    for start in range(0, len(test_embeddings), _BLOCK):
        queries = test_embeddings[start : start + _BLOCK].astype(np.float64)
        distances = (
            (queries * queries).sum(1)[:, None]
            - 2 * queries @ references.T
            + (references * references).sum(1)[None, :]
        )
        nearest = np.argsort(np.maximum(distances, 0), axis=1, kind="stable")[:, :k]  # (B, k)
        neighbours = train_labels[nearest]
        votes = (neighbours[:, :, None] == neighbours[:, None, :]).sum(axis=2)  # (B, k)
        winners.append(neighbours[np.arange(len(neighbours)), votes.argmax(axis=1)])
    return float((np.concatenate(winners) == test_labels).mean())
