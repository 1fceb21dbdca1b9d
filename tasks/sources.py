"""Build a run's data: a pooled training set and test sets, from synthetic languages and tasks.

Every dataset is a `datasets.Dataset` with at least `image`, `text`, `language`, `id`. Sources:
synthetic (registry languages), wordlist (a user's words + fonts), imagefolder (images +
metadata.jsonl), jsonl (image path + text per line), parquet, hub (a Hugging Face dataset).
"""

from __future__ import annotations

import json
import sys
import unicodedata
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from datasets import Dataset, Features, Image, Value, concatenate_datasets
from tqdm.auto import tqdm

from tasks.checks import Problem, TaskError, image_problem, text_problem
from tasks.languages import is_language_code, language_or_default, normalise_for, normalise_lines
from tasks.render import available_fonts, font_charset
from tasks.synthetic import SyntheticSpec, synthetic_splits, unique_lines
from tasks.taskspec import GENERATED_SOURCES, TaskSpec, load_task
from tasks.text import parse_word_file

POOL_COLUMNS = ["image", "text", "language", "id"]
FILE_FEATURES = Features(
    {
        "image": Image(),
        "text": Value("string"),
        "language": Value("string"),
        "id": Value("string"),
        "source": Value("string"),  # the file (and row) the sample came from
    }
)
# How many skipped problems the skip report keeps word for word.
REPORTED_PROBLEMS = 100

_last_skip_report: dict = {"skipped": 0, "by_task": {}, "problems": []}


def last_skip_report() -> dict:
    """What the last `build_datasets` skipped under data.on_bad_sample = "skip":
    {"skipped": total, "by_task": {task: count}, "problems": ["file: reason", ...]} (first 100)."""
    return dict(_last_skip_report)


@dataclass
class TaskData:
    train: Dataset
    tests: dict[str, Dataset]  # language code -> test set
    problems: list[Problem]  # bad samples that were skipped


# ---------------------------------------------------------------- reading and checking samples


def check_task(task: TaskSpec, data_cfg) -> tuple[int, list[Problem]]:
    """(samples or words read, every problem with its file and reason) without building datasets."""
    if task.source not in GENERATED_SOURCES:
        samples, problems = read_samples(task)
        return len(samples) + len(problems), problems
    entries, problems = (
        wordlist_problems(task, data_cfg.system_fonts) if task.source == "wordlist" else ([], [])
    )
    if not problems:
        try:  # a font that lacks the script, or too few words, shows up as lines that cannot be drawn
            unique_lines(task_synthetic_spec(task, data_cfg), 20)
        except ValueError as err:
            problems.append(Problem(task.origin, str(err)))
    return len(entries), problems


def wordlist_problems(task: TaskSpec, system_fonts: bool = False) -> tuple[list, list[Problem]]:
    """The word file's entries, and its problems: undecodable lines, characters no font draws."""
    entries, problems = parse_word_file(task.path)
    fonts = task.fonts or available_fonts(system_fonts)
    drawable = frozenset().union(*(font_charset(f) for f in fonts))
    for number, word, _ in entries:
        missing = sorted({c for c in word if ord(c) not in drawable})
        if missing:
            chars = ", ".join(f"U+{ord(c):04X} {unicodedata.name(c, '?')}" for c in missing)
            problems.append(Problem(f"{task.path} line {number}", f"{word!r}: no font can draw {chars}"))
    return entries, problems


def read_samples(task: TaskSpec) -> tuple[list[dict], list[Problem]]:
    """Every usable sample of a file or hub task, and a problem for every unusable one, in file order."""
    path = Path(task.path)
    if task.source == "imagefolder":
        metadata = path / "metadata.jsonl"
        if not metadata.is_file():
            hint = "an imagefolder needs metadata.jsonl with file_name and text for each image"
            return [], [Problem(str(metadata), f"file not found ({hint})")]
        records, base_dir = _jsonl_records(metadata), path
    elif task.source == "jsonl":
        records, base_dir = _jsonl_records(path), path.parent
    elif task.source == "parquet":
        records, base_dir = _parquet_records(task), path if path.is_dir() else path.parent
    elif task.source == "hub":
        records, base_dir = _hub_records(task), Path.cwd()
    else:
        raise ValueError(f"{task.source} is not a file source")
    samples, problems = [], []
    for index, (where, record) in enumerate(
        tqdm(records, desc=f"check {task.name}", disable=len(records) < 500)
    ):
        if isinstance(record, str):  # the record itself could not be read
            problems.append(Problem(where, record))
            continue
        sample, problem = _sample(task, index, where, record, base_dir)
        if problem:
            problems.append(problem)
        else:
            samples.append(sample)
    return samples, problems


# A record is (where it is, its fields), or (where it is, why it could not be read).
Record = tuple[str, dict | str]


def _jsonl_records(path: Path) -> list[Record]:
    records = []
    for number, line_bytes in enumerate(path.read_bytes().splitlines(), start=1):
        where = f"{path} line {number}"
        if not line_bytes.strip():
            continue
        try:
            record = json.loads(line_bytes.decode("utf-8"))
        except UnicodeDecodeError as err:
            records.append((where, f"not valid UTF-8 ({err.reason} at byte {err.start})"))
        except json.JSONDecodeError as err:
            records.append((where, f"not valid JSON ({err.msg} at column {err.colno})"))
        else:
            if isinstance(record, dict):
                records.append((where, record))
            else:
                records.append((where, f"not a JSON object but {type(record).__name__}"))
    return records


def _parquet_records(task: TaskSpec) -> list[Record]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = Path(task.path)
    files = sorted(root.glob("**/*.parquet")) if root.is_dir() else [root]
    if not files:
        return [(str(root), "no .parquet files in the folder")]
    wanted = task.data_columns()
    records = []
    for file in files:
        try:
            parquet = pq.ParquetFile(file)
        except (pa.ArrowException, OSError) as err:
            records.append((str(file), f"not a readable parquet file ({err})"))
            continue
        names = parquet.schema_arrow.names
        missing = [c for c in wanted if c not in names]
        if missing:
            records.append((str(file), f"no column {', '.join(map(repr, missing))}; it has {names}"))
            continue
        row = 0
        for batch in parquet.iter_batches(batch_size=256, columns=wanted):
            for record in batch.to_pylist():
                records.append((f"{file} row {row}", record))
                row += 1
    return records


def _hub_records(task: TaskSpec) -> list[Record]:
    import datasets

    try:
        dataset = datasets.load_dataset(task.path, task.subset or None, split=task.split)
    except (ConnectionError, OSError, ValueError) as err:
        raise TaskError(
            f"task {task.name}: could not load the hub dataset {task.path!r} (split {task.split!r}): "
            f"{type(err).__name__}: {err}\nThe hub source needs internet access to the Hugging Face "
            "Hub, or the dataset already in the local Hugging Face cache (HF_HUB_OFFLINE / "
            "HF_DATASETS_OFFLINE=1 forbid downloading). Without either, download the dataset on a "
            "connected machine and point a parquet or imagefolder task at the files."
        ) from None
    wanted = task.data_columns()
    missing = [c for c in wanted if c not in dataset.column_names]
    if missing:
        raise TaskError(
            f"task {task.name}: hub dataset {task.path!r} has no column {', '.join(map(repr, missing))}; "
            f"its columns are {dataset.column_names}. Map them in the spec's [columns] table."
        )
    image_column = task.column("image")
    if isinstance(dataset.features[image_column], Image):
        dataset = dataset.cast_column(image_column, Image(decode=False))  # check the encoded bytes
    return [
        (f"hub:{task.path} [{task.split}] row {i}", r) for i, r in enumerate(dataset.select_columns(wanted))
    ]


def _sample(
    task: TaskSpec, index: int, where: str, record: dict, base_dir: Path
) -> tuple[dict | None, Problem | None]:
    """One record -> a sample row, or the problem that makes it unusable."""
    image_column, text_column = task.column("image"), task.column("text")
    for column in (image_column, text_column):
        if column not in record:
            return None, Problem(where, f"no {column!r} field")
    image = record[image_column]
    if isinstance(image, dict):  # the datasets Image encoding: {"bytes": ..., "path": ...}
        image = image.get("bytes") or image.get("path")
    if isinstance(image, str):
        where = f"{where} ({image})"
        image_ref = {"path": str(base_dir / image), "bytes": None}
        problem = image_problem(base_dir / image, task.max_image_pixels)
    elif isinstance(image, bytes):
        image_ref = {"path": None, "bytes": image}
        problem = image_problem(image, task.max_image_pixels)
    else:
        return None, Problem(
            where, f"{image_column!r} is neither an image path nor image bytes ({image!r:.40})"
        )
    if problem:
        return None, Problem(where, problem)
    text = record[text_column]
    language = task.language
    if task.column("language"):
        language = record.get(task.column("language"))
        if not isinstance(language, str) or not is_language_code(language):
            return None, Problem(where, f"unknown language code {language!r}")
    problem = text_problem(text)
    if problem is None:
        text = normalise_lines(text, task.normalisation or language_or_default(language).normalisation)
        problem = None if text else "transcription is empty after normalisation"
    if problem:
        return None, Problem(where, problem)
    row_id = record.get(task.column("id")) if task.column("id") else None
    row_id = (
        f"{index:06d}"
        if row_id is None
        else "".join(c if c.isalnum() or c in "._-" else "_" for c in str(row_id))
    )
    return {
        "image": image_ref,
        "text": text,
        "language": language,
        "id": f"{task.name}-{row_id}",
        "source": where,
    }, None


# ---------------------------------------------------------------- splitting


def _seed(task: TaskSpec, data_cfg) -> int:
    return data_cfg.seed if task.seed is None else task.seed


def _train_cap(task: TaskSpec, data_cfg) -> int | None:
    if task.train_size == "all":
        return None
    return data_cfg.train_per_language if task.train_size is None else task.train_size


def split_by_text(samples: list[dict], task: TaskSpec, data_cfg) -> tuple[list[dict], list[dict]]:
    """(train, test) by the task's role and sizes; every copy of a text goes to the same side."""
    groups: dict[str, list[int]] = {}
    for i, sample in enumerate(samples):
        groups.setdefault(normalise_for(sample["language"], sample["text"]), []).append(i)
    order = list(groups.values())
    rng = np.random.default_rng([_seed(task, data_cfg), zlib.crc32(task.name.encode())])
    rng.shuffle(order)
    if task.role == "train":
        test_groups, train_groups = [], order
    elif task.role == "test":
        test_groups, train_groups = order, []
    elif task.test_fraction is not None:
        cut = max(1, round(task.test_fraction * len(order)))
        test_groups, train_groups = order[:cut], order[cut:]
    else:
        wanted = data_cfg.test_per_language if task.test_size is None else task.test_size
        taken, cut = 0, 0
        while cut < len(order) and taken < wanted:
            taken += len(order[cut])
            cut += 1
        test_groups, train_groups = order[:cut], order[cut:]
    if task.role == "test" and task.test_size is not None:
        test_groups = _first_rows(test_groups, task.test_size)
    cap = _train_cap(task, data_cfg)
    if cap is not None:
        train_groups = _first_rows(train_groups, cap)
    # Each side keeps the source's order.
    train = [samples[i] for i in sorted(i for g in train_groups for i in g)]
    test = [samples[i] for i in sorted(i for g in test_groups for i in g)]
    return train, test


def _first_rows(groups: list[list[int]], rows: int) -> list[list[int]]:
    kept, total = [], 0
    for group in groups:
        if total + len(group) > rows:
            break
        kept.append(group)
        total += len(group)
    return kept


# ---------------------------------------------------------------- tasks -> datasets


def read_task(task: TaskSpec, data_cfg, workers: int | None = None) -> TaskData:
    """A task's train set and test sets (one per language). Bad samples stop it with a TaskError
    listing them, or are skipped when data_cfg.on_bad_sample is "skip"."""
    if task.source in GENERATED_SOURCES:
        problems = wordlist_problems(task, data_cfg.system_fonts)[1] if task.source == "wordlist" else []
        _stop_on_problems(task, problems, data_cfg)
        train, test = _generate(task, data_cfg, workers)
        return TaskData(train, {task.language: test} if len(test) else {}, problems)
    samples, problems = read_samples(task)
    _stop_on_problems(task, problems, data_cfg)
    if not samples:
        raise TaskError(f"task {task.name} ({task.origin}): no usable samples")
    train, test = split_by_text(samples, task, data_cfg)
    tests = {}
    for language in dict.fromkeys(s["language"] for s in test):
        tests[language] = _dataset([s for s in test if s["language"] == language])
    return TaskData(_dataset(train), tests, problems)


def _stop_on_problems(task: TaskSpec, problems: list[Problem], data_cfg) -> None:
    if problems and data_cfg.on_bad_sample != "skip":
        raise TaskError(
            f"task {task.name} ({task.origin}): {len(problems)} bad sample(s):",
            problems,
            hint=f'`fedocr tasks validate {task.origin}` lists them all; set data.on_bad_sample = "skip" '
            "to leave them out instead.",
        )


def _dataset(samples: list[dict]) -> Dataset:
    if not samples:
        return Dataset.from_dict({name: [] for name in FILE_FEATURES}, features=FILE_FEATURES)
    return Dataset.from_list(samples, features=FILE_FEATURES)


def synthetic_spec(data_cfg, language: str, **settings) -> SyntheticSpec:
    """The run's synthetic data settings for `language`, with a task's `settings` on top."""
    run_settings = {
        "train": data_cfg.train_per_language,
        "test": data_cfg.test_per_language,
        "level": data_cfg.level,
        "seed": data_cfg.seed,
        "min_chars": data_cfg.min_chars,
        "max_chars": data_cfg.max_chars,
        "system_fonts": data_cfg.system_fonts,
    }
    return SyntheticSpec(language, **{**run_settings, **settings})


def task_synthetic_spec(task: TaskSpec, data_cfg) -> SyntheticSpec:
    """What a synthetic or wordlist task generates under a run's data config."""
    settings = {
        "granularity": task.granularity,
        "lines_per_page": task.lines_per_page,
        "stream": task.name,
        "word_file": task.path if task.source == "wordlist" else "",
        "direction": task.direction,
        "fonts": task.fonts,
        "seed": _seed(task, data_cfg),
        "train": 0 if task.role == "test" else _train_cap(task, data_cfg),
        "test": 0 if task.role == "train" else task.test_size,
        "level": task.level,
        "min_chars": task.min_chars,
        "max_chars": task.max_chars,
    }
    return synthetic_spec(data_cfg, task.language, **{k: v for k, v in settings.items() if v is not None})


def _generate(task: TaskSpec, data_cfg, workers: int | None) -> tuple[Dataset, Dataset]:
    train, test = synthetic_splits(task_synthetic_spec(task, data_cfg), workers=workers)
    return _prefix_ids(train, task.name), _prefix_ids(test, task.name)


def _prefix_ids(dataset: Dataset, prefix: str) -> Dataset:
    """Task ids start with the task's name, so they never collide with another source's."""
    ids = [f"{prefix}-{i}" for i in dataset["id"]]
    return dataset.remove_columns("id").add_column("id", ids, feature=Value("string"))


def drop_test_lines(pool: Dataset, tests: dict[str, Dataset]) -> tuple[Dataset, int]:
    """The pool without rows that share a text line with any test set, and how many went."""
    test_lines = {
        normalise_for(language, line)
        for ds in tests.values()
        for text, language in zip(ds["text"], ds["language"])
        for line in text.splitlines()
    }
    keep = [
        i
        for i, (text, language) in enumerate(zip(pool["text"], pool["language"]))
        if not any(normalise_for(language, line) in test_lines for line in text.splitlines())
    ]
    if len(keep) == len(pool):
        return pool, 0
    return pool.select(keep), len(pool) - len(keep)


def build_datasets(data_cfg, workers: int | None = None) -> tuple[Dataset, dict[str, Dataset]]:
    """(training pool over all languages and tasks, {test-set name: test set}); no text line in both.

    Synthetic languages' test sets are named by language code, and so is a task's unless another
    test set has that language too: then it is "<code>@<task name>".
    """
    global _last_skip_report
    trains, tests = [], {}
    for code in data_cfg.languages:
        train, test = synthetic_splits(synthetic_spec(data_cfg, code), workers=workers)
        trains.append(train)
        tests[code] = test
    task_tests: list[tuple[str, str, Dataset]] = []
    skipped: dict[str, list[Problem]] = {}
    for ref in data_cfg.tasks:
        task = load_task(ref)
        for note in task.notes:
            print(f"task {task.name}: note: {note}", file=sys.stderr)
        data = read_task(task, data_cfg, workers)
        if data.problems:
            skipped[task.name] = data.problems
            print(
                f"task {task.name}: skipped {len(data.problems)} bad sample(s), e.g. {data.problems[0]}",
                file=sys.stderr,
            )
        trains.append(data.train)
        task_tests += [(language, task.name, ds) for language, ds in data.tests.items()]

    languages = list(tests) + [language for language, _, _ in task_tests]
    for language, name, ds in task_tests:
        key = language if languages.count(language) == 1 else f"{language}@{name}"
        if key in tests:
            raise TaskError(f"two tasks are named {name!r} and test {language!r}; give them different names")
        tests[key] = ds

    parts = [t for t in trains if len(t)] or [_dataset([])]
    pool = concatenate_datasets([t.select_columns(POOL_COLUMNS) for t in parts])
    pool, dropped = drop_test_lines(pool, tests)
    if dropped:
        print(f"left out {dropped} training sample(s) whose text is in a test set", file=sys.stderr)
    problems = [str(p) for ps in skipped.values() for p in ps]
    _last_skip_report = {
        "skipped": len(problems),
        "by_task": {name: len(ps) for name, ps in skipped.items()},
        "problems": problems[:REPORTED_PROBLEMS],
    }
    return pool, tests
