"""The report's figures as PNG bytes (matplotlib's object API: no pyplot state, no display).

Each function returns None when the run holds nothing to plot.
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from reports.rundir import RunData
from tasks.languages import language_or_default

PHASES = ("train", "aggregate", "evaluate")


def phases(rounds: list[dict]) -> list[str]:
    """The phases timed in any round: train, aggregate, evaluate first, then any others."""
    timed = {k for c in rounds for k in c["seconds"]}
    return [p for p in PHASES if p in timed] + sorted(timed - set(PHASES))


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def cer_curves(run: RunData) -> bytes | None:
    """Corpus CER (solid) and mean line CER (dotted) per language against the round."""
    languages = [c for c in run.languages if run.figures(c)]
    if not languages:
        return None
    fig = Figure(figsize=(8, 4.2))
    ax = fig.subplots()
    for i, code in enumerate(languages):
        colour = f"C{i % 10}"
        scored = [(r, f) for r, f in run.figures(code) if "cer" in f]
        rounds = [r for r, _ in scored]
        ax.plot(
            rounds,
            [100 * f["cer"] for _, f in scored],
            marker="o",
            color=colour,
            label=f"{code} ({language_or_default(code).name})",
        )
        line = [(r, f["mean_line_cer"]) for r, f in scored if "mean_line_cer" in f]
        if line:
            ax.plot(*zip(*[(r, 100 * v) for r, v in line]), linestyle=":", color=colour)
    ax.set_xlabel("round (0 = base model)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("CER (%)")
    ax.set_title("CER per language: corpus (solid), mean per line (dotted)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    return _png(fig)


def client_cer_spread(clients: list[dict]) -> bytes | None:
    """Each client's CER per round (dots), their mean (line) and 10th-90th percentile band."""
    if not clients:
        return None
    rounds = [c["round"] for c in clients]
    fig = Figure(figsize=(8, 3.8))
    ax = fig.subplots()
    for c in clients:
        values = [100 * v for v in c["clients"].values()]
        ax.scatter([c["round"]] * len(values), values, s=12, color="0.55", alpha=0.6, zorder=2)
    ax.fill_between(
        rounds,
        [100 * c["p10"] for c in clients],
        [100 * c["p90"] for c in clients],
        color="C0",
        alpha=0.2,
        label="10th-90th percentile",
    )
    ax.plot(rounds, [100 * c["mean"] for c in clients], marker="o", color="C0", label="mean", zorder=3)
    ax.set_xlabel("round (0 = base model)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("client CER (%)")
    ax.set_title("CER across clients (grey dots: one client)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)


def partition_heatmap(partition: dict | None) -> bytes | None:
    """Clients x languages: how many training rows each client holds of each language."""
    clients = (partition or {}).get("clients") or []
    languages = sorted({code for c in clients for code in c.get("languages", {})})
    if not clients or not languages:
        return None
    counts = np.array([[c["languages"].get(code, 0) for code in languages] for c in clients])
    labelled = len(clients) <= 40  # beyond that, one row per client is too thin to label
    fig = Figure(figsize=(max(4.5, 1.6 + 0.75 * len(languages)), 1.4 + 0.28 * min(len(clients), 40)))
    ax = fig.subplots()
    image = ax.imshow(counts, cmap="Blues", aspect="auto")
    ax.set_xticks(range(len(languages)), languages)
    ax.set_xlabel("language")
    ax.set_ylabel("client")
    ax.set_title("Training rows per client and language")
    if labelled:
        ax.set_yticks(range(len(clients)), [str(c["client_id"]) for c in clients])
        for (i, j), n in np.ndenumerate(counts):
            dark = n > counts.max() / 2
            ax.text(j, i, str(n), ha="center", va="center", fontsize=7, color="white" if dark else "black")
    fig.colorbar(image, ax=ax)
    return _png(fig)


def bytes_per_round(rounds: list[dict]) -> bytes | None:
    """Adapter bytes uploaded and downloaded per round, summed over the sampled clients."""
    rounds = [c for c in rounds if c["bytes_up"] or c["bytes_down"]]
    if not rounds:
        return None
    x = np.arange(len(rounds))
    fig = Figure(figsize=(8, 3.2))
    ax = fig.subplots()
    ax.bar(x - 0.2, [c["bytes_up"] / 1e6 for c in rounds], width=0.4, label="up (clients -> server)")
    ax.bar(x + 0.2, [c["bytes_down"] / 1e6 for c in rounds], width=0.4, label="down (server -> clients)")
    ax.set_xticks(x, [str(c["round"]) for c in rounds])
    ax.set_xlabel("round")
    ax.set_ylabel("MB")
    ax.set_title("Communication per round")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    return _png(fig)


def seconds_per_round(rounds: list[dict]) -> bytes | None:
    """Wall seconds per round, stacked by phase (train, aggregate, evaluate, any other)."""
    timed = phases(rounds)
    if not timed:
        return None
    x = np.arange(len(rounds))
    fig = Figure(figsize=(8, 3.2))
    ax = fig.subplots()
    bottom = np.zeros(len(rounds))
    for phase in timed:
        values = np.array([c["seconds"].get(phase, 0.0) for c in rounds])
        ax.bar(x, values, bottom=bottom, label=phase)
        bottom += values
    ax.set_xticks(x, [str(c["round"]) for c in rounds])
    ax.set_xlabel("round (0 = base model)")
    ax.set_ylabel("seconds")
    ax.set_title("Time per round")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    return _png(fig)
