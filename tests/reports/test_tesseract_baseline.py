import json

from benchmark.metrics import score
from reports.report import write_report

FAKE_TESSERACT = """#!/bin/sh
if [ "$1" = "--list-langs" ]; then
  printf 'List of available languages in "/fake/" (2):\\neng\\nosd\\n'
else
  printf 'the quick  brown fox\\n'
fi
"""


def test_tesseract_column_scores_installed_languages_and_notes_missing_ones(run_dir, tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "tesseract").write_text(FAKE_TESSERACT)
    (bin_dir / "tesseract").chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    page = write_report(run_dir, tesseract=True).read_text(encoding="utf-8")
    summary = json.loads((run_dir / "summary.json").read_text())
    references = [
        json.loads(line)["reference"]
        for line in (run_dir / "predictions" / "round_2.jsonl").read_text().splitlines()
        if json.loads(line)["language"] == "en"
    ]
    # Tesseract's text is normalised like the model's (whitespace collapsed, trimmed).
    expected = score(references, ["the quick brown fox"] * len(references))
    assert summary["languages"]["en"]["tesseract"] == expected
    assert "tesseract" not in summary["languages"]["fa"]
    assert summary["tesseract_notes"] == [
        "fa: Tesseract has no 'fas' traineddata installed (Debian package tesseract-ocr-fas)."
    ]
    assert "Tesseract CER" in page and "tesseract-ocr-fas" in page
    assert "en,English,default,tesseract," in (run_dir / "per_language.csv").read_text()


def test_without_tesseract_the_report_says_so(run_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    page = write_report(run_dir, tesseract=True).read_text(encoding="utf-8")
    assert "Tesseract is not installed" in page and "Tesseract CER" not in page
