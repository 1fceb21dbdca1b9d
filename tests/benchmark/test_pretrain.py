"""`fedocr pretrain` on a miniature recipe: the three phases, and phase 3 from a phase-2
checkpoint reproducing the from-scratch run."""

import json
from dataclasses import replace

import pytest
import torch
from safetensors.torch import load_file

from benchmark.backends.tiny import SHIPPED_BASE, TinyBackend
from benchmark.backends.tiny_model import CharTokenizer
from benchmark.config import ModelConfig
from benchmark.pretrain import PretrainConfig, build_vocabulary, pretrain

MINI = PretrainConfig(
    ocr_languages=("en",),
    levels=("clean", "scanned"),
    lines_per_language_level=8,
    lm_steps=2,
    lm_lines_per_language=16,
    ocr_steps=2,
    batch_size=4,
    warmup=1,
    save_every=1,
    widen_languages=("he",),
    widen_lines_per_language=8,
    widen_latin_lines_per_language=4,
    widen_steps=3,
    widen_warmup=1,
)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("pretrain")
    full = pretrain(MINI, root / "full", threads=1, card=False)
    phase2 = pretrain(replace(MINI, widen_steps=0), root / "phase2", threads=1, card=False)
    widened = pretrain(MINI, root / "widened", threads=1, start_from=phase2, card=False)
    return root, full, phase2, widened


def test_phase_3_from_a_phase_2_checkpoint_gives_the_from_scratch_weights(runs):
    _, full, phase2, widened = runs
    a, b, p2 = (load_file(str(d / "model.safetensors")) for d in (full, widened, phase2))
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], p2[k]) for k in a)  # phase 3 did train
    recipe = json.loads((widened / "pretrain_recipe.json").read_text())
    assert recipe["started_from_checkpoint"] and set(recipe["phase_seconds"]) == {"1-2", "3"}
    assert not (widened / "pretrain_state.pt").exists()


def test_widened_scripts_count_as_known_to_the_base(runs):
    _, full, phase2, _ = runs
    known = TinyBackend(ModelConfig(path=str(full), device="cpu")).known_scripts()
    assert known == {"Latin", "Hebrew"}
    assert TinyBackend(ModelConfig(path=str(phase2), device="cpu")).known_scripts() == {"Latin"}


def test_start_from_refuses_a_checkpoint_of_another_recipe(runs):
    root, full, phase2, _ = runs
    with pytest.raises(
        ValueError, match=r"phase2/pretrain_recipe.json: ocr_steps = 2, but this recipe has 5"
    ):
        pretrain(replace(MINI, ocr_steps=5), root / "x", start_from=phase2, card=False)
    with pytest.raises(ValueError, match="already been through phase 3"):
        pretrain(MINI, root / "y", start_from=full, card=False)
    with pytest.raises(ValueError, match="no pretrain_recipe.json"):
        pretrain(MINI, root / "z", start_from=root, card=False)


def test_the_shipped_vocabulary_is_the_recipes(runs):
    # `model.size = "random"` reads the shipped vocab.json instead of building it again.
    shipped = CharTokenizer.load(SHIPPED_BASE / "vocab.json")
    assert build_vocabulary(MINI.vocab_languages).chars == shipped.chars
    random = TinyBackend(ModelConfig(size="random", device="cpu"))
    random.load()
    assert random.tokenizer.chars == shipped.chars
