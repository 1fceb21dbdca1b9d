import numpy as np
import pytest
import torch

from benchmark.strategies import fedavg
from clients.client import Update


def _random_update(cid, n, rng, rank=4, d_in=6, d_out=5):
    return Update(
        cid,
        {
            "m.lora_A.weight": torch.tensor(rng.normal(size=(rank, d_in)), dtype=torch.float32),
            "m.lora_B.weight": torch.tensor(rng.normal(size=(d_out, rank)), dtype=torch.float32),
        },
        n,
    )


def test_fedavg_is_the_example_weighted_mean_of_every_tensor():
    rng = np.random.default_rng(0)
    updates = [_random_update(i, n, rng) for i, n in enumerate([10, 30, 60])]
    merged = fedavg(updates)
    for name in merged:
        expected = (
            0.1 * updates[0].tensors[name] + 0.3 * updates[1].tensors[name] + 0.6 * updates[2].tensors[name]
        )
        torch.testing.assert_close(merged[name], expected, rtol=1e-6, atol=1e-6)


def test_fedavg_of_identical_updates_is_that_update():
    rng = np.random.default_rng(1)
    u = _random_update(0, 5, rng)
    merged = fedavg([u, Update(1, dict(u.tensors), 50)])
    for name, t in u.tensors.items():
        torch.testing.assert_close(merged[name], t)


def test_fedavg_of_lora_factors_is_not_the_mean_of_products():
    """FedIT's known inexactness: mean(B) @ mean(A) != mean(B @ A) for differing clients."""
    rng = np.random.default_rng(2)
    updates = [_random_update(i, 1, rng) for i in range(3)]
    merged = fedavg(updates)
    product_of_means = merged["m.lora_B.weight"] @ merged["m.lora_A.weight"]
    mean_of_products = sum(u.tensors["m.lora_B.weight"] @ u.tensors["m.lora_A.weight"] for u in updates) / 3
    assert (product_of_means - mean_of_products).abs().max() > 0.1


def test_fedavg_rejects_mismatched_updates():
    rng = np.random.default_rng(3)
    a = _random_update(0, 1, rng)
    b = Update(1, {"other.weight": torch.zeros(1)}, 1)
    with pytest.raises(ValueError, match="client 1 sent other tensor names"):
        fedavg([a, b])
    with pytest.raises(ValueError, match="at least one update"):
        fedavg([])
