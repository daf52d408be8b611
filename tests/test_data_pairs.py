"""PairSampler: the pair rules of the reference, reproducibility, resumable state, bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinysiam.experiments.data.pairs import CrossPairSampler, PairSampler, all_pairs


def _labelled(counts: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Images whose single pixel is their own index, and labels 0,0,..,1,1,.. with these counts."""
    labels = np.repeat(np.arange(len(counts)), counts)
    return np.arange(len(labels), dtype=np.float32).reshape(-1, 1, 1, 1), labels


def _check_pairs(i1, i2, y, labels) -> None:
    similar = y == 1
    assert np.all(i1[similar] != i2[similar])  # two different images ...
    assert np.all(labels[i1[similar]] == labels[i2[similar]])  # ... of one class
    assert np.all(labels[i1[~similar]] != labels[i2[~similar]])  # two classes


def test_half_the_pairs_are_similar_and_every_pair_follows_the_rules():
    images, labels = _labelled([2, 5, 30, 1, 12, 7])
    i1, i2, y = PairSampler(images, labels, seed=3).sample_indices(20_000)
    assert y.dtype == np.float32 and set(np.unique(y).tolist()) == {0.0, 1.0}
    assert abs(y.mean() - 0.5) < 0.03
    _check_pairs(i1, i2, y, labels)
    assert not np.any(np.isin(i1[y == 1], np.flatnonzero(labels == 3)))  # the 1-image class
    # Classes are picked uniformly, as in the reference: the 2-image class gives ~1/5 of the
    # similar pairs (5 classes have two images), the 30-image class no more than that.
    per_class = np.bincount(labels[i1[y == 1]], minlength=6) / (y == 1).sum()
    np.testing.assert_allclose(per_class[[0, 1, 2, 4, 5]], 0.2, atol=0.02)


def test_sample_indexes_images_with_the_drawn_indices():
    images, labels = _labelled([4, 4, 4])
    x1, x2, y = PairSampler(images, labels, seed=0).sample(50)
    i1, i2, y_again = PairSampler(images, labels, seed=0).sample_indices(50)
    assert x1.shape == (50, 1, 1, 1) and x1.dtype == images.dtype
    np.testing.assert_array_equal(x1[:, 0, 0, 0], i1)
    np.testing.assert_array_equal(x2[:, 0, 0, 0], i2)
    np.testing.assert_array_equal(y, y_again)


def test_same_seed_same_pairs_and_other_seed_other_pairs():
    images, labels = _labelled([6, 6, 6, 6])
    a = PairSampler(images, labels, seed=7).sample_indices(200)
    b = PairSampler(images, labels, seed=7).sample_indices(200)
    c = PairSampler(images, labels, seed=8).sample_indices(200)
    for x, z in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, z)
    assert not np.array_equal(a[0], c[0])


def test_state_dict_resumes_the_exact_sequence():
    images, labels = _labelled([5, 5, 5])
    sampler = PairSampler(images, labels, seed=1)
    sampler.sample_indices(30)
    state = sampler.state_dict()
    expected = sampler.sample_indices(40)
    fresh = PairSampler(images, labels, seed=999)
    fresh.load_state_dict(state)
    for x, z in zip(expected, fresh.sample_indices(40), strict=True):
        np.testing.assert_array_equal(x, z)
    with pytest.raises(ValueError, match="'rng'"):
        fresh.load_state_dict({})


@settings(max_examples=30, deadline=None)
@given(
    labels=st.lists(st.sampled_from(["a", "b", "c", "dd", "é"]), min_size=3, max_size=40).filter(
        lambda ls: len(set(ls)) >= 2 and max(ls.count(v) for v in set(ls)) >= 2
    ),
    seed=st.integers(0, 2**32 - 1),
)
def test_string_labels_any_mix(labels, seed):
    labels = np.array(labels)
    i1, i2, y = PairSampler(np.arange(len(labels)), labels, seed=seed).sample_indices(300)
    _check_pairs(i1, i2, y, labels)
    assert 0.3 < y.mean() < 0.7


def test_within_group_dissimilar_pairs_share_a_group():
    # 3 alphabets: A has classes 0-2, B has 3-4, C has only class 5 (it can never mix).
    images, labels = _labelled([3, 4, 3, 5, 2, 6])
    alphabet = np.array(["A", "A", "A", "B", "B", "C"])[labels]
    sampler = PairSampler(images, labels, seed=0, groups=alphabet, within_group=True)
    i1, i2, y = sampler.sample_indices(5000)
    _check_pairs(i1, i2, y, labels)
    dissimilar = y == 0
    assert np.all(alphabet[i1[dissimilar]] == alphabet[i2[dissimilar]])
    assert not np.any(labels[i1[dissimilar]] == 5)
    assert np.any(labels[i1[y == 1]] == 5)  # class 5 still gives similar pairs
    # Without within_group the same groups are ignored and pairs cross alphabets.
    i1, i2, y = PairSampler(images, labels, seed=0, groups=alphabet).sample_indices(5000)
    assert np.any(alphabet[i1[y == 0]] != alphabet[i2[y == 0]])


@pytest.mark.parametrize(
    "labels, kwargs, message",
    [
        (np.zeros(4), {}, "at least 2 classes"),
        (np.arange(4), {}, "at least 2 images"),
        (np.array([0, 0, 1]), {}, "one label per image"),
        (np.zeros((4, 1)), {}, "1-D"),
        (np.array([0, 0, 1, 1]), dict(within_group=True), "needs groups"),
        (np.array([0, 0, 1, 1]), dict(within_group=True, groups=[0, 0, 1]), "shape"),
        (np.array([0, 0, 1, 1]), dict(within_group=True, groups=[0, 1, 1, 1]), "one group"),
        (np.array([0, 0, 1, 1]), dict(within_group=True, groups=[0, 0, 1, 1]), "2 classes"),
    ],
)
def test_bad_input_raises(labels, kwargs, message):
    images = np.zeros((4, 1))
    with pytest.raises(ValueError, match=message):
        PairSampler(images, labels, **kwargs)


@pytest.mark.parametrize(
    "n, error", [(0, ValueError), (-1, ValueError), (1.5, TypeError), (None, TypeError)]
)
def test_bad_n_raises(n, error):
    with pytest.raises(error, match="n must be a positive int"):
        PairSampler(*_labelled([2, 2])).sample_indices(n)


@given(
    counts=st.lists(st.integers(1, 12), min_size=2, max_size=6),
    per_class=st.integers(2, 5),
    seed=st.integers(0, 99),
)
@settings(max_examples=40, deadline=None)
def test_class_batch_takes_per_class_distinct_images_of_each_class_that_has_them(
    counts, per_class, seed
):
    images, labels = _labelled([c + 1 for c in counts])  # every class has >= 2 images
    eligible = [k for k, c in enumerate(counts) if c + 1 >= per_class]
    sampler = PairSampler(images, labels, seed=seed)
    if len(eligible) < 2:
        with pytest.raises(ValueError, match="fewer than 2 classes have that many images"):
            sampler.sample_class_batch(per_class)
        return
    batch = sampler.sample_class_batch(per_class)
    assert len(np.unique(batch)) == len(batch) == per_class * len(eligible)  # no image twice
    assert np.array_equal(
        np.bincount(labels[batch], minlength=len(counts))[eligible], [per_class] * len(eligible)
    )


def test_class_batch_follows_the_seed_and_the_state():
    images, labels = _labelled([20, 20, 20])
    a, b = PairSampler(images, labels, seed=1), PairSampler(images, labels, seed=1)
    assert np.array_equal(a.sample_class_batch(5), b.sample_class_batch(5))
    state = a.state_dict()
    first = a.sample_class_batch(5)
    a.load_state_dict(state)
    assert np.array_equal(a.sample_class_batch(5), first)
    assert not np.array_equal(first, PairSampler(images, labels, seed=2).sample_class_batch(5))


@pytest.mark.parametrize(
    "per_class, error", [(1, ValueError), (0, ValueError), (2.0, TypeError), (True, TypeError)]
)
def test_class_batch_bad_per_class_raises(per_class, error):
    images, labels = _labelled([4, 4])
    with pytest.raises(error, match="per_class must be an int >= 2"):
        PairSampler(images, labels).sample_class_batch(per_class)


@given(labels=st.lists(st.integers(0, 3), min_size=2, max_size=30))
@settings(max_examples=60, deadline=None)
def test_all_pairs_lists_each_pair_once_with_its_label_and_balanced_weights(labels):
    labels = np.array(labels)
    i, j, y, weight = all_pairs(labels)
    b = len(labels)
    assert len(i) == b * (b - 1) // 2 and np.all(i < j)
    assert len({(a, c) for a, c in zip(i, j, strict=True)}) == len(i)
    np.testing.assert_array_equal(y, (labels[i] == labels[j]).astype(np.float32))
    assert y.dtype == weight.dtype == np.float32
    np.testing.assert_allclose(weight.sum(), 1.0, rtol=1e-5)
    for kind in (0, 1):
        chosen = weight[y == kind]
        if 0 < len(chosen) < len(y):  # both kinds present: half the weight each, shared equally
            np.testing.assert_allclose(chosen.sum(), 0.5, rtol=1e-5)
        np.testing.assert_allclose(chosen, chosen[:1].repeat(len(chosen)))


def test_all_pairs_needs_two_labels():
    with pytest.raises(ValueError, match="at least 2 entries"):
        all_pairs(np.array([3]))


# ----- batches taken group by group ------------------------------------------------------------
@given(
    per_group_counts=st.lists(st.integers(1, 6), min_size=2, max_size=5),
    classes=st.integers(1, 20),
    per_group=st.integers(1, 4),
    seed=st.integers(0, 99),
)
@settings(max_examples=40, deadline=None)
def test_group_batch_takes_two_images_of_classes_chosen_group_by_group(
    per_group_counts, classes, per_group, seed
):
    group_of_class = np.repeat(np.arange(len(per_group_counts)), per_group_counts)
    images, labels = _labelled([3] * len(group_of_class))
    groups = group_of_class[labels]
    batch = PairSampler(images, labels, seed=seed, groups=groups).sample_group_batch(
        classes, per_group
    )
    k = len(batch) // 2
    assert len(batch) == 2 * k and 1 <= k <= min(classes, len(group_of_class))
    first, second = batch[0::2], batch[1::2]
    assert np.all(labels[first] == labels[second]) and np.all(first != second)
    assert len(np.unique(labels[first])) == k  # each class once
    taken = np.bincount(groups[first], minlength=len(per_group_counts))
    assert np.all(taken <= per_group)  # at most per_group classes of a group
    if k < classes:  # stopped early only because every group gave what it could
        np.testing.assert_array_equal(taken, np.minimum(per_group_counts, per_group))


def test_group_batch_follows_the_seed_and_the_state_and_needs_groups():
    images, labels = _labelled([4] * 12)
    groups = (labels // 3).astype(int)
    a = PairSampler(images, labels, seed=5, groups=groups)
    b = PairSampler(images, labels, seed=5, groups=groups)
    assert np.array_equal(a.sample_group_batch(6, 2), b.sample_group_batch(6, 2))
    state = a.state_dict()
    first = a.sample_group_batch(6, 2)
    a.load_state_dict(state)
    assert np.array_equal(a.sample_group_batch(6, 2), first)
    with pytest.raises(ValueError, match="groups="):
        PairSampler(images, labels, seed=5).sample_group_batch(6)


def test_groups_alone_leave_the_random_pairs_unchanged():
    images, labels = _labelled([4, 5, 6, 3])
    groups = np.array([0, 0, 1, 1])[labels]
    plain = PairSampler(images, labels, seed=2).sample_indices(100)
    grouped = PairSampler(images, labels, seed=2, groups=groups).sample_indices(100)
    for x, z in zip(plain, grouped, strict=True):
        np.testing.assert_array_equal(x, z)


# ----- pairs across two sets of images ---------------------------------------------------------
def test_cross_pairs_follow_the_rules():
    first = np.repeat(np.arange(4), [10, 3, 7, 5])
    second = np.repeat(np.arange(4), [2, 9, 4, 6])
    i, j, y = CrossPairSampler(first, second, seed=1).sample_indices(20_000)
    assert y.dtype == np.float32 and abs(y.mean() - 0.5) < 0.03
    assert i.min() >= 0 and i.max() < len(first) and j.min() >= 0 and j.max() < len(second)
    np.testing.assert_array_equal(first[i] == second[j], y == 1)
    # the first image uniformly over its set; the other class uniformly over the 3 others
    np.testing.assert_allclose(np.bincount(i, minlength=25) / len(i), 1 / 25, atol=0.01)
    other = second[j[y == 0]]
    shift = (other - first[i[y == 0]]) % 4
    np.testing.assert_allclose(np.bincount(shift, minlength=4)[1:] / len(shift), 1 / 3, atol=0.02)


def test_cross_pairs_take_any_labels_follow_the_seed_and_resume():
    first, second = np.array(["b", "a", "b", "c"]), np.array(["a", "c", "b", "b", "c", "d"])
    pairs = CrossPairSampler(first, second, seed=4)
    i, j, y = pairs.sample_indices(500)
    np.testing.assert_array_equal(first[i] == second[j], y == 1)
    state = pairs.state_dict()
    expected = pairs.sample_indices(50)
    again = CrossPairSampler(first, second, seed=99)
    again.load_state_dict(state)
    for x, z in zip(expected, again.sample_indices(50), strict=True):
        np.testing.assert_array_equal(x, z)


@pytest.mark.parametrize(
    "first, second, message",
    [
        ([0, 1, 2], [0, 0, 1, 1], "partner image; none for \\[2\\]"),
        ([0, 0], [0, 0], "at least 2 classes"),
        ([], [0, 1], "not empty"),
        ([[0, 1]], [0, 1], "1-D"),
    ],
)
def test_cross_pairs_bad_input_raises(first, second, message):
    with pytest.raises(ValueError, match=message):
        CrossPairSampler(first, second)
