"""`fedocr report ...`: reports from run directories (registered by benchmark.cli)."""

from __future__ import annotations

from reports.rundir import RunDirError

# Exceptions the CLI reports as one-line errors (no traceback).
USER_ERRORS = (RunDirError,)


def _cmd_report(args) -> int:
    from reports.markdown import write_report

    print(write_report(args.run_dir))
    return 0


def register(sub) -> None:
    p = sub.add_parser("report", help="write report.md and plots for a run directory")
    p.add_argument("run_dir")
    p.set_defaults(func=_cmd_report)
