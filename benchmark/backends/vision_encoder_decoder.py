"""TrOCR / Donut-style checkpoints: `VisionEncoderDecoderModel` + its processor.

The decoder reads an optional prompt (TrOCR: the tokenizer's BOS; Donut: a task token) and
then the answer; labels are -100 on the prompt, as for the chat-style backends.
model.size=tiny builds a small ViT + TrOCR model and a byte-level tokenizer here.
"""

from __future__ import annotations

import numpy as np
import torch
from datasets import Dataset

from benchmark.backends.base import Backend, BackendUnavailable, EncoderDecoderFeatures, Prepared
from benchmark.backends.chat import (
    frozen_on_device,
    greedy_config,
    join_prompt_answer,
    prepare_images,
    to_device,
)
from benchmark.backends.checkpoints import checkpoint_source, load_checkpoint, seeded, weights_dtype
from benchmark.backends.local_tokenizer import byte_level_tokenizer

HUB_ID, LOCAL_FOLDER = "microsoft/trocr-base-printed", "models/trocr-base-printed"
# Decoder prompts by encoder type, where the tokenizer's own prefix is not the right one.
TASK_PROMPTS = {"donut-swin": "<s_synthdog>"}  # Donut's text-reading pre-training task


def tiny_trocr():
    """ViT (32x128 input, patch 16: 16 tokens) + TrOCR decoder, 32 wide; TrOCR's token layout
    (decoder starts from </s>, the text is wrapped in <s> ... </s>)."""
    from transformers import (
        TrOCRConfig,
        TrOCRProcessor,
        VisionEncoderDecoderConfig,
        VisionEncoderDecoderModel,
        ViTConfig,
    )
    from transformers.models.vit.image_processing_pil_vit import ViTImageProcessorPil

    tokenizer = byte_level_tokenizer(
        ["<s>", "<pad>", "</s>"],
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        add_bos=True,
        add_eos=True,
    )
    processor = TrOCRProcessor(
        image_processor=ViTImageProcessorPil(size={"height": 32, "width": 128}), tokenizer=tokenizer
    )
    encoder = ViTConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        image_size=[32, 128],
        patch_size=16,
    )
    decoder = TrOCRConfig(
        vocab_size=len(tokenizer),
        d_model=32,
        decoder_layers=2,
        decoder_attention_heads=2,
        decoder_ffn_dim=64,
        max_position_embeddings=256,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
    )
    config = VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)
    config.decoder_start_token_id = tokenizer.eos_token_id
    config.pad_token_id = tokenizer.pad_token_id
    config.eos_token_id = tokenizer.eos_token_id
    return seeded(lambda: VisionEncoderDecoderModel(config=config)), processor


class VisionEncoderDecoderBackend(EncoderDecoderFeatures, Backend):
    name = "vision-encoder-decoder"
    description = "TrOCR / Donut checkpoints (VisionEncoderDecoderModel + processor)"
    # Attention and MLP projections of every encoder and decoder layer.
    default_targets = r".*layers\.\d+\.(.*\.)?(q_proj|k_proj|v_proj|o_proj|out_proj|fc1|fc2)"
    options = {
        "model.size": "base (weights from model.path) | tiny (ViT + TrOCR built here, CPU tests)",
        "model.path": f"a local checkpoint folder or hub id (e.g. {HUB_ID})",
    }

    @classmethod
    def availability(cls) -> tuple[bool, str]:
        return True, "CPU or CUDA: tiny here; real weights from model.path"

    def load(self) -> torch.nn.Module:
        if self.cfg.size == "tiny":
            model, self.processor = tiny_trocr()
        elif self.cfg.size == "base":
            source = checkpoint_source(self.cfg.path, self.name, HUB_ID, LOCAL_FOLDER)

            def load():
                from transformers import AutoProcessor, VisionEncoderDecoderModel

                processor = AutoProcessor.from_pretrained(source)
                model = VisionEncoderDecoderModel.from_pretrained(source, dtype=weights_dtype(self.device))
                return model, processor

            model, self.processor = load_checkpoint(load, source, self.name, HUB_ID, LOCAL_FOLDER)
        else:
            raise BackendUnavailable(
                f"model.size = {self.cfg.size!r}: the {self.name} backend has base, tiny"
            )
        self.tokenizer = self.processor.tokenizer
        self.answer_end = self.tokenizer.eos_token_id
        self.pad_id = self.tokenizer.pad_token_id
        self.start_id = model.config.decoder_start_token_id
        task = TASK_PROMPTS.get(model.config.encoder.model_type)
        if task is not None:
            self.prompt = self.tokenizer(task, add_special_tokens=False)["input_ids"]
        else:
            # What the tokenizer puts before any text (TrOCR's <s>), which the checkpoint was trained with.
            wrapped = self.tokenizer("", add_special_tokens=True)["input_ids"]
            self.prompt = wrapped[:-1] if wrapped and wrapped[-1] == self.answer_end else wrapped
        model, self.dtype = frozen_on_device(model, self.device)
        return model

    def prepare(self, dataset: Dataset) -> Prepared:
        return prepare_images(dataset)

    def answer_ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"] + [self.answer_end]

    def image_batch(self, data: Prepared, rows: np.ndarray) -> torch.Tensor:
        return self._pixels(data, rows).to(self.device, self.dtype)

    def _pixels(self, data: Prepared, rows: np.ndarray) -> torch.Tensor:
        images = [data.inputs["images"][i] for i in rows]
        return self.processor(images=images, return_tensors="pt")["pixel_values"]

    def training_batch(self, data: Prepared, rows: np.ndarray) -> dict[str, torch.Tensor]:
        answers = [self.answer_ids(data.texts[i]) for i in rows]
        ids, mask, labels = join_prompt_answer([self.prompt] * len(answers), answers, self.pad_id)
        # Teacher forcing: the decoder sees start + the sequence shifted right by one.
        start = torch.full((len(answers), 1), self.start_id, dtype=torch.long)
        batch = {
            "pixel_values": self._pixels(data, rows),
            "decoder_input_ids": torch.cat([start, ids[:, :-1]], dim=1),
            "decoder_attention_mask": torch.cat([torch.ones_like(start), mask[:, :-1]], dim=1),
            "labels": labels,
        }
        return to_device(batch, self.device, self.dtype)

    @torch.no_grad()
    def generate(self, model, data: Prepared, rows: np.ndarray, max_new_tokens: int, cache=None) -> list[str]:
        prefix = torch.tensor([[self.start_id, *self.prompt]] * len(rows), dtype=torch.long)
        out = model.generate(
            **self.generate_kwargs(self._pixels(data, rows).to(self.device, self.dtype), rows, cache),
            decoder_input_ids=prefix.to(self.device),
            generation_config=greedy_config(model, max_new_tokens, [self.answer_end], self.pad_id),
        )
        texts = self.tokenizer.batch_decode(out[:, prefix.shape[1] :], skip_special_tokens=True)
        return [t.strip() for t in texts]

    def max_new_tokens(self, texts: list[str]) -> int:
        return max((len(self.answer_ids(t)) for t in texts), default=0) + 16

    @property
    def base_id(self) -> str:
        return self.cfg.path or f"fedocr:{self.name}-{self.cfg.size}"
