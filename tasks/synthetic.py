"""Synthetic multilingual line datasets: deterministic for a seed, parallel, cached on disk."""

from __future__ import annotations

import hashlib
import io
import json
import os
import zlib
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from datasets import Dataset, Features, Image, Value, load_from_disk
from tqdm.auto import tqdm

from tasks.languages import Language, get_language
from tasks.render import RenderError, available_fonts, degrade, fonts_covering, render_line
from tasks.text import sample_line

GENERATOR_VERSION = 1  # bump when rendering or text sampling changes: invalidates caches

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
    """Everything that determines a synthetic dataset (and therefore its cache key)."""

    language: str
    train: int
    test: int
    level: str = "scanned"
    seed: int = 0
    min_chars: int = 8
    max_chars: int = 32
    font_sizes: tuple[int, int] = (22, 30)
    system_fonts: bool = False

    def cache_key(self) -> str:
        blob = json.dumps({**asdict(self), "version": GENERATOR_VERSION}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def cache_root() -> Path:
    return Path(os.environ.get("FEDOCR_CACHE", Path.home() / ".cache" / "fedocr")) / "synthetic"


def unique_lines(spec: SyntheticSpec, count: int) -> list[str]:
    """`count` distinct lines, deterministic for the spec's seed and language."""
    language = get_language(spec.language)
    rng = np.random.default_rng([spec.seed, zlib.crc32(spec.language.encode()), 0])
    seen: dict[str, None] = {}
    attempts = 0
    while len(seen) < count:
        attempts += 1
        if attempts > 20 * count + 1000:
            raise ValueError(
                f"could not draw {count} distinct {spec.language} lines of "
                f"{spec.min_chars}-{spec.max_chars} characters; lower the size or widen the range"
            )
        seen.setdefault(sample_line(language, rng, spec.min_chars, spec.max_chars), None)
    return list(seen)


def _render_one(job: tuple[SyntheticSpec, str, int, str]) -> dict:
    spec, split, index, text = job
    language: Language = get_language(spec.language)
    rng = np.random.default_rng([spec.seed, zlib.crc32(spec.language.encode()), 1, index])
    candidates = fonts_covering(text, available_fonts(spec.system_fonts))
    if not candidates:
        raise RenderError(f"no font covers every character of {spec.language} line {text!r}")
    font = candidates[int(rng.integers(len(candidates)))]
    size = int(rng.integers(spec.font_sizes[0], spec.font_sizes[1] + 1))
    image = degrade(render_line(text, language, font, size, rng), spec.level, rng)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return {
        "image": {"bytes": buffer.getvalue(), "path": None},
        "text": text,
        "language": spec.language,
        "id": f"{spec.language}-{split}-{index:06d}",
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


def render_lines(spec: SyntheticSpec, split: str, texts: list[str], workers: int, offset: int = 0) -> Dataset:
    jobs = [(spec, split, offset + i, t) for i, t in enumerate(texts)]
    desc = f"render {spec.language}/{split} ({spec.level})"
    if workers > 1 and len(jobs) > 200:
        with get_context("fork").Pool(workers) as pool:
            rows = list(tqdm(pool.imap(_render_one, jobs, chunksize=64), total=len(jobs), desc=desc))
    else:
        rows = [_render_one(j) for j in tqdm(jobs, desc=desc, disable=len(jobs) < 200)]
    if not rows:
        return _empty()
    return Dataset.from_list(rows, features=FEATURES)


def synthetic_splits(
    spec: SyntheticSpec, workers: int | None = None, use_cache: bool = True
) -> tuple[Dataset, Dataset]:
    """(train, test) for one language; no text line appears in both."""
    get_language(spec.language)  # fail early on an unknown code
    workers = workers or min(os.cpu_count() or 1, 8)
    path = cache_root() / f"{spec.language}-{spec.cache_key()}"
    if use_cache and (path / "test").exists() and (path / "train").exists():
        return _load(path / "train"), _load(path / "test")
    texts = unique_lines(spec, spec.train + spec.test)
    test = render_lines(spec, "test", texts[: spec.test], workers)
    train = render_lines(spec, "train", texts[spec.test :], workers, offset=spec.test)
    if use_cache:
        tmp = path.with_name(path.name + f".tmp{os.getpid()}")
        _save(train, tmp / "train")
        _save(test, tmp / "test")
        try:
            tmp.rename(path)
        except OSError:  # another process finished first: use theirs
            pass
        return _load(path / "train"), _load(path / "test")
    return train, test
