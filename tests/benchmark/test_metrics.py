import jiwer
import pytest

from benchmark.metrics import cer_corpus, line_cer, mean_line_cer, normalised_edit_distance, score, wer_corpus
from tasks.languages import normalise


def test_corpus_cer_is_total_edits_over_total_reference_characters():
    # "kitten" -> "sitting": 3 edits over 6 chars; "abc" -> "abc": 0 over 3.
    assert cer_corpus(["kitten", "abc"], ["sitting", "abc"]) == pytest.approx(3 / 9)
    # The mean of line CERs weights short lines more: (3/6 + 0) / 2.
    assert mean_line_cer(["kitten", "abc"], ["sitting", "abc"]) == pytest.approx(0.25)


def test_empty_prediction_costs_every_reference_character():
    assert cer_corpus(["hello"], [""]) == 1.0
    assert score(["ab", "cd"], ["ab", ""])["cer"] == pytest.approx(0.5)


def test_insertions_push_line_cer_above_one_but_ned_stays_bounded():
    assert line_cer("ab", "abababab") == pytest.approx(3.0)
    assert mean_line_cer(["ab"], ["abababab"]) == pytest.approx(3.0)
    assert normalised_edit_distance(["ab"], ["abababab"]) == pytest.approx(6 / 8)
    assert line_cer("", "xy") == 2.0  # empty reference scores its insertions


def test_persian_cer_after_normalisation():
    # Reference uses Persian yeh/kaf; prediction uses the Arabic code points: 0 errors after
    # normalisation, 2 substitutions out of 5 characters without it.
    ref, pred = "\u06a9\u062a\u0627\u0628\u06cc", "\u0643\u062a\u0627\u0628\u064a"
    assert cer_corpus([ref], [pred]) == pytest.approx(2 / 5)
    assert cer_corpus([normalise(ref, "persian")], [normalise(pred, "persian")]) == 0.0
    # One dropped letter out of 5 in a right-to-left word is 20%, as for any other script.
    assert cer_corpus([ref], [ref[:-1]]) == pytest.approx(0.2)


def test_wer_and_agreement_with_jiwer():
    refs, hyps = ["the cat sat", "on the mat"], ["the cat sat", "on a mat"]
    assert wer_corpus(refs, hyps) == pytest.approx(1 / 6)
    assert cer_corpus(refs, hyps) == pytest.approx(jiwer.cer(refs, hyps))
    figures = score(refs, hyps)
    assert figures["char_edits"] / figures["ref_chars"] == pytest.approx(figures["cer"])


def test_bad_inputs():
    with pytest.raises(ValueError, match="2 references but 1 predictions"):
        cer_corpus(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="every reference is empty"):
        cer_corpus([""], ["x"])
