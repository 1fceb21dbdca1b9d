"""`fedocr sweep --config FILE`: a grid of runs (strategy x alpha x seed x ...), resumable.

The sweep file:

    [sweep]
    preset = "smoke"                 # or: config = "path/to/base.toml"
    set = ["model.threads=1"]        # overrides applied to every cell
    out = "runs/sweep-strategies"    # one run directory per cell below it
    target_cer = 0.5                 # for the leaderboard's rounds-to-target column

    [sweep.grid]                     # every combination is one run
    "federation.strategy" = ["fedavg", "ffa-lora", "fedex-lora"]
    "partition.alpha" = [0.1, 1.0]
    seed = [0, 1]

A finished cell (its run.json exists) is not run again; an interrupted one is resumed.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

from benchmark.config import ConfigError, load_config, read_toml, toml_value


def _cell_name(keys: list[str], values: tuple) -> str:
    return ",".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in zip(keys, values))


def plan(sweep_file: str | Path) -> tuple[dict, list[tuple[str, list[str]]]]:
    """(the [sweep] table, [(cell name, overrides)]) with every cell's config validated."""
    data = read_toml(Path(sweep_file)).get("sweep")
    if not isinstance(data, dict):
        raise ConfigError(f"{sweep_file}: no [sweep] table")
    unknown = set(data) - {"preset", "config", "set", "out", "grid", "target_cer"}
    if unknown:
        raise ConfigError(f"{sweep_file}: unknown [sweep] keys {sorted(unknown)}")
    grid = data.get("grid") or {}
    if not grid or not all(isinstance(v, list) and v for v in grid.values()):
        raise ConfigError(f"{sweep_file}: [sweep.grid] must map config keys to non-empty lists")
    if "out" not in data:
        raise ConfigError(f'{sweep_file}: [sweep] needs out = "folder for the runs"')
    keys = list(grid)
    cells = []
    for values in itertools.product(*(grid[k] for k in keys)):
        overrides = list(data.get("set", [])) + [f"{k}={toml_value(v)}" for k, v in zip(keys, values)]
        name = _cell_name(keys, values)
        try:
            load_config(data.get("preset"), data.get("config"), overrides)
        except ConfigError as err:
            raise ConfigError(f"sweep cell {name}: {err}") from None
        cells.append((name, overrides))
    return data, cells


def run_sweep(sweep_file: str | Path) -> Path:
    """Run every cell not yet finished, then write the leaderboard into the sweep folder."""
    from benchmark.runner import resume, run
    from reports.compare import write_comparison
    from reports.report import write_report

    data, cells = plan(sweep_file)
    out = Path(data["out"])
    out.mkdir(parents=True, exist_ok=True)
    done = []
    for i, (name, overrides) in enumerate(cells, 1):
        run_dir = out / name
        if (run_dir / "run.json").exists():
            print(f"[{i}/{len(cells)}] {name}: finished before, kept", file=sys.stderr)
        elif (run_dir / "config.toml").exists():
            print(f"[{i}/{len(cells)}] {name}: resuming", file=sys.stderr)
            resume(run_dir)
        else:
            print(f"[{i}/{len(cells)}] {name}", file=sys.stderr)
            cfg = load_config(data.get("preset"), data.get("config"), overrides)
            cfg.name = name
            run(cfg, run_dir)
        if not (run_dir / "report.html").exists():
            write_report(run_dir)
        done.append(run_dir)
    write_comparison(done, out / "leaderboard", float(data.get("target_cer", 0.5)))
    return out / "leaderboard"
