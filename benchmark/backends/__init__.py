"""Model backends: one protocol (load, LoRA targets, batches, generation), several models."""

from __future__ import annotations

from benchmark.backends.base import Backend, BackendUnavailable

BACKENDS = ("tiny",)


def backend_class(name: str) -> type[Backend]:
    if name == "tiny":
        from benchmark.backends.tiny import TinyBackend

        return TinyBackend
    raise BackendUnavailable(f"unknown model backend {name!r}; available: {', '.join(BACKENDS)}")


def load_backend(model_cfg) -> Backend:
    return backend_class(model_cfg.backend)(model_cfg)


__all__ = ["BACKENDS", "Backend", "BackendUnavailable", "backend_class", "load_backend"]
