"""The simulated client: local LoRA training on a private shard -> an `Update`.

The `Update` is the privacy boundary: adapter tensors, an example count, whitelisted scalar
metrics and, for SCAFFOLD, the client's control variates (its mean local step per unit of
learning rate over the round, one tensor per adapter tensor). It cannot carry images, text or per-sample data.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import torch

from clients.faults import ClientCrash, FaultPlan
from clients.lora_tensors import LORA_A, LORA_B, lora_factor, slice_to_rank, trained_tensors

# The only metrics a client may report to the server (all scalars about training as a whole).
UPDATE_METRICS = frozenset({"train_loss", "local_steps", "seconds"})


@dataclass(frozen=True)
class Update:
    client_id: int
    tensors: Mapping[str, torch.Tensor]
    num_examples: int
    metrics: Mapping[str, float] = field(default_factory=dict)
    # SCAFFOLD: the client's new control variate per trained adapter tensor (float32); else empty
    controls: Mapping[str, torch.Tensor] = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.client_id, int) or isinstance(self.client_id, bool):
            raise TypeError(f"Update.client_id must be an int, got {type(self.client_id).__name__}")
        if not isinstance(self.num_examples, int) or self.num_examples <= 0:
            raise ValueError(f"Update.num_examples must be a positive int, got {self.num_examples!r}")
        for name, tensor in self.tensors.items():
            if not isinstance(name, str) or not isinstance(tensor, torch.Tensor):
                raise TypeError(f"Update.tensors[{name!r}] must be a torch.Tensor keyed by name")
        for name, tensor in self.controls.items():
            if not isinstance(name, str) or not isinstance(tensor, torch.Tensor):
                raise TypeError(f"Update.controls[{name!r}] must be a torch.Tensor keyed by name")
        for key, value in self.metrics.items():
            if key not in UPDATE_METRICS:
                raise ValueError(
                    f"Update metric {key!r} is not allowed across the privacy boundary; "
                    f"allowed: {', '.join(sorted(UPDATE_METRICS))}"
                )
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise TypeError(f"Update metric {key!r} must be a number, got {type(value).__name__}")
        object.__setattr__(self, "tensors", MappingProxyType(dict(self.tensors)))
        object.__setattr__(self, "metrics", MappingProxyType(dict(self.metrics)))
        object.__setattr__(self, "controls", MappingProxyType(dict(self.controls)))

    def nbytes(self) -> int:
        tensors = [*self.tensors.values(), *self.controls.values()]
        return sum(t.numel() * t.element_size() for t in tensors)


@dataclass
class Workspace:
    """What every client shares inside one process: the resident model and encoded data."""

    model: torch.nn.Module  # the PeftModel, wrapped once
    slots: object  # benchmark.adapters.AdapterSlots (duck-typed: read/write/params)
    backend: object  # benchmark.backends.Backend (training_batch)
    data: object  # benchmark.backends.Prepared: the pooled training rows
    features: object = None  # benchmark.feature_cache.FeatureCache of `data`, or None
    # Vocabulary ids of the characters of scripts the base cannot read (restricted softmax)
    new_tokens: frozenset[int] = frozenset()
    _lengths: np.ndarray | None = field(default=None, repr=False)

    @property
    def lengths(self) -> np.ndarray:
        """Transcription length (characters) of every pooled row, for length buckets."""
        if self._lengths is None:
            self._lengths = np.fromiter(
                (len(t) for t in self.data.texts), dtype=np.int32, count=len(self.data)
            )
        return self._lengths


@dataclass
class LocalTraining:
    steps: int
    batch_size: int
    lr: float
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    length_buckets: bool = True
    lr_schedule: str = "constant"  # constant | cosine (over rounds x steps)
    lr_final: float = 0.1  # cosine: the last step's lr as a fraction of lr
    rounds: int = 1  # rounds the schedule spans (this fit's round is one of them)
    # Restricted softmax (FedRS, Li & Zhan, KDD 2021): below 1, the logits of the new-script
    # characters (Workspace.new_tokens) that this client's transcriptions never use are
    # multiplied by fedrs_alpha in the local loss, so the client trains the others' new
    # characters down less (0: not at all). 1 = off.
    fedrs_alpha: float = 1.0
    # FedProx (Li et al., MLSys 2020): (prox_mu / 2) * ||w - w_start||^2 over the trained
    # tensors is added to the local loss, pulling the client towards the adapter it started
    # from. 0 = off.
    prox_mu: float = 0.0

    def lr_at(self, round_num: int, step: int) -> float:
        """The learning rate of local step `step` (from 0) in round `round_num` (from 1)."""
        if self.lr_schedule == "constant":
            return self.lr
        if self.lr_schedule != "cosine":
            raise ValueError(f"lr_schedule = {self.lr_schedule!r}: choose constant or cosine")
        total = max(self.rounds * self.steps - 1, 1)
        done = min((round_num - 1) * self.steps + step, total)
        return self.lr * (self.lr_final + (1 - self.lr_final) * 0.5 * (1 + math.cos(math.pi * done / total)))


BUCKET_WINDOW = 8  # batches sorted by length together


def batch_schedule(
    rng: np.random.Generator, shard: np.ndarray, lengths: np.ndarray, batch: int, steps: int, buckets: bool
) -> list[np.ndarray]:
    """The pooled rows of each local step's batch.

    Without buckets every step draws `batch` rows at random. With buckets each pass over the
    shard is a fresh permutation whose full batches are formed from windows of
    BUCKET_WINDOW batches sorted by length, then visited in random order.
    """
    if not buckets:
        return [shard[rng.choice(len(shard), size=batch, replace=False)] for _ in range(steps)]
    out: list[np.ndarray] = []
    usable = len(shard) // batch * batch
    while len(out) < steps:
        order = shard[rng.permutation(len(shard))[:usable]]
        epoch = []
        for start in range(0, usable, batch * BUCKET_WINDOW):
            window = order[start : start + batch * BUCKET_WINDOW]
            window = window[np.argsort(lengths[window], kind="stable")]
            epoch += [window[i : i + batch] for i in range(0, len(window), batch)]
        out += [epoch[i] for i in rng.permutation(len(epoch))]
    return out[:steps]


def _batches(ws: Workspace, schedule: list[np.ndarray]) -> Iterator[tuple[np.ndarray, dict]]:
    """(rows, model inputs) for each step. On CUDA the next batch is assembled in a worker
    thread while the GPU runs the current step. On a CPU the steps' own kernels use every core,
    and a second thread issuing torch ops only contends with them (measured on 2 cores: 145-190
    ms per step with the worker thread, 73 ms without), so batches are built in line there."""
    if getattr(ws.backend, "device", torch.device("cpu")).type != "cuda":
        for rows in schedule:
            yield rows, ws.backend.training_batch(ws.data, rows)
        return
    with ThreadPoolExecutor(max_workers=1) as loader:
        pending = loader.submit(ws.backend.training_batch, ws.data, schedule[0]) if schedule else None
        for step, rows in enumerate(schedule):
            batch = pending.result()
            if step + 1 < len(schedule):
                pending = loader.submit(ws.backend.training_batch, ws.data, schedule[step + 1])
            yield rows, batch


class _Restriction:
    """While training, the logits of the vocabulary entries in `blocked` are multiplied by
    `alpha` (FedRS): their share of the softmax, and the gradient that trains them down,
    shrinks (alpha 0: a logit of 0 and no gradient). A label id that turns up in a batch is
    unblocked before that batch runs."""

    def __init__(self, model: torch.nn.Module, blocked: set[int], alpha: float):
        head = model.get_output_embeddings()
        if head is None:
            raise ValueError("train.fedrs_alpha: the model has no output embedding to restrict")
        self.alpha = alpha
        self.blocked = set(blocked)
        self._scale: torch.Tensor | None = None
        self._handle = head.register_forward_hook(self._hook)

    def allow(self, labels: torch.Tensor) -> None:
        seen = self.blocked.intersection(labels[labels >= 0].unique().tolist())
        if seen:
            self.blocked -= seen
            self._scale = None

    def _hook(self, module, inputs, logits: torch.Tensor) -> torch.Tensor:
        size = logits.shape[-1]
        if self._scale is None or self._scale.shape[0] != size or self._scale.device != logits.device:
            scale = torch.ones(size)
            scale[[i for i in self.blocked if i < size]] = self.alpha
            self._scale = scale.to(logits.device)
        return logits * self._scale.to(logits.dtype)

    def remove(self) -> None:
        self._handle.remove()


class Client:
    """A client is its shard (row indices into the pool) and a seed; its model is borrowed."""

    def __init__(self, client_id: int, shard: np.ndarray, seed: int):
        if len(shard) == 0:
            raise ValueError(f"client {client_id} has an empty shard")
        self.client_id = client_id
        self.shard = np.asarray(shard)
        self.seed = seed
        self._vocabulary: set[int] | None = None

    def vocabulary(self, ws: Workspace) -> set[int]:
        """The vocabulary ids of this shard's transcriptions (no special tokens)."""
        if self._vocabulary is None:
            ids: set[int] = set()
            for row in self.shard:
                ids.update(ws.backend.token_ids(ws.data.texts[row]))
            self._vocabulary = ids
        return self._vocabulary

    def fit(
        self,
        ws: Workspace,
        global_state: Mapping[str, torch.Tensor],
        round_num: int,
        training: LocalTraining,
        faults: FaultPlan | None = None,
        trains: frozenset[str] = frozenset({LORA_A, LORA_B}),
        rank: int | None = None,
        correction: Mapping[str, torch.Tensor] | None = None,
    ) -> Update:
        """Train the adapter `global_state` on this shard for `training.steps` steps.

        Only LoRA factors of the kinds in `trains` (and non-LoRA adapter tensors) are stepped
        and sent. With `rank`, the client is a rank-`rank` client: `global_state` must be zero
        beyond that rank (so those rows and columns get no gradient) and it sends the sliced
        factors. Batches and dropout are seeded by (seed, round, client): a rerun gives the
        same update.

        With `correction` (SCAFFOLD's c - c_i per trained tensor), each local step is the
        optimiser's step d followed by p <- p - lr * (c - c_i), and the update carries the
        client's new control variate c_i: its mean uncorrected step per unit of learning rate,
        mean(d / lr), over the round. With plain SGD, d / lr is the gradient and this is the
        paper's algorithm (option II); with AdamW the control variates are in the units of
        Adam's normalised step, so that the correction is on the scale of the step it corrects.
        """
        start = time.perf_counter()
        ws.slots.write(dict(global_state))
        rng = np.random.default_rng([self.seed, round_num, self.client_id])
        torch.manual_seed(int(rng.integers(2**31)))  # dropout in the base, reproducibly
        named = {name: p for name, p in ws.slots.params.items() if lora_factor(name) in trains | {None}}
        params = list(named.values())
        anchor = {name: p.detach().clone() for name, p in named.items()} if training.prox_mu > 0 else {}
        step_sums = None
        if correction is not None:
            missing = sorted(named.keys() - correction.keys())
            if missing:
                raise ValueError(f"the SCAFFOLD correction lacks {missing[:3]}")
            step_sums = {
                name: torch.zeros(p.shape, dtype=torch.float32, device=p.device) for name, p in named.items()
            }
            correction = {name: correction[name].to(p.device, p.dtype) for name, p in named.items()}
        optimizer = torch.optim.AdamW(params, lr=training.lr, weight_decay=training.weight_decay)
        schedule = batch_schedule(
            rng,
            self.shard,
            ws.lengths,
            min(training.batch_size, len(self.shard)),
            training.steps,
            training.length_buckets,
        )
        ws.model.train()
        losses = []
        restriction = None
        if training.fedrs_alpha < 1:
            restriction = _Restriction(
                ws.model, set(ws.new_tokens) - self.vocabulary(ws), training.fedrs_alpha
            )
        try:
            for step, (rows, batch) in enumerate(_batches(ws, schedule)):
                if training.lr_schedule != "constant":
                    for group in optimizer.param_groups:
                        group["lr"] = training.lr_at(round_num, step)
                if faults is not None and faults.crash_at_step == step:
                    raise ClientCrash(f"client {self.client_id} crashed at local step {step} (injected)")
                if restriction is not None:
                    restriction.allow(batch["labels"])
                with ws.backend.autocast():
                    if ws.features is not None:
                        batch = ws.backend.with_features(batch, ws.features.outputs(rows))
                    loss = ws.model(**batch).loss
                objective = loss
                if anchor:
                    proximal = sum((p - anchor[name]).float().pow(2).sum() for name, p in named.items())
                    objective = loss + 0.5 * training.prox_mu * proximal
                optimizer.zero_grad(set_to_none=True)
                objective.backward()
                if training.max_grad_norm > 0:
                    torch.nn.utils.clip_grad_norm_(params, training.max_grad_norm)
                if step_sums is None:
                    optimizer.step()
                else:
                    before = [p.detach().clone() for p in params]
                    optimizer.step()
                    lr = optimizer.param_groups[0]["lr"]
                    with torch.no_grad():
                        for (name, p), old in zip(named.items(), before):
                            step_sums[name] += (old - p).float() / lr
                            p -= lr * correction[name]
                losses.append(loss.item())
        finally:
            ws.model.eval()
            if restriction is not None:
                restriction.remove()
        mean_loss = float(np.mean(losses)) if losses else math.nan
        tensors = trained_tensors(ws.slots.read(), trains)
        controls = {}
        if step_sums is not None:
            controls = {name: (d / max(len(losses), 1)).cpu() for name, d in step_sums.items()}
        if rank is not None:
            tensors = {name: t.clone() for name, t in slice_to_rank(tensors, rank).items()}
        if faults is not None and faults.nan:
            for t in tensors.values():
                t.view(-1)[0] = math.nan
        return Update(
            client_id=self.client_id,
            tensors=tensors,
            num_examples=len(self.shard),
            metrics={
                "train_loss": mean_loss,
                "local_steps": training.steps,
                "seconds": time.perf_counter() - start,
            },
            controls=controls,
        )
