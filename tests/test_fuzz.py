"""Fuzzing (bounded, in CI) of the normaliser, the metrics and the image checks of the loaders."""

import io

from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from benchmark.metrics import cer_corpus, line_cer, normalised_edit_distance, score
from tasks.checks import image_problem
from tasks.languages import NORMALISATION_POLICIES, normalise

# Text with what OCR data really contains: RTL marks, ZWNJ/ZWJ, combining marks, Arabic and
# Persian letters and digits, whitespace of every kind, and lone surrogates.
SPECIAL = [
    chr(c) for c in (0x200C, 0x200D, 0x200E, 0x200F, 0x0301, 0x064A, 0x06CC, 0x0643, 0x0661, 0x0640, 0xA0)
]
TRICKY = st.text(
    alphabet=st.one_of(
        st.characters(codec=None),  # any code point; SPECIAL adds a lone surrogate
        st.sampled_from([*SPECIAL, " ", "\t", "\n"]),
    ),
    max_size=200,
)


@settings(max_examples=300, deadline=None)
@given(TRICKY, st.sampled_from(sorted(NORMALISATION_POLICIES)))
def test_normalise_never_crashes_and_is_idempotent(text, policy):
    once = normalise(text, policy)
    assert normalise(once, policy) == once
    assert once == once.strip() and "  " not in once
    once.encode("utf-8")  # no lone surrogate survives


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(TRICKY, TRICKY), min_size=1, max_size=8))
def test_metrics_are_consistent_on_any_text(pairs):
    refs = [normalise(r) for r, _ in pairs]
    hyps = [normalise(h) for _, h in pairs]
    assert 0 <= normalised_edit_distance(refs, hyps) <= 1
    assert all(line_cer(r, h) >= 0 for r, h in zip(refs, hyps))
    if any(refs):
        figures = score(refs, hyps)
        assert figures["cer"] == cer_corpus(refs, hyps)
        assert abs(figures["char_edits"] / figures["ref_chars"] - figures["cer"]) < 1e-12


def test_huge_inputs_are_scored_in_reasonable_time():
    ref = "ab" * 5000
    assert cer_corpus([ref], [ref[:-1]]) == 1 / len(ref)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_as_an_image_give_a_reason_not_a_crash(data):
    problem = image_problem(data)
    if problem is None:  # hypothesis found bytes Pillow decodes: they must really be an image
        Image.open(io.BytesIO(data)).load()
    else:
        assert isinstance(problem, str) and problem


@settings(max_examples=50, deadline=None)
@given(st.floats(min_value=0.05, max_value=0.5))
def test_truncated_png_is_reported(keep):
    # Cut inside the image data (a PNG missing only its end marker still decodes).
    buffer = io.BytesIO()
    Image.new("L", (40, 12), 255).save(buffer, format="PNG")
    data = buffer.getvalue()
    assert image_problem(data[: int(len(data) * keep)]) is not None
