"""PairSampler: the pair rules of the reference, reproducibility, resumable state, bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinysiam.data.pairs import PairSampler, all_pairs


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
    for x, z in zip(a, b):
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
    for x, z in zip(expected, fresh.sample_indices(40)):
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


@pytest.mark.parametrize("n", [0, -1, 1.5, None])
def test_bad_n_raises(n):
    with pytest.raises(ValueError, match="n must be a positive int"):
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


@pytest.mark.parametrize("per_class", [1, 0, 2.0, True])
def test_class_batch_bad_per_class_raises(per_class):
    images, labels = _labelled([4, 4])
    with pytest.raises(ValueError, match="per_class must be an int >= 2"):
        PairSampler(images, labels).sample_class_batch(per_class)


@given(labels=st.lists(st.integers(0, 3), min_size=2, max_size=30))
@settings(max_examples=60, deadline=None)
def test_all_pairs_lists_each_pair_once_with_its_label_and_balanced_weights(labels):
    labels = np.array(labels)
    i, j, y, weight = all_pairs(labels)
    b = len(labels)
    assert len(i) == b * (b - 1) // 2 and np.all(i < j)
    assert len({(a, c) for a, c in zip(i, j)}) == len(i)
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
