"""The backend protocol every model family implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import torch
from datasets import Dataset


class BackendUnavailable(RuntimeError):
    """The backend cannot run here (missing weights, hardware or package); says what to do."""


@dataclass
class Prepared:
    """A dataset encoded once for a backend: model inputs per row, plus the raw text."""

    # Tensors indexed by row on dim 0, or per-row lists (e.g. images a processor encodes per batch).
    inputs: dict[str, torch.Tensor | list]
    texts: list[str]
    languages: list[str]
    ids: list[str]

    def __len__(self) -> int:
        return len(self.texts)


class Backend(ABC):
    name: str
    description: str
    default_targets: str  # regex over module names that LoRA adapts
    # The model's recommended LoRA shape ({"r", "alpha", "dropout"}) where it has one.
    lora_defaults: dict[str, float] | None = None
    # Model settings this backend reads, with what they accept (shown by `fedocr models list`).
    options: dict[str, str] = {}

    def __init__(self, model_cfg):
        self.cfg = model_cfg
        self.device = resolve_device(model_cfg.device)

    @classmethod
    @abstractmethod
    def availability(cls) -> tuple[bool, str]:
        """(can run here, why / what is missing)."""

    @abstractmethod
    def load(self) -> torch.nn.Module:
        """Load the frozen base model onto self.device and return it."""

    @abstractmethod
    def prepare(self, dataset: Dataset) -> Prepared:
        """Encode images and transcriptions once."""

    @abstractmethod
    def training_batch(self, data: Prepared, rows: np.ndarray) -> dict[str, torch.Tensor]:
        """Model kwargs for rows of `data`, with labels masked (-100) outside the answer."""

    @abstractmethod
    def generate(
        self, model: torch.nn.Module, data: Prepared, rows: np.ndarray, max_new_tokens: int
    ) -> list[str]:
        """Greedy, bounded transcriptions for rows of `data`."""

    @abstractmethod
    def max_new_tokens(self, texts: list[str]) -> int:
        """A generation bound from the longest reference, with room to show a loop."""

    def wrap_with_lora(self, model: torch.nn.Module, settings) -> torch.nn.Module:
        """Wrap the loaded base in a LoRA adapter (PEFT); a backend may wrap its own way."""
        from benchmark.adapters import wrap_with_lora

        return wrap_with_lora(model, settings, self.default_targets)

    @property
    def base_id(self) -> str:
        """What `adapter_config.json` names as the base model."""
        return self.cfg.path or f"fedocr:{self.name}"


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise BackendUnavailable("model.device = 'cuda' but torch sees no CUDA device here")
    return torch.device(name)
