"""`fedocr`: the command line. It only parses, validates and calls."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _cmd_run(args) -> int:
    from benchmark.config import ConfigError, load_config
    from benchmark.runner import resume, run
    from reports.report import write_report

    if args.resume:
        if args.preset or args.config or args.set or args.task or args.out:
            raise ConfigError("--resume continues a run with its own config.toml; give no other options")
        run_dir = resume(args.resume, command=["fedocr", *sys.argv[1:]])
    else:
        overrides = list(args.set or [])
        if args.task:
            overrides.append("data.tasks=" + ",".join(args.task))
        cfg = load_config(args.preset, args.config, overrides)
        run_dir = run(cfg, args.out, command=["fedocr", *sys.argv[1:]])
    from benchmark.baselines import run_baselines

    run_baselines(load_config(config_file=run_dir / "config.toml"), run_dir)
    if not args.no_report:
        print(f"report: {write_report(run_dir)}", file=sys.stderr)
    print(run_dir)
    return 0


def _cmd_sweep(args) -> int:
    from benchmark.sweep import run_sweep

    print(run_sweep(args.config))
    return 0


def _cmd_models_list(args) -> int:
    from benchmark.backends import BACKENDS, backend_class

    for name in BACKENDS:
        try:
            cls = backend_class(name)
        except ImportError as err:  # e.g. a transformers without this model family
            print(f"{name}: cannot be imported here\n  runs here: no ({err})")
            continue
        ok, why = cls.availability()
        print(f"{name}: {cls.description}")
        print(f"  LoRA targets: {cls.default_targets}")
        if cls.lora_defaults:
            print("  LoRA defaults: " + ", ".join(f"{k}={v}" for k, v in cls.lora_defaults.items()))
        for key, accepted in cls.options.items():
            print(f"  {key}: {accepted}")
        print(f"  runs here: {'yes' if ok else 'no'} ({why})")
    return 0


def _cmd_pretrain(args) -> int:
    from benchmark.backends.tiny import SHIPPED_BASE
    from benchmark.pretrain import PretrainConfig, pretrain

    cfg = PretrainConfig(seed=args.seed)
    if args.ocr_steps is not None:
        cfg.ocr_steps = args.ocr_steps
    start = Path(args.start_from) if args.start_from else None
    try:
        out = pretrain(
            cfg, Path(args.out) if args.out else SHIPPED_BASE, threads=args.threads, start_from=start
        )
    except ValueError as exc:
        print(f"fedocr pretrain: {exc}", file=sys.stderr)
        return 2
    print(out)
    return 0


def _cmd_perf(args) -> int:
    from datetime import datetime

    from benchmark.config import load_config
    from benchmark.perf import measure, summary

    cfg = load_config(args.preset or ("perf" if not args.config else None), args.config, list(args.set or []))
    out = Path(args.out) if args.out else Path("runs") / f"perf-{datetime.now():%Y%m%d-%H%M%S}"
    if (out / "perf.json").exists():
        raise FileExistsError(f"{out} already holds perf figures; choose another --out")
    memory = tuple(int(n) for n in args.memory.split(",") if n.strip()) if args.memory else ()
    figures = measure(
        cfg, out, naive=not args.no_naive, memory=memory, cache_rounds=args.cache_rounds, repeats=args.repeats
    )
    text = summary(figures)
    (out / "perf.txt").write_text(text + "\n", encoding="utf-8")
    print(text)
    print(f"\nfigures: {out / 'perf.json'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fedocr", description="Federated LoRA fine-tuning benchmark for OCR models."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="run a federated benchmark and write a run directory")
    p.add_argument("--preset", help="a preset name (default: 'default'); see benchmark/presets/")
    p.add_argument("--config", help="a TOML config file (instead of a preset)")
    p.add_argument(
        "--set",
        nargs="+",
        metavar="KEY=VALUE",
        action="extend",
        help="override config keys, e.g. federation.rounds=5 data.languages=fa,ru",
    )
    p.add_argument(
        "--task",
        action="append",
        metavar="SPEC",
        help="add a dataset task (a spec file path or imagefolder:PATH:LANG); repeatable",
    )
    p.add_argument("--out", help="run directory to write (default: runs/<name>-<time>)")
    p.add_argument(
        "--resume", metavar="RUN_DIR", help="continue an interrupted run from its last complete round"
    )
    p.add_argument("--no-report", action="store_true", help="skip writing report.md")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("sweep", help="run a grid of configs (resumable) and write a leaderboard")
    p.add_argument("--config", required=True, help="a sweep TOML file with a [sweep] table")
    p.set_defaults(func=_cmd_sweep)

    p = sub.add_parser(
        "perf", help="time split, lines/s, FLOP utilisation, memory vs clients, and a naive baseline"
    )
    p.add_argument("--preset", help="a preset name (default: 'perf')")
    p.add_argument("--config", help="a TOML config file (instead of a preset)")
    p.add_argument("--set", nargs="+", metavar="KEY=VALUE", action="extend", help="override config keys")
    p.add_argument(
        "--out", help="folder for the arms' run directories and perf.json (default: runs/perf-<time>)"
    )
    p.add_argument("--no-naive", action="store_true", help="skip the naive baseline arm")
    p.add_argument(
        "--memory",
        default="10,100,1000",
        help="simulated client counts for the peak-RSS probes, comma-separated ('' = none)",
    )
    p.add_argument(
        "--cache-rounds", type=int, default=3, help="rounds of the feature-cache comparison (default 3)"
    )
    p.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="runs of the engine and of the naive arm, in turn, for the ratio's median and range (default 3)",
    )
    p.set_defaults(func=_cmd_perf)

    # Each package registers its own subcommands.
    from reports.cli import register as register_reports
    from tasks.cli import register as register_tasks

    register_tasks(sub)
    register_reports(sub)

    models = sub.add_parser("models", help="model backends").add_subparsers(dest="sub", required=True)
    models.add_parser("list", help="backends, LoRA targets, and whether each runs here").set_defaults(
        func=_cmd_models_list
    )

    p = sub.add_parser("pretrain", help="train the tiny backend's base model (about 50 min on 2 CPU cores)")
    p.add_argument("--out", help="checkpoint folder (default: the shipped base's folder)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--ocr-steps", type=int, default=None, help="phase-2 OCR training steps (default 2600)")
    p.add_argument(
        "--start-from",
        metavar="DIR",
        help="a checkpoint that finished phases 1-2 of this recipe: run phase 3 (widening) only, from it",
    )
    p.set_defaults(func=_cmd_pretrain)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from benchmark.backends.base import BackendUnavailable
    from benchmark.config import ConfigError
    from reports.cli import USER_ERRORS as REPORT_ERRORS
    from tasks.cli import USER_ERRORS as TASK_ERRORS

    # Errors about the user's input or machine: a one-line message, never a traceback.
    user_errors = (
        ConfigError,
        BackendUnavailable,
        FileExistsError,
        FileNotFoundError,
        *TASK_ERRORS,
        *REPORT_ERRORS,
    )
    try:
        return args.func(args)
    except user_errors as err:
        print(f"fedocr: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fedocr: interrupted; finished rounds are kept in the run directory", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
