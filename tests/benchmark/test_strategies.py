import io
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmark.strategies import (
    STRATEGIES,
    StrategyConfig,
    aggregate,
    fedavg,
    make_strategy,
    pad_to_rank,
    slice_to_rank,
    trained_tensors,
)
from clients.client import Update

PROPERTY = settings(max_examples=40, deadline=None, derandomize=True, database=None)

# Two LoRA'd modules of different shapes (to catch A/B pairing mistakes) and one tensor that
# is not a LoRA factor (trainable token embeddings).
Q = "base_model.model.encoder.layers.0.attention.q_proj"
FC = "base_model.model.decoder.layers.1.mlp.fc1"
TOKENS = "base_model.model.decoder.embed_tokens.token_adapter.trainable_tokens_delta"


def _random_update(cid, n, rng, rank=4, d_in=6, d_out=5):
    return Update(
        cid,
        {
            "m.lora_A.weight": torch.tensor(rng.normal(size=(rank, d_in)), dtype=torch.float32),
            "m.lora_B.weight": torch.tensor(rng.normal(size=(d_out, rank)), dtype=torch.float32),
        },
        n,
    )


def _tensor(rng, *shape):
    return torch.tensor(rng.normal(size=shape), dtype=torch.float32)


def _adapter(rng, rank, d_in, d_out):
    return {
        f"{Q}.lora_A.weight": _tensor(rng, rank, d_in),
        f"{Q}.lora_B.weight": _tensor(rng, d_out, rank),
        f"{FC}.lora_A.weight": _tensor(rng, rank, d_in + 1),
        f"{FC}.lora_B.weight": _tensor(rng, d_out + 2, rank),
        TOKENS: _tensor(rng, 3, d_in),
    }


@st.composite
def federations(draw, heterogeneous_ranks=False):
    """(global adapter, updates, client ranks, scaling): random adapters of rank 1..8 from
    1..6 clients with random example counts; client k has id k and rank ranks[k]."""
    rank = draw(st.integers(1, 8))
    d_in, d_out = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    num = draw(st.integers(1, 6))
    examples = draw(st.lists(st.integers(1, 100), min_size=num, max_size=num))
    ranks = draw(st.lists(st.integers(1, rank), min_size=num, max_size=num)) if heterogeneous_ranks else []
    scaling = draw(st.floats(0.25, 4.0))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    old = _adapter(rng, rank, d_in, d_out)
    updates = [
        Update(k, slice_to_rank(_adapter(rng, rank, d_in, d_out), ranks[k] if ranks else rank), n)
        for k, n in enumerate(examples)
    ]
    return old, updates, ranks, scaling


def _weights(updates):
    total = sum(u.num_examples for u in updates)
    return [u.num_examples / total for u in updates]


def _mean_of_products(old, updates, prefix, scaling):
    """s * sum_k p_k B_k @ A_k: the weighted mean of the clients' effective weight changes
    (a client that did not send A trained with the global one)."""
    a, b = f"{prefix}.lora_A.weight", f"{prefix}.lora_B.weight"
    return scaling * sum(
        p * u.tensors[b].double() @ u.tensors.get(a, old[a]).double()
        for u, p in zip(updates, _weights(updates))
    )


def _merged_update(result, prefix, scaling):
    """What the round changes in the module's weight on top of the frozen base W:
    base_delta + s * B_new @ A_new (new effective weight minus W)."""
    a, b = result.adapter[f"{prefix}.lora_A.weight"], result.adapter[f"{prefix}.lora_B.weight"]
    return result.base_delta.get(prefix, 0.0) + scaling * b.double() @ a.double()


def _run(name, old, updates, scaling=1.0, seed=0, cfg=None, num_clients=None, sample_rate=1.0):
    strategy = make_strategy(name, cfg or StrategyConfig(), num_clients or len(updates), sample_rate)
    return strategy.aggregate(old, updates, 1, scaling, np.random.default_rng(seed))


# Exact aggregation. Each client k ends its round with the effective weight W + s B_k A_k, so
# the exact global model is W + s * sum_k p_k B_k A_k. For fedex-lora, ffa-lora and flora the
# merged update base_delta + s * B_new A_new equals s * sum_k p_k B_k A_k (ffa-lora: base_delta
# is empty and A is the shared frozen A; flora: B_new is zero, so it is all base_delta).


@PROPERTY
@given(federations())
def test_fedex_lora_merged_update_is_the_weighted_mean_of_client_products(federation):
    old, updates, _, scaling = federation
    result = _run("fedex-lora", old, updates, scaling)
    for prefix in (Q, FC):
        torch.testing.assert_close(
            _merged_update(result, prefix, scaling),
            _mean_of_products(old, updates, prefix, scaling),
            rtol=1e-5,
            atol=1e-5,
        )
    # The adapter itself is FedAvg's.
    for name, t in fedavg(updates).items():
        torch.testing.assert_close(result.adapter[name], t)


@PROPERTY
@given(federations())
def test_ffa_lora_averaging_b_against_the_frozen_a_is_exact(federation):
    old, updates, _, scaling = federation
    # Clients train and send only B (and the non-LoRA tensors); A stays the global one.
    updates = [
        Update(u.client_id, trained_tensors(u.tensors, frozenset({"lora_B"})), u.num_examples)
        for u in updates
    ]
    result = _run("ffa-lora", old, updates, scaling)
    assert result.base_delta == {}
    for prefix in (Q, FC):
        assert torch.equal(result.adapter[f"{prefix}.lora_A.weight"], old[f"{prefix}.lora_A.weight"])
        torch.testing.assert_close(
            _merged_update(result, prefix, scaling),
            _mean_of_products(old, updates, prefix, scaling),
            rtol=1e-5,
            atol=1e-5,
        )


@PROPERTY
@given(federations(heterogeneous_ranks=True))
def test_flora_stacking_is_exact_for_heterogeneous_ranks(federation):
    old, updates, ranks, scaling = federation
    result = _run("flora", old, updates, scaling, cfg=StrategyConfig(client_ranks=ranks))
    for prefix in (Q, FC):
        torch.testing.assert_close(
            _merged_update(result, prefix, scaling),
            _mean_of_products(old, updates, prefix, scaling),
            rtol=1e-5,
            atol=1e-5,
        )
        assert not result.adapter[f"{prefix}.lora_B.weight"].any()  # fresh B: merged update is base_delta


@PROPERTY
@given(federations().filter(lambda f: len(f[1]) >= 2))
def test_fedavg_merged_update_differs_from_the_weighted_mean_of_client_products(federation):
    """FedIT's inexactness on the same inputs: s * mean(B) @ mean(A) misses the cross terms."""
    old, updates, _, scaling = federation
    result = _run("fedavg", old, updates, scaling)
    assert result.base_delta == {}
    for prefix in (Q, FC):
        gap = _merged_update(result, prefix, scaling) - _mean_of_products(old, updates, prefix, scaling)
        assert gap.abs().max() > 0


@pytest.mark.parametrize("name", ["fedex-lora", "flora"])
def test_applied_to_a_peft_model_the_global_model_is_the_mean_of_the_client_models(name):
    """Through PEFT itself: names from AdapterSlots, base_delta added to each LoRA layer's base
    weight, PEFT's own scaling; effective weight = base weight + PEFT's delta weight."""
    from peft import LoraConfig, get_peft_model

    from benchmark.adapters import AdapterSlots

    torch.manual_seed(0)
    base = torch.nn.Sequential()
    base.add_module("enc", torch.nn.Linear(5, 3))
    base.add_module("dec", torch.nn.Linear(3, 4))
    model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=["enc", "dec"]))
    slots = AdapterSlots(model)
    layers = {
        prefix: model.get_submodule(prefix) for prefix in ("base_model.model.enc", "base_model.model.dec")
    }

    def effective_weights():
        return {
            p: (m.get_base_layer().weight + m.get_delta_weight("default")).detach().clone()
            for p, m in layers.items()
        }

    old = slots.read()
    rng = np.random.default_rng(0)
    updates = []
    for k, n in enumerate([3, 1, 6]):
        tensors = {
            name: torch.tensor(rng.normal(size=t.shape), dtype=torch.float32) for name, t in old.items()
        }
        updates.append(Update(k, tensors, n))
    client_weights = []
    for u in updates:
        slots.write(dict(u.tensors))
        client_weights.append(effective_weights())
    result = _run(name, old, updates, scaling=layers["base_model.model.enc"].scaling["default"])
    with torch.no_grad():
        for prefix, delta in result.base_delta.items():
            layers[prefix].get_base_layer().weight += delta
    slots.write(result.adapter)
    merged = effective_weights()
    for prefix in layers:
        expected = sum(p * w[prefix] for p, w in zip([0.3, 0.1, 0.6], client_weights))
        torch.testing.assert_close(merged[prefix], expected, rtol=1e-5, atol=1e-5)


def test_flora_restarts_the_adapter_like_peft_init():
    rng = np.random.default_rng(0)
    old = _adapter(rng, 4, 5, 3)
    updates = [Update(k, _adapter(rng, 4, 5, 3), 1) for k in range(3)]
    first = _run("flora", old, updates, seed=1)
    again = _run("flora", old, updates, seed=1)
    other = _run("flora", old, updates, seed=2)
    for prefix, d_in in ((Q, 5), (FC, 6)):
        a = first.adapter[f"{prefix}.lora_A.weight"]
        assert a.shape == old[f"{prefix}.lora_A.weight"].shape and a.dtype == torch.float32
        assert a.abs().max() <= 1 / math.sqrt(d_in)  # kaiming_uniform_(a=sqrt(5)) bound
        assert a.std() > 0.3 / math.sqrt(d_in)
        assert torch.equal(a, again.adapter[f"{prefix}.lora_A.weight"])
        assert not torch.equal(a, other.adapter[f"{prefix}.lora_A.weight"])
    torch.testing.assert_close(first.adapter[TOKENS], fedavg(updates)[TOKENS])


def test_flora_rejects_a_client_that_did_not_train_its_configured_rank():
    rng = np.random.default_rng(0)
    old = _adapter(rng, 4, 5, 3)
    updates = [Update(0, slice_to_rank(_adapter(rng, 4, 5, 3), 3), 1)]
    with pytest.raises(
        ValueError, match=r"client 0: .*lora_A.weight has shape \(3, 5\), expected \(2, 5\) \(rank 2\)"
    ):
        _run("flora", old, updates, cfg=StrategyConfig(client_ranks=[2]))


def test_ffa_lora_rejects_a_client_that_changed_the_frozen_a():
    rng = np.random.default_rng(0)
    old = _adapter(rng, 2, 3, 3)
    changed = dict(old)
    changed[f"{Q}.lora_A.weight"] = old[f"{Q}.lora_A.weight"] + 1
    with pytest.raises(
        ValueError, match="client 7 changed .*q_proj.lora_A.weight, which ffa-lora keeps frozen"
    ):
        _run("ffa-lora", old, [Update(7, changed, 1)])
    unchanged = _run("ffa-lora", old, [Update(7, dict(old), 1)])  # sending A unchanged is fine
    assert unchanged.adapter.keys() == old.keys()
    assert make_strategy("ffa-lora", StrategyConfig(), 1, 1.0).trains == frozenset({"lora_B"})


def test_fedsa_lora_shares_a_and_each_client_keeps_its_b():
    rng = np.random.default_rng(0)
    old = _adapter(rng, 3, 4, 5)
    updates = [Update(k, _adapter(rng, 3, 4, 5), n) for k, n in ((4, 1), (9, 3))]
    result = _run("fedsa-lora", old, updates)
    mean = fedavg(updates)
    for name, t in mean.items():
        torch.testing.assert_close(result.adapter[name], t)  # A (shared); B: the global model's
    assert result.client_state.keys() == {4, 9}
    for u in updates:
        kept = result.client_state[u.client_id]
        assert kept.keys() == {f"{Q}.lora_B.weight", f"{FC}.lora_B.weight"}
        for name, t in kept.items():
            assert torch.equal(t, u.tensors[name])


def test_slice_and_pad_to_rank_keep_the_product():
    rng = np.random.default_rng(0)
    full = _adapter(rng, 6, 4, 5)
    low = slice_to_rank(full, 2)
    assert low[f"{Q}.lora_A.weight"].shape == (2, 4) and low[f"{Q}.lora_B.weight"].shape == (5, 2)
    assert torch.equal(low[TOKENS], full[TOKENS])
    padded = pad_to_rank(low, 6)
    for name, t in padded.items():
        assert t.shape == full[name].shape
        assert torch.equal(slice_to_rank(padded, 2)[name], low[name])
    product = padded[f"{Q}.lora_B.weight"] @ padded[f"{Q}.lora_A.weight"]
    torch.testing.assert_close(product, low[f"{Q}.lora_B.weight"] @ low[f"{Q}.lora_A.weight"])


def test_zero_padding_baseline_averages_lower_rank_clients_as_zeros():
    rng = np.random.default_rng(0)
    old = _adapter(rng, 2, 3, 3)
    updates = [Update(0, slice_to_rank(_adapter(rng, 2, 3, 3), 1), 1), Update(1, _adapter(rng, 2, 3, 3), 3)]
    result = _run("fedavg", old, updates, cfg=StrategyConfig(client_ranks=[1, 2]))
    a = f"{Q}.lora_A.weight"
    torch.testing.assert_close(
        result.adapter[a][0], 0.25 * updates[0].tensors[a][0] + 0.75 * updates[1].tensors[a][0]
    )
    torch.testing.assert_close(result.adapter[a][1], 0.75 * updates[1].tensors[a][1])


# Server optimisers: hand-computed two-round examples on one two-coordinate tensor.


def _two_rounds(name, cfg):
    strategy = make_strategy(name, cfg, 2, 1.0)
    rng = np.random.default_rng(0)
    g0 = {"w": torch.tensor([0.0, 0.0])}
    g1 = strategy.aggregate(
        g0,
        [Update(0, {"w": torch.tensor([1.0, 2.0])}, 1), Update(1, {"w": torch.tensor([3.0, -2.0])}, 3)],
        1,
        1.0,
        rng,
    ).adapter
    return strategy, g1


def test_fedavgm_two_rounds_by_hand():
    cfg = StrategyConfig(server_lr=0.5, momentum=0.5)
    strategy, g1 = _two_rounds("fedavgm", cfg)
    # Round 1: D = 0.25*[1, 2] + 0.75*[3, -2] = [2.5, -1]; v = D; w = 0.5 v.
    torch.testing.assert_close(g1["w"], torch.tensor([1.25, -0.5]))
    # Round 2: mean = [1.75, 0] so D = [0.5, 0.5]; v = 0.5*[2.5, -1] + D = [1.75, 0]; w += 0.5 v.
    clients = [
        Update(0, {"w": torch.tensor([2.25, -0.5])}, 1),
        Update(1, {"w": torch.tensor([1.25, 0.5])}, 1),
    ]
    g2 = strategy.aggregate(g1, clients, 2, 1.0, np.random.default_rng(0)).adapter
    torch.testing.assert_close(g2["w"], torch.tensor([2.125, -0.5]))


def test_fedavgm_without_momentum_at_unit_rate_is_fedavg():
    rng = np.random.default_rng(0)
    old = _adapter(rng, 2, 3, 3)
    updates = [Update(k, _adapter(rng, 2, 3, 3), k + 1) for k in range(3)]
    result = _run("fedavgm", old, updates, cfg=StrategyConfig(server_lr=1.0, momentum=0.0))
    for name, t in fedavg(updates).items():
        torch.testing.assert_close(result.adapter[name], t)


def test_fedadam_two_rounds_by_hand():
    cfg = StrategyConfig(server_lr=1.0, beta1=0.5, beta2=0.75, tau=1.0)
    strategy = make_strategy("fedadam", cfg, 2, 1.0)
    g0 = {"w": torch.tensor([0.0, 0.0])}
    same = [Update(0, {"w": torch.tensor([1.0, -1.0])}, 1), Update(1, {"w": torch.tensor([1.0, -1.0])}, 2)]
    g1 = strategy.aggregate(g0, same, 1, 1.0, np.random.default_rng(0)).adapter
    # Round 1: D = [1, -1]; m = 0.5 D = [0.5, -0.5]; v = 0.75 tau^2 + 0.25 D^2 = [1, 1];
    # w = m / (sqrt(v) + tau) = [0.25, -0.25].
    torch.testing.assert_close(g1["w"], torch.tensor([0.25, -0.25]))
    # Round 2: D = [2, 0]; m = 0.5 m + 0.5 D = [1.25, -0.25]; v = 0.75 v + 0.25 D^2 = [1.75, 0.75].
    clients = [Update(0, {"w": torch.tensor([2.25, -0.25])}, 1)]
    g2 = strategy.aggregate(g1, clients, 2, 1.0, np.random.default_rng(0)).adapter
    expected = [0.25 + 1.25 / (math.sqrt(1.75) + 1), -0.25 - 0.25 / (math.sqrt(0.75) + 1)]
    torch.testing.assert_close(g2["w"], torch.tensor(expected))


def _with_controls(update, rng):
    return Update(
        update.client_id,
        update.tensors,
        update.num_examples,
        controls={n: _tensor(rng, *t.shape) for n, t in update.tensors.items()},
    )


def test_scaffold_two_rounds_by_hand():
    old = {"w": torch.tensor([1.0, -1.0])}
    strategy = make_strategy("scaffold", StrategyConfig(), 4, 0.5)
    assert torch.equal(strategy.correction(3, old)["w"], torch.zeros(2))  # c and c_i start at zero
    round1 = [
        Update(0, {"w": torch.tensor([2.0, 0.0])}, 1, controls={"w": torch.tensor([4.0, 0.0])}),
        Update(2, {"w": torch.tensor([0.0, 2.0])}, 3, controls={"w": torch.tensor([0.0, 8.0])}),
    ]
    r1 = strategy.aggregate(old, round1, 1, 1.0, np.random.default_rng(0))
    torch.testing.assert_close(r1.adapter["w"], torch.tensor([0.5, 1.5]))  # FedAvg by examples
    # c = (c_0 + c_2) / 4 clients; each client's correction is c - c_i
    torch.testing.assert_close(strategy.control["w"], torch.tensor([1.0, 2.0], dtype=torch.float64))
    torch.testing.assert_close(strategy.correction(0, old)["w"], torch.tensor([-3.0, 2.0]))
    torch.testing.assert_close(strategy.correction(1, old)["w"], torch.tensor([1.0, 2.0]))
    assert r1.metrics["control_norm"] == pytest.approx(math.sqrt(5))
    round2 = [Update(0, {"w": torch.tensor([1.0, 1.0])}, 1, controls={"w": torch.tensor([0.0, 4.0])})]
    strategy.aggregate(r1.adapter, round2, 2, 1.0, np.random.default_rng(0))
    # client 0's control moved by (-4, 4): c moves by a quarter of that
    torch.testing.assert_close(strategy.control["w"], torch.tensor([0.0, 3.0], dtype=torch.float64))
    torch.testing.assert_close(strategy.correction(0, old)["w"], torch.tensor([0.0, -1.0]))
    with pytest.raises(ValueError, match="client 5 sent control variates for 0 tensors"):
        strategy.aggregate(
            r1.adapter, [Update(5, {"w": torch.zeros(2)}, 1)], 3, 1.0, np.random.default_rng(0)
        )
    torch.testing.assert_close(strategy.control["w"], torch.tensor([0.0, 3.0], dtype=torch.float64))


@pytest.mark.parametrize("name", ["fedavgm", "fedadam", "dp-fedavg", "scaffold"])
def test_state_dict_round_trip_gives_the_identical_next_aggregate(name):
    rng = np.random.default_rng(0)
    old = _adapter(rng, 2, 3, 3)
    round1 = [_with_controls(Update(k, _adapter(rng, 2, 3, 3), k + 1), rng) for k in range(2)]
    round2 = [_with_controls(Update(k, _adapter(rng, 2, 3, 3), k + 1), rng) for k in range(2)]
    cfg = StrategyConfig(dp_clip=5.0, noise_multiplier=0.5)
    running = make_strategy(name, cfg, 4, 0.5)
    g1 = running.aggregate(old, round1, 1, 2.0, np.random.default_rng(1)).adapter
    saved = io.BytesIO()
    torch.save(running.state_dict(), saved)
    saved.seek(0)
    resumed = make_strategy(name, cfg, 4, 0.5)
    resumed.load_state_dict(torch.load(saved))
    expected = running.aggregate(g1, round2, 2, 2.0, np.random.default_rng(2))
    got = resumed.aggregate(g1, round2, 2, 2.0, np.random.default_rng(2))
    for n, t in expected.adapter.items():
        assert torch.equal(got.adapter[n], t)
    assert got.metrics == expected.metrics
    for cid in range(3):
        want, have = running.correction(cid, g1), resumed.correction(cid, g1)
        assert (want is None) == (have is None)
        if want is not None:
            assert all(torch.equal(have[n], t) for n, t in want.items())


# Robust aggregation.


def _honest_and_outlier(rng, num_honest=4):
    old = {"w": torch.zeros(50)}
    honest = [Update(k, {"w": 1.0 + 0.1 * _tensor(rng, 50)}, 10) for k in range(num_honest)]
    return old, honest, Update(num_honest, {"w": torch.full((50,), 1e6)}, 10)


@pytest.mark.parametrize("name", ["median", "trimmed-mean"])
def test_robust_rules_ignore_one_outlier_client(name):
    old, honest, outlier = _honest_and_outlier(np.random.default_rng(0))
    stacked = torch.stack([u.tensors["w"] for u in honest])
    result = _run(name, old, [*honest, outlier], cfg=StrategyConfig(trim_ratio=0.2))
    w = result.adapter["w"]
    assert torch.all(w >= stacked.min(dim=0).values) and torch.all(w <= stacked.max(dim=0).values)
    assert _run("fedavg", old, [*honest, outlier]).adapter["w"].min() > 1e5  # the mean is dragged away


def test_median_and_trimmed_mean_values():
    old = {"w": torch.zeros(1)}
    updates = [Update(k, {"w": torch.tensor([float(v)])}, 1) for k, v in enumerate([4, 1, 3, 2])]
    assert _run("median", old, updates).adapter["w"].item() == 2.5
    updates = [Update(k, {"w": torch.tensor([float(v)])}, 1) for k, v in enumerate([100, 1, 3, 10, 2])]
    assert _run("median", old, updates).adapter["w"].item() == 3.0
    updates = [
        Update(k, {"w": torch.tensor([float(v)])}, 1) for k, v in enumerate([8, 1, 7, 2, 6, 3, 5, 100])
    ]
    # trim_ratio 0.25 of 8 clients: cut 2 at each end -> mean(3, 5, 6, 7).
    assert _run("trimmed-mean", old, updates, cfg=StrategyConfig(trim_ratio=0.25)).adapter["w"].item() == 5.25


@pytest.mark.parametrize("name", ["fedavg", "fedex-lora", "trimmed-mean"])
def test_clip_norm_bounds_each_client_contribution(name):
    rng = np.random.default_rng(0)
    old = _adapter(rng, 2, 3, 3)
    small = {n: t + 0.01 for n, t in old.items()}  # delta norm well below the bound
    huge = {n: t + 100.0 for n, t in old.items()}
    updates = [Update(0, small, 1), Update(1, small, 1), Update(2, huge, 2)]
    result = _run(name, old, updates, cfg=StrategyConfig(clip_norm=0.5))
    delta_norm = math.sqrt(
        sum(float((result.adapter[n].double() - t.double()).pow(2).sum()) for n, t in old.items())
    )
    assert delta_norm <= 0.5 + 1e-5  # a mean of deltas each at most 0.5 long
    assert result.metrics["clipped_clients"] == 1.0
    if name == "fedavg":  # the huge client (weight 1/2) counts exactly as a delta of norm 0.5
        small_norm = 0.01 * math.sqrt(sum(t.numel() for t in old.values()))
        assert delta_norm == pytest.approx(0.5 * 0.5 + 0.5 * small_norm, rel=1e-4)


# DP-FedAvg.


def test_dp_fedavg_noise_std_matches_the_configured_multiplier():
    cfg = StrategyConfig(noise_multiplier=1.3, dp_clip=0.7)
    old = {"w": torch.zeros(200_000)}
    updates = [Update(k, dict(old), 1) for k in range(4)]  # zero deltas: the aggregate is pure noise
    result = _run("dp-fedavg", old, updates, cfg=cfg, num_clients=8, sample_rate=0.5)
    noise = result.adapter["w"].double()
    expected_std = 1.3 * 0.7 / 4  # 4 clients sampled in expectation (8 * 0.5)
    n = noise.numel()
    # Standard errors for Gaussian samples: mean sigma/sqrt(n), std sigma/sqrt(2n); allow 5 of each.
    assert abs(noise.mean().item()) < 5 * expected_std / math.sqrt(n)
    assert abs(noise.std().item() - expected_std) < 5 * expected_std / math.sqrt(2 * n)


def test_dp_fedavg_clips_each_delta_to_dp_clip():
    cfg = StrategyConfig(noise_multiplier=1e-9, dp_clip=2.0)  # noise negligible here
    old = {"w": torch.zeros(8)}
    direction = torch.arange(8.0) / torch.arange(8.0).norm()
    big = Update(0, {"w": 50.0 * direction}, 1)
    small = Update(1, {"w": 0.5 * direction}, 1000)  # example counts do not weigh under DP
    result = _run("dp-fedavg", old, [big, small], cfg=cfg)
    torch.testing.assert_close(result.adapter["w"], (2.0 + 0.5) / 2 * direction)
    assert result.metrics["clipped_clients"] == 1.0


def test_dp_fedavg_divides_by_the_expected_number_of_sampled_clients():
    """The fixed-denominator estimator: a round where fewer clients report is not rescaled (the
    sensitivity to one client stays dp_clip / expected)."""
    cfg = StrategyConfig(noise_multiplier=1e-9, dp_clip=10.0)
    old = {"w": torch.zeros(3)}
    delta = torch.tensor([1.0, -2.0, 0.5])
    result = _run("dp-fedavg", old, [Update(0, {"w": delta}, 1)], cfg=cfg, num_clients=4, sample_rate=0.5)
    torch.testing.assert_close(result.adapter["w"], delta / 2)


def _rdp_sampled_gaussian(q, sigma, order):
    """Mironov, Talwar & Zhang 2019 (arXiv 1908.10530), integer order: RDP of the Poisson-
    sampled Gaussian mechanism = log(sum_k C(a,k) (1-q)^(a-k) q^k exp((k^2-k)/(2 sigma^2)))/(a-1)."""
    logs = [
        math.log(math.comb(order, k))
        + (order - k) * math.log1p(-q)
        + k * math.log(q)
        + (k * k - k) / (2 * sigma**2)
        for k in range(order + 1)
    ]
    top = max(logs)
    return (top + math.log(sum(math.exp(x - top) for x in logs))) / (order - 1)


def test_dp_fedavg_reports_the_epsilon_of_the_sampled_gaussian_mechanism():
    cfg = StrategyConfig(noise_multiplier=1.0, dp_clip=1.0, dp_delta=1e-5)
    strategy = make_strategy("dp-fedavg", cfg, num_clients=8, sample_rate=0.25)
    rng = np.random.default_rng(0)
    old = {"w": torch.zeros(3)}
    orders = range(2, 64)
    epsilons = []
    for round_num in (1, 2, 3):
        updates = [Update(k, {"w": _tensor(rng, 3)}, 1) for k in range(2)]
        result = strategy.aggregate(old, updates, round_num, 1.0, rng)
        old = result.adapter
        epsilons.append(result.metrics["dp_epsilon"])
        # Independent check: RDP composes additively over rounds; converted to (eps, delta) with
        # Balle et al. 2020 (arXiv 1905.09982, Thm 21). The accountant also tries fractional
        # orders, so it may be slightly tighter than the integer orders alone.
        by_integer_orders = min(
            round_num * _rdp_sampled_gaussian(0.25, 1.0, a)
            + math.log((a - 1) / a)
            - (math.log(1e-5) + math.log(a)) / (a - 1)
            for a in orders
        )
        assert 0.95 * by_integer_orders <= epsilons[-1] <= by_integer_orders + 1e-9
    assert epsilons[0] < epsilons[1] < epsilons[2]


# Construction and the stateless convenience.


def test_make_strategy_names_the_known_strategies_and_bad_settings():
    assert set(STRATEGIES) == {
        "fedavg",
        "ffa-lora",
        "fedex-lora",
        "flora",
        "fedsa-lora",
        "scaffold",
        "fedavgm",
        "fedadam",
        "median",
        "trimmed-mean",
        "dp-fedavg",
    }
    with pytest.raises(ValueError, match="unknown strategy 'fedsgd'; available: fedavg, ffa-lora"):
        make_strategy("fedsgd", StrategyConfig(), 4, 1.0)
    with pytest.raises(ValueError, match="FedProx is a client-side term: train.prox_mu"):
        make_strategy("fedprox", StrategyConfig(), 4, 1.0)
    with pytest.raises(ValueError, match=r"strategy.trim_ratio must be in \[0, 0.5\), got 0.5"):
        make_strategy("trimmed-mean", StrategyConfig(trim_ratio=0.5), 4, 1.0)
    with pytest.raises(ValueError, match="strategy.client_ranks must be positive integers"):
        make_strategy("flora", StrategyConfig(client_ranks=[4, 0]), 4, 1.0)
    with pytest.raises(ValueError, match="rank 9 is not in 1..4"):
        rng = np.random.default_rng(0)
        _run(
            "flora",
            _adapter(rng, 4, 2, 2),
            [Update(0, _adapter(rng, 4, 2, 2), 1)],
            cfg=StrategyConfig(client_ranks=[9]),
        )
    with pytest.raises(ValueError, match="needs make_strategy"):
        aggregate("flora", [])


# The stateless fedavg() convenience.


def test_fedavg_is_the_example_weighted_mean_of_every_tensor():
    rng = np.random.default_rng(0)
    updates = [_random_update(i, n, rng) for i, n in enumerate([10, 30, 60])]
    merged = fedavg(updates)
    for name in merged:
        expected = (
            0.1 * updates[0].tensors[name] + 0.3 * updates[1].tensors[name] + 0.6 * updates[2].tensors[name]
        )
        torch.testing.assert_close(merged[name], expected, rtol=1e-6, atol=1e-6)
    assert aggregate("fedavg", updates).keys() == merged.keys()


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
