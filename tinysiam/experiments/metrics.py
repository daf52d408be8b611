"""Quality measures the examples report: nearest-neighbour accuracy, retrieval precision, ROC AUC.

All take host NumPy arrays (embeddings are small) and work in chunks so that a 10,000 x 60,000
distance matrix is never built at once.
"""

from __future__ import annotations

import numpy as np

_CHUNK = 256  # query rows per block of the distance matrix (256 x 60,000 float64: 123 MB)


def _squared_distances(queries: np.ndarray, references: np.ndarray) -> np.ndarray:
    """||q - r||^2 for every pair: (Q, D), (R, D) -> (Q, R), as |q|^2 - 2 q.r + |r|^2."""
    q = queries.astype(np.float64)
    r = references.astype(np.float64)
    d = (q * q).sum(1)[:, None] - 2 * q @ r.T + (r * r).sum(1)[None, :]
    return np.maximum(d, 0)


def nearest_neighbours(
    queries: np.ndarray, references: np.ndarray, k: int, exclude_self: bool = False
) -> np.ndarray:
    """Indices (Q, k) of the k nearest references of each query (Euclidean), nearest first.

    Args:
        queries: (Q, D) embeddings.
        references: (R, D) embeddings.
        k: neighbours per query.
        exclude_self: queries ARE the references (same order); a query is not its own neighbour.
    """
    if queries.ndim != 2 or references.ndim != 2 or queries.shape[1] != references.shape[1]:
        raise ValueError(
            "nearest_neighbours: need (Q, D) and (R, D) arrays, "
            f"got {queries.shape} and {references.shape}"
        )
    needed = k + 1 if exclude_self else k
    if needed > len(references):
        raise ValueError(f"nearest_neighbours: k={k} but only {len(references)} references")
    result = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), _CHUNK):
        d = _squared_distances(queries[start : start + _CHUNK], references)
        if exclude_self:
            rows = np.arange(len(d))
            d[rows, start + rows] = np.inf
        nearest = np.argpartition(d, k - 1, axis=1)[:, :k]
        order = np.take_along_axis(d, nearest, axis=1).argsort(axis=1, kind="stable")
        result[start : start + len(d)] = np.take_along_axis(nearest, order, axis=1)
    return result


def knn_accuracy(
    train_embeddings: np.ndarray,
    train_labels: np.ndarray,
    test_embeddings: np.ndarray,
    test_labels: np.ndarray,
    k: int = 5,
) -> float:
    """Fraction of test points whose majority label among the k nearest training points is right.

    Ties between labels go to the label of the nearest of the tied neighbours.
    """
    neighbours = train_labels[nearest_neighbours(test_embeddings, train_embeddings, k)]  # (Q, k)
    votes = (neighbours[:, :, None] == neighbours[:, None, :]).sum(
        axis=2
    )  # votes for each neighbour's label
    winner = neighbours[
        np.arange(len(neighbours)), votes.argmax(axis=1)
    ]  # argmax takes the nearest on ties
    return float((winner == test_labels).mean())


def precision_at_k(embeddings: np.ndarray, labels: np.ndarray, k: int = 9) -> float:
    """Mean over all queries of the fraction of their k nearest other points sharing their label."""
    neighbours = nearest_neighbours(embeddings, embeddings, k, exclude_self=True)
    return float((labels[neighbours] == labels[:, None]).mean())


def roc_auc(scores: np.ndarray, targets: np.ndarray) -> float:
    """Area under the ROC curve: the probability that a random positive outscores a random negative.

    Computed from ranks (the Mann-Whitney U statistic), ties counted as one half.
    """
    scores, targets = np.asarray(scores, dtype=np.float64), np.asarray(targets).astype(bool)
    positives, negatives = targets.sum(), (~targets).sum()
    if positives == 0 or negatives == 0:
        raise ValueError("roc_auc: needs at least one positive and one negative target")
    order = scores.argsort(kind="stable")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    # average rank for tied scores
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    average_rank = first + (counts + 1) / 2
    ranks[order] = np.repeat(average_rank, counts)
    return float((ranks[targets].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def accuracy_interval(correct: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval for an accuracy of correct / total."""
    if total <= 0:
        raise ValueError("accuracy_interval: total must be positive")
    p = correct / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * np.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return float(centre - half), float(centre + half)
