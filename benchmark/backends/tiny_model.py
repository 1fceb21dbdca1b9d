"""The built-in tiny line-OCR model: a transformers VisionEncoderDecoderModel built from configs.

Encoder: ViT (width 192, 4 layers) over a 1x32x384 grayscale line whose patch embedding is a
small conv stem (96 tokens, one per 4-pixel column strip). Decoder: TrOCR (width 192, 3 layers)
over a character vocabulary. About 3.8 M parameters; trains on a CPU.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from transformers import (
    TrOCRConfig,
    VisionEncoderDecoderConfig,
    VisionEncoderDecoderModel,
    ViTConfig,
)

HEIGHT, WIDTH = 32, 384
PAD, BOS, EOS, UNK = 0, 1, 2, 3
SPECIALS = ["<pad>", "<s>", "</s>", "<unk>"]


class CharTokenizer:
    """One id per character; ids 0-3 are pad, bos, eos, unk."""

    def __init__(self, chars: list[str]):
        self.chars = list(chars)
        self.index = {c: i + len(SPECIALS) for i, c in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(SPECIALS) + len(self.chars)

    def encode(self, text: str) -> list[int]:
        return [self.index.get(c, UNK) for c in text]

    def decode(self, ids) -> str:
        out = []
        for i in ids:
            i = int(i)
            if i == EOS:
                break
            if i >= len(SPECIALS):
                out.append(self.chars[i - len(SPECIALS)])
        return "".join(out)

    def known(self, text: str) -> bool:
        return all(c in self.index for c in text)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps({"specials": SPECIALS, "chars": self.chars}, ensure_ascii=False))

    @classmethod
    def load(cls, path: Path) -> CharTokenizer:
        return cls(json.loads(path.read_text(encoding="utf-8"))["chars"])


class ConvStem(nn.Module):
    """Replaces ViT's patch embedding: 1x32x384 -> 96 tokens of width `hidden`.

    GroupNorm rather than BatchNorm: no running statistics, so LoRA training in train mode
    never changes the frozen base.
    """

    def __init__(self, hidden: int):
        super().__init__()

        def block(cin, cout, stride):
            return [nn.Conv2d(cin, cout, 3, stride, 1), nn.GroupNorm(8, cout), nn.GELU()]

        self.features = nn.Sequential(
            *block(1, 32, 2),  # 16 x 192
            *block(32, 64, 2),  # 8 x 96
            *block(64, 128, (2, 1)),  # 4 x 96
        )
        # Named like ViT's patch projection: ViTModel reads its dtype.
        self.projection = nn.Conv2d(128, hidden, (4, 1))  # 1 x 96

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.projection(self.features(pixel_values)).flatten(2).transpose(1, 2)


def tiny_config(vocab_size: int, width: int = 192) -> VisionEncoderDecoderConfig:
    encoder = ViTConfig(
        hidden_size=width,
        num_hidden_layers=4,
        num_attention_heads=4,
        intermediate_size=4 * width,
        image_size=[HEIGHT, WIDTH],
        patch_size=[HEIGHT, 4],
        num_channels=1,
    )
    decoder = TrOCRConfig(
        vocab_size=vocab_size,
        d_model=width,
        decoder_layers=3,
        decoder_attention_heads=4,
        decoder_ffn_dim=4 * width,
        max_position_embeddings=128,
        dropout=0.1,
        pad_token_id=PAD,
        bos_token_id=BOS,
        eos_token_id=EOS,
        decoder_start_token_id=BOS,
        cross_attention_hidden_size=width,
        tie_word_embeddings=True,
    )
    config = VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)
    config.decoder_start_token_id = BOS
    config.pad_token_id = PAD
    config.eos_token_id = EOS
    config.vocab_size = vocab_size
    return config


def build_tiny_model(config: VisionEncoderDecoderConfig) -> VisionEncoderDecoderModel:
    model = VisionEncoderDecoderModel(config=config)
    model.encoder.embeddings.patch_embeddings = ConvStem(config.encoder.hidden_size)
    model.generation_config.decoder_start_token_id = BOS
    model.generation_config.pad_token_id = PAD
    model.generation_config.eos_token_id = EOS
    return model


def images_to_tensor(images: list[Image.Image]) -> torch.Tensor:
    """Grayscale, height 32, aspect kept (squeezed only if wider than 384), padded right.

    Ink is 1 and paper 0, so padding (0) looks like empty paper.
    """
    batch = np.zeros((len(images), 1, HEIGHT, WIDTH), dtype=np.float32)
    for i, image in enumerate(images):
        image = image.convert("L")
        w = max(1, min(WIDTH, round(image.width * HEIGHT / max(image.height, 1))))
        arr = np.asarray(image.resize((w, HEIGHT), Image.BILINEAR), dtype=np.float32)
        batch[i, 0, :, :w] = (255.0 - arr) / 255.0
    return torch.from_numpy(batch)


def save_base(model: VisionEncoderDecoderModel, tokenizer: CharTokenizer, out: Path) -> None:
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    state = {
        k: v.detach().contiguous().clone()
        for k, v in model.state_dict().items()
        if k != "decoder.output_projection.weight"  # tied to embed_tokens
    }
    save_file(state, str(out / "model.safetensors"))
    (out / "config.json").write_text(json.dumps(model.config.to_dict(), indent=1))
    tokenizer.save(out / "vocab.json")


def load_base(path: Path) -> tuple[VisionEncoderDecoderModel, CharTokenizer]:
    from safetensors.torch import load_file

    path = Path(path)
    for name in ("config.json", "vocab.json", "model.safetensors"):
        if not (path / name).exists():
            raise FileNotFoundError(f"tiny base checkpoint {path} has no {name}")
    config = VisionEncoderDecoderConfig.from_dict(json.loads((path / "config.json").read_text()))
    model = build_tiny_model(config)
    missing, unexpected = model.load_state_dict(load_file(str(path / "model.safetensors")), strict=False)
    if set(missing) - {"decoder.output_projection.weight"} or unexpected:
        raise ValueError(
            f"{path}: checkpoint does not match the tiny architecture "
            f"(missing {missing[:5]}, unexpected {unexpected[:5]})"
        )
    model.tie_weights()
    return model.eval(), CharTokenizer.load(path / "vocab.json")
