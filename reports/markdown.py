"""report.md: the per-language table, the rounds and the clients' shards as Markdown."""

from __future__ import annotations

from reports.rundir import RunData
from reports.summary import INTERVAL_NOTE, describe_setup, forgetting_text, pct, pct_range, ratio_text
from tasks.languages import NORMALISATION_POLICIES


def render_markdown(run: RunData, summary: dict) -> str:
    lines = [f"# fedocr report: {run.name}", ""]
    lines += [f"- {line}" for line in describe_setup(run)]
    lines += [
        "",
        "Open report.html beside this file for the plots, the per-client spread and sample lines.",
        "",
        "## CER per language: base, best federated round, final",
        "",
        "| language | lines | CER base | CER best (round) | CER final | 95% CI final | change | "
        "mean line CER base | mean line CER final | WER base | WER final | NED final |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for code, e in summary["languages"].items():
        a, best, b = e["base"], e["best"], e["final"]
        rel = (b["cer"] - a["cer"]) / a["cer"] if a["cer"] else 0.0
        lines.append(
            f"| {code} ({e['name']}) | {b.get('lines', '–')} | {pct(a['cer'])} | "
            f"{pct(best['cer'])} ({best['round']}) | {pct(b['cer'])} | {pct_range(b.get('cer_ci95'))} | "
            f"{100 * rel:+.0f}% | "
            f"{pct(a.get('mean_line_cer'))} | {pct(b.get('mean_line_cer'))} | {pct(a.get('wer'))} | "
            f"{pct(b.get('wer'))} | {pct(b.get('ned'))} |"
        )
    lines += [
        "",
        "CER = total character edits / total reference characters over the language's test "
        "lines (corpus CER). Mean line CER averages each line's CER (can exceed 100% when a model "
        "inserts text). WER is the word-level corpus rate; NED the mean per-line edit distance "
        "over the longer string's length. " + INTERVAL_NOTE + " Both sides are normalised first:",
        "",
    ]
    by_policy: dict[str, list[str]] = {}
    for code, e in summary["languages"].items():
        by_policy.setdefault(e["normalisation"], []).append(code)
    lines += [
        f"- `{p}`: {NORMALISATION_POLICIES.get(p, 'unknown policy')} ({', '.join(codes)})"
        for p, codes in by_policy.items()
    ]
    lines += _baselines_table(summary)
    lines += _fault_lines(summary)
    lines += ["", "![CER per round](cer_vs_round.png)", "", *_rounds_table(run), *_shards_table(run)]
    return "\n".join(lines) + "\n"


def _rounds_table(run: RunData) -> list[str]:
    languages = run.languages
    lines = [
        "## Rounds",
        "",
        "| round | clients | mean train loss | train s | eval s | bytes up | " + " | ".join(languages) + " |",
        "|---:|---:|---:|---:|---:|---:|" + "---:|" * len(languages),
    ]
    for r in run.rounds:
        clients = r.get("clients") or []
        losses = [c["train_loss"] for c in clients if "train_loss" in c]
        loss = f"{sum(losses) / len(losses):.3f}" if losses else "–"
        secs = r.get("seconds") or {}
        scored = r.get("languages") or {}
        lines.append(
            f"| {r['round']} | {len(clients)} | {loss} | {secs.get('train', 0):.1f} | "
            f"{secs.get('evaluate', 0):.1f} | {sum(c.get('bytes_up', 0) for c in clients):,} | "
            + " | ".join(pct(scored[c].get("cer")) if c in scored else "–" for c in languages)
            + " |"
        )
    return lines


def _shards_table(run: RunData) -> list[str]:
    clients = (run.partition or {}).get("clients") or []
    if not clients:
        return []
    langs = sorted({k for c in clients for k in c["languages"]})
    lines = [
        "",
        "## Clients' private shards (rows per language)",
        "",
        "| client | rows | " + " | ".join(langs) + " |",
        "|---:|---:|" + "---:|" * len(langs),
    ]
    lines += [
        f"| {c['client_id']} | {c['num_examples']} | "
        + " | ".join(str(c["languages"].get(k, 0)) for k in langs)
        + " |"
        for c in clients
    ]
    return lines


def _baselines_table(summary: dict) -> list[str]:
    lines = []
    if summary.get("forgetting_points"):
        lines += [
            "",
            f"Forgetting (final minus base CER on languages the base already read): {forgetting_text(summary)}.",
        ]
    table = summary.get("baselines") or {}
    if not table:
        return lines
    lines += [
        "",
        "## Base, federated and baselines (final corpus CER)",
        "",
        "| language | base | federated | centralised | federated / centralised (95% CI) | local-only (pooled) "
        "| local-only best / worst client |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for code, row in table.items():
        clients = list((row.get("local-only clients") or {}).values())
        spread = f"{pct(min(clients))} / {pct(max(clients))}" if clients else "–"
        lines.append(
            f"| {code} | {pct(row['base'])} | {pct(row['federated'])} | {pct(row.get('centralised'))} | "
            f"{ratio_text(row.get('federated / centralised'))} | {pct(row.get('local-only'))} | {spread} |"
        )
    lines += [
        "",
        "Centralised: one model trained on the pooled data for the same total steps. Local-only: each "
        "client trains alone on its shard for its average federated share of the steps; pooled = every "
        "client's predictions together.",
    ]
    return lines


def _fault_lines(summary: dict) -> list[str]:
    events = summary.get("fault_log") or []
    if not events:
        return []
    lines = [
        "",
        "## Faults and rejected updates",
        "",
        "| round | attempt | client | event | detail |",
        "|---:|---:|---:|---|---|",
    ]
    for e in events:
        detail = (
            e.get("reason")
            or e.get("detail")
            or (f"{e['seconds']:.1f} s simulated" if "seconds" in e else "")
        )
        lines.append(
            f"| {e['round']} | {e.get('attempt', 1)} | {e.get('client_id', '–')} | {e['event']} | {detail} |"
        )
    return lines
