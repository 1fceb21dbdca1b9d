import csv
import json
import statistics

from benchmark.cli import main


def _final_cer(run_dir, code):
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return rows[-1]["languages"][code]["cer"]


def test_compare_groups_seeds_of_one_setup_and_ranks_setups(make_run, tmp_path, capsys):
    seed0, seed1 = make_run("a", seed=0), make_run("b", seed=1)
    other = make_run("c", seed=0, alpha=5.0, rounds=1)
    out = tmp_path / "board"
    assert main(["compare", str(seed0), str(seed1), str(other), "--out", str(out)]) == 0
    assert capsys.readouterr().out.split() == [str(out / "leaderboard.html"), str(out / "leaderboard.csv")]

    board = list(csv.DictReader((out / "leaderboard.csv").open(encoding="utf-8")))
    assert [row["runs"] for row in board] == ["2", "1"]
    seeds, single = board
    assert seeds["seeds"] == "0;1" and single["seeds"] == "0"
    assert "alpha=0.5" in seeds["setup"] and "alpha=5.0" in single["setup"]
    for code in ("fa", "en"):
        finals = [_final_cer(seed0, code), _final_cer(seed1, code)]
        assert float(seeds[f"{code}_cer_mean"]) == statistics.fmean(finals)
        assert float(seeds[f"{code}_cer_std"]) == statistics.stdev(finals)
        assert float(single[f"{code}_cer_mean"]) == _final_cer(other, code)
        assert single[f"{code}_cer_std"] == ""
    assert float(seeds["mean_cer"]) < float(single["mean_cer"])

    page = (out / "leaderboard.html").read_text(encoding="utf-8")
    assert "±" in page and "<script" not in page and "../a/report.html" not in page


def test_compare_links_reports_that_exist(make_run, tmp_path):
    from reports.report import write_report

    run = make_run("a")
    write_report(run)
    assert main(["compare", str(run), "--out", str(tmp_path / "board")]) == 0
    assert 'href="../a/report.html"' in (tmp_path / "board" / "leaderboard.html").read_text()


def test_compare_refuses_a_folder_that_is_not_a_run(make_run, tmp_path, capsys):
    assert main(["compare", str(make_run("a")), str(tmp_path), "--out", str(tmp_path / "board")]) == 2
    assert "has no metrics.jsonl" in capsys.readouterr().err
