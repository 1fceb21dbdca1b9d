"""Measure the tiny base checkpoint and write its model card (MODEL_CARD.md + card.json).

    python -m benchmark.model_card [--checkpoint DIR] [--real-english DIR]

CER is measured on synthetic test sets generated with the suite's own generator (seed 0,
`scanned` level unless stated) and, optionally, on a folder of real scanned lines in
imagefolder layout.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from benchmark.backends.tiny import SHIPPED_BASE
from benchmark.config import ModelConfig
from benchmark.evaluate import evaluate
from tasks.synthetic import SyntheticSpec, synthetic_splits

LATIN = ("en", "de", "fr", "es")
WIDENED = ("he", "bn", "ta")  # scripts of pretraining phase 3
NEW_SCRIPTS = ("fa", "ar", "ur", "ru", "uk", "el", "hi")  # never seen as pictures
CARD_LINES = 200


class _Tiny:
    """The evaluator's view of a loaded tiny checkpoint (prepare / generate / bound)."""

    def __init__(self, path: Path):
        from benchmark.backends.tiny import TinyBackend

        self.backend = TinyBackend(ModelConfig(path=str(path), device="cpu", precision="fp32"))
        self.model = self.backend.load()


def measure(checkpoint: Path, lines: int = CARD_LINES, real_english: Path | None = None) -> dict:
    """CER per language of the checkpoint (no adapter)."""
    tiny = _Tiny(checkpoint)
    tests = {}
    for code in LATIN + WIDENED + NEW_SCRIPTS:
        _, test = synthetic_splits(SyntheticSpec(code, 0, lines, level="scanned", seed=0))
        tests[code] = tiny.backend.prepare(test)
    for level in ("clean", "degraded"):
        _, test = synthetic_splits(SyntheticSpec("en", 0, lines, level=level, seed=0))
        tests[f"en@{level}"] = tiny.backend.prepare(test)
    if real_english:
        from datasets import load_dataset

        real = load_dataset("imagefolder", data_dir=str(real_english), split="train")
        real = real.map(lambda _, i: {"language": "en", "id": f"real-{i:04d}"}, with_indices=True)
        tests["en@real"] = tiny.backend.prepare(real)
    # The characters the base reads: those of its OCR languages' lines (letters of its scripts,
    # and the digits, punctuation and space that other scripts' lines share with them).
    read = {c for code in LATIN + WIDENED for text in tests[code].texts for c in text}
    t0 = time.perf_counter()
    results, _ = evaluate(tiny.model, tiny.backend, tests, batch_size=100)
    seconds = time.perf_counter() - t0
    total = sum(len(d) for d in tests.values())
    return {
        "languages": {
            name: {k: r[k] for k in ("cer", "mean_line_cer", "wer", "lines")} for name, r in results.items()
        },
        "read_share": {code: read_share(tests[code].texts, read) for code in NEW_SCRIPTS},
        "eval_lines_per_second": round(total / seconds, 1),
        "parameters": sum(p.numel() for p in tiny.model.parameters()),
    }


def read_share(texts: list[str], read: set[str]) -> float:
    """The share of the characters of `texts` that are in `read`."""
    chars = "".join(texts)
    return sum(c in read for c in chars) / max(len(chars), 1)


def _phase3(recipe: dict) -> str:
    if not recipe.get("widen_steps"):
        return ""
    return f"""3. Widening: OCR on {recipe["widen_lines_per_language"]} lines each of {", ".join(recipe["widen_languages"])} mixed with
   {recipe["widen_latin_lines_per_language"]} lines each of {", ".join(recipe["ocr_languages"])} (the same level mix), {recipe["widen_steps"]} steps of
   {recipe["batch_size"]} lines, a fresh CTC head and AdamW (lr {recipe["lr"]}, {recipe["widen_warmup"]} warm-up steps, cosine
   decay to 10 %). A vision tower that has seen a right-to-left script and Brahmic scripts
   tells apart the glyphs of scripts it has never seen, so LoRA learns them faster (see the
   README's "The built-in tiny base").
"""


def _walls(recipe: dict) -> str:
    phases = recipe.get("phase_seconds") or {"1-2": recipe["wall_seconds"]}
    parts = [
        f"phase{'s' if '-' in name else ''} {name}: {seconds / 60:.0f} min"
        for name, seconds in phases.items()
    ]
    if recipe.get("started_from_checkpoint"):
        parts[-1] += " (run with `--start-from` on the phase-2 checkpoint)"
    return "; ".join(parts)


def write_card(checkpoint: Path, figures: dict) -> Path:
    recipe = json.loads((checkpoint / "pretrain_recipe.json").read_text())
    card = {"recipe": recipe, **figures}
    (checkpoint / "card.json").write_text(json.dumps(card, indent=1))
    langs = figures["languages"]
    shares = figures.get("read_share", {})
    rows = "\n".join(
        f"| {name} | {r['lines']} | {100 * r['cer']:.1f}% | {100 * r['mean_line_cer']:.1f}% | {100 * r['wer']:.1f}% | "
        + (f"{100 * shares[name]:.1f}% |" if name in shares else "|")
        for name, r in langs.items()
    )
    text = f"""# Model card: the `tiny` base

A 3.9 M-parameter line-OCR model (transformers `VisionEncoderDecoderModel`: ViT encoder, width
192 x 4 layers, over a 1x32x384 grayscale line with a 4-layer conv stem giving 96 tokens;
TrOCR decoder, width 192 x 3 layers; one character vocabulary of {json.loads((checkpoint / "vocab.json").read_text())["chars"].__len__()} symbols
covering every registry language but Chinese). It plays the part of a pretrained OCR model
in the default benchmark: it reads Latin, Hebrew, Bengali and Tamil script and cannot read
the default benchmark's new scripts (Persian, Arabic, Russian, Hindi, Greek; also Urdu and
Ukrainian), whose characters it knows only as text.

## Recipe

Command: `fedocr pretrain` (seed {recipe["seed"]}, `--threads 2` on a 2-core CPU).

1. Character language model on {recipe["lm_lines_per_language"]} text lines per language of
   {", ".join(recipe["vocab_languages"])} ({recipe["lm_steps"]} steps of {2 * recipe["batch_size"]} lines; the
   decoder's cross-attention sees an empty memory).
2. OCR on synthetic Latin-script lines of {", ".join(recipe["ocr_languages"])}:
   {recipe["lines_per_language_level"]} lines per language per entry of the level mix
   {list(recipe["levels"])} ({recipe["ocr_steps"]} steps of {recipe["batch_size"]} lines), with an
   auxiliary CTC loss (weight {recipe["ctc_weight"]}) on the encoder output through a linear head
   that is dropped afterwards. AdamW lr {recipe["lr"]}, {recipe["warmup"]} warm-up steps over phases 1-2,
   cosine decay to 10 %, gradient clip 1.0.
{_phase3(recipe)}
Data: the suite's synthetic generator (synthetic generator version {recipe.get("generator_version", 1)}).
Training wall time (after data generation): {_walls(recipe)}.
Parameters: {figures["parameters"]:,}.

## Measured CER (no adapter)

Synthetic test lines (seed 0, `scanned` level unless the name says otherwise; these lines are
generated with `SyntheticSpec(code, 0, {CARD_LINES}, level=..., seed=0)`), and `en@real`: real
scanned English book lines (1881/1896 books, imagefolder layout), where given with
`--real-english DIR`. Measured with `python -m benchmark.model_card`. The base has only seen
synthetic lines of 8-32 characters: real book lines are longer (squeezed into 384 pixels)
and set in other typefaces, so it transfers poorly to them.

"Read characters" is, for a new script's test set, the share of its characters that the
base's own OCR languages use too (space, punctuation, and digits where the script has no
digits of its own). The base reads those: a base that got every other character wrong,
with no insertion or deletion, would score 100 % minus that share.

| test set | lines | corpus CER | mean line CER | WER | read characters |
|---|---:|---:|---:|---:|---:|
{rows}

Greedy decoding speed on this CPU: {figures["eval_lines_per_second"]} lines/s (batch 100).
"""
    out = checkpoint / "MODEL_CARD.md"
    out.write_text(text)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=str(SHIPPED_BASE))
    parser.add_argument("--real-english", help="a folder of real English line scans (imagefolder layout)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    np.random.seed(0)
    checkpoint = Path(args.checkpoint)
    figures = measure(checkpoint, real_english=Path(args.real_english) if args.real_english else None)
    print(write_card(checkpoint, figures))


if __name__ == "__main__":
    main()
