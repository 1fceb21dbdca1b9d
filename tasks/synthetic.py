"""Synthetic multilingual documents (line or page images): deterministic for a seed, parallel,
cached on disk."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import zlib
from dataclasses import asdict, dataclass
from importlib.metadata import version
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from datasets import Dataset, Features, Image, Value, load_from_disk
from tqdm.auto import tqdm

from tasks.languages import Language, get_language
from tasks.render import (
    RenderError,
    degrade,
    fonts_covering,
    language_fonts,
    render_line,
    render_page,
)
from tasks.text import sample_line, user_language

GENERATOR_VERSION = 2  # bump when rendering or text sampling changes: invalidates caches
GRANULARITIES = ("line", "page")

FEATURES = Features(
    {
        "image": Image(),
        "text": Value("string"),
        "language": Value("string"),
        "id": Value("string"),
        "font": Value("string"),
        "level": Value("string"),
    }
)


@dataclass(frozen=True)
class SyntheticSpec:
    """Everything that determines a synthetic dataset (and therefore its cache key).

    `train` and `test` count images: lines, or pages of `lines_per_page` lines whose
    transcription is the lines joined by "\n" in reading order.
    """

    language: str
    train: int
    test: int
    level: str = "scanned"
    seed: int = 0
    min_chars: int = 8
    max_chars: int = 32
    font_sizes: tuple[int, int] = (22, 30)
    system_fonts: bool = False
    granularity: str = "line"
    lines_per_page: tuple[int, int] = (6, 14)
    stream: str = ""  # a task's name: tasks of the same language and seed draw different text
    word_file: str = ""  # a user's word list: the language need not be in the registry
    direction: str = ""  # with word_file: "ltr" or "rtl"; "" = guessed from the words
    fonts: tuple[str, ...] = ()  # font files to draw with; () = the language's fonts

    def language_entry(self) -> Language:
        if self.word_file:
            return user_language(self.language, self.word_file, self.direction)
        return get_language(self.language)

    def font_paths(self) -> tuple[str, ...]:
        return self.fonts or language_fonts(self.language_entry(), self.system_fonts)

    def cache_key(self) -> str:
        fingerprint = {**asdict(self), "version": GENERATOR_VERSION, "faker": version("faker")}
        if self.word_file:
            fingerprint["word_file_sha256"] = hashlib.sha256(Path(self.word_file).read_bytes()).hexdigest()
        fingerprint["font_bytes"] = [Path(f).stat().st_size for f in self.fonts]
        blob = json.dumps(fingerprint, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def cache_root() -> Path:
    return Path(os.environ.get("FEDOCR_CACHE", Path.home() / ".cache" / "fedocr")) / "synthetic"


def _rng(spec: SyntheticSpec, *stream: int) -> np.random.Generator:
    return np.random.default_rng(
        [spec.seed, zlib.crc32(spec.language.encode()), zlib.crc32(spec.stream.encode()), *stream]
    )


def unique_lines(spec: SyntheticSpec, count: int) -> list[str]:
    """`count` distinct lines that some font can draw, deterministic for the spec's seed."""
    language = spec.language_entry()
    fonts = spec.font_paths()
    rng = _rng(spec, 0)
    seen: dict[str, None] = {}
    attempts = 0
    while len(seen) < count:
        attempts += 1
        if attempts > 20 * count + 1000:
            raise ValueError(
                f"could not draw {count} distinct {spec.language} lines of "
                f"{spec.min_chars}-{spec.max_chars} characters that the fonts can draw; "
                "lower the size, widen the range or add fonts"
            )
        line = sample_line(language, rng, spec.min_chars, spec.max_chars)
        if fonts_covering(line, fonts):
            seen.setdefault(line, None)
    return list(seen)


def sample_texts(spec: SyntheticSpec) -> list[str | tuple[str, ...]]:
    """The test then the train samples' text: a line each, or a page's lines; all lines distinct."""
    if spec.granularity == "line":
        return unique_lines(spec, spec.train + spec.test)
    low, high = spec.lines_per_page
    counts = _rng(spec, 2).integers(low, high + 1, size=spec.train + spec.test)
    lines = unique_lines(spec, int(counts.sum()))
    ends = np.cumsum(counts)
    return [tuple(lines[end - n : end]) for n, end in zip(counts, ends)]


def _pick_font(text: str, fonts: tuple[str, ...], rng: np.random.Generator) -> str:
    candidates = fonts_covering(text, fonts)
    if not candidates:
        raise RenderError(f"no font covers every character of {text!r}")
    return candidates[int(rng.integers(len(candidates)))]


def _render_one(job: tuple[SyntheticSpec, str, int, str | tuple[str, ...]]) -> dict:
    spec, split, index, text = job
    language = spec.language_entry()
    rng = _rng(spec, 1, index)
    fonts = spec.font_paths()
    size = int(rng.integers(spec.font_sizes[0], spec.font_sizes[1] + 1))
    if isinstance(text, str):
        font = _pick_font(text, fonts, rng)
        image = render_line(text, language, font, size, rng)
        sample_id = f"{spec.language}-{split}-{index:06d}"
    else:
        # One font for the page where one has every glyph, else each line its own.
        if fonts_covering("".join(text), fonts):
            line_fonts = [_pick_font("".join(text), fonts, rng)] * len(text)
        else:
            line_fonts = [_pick_font(line, fonts, rng) for line in text]
        font = line_fonts[0]
        image = render_page(list(text), language, line_fonts, size, rng)
        sample_id = f"{spec.language}-page-{split}-{index:06d}"
    image = degrade(image, spec.level, rng)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return {
        "image": {"bytes": buffer.getvalue(), "path": None},
        "text": text if isinstance(text, str) else "\n".join(text),
        "language": spec.language,
        "id": sample_id,
        "font": Path(font).stem,
        "level": spec.level,
    }


def _empty() -> Dataset:
    return Dataset.from_dict({name: [] for name in FEATURES}, features=FEATURES)


def _save(dataset: Dataset, path: Path) -> None:
    if len(dataset):
        dataset.save_to_disk(str(path))
    else:  # datasets cannot save an empty table
        path.mkdir(parents=True)
        (path / "EMPTY").touch()


def _load(path: Path) -> Dataset:
    return _empty() if (path / "EMPTY").exists() else load_from_disk(str(path))


def render_samples(
    spec: SyntheticSpec, split: str, texts: list[str | tuple[str, ...]], workers: int, offset: int = 0
) -> Dataset:
    jobs = [(spec, split, offset + i, t) for i, t in enumerate(texts)]
    desc = f"render {spec.language}/{split} ({spec.level} {spec.granularity}s)"
    # A page takes about as long as ten lines; below ~200 lines of work a pool costs more than it saves.
    work = len(jobs) * (10 if spec.granularity == "page" else 1)
    if workers > 1 and work > 200:
        chunksize = max(1, min(64, len(jobs) // (4 * workers)))
        with get_context("fork").Pool(workers) as pool:
            rows = list(tqdm(pool.imap(_render_one, jobs, chunksize=chunksize), total=len(jobs), desc=desc))
    else:
        rows = [_render_one(j) for j in tqdm(jobs, desc=desc, disable=work < 200)]
    if not rows:
        return _empty()
    return Dataset.from_list(rows, features=FEATURES)


def synthetic_splits(
    spec: SyntheticSpec, workers: int | None = None, use_cache: bool = True
) -> tuple[Dataset, Dataset]:
    """(train, test) for one language; no text line appears in both."""
    spec.language_entry()  # fail early on an unknown code
    if spec.granularity not in GRANULARITIES:
        raise ValueError(
            f"unknown granularity {spec.granularity!r}; choose one of {', '.join(GRANULARITIES)}"
        )
    workers = workers or min(os.cpu_count() or 1, 8)
    path = cache_root() / f"{spec.language}-{spec.cache_key()}"
    if use_cache and (path / "test").exists() and (path / "train").exists():
        return _load(path / "train"), _load(path / "test")
    texts = sample_texts(spec)
    test = render_samples(spec, "test", texts[: spec.test], workers)
    train = render_samples(spec, "train", texts[spec.test :], workers, offset=spec.test)
    if use_cache:
        tmp = path.with_name(path.name + f".tmp{os.getpid()}")
        _save(train, tmp / "train")
        _save(test, tmp / "test")
        try:
            tmp.rename(path)
        except OSError:  # another process finished first: use theirs
            shutil.rmtree(tmp, ignore_errors=True)
        return _load(path / "train"), _load(path / "test")
    return train, test
