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
        self.precision = resolve_precision(model_cfg.precision, self.device)

    def autocast(self):
        """The autocast context of training, feature caching and decoding for this backend."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16")

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
        self, model: torch.nn.Module, data: Prepared, rows: np.ndarray, max_new_tokens: int, cache=None
    ) -> list[str]:
        """Greedy, bounded transcriptions for rows of `data` (with `cache`, a FeatureCache of
        `data`, the vision tower's outputs come from it)."""

    @abstractmethod
    def max_new_tokens(self, texts: list[str]) -> int:
        """A generation bound from the longest reference, with room to show a loop."""

    def vision_tower(self, model: torch.nn.Module) -> torch.nn.Module | None:
        """The vision tower whose outputs the feature cache may keep; None = not supported."""
        return None

    def image_batch(self, data: Prepared, rows: np.ndarray) -> torch.Tensor:
        """The model-ready pixel values of `rows` of `data` (what the feature cache encodes)."""
        raise NotImplementedError(f"the {self.name} backend does not support the feature cache")

    def tower_blocks(self, model: torch.nn.Module) -> list[torch.nn.Module] | None:
        """The vision tower's stacked blocks, in order, when the backend can run the tower in
        two parts (embeddings + the first blocks, then the rest); None = only as a whole."""
        return None

    def encode_images(
        self, model: torch.nn.Module, pixel_values: torch.Tensor, depth: int | None = None
    ) -> torch.Tensor:
        """The vision tower's output for a batch of images (what the cache stores per image);
        with `depth`, the hidden state after the embeddings and the first `depth` blocks."""
        raise NotImplementedError(f"the {self.name} backend does not support the feature cache")

    def finish_tower(self, model: torch.nn.Module, hidden: torch.Tensor, depth: int) -> torch.Tensor:
        """The tower's output from `encode_images(..., depth)`: the remaining blocks run here
        (with gradients, when LoRA adapts them)."""
        raise NotImplementedError(f"the {self.name} backend does not split its vision tower")

    def with_features(self, batch: dict, features: torch.Tensor) -> dict:
        """A training batch that feeds cached tower outputs instead of images."""
        raise NotImplementedError(f"the {self.name} backend does not support the feature cache")

    # Embedding modules whose rows `lora.trainable_tokens = "new"` trains (input and output
    # side; both named because a tie is not always visible to PEFT). Empty = not supported.
    token_modules: tuple[str, ...] = ()

    def known_scripts(self) -> frozenset[str]:
        """Scripts the base model was trained to read (tokens outside them count as new)."""
        return frozenset()

    def token_ids(self, text: str) -> list[int]:
        """The vocabulary ids of a transcription (no special tokens)."""
        raise NotImplementedError(f"the {self.name} backend does not support lora.trainable_tokens")

    def wrap_with_lora(
        self, model: torch.nn.Module, settings, token_ids: list[int] | None = None
    ) -> torch.nn.Module:
        """Wrap the loaded base in a LoRA adapter (PEFT); with `token_ids`, those embedding
        rows train too. A backend may wrap its own way."""
        from benchmark.adapters import wrap_with_lora

        indices = {name: list(token_ids) for name in self.token_modules} if token_ids else None
        return wrap_with_lora(model, settings, self.default_targets, indices)

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


def resolve_precision(name: str, device: torch.device) -> str:
    """The autocast precision ("bf16" or "fp32") for model.precision on `device`. auto: bf16
    on CUDA where supported, float32 on CPU, so that CPU runs give the same numbers whatever
    the CPU's instruction set."""
    if name != "auto":
        return name
    return "bf16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "fp32"


class EncoderDecoderFeatures:
    """Feature-cache hooks for transformers encoder-decoder models (VisionEncoderDecoderModel):
    the encoder is the vision tower; its last hidden state goes in as `encoder_outputs`."""

    def vision_tower(self, model: torch.nn.Module) -> torch.nn.Module | None:
        return model.get_encoder()

    def tower_blocks(self, model: torch.nn.Module) -> list[torch.nn.Module] | None:
        # A ViT-style tower (embeddings, blocks in `layers`, a final layernorm), as transformers 5
        # writes ViT and DeiT; other towers are cached whole or not at all.
        tower = model.get_encoder()
        layers = getattr(tower, "layers", None)
        if isinstance(layers, torch.nn.ModuleList) and all(
            isinstance(getattr(tower, a, None), torch.nn.Module) for a in ("embeddings", "layernorm")
        ):
            return list(layers)
        return None

    def encode_images(
        self, model: torch.nn.Module, pixel_values: torch.Tensor, depth: int | None = None
    ) -> torch.Tensor:
        tower = model.get_encoder()
        if depth is None:
            return tower(pixel_values=pixel_values).last_hidden_state
        hidden = tower.embeddings(pixel_values.to(next(tower.embeddings.parameters()).dtype))
        for layer in tower.layers[:depth]:
            hidden = layer(hidden, None)
        return hidden

    def finish_tower(self, model: torch.nn.Module, hidden: torch.Tensor, depth: int) -> torch.Tensor:
        tower = model.get_encoder()
        for layer in tower.layers[depth:]:
            hidden = layer(hidden, None)
        return tower.layernorm(hidden)

    def with_features(self, batch: dict, features: torch.Tensor) -> dict:
        from transformers.modeling_outputs import BaseModelOutput

        out = {k: v for k, v in batch.items() if k != "pixel_values"}
        out["encoder_outputs"] = BaseModelOutput(last_hidden_state=features)
        return out

    def generate_kwargs(self, pixel_values: torch.Tensor, rows: np.ndarray, cache) -> dict:
        """`generate` inputs: the images, or their cached tower outputs."""
        if cache is None:
            return {"pixel_values": pixel_values}
        from transformers.modeling_outputs import BaseModelOutput

        return {"encoder_outputs": BaseModelOutput(last_hidden_state=cache.outputs(rows))}
