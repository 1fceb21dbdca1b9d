"""`fedocr tasks ...`: languages and datasets (registered by benchmark.cli)."""

from __future__ import annotations

from tasks.render import RenderError

# Exceptions the CLI reports as one-line errors (no traceback).
USER_ERRORS = (RenderError,)


def _cmd_tasks_list(args) -> int:
    from tasks.languages import LANGUAGES

    scripts = sorted({lang.script for lang in LANGUAGES.values()})
    print(f"{len(LANGUAGES)} languages, {len(scripts)} scripts ({', '.join(scripts)})\n")
    print(f"{'code':<6}{'language':<24}{'script':<12}{'dir':<5}normalisation")
    for lang in LANGUAGES.values():
        print(f"{lang.code:<6}{lang.name:<24}{lang.script:<12}{lang.direction:<5}{lang.normalisation}")
    return 0


def register(sub) -> None:
    tasks = sub.add_parser("tasks", help="languages and datasets").add_subparsers(dest="sub", required=True)
    tasks.add_parser("list", help="languages the synthetic generator knows").set_defaults(
        func=_cmd_tasks_list
    )
