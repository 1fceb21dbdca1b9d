"""Build a run's data: a pooled training set and one test set per language.

Every dataset is a `datasets.Dataset` with at least `image`, `text`, `language`, `id`.
"""

from __future__ import annotations

from datasets import Dataset, concatenate_datasets

from tasks.synthetic import SyntheticSpec, synthetic_splits


def build_datasets(data_cfg, workers: int | None = None) -> tuple[Dataset, dict[str, Dataset]]:
    """(training pool over all languages, {language: test set}); no text in both."""
    trains, tests = [], {}
    for code in data_cfg.languages:
        spec = SyntheticSpec(
            language=code,
            train=data_cfg.train_per_language,
            test=data_cfg.test_per_language,
            level=data_cfg.level,
            seed=data_cfg.seed,
            min_chars=data_cfg.min_chars,
            max_chars=data_cfg.max_chars,
            system_fonts=data_cfg.system_fonts,
        )
        train, test = synthetic_splits(spec, workers=workers)
        trains.append(train)
        tests[code] = test
    return concatenate_datasets(trains), tests
