"""`fedocr report RUN_DIR`: report.md with the per-language table and a CER-vs-round plot."""

from __future__ import annotations

from pathlib import Path

from reports.rundir import RunData, read_run
from tasks.languages import NORMALISATION_POLICIES, language_or_default


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def plot_cer_curves(run: RunData, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    rounds = [r["round"] for r in run.rounds]
    for code in run.languages:
        ax.plot(
            rounds,
            [100 * r["languages"][code]["cer"] for r in run.rounds],
            marker="o",
            label=f"{code} ({language_or_default(code).name})",
        )
    ax.set_xlabel("round (0 = base model)")
    ax.set_ylabel("corpus CER (%)")
    ax.set_title("Character error rate per language")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out


def render_markdown(run: RunData) -> str:
    cfg = run.config
    first, last = run.rounds[0], run.rounds[-1]
    lines = [f"# fedocr report: {cfg.get('name', run.path.name)}", ""]
    model = cfg.get("model", {})
    fed = cfg.get("federation", {})
    part = cfg.get("partition", {})
    lines += [
        f"- model: `{model.get('backend', '?')}` ({model.get('path') or 'built-in base'}), "
        f"LoRA r={cfg.get('lora', {}).get('r', '?')}",
        f"- federation: {fed.get('strategy', '?')}, {last['round']} rounds, "
        f"{part.get('num_clients', '?')} clients ({part.get('scheme', '?')}"
        + (f", alpha={part.get('alpha')}" if part.get("scheme") == "dirichlet" else "")
        + "), "
        f"{fed.get('clients_per_round') or part.get('num_clients', '?')} per round",
        f"- data: {cfg.get('data', {}).get('level', '?')} synthetic lines, seed {cfg.get('seed', '?')}",
    ]
    if run.run_info:
        lines.append(f"- wall time: {run.run_info['wall_seconds'] / 60:.1f} min")
    lines += [
        "",
        f"## CER per language: round 0 (base) vs round {last['round']} (federated)",
        "",
        "| language | lines | CER base | CER final | change | mean line CER base | mean line CER final | WER base | WER final |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for code in run.languages:
        a, b = first["languages"][code], last["languages"][code]
        rel = (b["cer"] - a["cer"]) / a["cer"] if a["cer"] else 0.0
        lines.append(
            f"| {code} ({language_or_default(code).name}) | {b['lines']} | {pct(a['cer'])} | "
            f"{pct(b['cer'])} | {100 * rel:+.0f}% | {pct(a['mean_line_cer'])} | "
            f"{pct(b['mean_line_cer'])} | {pct(a['wer'])} | {pct(b['wer'])} |"
        )
    lines += [
        "",
        "CER = total character edits / total reference characters over the language's test "
        "lines (corpus CER). Mean line CER averages each line's CER (can exceed 100% when a model "
        "inserts text). WER is the word-level corpus rate. Both sides are normalised first:",
        "",
    ]
    policies = sorted({language_or_default(c).normalisation for c in run.languages})
    lines += [
        f"- `{p}`: {NORMALISATION_POLICIES[p]} "
        f"({', '.join(c for c in run.languages if language_or_default(c).normalisation == p)})"
        for p in policies
    ]
    lines += [
        "",
        "![CER per round](cer_vs_round.png)",
        "",
        "## Rounds",
        "",
        "| round | clients | mean train loss | train s | eval s | bytes up | "
        + " | ".join(run.languages)
        + " |",
        "|---:|---:|---:|---:|---:|---:|" + "---:|" * len(run.languages),
    ]
    for r in run.rounds:
        clients = r.get("clients", [])
        loss = sum(c["train_loss"] for c in clients) / len(clients) if clients else float("nan")
        up = sum(c.get("bytes_up", 0) for c in clients)
        secs = r.get("seconds", {})
        lines.append(
            f"| {r['round']} | {len(clients)} | {loss:.3f} | {secs.get('train', 0):.1f} | "
            f"{secs.get('evaluate', 0):.1f} | {up:,} | "
            + " | ".join(pct(r["languages"][c]["cer"]) for c in run.languages)
            + " |"
        )
    if run.partition:
        langs = sorted({k for c in run.partition["clients"] for k in c["languages"]})
        lines += [
            "",
            "## Clients' private shards (rows per language)",
            "",
            "| client | rows | " + " | ".join(langs) + " |",
            "|---:|---:|" + "---:|" * len(langs),
        ]
        for c in run.partition["clients"]:
            lines.append(
                f"| {c['client_id']} | {c['num_examples']} | "
                + " | ".join(str(c["languages"].get(k, 0)) for k in langs)
                + " |"
            )
    return "\n".join(lines) + "\n"


def write_report(run_dir: str | Path) -> Path:
    run = read_run(run_dir)
    plot_cer_curves(run, run.path / "cer_vs_round.png")
    out = run.path / "report.md"
    out.write_text(render_markdown(run), encoding="utf-8")
    return out
