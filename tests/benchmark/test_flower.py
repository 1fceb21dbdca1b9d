"""The Flower engine: the same run as the in-process engine, and a deployment on loopback."""

import importlib.util
import json
import os

import psutil
import pytest
import torch
from safetensors.torch import load_file

from benchmark import runner
from benchmark.config import load_config

pytestmark = pytest.mark.skipif(
    (importlib.util.find_spec("flwr") is None or importlib.util.find_spec("ray") is None)
    and not os.environ.get("CI"),
    reason="flwr[simulation] is not installed (pip install -e '.[flower]'); CI installs it and runs these",
)

# Micro scale: an untrained model (no dependency on the shipped base), 2 languages, 1 thread.
MICRO = [
    "model.size=random",
    "model.threads=1",
    "data.languages=fa,en",
    "data.train_per_language=40",
    "data.test_per_language=8",
    "partition.min_size=4",
    "train.local_steps=3",
    "train.batch_size=4",
]


def _rows(run_dir):
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    for row in rows:
        row.pop("seconds")
        for client in row["clients"]:
            client.pop("seconds")
    return rows


def test_flower_simulation_trains_the_same_global_adapter_as_the_in_process_engine(tmp_path):
    # 3 clients, 2 sampled per round: round 1 samples clients 1 and 2 and client 1 crashes
    # (seed 1), round 2 aggregates clients 0 and 2. Sampling, the crash path and aggregation
    # must all match the in-process engine.
    overrides = [
        *MICRO,
        "seed=1",
        "partition.num_clients=3",
        "federation.clients_per_round=2",
        "federation.rounds=2",
        "faults.crash_prob=0.2",
    ]
    reference = runner.run(load_config("smoke", None, overrides), tmp_path / "inprocess")
    # One Ray worker serves all three SuperNodes (and keeps a 2-core machine responsive).
    flower_cfg = load_config("smoke", None, [*overrides, "engine=flower", "flower.ray_num_cpus=1"])
    flower = runner.run(flower_cfg, tmp_path / "flower")

    initial = load_file(reference / "adapters/global_round_0/adapter_model.safetensors")
    for r in (1, 2):
        name = f"adapters/global_round_{r}/adapter_model.safetensors"
        a, b = load_file(reference / name), load_file(flower / name)
        assert a.keys() == b.keys()
        assert max(float((a[k] - b[k]).abs().max()) for k in a) <= 1e-5
        assert any(not torch.equal(a[k], initial[k]) for k in a)  # the round did train

    expected, got = _rows(reference), _rows(flower)
    assert [r["round"] for r in got] == [0, 1, 2]
    assert [[c["client_id"] for c in r["clients"]] for r in got] == [[], [2], [0, 2]]
    assert [f["kind"] for f in got[1]["faults"]] == ["crash"]
    for want, have in zip(expected, got):
        assert have["languages"].keys() == want["languages"].keys()
        for code, figures in want["languages"].items():
            assert have["languages"][code]["cer"] == pytest.approx(figures["cer"], abs=1e-9)
    assert got == expected  # every other figure too: losses, bytes, faults, CER, WER, ...
    for r in range(3):
        name = f"predictions/round_{r}.jsonl"
        assert (flower / name).read_text() == (reference / name).read_text()

    assert (flower / "partition.json").read_text() == (reference / "partition.json").read_text()
    assert sorted(p.name for p in (flower / "test_images").iterdir()) == sorted(
        p.name for p in (reference / "test_images").iterdir()
    )
    assert 'engine = "flower"' in (flower / "config.toml").read_text()
    assert json.loads((flower / "run.json").read_text())["engine"]["name"] == "flower"


def test_scaffold_and_fedprox_on_flower_match_the_in_process_engine(tmp_path):
    # The correction travels in the train message and the control variates in the reply.
    overrides = [
        *MICRO,
        "partition.num_clients=3",
        "federation.clients_per_round=2",
        "federation.rounds=2",
        "federation.strategy=scaffold",
        "train.prox_mu=0.1",
    ]
    reference = runner.run(load_config("smoke", None, overrides), tmp_path / "inprocess")
    flower = runner.run(
        load_config("smoke", None, [*overrides, "engine=flower", "flower.ray_num_cpus=1"]),
        tmp_path / "flower",
    )
    for r in (1, 2):
        name = f"adapters/global_round_{r}/adapter_model.safetensors"
        a, b = load_file(reference / name), load_file(flower / name)
        assert max(float((a[k] - b[k]).abs().max()) for k in a) <= 1e-5
    want, got = runner.RunState.load(reference).strategy, runner.RunState.load(flower).strategy
    assert sorted(got["client_controls"]) == sorted(want["client_controls"])
    assert max(float((want["control"][k] - got["control"][k]).abs().max()) for k in want["control"]) <= 1e-5
    assert any(float(c.abs().max()) > 0 for c in got["control"].values())


def test_loopback_deployment_runs_a_round_and_stops_every_process_it_started(tmp_path):
    from benchmark.flower.loopback import flwr_run, loopback_federation

    run_dir = tmp_path / "run"
    overrides = " ".join([*MICRO, "partition.num_clients=2", "federation.rounds=1"])
    started: list[psutil.Process] = []
    with loopback_federation(2, tmp_path / "federation") as fed:
        result = flwr_run(fed, f"preset='smoke' set='{overrides}' out='{run_dir}'", timeout=600)
        for proc in fed.procs:
            started += [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    logs = "\n".join(f"--- {p.name}\n{p.read_text()[-1500:]}" for p in fed.logs)
    assert result.returncode == 0, result.stdout[-3000:] + logs

    assert len(started) >= 3  # the SuperLink, 2 SuperNodes (and their SuperExec processes)
    assert not [p.pid for p in started if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]

    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["round"] for r in rows] == [0, 1], result.stdout[-3000:] + logs
    assert sorted(c["client_id"] for c in rows[1]["clients"]) == [0, 1]
    assert set(rows[1]["languages"]) == {"fa", "en"}
    for name in (
        "config.toml",
        "run.json",
        "partition.json",
        "predictions/round_1.jsonl",
        "adapters/global_round_1/adapter_model.safetensors",
        "report.md",
    ):
        assert (run_dir / name).exists(), name
    assert len(list((run_dir / "test_images").glob("*.png"))) == 16
    assert json.loads((run_dir / "run.json").read_text())["engine"]["launcher"] == "flwr run"


def test_messages_carry_scaffold_corrections_and_control_variates():
    from benchmark.flower.task import (
        job_from_content,
        job_message_content,
        reply_content,
        update_from_content,
    )
    from clients.client import Update
    from clients.faults import FaultPlan

    start = {"m.lora_A.weight": torch.randn(2, 3), "m.lora_B.weight": torch.randn(4, 2)}
    correction = {n: torch.randn_like(t) for n, t in start.items()}
    job = runner.ClientJob(3, 2, 1, 2, start, FaultPlan(), correction=correction)
    got = job_from_content(job_message_content(job, "name = 'x'"), start)
    assert all(torch.equal(got.correction[n], t) for n, t in correction.items())
    assert (
        job_from_content(
            job_message_content(runner.ClientJob(3, 2, 1, 2, start, FaultPlan()), ""), start
        ).correction
        is None
    )

    controls = {n: torch.randn_like(t) for n, t in start.items()}
    update = Update(3, start, 7, {"train_loss": 1.5}, controls=controls)
    back = update_from_content(reply_content(update, 3), job)
    assert all(torch.equal(back.controls[n], t) for n, t in controls.items())
    assert all(torch.equal(back.tensors[n], t) for n, t in start.items())
    assert dict(update_from_content(reply_content(Update(3, start, 7), 3), job).controls) == {}
