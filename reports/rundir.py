"""Read a run directory written by `fedocr run`."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path


class RunDirError(ValueError):
    """The folder is not a (complete enough) run directory; the message names the file."""


@dataclass
class RunData:
    path: Path
    config: dict
    rounds: list[dict]  # metrics.jsonl rows, ordered by round
    partition: dict | None
    run_info: dict | None

    @property
    def languages(self) -> list[str]:
        return list(self.rounds[0]["languages"]) if self.rounds else []

    def predictions(self, round_num: int) -> list[dict]:
        path = self.path / "predictions" / f"round_{round_num}.jsonl"
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def read_run(path: str | Path) -> RunData:
    path = Path(path)
    if not path.is_dir():
        raise RunDirError(f"{path} is not a directory")
    metrics = path / "metrics.jsonl"
    if not metrics.exists():
        raise RunDirError(f"{path} has no metrics.jsonl: not a run directory, or no round finished")
    rounds = []
    for number, line in enumerate(metrics.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rounds.append(json.loads(line))
        except json.JSONDecodeError as err:
            raise RunDirError(f"{metrics}: line {number} is not valid JSON ({err.msg})") from None
    if not rounds:
        raise RunDirError(f"{metrics} holds no rounds yet")
    config = {}
    if (path / "config.toml").exists():
        config = tomllib.loads((path / "config.toml").read_text(encoding="utf-8"))

    def optional(name: str) -> dict | None:
        f = path / name
        return json.loads(f.read_text(encoding="utf-8")) if f.exists() else None

    return RunData(
        path,
        config,
        sorted(rounds, key=lambda r: r["round"]),
        optional("partition.json"),
        optional("run.json"),
    )
