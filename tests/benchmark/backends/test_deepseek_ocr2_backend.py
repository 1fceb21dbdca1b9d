"""DeepSeek-OCR-2: LoRA lands on exactly the language model's projections, both resolution
modes collate consistently, and missing weights give an error that says what to download."""

import re

import numpy as np
import pytest
import torch

from benchmark.backends import BackendUnavailable, load_backend
from benchmark.backends.deepseek_ocr2 import DeepseekOcr2Backend, full_config
from benchmark.config import LoraSettings

PROJECTIONS = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}


def lora_targets(model: torch.nn.Module) -> list[str]:
    pattern = DeepseekOcr2Backend.default_targets
    return [
        n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and re.fullmatch(pattern, n)
    ]


def test_default_targets_are_the_seven_projections_of_every_lm_layer_at_full_size():
    from transformers import DeepseekOcr2ForConditionalGeneration

    with torch.device("meta"):
        model = DeepseekOcr2ForConditionalGeneration(full_config())
    targets = lora_targets(model)
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(3.39e9, rel=0.01)
    assert len(targets) == 12 * 7
    assert all(n.startswith("model.language_model.layers.") for n in targets)
    assert {n.rsplit(".", 1)[1] for n in targets} == PROJECTIONS
    # The vision encoder has the same projection names: none of them is adapted.
    vision = [
        n for n, _ in model.named_modules() if n.startswith("model.vision_tower") and n.endswith("q_proj")
    ]
    assert len(vision) == 24


def test_tiny_model_adapts_only_the_language_model(model_config):
    backend = load_backend(model_config("deepseek-ocr2"))
    model = backend.wrap_with_lora(backend.load(), LoraSettings(r=4, alpha=8))
    adapted = sorted({n.rsplit(".lora_A", 1)[0] for n, _ in model.named_parameters() if ".lora_A." in n})
    assert len(adapted) == 2 * 7  # 2 layers: one dense MLP, one MoE with a shared expert
    assert all(".language_model.layers." in n for n in adapted)


def test_dynamic_resolution_tiles_wide_lines_and_masks_every_image_token(model_config, lines):
    backend = load_backend(model_config("deepseek-ocr2", resolution="dynamic"))
    model = backend.load()
    pool = backend.prepare(lines[0])
    rows = np.arange(4)
    batch = backend.training_batch(pool, rows)
    tiles = batch["num_local_patches"].tolist()
    assert min(tiles) >= 2  # lines are far wider than a tile
    image = batch["input_ids"] == backend.processor.image_token_id
    # 256 global-view queries + 144 per tile + 1 separator, as the model produces them
    assert image.sum(1).tolist() == [257 + 144 * n for n in tiles]
    assert (batch["labels"][image] == -100).all()
    assert torch.isfinite(model(**batch).loss)


def test_single_resolution_is_one_view(model_config, lines):
    backend = load_backend(model_config("deepseek-ocr2", resolution="single"))
    backend.load()
    batch = backend.training_batch(backend.prepare(lines[0]), np.arange(2))
    assert "pixel_values_local" not in batch
    assert (batch["input_ids"] == backend.processor.image_token_id).sum(1).tolist() == [145, 145]


def test_no_weights_says_what_to_download(model_config, tmp_path):
    with pytest.raises(
        BackendUnavailable, match=r"hf download deepseek-community/DeepSeek-OCR-2 .*model\.path="
    ):
        load_backend(model_config("deepseek-ocr2", size="base")).load()
    with pytest.raises(BackendUnavailable, match="no config.json"):
        load_backend(model_config("deepseek-ocr2", size="base", path=str(tmp_path))).load()
    with pytest.raises(BackendUnavailable, match="not a model folder"):
        load_backend(
            model_config("deepseek-ocr2", size="base", path=str(tmp_path / "missing" / "x" / "y"))
        ).load()


def test_unknown_size_and_resolution_name_the_choices(model_config):
    with pytest.raises(BackendUnavailable, match="base, random, tiny"):
        load_backend(model_config("deepseek-ocr2", size="huge")).load()
    with pytest.raises(BackendUnavailable, match="dynamic: .*single: "):
        load_backend(model_config("deepseek-ocr2", resolution="4k")).load()
