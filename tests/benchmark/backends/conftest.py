"""Backend tests build every model, tokenizer and processor from configs: never the hub."""

import os

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"


@pytest.fixture(scope="session")
def lines():
    """8 training and 4 test lines of synthetic English (cached under the test session's cache)."""
    from tasks.synthetic import SyntheticSpec, synthetic_splits

    return synthetic_splits(SyntheticSpec("en", 8, 4), workers=1)


@pytest.fixture(scope="session")
def model_config():
    """Factory: a real `ModelConfig` (tiny model, CPU) plus backend settings such as family."""
    from benchmark.config import ModelConfig

    def make(backend: str, size: str = "tiny", **settings):
        cfg = ModelConfig(backend=backend, size=size, device="cpu", threads=1)
        for key, value in settings.items():
            setattr(cfg, key, value)
        return cfg

    return make
