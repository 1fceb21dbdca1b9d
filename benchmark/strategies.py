"""Server-side aggregation strategies: pure maths on the updates clients send.

Notation. A LoRA'd module has a frozen base weight W (d_out, d_in) and factors A (r, d_in),
B (d_out, r); its effective weight is W + s * B @ A with the LoRA scaling s = alpha / r.
Clients send their adapter *values* after local training (not deltas); client k's weight is
p_k = n_k / sum(n) (examples) unless a rule says otherwise. Every rule works in float64 and
returns tensors in the global adapter's dtype.

A strategy returns the new global adapter, plus for some rules a dense `base_delta` the
runner adds to the frozen W (already multiplied by s) and per-client `client_state` that
clients keep between rounds. Adapter tensors that are not LoRA factors (e.g. trainable token
embeddings) are always trained and aggregated like FedAvg (or by the server optimiser /
robust rule / DP mechanism of the strategy).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from clients.client import Update
from clients.lora_tensors import (
    LORA_A,
    LORA_B,
    lora_factor,
    module_prefix,
    pad_to_rank,
    slice_to_rank,
    trained_tensors,
)

__all__ = [  # the adapter-tensor helpers are re-exported for callers of the strategies
    "LORA_A",
    "LORA_B",
    "AggregateResult",
    "Strategy",
    "StrategyConfig",
    "STRATEGIES",
    "aggregate",
    "client_rank",
    "fedavg",
    "lora_factor",
    "make_strategy",
    "module_prefix",
    "pad_to_rank",
    "slice_to_rank",
    "trained_tensors",
]


@dataclass
class StrategyConfig:
    server_lr: float = 1.0  # fedavgm / fedadam: step size applied to the aggregated delta
    momentum: float = 0.9  # fedavgm: server momentum
    beta1: float = 0.9  # fedadam: first-moment decay
    beta2: float = 0.99  # fedadam: second-moment decay
    tau: float = 1e-3  # fedadam: adaptivity (added to sqrt(v); v starts at tau^2)
    trim_ratio: float = 0.1  # trimmed-mean: fraction of clients cut at each end, per coordinate
    clip_norm: float = 0.0  # L2 bound on each client's delta over the whole adapter (0 = off)
    noise_multiplier: float = 1.0  # dp-fedavg: noise std / dp_clip
    dp_clip: float = 1.0  # dp-fedavg: L2 bound on each client's delta over the whole adapter
    dp_delta: float = 1e-5  # dp-fedavg: the delta of the reported (epsilon, delta)
    # LoRA rank per client id, cycled ([] = every client trains the adapter's full rank)
    client_ranks: list[int] = field(default_factory=list)


@dataclass
class AggregateResult:
    adapter: dict[str, torch.Tensor]  # the new global adapter (names and shapes of the old one)
    base_delta: dict[str, torch.Tensor] = field(default_factory=dict)  # module prefix -> dW to add to W
    client_state: dict[int, dict[str, torch.Tensor]] = field(default_factory=dict)  # kept by each client
    metrics: dict[str, float] = field(default_factory=dict)


def client_rank(client_ranks: Sequence[int], client_id: int, full_rank: int) -> int:
    """The LoRA rank client `client_id` trains: `client_ranks` cycled over client ids."""
    if not client_ranks:
        return full_rank
    rank = client_ranks[client_id % len(client_ranks)]
    if not 1 <= rank <= full_rank:
        raise ValueError(f"client {client_id}: rank {rank} is not in 1..{full_rank} (the adapter's rank)")
    return rank


def _lora_pairs(names) -> list[tuple[str, str, str]]:
    """(module prefix, A name, B name) for every LoRA'd module."""
    return [
        (module_prefix(a), a, f"{module_prefix(a)}.{LORA_B}.weight")
        for a in names
        if lora_factor(a) == LORA_A
    ]


def _full_rank(adapter: Mapping[str, torch.Tensor]) -> int:
    return max((t.shape[0] for name, t in adapter.items() if lora_factor(name) == LORA_A), default=0)


def _example_weights(updates: Sequence[Update]) -> list[float]:
    total = sum(u.num_examples for u in updates)
    return [u.num_examples / total for u in updates]


def _mean(
    clients: Sequence[Mapping[str, torch.Tensor]],
    weights: Sequence[float],
    names: Sequence[str] | None = None,
) -> dict[str, torch.Tensor]:
    return {
        name: sum(w * c[name] for c, w in zip(clients, weights))
        for name in (clients[0] if names is None else names)
    }


def _clip(
    reference: Mapping[str, torch.Tensor], tensors: dict[str, torch.Tensor], max_norm: float
) -> tuple[dict[str, torch.Tensor], bool]:
    """Scale the client's delta from `reference` (sliced to the client's shapes) down to L2
    norm `max_norm` over the whole adapter; return the clipped values and whether it clipped."""
    start = {name: reference[name][tuple(slice(n) for n in t.shape)] for name, t in tensors.items()}
    norm = math.sqrt(sum(float((t - start[name]).pow(2).sum()) for name, t in tensors.items()))
    if norm <= max_norm:
        return tensors, False
    factor = max_norm / norm
    return {name: start[name] + factor * (t - start[name]) for name, t in tensors.items()}, True


def fedavg(updates: Sequence[Update]) -> dict[str, torch.Tensor]:
    """FedAvg over every adapter tensor, weighted by each client's number of examples.

    For LoRA this averages A and B separately (FedIT): mean(B) @ mean(A) is in general not
    the mean of B_k @ A_k.
    """
    if not updates:
        raise ValueError("fedavg needs at least one update")
    names = updates[0].tensors.keys()
    for u in updates[1:]:
        if u.tensors.keys() != names:
            raise ValueError(
                f"client {u.client_id} sent other tensor names than client {updates[0].client_id}"
            )
    mean = _mean([{n: t.double() for n, t in u.tensors.items()} for u in updates], _example_weights(updates))
    return {name: t.to(updates[0].tensors[name].dtype) for name, t in mean.items()}


class Strategy:
    """What every rule shares: checking and clipping client updates, keeping frozen factors,
    casting back. Subclasses set `name`, `trains` (which factors clients train) and `_combine`
    (the rule). `aggregate` is a pure function of its inputs and the strategy's server state.
    """

    name: str
    trains = frozenset({LORA_A, LORA_B})
    stacks_ranks = False  # True: heterogeneous-rank factors are used as sent, not zero-padded

    def __init__(self, cfg: StrategyConfig, num_clients: int, sample_rate: float):
        self.cfg = cfg
        self.num_clients = num_clients
        self.sample_rate = sample_rate
        self.clip_norm = cfg.clip_norm

    def aggregate(
        self,
        global_adapter: Mapping[str, torch.Tensor],
        updates: Sequence[Update],
        round_num: int,
        scaling: float,
        rng: np.random.Generator,
    ) -> AggregateResult:
        if not updates:
            raise ValueError(f"{self.name} needs at least one update")
        old = {name: t.double() for name, t in global_adapter.items()}
        clients = [self._client_tensors(old, u) for u in updates]
        clipped = 0
        if self.clip_norm > 0:
            for k, tensors in enumerate(clients):
                clients[k], was_clipped = _clip(old, tensors, self.clip_norm)
                clipped += was_clipped
        result = self._combine(old, clients, _example_weights(updates), scaling, rng)
        for name, t in global_adapter.items():
            if lora_factor(name) not in self.trains | {None}:
                result.adapter[name] = t.clone()  # frozen factors stay bit-identical
        result.adapter = {name: result.adapter[name].to(t.dtype) for name, t in global_adapter.items()}
        dtype = next(iter(global_adapter.values())).dtype
        result.base_delta = {prefix: d.to(dtype) for prefix, d in result.base_delta.items()}
        if self.clip_norm > 0:
            result.metrics["clipped_clients"] = float(clipped)
        return result

    def _client_tensors(self, old: Mapping[str, torch.Tensor], update: Update) -> dict[str, torch.Tensor]:
        """The client's adapter in float64, checked against the global one at the client's rank;
        factors it does not train may be omitted (they are the global ones)."""
        rank = client_rank(self.cfg.client_ranks, update.client_id, _full_rank(old))
        expected = slice_to_rank(old, rank)
        extra = sorted(update.tensors.keys() - expected.keys())
        if extra:
            raise ValueError(f"client {update.client_id} sent tensors not in the global adapter: {extra[:3]}")
        tensors = {}
        for name, start in expected.items():
            trained = lora_factor(name) in self.trains | {None}
            if name not in update.tensors:
                if trained:
                    raise ValueError(
                        f"client {update.client_id} did not send {name}, which {self.name} trains"
                    )
                tensors[name] = start
                continue
            sent = update.tensors[name].double()
            if sent.shape != start.shape:
                raise ValueError(
                    f"client {update.client_id}: {name} has shape {tuple(sent.shape)}, "
                    f"expected {tuple(start.shape)} (rank {rank})"
                )
            if not trained and not torch.equal(sent, start):
                raise ValueError(f"client {update.client_id} changed {name}, which {self.name} keeps frozen")
            tensors[name] = sent
        return tensors if self.stacks_ranks else pad_to_rank(tensors, _full_rank(old))

    def _combine(
        self,
        old: dict[str, torch.Tensor],
        clients: list[dict[str, torch.Tensor]],
        weights: list[float],
        scaling: float,
        rng: np.random.Generator,
    ) -> AggregateResult:
        raise NotImplementedError

    def correction(self, client_id: int, start: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor] | None:
        """What the client adds to each local gradient (SCAFFOLD's c - c_i), keyed like the
        tensors of `start` it trains; None: nothing (every rule but scaffold)."""
        return None

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class FedAvg(Strategy):
    """FedAvg on LoRA (FedIT, arXiv 2305.05644): the example-weighted mean of A and of B
    separately (mean(B) @ mean(A) is not the mean of B_k @ A_k). With clip_norm > 0 each
    client's delta is clipped first."""

    name = "fedavg"

    def _combine(self, old, clients, weights, scaling, rng):
        return AggregateResult(_mean(clients, weights))


class FfaLora(FedAvg):
    """FFA-LoRA (arXiv 2403.12313): A stays frozen at its shared initialisation and clients
    train only B; as A is the same for everyone, mean(B_k) @ A == mean(B_k @ A) exactly."""

    name = "ffa-lora"
    trains = frozenset({LORA_B})


class FedExLora(Strategy):
    """FedEx-LoRA (arXiv 2410.09432): average A and B, and fold the residual
    s * (mean(B_k @ A_k) - mean(B) @ mean(A)) into the frozen weights, so that the global
    model is exactly the weighted mean of the client models."""

    name = "fedex-lora"

    def _combine(self, old, clients, weights, scaling, rng):
        adapter = _mean(clients, weights)
        base_delta = {}
        for prefix, a, b in _lora_pairs(old):
            mean_of_products = sum(w * c[b] @ c[a] for c, w in zip(clients, weights))
            base_delta[prefix] = scaling * (mean_of_products - adapter[b] @ adapter[a])
        return AggregateResult(adapter, base_delta)


class FLoRA(Strategy):
    """FLoRA (arXiv 2409.05976): stacking. vstack(A_k) and hstack(p_k B_k) multiply to
    sum_k p_k B_k @ A_k exactly, for any mix of client ranks. The product goes into the
    frozen weights and the adapter restarts from a fresh PEFT initialisation (A
    kaiming-uniform, B zero), so every client's next update is again its own B_k @ A_k."""

    name = "flora"
    stacks_ranks = True

    def _combine(self, old, clients, weights, scaling, rng):
        adapter = _mean(clients, weights, [n for n in old if lora_factor(n) is None])
        base_delta = {}
        for prefix, a, b in _lora_pairs(old):
            stacked_a = torch.cat([c[a] for c in clients], dim=0)
            stacked_b = torch.cat([w * c[b] for c, w in zip(clients, weights)], dim=1)
            base_delta[prefix] = scaling * stacked_b @ stacked_a
            # PEFT's kaiming_uniform_(a=sqrt(5)) on A: U(-1/sqrt(d_in), 1/sqrt(d_in)).
            bound = 1 / math.sqrt(old[a].shape[1])
            adapter[a] = torch.from_numpy(rng.uniform(-bound, bound, size=tuple(old[a].shape)))
            adapter[b] = torch.zeros_like(old[b])
        return AggregateResult(adapter, base_delta)


class FedSaLora(FedAvg):
    """FedSA-LoRA (arXiv 2410.01463): only A is shared (averaged); each client keeps its own
    B between rounds (`client_state`). The global adapter's B, used to evaluate the global
    model and to start clients that have no B of their own yet, is the weighted mean of B_k."""

    name = "fedsa-lora"

    def aggregate(self, global_adapter, updates, round_num, scaling, rng):
        result = super().aggregate(global_adapter, updates, round_num, scaling, rng)
        result.client_state = {
            u.client_id: {n: t.clone() for n, t in u.tensors.items() if lora_factor(n) == LORA_B}
            for u in updates
        }
        return result


class Scaffold(FedAvg):
    """SCAFFOLD (Karimireddy et al., ICML 2020, arXiv 1910.06378): controlled averaging. The
    server keeps a control variate c, each client its own c_i (both start at zero), one tensor
    per adapter tensor. Each local step is the optimiser's step followed by
    p <- p - lr * (c - c_i): the client's step moved towards the federation's mean step, so a
    client with a skewed shard drifts less and tensors its own data hardly touch (say, another
    script's token rows) move as the others' data move them. The client's new c_i is its mean
    uncorrected step per unit of lr over the round (the paper's option II; with AdamW in the
    units of Adam's normalised step, which keeps the correction on the scale of the step it
    corrects); c <- c + sum_k (c_k,new - c_k,old) / num_clients, so that c stays the mean of
    every client's c_i (clients not yet sampled count as zero). The adapter is averaged as in
    FedAvg. The server holds one c_i per client that has trained: an adapter's worth of float32
    each."""

    name = "scaffold"

    def __init__(self, cfg, num_clients, sample_rate):
        super().__init__(cfg, num_clients, sample_rate)
        self.control: dict[str, torch.Tensor] = {}  # c, float64
        self.client_controls: dict[int, dict[str, torch.Tensor]] = {}  # c_i, float32

    def correction(self, client_id, start):
        own = self.client_controls.get(client_id, {})
        out = {}
        for name, t in trained_tensors(start, self.trains).items():
            c = self.control.get(name, torch.zeros(t.shape, dtype=torch.float64))
            out[name] = (c - own[name].double() if name in own else c).float()
        return out

    def aggregate(self, global_adapter, updates, round_num, scaling, rng):
        expected = trained_tensors(global_adapter, self.trains)
        for u in updates:
            if sorted(u.controls) != sorted(expected):
                raise ValueError(
                    f"scaffold: client {u.client_id} sent control variates for {len(u.controls)} "
                    f"tensors, expected the {len(expected)} trained adapter tensors"
                )
        result = super().aggregate(global_adapter, updates, round_num, scaling, rng)
        for u in updates:
            old = self.client_controls.get(u.client_id, {})
            for name, new in u.controls.items():
                delta = new.double() - old[name].double() if name in old else new.double()
                self.control[name] = self.control.get(name, 0.0) + delta / self.num_clients
            self.client_controls[u.client_id] = {n: t.float().clone() for n, t in u.controls.items()}
        result.metrics["control_norm"] = math.sqrt(sum(float(c.pow(2).sum()) for c in self.control.values()))
        return result

    def state_dict(self):
        return {
            "control": {n: t.clone() for n, t in self.control.items()},
            "client_controls": {
                cid: {n: t.clone() for n, t in tensors.items()}
                for cid, tensors in self.client_controls.items()
            },
        }

    def load_state_dict(self, state):
        self.control = {n: t.clone() for n, t in state["control"].items()}
        self.client_controls = {
            int(cid): {n: t.clone() for n, t in tensors.items()}
            for cid, tensors in state["client_controls"].items()
        }


class FedAvgM(Strategy):
    """FedAvgM (Hsu et al. 2019, arXiv 1909.06335): server momentum on the averaged delta
    D = mean(client) - global: v <- momentum * v + D; global <- global + server_lr * v."""

    name = "fedavgm"

    def __init__(self, cfg, num_clients, sample_rate):
        super().__init__(cfg, num_clients, sample_rate)
        self.velocity: dict[str, torch.Tensor] = {}

    def _combine(self, old, clients, weights, scaling, rng):
        adapter = {}
        for name, mean in _mean(clients, weights).items():
            self.velocity[name] = self.cfg.momentum * self.velocity.get(name, 0.0) + (mean - old[name])
            adapter[name] = old[name] + self.cfg.server_lr * self.velocity[name]
        return AggregateResult(adapter)

    def state_dict(self):
        return {"velocity": {n: t.clone() for n, t in self.velocity.items()}}

    def load_state_dict(self, state):
        self.velocity = {n: t.clone() for n, t in state["velocity"].items()}


class FedAdam(Strategy):
    """FedAdam (Reddi et al. 2021, arXiv 2003.00295, Algorithm 2): Adam on the averaged delta D,
    without bias correction: m <- b1 m + (1-b1) D; v <- b2 v + (1-b2) D^2;
    global <- global + server_lr * m / (sqrt(v) + tau), with m starting at 0 and v at tau^2."""

    name = "fedadam"

    def __init__(self, cfg, num_clients, sample_rate):
        super().__init__(cfg, num_clients, sample_rate)
        self.m: dict[str, torch.Tensor] = {}
        self.v: dict[str, torch.Tensor] = {}

    def _combine(self, old, clients, weights, scaling, rng):
        cfg = self.cfg
        adapter = {}
        for name, mean in _mean(clients, weights).items():
            delta = mean - old[name]
            self.m[name] = cfg.beta1 * self.m.get(name, 0.0) + (1 - cfg.beta1) * delta
            self.v[name] = cfg.beta2 * self.v.get(name, cfg.tau**2) + (1 - cfg.beta2) * delta**2
            adapter[name] = old[name] + cfg.server_lr * self.m[name] / (self.v[name].sqrt() + cfg.tau)
        return AggregateResult(adapter)

    def state_dict(self):
        return {
            "m": {n: t.clone() for n, t in self.m.items()},
            "v": {n: t.clone() for n, t in self.v.items()},
        }

    def load_state_dict(self, state):
        self.m = {n: t.clone() for n, t in state["m"].items()}
        self.v = {n: t.clone() for n, t in state["v"].items()}


class TrimmedMean(Strategy):
    """Coordinate-wise trimmed mean (Yin et al. 2018, arXiv 1803.01498): per coordinate, drop
    the floor(trim_ratio * K) smallest and largest client values and average the rest.
    Unweighted: an example count is a claim a byzantine client could inflate."""

    name = "trimmed-mean"

    def _cut(self, num_clients: int) -> int:
        return math.floor(self.cfg.trim_ratio * num_clients + 1e-9)

    def _combine(self, old, clients, weights, scaling, rng):
        cut = self._cut(len(clients))
        adapter = {}
        for name in old:
            ordered = torch.stack([c[name] for c in clients]).sort(dim=0).values
            adapter[name] = ordered[cut : len(clients) - cut].mean(dim=0)
        return AggregateResult(adapter)


class Median(TrimmedMean):
    """Coordinate-wise median (Yin et al. 2018): the trimmed mean that keeps only the middle
    one (odd K) or two (even K, averaged) values."""

    name = "median"

    def _cut(self, num_clients: int) -> int:
        return (num_clients - 1) // 2


class DPFedAvg(Strategy):
    """DP-FedAvg (McMahan et al. 2018, arXiv 1710.06963), client-level DP: each client's delta
    is clipped to L2 norm dp_clip over the whole adapter; the deltas are summed with equal
    weights and divided by the expected number of sampled clients m = sample_rate *
    num_clients (the fixed-denominator estimator, whose sensitivity is dp_clip / m); Gaussian
    noise N(0, (noise_multiplier * dp_clip / m)^2) is added to every coordinate. Epsilon at
    dp_delta comes from opacus's RDP accountant for the sampled Gaussian mechanism."""

    name = "dp-fedavg"

    def __init__(self, cfg, num_clients, sample_rate):
        from opacus.accountants import RDPAccountant  # imported here: opacus takes seconds to import

        super().__init__(cfg, num_clients, sample_rate)
        self.clip_norm = cfg.dp_clip
        self.accountant = RDPAccountant()

    def _combine(self, old, clients, weights, scaling, rng):
        expected = self.sample_rate * self.num_clients
        std = self.cfg.noise_multiplier * self.cfg.dp_clip / expected
        adapter = {}
        for name, start in old.items():
            total_delta = sum(c[name] - start for c in clients)
            noise = torch.from_numpy(rng.normal(0.0, std, size=tuple(start.shape)))
            adapter[name] = start + total_delta / expected + noise
        self.accountant.step(noise_multiplier=self.cfg.noise_multiplier, sample_rate=self.sample_rate)
        # opacus warns when the best RDP order is at the edge of its grid: not the user's to fix.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Optimal order")
            epsilon = self.accountant.get_epsilon(self.cfg.dp_delta)
        return AggregateResult(adapter, metrics={"dp_epsilon": float(epsilon)})

    def state_dict(self):
        return {"accountant_history": [list(step) for step in self.accountant.history]}

    def load_state_dict(self, state):
        self.accountant.history = [tuple(step) for step in state["accountant_history"]]


_CLASSES = {
    cls.name: cls
    for cls in (
        FedAvg,
        FfaLora,
        FedExLora,
        FLoRA,
        FedSaLora,
        Scaffold,
        FedAvgM,
        FedAdam,
        Median,
        TrimmedMean,
        DPFedAvg,
    )
}
STRATEGIES: tuple[str, ...] = tuple(_CLASSES)


def _config_problems(cfg: StrategyConfig) -> list[str]:
    checks = [
        ("server_lr", cfg.server_lr > 0, "> 0"),
        ("momentum", 0 <= cfg.momentum < 1, "in [0, 1)"),
        ("beta1", 0 <= cfg.beta1 < 1, "in [0, 1)"),
        ("beta2", 0 <= cfg.beta2 < 1, "in [0, 1)"),
        ("tau", cfg.tau > 0, "> 0"),
        ("trim_ratio", 0 <= cfg.trim_ratio < 0.5, "in [0, 0.5)"),
        ("clip_norm", cfg.clip_norm >= 0, ">= 0"),
        ("noise_multiplier", cfg.noise_multiplier > 0, "> 0"),
        ("dp_clip", cfg.dp_clip > 0, "> 0"),
        ("dp_delta", 0 < cfg.dp_delta < 1, "in (0, 1)"),
        ("client_ranks", all(isinstance(r, int) and r >= 1 for r in cfg.client_ranks), "positive integers"),
    ]
    return [f"strategy.{key} must be {want}, got {getattr(cfg, key)!r}" for key, ok, want in checks if not ok]


def make_strategy(name: str, cfg: StrategyConfig, num_clients: int, sample_rate: float) -> Strategy:
    """The strategy `name`; `sample_rate` is the fraction of the `num_clients` sampled per round."""
    if name not in _CLASSES:
        hint = (
            " (FedProx is a client-side term: train.prox_mu, with any strategy)" if name == "fedprox" else ""
        )
        raise ValueError(f"unknown strategy {name!r}; available: {', '.join(STRATEGIES)}{hint}")
    problems = _config_problems(cfg)
    if name == Scaffold.name and cfg.client_ranks:
        problems.append("strategy.client_ranks: scaffold needs every client at the adapter's full rank")
    if num_clients < 1 or not 0 < sample_rate <= 1:
        problems.append(f"need num_clients >= 1 and 0 < sample_rate <= 1, got {num_clients}, {sample_rate}")
    if problems:
        raise ValueError("; ".join(problems))
    return _CLASSES[name](cfg, num_clients, sample_rate)


def aggregate(strategy: str, updates: Sequence[Update]) -> dict[str, torch.Tensor]:
    """Stateless convenience for the one rule that needs nothing but the updates (fedavg)."""
    if strategy == "fedavg":
        return fedavg(updates)
    if strategy in _CLASSES:
        raise ValueError(f"strategy {strategy!r} needs make_strategy(...).aggregate(global_adapter, ...)")
    raise ValueError(f"unknown strategy {strategy!r}; available: {', '.join(STRATEGIES)}")
