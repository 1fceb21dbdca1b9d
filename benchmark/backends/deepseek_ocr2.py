"""DeepSeek-OCR-2 (native in transformers >= 5.10.1): SAM + Qwen2-style vision encoder, DeepSeek MoE LM.

model.size: `base` loads the checkpoint at model.path; `random` builds the full-size
architecture with random weights (shape, speed and memory checks, no download); `tiny` builds
a small random model and a byte-level tokenizer here (tests and CPU smoke runs).
"""

from __future__ import annotations

import torch
from transformers import DeepseekOcr2Config, DeepseekOcr2ForConditionalGeneration, DeepseekOcr2Processor

from benchmark.backends.base import BackendUnavailable
from benchmark.backends.chat import LANGUAGE_MODEL_TARGETS, PromptAnswerBackend
from benchmark.backends.checkpoints import build_on, checkpoint_source, load_checkpoint, seeded, weights_dtype
from benchmark.backends.local_tokenizer import byte_level_tokenizer

HUB_ID = "deepseek-community/DeepSeek-OCR-2"
LOCAL_FOLDER = "models/DeepSeek-OCR-2"
PROMPT = "<image>\nFree OCR."
SEED_LORA = {"r": 16, "alpha": 16, "dropout": 0.0}  # the seed recipe's LoRA shape

# How images become views. The model's learned queries fix the view sizes: 256 tokens for the
# 1024-px global view, 144 for a 768-px view or tile (+1 separator per image).
RESOLUTIONS = {
    "dynamic": "a 1024-px global view, plus 2-6 768-px tiles when the image is larger than 768 px "
    "(the checkpoint's default)",
    "single": "one 768-px view, 145 image tokens (cheapest)",
}


def full_config(vocab_size: int = 129280, image_token_id: int = 128815) -> DeepseekOcr2Config:
    """The published DeepSeek-OCR-2 architecture (3.39 B parameters): SAM ViT-B, a 24-layer
    Qwen2-0.5B-style vision encoder, and a 12-layer DeepSeek MoE LM (64 experts, 2 shared)."""
    return DeepseekOcr2Config(
        vision_config={
            "sam_config": {
                "hidden_size": 768,
                "num_hidden_layers": 12,
                "num_attention_heads": 12,
                "global_attn_indexes": [2, 5, 8, 11],
                "downsample_channels": [512, 896],
            },
            "encoder_config": {
                "hidden_size": 896,
                "num_hidden_layers": 24,
                "num_attention_heads": 14,
                "num_key_value_heads": 2,
                "intermediate_size": 4864,
                "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0},
                "vocab_size": 1,
            },
        },
        text_config={
            "vocab_size": vocab_size,
            "hidden_size": 1280,
            "intermediate_size": 6848,
            "moe_intermediate_size": 896,
            "num_hidden_layers": 12,
            "num_attention_heads": 10,
            "num_key_value_heads": 10,
            "n_routed_experts": 64,
            "n_shared_experts": 2,
            "num_experts_per_tok": 6,
            "n_group": 1,
            "topk_group": 1,
            "max_position_embeddings": 8192,
            "bos_token_id": 0,
            "eos_token_id": 1,
            # Set explicitly: None crashes the tiny and the full config alike.
            "mlp_layer_types": ["dense"] + ["sparse"] * 11,
        },
        image_token_id=image_token_id,
    )


def tiny_config(vocab_size: int, image_token_id: int, bos: int, eos: int, pad: int) -> DeepseekOcr2Config:
    """The same classes at 1/8 image scale: 128-px global view and 96-px tiles with SAM patch 2,
    so that the SAM grid, the query counts (256 / 144) and the processor's token counts agree
    exactly as they do at full size."""
    return DeepseekOcr2Config(
        vision_config={
            "sam_config": {
                "hidden_size": 16,
                "output_channels": 16,
                "num_hidden_layers": 1,
                "num_attention_heads": 2,
                "image_size": 128,
                "patch_size": 2,
                "window_size": 8,
                "global_attn_indexes": [],
                # The last one must equal the vision encoder's hidden size.
                "downsample_channels": [32, 32],
            },
            "encoder_config": {
                "hidden_size": 32,
                "intermediate_size": 64,
                "num_hidden_layers": 1,
                "num_attention_heads": 2,
                "num_key_value_heads": 2,
                "max_position_embeddings": 512,
            },
        },
        text_config={
            "vocab_size": vocab_size,
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 4,
            "max_position_embeddings": 2048,
            "mlp_layer_types": ["dense", "sparse"],  # like the full model: dense first, then MoE
            "n_routed_experts": 4,
            "n_shared_experts": 1,
            "num_experts_per_tok": 2,
            "moe_intermediate_size": 32,
            "bos_token_id": bos,
            "eos_token_id": eos,
            "pad_token_id": pad,
        },
        image_token_id=image_token_id,
    )


def local_processor(global_size: int, tile_size: int, patch_size: int) -> DeepseekOcr2Processor:
    """A processor whose tokenizer is built here (byte-level, DeepSeek's special tokens)."""
    from transformers.models.deepseek_ocr2.image_processing_pil_deepseek_ocr2 import (
        DeepseekOcr2ImageProcessorPil,
    )

    bos, eos, pad = "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜▁pad▁｜>"
    tokenizer = byte_level_tokenizer(
        [bos, eos, pad, "<image>"],
        bos_token=bos,
        eos_token=eos,
        pad_token=pad,
        add_bos=True,  # DeepSeek's tokenizer starts every text with BOS
        named_tokens={"image_token": "<image>"},
    )
    images = DeepseekOcr2ImageProcessorPil(
        size={"height": global_size, "width": global_size}, tile_size=tile_size
    )
    return DeepseekOcr2Processor(image_processor=images, tokenizer=tokenizer, patch_size=patch_size)


def set_resolution(processor: DeepseekOcr2Processor, mode: str) -> None:
    crop = mode == "dynamic"
    # The processor's own call defaults override the image processor's attributes.
    processor.images_kwargs = {**processor.images_kwargs, "crop_to_patches": crop}
    images = processor.image_processor
    images.crop_to_patches = crop
    if not crop:
        # The processor counts global-view tokens from `size`: it must be the tile size too.
        images.size = {"height": images.tile_size, "width": images.tile_size}


def anchor_legacy_renamings() -> None:
    """Make the legacy-checkpoint renamings of the language model match only legacy keys.

    transformers 5.25 renames original DeepSeek-OCR-2 keys with `(^|model\\.)layers\\.` (and the
    same for embed_tokens / norm), which also matches inside a native key such as
    `model.language_model.layers.0...`. PEFT 0.21 applies these renamings when it loads an
    adapter, so every LoRA key of the language model was renamed to a module that does not
    exist and the adapter silently stayed at zero. `^(model\\.|)` matches the legacy keys only.
    """
    from transformers.conversion_mapping import (
        get_checkpoint_conversion_mapping,
        register_checkpoint_conversion_mapping,
    )
    from transformers.core_model_loading import WeightRenaming

    unanchored = r"(^|model\.)"
    mapping = []
    for transform in get_checkpoint_conversion_mapping("deepseek_ocr2") or []:
        sources = transform._original_source_patterns
        if isinstance(transform, WeightRenaming) and any(s.startswith(unanchored) for s in sources):
            transform = WeightRenaming(
                [s.replace(unanchored, r"^(model\.|)", 1) for s in sources],
                transform._original_target_patterns,
            )
        mapping.append(transform)
    if mapping:
        register_checkpoint_conversion_mapping("deepseek_ocr2", mapping, overwrite=True)


anchor_legacy_renamings()


class DeepseekOcr2Backend(PromptAnswerBackend):
    name = "deepseek-ocr2"
    description = "DeepSeek-OCR-2 (3.4B; transformers-native), prompt '<image>\\nFree OCR.'"
    default_targets = LANGUAGE_MODEL_TARGETS
    lora_defaults = SEED_LORA
    sizes = ("base", "random", "tiny")
    options = {
        "model.size": "base (weights from model.path) | random (full size, random weights) | tiny (CPU tests)",
        "model.path": f"a folder from `hf download {HUB_ID}`, or that hub id",
        "model.resolution": " | ".join(RESOLUTIONS) + " (default: dynamic; tiny: single)",
    }

    @classmethod
    def availability(cls) -> tuple[bool, str]:
        if torch.cuda.is_available():
            return True, f"CUDA; real weights: model.path (from `hf download {HUB_ID}`)"
        return True, "CPU: model.size=tiny here; the 3.4B model wants a GPU with >= 16 GB"

    def build(self):
        mode = getattr(self.cfg, "resolution", "") or ("single" if self.cfg.size == "tiny" else "dynamic")
        if mode not in RESOLUTIONS:
            raise BackendUnavailable(
                f"model.resolution = {mode!r}: {self.name} has "
                + "; ".join(f"{k}: {v}" for k, v in RESOLUTIONS.items())
            )
        if self.cfg.size == "base":
            source = checkpoint_source(self.cfg.path, self.name, HUB_ID, LOCAL_FOLDER)

            def load():
                from transformers import AutoProcessor

                processor = AutoProcessor.from_pretrained(source)
                model = DeepseekOcr2ForConditionalGeneration.from_pretrained(
                    source, dtype=weights_dtype(self.device)
                )
                return model, processor

            model, processor = load_checkpoint(load, source, self.name, HUB_ID, LOCAL_FOLDER)
        else:
            full = self.cfg.size == "random"
            processor = local_processor(*((1024, 768, 16) if full else (128, 96, 2)))
            tok = processor.tokenizer
            image_id = tok.image_token_id
            config = (
                full_config(image_token_id=image_id)
                if full
                else tiny_config(len(tok), image_id, tok.bos_token_id, tok.eos_token_id, tok.pad_token_id)
            )
            model = seeded(lambda: build_on(self.device, DeepseekOcr2ForConditionalGeneration, config))
        set_resolution(processor, mode)
        return model, processor, PROMPT

    @property
    def base_id(self) -> str:
        return self.cfg.path or f"fedocr:{self.name}-{self.cfg.size}"
