"""The in-process engine: resume after SIGKILL, client faults, the privacy boundary."""

import json
import math
import random
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from benchmark import runner
from benchmark.config import load_config
from benchmark.strategies import Strategy
from clients.client import UPDATE_METRICS, Update

# Micro scale: an untrained model (no dependency on the shipped base), 2 languages, 1 thread.
MICRO = [
    "model.size=random",
    "model.threads=1",
    "data.languages=fa,en",
    "data.train_per_language=40",
    "data.test_per_language=8",
    "partition.num_clients=3",
    "partition.min_size=4",
    "train.local_steps=3",
    "train.batch_size=4",
]


def _fedocr(*args, log, **kwargs):
    """Start `fedocr ARGS`; its output goes to the file `log` (a pipe nobody reads would block it)."""
    with open(log, "w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "benchmark.cli", *args, "--no-report"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _metrics_without_timings(run_dir):
    rows = []
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        row = json.loads(line)
        row.pop("seconds")
        for client in row["clients"]:
            client.pop("seconds")
        rows.append(row)
    return rows


def test_sigkill_after_round_one_then_resume_is_bit_identical(tmp_path):
    config = ["--preset", "smoke", "--set", *MICRO, "federation.rounds=4"]
    reference = _fedocr("run", *config, "--out", str(tmp_path / "reference"), log=tmp_path / "reference.log")
    victim = _fedocr("run", *config, "--out", str(tmp_path / "victim"), log=tmp_path / "victim.log")
    metrics = tmp_path / "victim" / "metrics.jsonl"
    deadline = time.time() + 300
    while not (metrics.exists() and len(metrics.read_text().splitlines()) >= 2):
        assert victim.poll() is None, (tmp_path / "victim.log").read_text()[-2000:]
        assert time.time() < deadline, "round 1 never finished"
        time.sleep(0.05)
    time.sleep(random.uniform(0.0, 1.0))  # a random point after round 1
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert victim.returncode == -signal.SIGKILL
    done = len(metrics.read_text().splitlines())
    assert done < 5, "the run finished before it could be killed"

    resumed = _fedocr("run", "--resume", str(tmp_path / "victim"), log=tmp_path / "resumed.log")
    resumed.wait(timeout=600)
    log = (tmp_path / "resumed.log").read_text()
    assert resumed.returncode == 0, log[-2000:]
    assert "resuming after round" in log
    reference.wait(timeout=600)
    assert reference.returncode == 0, (tmp_path / "reference.log").read_text()[-2000:]

    final = "adapters/global_round_4/adapter_model.safetensors"
    a, b = load_file(tmp_path / "reference" / final), load_file(tmp_path / "victim" / final)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert _metrics_without_timings(tmp_path / "victim") == _metrics_without_timings(tmp_path / "reference")
    for r in range(5):
        assert (tmp_path / "victim" / "predictions" / f"round_{r}.jsonl").read_bytes() == (
            tmp_path / "reference" / "predictions" / f"round_{r}.jsonl"
        ).read_bytes()


@pytest.fixture
def captured_updates(monkeypatch):
    """Every list of updates the server aggregates, as it received them."""
    seen: list[list] = []
    real = Strategy.aggregate

    def spy(self, global_adapter, updates, *args):
        seen.append(list(updates))
        return real(self, global_adapter, updates, *args)

    monkeypatch.setattr(Strategy, "aggregate", spy)
    return seen


def test_faulty_clients_never_stop_the_run_and_nan_never_reaches_the_aggregate(tmp_path, captured_updates):
    cfg = load_config(
        "smoke",
        None,
        [
            *MICRO,
            "partition.num_clients=10",
            "partition.scheme=iid",
            "federation.rounds=3",
            "faults.crash_prob=0.3",
            "faults.nan_prob=0.1",
        ],
    )
    run_dir = runner.run(cfg, tmp_path / "faulty")
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["round"] for r in rows] == [0, 1, 2, 3]
    faults = [f for r in rows[1:] for f in r["faults"]]
    assert {f["kind"] for f in faults} >= {"crash", "nan"}
    nan_clients = {(r["round"], f["client_id"]) for r in rows[1:] for f in r["faults"] if f["kind"] == "nan"}
    rejected = {(r["round"], x["client_id"]) for r in rows[1:] for x in r["rejected"]}
    assert nan_clients <= rejected
    for updates in captured_updates:
        for u in updates:
            assert all(torch.isfinite(t).all() for t in u.tensors.values())
    final = load_file(run_dir / "adapters" / "global_round_3" / "adapter_model.safetensors")
    assert all(torch.isfinite(t).all() for t in final.values())
    from reports.report import write_report

    write_report(run_dir)
    report = (run_dir / "report.md").read_text()
    for r in rows[1:]:
        for f in r["faults"]:
            assert f"| {r['round']} | {f['attempt']} | {f['client_id']} | {f['kind']} |" in report


def test_too_few_clients_skips_the_round_and_keeps_the_global_adapter(tmp_path):
    cfg = load_config(
        "smoke", None, [*MICRO, "federation.rounds=1", "federation.min_clients=3", "faults.dropout_prob=1.0"]
    )
    run_dir = runner.run(cfg, tmp_path / "dropped")
    last = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["skipped"] is True and len(last["faults"]) == 3
    a = load_file(run_dir / "adapters" / "global_round_0" / "adapter_model.safetensors")
    b = load_file(run_dir / "adapters" / "global_round_1" / "adapter_model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_server_receives_only_updates_of_adapter_tensors_and_whitelisted_scalars(tmp_path, captured_updates):
    cfg = load_config("smoke", None, [*MICRO, "federation.rounds=1"])
    run_dir = runner.run(cfg, tmp_path / "privacy")
    adapter = load_file(run_dir / "adapters" / "global_round_1" / "adapter_model.safetensors")
    assert captured_updates, "the server aggregated nothing"
    for updates in captured_updates:
        for u in updates:
            assert type(u) is Update
            # The same tensors as the adapter file (PEFT drops the adapter name when saving).
            assert {k.replace(".default", "") for k in u.tensors} == set(adapter)
            assert set(u.metrics) <= UPDATE_METRICS
            assert all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in u.metrics.values())
            assert all(t.dtype.is_floating_point for t in u.tensors.values())


def test_resume_of_a_finished_run_changes_nothing(tmp_path):
    cfg = load_config("smoke", None, [*MICRO, "federation.rounds=1"])
    run_dir = runner.run(cfg, tmp_path / "done")
    before = (run_dir / "metrics.jsonl").read_text()
    runner.resume(run_dir)
    assert (run_dir / "metrics.jsonl").read_text() == before
    assert math.isfinite(json.loads(before.splitlines()[-1])["languages"]["fa"]["cer"])


def test_resume_needs_a_run_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="has no config.toml"):
        runner.resume(tmp_path)
    proc = _fedocr("run", "--resume", str(tmp_path), log=tmp_path / "log")
    proc.wait(timeout=120)
    err = (tmp_path / "log").read_text()
    assert proc.returncode == 2 and "has no config.toml" in err and "Traceback" not in err


def test_cyclic_sampling_trains_every_client_once_per_cycle():
    seen = [runner.cyclic_clients(7, r, 8, 4) for r in range(1, 7)]
    for cycle in range(3):
        first, second = seen[2 * cycle], seen[2 * cycle + 1]
        assert sorted(first + second) == list(range(8))  # every client exactly once per cycle
    assert seen[:2] != seen[2:4]  # each cycle is a fresh permutation
    assert seen == [runner.cyclic_clients(7, r, 8, 4) for r in range(1, 7)]  # a function of seed and round
    # 5 clients, 2 a round: cycles of 3 rounds; the short third round is topped up from the first
    for cycle in range(4):
        rounds = [runner.cyclic_clients(0, 3 * cycle + k, 5, 2) for k in (1, 2, 3)]
        assert all(len(set(ids)) == 2 for ids in rounds)
        assert set().union(*rounds) == set(range(5))
    assert runner.cyclic_clients(0, 4, 3, 3) == [0, 1, 2]


def test_a_cyclic_run_samples_the_cyclic_clients(tmp_path):
    cfg = load_config(
        "smoke",
        None,
        [*MICRO, "federation.rounds=2", "federation.clients_per_round=2", "federation.sampling=cyclic"],
    )
    rows = _metrics_without_timings(runner.run(cfg, tmp_path / "run"))
    for row in rows[1:]:
        assert [c["client_id"] for c in row["clients"]] == runner.cyclic_clients(cfg.seed, row["round"], 3, 2)
