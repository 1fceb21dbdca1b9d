import numpy as np
import pytest

from clients.partition import dirichlet_partition, iid_partition, language_counts, natural_partition

LABELS = ["fa"] * 300 + ["ru"] * 200 + ["hi"] * 100 + ["en"] * 400


def _assert_disjoint_cover(shards, n):
    joined = np.concatenate(shards)
    assert len(joined) == n and len(np.unique(joined)) == n


def test_iid_sizes_differ_by_at_most_one():
    shards = iid_partition(1000, 7, np.random.default_rng(0))
    _assert_disjoint_cover(shards, 1000)
    sizes = [len(s) for s in shards]
    assert max(sizes) - min(sizes) <= 1


def test_natural_gives_each_client_one_language():
    shards = natural_partition(LABELS, 8, np.random.default_rng(0))
    _assert_disjoint_cover(shards, len(LABELS))
    for counts in language_counts(LABELS, shards):
        assert len(counts) == 1
    fewer = natural_partition(LABELS, 2, np.random.default_rng(0))
    _assert_disjoint_cover(fewer, len(LABELS))
    assert [sorted(c) for c in language_counts(LABELS, fewer)] == [["en", "hi"], ["fa", "ru"]]


def _mean_top_share(shards):
    shares = [max(c.values()) / sum(c.values()) for c in language_counts(LABELS, shards)]
    return float(np.mean(shares))


def test_dirichlet_skew_grows_as_alpha_shrinks():
    skewed = [
        _mean_top_share(dirichlet_partition(LABELS, 10, 0.1, np.random.default_rng(s), 5)) for s in range(5)
    ]
    even = [
        _mean_top_share(dirichlet_partition(LABELS, 10, 100.0, np.random.default_rng(s), 5)) for s in range(5)
    ]
    # With alpha=100 every client's mix is close to the pool's (en = 40%).
    assert np.mean(even) < 0.5
    assert np.mean(skewed) > 0.75
    for s in range(3):
        shards = dirichlet_partition(LABELS, 10, 0.1, np.random.default_rng(s), 5)
        _assert_disjoint_cover(shards, len(LABELS))
        assert min(len(x) for x in shards) >= 5


def test_dirichlet_is_deterministic_for_a_seed():
    a = dirichlet_partition(LABELS, 5, 0.5, np.random.default_rng(42))
    b = dirichlet_partition(LABELS, 5, 0.5, np.random.default_rng(42))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_impossible_requests_are_clear_errors():
    with pytest.raises(ValueError, match="cannot split 3 rows among 5 clients"):
        iid_partition(3, 5, np.random.default_rng(0))
    with pytest.raises(ValueError, match="at least 200 rows each"):
        dirichlet_partition(LABELS, 10, 0.5, np.random.default_rng(0), min_size=200)
