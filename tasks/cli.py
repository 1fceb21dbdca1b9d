"""`fedocr tasks ...`: languages and dataset tasks (registered by benchmark.cli)."""

from __future__ import annotations

from tasks.checks import TaskError
from tasks.render import RenderError

# Exceptions the CLI reports as one-line errors (no traceback).
USER_ERRORS = (RenderError, TaskError)


def _data_defaults():
    from benchmark.config import DataConfig

    return DataConfig()


def _cmd_tasks_list(args) -> int:
    from tasks.languages import LANGUAGES
    from tasks.taskspec import load_task, shipped_specs

    scripts = sorted({lang.script for lang in LANGUAGES.values()})
    print(f"{len(LANGUAGES)} languages, {len(scripts)} scripts ({', '.join(scripts)})\n")
    print(f"{'code':<6}{'language':<22}{'script':<12}{'dir':<5}{'normalisation':<15}text sources")
    for lang in LANGUAGES.values():
        print(
            f"{lang.code:<6}{lang.name:<22}{lang.script:<12}{lang.direction:<5}{lang.normalisation:<15}"
            f"{', '.join(lang.text_sources)}"
        )
    print("\nshipped task specs (fedocr run --task NAME, fedocr tasks show NAME):")
    for name in shipped_specs():
        task = load_task(name)
        print(f"  {name:<24}{task.source:<12}{task.language:<5}{task.description}")
    print("\nyour own data: --task path/to/spec.toml or --task imagefolder:PATH:LANG (see fedocr tasks show)")
    return 0


def _cmd_tasks_show(args) -> int:
    from tasks.languages import LANGUAGES

    if args.name in LANGUAGES:
        _show_language(LANGUAGES[args.name])
    else:
        _show_task(args.name)
    return 0


def _show_language(lang) -> None:
    from pathlib import Path

    import numpy as np

    from tasks.languages import NORMALISATION_POLICIES
    from tasks.render import fonts_covering, language_fonts
    from tasks.text import DOCUMENT_STYLES, sample_line, word_list

    print(f"{lang.code}: {lang.name}")
    print(f"  script         {lang.script} ({'right-to-left' if lang.rtl else 'left-to-right'})")
    print(f"  digits         {lang.digits}")
    print(f"  punctuation    {' '.join(lang.punctuation)}")
    print(f"  text sources   {', '.join(lang.text_sources)}")
    style = DOCUMENT_STYLES.get(lang.code)
    if style:
        print(f"  field labels   {' | '.join(style.labels.values())}")
    words, _ = word_list(lang)
    fonts = fonts_covering("".join(words[:200]), language_fonts(lang))
    print(
        f"  fonts          {', '.join(Path(f).stem for f in fonts)} (the fonts with glyphs for its 200 commonest words)"
    )
    print(f"  normalisation  {lang.normalisation}: {NORMALISATION_POLICIES[lang.normalisation]}")
    rng = np.random.default_rng(0)
    print("  sample lines")
    for _ in range(5):
        print(f"    {sample_line(lang, rng, 8, 40)}")


def _show_task(name: str) -> None:
    from tasks.taskspec import load_task

    task = load_task(name)
    print(f"{task.name}: {task.description or '(no description)'}")
    print(f"  spec           {task.origin}")
    print(f"  source         {task.source}")
    print(f"  language       {task.language}")
    if task.path:
        print(f"  path           {task.path}")
    print(f"  role           {task.role}")
    sizes = [
        f"test_size={task.test_size if task.test_size is not None else 'data.test_per_language'}"
        if task.test_fraction is None
        else f"test_fraction={task.test_fraction}",
        f"train_size={task.train_size if task.train_size is not None else 'data.train_per_language'}",
    ]
    print(f"  sizes          {', '.join(sizes)}")
    if task.source in ("synthetic", "wordlist"):
        print(f"  generation     level={task.level or 'data.level'} granularity={task.granularity}")
        if task.fonts:
            print(f"  fonts          {', '.join(task.fonts)}")
    elif task.columns:
        print(f"  columns        {', '.join(f'{k} <- {v}' for k, v in task.columns.items())}")
    for note in task.notes:
        print(f"  note           {note}")


def _cmd_tasks_preview(args) -> int:
    from tasks.preview import contact_sheet, preview_rows
    from tasks.render import LEVELS

    levels = tuple(v for v in (args.level or "").split(",") if v)
    unknown = [v for v in levels if v not in LEVELS]
    if unknown:
        raise TaskError(f"--level {','.join(unknown)}: choose from {', '.join(LEVELS)}")
    data_cfg = _data_defaults()
    data_cfg.seed = args.seed
    language, rows = preview_rows(args.name, levels, args.count, data_cfg)
    sheet = contact_sheet(language, rows)
    sheet.save(args.out)
    print(f"{args.out}: {len(rows)} samples, {sheet.width}x{sheet.height}")
    return 0


def _cmd_tasks_validate(args) -> int:
    import sys

    from tasks.sources import check_task
    from tasks.taskspec import load_task

    try:
        task = load_task(args.spec)
        for note in task.notes:
            print(f"note: {note}")
        read, problems = check_task(task, _data_defaults())
    except TaskError as err:
        print(err, file=sys.stderr)
        return 1
    for problem in problems:
        print(problem)
    if task.source == "synthetic":
        print(f"{task.name}: synthetic {task.language}, {len(problems)} problem(s)")
    else:
        unit = "words" if task.source == "wordlist" else "samples"
        print(f"{task.name}: {read} {unit} read, {len(problems)} problem(s)")
    return 1 if problems else 0


def register(sub) -> None:
    tasks = sub.add_parser("tasks", help="languages and datasets").add_subparsers(dest="sub", required=True)
    tasks.add_parser("list", help="languages the generator knows, and shipped task specs").set_defaults(
        func=_cmd_tasks_list
    )
    p = tasks.add_parser("show", help="a language's registry entry, or a task spec")
    p.add_argument("name", help="a language code, a shipped spec name, a spec path or SOURCE:PATH:LANG")
    p.set_defaults(func=_cmd_tasks_show)
    p = tasks.add_parser("preview", help="a contact sheet of samples with their transcriptions")
    p.add_argument("name", help="a language code, a shipped spec name, a spec path or SOURCE:PATH:LANG")
    p.add_argument("--out", required=True, help="PNG file to write")
    p.add_argument(
        "--level",
        help="degradation level(s) for generated data, comma-separated (default: all three for a "
        "language, the task's level for a task)",
    )
    p.add_argument("--count", type=int, default=8, help="number of samples (default 8)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_tasks_preview)
    p = tasks.add_parser("validate", help="check a task spec and every sample; non-zero exit on problems")
    p.add_argument("spec", help="a spec path, a shipped spec name, or SOURCE:PATH:LANG")
    p.set_defaults(func=_cmd_tasks_validate)
