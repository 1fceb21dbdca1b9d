"""The shipped tiny base reads Latin script as its model card says, and not the new scripts."""

import json

import numpy as np
import pytest

from benchmark.backends.tiny import SHIPPED_BASE, TinyBackend
from benchmark.config import ModelConfig
from tasks.synthetic import SyntheticSpec, synthetic_splits

CARD = json.loads((SHIPPED_BASE / "card.json").read_text())
LINES = 60  # the first 60 of the card's 200 lines per language (same seed, same images)


@pytest.fixture(scope="module")
def tiny():
    backend = TinyBackend(ModelConfig(device="cpu"))
    return backend, backend.load()


def _cer(tiny, code: str) -> float:
    from benchmark.evaluate import evaluate

    backend, model = tiny
    _, test = synthetic_splits(SyntheticSpec(code, 0, LINES, level="scanned", seed=0), workers=1)
    results, _ = evaluate(model, backend, {code: backend.prepare(test)}, batch_size=LINES)
    return results[code]["cer"]


def test_latin_cer_matches_the_model_card(tiny):
    # A 60-line subset of the card's 200 lines: allow 3 points or half the card's figure,
    # whichever is larger (sampling noise of a subset, not a regression).
    card = CARD["languages"]["en"]["cer"]
    assert abs(_cer(tiny, "en") - card) <= max(0.03, 0.5 * card)
    assert card <= 0.05


def test_the_base_cannot_read_a_new_script(tiny):
    assert _cer(tiny, "fa") >= 0.9
    assert np.isclose(CARD["parameters"], sum(p.numel() for p in tiny[1].parameters()))


def test_read_share_counts_the_characters_the_base_reads():
    from benchmark.model_card import read_share

    assert read_share(["ab 1", "c."], {" ", "1", "."}) == pytest.approx(0.5)
    assert read_share([], {" "}) == 0.0


def test_a_look_alike_script_is_misread_but_for_the_characters_the_base_reads(tiny):
    # Russian shares space, digits and punctuation with Latin lines (the card's "read
    # characters"); the base reads its letters as Latin look-alikes, every one wrong, so its
    # CER sits near 100 % minus that share, not above 90 % (5 points of subset noise allowed).
    share = CARD["read_share"]["ru"]
    assert 0.1 < share < 0.4
    assert _cer(tiny, "ru") >= 1 - share - 0.05
