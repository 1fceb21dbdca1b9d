"""The vision-feature cache: the frozen vision tower runs once per image, not once per step.

When LoRA leaves the vision tower untouched (no trainable parameter in it), the tower has no
active dropout and training applies no image augmentation, the tower's output for an image
is the same in every step, round and client. The cache keeps it per row of an encoded
dataset (the shared training pool, each test set), filled on first use, up to a byte cap
shared by all caches of a run; rows beyond the cap are encoded on the fly as before.
"""

from __future__ import annotations

import numpy as np
import torch


class CacheBudget:
    """Bytes the caches of one run may hold together."""

    def __init__(self, cap_bytes: int):
        self.cap = cap_bytes
        self.used = 0

    def take(self, nbytes: int) -> bool:
        if self.used + nbytes > self.cap:
            return False
        self.used += nbytes
        return True


class FeatureCache:
    """Vision-tower outputs for the rows of one encoded dataset."""

    def __init__(self, backend, model: torch.nn.Module, budget: CacheBudget):
        self.backend = backend
        self.model = model
        self.budget = budget
        self.rows: dict[int, torch.Tensor] = {}
        self.hits = 0
        self.misses = 0

    def features(self, rows: np.ndarray, pixels: torch.Tensor) -> torch.Tensor:
        """Tower outputs for `rows`, whose images are `pixels` (aligned with rows)."""
        rows = [int(r) for r in rows]
        missing = [i for i, r in enumerate(rows) if r not in self.rows]
        fresh = {}
        if missing:
            with torch.no_grad(), self.backend.autocast():
                out = self.backend.encode_images(self.model, pixels[missing])
            for j, i in enumerate(missing):
                fresh[rows[i]] = out[j]
                if self.budget.take(out[j].numel() * out[j].element_size()):
                    self.rows[rows[i]] = out[j].clone()  # not a view: the batch may be freed
        self.misses += len(missing)
        self.hits += len(rows) - len(missing)
        return torch.stack([self.rows[r] if r in self.rows else fresh[r] for r in rows])

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.rows.values())


def cache_blocker(backend, model: torch.nn.Module) -> str | None:
    """Why the vision tower's outputs cannot be cached for this model, or None if they can."""
    tower = backend.vision_tower(model)
    if tower is None:
        return f"the {backend.name} backend does not expose its vision tower"
    trained = [n for n, p in tower.named_parameters() if p.requires_grad]
    if trained:
        return f"LoRA adapts the vision tower ({len(trained)} trainable tensors, e.g. {trained[0]})"
    for name, module in tower.named_modules():
        if isinstance(module, torch.nn.Dropout) and module.p > 0:
            return f"the vision tower has active dropout ({name}, p={module.p})"
    for key in ("attention_probs_dropout_prob", "hidden_dropout_prob", "dropout"):
        if float(getattr(getattr(tower, "config", None), key, 0.0) or 0.0) > 0:
            return f"the vision tower has dropout ({key} > 0)"
    return None


def make_caches(cfg, backend, model: torch.nn.Module, tests: dict):
    """(the training pool's cache or None, {test set: cache}, a line saying what was decided)."""
    if cfg.train.feature_cache == "off":
        return None, {}, "vision-feature cache: off (train.feature_cache = 'off')"
    blocker = cache_blocker(backend, model)
    if blocker:
        return None, {}, f"vision-feature cache: off, {blocker}"
    budget = CacheBudget(int(cfg.train.feature_cache_mb * 2**20))
    line = f"vision-feature cache: on (frozen vision tower), up to {cfg.train.feature_cache_mb:g} MB"
    return (
        FeatureCache(backend, model, budget),
        {n: FeatureCache(backend, model, budget) for n in tests},
        line,
    )


def report(pool_cache: FeatureCache | None, test_caches: dict) -> dict:
    """Hit/miss counts and bytes held, for run.json."""
    caches = ([pool_cache] if pool_cache else []) + list(test_caches.values())
    if not caches:
        return {"enabled": False}
    return {
        "enabled": True,
        "rows_cached": sum(len(c.rows) for c in caches),
        "megabytes": round(sum(c.nbytes for c in caches) / 2**20, 1),
        "hits": sum(c.hits for c in caches),
        "misses": sum(c.misses for c in caches),
    }
