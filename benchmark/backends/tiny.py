"""Backend for the built-in tiny line-OCR model (CPU-friendly, shipped pretrained base)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from datasets import Dataset

from benchmark.backends.base import Backend, BackendUnavailable, EncoderDecoderFeatures, Prepared
from benchmark.backends.tiny_model import (
    EOS,
    UNK,
    CharTokenizer,
    build_tiny_model,
    images_to_tensor,
    load_base,
    tiny_config,
)

SHIPPED_BASE = Path(__file__).parent / "tiny_base"


class TinyBackend(EncoderDecoderFeatures, Backend):
    name = "tiny"
    description = "built-in 3.9M-parameter ViT+TrOCR line reader, pretrained on Latin, Hebrew, Bengali, Tamil"
    # Every attention and MLP projection of encoder and decoder.
    default_targets = r".*\.(q_proj|k_proj|v_proj|o_proj|out_proj|fc1|fc2)$"
    token_modules = ("embed_tokens", "output_projection")

    @classmethod
    def availability(cls) -> tuple[bool, str]:
        if (SHIPPED_BASE / "model.safetensors").exists():
            return True, f"shipped base at {SHIPPED_BASE.name}/ (CPU or CUDA)"
        return False, "the shipped base checkpoint is missing: run `fedocr pretrain`"

    def load(self) -> torch.nn.Module:
        if self.cfg.size not in ("base", "random"):
            raise BackendUnavailable(
                f"model.size = {self.cfg.size!r}: the tiny backend has 'base' and 'random'"
            )
        if self.cfg.size == "random":
            if (SHIPPED_BASE / "vocab.json").exists():  # the recipe's vocabulary, already built
                self.tokenizer = CharTokenizer.load(SHIPPED_BASE / "vocab.json")
            else:
                from benchmark.pretrain import PretrainConfig, build_vocabulary

                self.tokenizer = build_vocabulary(PretrainConfig().vocab_languages)
            model = build_tiny_model(tiny_config(len(self.tokenizer))).eval()
        else:
            path = Path(self.cfg.path) if self.cfg.path else SHIPPED_BASE
            if not (path / "model.safetensors").exists():
                raise BackendUnavailable(
                    f"no tiny base checkpoint at {path}: run `fedocr pretrain --out {path}` "
                    "or leave model.path empty to use the shipped one"
                )
            model, self.tokenizer = load_base(path)
        for p in model.parameters():
            p.requires_grad_(False)
        return model.to(self.device)

    def known_scripts(self) -> frozenset[str]:
        from tasks.languages import LANGUAGES

        path = Path(self.cfg.path) if self.cfg.path else SHIPPED_BASE
        recipe = path / "pretrain_recipe.json"
        if self.cfg.size == "random" or not recipe.exists():
            return frozenset()
        spec = json.loads(recipe.read_text(encoding="utf-8"))
        codes = spec.get("ocr_languages", []) + (
            spec.get("widen_languages", []) if spec.get("widen_steps") else []
        )
        return frozenset(LANGUAGES[c].script for c in codes if c in LANGUAGES)

    def token_ids(self, text: str) -> list[int]:
        return [i for i in self.tokenizer.encode(text) if i != UNK]

    def prepare(self, dataset: Dataset) -> Prepared:
        pixels = []
        for start in range(0, len(dataset), 1000):
            images = dataset[start : start + 1000]["image"]
            pixels.append((images_to_tensor(images) * 255).round().to(torch.uint8))
        texts = list(dataset["text"])
        return Prepared(
            inputs={"pixels": torch.cat(pixels) if pixels else torch.zeros(0, 1, 32, 384, dtype=torch.uint8)},
            texts=texts,
            languages=list(dataset["language"]),
            ids=list(dataset["id"]),
        )

    def _pixels(self, data: Prepared, rows: np.ndarray) -> torch.Tensor:
        return (data.inputs["pixels"][torch.as_tensor(rows)].float() / 255.0).to(self.device)

    def image_batch(self, data: Prepared, rows: np.ndarray) -> torch.Tensor:
        return self._pixels(data, rows)

    def training_batch(self, data: Prepared, rows: np.ndarray) -> dict[str, torch.Tensor]:
        # The decoder input is labels shifted right (done by the model); there is no prompt,
        # so every label position is an answer token, and padding is -100.
        encoded = [self.tokenizer.encode(data.texts[i]) + [EOS] for i in rows]
        labels = torch.full((len(rows), max(map(len, encoded))), -100, dtype=torch.long)
        for i, ids in enumerate(encoded):
            labels[i, : len(ids)] = torch.tensor(ids)
        return {"pixel_values": self._pixels(data, rows), "labels": labels.to(self.device)}

    @torch.no_grad()
    def generate(self, model, data: Prepared, rows: np.ndarray, max_new_tokens: int, cache=None) -> list[str]:
        out = model.generate(
            **self.generate_kwargs(self._pixels(data, rows), rows, cache),
            max_new_tokens=max_new_tokens,
            num_beams=1,
            do_sample=False,
        )
        return [self.tokenizer.decode(seq[1:]) for seq in out.cpu()]

    def max_new_tokens(self, texts: list[str]) -> int:
        return max(map(len, texts), default=0) + 16
