"""How much a CER figure could move with other test lines: bootstrap intervals over lines.

A language's corpus CER is measured on a finite sample of test lines (100 in the default
benchmark). Resampling those lines with replacement and recomputing the corpus CER each time
(total edits / total reference characters of the resample) gives a percentile interval for
the figure, and resampling the *same* lines for two models (a paired bootstrap) gives one for
their ratio or difference, which is much tighter than two separate intervals would suggest.
The intervals cover the test-line sample only; what another seed (other shards, sampled
clients and batches) would change is measured by running seeds (`fedocr compare`).

Inputs are the rows of predictions/round_<r>.jsonl, which hold reference and prediction as
scored (after normalisation), so the point estimates equal metrics.jsonl's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rapidfuzz.distance import Levenshtein

RESAMPLES = 2000
LEVEL = 0.95
SEED = 0  # the resampling is seeded: a report rewritten from the same run shows the same intervals


def line_counts(rows: Sequence[dict]) -> dict[str, dict[str, tuple[int, int]]]:
    """{language: {line id: (character edits, reference characters)}} from prediction rows."""
    out: dict[str, dict[str, tuple[int, int]]] = {}
    for row in rows:
        ref, hyp = row["reference"], row["prediction"]
        out.setdefault(row["language"], {})[row["id"]] = (Levenshtein.distance(ref, hyp), len(ref))
    return out


def _indices(n: int, resamples: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def _interval(values: np.ndarray, level: float) -> tuple[float, float]:
    values = values[np.isfinite(values)]
    tail = 100 * (1 - level) / 2
    return float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail))


def cer_interval(
    counts: dict[str, tuple[int, int]], resamples: int = RESAMPLES, level: float = LEVEL, seed: int = SEED
) -> tuple[float, float] | None:
    """Percentile bootstrap interval of the corpus CER of one language's lines (None: no
    lines, or no reference characters)."""
    if not counts:
        return None
    edits, chars = (np.array(v, dtype=np.float64) for v in zip(*counts.values()))
    if chars.sum() == 0:
        return None
    idx = _indices(len(edits), resamples, seed)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _interval(edits[idx].sum(1) / chars[idx].sum(1), level)


Counts = dict[str, tuple[int, int]]


def _paired(a: Counts, b: Counts, statistic, defined, key: str, resamples: int, level: float, seed: int):
    """`statistic`(edits of a, edits of b, reference characters), summed over the lines both
    scored (by id), and its paired bootstrap interval; None when they share no lines or
    `defined` says the statistic is undefined on them."""
    shared = sorted(a.keys() & b.keys())
    if not shared:
        return None
    edits_a = np.array([a[i][0] for i in shared], dtype=np.float64)
    edits_b = np.array([b[i][0] for i in shared], dtype=np.float64)
    chars = np.array([a[i][1] for i in shared], dtype=np.float64)
    if not defined(edits_a.sum(), edits_b.sum(), chars.sum()):
        return None
    idx = _indices(len(shared), resamples, seed)
    with np.errstate(divide="ignore", invalid="ignore"):
        samples = statistic(edits_a[idx].sum(1), edits_b[idx].sum(1), chars[idx].sum(1))
    lo, hi = _interval(samples, level)
    point = statistic(edits_a.sum(), edits_b.sum(), chars.sum())
    return {key: float(point), "ci": [lo, hi], "lines": len(shared)}


def ratio_interval(a: Counts, b: Counts, resamples: int = RESAMPLES, level: float = LEVEL, seed: int = SEED):
    """{"ratio": CER(a) / CER(b), "ci": [low, high], "lines": n} on the lines both scored, with
    a paired bootstrap interval (the same resampled lines for both). None when they share no
    lines or b makes no errors."""
    return _paired(a, b, lambda ea, eb, _: ea / eb, lambda ea, eb, _: eb > 0, "ratio", resamples, level, seed)


def difference_interval(
    a: Counts, b: Counts, resamples: int = RESAMPLES, level: float = LEVEL, seed: int = SEED
):
    """{"points": CER(a) - CER(b) in points of CER, "ci": [low, high], "lines": n} on the lines
    both scored, with a paired bootstrap interval. None when they share no lines or those
    lines have no reference characters."""
    return _paired(
        a, b, lambda ea, eb, c: 100 * (ea - eb) / c, lambda ea, eb, c: c > 0, "points", resamples, level, seed
    )
