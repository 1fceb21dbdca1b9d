"""A small hand-built run directory (no model): what `fedocr run` writes, in miniature."""

import json
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from benchmark.metrics import score
from tasks.languages import normalise_for
from tasks.synthetic import SyntheticSpec, synthetic_splits

ENGLISH = ["the quick brown fox", "jumps over", "a lazy dog <b>&"]
PARTITION = {
    "scheme": "dirichlet",
    "alpha": 0.5,
    "clients": [
        {"client_id": 0, "num_examples": 4, "languages": {"fa": 3, "en": 1}},
        {"client_id": 1, "num_examples": 4, "languages": {"en": 4}},
        {"client_id": 2, "num_examples": 4, "languages": {"fa": 2, "en": 2}},
    ],
}


@pytest.fixture(scope="session")
def persian_lines():
    _, test = synthetic_splits(SyntheticSpec("fa", 0, 3, level="clean"), workers=1)
    return [(row["id"], normalise_for("fa", row["text"]), row["image"]) for row in test]


def _prediction(reference: str, round_num: int, seed: int) -> str:
    """Round 0 reads nothing; later rounds drop fewer characters and substitute one."""
    if round_num == 0:
        return ""
    keep = reference[: len(reference) - max(0, 6 - 2 * round_num - seed)]
    return "x" + keep[1:] if keep else "x"


def write_run(path: Path, persian_lines, seed: int = 0, alpha: float = 0.5, rounds: int = 2) -> Path:
    """A run directory with fa and en test lines, `rounds` federated rounds and their metrics."""
    (path / "predictions").mkdir(parents=True)
    (path / "test_images").mkdir()
    lines = []
    for line_id, text, image in persian_lines:
        image.save(path / "test_images" / f"{line_id}.png")
        lines.append((line_id, "fa", text))
    for i, text in enumerate(ENGLISH):
        image = Image.new("L", (220, 32), 255)
        ImageDraw.Draw(image).text((4, 8), text, fill=0)
        line_id = f"en-test-{i:06d}"
        image.save(path / "test_images" / f"{line_id}.png")
        lines.append((line_id, "en", text))

    metrics = []
    for r in range(rounds + 1):
        rows = [
            {
                "id": i,
                "language": code,
                "reference": text,
                "prediction": normalise_for(code, _prediction(text, r, seed)),
            }
            for i, code, text in lines
        ]
        (path / "predictions" / f"round_{r}.jsonl").write_text(
            "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8"
        )
        languages = {}
        for code in ("fa", "en"):
            mine = [row for row in rows if row["language"] == code]
            languages[code] = score([m["reference"] for m in mine], [m["prediction"] for m in mine])
        clients = [
            {
                "client_id": c["client_id"],
                "num_examples": c["num_examples"],
                "train_loss": 2.0 / (r + 1),
                "local_steps": 5,
                "seconds": 0.5,
                "bytes_up": 1000,
                "bytes_down": 1000,
            }
            for c in PARTITION["clients"]
        ]
        metrics.append(
            {
                "round": r,
                "clients": clients if r else [],
                "seconds": {"train": 1.5, "aggregate": 0.01, "evaluate": 0.7} if r else {"evaluate": 0.7},
                "languages": languages,
                # Keys from later versions of the runner must not disturb the report.
                **({"faults": [{"client_id": 1, "kind": "dropout"}], "baseline": 0.3} if r == rounds else {}),
            }
        )
    (path / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in metrics), encoding="utf-8")
    (path / "partition.json").write_text(json.dumps({**PARTITION, "alpha": alpha}))
    (path / "config.toml").write_text(
        f'name = "synthetic"\nseed = {seed}\n\n[model]\nbackend = "tiny"\n\n'
        f'[partition]\nscheme = "dirichlet"\nnum_clients = 3\nalpha = {alpha}\n\n'
        f'[federation]\nrounds = {rounds}\nstrategy = "fedavg"\n',
        encoding="utf-8",
    )
    (path / "run.json").write_text(
        json.dumps(
            {
                "command": ["fedocr", "run", "--preset", "smoke"],
                "wall_seconds": 12.0,
                "versions": {"python": "3.11", "torch": "2.13.0"},
                "git_commit": "0123abc",
                "hardware": {"platform": "test", "cpus": 2},
            }
        )
    )
    return path


@pytest.fixture
def make_run(tmp_path, persian_lines):
    """make_run(name, seed=0, alpha=0.5, rounds=2) -> a fresh run directory under tmp_path."""
    return lambda name, **kwargs: write_run(tmp_path / name, persian_lines, **kwargs)


@pytest.fixture
def run_dir(make_run):
    return make_run("run")
