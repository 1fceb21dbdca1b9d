"""Baselines in the run-directory format, to put the federated result in context.

- zero-shot: round 0 of every run (the base model with an empty adapter).
- centralised: one client holding the pooled data, trained for the same total number of
  local steps per round as all the federated clients of a round together.
- local-only: every client trains its own adapter on its own shard, with no aggregation, for
  as many local steps as it takes on average in the federation (rounds x local steps x the
  fraction of clients sampled per round); each client's adapter is scored on every test set.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

from tqdm.auto import tqdm

from benchmark.config import RunConfig, to_toml
from benchmark.evaluate import evaluate
from benchmark.metrics import score
from benchmark.runner import (
    _append_jsonl,
    _write_partition,
    _write_text_atomic,
    local_training,
    new_run_dir,
    run,
    setup,
)


def centralised_config(cfg: RunConfig) -> RunConfig:
    """The federated config turned into one client with all the data and the same steps."""
    per_round = cfg.federation.clients_per_round or cfg.partition.num_clients
    return dataclasses.replace(
        cfg,
        name=f"{cfg.name}-centralised",
        baselines=[],
        partition=dataclasses.replace(cfg.partition, scheme="iid", num_clients=1, min_size=1),
        federation=dataclasses.replace(
            cfg.federation, clients_per_round=0, strategy="fedavg", min_clients=1, round_deadline=0.0
        ),
        train=dataclasses.replace(cfg.train, local_steps=cfg.train.local_steps * per_round),
        faults=type(cfg.faults)(),
    )


def local_only_steps(cfg: RunConfig) -> int:
    """A client's average share of the federated local steps: rounds x local steps x the
    fraction of clients sampled per round (at least one step)."""
    n = cfg.partition.num_clients
    per_round = min(cfg.federation.clients_per_round or n, n)
    return max(1, round(cfg.federation.rounds * cfg.train.local_steps * per_round / n))


def run_local_only(cfg: RunConfig, out: Path) -> Path:
    """Every client alone: its own adapter, its own shard, its federated share of the steps;
    scored per client."""
    cfg = dataclasses.replace(cfg, name=f"{cfg.name}-local-only", baselines=[], faults=type(cfg.faults)())
    run_dir = new_run_dir(cfg, out)
    _write_text_atomic(run_dir / "config.toml", to_toml(cfg))
    t_start = time.perf_counter()
    su = setup(cfg)
    ws = su.ws
    _write_partition(run_dir, cfg, su.clients, su.shard_languages)
    training = dataclasses.replace(local_training(cfg), steps=local_only_steps(cfg), rounds=1)
    initial = ws.slots.read()
    ws.slots.write(initial)
    base, _ = evaluate(
        ws.model,
        ws.backend,
        su.tests,
        cfg.eval.batch_size,
        cfg.eval.max_new_tokens,
        "evaluate base",
        caches=su.test_features,
    )
    _append_jsonl(run_dir / "metrics.jsonl", {"round": 0, "clients": [], "seconds": {}, "languages": base})
    client_eval, reports, rows = {}, [], []
    t_train = time.perf_counter()
    for client in tqdm(su.clients, desc="local-only clients", file=sys.stderr):
        update = client.fit(ws, initial, 1, training)
        adapter = dict(update.tensors)
        reports.append({"client_id": client.client_id, "num_examples": update.num_examples, **update.metrics})
        ws.slots.write(adapter)
        results, predictions = evaluate(
            ws.model,
            ws.backend,
            su.tests,
            cfg.eval.batch_size,
            cfg.eval.max_new_tokens,
            f"evaluate client {client.client_id}",
            caches=su.test_features,
        )
        client_eval[str(client.client_id)] = results
        rows += [{**p, "client_id": client.client_id} for p in predictions]
        ws.model.save_pretrained(
            str(run_dir / "adapters" / f"client_{client.client_id}_round_{cfg.federation.rounds}")
        )
    # The average client: every client's predictions pooled, per language.
    pooled = {}
    for name in su.tests:
        refs = [r["reference"] for r in rows if r["language"] == name]
        hyps = [r["prediction"] for r in rows if r["language"] == name]
        pooled[name] = score(refs, hyps)
    _write_text_atomic(
        run_dir / "predictions" / f"round_{cfg.federation.rounds}.jsonl",
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
    )
    _append_jsonl(
        run_dir / "metrics.jsonl",
        {
            "round": cfg.federation.rounds,
            "baseline": "local-only",
            "clients": reports,
            "client_eval": client_eval,
            "seconds": {"train": time.perf_counter() - t_train},
            "languages": pooled,
        },
    )
    _write_text_atomic(
        run_dir / "run.json",
        json.dumps(
            {
                "baseline": "local-only",
                "wall_seconds": round(time.perf_counter() - t_start, 2),
                "parameters": su.parameters,
            },
            indent=1,
        ),
    )
    return run_dir


def run_baselines(cfg: RunConfig, run_dir: Path) -> dict[str, Path]:
    """Run the config's baselines into RUN_DIR/baselines/<name>/ (skipping finished ones)."""
    out = {}
    for name in cfg.baselines:
        target = Path(run_dir) / "baselines" / name
        if (target / "run.json").exists():
            out[name] = target
            continue
        print(f"baseline {name}: {target}", file=sys.stderr)
        if (target / "metrics.jsonl").exists():  # an interrupted baseline starts over
            import shutil

            shutil.rmtree(target)
        if name == "centralised":
            out[name] = run(centralised_config(cfg), target)
        else:
            out[name] = run_local_only(cfg, target)
    return out
