"""One `fedocr run --preset smoke` end to end, through the console entry point."""

import json
import subprocess
import sys
from collections import defaultdict

import jiwer
import numpy as np
import pytest
from peft import PeftModel

from benchmark.backends import load_backend
from benchmark.config import load_config
from tasks.languages import normalise_for
from tasks.sources import build_datasets


def fedocr(*args, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "benchmark.cli", *args], capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "smoke"
    result = fedocr("run", "--preset", "smoke", "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == str(out)
    return out


def _rounds(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_smoke_run_writes_the_run_directory_contract(smoke_run):
    rounds = _rounds(smoke_run)
    assert [r["round"] for r in rounds] == [0, 1, 2, 3]
    assert sorted(rounds[0]["languages"]) == ["en", "fa", "hi", "ru"]
    for r in rounds:
        for figures in r["languages"].values():
            assert set(figures) >= {"cer", "mean_line_cer", "wer", "lines"}
            assert figures["lines"] == 30
    for r in rounds[1:]:
        assert len(r["clients"]) == 4 and all(c["bytes_up"] > 0 for c in r["clients"])
    assert (smoke_run / "config.toml").exists() and (smoke_run / "run.json").exists()
    report = (smoke_run / "report.md").read_text()
    assert "| fa (Persian) | 30 |" in report and (smoke_run / "cer_vs_round.png").stat().st_size > 5000
    for r in range(4):
        assert (smoke_run / "adapters" / f"global_round_{r}" / "adapter_model.safetensors").exists()


def test_reported_cer_equals_jiwer_over_the_written_predictions(smoke_run):
    for r in _rounds(smoke_run):
        rows = defaultdict(lambda: ([], []))
        for line in (smoke_run / "predictions" / f"round_{r['round']}.jsonl").read_text().splitlines():
            p = json.loads(line)
            rows[p["language"]][0].append(p["reference"])
            rows[p["language"]][1].append(p["prediction"])
        assert set(rows) == set(r["languages"])
        for code, (refs, hyps) in rows.items():
            assert jiwer.cer(refs, hyps) == r["languages"][code]["cer"]


def test_final_adapter_reloads_with_peft_and_reproduces_predictions(smoke_run):
    cfg = load_config(config_file=smoke_run / "config.toml")
    backend = load_backend(cfg.model)
    model = PeftModel.from_pretrained(backend.load(), str(smoke_run / "adapters" / "global_round_3"))
    _, test_sets = build_datasets(cfg.data)
    written = {}
    for line in (smoke_run / "predictions" / "round_3.jsonl").read_text().splitlines():
        p = json.loads(line)
        written[p["id"]] = p["prediction"]
    for code, ds in test_sets.items():
        data = backend.prepare(ds)
        with backend.autocast():  # the run's precision (model.precision)
            predictions = backend.generate(
                model, data, np.arange(len(data)), backend.max_new_tokens(data.texts)
            )
        assert [normalise_for(code, p) for p in predictions] == [written[i] for i in data.ids]


def test_cli_errors_name_the_culprit_without_a_traceback(tmp_path):
    result = fedocr("run", "--preset", "smoke", "--set", "federation.roundz=2", "--out", str(tmp_path / "x"))
    assert result.returncode == 2
    assert "unknown config key 'federation.roundz'" in result.stderr
    assert "Traceback" not in result.stderr
    result = fedocr("report", str(tmp_path))
    assert result.returncode == 2 and "has no metrics.jsonl" in result.stderr


def test_list_commands():
    tasks = fedocr("tasks", "list")
    assert tasks.returncode == 0 and "fa    Persian" in tasks.stdout
    models = fedocr("models", "list")
    assert models.returncode == 0 and "tiny:" in models.stdout and "LoRA targets" in models.stdout
