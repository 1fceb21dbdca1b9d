"""Backends whose decoder reads a prompt (text + image placeholders) and then writes the answer.

One collation serves them all: the model's own processor turns (prompt, image) into ids and
pixels; the answer's ids and an end token are appended; the labels are -100 everywhere except
on the answer, so the loss never trains the model to predict its prompt or image tokens.
"""

from __future__ import annotations

import copy
from abc import abstractmethod
from collections.abc import Sequence

import numpy as np
import torch
from datasets import Dataset

from benchmark.backends.base import Backend, BackendUnavailable, Prepared
from benchmark.backends.checkpoints import weights_dtype

IGNORE = -100  # label value the loss skips

# Attention and MLP projections of a decoder's layers (DeepSeek MoE layers: the shared experts;
# routed experts are fused 3-D parameters, not Linear modules). Anchored on `language_model`,
# so vision towers with the same projection names are left alone.
LANGUAGE_MODEL_TARGETS = (
    r"(.*\.)?language_model\.(.*\.)?layers\.\d+\."
    r"(self_attn\.[qkvo]_proj|mlp\.(shared_experts\.)?(gate|up|down|gate_up)_proj)"
)


def join_prompt_answer(
    prompts: Sequence[Sequence[int]], answers: Sequence[Sequence[int]], pad_id: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded (ids, attention_mask, labels) for rows `prompt + answer`.

    labels equal the answer ids on the answer positions and -100 on prompt and padding.
    """
    width = max(len(p) + len(a) for p, a in zip(prompts, answers))
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    labels = torch.full((len(prompts), width), IGNORE, dtype=torch.long)
    for i, (prompt, answer) in enumerate(zip(prompts, answers)):
        n, m = len(prompt), len(answer)
        ids[i, : n + m] = torch.tensor([*prompt, *answer], dtype=torch.long)
        mask[i, : n + m] = 1
        labels[i, n : n + m] = torch.tensor(answer, dtype=torch.long)
    return ids, mask, labels


def frozen_on_device(model: torch.nn.Module, device: torch.device) -> tuple[torch.nn.Module, torch.dtype]:
    """The base frozen, in evaluation mode, on `device` in the dtype its weights use there."""
    dtype = weights_dtype(device)
    for p in model.parameters():
        p.requires_grad_(False)
    return model.to(device, dtype=dtype).eval(), dtype


def prepare_images(dataset: Dataset) -> Prepared:
    """Images kept as RGB PIL images (a line image is a few KB; pixels are made per batch, at
    the model's resolution, so that a 1024-px model does not hold 12 MB per row)."""
    return Prepared(
        inputs={"images": [image.convert("RGB") for image in dataset["image"]]},
        texts=list(dataset["text"]),
        languages=list(dataset["language"]),
        ids=list(dataset["id"]),
    )


def to_device(batch: dict, device: torch.device, dtype: torch.dtype) -> dict:
    """Tensors onto `device`; floating ones (pixels) in the weights' dtype."""
    out = {}
    for key, value in batch.items():
        if torch.is_tensor(value):
            value = value.to(device, dtype=dtype if value.is_floating_point() else None)
        out[key] = value
    return out


def greedy_config(model: torch.nn.Module, max_new_tokens: int, stop_ids: list[int], pad_id: int):
    """The checkpoint's generation config, made plain greedy: no sampling, no repetition penalty
    or n-gram blocking (a looping model must show its loop in the CER)."""
    config = copy.deepcopy(model.generation_config)
    config.update(
        do_sample=False,
        num_beams=1,
        max_new_tokens=max_new_tokens,
        max_length=None,
        repetition_penalty=1.0,
        no_repeat_ngram_size=0,
        temperature=None,
        top_p=None,
        top_k=None,
        eos_token_id=stop_ids,
        pad_token_id=pad_id,
    )
    return config


class PromptAnswerBackend(Backend):
    """prepare / training_batch / generate / max_new_tokens for processor-based models.

    A subclass implements `build()`, returning (model, processor, prompt). `prompt` is the text
    given to the processor with every image, or None when the processor writes its own prompt.
    """

    sizes: tuple[str, ...] = ("base", "tiny")

    @abstractmethod
    def build(self) -> tuple[torch.nn.Module, object, str | None]:
        """(model, processor, prompt); `load` then freezes the model and moves it to the device."""

    def end_token_id(self, model: torch.nn.Module) -> int:
        """The token that ends an answer: the tokenizer's end of sequence."""
        return self.tokenizer.eos_token_id

    def load(self) -> torch.nn.Module:
        if self.cfg.size not in self.sizes:
            raise BackendUnavailable(
                f"model.size = {self.cfg.size!r}: the {self.name} backend has {', '.join(self.sizes)}"
            )
        model, self.processor, self.prompt = self.build()
        self.tokenizer = self.processor.tokenizer
        self.answer_end = self.end_token_id(model)
        self.pad_id = (
            self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.answer_end
        )
        self.encoder_decoder = bool(model.config.is_encoder_decoder)
        stops = model.generation_config.eos_token_id
        stops = stops if isinstance(stops, list) else [] if stops is None else [stops]
        self.stop_ids = list(dict.fromkeys([self.answer_end, *stops]))
        model, self.dtype = frozen_on_device(model, self.device)
        return model

    def prepare(self, dataset: Dataset) -> Prepared:
        return prepare_images(dataset)

    def answer_ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"] + [self.answer_end]

    def _encode(self, data: Prepared, rows: np.ndarray, padding_side: str):
        images = [data.inputs["images"][i] for i in rows]
        text = None if self.prompt is None else [self.prompt] * len(images)
        return self.processor(
            images=images, text=text, padding=True, padding_side=padding_side, return_tensors="pt"
        )

    def training_batch(self, data: Prepared, rows: np.ndarray) -> dict[str, torch.Tensor]:
        encoded = dict(self._encode(data, rows, "right"))
        answers = [self.answer_ids(data.texts[i]) for i in rows]
        if self.encoder_decoder:
            # The prompt goes to the encoder; the decoder's labels are the answer alone.
            _, _, labels = join_prompt_answer([[] for _ in answers], answers, self.pad_id)
            return to_device({**encoded, "labels": labels}, self.device, self.dtype)
        token_mask = encoded["attention_mask"].bool()
        prompts = [row[keep].tolist() for row, keep in zip(encoded["input_ids"], token_mask)]
        ids, mask, labels = join_prompt_answer(prompts, answers, self.pad_id)
        batch = {**encoded, "input_ids": ids, "attention_mask": mask, "labels": labels}
        # Other per-token fields (e.g. mm_token_type_ids) follow the prompt; answers are text (0).
        for key, value in encoded.items():
            if key not in ("input_ids", "attention_mask") and torch.is_tensor(value):
                if value.shape == token_mask.shape:
                    extended = value.new_zeros(ids.shape)
                    for i, keep in enumerate(token_mask):
                        extended[i, : int(keep.sum())] = value[i][keep]
                    batch[key] = extended
        return to_device(batch, self.device, self.dtype)

    @torch.no_grad()
    def generate(self, model, data: Prepared, rows: np.ndarray, max_new_tokens: int, cache=None) -> list[str]:
        encoded = to_device(dict(self._encode(data, rows, "left")), self.device, self.dtype)
        out = model.generate(
            **encoded, generation_config=greedy_config(model, max_new_tokens, self.stop_ids, self.pad_id)
        )
        if not self.encoder_decoder:
            out = out[:, encoded["input_ids"].shape[1] :]
        return [t.strip() for t in self.tokenizer.batch_decode(out, skip_special_tokens=True)]

    def max_new_tokens(self, texts: list[str]) -> int:
        return max((len(self.answer_ids(t)) for t in texts), default=0) + 16
