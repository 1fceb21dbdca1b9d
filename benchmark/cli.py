"""`fedocr`: the command line. It only parses, validates and calls."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _cmd_run(args) -> int:
    from benchmark.config import load_config
    from benchmark.runner import run
    from reports.markdown import write_report

    cfg = load_config(args.preset, args.config, args.set or [])
    run_dir = run(cfg, args.out, command=["fedocr", *sys.argv[1:]])
    if not args.no_report:
        print(f"report: {write_report(run_dir)}", file=sys.stderr)
    print(run_dir)
    return 0


def _cmd_report(args) -> int:
    from reports.markdown import write_report

    print(write_report(args.run_dir))
    return 0


def _cmd_tasks_list(args) -> int:
    from tasks.languages import LANGUAGES

    scripts = sorted({lang.script for lang in LANGUAGES.values()})
    print(f"{len(LANGUAGES)} languages, {len(scripts)} scripts ({', '.join(scripts)})\n")
    print(f"{'code':<6}{'language':<24}{'script':<12}{'dir':<5}normalisation")
    for lang in LANGUAGES.values():
        print(f"{lang.code:<6}{lang.name:<24}{lang.script:<12}{lang.direction:<5}{lang.normalisation}")
    return 0


def _cmd_models_list(args) -> int:
    from benchmark.backends import BACKENDS, backend_class

    for name in BACKENDS:
        cls = backend_class(name)
        ok, why = cls.availability()
        print(f"{name}: {cls.description}")
        print(f"  LoRA targets: {cls.default_targets}")
        print(f"  runs here: {'yes' if ok else 'no'} ({why})")
    return 0


def _cmd_pretrain(args) -> int:
    from benchmark.backends.tiny import SHIPPED_BASE
    from benchmark.pretrain import PretrainConfig, pretrain

    cfg = PretrainConfig(seed=args.seed)
    if args.ocr_steps is not None:
        cfg.ocr_steps = args.ocr_steps
    print(pretrain(cfg, Path(args.out) if args.out else SHIPPED_BASE, threads=args.threads))
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
    p.add_argument("--out", help="run directory to write (default: runs/<name>-<time>)")
    p.add_argument("--no-report", action="store_true", help="skip writing report.md")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("report", help="write report.md and plots for a run directory")
    p.add_argument("run_dir")
    p.set_defaults(func=_cmd_report)

    tasks = sub.add_parser("tasks", help="languages and datasets").add_subparsers(dest="sub", required=True)
    tasks.add_parser("list", help="languages the synthetic generator knows").set_defaults(
        func=_cmd_tasks_list
    )

    models = sub.add_parser("models", help="model backends").add_subparsers(dest="sub", required=True)
    models.add_parser("list", help="backends, LoRA targets, and whether each runs here").set_defaults(
        func=_cmd_models_list
    )

    p = sub.add_parser("pretrain", help="train the tiny backend's base model (about 35 min on 2 CPU cores)")
    p.add_argument("--out", help="checkpoint folder (default: the shipped base's folder)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--ocr-steps", type=int, default=None, help="OCR training steps (default 3200)")
    p.set_defaults(func=_cmd_pretrain)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from benchmark.backends.base import BackendUnavailable
    from benchmark.config import ConfigError
    from reports.rundir import RunDirError
    from tasks.render import RenderError

    try:
        return args.func(args)
    except (ConfigError, BackendUnavailable, RunDirError, RenderError, FileExistsError) as err:
        print(f"fedocr: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fedocr: interrupted; finished rounds are kept in the run directory", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
