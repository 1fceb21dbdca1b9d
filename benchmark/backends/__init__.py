"""Model backends: one protocol (load, LoRA targets, batches, generation), several models."""

from __future__ import annotations

from importlib import import_module

from benchmark.backends.base import Backend, BackendUnavailable

# name -> "module:class"; modules are imported on first use (each pulls in its model code).
_REGISTRY = {
    "tiny": "benchmark.backends.tiny:TinyBackend",
    "deepseek-ocr2": "benchmark.backends.deepseek_ocr2:DeepseekOcr2Backend",
    "deepseek-ocr": "benchmark.backends.deepseek_ocr:DeepseekOcrBackend",
    "image-text-to-text": "benchmark.backends.image_text_to_text:ImageTextToTextBackend",
    "vision-encoder-decoder": "benchmark.backends.vision_encoder_decoder:VisionEncoderDecoderBackend",
}
BACKENDS = tuple(_REGISTRY)


def backend_class(name: str) -> type[Backend]:
    if name not in _REGISTRY:
        raise BackendUnavailable(f"unknown model backend {name!r}; available: {', '.join(BACKENDS)}")
    module, cls = _REGISTRY[name].split(":")
    return getattr(import_module(module), cls)


def load_backend(model_cfg) -> Backend:
    return backend_class(model_cfg.backend)(model_cfg)


__all__ = ["BACKENDS", "Backend", "BackendUnavailable", "backend_class", "load_backend"]
