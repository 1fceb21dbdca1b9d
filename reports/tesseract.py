"""Optional baseline: Tesseract's CER on the same test lines (`fedocr report --tesseract`)."""

from __future__ import annotations

import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

from benchmark.metrics import score
from reports.rundir import RunData
from tasks.languages import normalise_for
from tasks.tesseract_check import tesseract_line

TESSERACT_LANGUAGES = {
    "en": "eng",
    "de": "deu",
    "fr": "fra",
    "es": "spa",
    "ru": "rus",
    "uk": "ukr",
    "el": "ell",
    "fa": "fas",
    "ar": "ara",
    "ur": "urd",
    "hi": "hin",
    "he": "heb",
    "zh": "chi_sim",
}


def installed_languages() -> set[str] | None:
    """Traineddata names `tesseract --list-langs` reports; None when there is no tesseract."""
    if not shutil.which("tesseract"):
        return None
    out = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True, timeout=30)
    # The first line is a heading ("List of available languages in ...").
    return {line.strip() for line in out.stdout.splitlines()[1:] if line.strip()}


def tesseract_scores(run: RunData, round_num: int) -> dict:
    """{"languages": {code: figures}, "notes": [...]} for the lines scored in `round_num`.

    Tesseract's output is normalised with the language's policy, like the model's.
    """
    installed = installed_languages()
    if installed is None:
        return {"languages": {}, "notes": ["Tesseract is not installed (no `tesseract` on PATH)."]}
    by_language: dict[str, list[dict]] = {}
    for row in run.predictions(round_num):
        if run.image_path(row["id"]).exists():
            by_language.setdefault(row["language"], []).append(row)
    scores, notes = {}, []
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for code, rows in by_language.items():
            traineddata = TESSERACT_LANGUAGES.get(code)
            if traineddata is None:
                notes.append(f"{code}: no Tesseract language is mapped to this code.")
                continue
            if traineddata not in installed:
                notes.append(
                    f"{code}: Tesseract has no '{traineddata}' traineddata installed "
                    f"(Debian package tesseract-ocr-{traineddata.replace('_', '-')})."
                )
                continue
            images = [run.image_path(row["id"]) for row in rows]
            texts = pool.map(tesseract_line, images, [traineddata] * len(images))
            predictions = [normalise_for(code, text) for text in texts]
            scores[code] = score([row["reference"] for row in rows], predictions)
    return {"languages": scores, "notes": notes}
