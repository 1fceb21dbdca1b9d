"""The figures a report shows, taken from a run directory: summary.json and per_language.csv.

Every number here is copied from metrics.jsonl or computed from its counts; nothing is
re-scored, so the files agree with metrics.jsonl exactly.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

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


def build_summary(run: RunData, tesseract: dict | None = None) -> dict:
    """Everything summary.json holds; `tesseract` is {"languages": {code: figures}, "notes": [...]}."""
    table = language_table(run)
    for code, figures in ((tesseract or {}).get("languages") or {}).items():
        if code in table:
            table[code]["tesseract"] = figures
    return {
        "run": run_metadata(run),
        "rounds_evaluated": [r["round"] for r in run.rounds],
        "languages": table,
        "clients": client_cer(run),
        "rounds": round_log(run),
        "baselines": baseline_table(run),
        "fault_log": fault_log(run),
        "forgetting_points": forgetting(run),
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
