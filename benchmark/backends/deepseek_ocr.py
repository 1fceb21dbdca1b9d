"""DeepSeek-OCR (v1): the checkpoint's own remote code (`trust_remote_code`, DeepseekOCRForCausalLM,
model_type deepseek_vl_v2), collated as in the seed recipe. CUDA only.

With model.accelerator=unsloth the model is loaded and LoRA-wrapped through Unsloth's
FastVisionModel, exactly as the seed notebook does; with "none", through transformers + PEFT.
"""

from __future__ import annotations

import math
import sys

import numpy as np
import torch
from datasets import Dataset
from PIL import Image, ImageOps

from benchmark.backends.base import Backend, BackendUnavailable, Prepared
from benchmark.backends.chat import greedy_config, join_prompt_answer, prepare_images
from benchmark.backends.checkpoints import checkpoint_source, download_hint, load_checkpoint

HUB_ID, LOCAL_FOLDER = "unsloth/DeepSeek-OCR", "models/DeepSeek-OCR"  # the seed notebook's copy
PROMPT = "<image>\nFree OCR. "
SEED_LORA = {"r": 16, "alpha": 16, "dropout": 0.0}
SEED_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
PATCH, DOWNSAMPLE = 16, 4
# (global view size, tile size, tile large images): the checkpoint's named modes.
RESOLUTIONS = {
    "tiny": (512, 512, False),
    "small": (640, 640, False),
    "base": (1024, 1024, False),
    "large": (1280, 1280, False),
    "gundam": (1024, 640, True),  # the seed recipe's mode
}
ACCELERATORS = ("none", "unsloth")


class DeepseekOcrBackend(Backend):
    name = "deepseek-ocr"
    description = "DeepSeek-OCR v1 (3.3B; remote code), the seed recipe; CUDA only"
    # The LM's attention and MLP projections: dense layer, shared and routed experts. The vision
    # encoders name theirs qkv / qkv_proj / out_proj, so the seed's suffix list leaves them alone.
    default_targets = r"model\.layers\.\d+\.(self_attn\.[qkvo]_proj|mlp\.((shared_experts|experts\.\d+)\.)?(gate|up|down)_proj)"
    lora_defaults = SEED_LORA
    options = {
        "model.path": f"a folder from `hf download {HUB_ID}`, or that hub id",
        "model.accelerator": "none (transformers + PEFT) | unsloth (FastVisionModel, as the seed recipe)",
        "model.resolution": " | ".join(RESOLUTIONS) + " (default: gundam)",
    }

    @classmethod
    def availability(cls) -> tuple[bool, str]:
        if not torch.cuda.is_available():
            return False, "needs a CUDA GPU (the checkpoint's code is written for CUDA); torch sees none here"
        return True, f"CUDA; weights from model.path ({download_hint(HUB_ID, LOCAL_FOLDER)})"

    def load(self) -> torch.nn.Module:
        mode = getattr(self.cfg, "resolution", "") or "gundam"
        if mode not in RESOLUTIONS:
            raise BackendUnavailable(f"model.resolution = {mode!r}: {self.name} has {', '.join(RESOLUTIONS)}")
        self.global_size, self.tile_size, self.tiled = RESOLUTIONS[mode]
        self.accelerator = getattr(self.cfg, "accelerator", "none") or "none"
        if self.accelerator not in ACCELERATORS:
            raise BackendUnavailable(
                f"model.accelerator = {self.accelerator!r}: choose {' or '.join(ACCELERATORS)}"
            )
        source = checkpoint_source(self.cfg.path, self.name, HUB_ID, LOCAL_FOLDER)
        if self.device.type != "cuda":
            raise BackendUnavailable(
                f"{self.name} runs only on a CUDA GPU (its remote code is written for CUDA) and this "
                f"machine has none (model.device={self.cfg.device!r}); on a CPU use "
                "model.backend=deepseek-ocr2 with model.size=tiny"
            )
        try:
            model, self.tokenizer = load_checkpoint(
                lambda: self._load_model(source), source, self.name, HUB_ID, LOCAL_FOLDER
            )
        except ImportError as err:
            fix = (
                "pip install -e '.[unsloth]' (CUDA only)"
                if err.name == "unsloth"
                else "pip install einops addict easydict (the checkpoint's code imports them)"
            )
            raise BackendUnavailable(f"{self.name}: cannot load ({err.name or err}): {fix}") from None
        # The image preprocessing ships with the checkpoint's code: use it, not a copy.
        remote = sys.modules[type(model).__module__]
        self.transform = remote.BasicImageTransform(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), normalize=True)
        self.dynamic_preprocess = remote.dynamic_preprocess
        self.image_id = self.tokenizer.convert_tokens_to_ids("<image>")
        self.dtype = torch.bfloat16
        for p in model.parameters():
            p.requires_grad_(False)
        return model.to(self.device).eval()

    def _load_model(self, source: str):
        from transformers import AutoModel, AutoTokenizer

        if self.accelerator == "unsloth":
            from unsloth import FastVisionModel

            return FastVisionModel.from_pretrained(
                source,
                load_in_4bit=False,
                auto_model=AutoModel,
                trust_remote_code=True,
                unsloth_force_compile=True,
                use_gradient_checkpointing="unsloth",
            )
        model = AutoModel.from_pretrained(
            source, trust_remote_code=True, dtype=torch.bfloat16, use_safetensors=True
        )
        return model, AutoTokenizer.from_pretrained(source, trust_remote_code=True)

    def wrap_with_lora(
        self, model: torch.nn.Module, settings, token_ids: list[int] | None = None
    ) -> torch.nn.Module:
        if self.accelerator != "unsloth":
            return super().wrap_with_lora(model, settings, token_ids)
        if token_ids:
            raise BackendUnavailable(
                "lora.trainable_tokens is not supported with model.accelerator = 'unsloth'"
            )
        from unsloth import FastVisionModel

        from benchmark.adapters import LoraTargetError

        targets = settings.targets or SEED_TARGETS
        wrapped = FastVisionModel.get_peft_model(
            model,
            target_modules=targets,
            r=settings.r,
            lora_alpha=settings.alpha,
            lora_dropout=settings.dropout,
            bias="none",
            random_state=3407,
            use_rslora=False,
            loftq_config=None,
        )
        if not any("lora_A" in name for name, _ in wrapped.named_parameters()):
            raise LoraTargetError(f"LoRA targets {targets!r} matched no module of {self.name}")
        return wrapped

    def prepare(self, dataset: Dataset) -> Prepared:
        return prepare_images(dataset)

    def answer_ids(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False) + [self.tokenizer.eos_token_id]

    def _views(self, image: Image.Image) -> tuple[torch.Tensor, torch.Tensor, list[int], int]:
        """(global view, tiles, [tiles across, tiles down], number of image tokens) for one image,
        as the checkpoint's own `infer` makes them: each row of queries is followed by a newline
        token, and the image ends with a view separator."""
        queries = math.ceil(self.global_size / PATCH / DOWNSAMPLE)
        tokens = (queries + 1) * queries + 1
        grid, tiles = [1, 1], []
        if self.tiled and max(image.size) > self.tile_size:
            tiles, ratio = self.dynamic_preprocess(
                image, min_num=2, max_num=9, image_size=self.tile_size, use_thumbnail=False
            )
            grid = list(ratio)
            tile_queries = math.ceil(self.tile_size / PATCH / DOWNSAMPLE)
            tokens += (tile_queries * grid[0] + 1) * (tile_queries * grid[1])
        if self.global_size <= 640 and not self.tiled:
            view = image.resize((self.global_size, self.global_size), Image.LANCZOS)
        else:
            # Padded with the normalisation mean (zero once normalised), aspect ratio kept.
            view = ImageOps.pad(image, (self.global_size, self.global_size), color=(127, 127, 127))
        crops = (
            torch.stack([self.transform(t) for t in tiles])
            if tiles
            else torch.zeros(1, 3, self.global_size, self.global_size)  # how the model reads "no tiles"
        )
        return self.transform(view), crops, grid, tokens

    def _inputs(self, data: Prepared, rows: np.ndarray) -> tuple[list[list[int]], dict]:
        before, after = PROMPT.split("<image>")
        prompts, images, grids = [], [], []
        for i in rows:
            view, crops, grid, tokens = self._views(data.inputs["images"][i])
            prompts.append(
                [self.tokenizer.bos_token_id]
                + self.tokenizer.encode(before, add_special_tokens=False)
                + [self.image_id] * tokens
                + self.tokenizer.encode(after, add_special_tokens=False)
            )
            images.append((crops.to(self.device, self.dtype), view[None].to(self.device, self.dtype)))
            grids.append(grid)
        return prompts, {"images": images, "images_spatial_crop": torch.tensor(grids, dtype=torch.long)}

    def training_batch(self, data: Prepared, rows: np.ndarray) -> dict:
        prompts, vision = self._inputs(data, rows)
        answers = [self.answer_ids(data.texts[i]) for i in rows]
        ids, mask, labels = join_prompt_answer(prompts, answers, self.tokenizer.pad_token_id)
        return {
            "input_ids": ids.to(self.device),
            "attention_mask": mask.to(self.device),
            "labels": labels.to(self.device),
            "images_seq_mask": (ids == self.image_id).to(self.device),
            **vision,
        }

    @torch.no_grad()
    def generate(self, model, data: Prepared, rows: np.ndarray, max_new_tokens: int, cache=None) -> list[str]:
        prompts, vision = self._inputs(data, rows)
        width = max(map(len, prompts))
        pad = self.tokenizer.pad_token_id
        ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], dtype=torch.long)  # left-padded
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], dtype=torch.long)
        if self.accelerator == "unsloth":
            from unsloth import FastVisionModel

            FastVisionModel.for_inference(model)
        out = model.generate(
            input_ids=ids.to(self.device),
            attention_mask=mask.to(self.device),
            images_seq_mask=(ids == self.image_id).to(self.device),
            use_cache=True,
            generation_config=greedy_config(model, max_new_tokens, [self.tokenizer.eos_token_id], pad),
            **vision,
        )
        if self.accelerator == "unsloth":
            FastVisionModel.for_training(model)
        texts = self.tokenizer.batch_decode(out[:, width:], skip_special_tokens=True)
        return [t.strip() for t in texts]

    def max_new_tokens(self, texts: list[str]) -> int:
        return max((len(self.answer_ids(t)) for t in texts), default=0) + 16
