"""Character error rate and friends, computed exactly the way the report states.

All functions take already-normalised strings (see `tasks.languages.normalise`).
"""

from __future__ import annotations

import jiwer
from rapidfuzz.distance import Levenshtein


def cer_corpus(references: list[str], predictions: list[str]) -> float:
    """Total character edits / total reference characters (jiwer over the lists)."""
    _check(references, predictions)
    if not any(references):
        raise ValueError("corpus CER is undefined: every reference is empty")
    return float(jiwer.cer(references, predictions))


def line_cer(reference: str, prediction: str) -> float:
    """Edits / reference length for one line; an empty reference scores its insertions."""
    edits = Levenshtein.distance(reference, prediction)
    return edits / len(reference) if reference else float(edits)


def mean_line_cer(references: list[str], predictions: list[str]) -> float:
    """Mean of per-line CER (the figure most OCR fine-tuning write-ups quote); can exceed 1."""
    _check(references, predictions)
    return sum(map(line_cer, references, predictions)) / len(references)


def wer_corpus(references: list[str], predictions: list[str]) -> float:
    """Total word edits / total reference words (jiwer)."""
    _check(references, predictions)
    if not any(r.split() for r in references):
        raise ValueError("corpus WER is undefined: every reference has no words")
    return float(jiwer.wer(references, predictions))


def normalised_edit_distance(references: list[str], predictions: list[str]) -> float:
    """Mean of edits / max(len(ref), len(pred)) per line: bounded by 1, unlike CER."""
    _check(references, predictions)
    total = 0.0
    for ref, pred in zip(references, predictions):
        longest = max(len(ref), len(pred))
        total += Levenshtein.distance(ref, pred) / longest if longest else 0.0
    return total / len(references)


def score(references: list[str], predictions: list[str]) -> dict[str, float]:
    """Every figure the report shows for one language, plus the counts behind them."""
    return {
        "cer": cer_corpus(references, predictions),
        "mean_line_cer": mean_line_cer(references, predictions),
        "wer": wer_corpus(references, predictions),
        "ned": normalised_edit_distance(references, predictions),
        "lines": len(references),
        "ref_chars": sum(map(len, references)),
        "char_edits": sum(map(Levenshtein.distance, references, predictions)),
    }


def _check(references: list[str], predictions: list[str]) -> None:
    if len(references) != len(predictions):
        raise ValueError(f"{len(references)} references but {len(predictions)} predictions")
    if not references:
        raise ValueError("no lines to score")
