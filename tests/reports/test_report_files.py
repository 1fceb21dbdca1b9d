import csv
import json
import re

import pytest

from benchmark.cli import main
from reports.report import write_report
from reports.rundir import read_run
from reports.summary import client_cer


def _metrics(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_summary_and_csv_figures_equal_metrics_jsonl(run_dir):
    write_report(run_dir)
    rows = _metrics(run_dir)
    summary = json.loads((run_dir / "summary.json").read_text())
    table = list(csv.DictReader((run_dir / "per_language.csv").open(encoding="utf-8")))
    assert {(row["language"], row["stage"]) for row in table} == {
        (code, stage) for code in ("fa", "en") for stage in ("base", "best", "final")
    }
    for code in ("fa", "en"):
        best = min(rows[1:], key=lambda r: r["languages"][code]["cer"])
        expected = {"base": rows[0], "best": best, "final": rows[-1]}
        for stage, row in expected.items():
            figures = row["languages"][code]
            entry = dict(summary["languages"][code][stage])
            if stage != "best":  # base and final carry a bootstrap interval around the figure
                low, high = entry.pop("cer_ci95")
                assert low <= figures["cer"] <= high
            assert entry == {"round": row["round"], **figures}
            [line] = [t for t in table if t["language"] == code and t["stage"] == stage]
            assert int(line["round"]) == row["round"]
            for key, value in figures.items():
                assert float(line[key]) == value, (code, stage, key)
    assert summary["languages"]["fa"]["normalisation"] == "persian"
    assert [r["bytes_up"] for r in summary["rounds"]] == [0, 3000, 3000]
    assert [r.get("faults") for r in summary["rounds"]] == [None, None, 1]


def test_client_cer_reweights_the_global_predictions_by_each_clients_language_mix(run_dir):
    run = read_run(run_dir)
    rows = _metrics(run_dir)
    spread = {c["round"]: c for c in client_cer(run)}
    fa, en = rows[1]["languages"]["fa"], rows[1]["languages"]["en"]
    # Client 0 holds 3 fa rows and 1 en row: weights 3/4 and 1/4.
    expected = (0.75 * fa["char_edits"] + 0.25 * en["char_edits"]) / (
        0.75 * fa["ref_chars"] + 0.25 * en["ref_chars"]
    )
    assert spread[1]["clients"]["0"] == pytest.approx(expected)
    assert spread[1]["clients"]["1"] == pytest.approx(en["cer"])
    values = sorted(spread[1]["clients"].values())
    assert spread[1]["p10"] <= spread[1]["mean"] <= spread[1]["p90"]
    assert values[0] <= spread[1]["p10"] and spread[1]["p90"] <= values[-1]
    assert {c["method"] for c in spread.values()} == {"reweighted"}


def test_explicit_client_evaluation_wins_over_reweighting(run_dir):
    rows = _metrics(run_dir)
    rows[-1]["client_eval"] = {
        "0": {"fa": {"char_edits": 1, "ref_chars": 10}, "en": {"char_edits": 1, "ref_chars": 10}},
        "1": {"en": {"cer": 0.5}},
    }
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    last = client_cer(read_run(run_dir))[-1]
    assert last["method"] == "client_eval"
    assert last["clients"] == {"0": 0.1, "1": 0.5}
    assert "own data" in write_report(run_dir).read_text()


def test_report_html_is_self_contained_escaped_and_complete(run_dir):
    page = write_report(run_dir).read_text(encoding="utf-8")
    assert "<script" not in page
    # Every link or image source is inline data or an anchor on the page.
    assert all(v.startswith(("data:", "#")) for v in re.findall(r'(?:src|href)="([^"]*)"', page))
    images = re.findall(r'<img class="(\w+)"', page)
    assert images.count("plot") == 5 and images.count("line") >= 4
    assert "a lazy dog &lt;b&gt;&amp;" in page and "<b>&" not in page
    assert '<del class="del">' in page and '<ins class="sub">' in page
    for text in (
        "persian",
        "re-weighted",
        "0123abc",
        "fedocr run --preset smoke",
        "<th>faults</th>",
        "baseline",
        "alpha = 0.5",
    ):
        assert text in page
    assert "Tesseract baseline: not measured" in page
    assert (run_dir / "report.md").read_text().count("| fa (Persian) | 3 |") == 1
    assert (run_dir / "cer_vs_round.png").stat().st_size > 1000


def test_a_bare_run_directory_still_gets_a_report(tmp_path):
    rows = [
        {"round": 0, "languages": {"fa": {"cer": 1.0}}},
        {"round": 1, "clients": [{"client_id": 0}]},
        {"round": 2, "languages": {"fa": {"cer": 0.5}, "xx": {"cer": 0.2, "lines": 1}}},
    ]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    page = write_report(tmp_path).read_text()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["languages"]["fa"]["best"] == {"round": 2, "cer": 0.5}
    assert summary["languages"]["xx"]["base"]["round"] == 2
    assert summary["clients"] == []
    assert "Sample lines" not in page and "CER per language" in page


def test_cli_report_prints_the_html_path_and_refuses_a_non_run_directory(run_dir, tmp_path, capsys):
    assert main(["report", str(run_dir)]) == 0
    assert capsys.readouterr().out.strip() == str(run_dir / "report.html")
    assert main(["report", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("fedocr: error:") and "not a directory" in err and "\n" not in err
