"""`fedocr perf`: where a federated round's time goes, and what the in-process engine saves.

Every arm runs the same config on the same data, in this process:

  engine            the in-process engine exactly as `fedocr run` runs it: one resident model,
                    clients switched by copying adapter tensors, the vision-feature cache,
                    length-bucketed batches (assembled in a worker thread on CUDA)
  engine, no cache  the same with train.feature_cache = "off"
  naive             the common idiom, per client per round: the base rebuilt from its checkpoint
                    and wrapped in LoRA, the client's images decoded and encoded again, a
                    Hugging Face `Trainer` created and run on the same batches with the same
                    seed. Sampling, aggregation and evaluation are the engine's.

The engine and the naive arm then run `repeats - 1` more times each, in turn, over the config's
rounds: the ratio is reported as the median and range of the pairs.

Also measured: the GEMM peak of this device (the largest square matmul rate), the FLOPs of a
training round (counted by torch's FlopCounterMode on a replay of round 1), and peak RSS
against the number of simulated clients (child processes, 10 clients sampled per round).
"""

from __future__ import annotations

import dataclasses
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from benchmark.config import ConfigError, RunConfig, load_config, to_toml

GEMM_SIZES = (512, 1024, 2048)


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MiB.

    Linux's VmHWM, the high-water mark of this program's own memory: getrusage's ru_maxrss
    would also count what the parent held when it forked this process.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def gemm_peak(device: torch.device, precision: str, seconds: float = 1.5) -> dict:
    """The best rate of a square matmul in the dtype training computes in, on this device."""
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    best = {"flops_per_second": 0.0}
    for n in GEMM_SIZES:
        a, b = (torch.randn(n, n, device=device, dtype=dtype) for _ in range(2))
        c = torch.mm(a, b)
        reps, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / len(GEMM_SIZES):
            torch.mm(a, b, out=c)
            reps += 1
            if device.type == "cuda":
                torch.cuda.synchronize()
        rate = 2 * n**3 * reps / (time.perf_counter() - start)
        if rate > best["flops_per_second"]:
            best = {"flops_per_second": rate, "n": n, "dtype": str(dtype).replace("torch.", "")}
    best["threads"] = torch.get_num_threads()
    return best


def _with(cfg: RunConfig, **changes) -> RunConfig:
    """A copy of cfg with dotted keys changed, e.g. _with(cfg, **{"train.feature_cache": "off"})."""
    cfg = dataclasses.replace(cfg)
    for key, value in changes.items():
        section, name = key.split(".")
        setattr(cfg, section, dataclasses.replace(getattr(cfg, section), **{name: value}))
    return cfg


def run_arm(cfg: RunConfig, run_dir: Path, engine=None) -> dict:
    """Run the engine (or another client engine) into run_dir; per-round seconds and CER."""
    from benchmark.runner import execute, in_process_clients

    (run_dir / "predictions").mkdir(parents=True, exist_ok=True)
    (run_dir / "adapters").mkdir(exist_ok=True)
    (run_dir / "test_images").mkdir(exist_ok=True)
    (run_dir / "config.toml").write_text(to_toml(cfg), encoding="utf-8")
    start = time.perf_counter()
    execute(cfg, run_dir, ["fedocr", "perf"], False, engine=engine or in_process_clients)
    wall = time.perf_counter() - start
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line]
    rounds = [{"round": r["round"], **{k: round(v, 3) for k, v in r["seconds"].items()}} for r in rows]
    timed = sum(sum(v for k, v in r.items() if k != "round") for r in rounds)
    return {
        "wall_seconds": round(wall, 2),
        "setup_and_checkpoint_seconds": round(wall - timed, 2),
        "rounds": rounds,
        "cer": {r["round"]: {lang: v["cer"] for lang, v in r["languages"].items()} for r in rows},
        "feature_cache": json.loads((run_dir / "run.json").read_text())["feature_cache"],
        "run_dir": str(run_dir),
    }


def _round_seconds(arm: dict, upto: int) -> float:
    return sum(sum(v for k, v in r.items() if k != "round") for r in arm["rounds"] if r["round"] <= upto)


def adapter_difference(dir_a: Path, dir_b: Path) -> float:
    """Largest absolute difference between two adapters' tensors."""
    from safetensors.torch import load_file

    a = load_file(str(dir_a / "adapter_model.safetensors"))
    b = load_file(str(dir_b / "adapter_model.safetensors"))
    if a.keys() != b.keys():
        raise ValueError(f"adapters {dir_a} and {dir_b} hold different tensors")
    return max(float((a[k] - b[k]).abs().max()) for k in a)


class NaiveClients:
    """The common idiom, per client per round: rebuild, re-encode, a new Trainer."""

    def __init__(self, cfg: RunConfig, su):
        from benchmark.runner import new_token_ids
        from clients.lora_tensors import LORA_A, LORA_B
        from tasks.sources import build_datasets

        if su.strategy.trains != frozenset({LORA_A, LORA_B}) or su.strategy.name == "scaffold":
            raise ValueError(
                "the naive baseline trains both LoRA factors with plain gradients: use a strategy "
                f"that does (fedavg), not {su.strategy.name}"
            )
        self.cfg, self.su = cfg, su
        self.pool, _ = build_datasets(cfg.data)  # the dataset on disk, as a client would load it
        self.tokens = new_token_ids(su.backend, su.ws.data) if cfg.lora.trainable_tokens == "new" else None
        self.split = {"rebuild": 0.0, "encode_images": 0.0, "create_trainer": 0.0, "trainer_train": 0.0}

    def __call__(self, jobs) -> list:
        return [self.fit(job) for job in jobs]

    def fit(self, job):
        from transformers import PrinterCallback, Trainer, TrainingArguments

        from benchmark.adapters import AdapterSlots, add_to_base_weights
        from benchmark.backends import load_backend
        from clients.client import Update, batch_schedule
        from clients.lora_tensors import trained_tensors

        cfg, su = self.cfg, self.su
        client = su.clients[job.client_id]
        t0 = time.perf_counter()
        backend = load_backend(cfg.model)
        model = backend.wrap_with_lora(backend.load(), cfg.lora, self.tokens)
        add_to_base_weights(model, dict(job.base_delta))
        slots = AdapterSlots(model)
        slots.write(dict(job.start))
        t1 = time.perf_counter()
        data = backend.prepare(self.pool.select(client.shard.tolist()))
        t2 = time.perf_counter()
        # The engine's client draws its seed, then its batches, from this stream: the same here.
        rng = np.random.default_rng([client.seed, job.round, client.client_id])
        seed = int(rng.integers(2**31))
        local = {int(row): i for i, row in enumerate(client.shard)}
        t = cfg.train
        schedule = batch_schedule(
            rng,
            client.shard,
            su.ws.lengths,
            min(t.batch_size, len(client.shard)),
            t.local_steps,
            t.length_buckets,
        )
        steps = [np.array([local[int(r)] for r in rows]) for rows in schedule]

        class ScheduledTrainer(Trainer):
            def get_train_dataloader(self):  # the engine's batches, in order
                return torch.utils.data.DataLoader(
                    steps,
                    batch_size=1,
                    shuffle=False,
                    collate_fn=lambda items: backend.training_batch(data, items[0]),
                    generator=torch.Generator(),  # the global stream stays the dropout's
                )

        with tempfile.TemporaryDirectory() as tmp:
            args = TrainingArguments(
                output_dir=tmp,
                max_steps=t.local_steps,
                per_device_train_batch_size=1,
                learning_rate=t.lr,
                weight_decay=t.weight_decay,
                max_grad_norm=t.max_grad_norm,
                lr_scheduler_type="constant",
                optim="adamw_torch",
                logging_strategy="no",
                save_strategy="no",
                report_to="none",
                disable_tqdm=True,
                seed=seed,
                use_cpu=backend.device.type == "cpu",
                bf16=backend.precision == "bf16",
                remove_unused_columns=False,
                dataloader_pin_memory=False,
            )
            trainer = ScheduledTrainer(model=model, args=args)
            trainer.remove_callback(PrinterCallback)  # no per-client metrics print
            t3 = time.perf_counter()
            result = trainer.train()
        t4 = time.perf_counter()
        model.eval()
        for key, seconds in zip(self.split, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            self.split[key] += seconds
        return Update(
            client_id=client.client_id,
            tensors=trained_tensors(slots.read(), self.su.strategy.trains),
            num_examples=len(client.shard),
            metrics={
                "train_loss": float(result.training_loss),
                "local_steps": t.local_steps,
                "seconds": t4 - t0,
            },
        )


def count_round_flops(cfg: RunConfig) -> dict:
    """FLOPs of round 1's local training (forward + backward + what the cache misses run),
    counted by replaying it from a fresh setup under FlopCounterMode."""
    from torch.utils.flop_counter import FlopCounterMode

    from benchmark.runner import RunState, client_job, local_training, sample_clients, setup, train_client

    su = setup(cfg)
    sampler = np.random.default_rng([cfg.seed, 2])
    state = RunState(0, su.ws.slots.read(), sampler.bit_generator.state)
    per_round = cfg.federation.clients_per_round or len(su.clients)
    jobs = [
        client_job(cfg, state, cid, 1, 1, su.strategy)
        for cid in sample_clients(sampler, len(su.clients), per_round)
    ]
    training = local_training(cfg)
    counter = FlopCounterMode(display=False)
    lines = 0
    with counter:
        for job in jobs:
            reply = train_client(su.ws, su.clients[job.client_id], job, training, su.strategy.trains)
            if isinstance(reply, str):
                raise RuntimeError(f"replay of client {job.client_id} failed: {reply}")
            lines += training.steps * min(training.batch_size, len(su.clients[job.client_id].shard))
    padding = {"buckets": padding_share(su, cfg, True), "random": padding_share(su, cfg, False)}
    return {
        "flops": counter.get_total_flops(),
        "lines": lines,
        "steps": training.steps * len(jobs),
        "padding_share": padding,
    }


def padding_share(su, cfg: RunConfig, buckets: bool) -> float:
    """Share of label positions that are padding in every client's round-1 batches."""
    from clients.client import batch_schedule

    pad = total = 0
    for client in su.clients:
        rng = np.random.default_rng([client.seed, 1, client.client_id])
        rng.integers(2**31)  # the seed the client draws first
        batch = min(cfg.train.batch_size, len(client.shard))
        for rows in batch_schedule(rng, client.shard, su.ws.lengths, batch, cfg.train.local_steps, buckets):
            longest = int(su.ws.lengths[rows].max()) + 1  # + end of sequence
            total += longest * len(rows)
            pad += int((longest - su.ws.lengths[rows] - 1).sum())
    return pad / max(total, 1)


PROBE_LINES_PER_CLIENT = 20


def memory_probe(cfg: RunConfig, num_clients: int, out: Path) -> dict:
    """Peak RSS of a run with `num_clients` simulated clients, 10 sampled per round, 3 rounds,
    in a child process (so that nothing else this process holds counts). The training pool
    grows with the clients (PROBE_LINES_PER_CLIENT lines each, iid), so that every probe's
    steps are the same work and the difference between probes is what each client costs."""
    per_language = -(-PROBE_LINES_PER_CLIENT * num_clients // len(cfg.data.languages))
    probe = _with(
        cfg,
        **{
            "data.train_per_language": per_language,
            "partition.scheme": "iid",
            "partition.num_clients": num_clients,
            "partition.min_size": 1,
            "federation.clients_per_round": min(10, num_clients),
            "federation.rounds": 3,
        },
    )
    probe = dataclasses.replace(probe, baselines=[])
    run_dir = out / f"memory_{num_clients}_clients"
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.toml").write_text(to_toml(probe), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "benchmark.perf", "--probe", str(run_dir)],
        capture_output=True,
        text=True,
        env={**os.environ, "TQDM_DISABLE": "1"},
    )
    if done.returncode != 0:
        raise RuntimeError(f"memory probe with {num_clients} clients failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _probe(run_dir: Path) -> None:
    """Child side of memory_probe: run, then print one JSON line of figures."""
    import gc

    from benchmark.runner import execute
    from tasks.sources import build_datasets

    cfg = load_config(config_file=run_dir / "config.toml")
    for sub in ("predictions", "adapters", "test_images"):
        (run_dir / sub).mkdir(exist_ok=True)
    # Generate the data into the cache first, then reset the high-water mark: every probe's
    # peak is then a run that loads its data, whether or not an earlier probe generated it.
    build_datasets(cfg.data)
    gc.collect()
    try:
        Path("/proc/self/clear_refs").write_text("5")
        reset = True
    except OSError:
        reset = False
    holder = {}

    def engine(cfg, su):
        from benchmark.runner import in_process_clients

        holder["su"] = su
        return in_process_clients(cfg, su)

    start = time.perf_counter()
    execute(cfg, run_dir, ["fedocr", "perf", "--probe"], False, engine=engine)
    su = holder["su"]
    print(
        json.dumps(
            {
                "clients": len(su.clients),
                "peak_rss_mb": round(peak_rss_mb(), 1),
                "seconds": round(time.perf_counter() - start, 1),
                "adapter_bytes": su.ws.slots.nbytes(),
                "shard_index_bytes": sum(c.shard.nbytes for c in su.clients) / len(su.clients),
                "pool_rows": len(su.ws.data),
                "peak_reset_after_data_generation": reset,
            }
        )
    )


def measure(
    cfg: RunConfig,
    out: Path,
    naive: bool = True,
    memory: tuple[int, ...] = (10, 100, 1000),
    cache_rounds: int = 3,
    repeats: int = 3,
) -> dict:
    """Run every arm and return the figures (also written to out/perf.json). With `repeats` > 1
    the engine and the naive arm run that many times each over the config's rounds, one after
    the other in turn, so that the ratio's spread on this machine is measured too."""
    from benchmark.backends.base import resolve_device, resolve_precision

    if naive and (cfg.train.lr_schedule != "constant" or cfg.train.fedrs_alpha < 1 or cfg.train.prox_mu > 0):
        raise ConfigError(
            "fedocr perf: the naive baseline's Trainer steps at a constant lr on the plain loss with the "
            "full softmax: set train.lr_schedule = 'constant', train.fedrs_alpha = 1 and "
            "train.prox_mu = 0 (or measure without it)"
        )
    if naive and cfg.federation.strategy == "scaffold":
        raise ConfigError(
            "fedocr perf: the naive baseline's Trainer takes plain optimiser steps, without scaffold's "
            "correction: measure another strategy (or without the naive arm)"
        )
    if repeats < 1:
        raise ConfigError(f"fedocr perf: --repeats {repeats}: expected at least 1")
    if cfg.model.threads:
        torch.set_num_threads(cfg.model.threads)
    out.mkdir(parents=True, exist_ok=True)
    figures: dict = {
        "config": cfg.name,
        "clients": cfg.partition.num_clients,
        "rounds": cfg.federation.rounds,
    }
    _say("measuring the GEMM peak")
    device = resolve_device(cfg.model.device)
    figures["gemm_peak"] = gemm_peak(device, resolve_precision(cfg.model.precision, device))
    rounds = max(cache_rounds, cfg.federation.rounds)
    _say(f"engine: {rounds} rounds")
    figures["engine"] = run_arm(_with(cfg, **{"federation.rounds": rounds}), out / "engine")
    _say(f"engine without the feature cache: {rounds} rounds")
    figures["engine_no_cache"] = run_arm(
        _with(cfg, **{"federation.rounds": rounds, "train.feature_cache": "off"}), out / "engine_no_cache"
    )
    last = f"global_round_{rounds}"
    figures["cache_adapter_max_abs_diff"] = adapter_difference(
        out / "engine" / "adapters" / last, out / "engine_no_cache" / "adapters" / last
    )
    if naive:
        _say(f"naive: {cfg.federation.rounds} round(s), model + Trainer per client")
        holder = {}

        def naive_engine(c, su):
            holder["engine"] = NaiveClients(c, su)
            return holder["engine"]

        naive_cfg = _with(cfg, **{"train.feature_cache": "off"})
        figures["naive"] = run_arm(naive_cfg, out / "naive", engine=naive_engine)
        figures["naive"]["train_split"] = {k: round(v, 2) for k, v in holder["engine"].split.items()}
        final = f"global_round_{cfg.federation.rounds}"
        figures["naive_adapter_max_abs_diff"] = adapter_difference(
            out / "engine" / "adapters" / final, out / "naive" / "adapters" / final
        )
        r = cfg.federation.rounds
        pairs = [(figures["engine"], figures["naive"])]
        for k in range(2, repeats + 1):
            _say(f"repeat {k} of {repeats}: engine, then naive, {r} round(s)")
            again = run_arm(cfg, out / f"engine_repeat{k}")
            pairs.append((again, run_arm(naive_cfg, out / f"naive_repeat{k}", engine=naive_engine)))
            for arm in (f"engine_repeat{k}", f"naive_repeat{k}"):
                diff = adapter_difference(out / "engine" / "adapters" / final, out / arm / "adapters" / final)
                figures["naive_adapter_max_abs_diff"] = max(figures["naive_adapter_max_abs_diff"], diff)
        figures["naive_repeats"] = [
            {"engine": round(_round_seconds(e, r), 2), "naive": round(_round_seconds(n, r), 2)}
            for e, n in pairs
        ]
    _say("counting round 1's training FLOPs (replay)")
    figures["flops"] = count_round_flops(cfg)
    if naive:
        figures["naive_ceiling"] = naive_ceiling(figures)
    figures["peak_rss_mb"] = round(peak_rss_mb(), 1)
    figures["memory"] = []
    for n in memory:
        _say(f"memory probe: {n} clients, 10 per round, 3 rounds")
        figures["memory"].append(memory_probe(cfg, n, out))
    (out / "perf.json").write_text(json.dumps(figures, indent=1), encoding="utf-8")
    return figures


def naive_ceiling(f: dict) -> dict:
    """The most any engine can gain on the naive arm's round-1 local training on this device:
    round 1's training FLOPs (the engine's count; the naive arm computes the same batches and
    encodes the same images) run at the measured GEMM peak take `floor_seconds`, and the naive
    arm took `naive_seconds`."""
    floor = f["flops"]["flops"] / f["gemm_peak"]["flops_per_second"]
    naive = next(x["train"] for x in f["naive"]["rounds"] if x["round"] == 1)
    return {
        "floor_seconds": round(floor, 3),
        "naive_seconds": round(naive, 3),
        "ratio": round(naive / floor, 3),
    }


def _say(line: str) -> None:
    print(f"perf: {line}", file=sys.stderr, flush=True)


def summary(f: dict) -> str:
    """The figures as a plain-text table (what `fedocr perf` prints)."""
    r = f["rounds"]
    eng, nc = f["engine"], f["engine_no_cache"]
    train1 = next(x["train"] for x in eng["rounds"] if x["round"] == 1)
    lines_s = f["flops"]["lines"] / train1
    achieved = f["flops"]["flops"] / train1
    peak = f["gemm_peak"]
    out = [
        f"workload: {f['clients']} clients, round 1 = {f['flops']['steps']} local steps, "
        f"{f['flops']['lines']} training lines",
        "",
        "engine, time per round (s):   round   train  aggregate  evaluate    io",
    ]
    for x in eng["rounds"]:
        out.append(
            f"{'':31}{x['round']:>5}  {x.get('train', 0):>6.2f}  {x.get('aggregate', 0):>9.3f}"
            f"  {x['evaluate']:>8.2f}  {x['io']:>5.2f}"
        )
    out += [
        f"setup and checkpoints: {eng['setup_and_checkpoint_seconds']:.1f} s",
        f"training: {lines_s:.1f} lines/s in round 1",
        f"training FLOPs (round 1): {f['flops']['flops'] / 1e9:.1f} GFLOP -> {achieved / 1e9:.2f} GFLOP/s; "
        f"GEMM peak {peak['flops_per_second'] / 1e9:.1f} GFLOP/s ({peak['dtype']}, n={peak['n']}, "
        f"{peak['threads']} threads) -> model FLOPs utilisation {100 * achieved / peak['flops_per_second']:.1f} %",
        f"label padding per batch: {100 * f['flops']['padding_share']['buckets']:.1f} % with length buckets, "
        f"{100 * f['flops']['padding_share']['random']:.1f} % with random batches",
        "",
        "vision-feature cache, train seconds per round (on / off / speed-up):",
    ]
    for a, b in zip(eng["rounds"], nc["rounds"]):
        if a["round"] > 0:
            out.append(
                f"  round {a['round']}: {a['train']:.2f} / {b['train']:.2f} / {b['train'] / a['train']:.2f}x"
            )
    total_on = sum(x.get("train", 0) for x in eng["rounds"])
    total_off = sum(x.get("train", 0) for x in nc["rounds"])
    out.append(f"  all rounds: {total_on:.1f} / {total_off:.1f} / {total_off / total_on:.2f}x")
    out.append(
        f"  final adapter max |diff| {f['cache_adapter_max_abs_diff']:.2e}; CER "
        + _cer_pair(eng["cer"][max(eng["cer"])], nc["cer"][max(nc["cer"])])
    )
    if "naive" in f:
        nv = f["naive"]
        ours, theirs = _round_seconds(eng, r), _round_seconds(nv, r)
        out += [
            "",
            f"naive (model rebuilt + HF Trainer per client per round), rounds 0-{r} (s): "
            f"engine {ours:.1f}, naive {theirs:.1f} -> {theirs / ours:.2f}x",
            f"  local training only: engine {sum(x.get('train', 0) for x in eng['rounds'] if 0 < x['round'] <= r):.1f}"
            f", naive {sum(x.get('train', 0) for x in nv['rounds'] if x['round'] > 0):.1f}; naive split: "
            + ", ".join(f"{k} {v:.1f}" for k, v in nv["train_split"].items()),
            f"  ceiling: round 1's training FLOPs at the GEMM peak take {f['naive_ceiling']['floor_seconds']:.1f} s,"
            f" the naive arm's round-1 training {f['naive_ceiling']['naive_seconds']:.1f} s -> no engine computing them can be more"
            f" than {f['naive_ceiling']['ratio']:.2f}x faster on it on this device",
            f"  adapter after round {r}: max |diff| {f['naive_adapter_max_abs_diff']:.2e}; CER "
            + _cer_pair(eng["cer"][r], nv["cer"][r]),
        ]
        pairs = f.get("naive_repeats", [])
        if len(pairs) > 1:
            ratios = sorted(p["naive"] / p["engine"] for p in pairs)
            out.append(
                f"  {len(pairs)} runs of each, in turn, rounds 0-{r} (s): engine "
                + " ".join(f"{p['engine']:.1f}" for p in pairs)
                + ", naive "
                + " ".join(f"{p['naive']:.1f}" for p in pairs)
                + f" -> median {float(np.median(ratios)):.2f}x (range {ratios[0]:.2f}-{ratios[-1]:.2f}x)"
            )
    if f["memory"]:
        out += ["", "peak RSS against simulated clients (10 sampled per round, 3 rounds):"]
        for m in f["memory"]:
            out.append(f"  {m['clients']:>5} clients: {m['peak_rss_mb']:.0f} MB ({m['seconds']:.0f} s)")
        lo, hi = f["memory"][0], f["memory"][-1]
        if hi["clients"] > lo["clients"]:
            per = (hi["peak_rss_mb"] - lo["peak_rss_mb"]) * 2**20 / (hi["clients"] - lo["clients"])
            bound = 2 * hi["adapter_bytes"] + hi["shard_index_bytes"]
            out.append(
                f"  per additional client, its {PROBE_LINES_PER_CLIENT} lines of data included: {per / 1024:.1f} KiB"
                f" (bound: 2 x adapter {hi['adapter_bytes'] / 1024:.0f} KiB + shard index "
                f"{hi['shard_index_bytes'] / 1024:.2f} KiB = {bound / 1024:.0f} KiB)"
            )
    out.append(f"\nthis process's peak RSS: {f['peak_rss_mb']:.0f} MB")
    return "\n".join(out)


def _cer_pair(a: dict, b: dict) -> str:
    return ", ".join(f"{lang} {100 * a[lang]:.1f}/{100 * b[lang]:.1f}" for lang in a) + " %"


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--probe":
        _probe(Path(sys.argv[2]))
