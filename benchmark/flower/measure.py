"""Wall time and peak memory of a command, counting every process it starts (Ray's too).

    python -m benchmark.flower.measure -- fedocr run --preset smoke --set engine=flower

Peak memory is the largest sum of resident set sizes (RSS) over the command's whole process
tree, sampled every `--interval` seconds. Shared pages are counted once per process, so the
sum over-counts what several processes share (the figure is an upper bound), and a peak
shorter than the interval can be missed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import psutil


def tree_rss(root: psutil.Process) -> int:
    total = 0
    for proc in [root, *root.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total


def measure(command: list[str], interval: float = 0.2) -> dict:
    start = time.perf_counter()
    proc = subprocess.Popen(command)
    root = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            peak = max(peak, tree_rss(root))
        except psutil.NoSuchProcess:
            pass
        time.sleep(interval)
    return {
        "command": command,
        "returncode": proc.returncode,
        "wall_seconds": round(time.perf_counter() - start, 1),
        "peak_tree_rss_mib": round(peak / 2**20),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmark.flower.measure", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between samples")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to measure after --")
    result = measure(command, args.interval)
    print(json.dumps(result), file=sys.stderr)
    return result["returncode"]


if __name__ == "__main__":
    sys.exit(main())
