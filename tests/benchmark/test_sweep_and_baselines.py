"""Sweeps (a grid of runs, resumable) and the centralised / local-only baselines."""

import csv
import json

import pytest

from benchmark.baselines import centralised_config, local_only_steps, run_baselines
from benchmark.config import ConfigError, load_config
from benchmark.runner import run
from benchmark.sweep import plan, run_sweep
from reports.report import write_report

MICRO = [
    "model.size=random",
    "model.threads=1",
    "data.languages=fa,en",
    "data.train_per_language=24",
    "data.test_per_language=6",
    "partition.num_clients=2",
    "partition.min_size=4",
    "train.local_steps=2",
    "train.batch_size=4",
    "federation.rounds=1",
]


def _sweep_file(tmp_path, grid: str) -> str:
    path = tmp_path / "sweep.toml"
    path.write_text(
        f"""[sweep]
preset = "smoke"
set = {json.dumps(MICRO)}
out = "{tmp_path / "sweep"}"
target_cer = 1.5

[sweep.grid]
{grid}
"""
    )
    return str(path)


def test_sweep_runs_every_cell_once_and_writes_a_leaderboard(tmp_path):
    sweep = _sweep_file(tmp_path, '"federation.strategy" = ["fedavg", "fedex-lora"]\nseed = [0, 1]')
    board = run_sweep(sweep)
    cells = sorted(p.name for p in (tmp_path / "sweep").iterdir() if p.name != "leaderboard")
    assert cells == [
        "strategy=fedavg,seed=0",
        "strategy=fedavg,seed=1",
        "strategy=fedex-lora,seed=0",
        "strategy=fedex-lora,seed=1",
    ]
    rows = list(csv.DictReader(open(board / "leaderboard.csv")))
    assert len(rows) == 2 and all(r["runs"] == "2" for r in rows)  # seeds pooled per strategy
    assert all(float(r["bytes_up_per_round"]) > 0 and r["rounds_to_target"] == "0.0" for r in rows)
    stamps = {c: (tmp_path / "sweep" / c / "run.json").stat().st_mtime_ns for c in cells}
    run_sweep(sweep)  # finished cells are not run again
    assert stamps == {c: (tmp_path / "sweep" / c / "run.json").stat().st_mtime_ns for c in cells}


def test_sweep_cells_are_validated_before_anything_runs(tmp_path):
    with pytest.raises(ConfigError, match="sweep cell strategy=fedprox: federation.strategy = 'fedprox'"):
        plan(_sweep_file(tmp_path, '"federation.strategy" = ["fedavg", "fedprox"]'))
    assert not (tmp_path / "sweep").exists()


def test_centralised_baseline_takes_the_same_total_steps():
    cfg = load_config("default")
    central = centralised_config(cfg)
    per_round = cfg.federation.clients_per_round
    assert central.partition.num_clients == 1
    assert central.train.local_steps == cfg.train.local_steps * per_round
    assert central.federation.rounds == cfg.federation.rounds


def test_local_only_clients_take_their_average_federated_share_of_steps():
    cfg = load_config("default")  # 10 rounds x 40 steps, 4 of 8 clients per round
    assert local_only_steps(cfg) == 200
    everyone = load_config("default", None, ["federation.clients_per_round=0"])
    assert local_only_steps(everyone) == 400
    assert local_only_steps(load_config("default", None, ["federation.rounds=1", "train.local_steps=1"])) == 1


def test_baselines_run_beside_the_federated_run_and_reach_the_report(tmp_path):
    cfg = load_config("smoke", None, [*MICRO, "federation.rounds=2", "baselines=centralised,local-only"])
    run_dir = run(cfg, tmp_path / "fed")
    out = run_baselines(cfg, run_dir)
    assert set(out) == {"centralised", "local-only"}
    local = [json.loads(line) for line in (out["local-only"] / "metrics.jsonl").read_text().splitlines()]
    assert [r["round"] for r in local] == [0, 2]
    assert set(local[-1]["client_eval"]) == {"0", "1"}
    # 2 rounds x 2 local steps, every client sampled: each local-only client takes 4 steps
    assert [c["local_steps"] for c in local[-1]["clients"]] == [4, 4]
    assert (out["local-only"] / "adapters" / "client_1_round_2" / "adapter_model.safetensors").exists()
    write_report(run_dir)
    summary = json.loads((run_dir / "summary.json").read_text())
    fa = summary["baselines"]["fa"]
    assert set(fa) >= {"base", "federated", "centralised", "local-only"}
    if fa["centralised"] > 0:  # the paired ratio is the ratio of the two CERs, inside its interval
        ratio = fa["federated / centralised"]
        assert ratio["ratio"] == pytest.approx(fa["federated"] / fa["centralised"])
        assert ratio["ci"][0] <= ratio["ratio"] <= ratio["ci"][1]
    assert "## Base, federated and baselines" in (run_dir / "report.md").read_text()
    assert 'id="baselines"' in (run_dir / "report.html").read_text()
