"""Any `AutoModelForImageTextToText` + `AutoProcessor` OCR model, prompted the way its family is.

The family comes from model.family, or else from the checkpoint's `model_type`. model.size=tiny
with model.family=got-ocr2 or paddleocr-vl builds a small random model of that family here.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from benchmark.backends.base import BackendUnavailable
from benchmark.backends.chat import LANGUAGE_MODEL_TARGETS, PromptAnswerBackend
from benchmark.backends.checkpoints import checkpoint_source, load_checkpoint, seeded, weights_dtype
from benchmark.backends.local_tokenizer import byte_level_tokenizer


@dataclass(frozen=True)
class Family:
    """How a family is asked to read an image.

    style: "chat" renders one user turn (the image, then `text` if any) with the processor's
    chat template; "text" gives `text` to the processor as the prompt; "processor" lets the
    processor write its own OCR prompt.
    """

    style: str
    text: str | None = None
    end_token: str | None = None  # what closes an answer, when not the tokenizer's EOS
    targets: str = LANGUAGE_MODEL_TARGETS


FAMILIES = {
    "got_ocr2": Family("processor", end_token="<|im_end|>"),  # ChatML with "OCR: " (plain text)
    "paddleocr_vl": Family("chat", "OCR:"),
    "qwen2_vl": Family("chat", "Read all the text in the image.", "<|im_end|>"),
    "qwen2_5_vl": Family("chat", "Read all the text in the image.", "<|im_end|>"),
    "qwen3_vl": Family("chat", "Read all the text in the image.", "<|im_end|>"),
    "lighton_ocr": Family("chat", None),  # prompted with the image alone
    "glm_ocr": Family("chat", "Text Recognition:"),
    "deepseek_ocr2": Family("text", "<image>\nFree OCR."),
    # Encoder-decoder (BART): the task token goes to the encoder; LoRA on both stacks.
    "florence2": Family(
        "text",
        "<OCR>",
        targets=r".*language_model\.(encoder|decoder)\.layers\.\d+\.((self_attn|encoder_attn)\.(q|k|v|out)_proj|fc1|fc2)",
    ),
}
TINY_FAMILIES = ("got_ocr2", "paddleocr_vl")


def family_key(name: str) -> str:
    return name.strip().lower().replace("-", "_").replace(".", "_")


def tiny_got_ocr2():
    """GOT-OCR2 at toy size: SAM (128 px, patch 2, windowed attention only) -> the 256 image
    tokens that GOT's processor writes, Qwen2 LM."""
    from transformers import GotOcr2Config, GotOcr2ForConditionalGeneration, GotOcr2Processor
    from transformers.models.got_ocr2.image_processing_pil_got_ocr2 import GotOcr2ImageProcessorPil

    tokenizer = byte_level_tokenizer(
        ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<img>", "</img>", "<imgpad>"],
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
    )
    processor = GotOcr2Processor(
        image_processor=GotOcr2ImageProcessorPil(size={"height": 128, "width": 128}), tokenizer=tokenizer
    )
    config = GotOcr2Config(
        vision_config={
            "hidden_size": 32,
            "output_channels": 16,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            # (128 / 2 / 4)^2 = 256: SAM patches, then the projector's two stride-2 convs
            "image_size": 128,
            "patch_size": 2,
            "window_size": 8,
            "global_attn_indexes": [],
            "mlp_dim": 64,
        },
        text_config={
            "model_type": "qwen2",
            "vocab_size": len(tokenizer),
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "max_position_embeddings": 1024,
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        },
        image_token_index=processor.image_token_id,
        image_seq_length=256,
    )
    return seeded(lambda: GotOcr2ForConditionalGeneration(config)), processor


def tiny_paddleocr_vl():
    """PaddleOCR-VL at toy size: NaViT-style encoder (patch 14, 2x2 merge), Ernie-4.5 LM, M-RoPE."""
    from transformers import PaddleOCRVLConfig, PaddleOCRVLForConditionalGeneration, PaddleOCRVLProcessor
    from transformers.models.paddleocr_vl.image_processing_pil_paddleocr_vl import (
        PaddleOCRVLImageProcessorPil,
    )

    image = "<|IMAGE_START|><|IMAGE_PLACEHOLDER|><|IMAGE_END|>"
    template = (
        "<s>{% for m in messages %}{{ m['role'] | capitalize }}: {% for c in m['content'] %}"
        "{% if c['type'] == 'image' %}" + image + "{% else %}{{ c['text'] }}{% endif %}{% endfor %}\n"
        "{% endfor %}{% if add_generation_prompt %}Assistant: {% endif %}"
    )
    tokenizer = byte_level_tokenizer(
        [
            "<s>",
            "</s>",
            "<unk>",
            "<|IMAGE_START|>",
            "<|IMAGE_PLACEHOLDER|>",
            "<|IMAGE_END|>",
            "<|video_pad|>",
        ],
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<unk>",
        named_tokens={"image_token": "<|IMAGE_PLACEHOLDER|>"},
        chat_template=template,
    )
    images = PaddleOCRVLImageProcessorPil(min_pixels=28 * 28 * 2, max_pixels=28 * 28 * 16)
    processor = PaddleOCRVLProcessor(image_processor=images, tokenizer=tokenizer, chat_template=template)
    ids = tokenizer.convert_tokens_to_ids
    config = PaddleOCRVLConfig(
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": 56,
            "patch_size": 14,
            "spatial_merge_size": 2,
        },
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "head_dim": 16,
            "max_position_embeddings": 2048,
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
            # M-RoPE sections (temporal, height, width) must sum to head_dim / 2.
            "rope_parameters": {"rope_type": "default", "rope_theta": 500000.0, "mrope_section": [2, 3, 3]},
        },
        image_token_id=tokenizer.image_token_id,
        video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|IMAGE_START|>"),
        vision_end_token_id=ids("<|IMAGE_END|>"),
    )
    return seeded(lambda: PaddleOCRVLForConditionalGeneration(config)), processor


TINY_BUILDERS = {"got_ocr2": tiny_got_ocr2, "paddleocr_vl": tiny_paddleocr_vl}


class ImageTextToTextBackend(PromptAnswerBackend):
    name = "image-text-to-text"
    description = "any AutoModelForImageTextToText OCR checkpoint, with a per-family prompt"
    default_targets = LANGUAGE_MODEL_TARGETS
    options = {
        "model.path": "a local checkpoint folder or hub id (e.g. stepfun-ai/GOT-OCR-2.0-hf)",
        "model.family": "prompt family, default from the checkpoint: " + ", ".join(FAMILIES),
        "model.size": "base (weights from model.path) | tiny (model.family "
        + " or ".join(TINY_FAMILIES)
        + ")",
    }

    @classmethod
    def availability(cls) -> tuple[bool, str]:
        where = "CUDA" if torch.cuda.is_available() else "CPU"
        return True, f"{where}: tiny {' and '.join(TINY_FAMILIES)} here; real weights from model.path"

    def build(self):
        family = family_key(getattr(self.cfg, "family", ""))
        if self.cfg.size == "tiny":
            if family not in TINY_BUILDERS:
                raise BackendUnavailable(
                    f"model.size=tiny needs model.family = one of {', '.join(TINY_BUILDERS)}"
                    f" (got {getattr(self.cfg, 'family', '')!r})"
                )
            model, processor = TINY_BUILDERS[family]()
        else:
            hub, folder = "stepfun-ai/GOT-OCR-2.0-hf", "models/GOT-OCR-2.0-hf"
            source = checkpoint_source(self.cfg.path, self.name, hub, folder)

            def load():
                from transformers import AutoModelForImageTextToText, AutoProcessor

                processor = AutoProcessor.from_pretrained(source)
                model = AutoModelForImageTextToText.from_pretrained(source, dtype=weights_dtype(self.device))
                return model, processor

            model, processor = load_checkpoint(load, source, self.name, hub, folder)
            family = family or model.config.model_type
        self.family = FAMILIES.get(family) or self._unknown_family(family, processor)
        self.default_targets = self.family.targets
        return model, processor, self._prompt(processor)

    def _unknown_family(self, family: str, processor) -> Family:
        if getattr(processor, "chat_template", None):
            return Family("chat", "Read all the text in the image.")
        raise BackendUnavailable(
            f"{self.name}: no prompt known for model family {family!r} and its processor has no chat "
            f"template; set model.family to one of {', '.join(FAMILIES)}"
        )

    def _prompt(self, processor) -> str | None:
        if self.family.style == "processor":
            return None
        if self.family.style == "text":
            return self.family.text
        content = [{"type": "image"}] + (
            [{"type": "text", "text": self.family.text}] if self.family.text else []
        )
        messages = [{"role": "user", "content": content}]
        return processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)

    def end_token_id(self, model: torch.nn.Module) -> int:
        if self.family.end_token:
            return self.tokenizer.convert_tokens_to_ids(self.family.end_token)
        stops = model.generation_config.eos_token_id
        if isinstance(stops, list) and stops:
            return stops[0]
        return stops if stops is not None else self.tokenizer.eos_token_id

    @property
    def base_id(self) -> str:
        return (
            self.cfg.path
            or f"fedocr:{self.name}-{self.cfg.size}-{family_key(getattr(self.cfg, 'family', ''))}"
        )
