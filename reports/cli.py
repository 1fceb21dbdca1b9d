"""`fedocr report ...` and `fedocr compare ...`: reports from run directories (registered by benchmark.cli)."""

from __future__ import annotations

from reports.rundir import RunDirError

# Exceptions the CLI reports as one-line errors (no traceback).
USER_ERRORS = (RunDirError,)


def _cmd_report(args) -> int:
    from reports.report import write_report

    print(write_report(args.run_dir, tesseract=args.tesseract))
    return 0


def _cmd_compare(args) -> int:
    from reports.compare import write_comparison

    for path in write_comparison(args.run_dirs, args.out, args.target_cer):
        print(path)
    return 0


def register(sub) -> None:
    p = sub.add_parser(
        "report", help="write report.html, report.md, summary.json and per_language.csv for a run directory"
    )
    p.add_argument("run_dir")
    p.add_argument(
        "--tesseract",
        action="store_true",
        help="add Tesseract's CER on the same test lines where it and the language's traineddata are installed",
    )
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("compare", help="leaderboard across run directories (HTML and CSV)")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--out", required=True, help="folder to write leaderboard.html and leaderboard.csv into")
    p.add_argument(
        "--target-cer", type=float, default=0.5, help="CER (fraction) for the rounds-to-target column (0.5)"
    )
    p.set_defaults(func=_cmd_compare)
