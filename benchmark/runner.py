"""The in-process engine: one resident base model; clients are adapter tensors + shards.

Run directory contract:
  config.toml                      resolved config (reloads with --config)
  run.json                         command, versions, git commit, hardware, timings
  partition.json                   rows per language for every client
  metrics.jsonl                    one JSON object per evaluated round (round 0 = base)
  predictions/round_<r>.jsonl      {"id","language","reference","prediction"} as scored
  adapters/global_round_<r>/       PEFT adapter folder (PeftModel.from_pretrained)
  test_images/<id>.png             every test line image, named by its id
  checkpoint.pt                    the state after the last complete round (for --resume)

A round is complete once its checkpoint is written (atomically, by rename). Resuming
discards anything a half-finished round left behind and redoes that round; with the same
seed the result is bit-identical to an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from benchmark.adapters import (
    AdapterSlots,
    add_to_base_weights,
    lora_scaling,
    parameter_counts,
    resolve_targets,
)
from benchmark.backends import load_backend
from benchmark.config import ConfigError, RunConfig, load_config, to_toml
from benchmark.evaluate import evaluate
from benchmark.feature_cache import make_caches
from benchmark.feature_cache import report as cache_report
from benchmark.strategies import AggregateResult, Strategy, client_rank, make_strategy
from benchmark.validation import update_problem
from clients.client import Client, LocalTraining, Update, Workspace
from clients.faults import FaultPlan, draw_faults
from clients.lora_tensors import pad_to_rank, slice_to_rank, trained_tensors
from clients.partition import language_counts, partition
from tasks.sources import build_datasets, last_skip_report

CHECKPOINT = "checkpoint.pt"
BASE_DELTA = "base_delta.safetensors"  # dense weight changes folded into the base (fedex-lora, flora)


@dataclass
class RunState:
    """Everything a resumed run needs to continue exactly where the last round ended."""

    round: int
    global_adapter: dict[str, torch.Tensor]
    sampler: dict  # numpy bit-generator state of the client sampler
    strategy: dict = field(default_factory=dict)  # server optimiser moments, DP accountant, ...
    client_states: dict[int, dict[str, torch.Tensor]] = field(default_factory=dict)  # fedsa-lora's B
    base_delta: dict[str, torch.Tensor] = field(default_factory=dict)  # folded into the frozen base

    def save(self, run_dir: Path) -> None:
        tmp = run_dir / (CHECKPOINT + ".tmp")
        torch.save(self.__dict__, tmp)
        os.replace(tmp, run_dir / CHECKPOINT)

    @classmethod
    def load(cls, run_dir: Path) -> RunState:
        return cls(**torch.load(run_dir / CHECKPOINT, weights_only=False))


def new_run_dir(cfg: RunConfig, out: str | Path | None) -> Path:
    if out:
        run_dir = Path(out)
    else:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        run_dir = Path("runs") / f"{cfg.name}-{stamp}"
    if (run_dir / "metrics.jsonl").exists():
        raise FileExistsError(f"{run_dir} already holds a run; choose another --out, or --resume it")
    for sub in ("predictions", "adapters", "test_images"):
        (run_dir / sub).mkdir(parents=True, exist_ok=True)
    return run_dir


def _write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _append_jsonl(path: Path, row: dict) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def _discard_rounds_after(run_dir: Path, last: int) -> None:
    """Remove what an unfinished round after `last` may have written."""
    metrics = run_dir / "metrics.jsonl"
    if metrics.exists():
        kept = [
            line
            for line in metrics.read_text(encoding="utf-8").splitlines()
            if line.strip() and _round_of(line) is not None and _round_of(line) <= last
        ]
        _write_text_atomic(metrics, "".join(line + "\n" for line in kept))
    for path in (run_dir / "predictions").glob("round_*.jsonl"):
        if int(path.stem.split("_")[1]) > last:
            path.unlink()
    for path in (run_dir / "adapters").glob("global_round_*"):
        if int(path.name.rsplit("_", 1)[1]) > last:
            shutil.rmtree(path)


def _round_of(line: str) -> int | None:
    try:
        return int(json.loads(line)["round"])
    except (ValueError, KeyError, TypeError):
        return None  # a torn last line from a killed process


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
    """Run one federated benchmark in a new run directory and return it."""
    run_dir = new_run_dir(cfg, out)
    _write_text_atomic(run_dir / "config.toml", to_toml(cfg))
    return _start(cfg, run_dir, command, resume=False)


def resume(run_dir: str | Path, command: list[str] | None = None) -> Path:
    """Continue a run from its last complete round (or start it if none completed)."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.toml").exists():
        raise FileNotFoundError(f"{run_dir} has no config.toml: not a run directory")
    cfg = load_config(config_file=run_dir / "config.toml")
    return _start(cfg, run_dir, command, resume=True)


def _start(cfg: RunConfig, run_dir: Path, command: list[str] | None, resume: bool) -> Path:
    if cfg.engine == "flower":  # the same rounds, with clients as Flower ClientApps on Ray
        from benchmark.flower.simulation import simulate

        return simulate(cfg, run_dir, command, resume)
    return execute(cfg, run_dir, command, resume)


@dataclass
class Setup:
    """A run's resident pieces: the model once, the encoded data once, the clients' shards."""

    backend: object
    model: torch.nn.Module
    ws: Workspace
    test_sets: dict  # {name: datasets.Dataset}
    tests: dict  # {name: Prepared}
    test_features: dict  # {name: FeatureCache} when the vision-feature cache is on, else {}
    clients: list[Client]
    shard_languages: list[dict]
    strategy: Strategy
    data_seconds: float
    parameters: dict


def setup(cfg: RunConfig) -> Setup:
    """Load the model, build and encode the data, partition it, make the strategy."""
    if cfg.model.threads:
        torch.set_num_threads(cfg.model.threads)
    torch.manual_seed(cfg.seed)
    # The model first: a missing checkpoint or GPU should fail before minutes of data work.
    backend = load_backend(cfg.model)
    base = backend.load()
    resolve_targets(base, cfg.lora, backend.default_targets)
    t0 = time.perf_counter()
    train_pool, test_sets = build_datasets(cfg.data)
    data_seconds = time.perf_counter() - t0
    pool = backend.prepare(train_pool)
    tokens = new_token_ids(backend, pool) if cfg.lora.trainable_tokens == "new" else None
    restricted = frozenset()
    if cfg.train.fedrs_alpha < 1:
        restricted = frozenset(tokens if tokens is not None else new_script_ids(backend, pool))
    model = backend.wrap_with_lora(base, cfg.lora, tokens)
    slots = AdapterSlots(model)
    trainable, total = parameter_counts(model)
    print(
        f"model {backend.name}: {trainable:,} trainable / {total:,} parameters "
        f"({100 * trainable / total:.2f}%), LoRA on {sum('lora_A' in k for k in slots.params)} modules",
        file=sys.stderr,
    )
    tests = {name: backend.prepare(ds) for name, ds in test_sets.items()}
    # Independent streams: partitioning and sampling never shift each other's draws.
    shards = partition(
        cfg.partition.scheme,
        pool.languages,
        cfg.partition.num_clients,
        np.random.default_rng([cfg.seed, 1]),
        alpha=cfg.partition.alpha,
        min_size=cfg.partition.min_size,
    )
    pool_features, test_features, line = make_caches(cfg, backend, model, pool, tests, shards)
    print(line, file=sys.stderr)
    clients = [Client(i, shard, cfg.seed) for i, shard in enumerate(shards)]
    per_round = cfg.federation.clients_per_round or len(clients)
    strategy = make_strategy(cfg.federation.strategy, cfg.strategy, len(clients), per_round / len(clients))
    return Setup(
        backend=backend,
        model=model,
        ws=Workspace(
            model=model,
            slots=slots,
            backend=backend,
            data=pool,
            features=pool_features,
            new_tokens=restricted,
        ),
        test_features=test_features,
        test_sets=test_sets,
        tests=tests,
        clients=clients,
        shard_languages=language_counts(pool.languages, shards),
        strategy=strategy,
        data_seconds=data_seconds,
        parameters={"trainable": trainable, "total": total},
    )


def new_token_ids(backend, pool) -> list[int]:
    """Vocabulary ids of the characters the base never learned to read: those in the training
    texts of languages whose script is outside the base's OCR training, minus any that the
    texts of known-script languages use too (digits, punctuation, space)."""
    if not backend.token_modules:
        raise ConfigError(f"lora.trainable_tokens: the {backend.name} backend has no embedding rows to train")
    ids = new_script_ids(backend, pool, "lora.trainable_tokens")
    print(f"trainable tokens: {len(ids)} new-script characters", file=sys.stderr)
    return ids


def new_script_ids(backend, pool, setting: str = "train.fedrs_alpha") -> list[int]:
    """See new_token_ids; `setting` names the config key in the error of a backend that cannot
    map text to vocabulary ids."""
    from tasks.languages import language_or_default

    known = backend.known_scripts()
    new, seen = set(), set()
    try:
        for text, lang in zip(pool.texts, pool.languages):
            (seen if language_or_default(lang).script in known else new).update(backend.token_ids(text))
    except NotImplementedError:
        raise ConfigError(
            f"{setting}: the {backend.name} backend cannot map text to vocabulary ids"
        ) from None
    return sorted(new - seen)


@dataclass(frozen=True)
class ClientJob:
    """What the server hands one sampled client for one round: a work order, no data."""

    client_id: int
    round: int
    attempt: int
    rank: int  # the LoRA rank this client trains
    start: dict[str, torch.Tensor]  # the adapter it starts from (full rank, zero beyond `rank`)
    faults: FaultPlan  # injected faults it plays (crash, nan); dropout and slowdown stay with the server
    # The frozen-weight change so far (fedex-lora, flora). The in-process model already has it;
    # a client process with its own model copy adds whatever it has not added yet.
    base_delta: Mapping[str, torch.Tensor] = field(default_factory=dict)
    # SCAFFOLD: c - c_i per trained adapter tensor, applied after every local step; None = none
    correction: Mapping[str, torch.Tensor] | None = None


# Trains the jobs' clients, wherever they live; one reply per job, in order: the client's
# Update, or a line saying why it produced none.
FitClients = Callable[[list[ClientJob]], list[Update | str]]


def local_training(cfg: RunConfig) -> LocalTraining:
    t = cfg.train
    return LocalTraining(
        t.local_steps,
        t.batch_size,
        t.lr,
        t.weight_decay,
        t.max_grad_norm,
        t.length_buckets,
        t.lr_schedule,
        t.lr_final,
        cfg.federation.rounds,
        t.fedrs_alpha,
        t.prox_mu,
    )


def train_client(
    ws: Workspace, client: Client, job: ClientJob, training: LocalTraining, trains: frozenset[str]
) -> Update | str:
    """Client side of a round: run one job. A failing client reports why; it never raises,
    so that one client cannot take the round (or a Flower worker) down."""
    try:
        return client.fit(ws, job.start, job.round, training, job.faults, trains, job.rank, job.correction)
    except Exception as err:
        return str(err)


def in_process_clients(cfg: RunConfig, su: Setup) -> FitClients:
    """The in-process engine's clients: each job borrows the resident model in turn."""
    training = local_training(cfg)

    def fit(jobs: list[ClientJob]) -> list[Update | str]:
        desc = f"round {jobs[0].round} clients" if jobs else "clients"
        return [
            train_client(su.ws, su.clients[job.client_id], job, training, su.strategy.trains)
            for job in tqdm(jobs, desc=desc, leave=False, file=sys.stderr)
        ]

    return fit


def execute(
    cfg: RunConfig,
    run_dir: Path,
    command: list[str] | None,
    resume: bool,
    engine: Callable[[RunConfig, Setup], FitClients] = in_process_clients,
    engine_info: dict | None = None,
) -> Path:
    """Run (or resume) the rounds of a run directory whose config.toml is written.

    `engine` gets the run's Setup and returns what trains a round's jobs: the resident model
    in this process, or Flower ClientApps. Sampling, screening, aggregation, evaluation and
    checkpoints are this function's whichever engine trains; `engine_info` goes to run.json.
    """
    t_start = time.perf_counter()
    started = datetime.now(UTC).isoformat(timespec="seconds")
    print(f"run directory: {run_dir}", file=sys.stderr)
    su = setup(cfg)
    model, ws, tests, strategy = su.model, su.ws, su.tests, su.strategy
    slots, backend = ws.slots, su.backend

    state = RunState.load(run_dir) if resume and (run_dir / CHECKPOINT).exists() else None
    if state is None:
        _discard_rounds_after(run_dir, -1)
        _write_partition(run_dir, cfg, su.clients, su.shard_languages)
        # Test images go into the run directory, so that reports can show them next to predictions.
        for ds in su.test_sets.values():
            for row in ds.select_columns(["id", "image"]):
                row["image"].save(run_dir / "test_images" / f"{row['id']}.png")
        state = RunState(0, slots.read(), np.random.default_rng([cfg.seed, 2]).bit_generator.state)
        _evaluate_round(cfg, run_dir, ws, tests, su.test_features, state, {"clients": [], "seconds": {}})
        state.save(run_dir)
    else:
        print(f"resuming after round {state.round}", file=sys.stderr)
        _discard_rounds_after(run_dir, state.round)
        strategy.load_state_dict(state.strategy)
        add_to_base_weights(model, state.base_delta)

    fit_clients = engine(cfg, su)
    sampler = np.random.default_rng([cfg.seed, 2])
    sampler.bit_generator.state = state.sampler
    for round_num in tqdm(
        range(state.round + 1, cfg.federation.rounds + 1),
        desc="rounds",
        file=sys.stderr,
        initial=state.round,
        total=cfg.federation.rounds,
    ):
        record, result = _federated_round(
            cfg, ws, len(su.clients), strategy, state, round_num, sampler, fit_clients
        )
        add_to_base_weights(model, result.base_delta)
        base_delta = dict(state.base_delta)
        for prefix, delta in result.base_delta.items():
            base_delta[prefix] = base_delta[prefix] + delta if prefix in base_delta else delta
        state = RunState(
            round_num,
            result.adapter,
            sampler.bit_generator.state,
            strategy.state_dict(),
            {**state.client_states, **result.client_state},
            base_delta,
        )
        _evaluate_round(cfg, run_dir, ws, tests, su.test_features, state, record)
        state.save(run_dir)

    _write_text_atomic(
        run_dir / "run.json",
        json.dumps(
            {
                "command": command or sys.argv,
                "started_utc": started,
                "resumed": resume,
                "wall_seconds": round(time.perf_counter() - t_start, 2),
                "data_seconds": round(su.data_seconds, 2),
                "data_skipped": last_skip_report(),
                "versions": _versions(),
                "git_commit": _git_commit(),
                "hardware": {
                    "platform": platform.platform(),
                    "cpus": os.cpu_count(),
                    "device": str(backend.device),
                    "precision": backend.precision,
                    "torch_threads": torch.get_num_threads(),
                },
                "parameters": su.parameters,
                "feature_cache": cache_report(su.ws.features, su.test_features),
                "base_model": backend.base_id,
                **({"engine": engine_info} if engine_info else {}),
            },
            indent=1,
        ),
    )
    return run_dir


def _write_partition(run_dir: Path, cfg: RunConfig, clients: list[Client], counts: list[dict]) -> None:
    rows = [
        {"client_id": c.client_id, "num_examples": len(c.shard), "languages": n}
        for c, n in zip(clients, counts)
    ]
    payload = {"scheme": cfg.partition.scheme, "alpha": cfg.partition.alpha, "clients": rows}
    _write_text_atomic(run_dir / "partition.json", json.dumps(payload, indent=1))


def sample_clients(sampler: np.random.Generator, num_clients: int, per_round: int) -> list[int]:
    """The client ids of one round (or retry), from the run's own sampler stream."""
    return sorted(sampler.choice(num_clients, size=per_round, replace=False).tolist())


def cyclic_clients(seed: int, round_num: int, num_clients: int, per_round: int) -> list[int]:
    """The client ids of round `round_num` (from 1) under cyclic sampling: cycle c (rounds
    c*R+1 .. c*R+R, R = ceil(num_clients / per_round)) is a permutation of the clients drawn
    from (seed, c), cut into R rounds; the last round of a cycle, if short, is topped up with
    the cycle's first clients. A function of the seed and the round only, so a resumed run
    samples as the uninterrupted one."""
    rounds_per_cycle = -(-num_clients // per_round)
    cycle, slot = divmod(round_num - 1, rounds_per_cycle)
    order = np.random.default_rng([seed, 4, cycle]).permutation(num_clients)
    ids = order[slot * per_round : (slot + 1) * per_round].tolist()
    ids += order[: per_round - len(ids)].tolist()
    return sorted(ids)


def client_job(
    cfg: RunConfig,
    state: RunState,
    client_id: int,
    round_num: int,
    attempt: int,
    strategy: Strategy | None = None,
) -> ClientJob:
    """Server side: the work order of one sampled client (with `strategy`'s gradient
    correction, for scaffold)."""
    rank = client_rank(cfg.strategy.client_ranks, client_id, cfg.lora.r)
    # The client's starting point: the global adapter, its own kept tensors (fedsa-lora),
    # and zeros beyond its rank (a rank-r client trains only the first r rows/columns).
    start = pad_to_rank(
        slice_to_rank({**state.global_adapter, **state.client_states.get(client_id, {})}, rank), cfg.lora.r
    )
    plan = draw_faults(cfg.faults, cfg.seed, round_num, client_id, cfg.train.local_steps, attempt)
    correction = strategy.correction(client_id, start) if strategy is not None else None
    return ClientJob(client_id, round_num, attempt, rank, start, plan, state.base_delta, correction)


def screen_reply(
    cfg: RunConfig, job: ClientJob, reply: Update | str, trains: frozenset[str]
) -> tuple[Update | None, list[dict], list[dict]]:
    """Server side: (the update if it may reach the aggregate, faults seen, rejections)."""
    cid, attempt = job.client_id, job.attempt
    if isinstance(reply, str):
        return None, [{"client_id": cid, "attempt": attempt, "kind": "crash", "detail": reply}], []
    faults = []
    if job.faults.nan:
        faults.append({"client_id": cid, "attempt": attempt, "kind": "nan"})
    simulated = reply.metrics["seconds"] * job.faults.slowdown
    if job.faults.slowdown != 1.0:
        faults.append({"client_id": cid, "attempt": attempt, "kind": "straggler", "seconds": simulated})
    if cfg.federation.round_deadline and simulated > cfg.federation.round_deadline:
        return None, faults, [{"client_id": cid, "attempt": attempt, "reason": "missed the round deadline"}]
    expected = trained_tensors(slice_to_rank(job.start, job.rank), trains)
    problem = update_problem(reply, expected, cfg.federation.max_update_norm, job.correction is not None)
    if problem:
        tqdm.write(f"round {job.round}: rejected client {cid}: {problem}", file=sys.stderr)
        return None, faults, [{"client_id": cid, "attempt": attempt, "reason": problem}]
    return reply, faults, []


def _federated_round(
    cfg: RunConfig,
    ws: Workspace,
    num_clients: int,
    strategy: Strategy,
    state: RunState,
    round_num: int,
    sampler: np.random.Generator,
    fit_clients: FitClients,
):
    """Sample clients, train them, screen their updates, aggregate.

    Returns (the round's metrics record, the strategy's AggregateResult).
    """
    fed = cfg.federation
    per_round = fed.clients_per_round or num_clients
    faults, rejected, reports = [], [], []
    t_train = time.perf_counter()
    for attempt in range(1, fed.max_retries + 2):
        if fed.sampling == "cyclic" and attempt == 1:
            ids = cyclic_clients(cfg.seed, round_num, num_clients, per_round)
        else:  # random sampling, and every retry: drawn from the run's sampler stream
            ids = sample_clients(sampler, num_clients, per_round)
        jobs = [client_job(cfg, state, cid, round_num, attempt, strategy) for cid in ids]
        # A dropped-out client never answers, so it is never asked.
        live = [job for job in jobs if not job.faults.dropout]
        replies = dict(zip((job.client_id for job in live), fit_clients(live)))
        accepted: list[Update] = []
        for job in jobs:
            if job.faults.dropout:
                faults.append({"client_id": job.client_id, "attempt": attempt, "kind": "dropout"})
                continue
            update, seen, refused = screen_reply(cfg, job, replies[job.client_id], strategy.trains)
            faults += seen
            rejected += refused
            if update is not None:
                accepted.append(update)
        extra_down = {  # what a job carries beside the adapter (scaffold's correction)
            job.client_id: sum(t.numel() * t.element_size() for t in (job.correction or {}).values())
            for job in jobs
        }
        reports += [
            {
                "client_id": u.client_id,
                "num_examples": u.num_examples,
                **u.metrics,
                "bytes_up": u.nbytes(),
                "bytes_down": ws.slots.nbytes() + extra_down[u.client_id],
            }
            for u in accepted
        ]
        if len(accepted) >= fed.min_clients or fed.on_too_few == "skip":
            break
    train_seconds = time.perf_counter() - t_train
    t_agg = time.perf_counter()
    skipped = len(accepted) < fed.min_clients
    if skipped:
        result = AggregateResult(dict(state.global_adapter))
        tqdm.write(
            f"round {round_num}: only {len(accepted)} valid updates (< {fed.min_clients}); global adapter kept",
            file=sys.stderr,
        )
    else:
        rng = np.random.default_rng([cfg.seed, round_num, 3])  # the strategy's own stream (flora, DP)
        result = strategy.aggregate(state.global_adapter, accepted, round_num, lora_scaling(ws.model), rng)
    record = {
        "clients": reports,
        "faults": faults,
        "rejected": rejected,
        "skipped": skipped,
        "attempts": attempt,
        "strategy": result.metrics,
        "seconds": {"train": train_seconds, "aggregate": time.perf_counter() - t_agg},
    }
    return record, result


def _evaluate_round(
    cfg: RunConfig, run_dir: Path, ws: Workspace, tests: dict, caches: dict, state: RunState, record: dict
) -> None:
    """Score the global adapter, then write predictions, the adapter and the metrics row."""
    t_eval = time.perf_counter()
    ws.slots.write(state.global_adapter)
    results, rows = evaluate(
        ws.model,
        ws.backend,
        tests,
        cfg.eval.batch_size,
        cfg.eval.max_new_tokens,
        desc=f"evaluate round {state.round}",
        caches=caches,
    )
    t_io = time.perf_counter()
    _write_text_atomic(
        run_dir / "predictions" / f"round_{state.round}.jsonl",
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
    )
    adapter_dir = run_dir / "adapters" / f"global_round_{state.round}"
    tmp_dir = adapter_dir.with_name(adapter_dir.name + ".tmp")
    shutil.rmtree(tmp_dir, ignore_errors=True)
    ws.model.save_pretrained(str(tmp_dir))
    if state.base_delta:  # fedex-lora / flora changed the base: keep that change with the adapter
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in state.base_delta.items()}, str(tmp_dir / BASE_DELTA))
    shutil.rmtree(adapter_dir, ignore_errors=True)
    os.replace(tmp_dir, adapter_dir)
    record["seconds"]["evaluate"] = t_io - t_eval
    record["seconds"]["io"] = time.perf_counter() - t_io  # predictions and adapter written
    _append_jsonl(run_dir / "metrics.jsonl", {"round": state.round, **record, "languages": results})
    summary = "  ".join(f"{c} {100 * r['cer']:.1f}%" for c, r in results.items())
    tqdm.write(f"round {state.round}: CER {summary}", file=sys.stderr)
