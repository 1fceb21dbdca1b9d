"""`fedocr report RUN_DIR`: report.md, report.html, summary.json, per_language.csv, cer_vs_round.png."""

from __future__ import annotations

from pathlib import Path

from reports import plots
from reports.html import render_html
from reports.markdown import render_markdown
from reports.rundir import read_run
from reports.summary import build_summary, write_per_language_csv, write_summary_json


def write_report(run_dir: str | Path, tesseract: bool = False) -> Path:
    """Write every report file into the run directory and return the path of report.html."""
    run = read_run(run_dir)
    scores = None
    if tesseract:
        from reports.tesseract import tesseract_scores

        scores = tesseract_scores(run, run.rounds[-1]["round"])
    summary = build_summary(run, scores)
    figures = {
        "cer": plots.cer_curves(run),
        "clients": plots.client_cer_spread(summary["clients"]),
        "partition": plots.partition_heatmap(run.partition),
        "bytes": plots.bytes_per_round(summary["rounds"]),
        "seconds": plots.seconds_per_round(summary["rounds"]),
    }
    if figures["cer"]:
        (run.path / "cer_vs_round.png").write_bytes(figures["cer"])
    (run.path / "report.md").write_text(render_markdown(run, summary), encoding="utf-8")
    write_summary_json(summary, run.path / "summary.json")
    write_per_language_csv(summary, run.path / "per_language.csv")
    out = run.path / "report.html"
    out.write_text(render_html(run, summary, figures), encoding="utf-8")
    return out
