"""The figures a report shows, taken from a run directory: summary.json and per_language.csv.

Every number here is copied from metrics.jsonl or computed from its counts; nothing is
re-scored, so the files agree with metrics.jsonl exactly. The 95 % intervals beside them
(`cer_ci95`, the federated/centralised ratio, forgetting) are bootstrap intervals over the
test lines of predictions/round_<r>.jsonl (reports/uncertainty.py).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from reports import uncertainty
from reports.rundir import RunData
from tasks.languages import NORMALISATION_POLICIES, language_or_default

FIGURES = ("cer", "mean_line_cer", "wer", "ned", "lines", "ref_chars", "char_edits")
STAGES = ("base", "best", "final")
ROUND_EVENTS = ("faults", "rejected")  # lists in a metrics row, one item per event

CLIENT_CER_METHODS = {
    "reweighted": (
        "the global model's test predictions re-weighted by the client's language mix from "
        "partition.json: total edits / total reference characters, each language weighted by "
        "the client's share of it"
    ),
    "client_eval": "evaluated by the run on each client's own data (metrics.jsonl 'client_eval')",
}


def language_table(run: RunData) -> dict[str, dict]:
    """Per language: its registry facts and the base, best federated and final figures."""
    table = {}
    for code in run.languages:
        scored = [(r, f) for r, f in run.figures(code) if isinstance(f.get("cer"), int | float)]
        if not scored:
            continue
        # The best federated round; the base model only when no federated round scored it.
        federated = [s for s in scored if s[0] > 0] or scored
        best = min(federated, key=lambda s: s[1]["cer"])
        lang = language_or_default(code)
        table[code] = {
            "name": lang.name,
            "script": lang.script,
            "direction": lang.direction,
            "normalisation": lang.normalisation,
            "normalisation_policy": NORMALISATION_POLICIES.get(lang.normalisation, ""),
            **{
                stage: {"round": r, **{k: f[k] for k in FIGURES if k in f}}
                for stage, (r, f) in zip(STAGES, (scored[0], best, scored[-1]))
            },
        }
    return table


def _reweighted_cer(mix: dict[str, int], languages: dict[str, dict]) -> float | None:
    total = sum(mix.values())
    edits = chars = 0.0
    for code, n in mix.items():
        figures = languages.get(code) or {}
        if n and "char_edits" in figures and figures.get("ref_chars"):
            edits += n / total * figures["char_edits"]
            chars += n / total * figures["ref_chars"]
    return edits / chars if chars else None


def _evaluated_cer(per_language: dict[str, dict]) -> float | None:
    counted = [f for f in per_language.values() if "char_edits" in f and f.get("ref_chars")]
    if counted:
        return sum(f["char_edits"] for f in counted) / sum(f["ref_chars"] for f in counted)
    rates = [f["cer"] for f in per_language.values() if "cer" in f]
    return sum(rates) / len(rates) if rates else None


def client_cer(run: RunData) -> list[dict]:
    """Per round: each client's CER and their mean, 10th and 90th percentile.

    A row's explicit per-client evaluation ('client_eval') wins; otherwise each client's CER
    is the global model's CER re-weighted by that client's language mix.
    """
    clients = (run.partition or {}).get("clients") or []
    out = []
    for row in run.rounds:
        if isinstance(row.get("client_eval"), dict):
            method = "client_eval"
            cers = {str(cid): _evaluated_cer(langs) for cid, langs in row["client_eval"].items()}
        elif clients and row.get("languages"):
            method = "reweighted"
            cers = {str(c["client_id"]): _reweighted_cer(c["languages"], row["languages"]) for c in clients}
        else:
            continue
        cers = {cid: v for cid, v in cers.items() if v is not None}
        if not cers:
            continue
        values = list(cers.values())
        p10, p90 = np.percentile(values, [10, 90])
        out.append(
            {
                "round": row["round"],
                "method": method,
                "clients": cers,
                "mean": float(np.mean(values)),
                "p10": float(p10),
                "p90": float(p90),
            }
        )
    return out


def round_log(run: RunData) -> list[dict]:
    """Per round: clients that trained, bytes sent each way (summed over them), seconds per
    phase, and where the row records them, the number of faults and rejected updates and
    whether aggregation was skipped."""
    out = []
    for row in run.rounds:
        clients = row.get("clients") or []
        entry = {
            "round": row["round"],
            "clients": len(clients),
            "bytes_up": sum(c.get("bytes_up", 0) for c in clients),
            "bytes_down": sum(c.get("bytes_down", 0) for c in clients),
            "seconds": dict(row.get("seconds") or {}),
        }
        for key in ROUND_EVENTS:
            if isinstance(row.get(key), list):
                entry[key] = len(row[key])
        if isinstance(row.get("skipped"), bool):
            entry["skipped"] = row["skipped"]
        out.append(entry)
    return out


def run_metadata(run: RunData) -> dict:
    info = run.run_info or {}
    keys = (
        "command",
        "started_utc",
        "wall_seconds",
        "versions",
        "git_commit",
        "hardware",
        "parameters",
        "base_model",
    )
    return {"name": run.name, "seed": run.config.get("seed"), **{k: info[k] for k in keys if k in info}}


READ_BY_BASE = 0.2  # a language the base already reads (base CER below this): change = forgetting


def baseline_table(run: RunData) -> dict[str, dict]:
    """{language: {"base", "federated", "centralised", "local-only", "local-only clients"}} final
    corpus CERs side by side, from the baselines run into RUN_DIR/baselines/<name>/."""
    from reports.rundir import RunDirError, read_run

    runs = {}
    for name in ("centralised", "local-only"):
        try:
            runs[name] = read_run(run.path / "baselines" / name)
        except RunDirError:
            continue
    if not runs:
        return {}
    table = {}
    for code in run.languages:
        row = {
            "base": run.rounds[0]["languages"].get(code, {}).get("cer"),
            "federated": run.rounds[-1]["languages"].get(code, {}).get("cer"),
        }
        for name, other in runs.items():
            last = other.rounds[-1]
            if code in last.get("languages", {}):
                row[name] = last["languages"][code]["cer"]
            per_client = last.get("client_eval") or {}
            if per_client:
                row[f"{name} clients"] = {
                    cid: res[code]["cer"] for cid, res in per_client.items() if code in res
                }
        table[code] = row
    return table


def forgetting(run: RunData) -> dict[str, float]:
    """Final minus base CER (in points of CER) for the languages the base model already read."""
    first, last = run.rounds[0]["languages"], run.rounds[-1]["languages"]
    return {
        code: 100 * (last[code]["cer"] - first[code]["cer"])
        for code in run.languages
        if code in first and code in last and first[code]["cer"] < READ_BY_BASE
    }


def fault_log(run: RunData) -> list[dict]:
    """Every injected fault and every rejected update, one entry each, in round order."""
    out = []
    for r in run.rounds:
        for f in r.get("faults") or []:
            out.append({"round": r["round"], "event": f.get("kind", "fault"), **f})
        for x in r.get("rejected") or []:
            out.append({"round": r["round"], "event": "rejected", **x})
    return out


def _line_counts(run: RunData, round_num: int) -> dict[str, dict[str, tuple[int, int]]]:
    return uncertainty.line_counts(run.predictions(round_num))


def add_intervals(run: RunData, table: dict[str, dict], baselines: dict[str, dict]) -> dict[str, list[float]]:
    """Adds 95 % bootstrap intervals over the test lines: `cer_ci95` to the base and final
    figures of `table`, and to `baselines` the federated/centralised ratio with its paired
    interval; returns the paired interval of each forgetting figure (points of CER)."""
    counts: dict[int, dict] = {}
    for code, entry in table.items():
        for stage in ("base", "final"):
            r = entry[stage]["round"]
            if r not in counts:
                counts[r] = _line_counts(run, r)
            interval = uncertainty.cer_interval(counts[r].get(code, {}))
            if interval is not None:
                entry[stage]["cer_ci95"] = list(interval)
    base = counts.get(run.rounds[0]["round"]) or _line_counts(run, run.rounds[0]["round"])
    final = counts.get(run.rounds[-1]["round"]) or _line_counts(run, run.rounds[-1]["round"])
    if baselines:
        from reports.rundir import RunDirError, read_run

        try:
            central = read_run(run.path / "baselines" / "centralised")
            central_counts = _line_counts(central, central.rounds[-1]["round"])
        except RunDirError:
            central_counts = {}
        for code, row in baselines.items():
            ratio = uncertainty.ratio_interval(final.get(code, {}), central_counts.get(code, {}))
            if ratio is not None:
                row["federated / centralised"] = ratio
    out = {}
    for code in forgetting(run):
        change = uncertainty.difference_interval(final.get(code, {}), base.get(code, {}))
        if change is not None:
            out[code] = change["ci"]
    return out


def build_summary(run: RunData, tesseract: dict | None = None) -> dict:
    """Everything summary.json holds; `tesseract` is {"languages": {code: figures}, "notes": [...]}."""
    table = language_table(run)
    baselines = baseline_table(run)
    forgetting_ci = add_intervals(run, table, baselines)
    for code, figures in ((tesseract or {}).get("languages") or {}).items():
        if code in table:
            table[code]["tesseract"] = figures
    return {
        "run": run_metadata(run),
        "rounds_evaluated": [r["round"] for r in run.rounds],
        "languages": table,
        "clients": client_cer(run),
        "rounds": round_log(run),
        "baselines": baselines,
        "fault_log": fault_log(run),
        "forgetting_points": forgetting(run),
        "forgetting_ci95": forgetting_ci,
        # None: not requested; a list: requested, with the reasons for any language left out.
        "tesseract_notes": None if tesseract is None else tesseract["notes"],
    }


def write_summary_json(summary: dict, out: Path) -> Path:
    out.write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return out


def write_per_language_csv(summary: dict, out: Path) -> Path:
    """One row per language and stage (base, best, final, and tesseract where measured)."""
    header = ["language", "name", "normalisation", "stage", "round", *FIGURES]
    with open(out, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for code, entry in summary["languages"].items():
            for stage in (*STAGES, "tesseract"):
                if stage in entry:
                    figures = entry[stage]
                    writer.writerow(
                        [code, entry["name"], entry["normalisation"], stage, figures.get("round", "")]
                        + [figures.get(k, "") for k in FIGURES]
                    )
    return out


def describe_setup(run: RunData) -> list[str]:
    """The run's setup in a few plain-text lines (model, federation, data, wall time)."""
    cfg = run.config
    model, lora = cfg.get("model", {}), cfg.get("lora", {})
    fed, part, data = cfg.get("federation", {}), cfg.get("partition", {}), cfg.get("data", {})
    scheme = part.get("scheme", "?")
    if scheme == "dirichlet":
        scheme += f", alpha={part.get('alpha')}"
    lines = [
        f"model: {model.get('backend', '?')} ({model.get('path') or 'built-in base'}"
        + (f", size {model['size']}" if model.get("size") else "")
        + f"), LoRA r={lora.get('r', '?')} alpha={lora.get('alpha', '?')}",
        f"federation: {fed.get('strategy', '?')}, {run.rounds[-1]['round']} rounds, "
        f"{part.get('num_clients', '?')} clients ({scheme}), "
        f"{fed.get('clients_per_round') or part.get('num_clients', '?')} per round",
        f"data: {data.get('level', '?')} synthetic lines, {data.get('test_per_language', '?')} test lines "
        f"per language"
        + (f", plus tasks {', '.join(map(str, data['tasks']))}" if data.get("tasks") else "")
        + f", seed {cfg.get('seed', '?')}",
    ]
    if run.run_info and "wall_seconds" in run.run_info:
        lines.append(f"wall time: {run.run_info['wall_seconds'] / 60:.1f} min")
    return lines


def pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def pct_range(interval: list[float] | None) -> str:
    """A CER interval [0.49, 0.546] as "49.0-54.6%"."""
    return "–" if not interval else f"{100 * interval[0]:.1f}-{100 * interval[1]:.1f}%"


def ratio_text(entry: dict | None) -> str:
    """{"ratio": 1.36, "ci": [1.26, 1.48]} as "1.36x (1.26-1.48)"."""
    if not entry:
        return "–"
    return f"{entry['ratio']:.2f}x ({entry['ci'][0]:.2f}-{entry['ci'][1]:.2f})"


def forgetting_text(summary: dict) -> str:
    """ "en +1.5 points (95% CI +0.6 to +2.6)", one per language the base already read."""
    intervals = summary.get("forgetting_ci95") or {}
    out = []
    for code, points in summary["forgetting_points"].items():
        text = f"{code} {points:+.1f} points"
        if code in intervals:
            text += f" (95% CI {intervals[code][0]:+.1f} to {intervals[code][1]:+.1f})"
        out.append(text)
    return ", ".join(out)


INTERVAL_NOTE = (
    "95% CI: percentile bootstrap over the language's test lines (2000 resamples of the lines "
    "with replacement); the federated/centralised ratio and forgetting resample the same lines "
    "for both models (paired). They show how much the figure depends on which test lines were "
    "drawn, not what another seed would give (run seeds and `fedocr compare` for that)."
)
