"""Probes on synthetic data with a known answer."""

import numpy as np
import pytest

from mlpot.analysis.probes import held_out_split, knn_r2, linear_probe_r2


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_linear_probe_finds_a_linear_target(rng):
    features = rng.normal(size=(200, 6)) * [1, 10, 0.1, 1, 1, 1]
    target = features @ np.array([0.5, -0.02, 3.0, 0.0, 1.0, 0.0]) + 7.0
    train, test = held_out_split(200, 0.5, seed=1)
    r2 = linear_probe_r2(features[train], target[train], features[test], target[test])
    assert r2 > 0.999


def test_linear_probe_finds_nothing_in_unrelated_features(rng):
    features = rng.normal(size=(200, 6))
    target = rng.normal(size=200)
    train, test = held_out_split(200, 0.5, seed=1)
    r2 = linear_probe_r2(features[train], target[train], features[test], target[test])
    assert r2 < 0.1


def test_knn_reads_a_smooth_function_of_the_embedding(rng):
    embedding = rng.uniform(-2, 2, size=(400, 2))
    target = np.sin(embedding[:, 0]) + 0.5 * embedding[:, 1] ** 2
    train, test = held_out_split(400, 0.25, seed=2)
    r2 = knn_r2(embedding[train], target[train], embedding[test], target[test], k=5)
    assert r2 > 0.95
    # A linear probe cannot read the quadratic part.
    linear = linear_probe_r2(
        embedding[train], target[train], embedding[test], target[test]
    )
    assert linear < r2 - 0.2


def test_knn_finds_nothing_in_noise(rng):
    embedding = rng.normal(size=(300, 2))
    target = rng.normal(size=300)
    train, test = held_out_split(300, 0.5, seed=0)
    assert knn_r2(embedding[train], target[train], embedding[test], target[test]) < 0.1


def test_knn_with_more_neighbours_than_points_uses_them_all():
    embedding = np.arange(6.0).reshape(3, 2)
    r2 = knn_r2(embedding, [1.0, 2.0, 3.0], [[0.0, 0.0], [9.0, 9.0]], [2.0, 2.5], k=10)
    # Predicting the mean 2.0 for both test points.
    assert r2 == pytest.approx(1 - (0.0 + 0.25) / 0.125)
    with pytest.raises(ValueError, match="k must be at least 1"):
        knn_r2(embedding, [1.0, 2.0, 3.0], embedding, [1.0, 2.0, 3.0], k=0)


def test_held_out_split_is_disjoint_complete_and_seeded():
    train, test = held_out_split(20, 0.3, seed=5)
    assert len(test) == 6 and len(train) == 14
    assert sorted([*train, *test]) == list(range(20))
    again = held_out_split(20, 0.3, seed=5)
    np.testing.assert_array_equal(test, again[1])
    assert not np.array_equal(test, held_out_split(20, 0.3, seed=6)[1])
    with pytest.raises(ValueError, match="fewer than 2"):
        held_out_split(3, 0.5)
    with pytest.raises(ValueError, match=r"in \(0, 1\)"):
        held_out_split(10, 1.0)
