"""The vision-feature cache: the frozen part of the vision tower runs once per image, not once
per step.

When LoRA leaves the vision tower untouched (no trainable parameter in it), the tower has no
active dropout and training applies no image augmentation, the tower's output for an image
is the same in every step, round and client: the cache keeps it. When LoRA adapts only the
upper blocks of a tower the backend can split (`Backend.tower_blocks`), the embeddings and the
blocks below the lowest adapted one are that frozen part: the cache keeps their output and the
adapted blocks run on it in every step. Either way the cache holds one entry per row of an
encoded dataset (the shared training pool, each test set), filled on first use, up to a byte
cap shared by all caches of a run; rows beyond the cap are encoded on the fly as before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


class CacheBudget:
    """Bytes the caches of one run may hold together."""

    def __init__(self, cap_bytes: int):
        self.cap = cap_bytes
        self.used = 0
        self.full = False  # set by the first refusal

    def take(self, nbytes: int) -> bool:
        if self.used + nbytes > self.cap:
            self.full = True
            return False
        self.used += nbytes
        return True


@dataclass(frozen=True)
class CachePlan:
    """What the cache keeps: the whole tower's output (`depth` None) or the hidden state after
    the embeddings and the first `depth` of `blocks` blocks."""

    depth: int | None = None
    blocks: int = 0

    def describe(self) -> str:
        if self.depth is None:
            return "frozen vision tower"
        below = f"blocks 0-{self.depth - 1}" if self.depth > 1 else "block 0" if self.depth else "no block"
        return (
            f"frozen prefix of the vision tower: embeddings and {below} of {self.blocks}; "
            f"LoRA-adapted blocks {self.depth}-{self.blocks - 1} run every step"
        )


def _blocks(size: int, groups: list[np.ndarray] | None, block: int) -> tuple[list[np.ndarray], np.ndarray]:
    """The encoding blocks (runs of `block` rows, in row order, within each group; rows in no
    group form trailing blocks of their own) and each row's block index."""
    groups = [np.arange(size)] if groups is None else [np.sort(np.asarray(g, dtype=np.int64)) for g in groups]
    seen = np.zeros(size, dtype=bool)
    for g in groups:
        outside = g[(g < 0) | (g >= size)]
        if len(outside):
            raise ValueError(f"feature cache: a group names row {int(outside[0])}, outside the {size} rows")
        if seen[g].any():
            raise ValueError("feature cache: groups overlap (a row would belong to two blocks)")
        seen[g] = True
    groups.append(np.flatnonzero(~seen))
    blocks = [g[i : i + block] for g in groups for i in range(0, len(g), block)]
    block_of = np.empty(size, dtype=np.int64)
    for i, rows in enumerate(blocks):
        block_of[rows] = i
    return blocks, block_of


class FeatureCache:
    """Frozen vision-tower outputs (whole or prefix, as `plan` says) for the rows of one
    encoded dataset (`data`).

    Rows are encoded in fixed blocks, whatever batch asks for them first: consecutive runs of
    16 rows within each of `groups` (for the training pool, the clients' shards; by default the
    whole dataset, i.e. rows 0-15, 16-31, ...), always as a batch of 16 (a shorter block is
    padded with its last row). A row's cached value is then the same in every run, so a resumed
    run is bit-identical to an uninterrupted one (kernels may round differently for other batch
    shapes), and a client's first batch encodes blocks of its own shard only: with 1000
    clients of which a few are sampled, only their rows are encoded and kept. Once the byte
    cap is reached, missing rows are encoded with the batch that asks for them, as without a
    cache (bit-identical resume then holds up to the cap).
    """

    BLOCK = 16

    def __init__(
        self,
        backend,
        model: torch.nn.Module,
        budget: CacheBudget,
        data,
        plan: CachePlan = CachePlan(),
        groups: list[np.ndarray] | None = None,
    ):
        self.backend = backend
        self.model = model
        self.budget = budget
        self.data = data
        self.plan = plan
        self._blocks, self._block_of = _blocks(len(data.texts), groups, self.BLOCK)
        self.rows: dict[int, torch.Tensor] = {}
        self.hits = 0
        self.misses = 0

    def features(self, rows: np.ndarray) -> torch.Tensor:
        """What the cache keeps for `rows` of its dataset."""
        rows = [int(r) for r in rows]
        missing = {r for r in rows if r not in self.rows}
        fresh = {}
        for block in sorted({int(self._block_of[r]) for r in missing}):
            if self.budget.full:
                break
            block_rows = self._blocks[block]
            # Always a batch of BLOCK images (a short block repeats its last row), the shape in
            # which a training batch of 16 runs the tower without the cache.
            pad = np.full(self.BLOCK - len(block_rows), block_rows[-1])
            out = self._encode(np.concatenate([block_rows, pad]))
            for j, r in enumerate(block_rows.tolist()):
                if r in self.rows:
                    continue
                if self.budget.take(out[j].numel() * out[j].element_size()):
                    self.rows[r] = out[j].clone()  # not a view: the batch may be freed
                elif r in missing:
                    fresh[r] = out[j]
        rest = [r for r in dict.fromkeys(rows) if r in missing and r not in self.rows and r not in fresh]
        if rest:  # beyond the cap: encoded for this batch only
            fresh.update(zip(rest, self._encode(np.asarray(rest))))
        self.misses += sum(r in missing for r in rows)
        self.hits += sum(r not in missing for r in rows)
        return torch.stack([self.rows[r] if r in self.rows else fresh[r] for r in rows])

    def _encode(self, rows: np.ndarray) -> torch.Tensor:
        with torch.no_grad(), self.backend.autocast():
            pixels = self.backend.image_batch(self.data, rows)
            return self.backend.encode_images(self.model, pixels, self.plan.depth)

    def outputs(self, rows: np.ndarray) -> torch.Tensor:
        """The vision tower's outputs for `rows`: cached, with the adapted blocks (if any) run
        on top under the caller's grad mode and autocast."""
        kept = self.features(rows)
        if self.plan.depth is None:
            return kept
        return self.backend.finish_tower(self.model, kept, self.plan.depth)

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.rows.values())


def _dropout_blocker(modules, config) -> str | None:
    for name, module in modules:
        if isinstance(module, torch.nn.Dropout) and module.p > 0:
            return f"the vision tower has active dropout ({name}, p={module.p})"
    for key in ("attention_probs_dropout_prob", "hidden_dropout_prob", "dropout"):
        if float(getattr(config, key, 0.0) or 0.0) > 0:
            return f"the vision tower has dropout ({key} > 0)"
    return None


def cache_plan(backend, model: torch.nn.Module) -> tuple[CachePlan | None, str | None]:
    """(what the cache can keep for this model, or None and why it cannot run)."""
    tower = backend.vision_tower(model)
    if tower is None:
        return None, f"the {backend.name} backend does not expose its vision tower"
    trained = [n for n, p in tower.named_parameters() if p.requires_grad]
    config = getattr(tower, "config", None)
    if not trained:
        blocker = _dropout_blocker(tower.named_modules(), config)
        return (None, blocker) if blocker else (CachePlan(), None)
    why = f"LoRA adapts the vision tower ({len(trained)} trainable tensors, e.g. {trained[0]})"
    blocks = backend.tower_blocks(model)
    if not blocks:
        return None, why
    adapted = [i for i, b in enumerate(blocks) if any(p.requires_grad for p in b.parameters())]
    depth = adapted[0] if adapted else len(blocks)
    in_blocks = {id(p) for b in blocks[depth:] for p in b.parameters()}
    tail = {id(p) for n, p in tower.named_parameters() if n.startswith("layernorm.")}
    outside = [n for n, p in tower.named_parameters() if p.requires_grad and id(p) not in in_blocks | tail]
    if outside:
        return None, f"{why}, outside its adapted blocks ({outside[0]})"
    live = {id(m) for b in blocks[depth:] for m in b.modules()}
    prefix = [(n, m) for n, m in tower.named_modules() if id(m) not in live]
    blocker = _dropout_blocker(prefix, config)
    if blocker:
        return None, blocker
    return CachePlan(depth, len(blocks)), None


def cache_blocker(backend, model: torch.nn.Module) -> str | None:
    """Why no part of the vision tower's outputs can be cached for this model, or None."""
    return cache_plan(backend, model)[1]


def make_caches(
    cfg, backend, model: torch.nn.Module, pool, tests: dict, shards: list[np.ndarray] | None = None
):
    """(the training pool's cache or None, {test set: cache}, a line saying what was decided).
    `shards` (the clients' rows of the pool) group the pool's encoding blocks."""
    if cfg.train.feature_cache == "off":
        return None, {}, "vision-feature cache: off (train.feature_cache = 'off')"
    plan, blocker = cache_plan(backend, model)
    if blocker:
        return None, {}, f"vision-feature cache: off, {blocker}"
    budget = CacheBudget(int(cfg.train.feature_cache_mb * 2**20))
    line = f"vision-feature cache: on ({plan.describe()}), up to {cfg.train.feature_cache_mb:g} MB"
    return (
        FeatureCache(backend, model, budget, pool, plan, shards),
        {n: FeatureCache(backend, model, budget, data, plan) for n, data in tests.items()},
        line,
    )


def report(pool_cache: FeatureCache | None, test_caches: dict) -> dict:
    """Hit/miss counts and bytes held, for run.json."""
    caches = ([pool_cache] if pool_cache else []) + list(test_caches.values())
    if not caches:
        return {"enabled": False}
    plan = caches[0].plan
    return {
        "enabled": True,
        "keeps": "tower output" if plan.depth is None else f"after block {plan.depth} of {plan.blocks}",
        "rows_cached": sum(len(c.rows) for c in caches),
        "megabytes": round(sum(c.nbytes for c in caches) / 2**20, 1),
        "hits": sum(c.hits for c in caches),
        "misses": sum(c.misses for c in caches),
    }
