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

    inputs: dict[str, torch.Tensor]  # tensors indexed by row on dim 0
    texts: list[str]
    languages: list[str]
    ids: list[str]

    def __len__(self) -> int:
        return len(self.texts)


class Backend(ABC):
    name: str
    description: str
    default_targets: str  # regex over module names that LoRA adapts

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
