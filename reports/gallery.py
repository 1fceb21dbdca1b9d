"""Sample lines for the gallery and their character-level diff as HTML."""

from __future__ import annotations

from html import escape

from rapidfuzz.distance import Levenshtein

from benchmark.metrics import line_cer


def pick_samples(rows: list[dict], k: int = 3) -> dict[str, list[dict]]:
    """The k worst lines by line CER and k typical ones (around the median), each with its CER."""
    ranked = sorted(
        ({**row, "line_cer": line_cer(row["reference"], row["prediction"])} for row in rows),
        key=lambda row: (row["line_cer"], row["id"]),
    )
    worst = ranked[::-1][:k]
    start = max(0, len(ranked) // 2 - k // 2)
    shown = {row["id"] for row in worst}
    typical = [row for row in ranked[start : start + k] if row["id"] not in shown]
    return {"worst": worst, "typical": typical}


def char_diff_html(reference: str, prediction: str) -> str:
    """The edits that turn the reference into the prediction, as escaped, classed spans.

    Deleted reference characters are <del class="del">, inserted ones <ins class="ins">, and a
    substitution is the reference run <del class="sub"> followed by the predicted run <ins class="sub">.
    """
    parts = []
    for op in Levenshtein.opcodes(reference, prediction):
        ref = escape(reference[op.src_start : op.src_end])
        pred = escape(prediction[op.dest_start : op.dest_end])
        if op.tag == "equal":
            parts.append(ref)
        elif op.tag == "delete":
            parts.append(f'<del class="del">{ref}</del>')
        elif op.tag == "insert":
            parts.append(f'<ins class="ins">{pred}</ins>')
        else:
            parts.append(f'<del class="sub">{ref}</del><ins class="sub">{pred}</ins>')
    return "".join(parts)
