"""`fedocr compare RUN_DIR... --out DIR`: a leaderboard of final CER per language across runs.

Runs whose config.toml is the same except for `seed` and `name` form one setup; the
leaderboard shows each setup's mean and sample standard deviation over its runs.
"""

from __future__ import annotations

import csv
import json
import os
import statistics
from html import escape
from pathlib import Path

from benchmark.config import flatten
from reports.html import page, table
from reports.rundir import RunData, read_run
from reports.summary import language_table, pct

SEED_KEYS = ("seed", "name")


def setup_key(config: dict) -> str:
    return json.dumps({k: v for k, v in config.items() if k not in SEED_KEYS}, sort_keys=True)


def _bytes_up_per_round(run: RunData) -> float | None:
    rounds = [r for r in run.rounds if r["round"] > 0 and r.get("clients")]
    if not rounds:
        return None
    return statistics.fmean(sum(c.get("bytes_up", 0) for c in r["clients"]) for r in rounds)


def _rounds_to_target(run: RunData, target: float) -> int | None:
    """The first round whose CER averaged over the languages is at or below `target`."""
    for r in run.rounds:
        rates = [f["cer"] for f in r.get("languages", {}).values()]
        if rates and statistics.fmean(rates) <= target:
            return r["round"]
    return None


def _mean_or_none(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.fmean(values) if values else None


def leaderboard(runs: list[RunData], target_cer: float = 0.5) -> list[dict]:
    """One entry per setup, best (lowest mean final CER over its languages) first."""
    groups: dict[str, list[RunData]] = {}
    for run in runs:
        groups.setdefault(setup_key(run.config), []).append(run)
    flat = {key: flatten(json.loads(key)) for key in groups}
    all_keys = sorted({k for f in flat.values() for k in f})
    differing = [k for k in all_keys if len({json.dumps(f.get(k)) for f in flat.values()}) > 1]
    entries = []
    for key, members in groups.items():
        finals: dict[str, list[float]] = {}
        for run in members:
            for code, e in language_table(run).items():
                finals.setdefault(code, []).append(e["final"]["cer"])
        languages = {
            code: {
                "mean": statistics.fmean(values),
                "std": statistics.stdev(values) if len(values) > 1 else None,
                "runs": values,
            }
            for code, values in finals.items()
        }
        entries.append(
            {
                "setup": ", ".join(f"{k}={flat[key].get(k, '(not set)')}" for k in differing)
                or members[0].name,
                "runs": [str(run.path) for run in members],
                "seeds": [run.config.get("seed") for run in members],
                "mean_cer": statistics.fmean(v["mean"] for v in languages.values()) if languages else None,
                "languages": languages,
                "bytes_up_per_round": _mean_or_none([_bytes_up_per_round(run) for run in members]),
                # Mean over the runs that got there; how many did is in "reached_target".
                "rounds_to_target": _mean_or_none([_rounds_to_target(run, target_cer) for run in members]),
                "reached_target": sum(_rounds_to_target(run, target_cer) is not None for run in members),
                "target_cer": target_cer,
            }
        )
    entries.sort(key=lambda e: float("inf") if e["mean_cer"] is None else e["mean_cer"])
    return entries


def _languages(entries: list[dict]) -> list[str]:
    return list(dict.fromkeys(code for e in entries for code in e["languages"]))


def write_csv(entries: list[dict], out: Path) -> Path:
    languages = _languages(entries)
    with open(out, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(
            [
                "rank",
                "setup",
                "runs",
                "seeds",
                "run_dirs",
                "mean_cer",
                "bytes_up_per_round",
                "rounds_to_target",
            ]
            + [f"{code}_{stat}" for code in languages for stat in ("cer_mean", "cer_std")]
        )
        for rank, e in enumerate(entries, 1):
            cells = []
            for code in languages:
                figures = e["languages"].get(code, {})
                cells += [figures.get("mean", ""), "" if figures.get("std") is None else figures["std"]]
            writer.writerow(
                [rank, e["setup"], len(e["runs"]), ";".join(map(str, e["seeds"])), ";".join(e["runs"])]
                + ["" if e["mean_cer"] is None else e["mean_cer"]]
                + ["" if e["bytes_up_per_round"] is None else round(e["bytes_up_per_round"])]
                + ["" if e["rounds_to_target"] is None else e["rounds_to_target"]]
                + cells
            )
    return out


def _cell(figures: dict | None) -> str:
    if not figures:
        return "–"
    if figures["std"] is None:
        return pct(figures["mean"])
    return f"{pct(figures['mean'])} ± {100 * figures['std']:.1f}"


def render_html(entries: list[dict], out_dir: Path) -> str:
    languages = _languages(entries)
    rows = [
        [str(rank), escape(e["setup"]), str(len(e["runs"])), escape(", ".join(map(str, e["seeds"])))]
        + [pct(e["mean_cer"])]
        + ["–" if e["bytes_up_per_round"] is None else f"{e['bytes_up_per_round'] / 1e6:.2f}"]
        + [
            "–"
            if e["rounds_to_target"] is None
            else f"{e['rounds_to_target']:.1f} ({e['reached_target']}/{len(e['runs'])})"
        ]
        + [_cell(e["languages"].get(code)) for code in languages]
        for rank, e in enumerate(entries, 1)
    ]
    run_rows = []
    for rank, e in enumerate(entries, 1):
        for path in e["runs"]:
            report = Path(path) / "report.html"
            link = (
                f'<a href="{escape(os.path.relpath(report, out_dir))}">{escape(path)}</a>'
                if report.exists()
                else escape(path)
            )
            run_rows.append([str(rank), link])
    body = "\n".join(
        [
            "<h1>fedocr leaderboard</h1>",
            "<p>Final-round corpus CER per language. Runs whose config.toml differs only in "
            "<code>seed</code> and <code>name</code> form one setup: mean ± sample standard deviation "
            "(percentage points) over its runs. Ranked by the mean over the languages each setup was "
            "scored on.</p>",
            f"<p>MB up per round: adapter bytes uploaded by all clients of a round, averaged over rounds. "
            f"Rounds to target: the first round whose CER averaged over the languages is at most "
            f"{100 * entries[0]['target_cer'] if entries else 50:.0f}% (mean over the runs that reached it; "
            "how many did in brackets).</p>",
            table(
                [
                    "rank",
                    "setup",
                    "runs",
                    "seeds",
                    "mean CER",
                    "MB up / round",
                    "rounds to target",
                    *languages,
                ],
                rows,
                numeric=set(range(4, 7 + len(languages))) | {0, 2},
            ),
            "<h2>Runs</h2>",
            table(["rank", "run directory"], run_rows, numeric={0}),
        ]
    )
    return page("fedocr leaderboard", body)


def write_comparison(run_dirs: list[str | Path], out: str | Path, target_cer: float = 0.5) -> list[Path]:
    """Write leaderboard.html and leaderboard.csv into `out`; return their paths."""
    entries = leaderboard([read_run(path) for path in run_dirs], target_cer)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    html_path = out / "leaderboard.html"
    html_path.write_text(render_html(entries, out), encoding="utf-8")
    return [html_path, write_csv(entries, out / "leaderboard.csv")]
