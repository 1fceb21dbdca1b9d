"""model.path=DIR: a saved checkpoint folder (the files `hf download` gives: config, weights,
tokenizer, processor) loads offline through the Auto classes and behaves as the model saved."""

import numpy as np
import pytest
import torch
from safetensors import safe_open

from benchmark.backends import load_backend

CASES = {
    "deepseek-ocr2": ("deepseek-ocr2", {"resolution": "dynamic"}),
    "got-ocr2": ("image-text-to-text", {"family": "got-ocr2"}),
    "paddleocr-vl": ("image-text-to-text", {"family": "paddleocr-vl"}),
    "vision-encoder-decoder": ("vision-encoder-decoder", {}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_saved_folder_loads_as_the_same_model(case, model_config, lines, tmp_path):
    backend_name, settings = CASES[case]
    tiny = load_backend(model_config(backend_name, **settings))
    model = tiny.load()
    model.save_pretrained(str(tmp_path))
    tiny.processor.save_pretrained(str(tmp_path))

    # The family of a checkpoint comes from its config, not from the settings.
    settings = {k: v for k, v in settings.items() if k != "family"}
    loaded = load_backend(model_config(backend_name, size="base", path=str(tmp_path), **settings))
    reloaded = loaded.load()
    assert loaded.default_targets == tiny.default_targets
    rows = np.arange(4)
    a, b = (
        tiny.training_batch(tiny.prepare(lines[1]), rows),
        loaded.training_batch(loaded.prepare(lines[1]), rows),
    )
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a if torch.is_tensor(a[k]))
    with torch.no_grad():
        assert torch.equal(model(**a).logits, reloaded(**b).logits)


def test_deepseek_ocr2_folder_is_written_in_the_original_key_layout(model_config, tmp_path):
    """transformers saves DeepSeek-OCR-2 under the original checkpoint's names (`model.layers.N`),
    so loading it exercises the same renamings as the published weights."""
    tiny = load_backend(model_config("deepseek-ocr2"))
    tiny.load().save_pretrained(str(tmp_path))
    with safe_open(str(tmp_path / "model.safetensors"), "pt") as f:
        keys = list(f.keys())
    assert any(k.startswith("model.layers.0.self_attn.q_proj") for k in keys)
    assert not any(".language_model." in k for k in keys)
