"""Task specs: one TOML file per dataset task, a shipped spec's name, or `SOURCE:PATH:LANG`."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from tasks.checks import DEFAULT_MAX_IMAGE_PIXELS, Problem, TaskError
from tasks.languages import LANGUAGES, NORMALISATION_POLICIES, is_language_code
from tasks.render import LEVELS, resolve_font
from tasks.synthetic import GRANULARITIES

SOURCES = ("synthetic", "imagefolder", "parquet", "jsonl", "hub", "wordlist")
GENERATED_SOURCES = ("synthetic", "wordlist")
ROLES = ("train+test", "test", "train")
SPEC_DIR = Path(__file__).parent / "specs"
# Task names become parts of sample ids and file names.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_SHORTHAND = re.compile(r"^(imagefolder|parquet|jsonl|hub):(.+):([A-Za-z]{2,3}(?:-[A-Za-z0-9]+)*)$")
_COLUMNS = ("image", "text", "language", "id")
# The key, its TOML type(s) and what the error says it must be.
_KEYS: dict[str, tuple[tuple[type, ...], str]] = {
    "name": ((str,), "a name of letters, digits, '.', '_' or '-'"),
    "description": ((str,), "text"),
    "source": ((str,), "one of " + ", ".join(SOURCES)),
    "language": ((str,), "a language code such as 'de' or 'ka'"),
    "path": ((str,), "a file or folder (relative to the spec file), or a hub dataset name"),
    "role": ((str,), "one of " + ", ".join(ROLES)),
    "test_size": ((int,), "a whole number of rows"),
    "test_fraction": ((float, int), "a number between 0 and 1"),
    "train_size": ((int, str), 'a whole number of rows or "all"'),
    "seed": ((int,), "a whole number"),
    "normalisation": ((str,), "one of " + ", ".join(NORMALISATION_POLICIES)),
    "max_image_pixels": ((int,), "a whole number of pixels"),
    "columns": ((dict,), "a table mapping image/text/language/id to column names"),
    "level": ((str,), "one of " + ", ".join(LEVELS)),
    "granularity": ((str,), "one of " + ", ".join(GRANULARITIES)),
    "min_chars": ((int,), "a whole number"),
    "max_chars": ((int,), "a whole number"),
    "lines_per_page": ((list,), "two whole numbers [fewest, most]"),
    "fonts": ((list,), "a list of font files"),
    "direction": ((str,), '"ltr" or "rtl"'),
    "split": ((str,), "a hub split name such as 'train'"),
    "subset": ((str,), "a hub dataset configuration name"),
}


@dataclass(frozen=True)
class TaskSpec:
    """One dataset task. Sizes and generation settings left as None come from the run's data config."""

    name: str
    source: str
    language: str
    origin: str  # the spec file (or shorthand) it was read from, for messages
    path: str = ""  # an absolute file or folder; for `hub`, the dataset name
    description: str = ""
    role: str = "train+test"
    test_size: int | None = None
    test_fraction: float | None = None
    train_size: int | str | None = None  # "all" = every training row
    seed: int | None = None
    normalisation: str = ""  # policy applied to transcriptions on loading; "" = the language's
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS
    columns: dict[str, str] = field(default_factory=dict)  # image/text/language/id -> column
    level: str | None = None
    granularity: str = "line"
    min_chars: int | None = None
    max_chars: int | None = None
    lines_per_page: tuple[int, int] = (6, 14)
    fonts: tuple[str, ...] = ()
    direction: str = ""
    split: str = "train"
    subset: str = ""
    notes: tuple[str, ...] = ()  # things worth saying that are not problems

    def column(self, role: str) -> str:
        """The data column holding `role` (image/text/language/id); "" when not mapped."""
        defaults = {"image": "file_name" if self.source == "imagefolder" else "image", "text": "text"}
        return self.columns.get(role, defaults.get(role, ""))

    def data_columns(self) -> list[str]:
        """The columns the task reads from its data."""
        return [c for c in map(self.column, _COLUMNS) if c]


def shipped_specs() -> dict[str, Path]:
    """Spec files shipped in tasks/specs/, by task name (the file's stem)."""
    return {p.stem: p for p in sorted(SPEC_DIR.glob("*.toml"))}


def is_shorthand(ref: str) -> bool:
    return bool(_SHORTHAND.match(ref))


def load_task(ref: str) -> TaskSpec:
    """A task from a spec file path, a shipped spec's name, or `SOURCE:PATH:LANG`."""
    match = _SHORTHAND.match(ref)
    if match:
        source, path, language = match.groups()
        name = _safe_name(Path(path.rstrip("/")).stem if source != "hub" else path.split("/")[-1])
        return parse_spec(
            {"name": name, "source": source, "path": path, "language": language}, ref, Path.cwd()
        )
    shipped = shipped_specs()
    path = shipped.get(ref) or Path(ref).expanduser()
    if not path.is_file():
        raise TaskError(
            f"task {ref!r}: no such spec file. Give a spec file path, a shipped spec "
            f"({', '.join(shipped)}), or SOURCE:PATH:LANG with SOURCE one of imagefolder, parquet, "
            "jsonl, hub (e.g. imagefolder:data/my_scans:de)"
        )
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as err:
        raise TaskError(f"task spec {path} is not valid TOML: {err}") from None
    except UnicodeDecodeError as err:
        raise TaskError(f"task spec {path} is not valid UTF-8: {err.reason} at byte {err.start}") from None
    data.setdefault("name", path.stem)
    return parse_spec(data, str(path), path.parent.resolve())


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._-") or "task"


def parse_spec(data: dict, origin: str, base_dir: Path) -> TaskSpec:
    """Check every key of a spec and resolve its paths; raise TaskError listing all problems."""
    problems: list[Problem] = []
    notes: list[str] = []

    def problem(key: str, reason: str) -> None:
        problems.append(Problem(f"{origin} [{key}]", reason))

    for key, value in data.items():
        if key not in _KEYS:
            problem(key, f"unknown key; allowed keys: {', '.join(_KEYS)}")
        elif not isinstance(value, _KEYS[key][0]) or isinstance(value, bool):
            problem(key, f"{value!r} should be {_KEYS[key][1]}")
    if problems:
        raise TaskError(f"task spec {origin} has {len(problems)} problem(s):", problems)
    for key in ("name", "source", "language"):
        if not data.get(key):
            problem(key, f"missing; it should be {_KEYS[key][1]}")

    name, source, language = data.get("name", ""), data.get("source", ""), data.get("language", "")
    if name and not _NAME.match(name):
        problem("name", f"{name!r} should be {_KEYS['name'][1]}")
    if source and source not in SOURCES:
        problem("source", f"unknown source {source!r}; choose one of {', '.join(SOURCES)}")
    if language:
        if source == "synthetic" and language not in LANGUAGES:
            problem(
                "language",
                f"the synthetic source knows no language {language!r} (known: {', '.join(LANGUAGES)}); "
                "for another language use the wordlist source with a word list and a font",
            )
        elif not is_language_code(language):
            problem("language", f"unknown language code {language!r}: not an ISO 639 / BCP 47 code")
        elif language not in LANGUAGES:
            notes.append(
                f"language {language!r} is not in the registry: scored with the default "
                f"normalisation ({NORMALISATION_POLICIES['default']})"
            )

    path = data.get("path", "")
    if source == "hub":
        if not path:
            problem("path", "missing; name the hub dataset, e.g. 'hezarai/parsynth-ocr-200k'")
    elif source in ("imagefolder", "parquet", "jsonl", "wordlist"):
        if not path:
            problem("path", f"missing; the {source} source reads {_KEYS['path'][1]}")
        else:
            resolved = (base_dir / Path(path).expanduser()).resolve()
            if not resolved.exists():
                problem("path", f"{resolved} does not exist")
            elif source == "imagefolder" and not resolved.is_dir():
                problem("path", f"{resolved} is not a folder (imagefolder wants images + metadata.jsonl)")
            path = str(resolved)

    for key, allowed in (
        ("role", ROLES),
        ("level", LEVELS),
        ("granularity", GRANULARITIES),
        ("normalisation", tuple(NORMALISATION_POLICIES)),
        ("direction", ("ltr", "rtl")),
    ):
        if key in data and data[key] not in allowed:
            problem(key, f"{data[key]!r} is not one of {', '.join(allowed)}")
    if source in GENERATED_SOURCES and "test_fraction" in data:
        problem("test_fraction", f"the {source} source takes test_size (a number of samples)")
    if source in GENERATED_SOURCES and data.get("train_size") == "all":
        problem("train_size", f"the {source} source takes a number of samples, not 'all'")
    if "test_size" in data and data["test_size"] < 0:
        problem("test_size", "must be 0 or more")
    if "test_fraction" in data:
        if not 0 < data["test_fraction"] < 1:
            problem("test_fraction", f"{data['test_fraction']!r} must be between 0 and 1")
        if "test_size" in data:
            problem("test_fraction", "give test_size or test_fraction, not both")
    train_size = data.get("train_size")
    if isinstance(train_size, str) and train_size != "all":
        problem("train_size", f"{train_size!r} should be {_KEYS['train_size'][1]}")
    if isinstance(train_size, int) and train_size < 0:
        problem("train_size", "must be 0 or more")
    for key in ("min_chars", "max_chars", "max_image_pixels"):
        if key in data and data[key] < 1:
            problem(key, "must be 1 or more")
    if data.get("min_chars", 0) > data.get("max_chars", 10**9):
        problem("min_chars", f"{data['min_chars']} is above max_chars = {data['max_chars']}")
    lines_per_page = data.get("lines_per_page", [6, 14])
    if not (
        len(lines_per_page) == 2
        and all(isinstance(n, int) and n >= 1 for n in lines_per_page)
        and lines_per_page[0] <= lines_per_page[1]
    ):
        problem("lines_per_page", f"{lines_per_page!r} should be {_KEYS['lines_per_page'][1]}")
    columns = data.get("columns", {})
    for key, value in columns.items():
        if key not in _COLUMNS:
            problem(f"columns.{key}", f"unknown; map any of {', '.join(_COLUMNS)}")
        elif not isinstance(value, str) or not value:
            problem(f"columns.{key}", f"{value!r} should be a column name")
    if source in GENERATED_SOURCES and columns:
        problem("columns", f"the {source} source generates its data and reads no columns")
    fonts = []
    for font in data.get("fonts", []):
        resolved_font = resolve_font(font, base_dir) if isinstance(font, str) else None
        if resolved_font is None:
            problem(
                "fonts",
                f"font {font!r} not found: give a font file (relative to the spec file) or the "
                "file name of a weblate-fonts or system font, e.g. 'KurintoSans-Rg.ttf'",
            )
        else:
            fonts.append(str(resolved_font))
    if problems:
        raise TaskError(f"task spec {origin} has {len(problems)} problem(s):", problems)

    return TaskSpec(
        name=name,
        source=source,
        language=language,
        origin=origin,
        path=path,
        description=data.get("description", ""),
        role=data.get("role", "train+test"),
        test_size=data.get("test_size"),
        test_fraction=data.get("test_fraction"),
        train_size=train_size,
        seed=data.get("seed"),
        normalisation=data.get("normalisation", ""),
        max_image_pixels=data.get("max_image_pixels", DEFAULT_MAX_IMAGE_PIXELS),
        columns=dict(columns),
        level=data.get("level"),
        granularity=data.get("granularity", "line"),
        min_chars=data.get("min_chars"),
        max_chars=data.get("max_chars"),
        lines_per_page=tuple(lines_per_page),
        fonts=tuple(fonts),
        direction=data.get("direction", ""),
        split=data.get("split", "train"),
        subset=data.get("subset", ""),
        notes=tuple(notes),
    )
