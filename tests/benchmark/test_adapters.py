"""Wrapping a base in LoRA."""

import warnings

from benchmark.backends.tiny import TinyBackend
from benchmark.config import LoraSettings, ModelConfig


def test_wrapping_says_nothing_about_transformers_deprecations():
    backend = TinyBackend(ModelConfig(device="cpu", size="random"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = backend.wrap_with_lora(backend.load(), LoraSettings(r=2, alpha=4))
    assert any("lora_A" in name for name, _ in model.named_parameters())
    assert not [w for w in caught if "is_gradient_checkpointing" in str(w.message)]
