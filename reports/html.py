"""report.html: one self-contained page (inline CSS, figures and line images as base64 PNG, no script)."""

from __future__ import annotations

import base64
import shlex
from collections.abc import Collection
from html import escape

from reports.gallery import char_diff_html, pick_samples
from reports.plots import phases
from reports.rundir import RunData
from reports.summary import (
    CLIENT_CER_METHODS,
    INTERVAL_NOTE,
    ROUND_EVENTS,
    describe_setup,
    forgetting_text,
    pct,
    pct_range,
    ratio_text,
)
from tasks.languages import NORMALISATION_POLICIES, language_or_default

CSS = """
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 1100px; padding: 1rem 2rem;
       color: #1d1d1f; line-height: 1.45; }
h1 { margin-bottom: .2rem; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2rem; margin-top: 2.2rem; }
nav a { margin-right: 1rem; }
table { border-collapse: collapse; margin: .8rem 0; font-size: .92rem; }
th, td { border: 1px solid #ddd; padding: .25rem .55rem; text-align: left; vertical-align: top; }
th { background: #f5f5f7; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
img.plot { display: block; max-width: 100%; margin: .8rem 0; }
.note { color: #555; font-size: .9rem; }
.better { color: #1a7f37; } .worse { color: #b42318; }
.samples { display: grid; grid-template-columns: repeat(auto-fill, minmax(480px, 1fr)); gap: .8rem; }
.sample { border: 1px solid #ddd; border-radius: 6px; padding: .6rem; }
.sample img { display: block; max-width: 100%; border: 1px solid #eee; margin: .3rem 0; }
.sample dl { display: grid; grid-template-columns: 6.5rem 1fr; gap: .15rem .5rem; margin: .3rem 0 0; }
.sample dt { color: #555; font-size: .85rem; }
.sample dd { margin: 0; }
.text { font-size: 1.15rem; white-space: pre-wrap; word-break: break-word; }
.empty { color: #999; font-style: italic; font-size: .9rem; }
del.del { background: #ffd7d5; color: #b42318; }
ins.ins { background: #ccf2d1; color: #1a7f37; text-decoration: none; }
del.sub { background: #ffe7b3; color: #8a5300; }
ins.sub { background: #d9e8ff; color: #1849a9; text-decoration: none; }
pre { background: #f5f5f7; padding: .6rem; overflow-x: auto; font-size: .85rem; }
"""


def page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        # An empty icon: the browser then asks no server (or file) for favicon.ico.
        '<link rel="icon" href="data:,">\n'
        f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def png_img(png: bytes, alt: str, cls: str = "plot") -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img class="{cls}" alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def table(header: list[str], rows: list[list[str]], numeric: Collection[int] = ()) -> str:
    """An HTML table; `header` is plain text, cells are HTML (escaped by the caller)."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>" for i, c in enumerate(row))
        + "</tr>\n"
        for row in rows
    )
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>"


def _language_label(code: str) -> str:
    return escape(f"{code} ({language_or_default(code).name})")


def _change(base: float, final: float) -> str:
    if not base:
        return "–"
    rel = (final - base) / base
    return f'<span class="{"better" if rel < 0 else "worse" if rel > 0 else ""}">{100 * rel:+.0f}%</span>'


def _languages_section(summary: dict, figures: dict[str, bytes | None]) -> str:
    languages = summary["languages"]
    tesseract = any("tesseract" in e for e in languages.values())
    header = [
        "language",
        "script",
        "normalisation",
        "lines",
        "base CER",
        "best CER",
        "final CER",
        "95% CI final",
        "change",
    ]
    rows = []
    for code, e in languages.items():
        base, best, final = e["base"], e["best"], e["final"]
        rows.append(
            [
                _language_label(code),
                escape(e["script"]),
                f"<code>{escape(e['normalisation'])}</code>",
                str(final.get("lines", "–")),
                f"{pct(base['cer'])} (r{base['round']})",
                f"{pct(best['cer'])} (r{best['round']})",
                f"{pct(final['cer'])} (r{final['round']})",
                pct_range(final.get("cer_ci95")),
                _change(base["cer"], final["cer"]),
            ]
            + ([pct(e["tesseract"]["cer"]) if "tesseract" in e else "not measured"] if tesseract else [])
        )
    detail = [
        [
            _language_label(code),
            stage,
            str(e[stage].get("round", "")),
            *(pct(e[stage].get(k)) for k in ("cer", "mean_line_cer", "wer", "ned")),
            f"{e[stage].get('char_edits', '–')} / {e[stage].get('ref_chars', '–')}",
        ]
        for code, e in languages.items()
        for stage in ("base", "best", "final", "tesseract")
        if stage in e
    ]
    parts = [
        '<h2 id="languages">CER per language</h2>',
        table(header + (["Tesseract CER"] if tesseract else []), rows, numeric={3, 4, 5, 6, 7, 8, 9}),
        '<p class="note">Base = the first evaluated round (round 0: the base model with an empty '
        "adapter). Best = the federated round (r) with the lowest corpus CER. Final = the last round. "
        f"{escape(INTERVAL_NOTE)}</p>",
        _tesseract_note(summary["tesseract_notes"], tesseract),
        "<h3>All figures</h3>",
        table(
            ["language", "stage", "round", "corpus CER", "mean line CER", "WER", "NED", "edits / chars"],
            detail,
            numeric={2, 3, 4, 5, 6, 7},
        ),
        '<p class="note">Corpus CER = total character edits / total reference characters. Mean line '
        "CER = the mean of each line's CER (can exceed 100% when the model inserts text). WER = the "
        "word-level corpus rate. NED = mean of edits / max(reference, prediction length) per line, "
        "at most 100%.</p>",
        "<h3>Normalisation before scoring</h3>",
        _normalisation_list(languages),
    ]
    if figures.get("cer"):
        parts += [
            '<h3 id="curves">CER against round</h3>',
            png_img(figures["cer"], "CER per language per round"),
        ]
    return "\n".join(parts)


def _tesseract_note(notes: list[str] | None, measured: bool) -> str:
    if notes is None:
        return (
            '<p class="note">Tesseract baseline: not measured (run <code>fedocr report RUN_DIR '
            "--tesseract</code> where Tesseract is installed).</p>"
        )
    text = "Tesseract baseline (--psm 7, same test lines and normalisation as the model)"
    items = "".join(f"<li>{escape(n)}</li>" for n in notes)
    if not measured:
        text += ": no language could be measured"
    return f'<p class="note">{escape(text)}.</p>' + (f'<ul class="note">{items}</ul>' if items else "")


def _normalisation_list(languages: dict) -> str:
    by_policy: dict[str, list[str]] = {}
    for code, e in languages.items():
        by_policy.setdefault(e["normalisation"], []).append(code)
    items = "".join(
        f"<li><code>{escape(p)}</code> ({escape(', '.join(codes))}): "
        f"{escape(NORMALISATION_POLICIES.get(p, 'unknown policy'))}</li>"
        for p, codes in by_policy.items()
    )
    return f"<p>Reference and prediction are both normalised first; case and punctuation count.</p><ul>{items}</ul>"


def _clients_section(run: RunData, summary: dict, figures: dict[str, bytes | None]) -> str:
    clients = summary["clients"]
    if not clients and not figures.get("partition"):
        return ""
    parts = ['<h2 id="clients">Clients</h2>']
    if clients:
        methods = dict.fromkeys(c["method"] for c in clients)
        parts.append(
            "<p>Each client's CER is "
            + "; in other rounds, ".join(escape(CLIENT_CER_METHODS[m]) for m in methods)
            + ". The spread across clients shows whether the global model serves every client "
            "(fairness): mean, 10th and 90th percentile.</p>"
        )
        if figures.get("clients"):
            parts.append(png_img(figures["clients"], "client CER per round"))
        rows = []
        for c in clients:
            worst = max(c["clients"].items(), key=lambda kv: kv[1])
            rows.append(
                [
                    str(c["round"]),
                    str(len(c["clients"])),
                    pct(c["mean"]),
                    pct(c["p10"]),
                    pct(c["p90"]),
                    f"{escape(worst[0])}: {pct(worst[1])}",
                    escape(c["method"]),
                ]
            )
        parts.append(
            table(
                ["round", "clients", "mean CER", "10th pct", "90th pct", "worst client", "method"],
                rows,
                numeric={0, 1, 2, 3, 4},
            )
        )
        parts.append(_final_client_table(run, clients[-1]))
    if figures.get("partition"):
        scheme = str(run.partition.get("scheme", "?"))
        if scheme == "dirichlet":
            scheme += f", alpha {run.partition.get('alpha')}"
        parts += [
            "<h3>Private shards</h3>",
            f"<p>Partition: {escape(scheme)}.</p>",
            png_img(figures["partition"], "training rows per client and language"),
        ]
    return "\n".join(parts)


def _final_client_table(run: RunData, last: dict) -> str:
    shards = {str(c["client_id"]): c for c in (run.partition or {}).get("clients", [])}
    rows = []
    for cid, cer in sorted(last["clients"].items(), key=lambda kv: kv[1]):
        shard = shards.get(cid, {})
        mix = ", ".join(
            f"{k} {n}" for k, n in sorted(shard.get("languages", {}).items(), key=lambda kv: -kv[1])
        )
        rows.append([escape(cid), str(shard.get("num_examples", "–")), escape(mix), pct(cer)])
    return f"<h3>Clients in round {last['round']}</h3>" + table(
        ["client", "training rows", "rows per language", "CER"], rows, numeric={1, 3}
    )


def _rounds_section(summary: dict, figures: dict[str, bytes | None]) -> str:
    rounds = summary["rounds"]
    timed = phases(rounds)
    events = [k for k in (*ROUND_EVENTS, "skipped") if any(k in r for r in rounds)]
    parts = ['<h2 id="rounds">Communication and time</h2>']
    for key, alt in (("bytes", "bytes up and down per round"), ("seconds", "seconds per round")):
        if figures.get(key):
            parts.append(png_img(figures[key], alt))
    rows = [
        [str(r["round"]), str(r["clients"]), f"{r['bytes_up']:,}", f"{r['bytes_down']:,}"]
        + [f"{r['seconds'][p]:.2f}" if p in r["seconds"] else "–" for p in timed]
        + [escape(str(r.get(k, "–"))) for k in events]
        for r in rounds
    ]
    header = ["round", "clients trained", "bytes up", "bytes down"] + [f"{p} s" for p in timed] + events
    parts.append(table(header, rows, numeric=set(range(len(header)))))
    return "\n".join(parts)


def _text(content: str, cls: str, lang: str) -> str:
    """A line of text (already escaped HTML) in the language's direction.

    A registered right-to-left language is set right to left even when a prediction starts
    with a Latin letter; for any other the browser decides from the text (dir="auto").
    """
    if not content:
        return f'<dd class="text {cls}"><span class="empty">(empty)</span></dd>'
    direction = "rtl" if language_or_default(lang).rtl else "auto"
    return f'<dd class="text {cls}" dir="{direction}" lang="{escape(lang)}">{content}</dd>'


def _sample_card(run: RunData, row: dict) -> str:
    code = row["language"]
    image = run.image_path(row["id"])
    picture = (
        png_img(image.read_bytes(), f"test line {row['id']}", cls="line")
        if image.exists()
        else '<p class="empty">(image not in test_images/)</p>'
    )
    return (
        f'<div class="sample" data-lang="{escape(code)}">'
        f'<div class="note">{escape(row["id"])} · line CER {pct(row["line_cer"])}</div>{picture}<dl>'
        f"<dt>reference</dt>{_text(escape(row['reference']), 'ref', code)}"
        f"<dt>prediction</dt>{_text(escape(row['prediction']), 'pred', code)}"
        f"<dt>diff</dt>{_text(char_diff_html(row['reference'], row['prediction']), 'diff', code)}"
        "</dl></div>"
    )


def _gallery_section(run: RunData) -> str:
    # The last round whose predictions were kept.
    for last in reversed(run.rounds):
        rows = run.predictions(last["round"])
        if rows:
            break
    else:
        return ""
    by_language: dict[str, list[dict]] = {}
    for row in rows:
        by_language.setdefault(row["language"], []).append(row)
    parts = [
        '<h2 id="samples">Sample lines</h2>',
        f"<p>Predictions of round {last['round']} after normalisation. The diff turns the reference into the "
        'prediction: <del class="del">deleted</del>, <ins class="ins">inserted</ins>, '
        '<del class="sub">old</del><ins class="sub">new</ins> (substituted). Worst = highest line CER; '
        "typical = around the median line CER.</p>",
    ]
    for code, lines in by_language.items():
        picked = pick_samples(lines)
        parts.append(f'<h3 id="samples-{escape(code)}">{_language_label(code)}</h3>')
        for kind in ("worst", "typical"):
            if picked[kind]:
                cards = "".join(_sample_card(run, row) for row in picked[kind])
                parts.append(f'<h4>{kind}</h4><div class="samples">{cards}</div>')
    return "\n".join(parts)


def _metadata_section(run: RunData, summary: dict) -> str:
    meta = summary["run"]
    items = []
    if "command" in meta:
        items.append(("command", f"<code>{escape(shlex.join(map(str, meta['command'])))}</code>"))
    for key in ("seed", "git_commit", "started_utc", "wall_seconds", "base_model"):
        if meta.get(key) is not None:
            items.append((key.replace("_", " "), escape(str(meta[key]))))
    for key in ("parameters", "hardware", "versions"):
        if isinstance(meta.get(key), dict):
            items.append((key, escape(", ".join(f"{k} {v}" for k, v in meta[key].items()))))
    known = {"round", "clients", "seconds", "languages", "client_eval", "skipped", *ROUND_EVENTS}
    extra = sorted({k for r in run.rounds for k in r} - known)
    if extra:
        items.append(("other metrics keys", escape(", ".join(extra)) + " (in metrics.jsonl)"))
    parts = ['<h2 id="run">Run</h2>', table(["item", "value"], [[escape(k), v] for k, v in items])]
    config = run.path / "config.toml"
    if config.exists():
        parts += ["<h3>config.toml</h3>", f"<pre>{escape(config.read_text(encoding='utf-8'))}</pre>"]
    return "\n".join(parts)


def _faults_section(summary: dict) -> str:
    events = summary.get("fault_log") or []
    if not events:
        return ""
    rows = [
        [
            str(e["round"]),
            str(e.get("attempt", 1)),
            escape(str(e.get("client_id", "–"))),
            escape(e["event"]),
            escape(str(e.get("reason") or e.get("detail") or "")),
        ]
        for e in events
    ]
    return '<h2 id="faults">Faults and rejected updates</h2>' + table(
        ["round", "attempt", "client", "event", "detail"], rows, numeric={0, 1, 2}
    )


def _baselines_section(summary: dict) -> str:
    parts = []
    if summary.get("forgetting_points"):
        parts.append(
            "<p>Forgetting (final minus base CER on languages the base already read): "
            f"{escape(forgetting_text(summary))}.</p>"
        )
    rows = []
    for code, row in (summary.get("baselines") or {}).items():
        clients = list((row.get("local-only clients") or {}).values())
        spread = f"{pct(min(clients))} / {pct(max(clients))}" if clients else "–"
        rows.append(
            [
                _language_label(code),
                pct(row["base"]),
                pct(row["federated"]),
                pct(row.get("centralised")),
                ratio_text(row.get("federated / centralised")),
                pct(row.get("local-only")),
                spread,
            ]
        )
    if rows:
        parts += [
            '<h2 id="baselines">Base, federated and baselines</h2>',
            "<p>Final corpus CER. Centralised: one model on the pooled data, same total steps. Local-only: "
            "every client alone on its shard for its average federated share of the steps (pooled over clients; "
            "best / worst client).</p>",
            table(
                [
                    "language",
                    "base",
                    "federated",
                    "centralised",
                    "federated / centralised (95% CI)",
                    "local-only",
                    "best / worst client",
                ],
                rows,
                numeric=range(1, 7),
            ),
        ]
    return "\n".join(parts)


def render_html(run: RunData, summary: dict, figures: dict[str, bytes | None]) -> str:
    """The whole report page; `figures` maps cer, clients, partition, bytes, seconds to PNG bytes."""
    setup = "".join(f"<li>{escape(line)}</li>" for line in describe_setup(run))
    body = "\n".join(
        [
            f"<h1>fedocr report: {escape(run.name)}</h1>",
            f"<ul>{setup}</ul>",
            '<nav><a href="#languages">languages</a><a href="#clients">clients</a>'
            '<a href="#rounds">communication and time</a><a href="#samples">samples</a><a href="#run">run</a></nav>',
            _languages_section(summary, figures),
            _baselines_section(summary),
            _faults_section(summary),
            _clients_section(run, summary, figures),
            _rounds_section(summary, figures),
            _gallery_section(run),
            _metadata_section(run, summary),
        ]
    )
    return page(f"fedocr report: {run.name}", body)
