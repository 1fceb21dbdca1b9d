"""Is the synthetic data hard enough? Tesseract's corpus CER on generated lines, per level.

    python -m tasks.tesseract_check                  # fa and ru, 200 lines per level
    python -m tasks.tesseract_check ar=ara --lines 100

Needs the `tesseract` command and its language packs (Debian: tesseract-ocr-fas, -rus, ...).
A check to run by hand, not a test: it takes minutes.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jiwer

from tasks.languages import normalise_for
from tasks.render import LEVELS
from tasks.synthetic import SyntheticSpec, synthetic_splits


def tesseract_line(image: Path, traineddata: str) -> str:
    """Tesseract's reading of one line image (page segmentation mode 7: a single text line)."""
    out = subprocess.run(
        ["tesseract", str(image), "stdout", "--psm", "7", "-l", traineddata],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "OMP_THREAD_LIMIT": "1"},  # the calls run in parallel instead
        check=True,
    )
    return out.stdout


def corpus_cer(code: str, traineddata: str, level: str, lines: int, seed: int, workers: int) -> float:
    _, test = synthetic_splits(
        SyntheticSpec(code, train=0, test=lines, level=level, seed=seed), workers=workers
    )
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, image in enumerate(test["image"]):
            paths.append(Path(tmp) / f"{i:05d}.png")
            image.save(paths[-1])
        with ThreadPoolExecutor(workers) as pool:
            readings = list(pool.map(lambda p: tesseract_line(p, traineddata), paths))
    references = [normalise_for(code, t) for t in test["text"]]
    return float(jiwer.cer(references, [normalise_for(code, r) for r in readings]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "languages",
        nargs="*",
        default=["fa=fas", "ru=rus"],
        help="CODE=TRAINEDDATA pairs (default fa=fas ru=rus)",
    )
    parser.add_argument("--lines", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(f"Tesseract corpus CER on {args.lines} synthetic lines per language and level (seed {args.seed})")
    print(f"{'language':<10}" + "".join(f"{level:>10}" for level in LEVELS))
    for pair in args.languages:
        code, traineddata = pair.split("=")
        cers = [corpus_cer(code, traineddata, lv, args.lines, args.seed, args.workers) for lv in LEVELS]
        print(f"{code:<10}" + "".join(f"{100 * c:>9.1f}%" for c in cers), flush=True)


if __name__ == "__main__":
    main()
