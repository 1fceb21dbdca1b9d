"""Bootstrap intervals over test lines: what they contain, and what pairing buys."""

import json

import numpy as np
import pytest

from benchmark.metrics import score
from reports.report import write_report
from reports.uncertainty import cer_interval, difference_interval, line_counts, ratio_interval


def _rows(pairs, language="fa"):
    return [
        {"id": f"{language}-{i}", "language": language, "reference": ref, "prediction": hyp}
        for i, (ref, hyp) in enumerate(pairs)
    ]


def _lines(rng, n, error_rate):
    """n reference lines and predictions with about `error_rate` of their characters replaced."""
    pairs = []
    for _ in range(n):
        ref = "".join(rng.choice(list("abcdefghij"), size=int(rng.integers(8, 30))))
        hyp = "".join("z" if rng.random() < error_rate else c for c in ref)
        pairs.append((ref, hyp))
    return pairs


def test_the_interval_holds_the_corpus_cer_and_narrows_with_more_lines():
    rng = np.random.default_rng(0)
    pairs = _lines(rng, 400, 0.3)
    counts = line_counts(_rows(pairs))["fa"]
    cer = score(*map(list, zip(*pairs)))["cer"]
    assert sum(e for e, _ in counts.values()) / sum(c for _, c in counts.values()) == pytest.approx(cer)
    low, high = cer_interval(counts)
    assert low < cer < high
    few = dict(list(counts.items())[:25])
    few_low, few_high = cer_interval(few)
    assert few_high - few_low > 2 * (high - low)  # 16x fewer lines: about 4x wider
    assert cer_interval(few) == (few_low, few_high)  # seeded: the same report, the same interval
    assert cer_interval({}) is None
    assert cer_interval({"a": (0, 0)}) is None


def test_pairing_removes_the_test_line_noise_a_shared_difficulty_brings():
    rng = np.random.default_rng(1)
    pairs = _lines(rng, 60, 0.2)
    refs = [r for r, _ in pairs]
    a = line_counts(_rows(pairs))["fa"]
    # b makes exactly half of a's errors on every line: the ratio is 2 on any resample
    b = {i: (edits // 2, chars) for i, (edits, chars) in a.items()}
    a = {i: (2 * (edits // 2), chars) for i, (edits, chars) in a.items()}
    paired = ratio_interval(a, b)
    assert paired["ratio"] == pytest.approx(2.0)
    assert paired["ci"] == pytest.approx([2.0, 2.0])
    assert paired["lines"] == 60
    # two separate intervals would have suggested a wide range for the same ratio
    (a_low, a_high), (b_low, b_high) = cer_interval(a), cer_interval(b)
    assert a_high / b_low - a_low / b_high > 0.5
    same = difference_interval(a, a)
    assert same["points"] == 0 and same["ci"] == [0.0, 0.0]
    worse = difference_interval(a, b)
    total = sum(len(r) for r in refs)
    assert worse["points"] == pytest.approx(100 * sum(e for e, _ in b.values()) / total)
    assert worse["ci"][0] < worse["points"] < worse["ci"][1]
    # only the lines both scored count; none shared, or a perfect b, gives no ratio
    assert ratio_interval(a, {"other": (1, 5)}) is None
    assert ratio_interval(a, {i: (0, c) for i, (_, c) in a.items()}) is None


def test_the_report_shows_the_intervals(run_dir):
    write_report(run_dir)
    summary = json.loads((run_dir / "summary.json").read_text())
    final = summary["languages"]["fa"]["final"]
    assert final["cer_ci95"][0] <= final["cer"] <= final["cer_ci95"][1]
    markdown = (run_dir / "report.md").read_text()
    low, high = (100 * v for v in final["cer_ci95"])
    assert f"| {low:.1f}-{high:.1f}% |" in markdown
    assert "95% CI: percentile bootstrap over the language's test lines" in markdown
    assert "95% CI final" in (run_dir / "report.html").read_text()
