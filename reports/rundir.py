"""Read a run directory written by `fedocr run`.

Rows of metrics.jsonl may grow new keys over time and a row may lack a part (e.g. no
"languages" when evaluation was skipped): readers use `.get` and leave that part out.
"""

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
    def name(self) -> str:
        return self.config.get("name") or self.path.name

    @property
    def languages(self) -> list[str]:
        """Every language scored in any round, in the order they first appear."""
        seen: dict[str, None] = {}
        for r in self.rounds:
            seen.update(dict.fromkeys(r.get("languages") or {}))
        return list(seen)

    def figures(self, code: str) -> list[tuple[int, dict]]:
        """(round, figures) for every round that scored language `code`."""
        return [(r["round"], r["languages"][code]) for r in self.rounds if code in (r.get("languages") or {})]

    def predictions(self, round_num: int) -> list[dict]:
        """Rows of predictions/round_<r>.jsonl; empty when the file is missing."""
        path = self.path / "predictions" / f"round_{round_num}.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]

    def image_path(self, line_id: str) -> Path:
        return self.path / "test_images" / f"{line_id}.png"


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
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise RunDirError(f"{metrics}: line {number} is not valid JSON ({err.msg})") from None
        if not isinstance(row, dict) or not isinstance(row.get("round"), int):
            raise RunDirError(f"{metrics}: line {number} has no integer 'round'")
        rounds.append(row)
    if not rounds:
        raise RunDirError(f"{metrics} holds no rounds yet")
    config = {}
    if (path / "config.toml").exists():
        try:
            config = tomllib.loads((path / "config.toml").read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as err:
            raise RunDirError(f"{path / 'config.toml'} is not valid TOML ({err})") from None

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
