"""The in-process engine: one resident base model; clients are adapter tensors + shards.

Run directory contract:
  config.toml                      resolved config (reloads with --config)
  run.json                         command, versions, hardware, timings
  partition.json                   rows per language for every client
  metrics.jsonl                    one JSON object per evaluated round (round 0 = base)
  predictions/round_<r>.jsonl      {"id","language","reference","prediction"} as scored
  adapters/global_round_<r>/       PEFT adapter folder (PeftModel.from_pretrained)
  test_images/<id>.png             every test line image, named by its id
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from benchmark.adapters import AdapterSlots, parameter_counts, wrap_with_lora
from benchmark.backends import load_backend
from benchmark.config import RunConfig, to_toml
from benchmark.evaluate import evaluate
from benchmark.strategies import aggregate
from clients.client import Client, LocalTraining, Workspace
from clients.partition import language_counts, partition
from tasks.sources import build_datasets


def new_run_dir(cfg: RunConfig, out: str | Path | None) -> Path:
    if out:
        run_dir = Path(out)
    else:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        run_dir = Path("runs") / f"{cfg.name}-{stamp}"
    if (run_dir / "metrics.jsonl").exists():
        raise FileExistsError(f"{run_dir} already holds a run; choose another --out")
    (run_dir / "predictions").mkdir(parents=True, exist_ok=True)
    (run_dir / "adapters").mkdir(exist_ok=True)
    return run_dir


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    os.replace(tmp, path)


def _append_jsonl(path: Path, row: dict) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def _git_commit() -> str | None:
    import subprocess

    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("torch", "transformers", "peft", "datasets", "jiwer", "pillow"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


def run(cfg: RunConfig, out: str | Path | None = None, command: list[str] | None = None) -> Path:
    """Run one federated benchmark and return its run directory."""
    t_start = time.perf_counter()
    started = datetime.now(UTC).isoformat(timespec="seconds")
    if cfg.model.threads:
        torch.set_num_threads(cfg.model.threads)
    torch.manual_seed(cfg.seed)
    run_dir = new_run_dir(cfg, out)
    (run_dir / "config.toml").write_text(to_toml(cfg), encoding="utf-8")
    print(f"run directory: {run_dir}", file=sys.stderr)

    t0 = time.perf_counter()
    train_pool, test_sets = build_datasets(cfg.data)
    data_seconds = time.perf_counter() - t0

    backend = load_backend(cfg.model)
    base = backend.load()
    model = wrap_with_lora(base, cfg.lora, backend.default_targets)
    slots = AdapterSlots(model)
    trainable, total = parameter_counts(model)
    print(
        f"model {backend.name}: {trainable:,} trainable / {total:,} parameters "
        f"({100 * trainable / total:.2f}%), LoRA on {sum('lora_A' in k for k in slots.params)} modules",
        file=sys.stderr,
    )

    # Test images go into the run directory, so that reports can show them next to predictions.
    image_dir = run_dir / "test_images"
    image_dir.mkdir(exist_ok=True)
    for ds in test_sets.values():
        for row in ds.select_columns(["id", "image"]):
            row["image"].save(image_dir / f"{row['id']}.png")
    pool = backend.prepare(train_pool)
    tests = {code: backend.prepare(ds) for code, ds in test_sets.items()}
    rng = np.random.default_rng(cfg.seed)
    shards = partition(
        cfg.partition.scheme,
        pool.languages,
        cfg.partition.num_clients,
        rng,
        alpha=cfg.partition.alpha,
        min_size=cfg.partition.min_size,
    )
    clients = [Client(i, shard, cfg.seed) for i, shard in enumerate(shards)]
    counts = language_counts(pool.languages, shards)
    (run_dir / "partition.json").write_text(
        json.dumps(
            {
                "scheme": cfg.partition.scheme,
                "alpha": cfg.partition.alpha,
                "clients": [
                    {"client_id": c.client_id, "num_examples": len(c.shard), "languages": n}
                    for c, n in zip(clients, counts)
                ],
            },
            indent=1,
        )
    )

    ws = Workspace(model=model, slots=slots, backend=backend, data=pool)
    training = LocalTraining(
        cfg.train.local_steps,
        cfg.train.batch_size,
        cfg.train.lr,
        cfg.train.weight_decay,
        cfg.train.max_grad_norm,
    )
    global_state = slots.read()
    per_round = cfg.federation.clients_per_round or len(clients)
    metrics_path = run_dir / "metrics.jsonl"

    def evaluate_and_record(round_num: int, record: dict) -> None:
        t_eval = time.perf_counter()
        slots.write(global_state)
        results, rows = evaluate(
            model,
            backend,
            tests,
            cfg.eval.batch_size,
            cfg.eval.max_new_tokens,
            desc=f"evaluate round {round_num}",
        )
        _write_jsonl(run_dir / "predictions" / f"round_{round_num}.jsonl", rows)
        adapter_dir = run_dir / "adapters" / f"global_round_{round_num}"
        model.save_pretrained(str(adapter_dir))
        record["seconds"]["evaluate"] = time.perf_counter() - t_eval
        record["languages"] = results
        _append_jsonl(metrics_path, {"round": round_num, **record})
        summary = "  ".join(f"{c} {100 * r['cer']:.1f}%" for c, r in results.items())
        tqdm.write(f"round {round_num}: CER {summary}", file=sys.stderr)

    evaluate_and_record(0, {"clients": [], "seconds": {}})
    for round_num in tqdm(range(1, cfg.federation.rounds + 1), desc="rounds", file=sys.stderr):
        t_round = time.perf_counter()
        sampled = sorted(rng.choice(len(clients), size=per_round, replace=False).tolist())
        updates = []
        for cid in tqdm(sampled, desc=f"round {round_num} clients", leave=False, file=sys.stderr):
            updates.append(clients[cid].fit(ws, global_state, round_num, training))
        train_seconds = time.perf_counter() - t_round
        t_agg = time.perf_counter()
        global_state = aggregate(cfg.federation.strategy, updates)
        down = slots.nbytes()
        record = {
            "clients": [
                {
                    "client_id": u.client_id,
                    "num_examples": u.num_examples,
                    **u.metrics,
                    "bytes_up": u.nbytes(),
                    "bytes_down": down,
                }
                for u in updates
            ],
            "seconds": {"train": train_seconds, "aggregate": time.perf_counter() - t_agg},
        }
        evaluate_and_record(round_num, record)

    (run_dir / "run.json").write_text(
        json.dumps(
            {
                "command": command or sys.argv,
                "started_utc": started,
                "wall_seconds": round(time.perf_counter() - t_start, 2),
                "data_seconds": round(data_seconds, 2),
                "versions": _versions(),
                "git_commit": _git_commit(),
                "hardware": {
                    "platform": platform.platform(),
                    "cpus": os.cpu_count(),
                    "device": str(backend.device),
                    "torch_threads": torch.get_num_threads(),
                },
                "parameters": {"trainable": trainable, "total": total},
                "base_model": backend.base_id,
            },
            indent=1,
        )
    )
    return run_dir
