"""`fedocr pretrain`: train the tiny backend's base model on this CPU, reproducibly.

Recipe (the seed scenario in miniature: a base that knows every language as text, but has
only ever seen Latin script as pictures):
  1. character language model on text lines of every registry language (decoder only,
     cross-attention sees an empty memory) -- teaches the new characters' embeddings;
  2. OCR on synthetic Latin-script lines (en, de, fr, es; clean/scanned/degraded), with an
     auxiliary CTC loss on the encoder output (a linear head dropped after training), which
     is what makes the encoder learn to read within minutes on a CPU.
Resumable: state is saved every `save_every` steps and picked up on the next start.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from benchmark.backends.tiny_model import (
    EOS,
    CharTokenizer,
    build_tiny_model,
    images_to_tensor,
    save_base,
    tiny_config,
)
from tasks.languages import LANGUAGES, get_language
from tasks.synthetic import GENERATOR_VERSION, SyntheticSpec, synthetic_splits, unique_lines
from tasks.text import word_list

PUNCTUATION = list(",.:;!?-()/%'\"،؟")


@dataclass
class PretrainConfig:
    seed: int = 0
    ocr_languages: tuple[str, ...] = ("en", "de", "fr", "es")
    levels: tuple[str, ...] = ("clean", "scanned", "scanned", "degraded")
    lines_per_language_level: int = 5000
    ocr_steps: int = 2600
    lm_steps: int = 600
    lm_lines_per_language: int = 4000
    batch_size: int = 32
    lr: float = 1e-3
    warmup: int = 300
    ctc_weight: float = 0.5
    save_every: int = 200
    vocab_languages: tuple[str, ...] = field(
        default_factory=lambda: tuple(c for c, lang in LANGUAGES.items() if lang.script != "Han")
    )


VOCAB_SAMPLE_LINES = 3000  # generated lines per language whose characters enter the vocabulary


def build_vocabulary(codes: tuple[str, ...]) -> CharTokenizer:
    """Printable ASCII (the space included), every character of the languages' word lists
    (both cases) and of a sample of their generated lines (numbers, dates, amounts)."""
    chars = {chr(c) for c in range(0x20, 0x7F)} | set(PUNCTUATION)
    for code in codes:
        language = get_language(code)
        words, _ = word_list(language)
        chars |= {c for w in words for c in w} | set(language.digits)
        chars |= {c.upper() for w in words for c in w if len(c.upper()) == 1}
        sample = unique_lines(SyntheticSpec(code, VOCAB_SAMPLE_LINES, 0, seed=999), VOCAB_SAMPLE_LINES)
        chars |= {c for line in sample for c in line}
    return CharTokenizer(sorted(chars))


def _labels(tokenizer: CharTokenizer, texts: list[str]) -> torch.Tensor:
    ids = [tokenizer.encode(t) + [EOS] for t in texts]
    out = torch.full((len(ids), max(map(len, ids))), -100, dtype=torch.long)
    for i, row in enumerate(ids):
        out[i, : len(row)] = torch.tensor(row)
    return out


def _lr_lambda(warmup: int, total: int):
    def f(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))

    return f


def pretrain(cfg: PretrainConfig, out: Path, threads: int | None = None) -> Path:
    if threads:
        torch.set_num_threads(threads)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    state_path = out / "pretrain_state.pt"
    torch.manual_seed(cfg.seed)
    tokenizer = build_vocabulary(cfg.vocab_languages)
    model = build_tiny_model(tiny_config(len(tokenizer)))
    width = model.config.encoder.hidden_size
    ctc_head = torch.nn.Linear(width, len(tokenizer) + 1)  # last index = CTC blank
    params = list(model.parameters()) + list(ctc_head.parameters())
    total = cfg.lm_steps + cfg.ocr_steps
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(cfg.warmup, total))
    step, elapsed = 0, 0.0
    if state_path.exists():
        state = torch.load(state_path, weights_only=False)
        model.load_state_dict(state["model"])
        ctc_head.load_state_dict(state["ctc_head"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        step, elapsed = state["step"], state["elapsed"]
        print(f"resuming from step {step}/{total}")

    # Phase 1 data: text lines in every language.
    lm_texts = [
        t
        for i, code in enumerate(cfg.vocab_languages)
        for t in unique_lines(
            SyntheticSpec(code, cfg.lm_lines_per_language, 0, seed=cfg.seed + 500 + i),
            cfg.lm_lines_per_language,
        )
    ]
    # Phase 2 data: Latin lines as pictures.
    pixels, texts = [], []
    for i, code in enumerate(cfg.ocr_languages):
        for j, level in enumerate(dict.fromkeys(cfg.levels)):
            n = cfg.lines_per_language_level * cfg.levels.count(level)
            spec = SyntheticSpec(code, n, 0, level=level, seed=cfg.seed + 1000 + 10 * i + j)
            train, _ = synthetic_splits(spec)
            for start in range(0, len(train), 2000):
                chunk = train[start : start + 2000]
                pixels.append((images_to_tensor(chunk["image"]) * 255).round().to(torch.uint8))
                texts += chunk["text"]
    pixels = torch.cat(pixels)
    print(f"OCR data: {len(texts)} lines; LM data: {len(lm_texts)} lines; vocab {len(tokenizer)}")

    rng = np.random.default_rng([cfg.seed, step])
    model.train()
    bar = tqdm(total=total, initial=step, desc="pretrain")
    start_time = time.time() - elapsed
    while step < total:
        if step < cfg.lm_steps:
            idx = rng.integers(len(lm_texts), size=cfg.batch_size * 2)
            labels = _labels(tokenizer, [lm_texts[i] for i in idx])
            inputs = torch.cat(
                [torch.full((len(idx), 1), model.config.decoder_start_token_id), labels[:, :-1].clamp(min=0)],
                1,
            )
            memory = torch.zeros(len(idx), 1, width)
            loss = model.decoder(input_ids=inputs, encoder_hidden_states=memory, labels=labels).loss
        else:
            idx = rng.integers(len(texts), size=cfg.batch_size)
            x = pixels[torch.from_numpy(idx)].float() / 255.0
            batch_texts = [texts[i] for i in idx]
            labels = _labels(tokenizer, batch_texts)
            encoded = model.encoder(pixel_values=x).last_hidden_state
            loss = model(encoder_outputs=(encoded,), labels=labels).loss
            logits = ctc_head(encoded[:, 1:])
            targets = [torch.tensor(tokenizer.encode(t)) for t in batch_texts]
            ctc = F.ctc_loss(
                logits.log_softmax(-1).transpose(0, 1),
                torch.cat(targets),
                torch.full((len(idx),), logits.shape[1], dtype=torch.long),
                torch.tensor([len(t) for t in targets]),
                blank=len(tokenizer),
                zero_infinity=True,
            )
            loss = loss + cfg.ctc_weight * ctc
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        schedule.step()
        step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.3f}", phase="lm" if step <= cfg.lm_steps else "ocr")
        if step % cfg.save_every == 0 or step == total:
            tmp = state_path.with_suffix(".tmp")
            torch.save(
                {
                    "model": model.state_dict(),
                    "ctc_head": ctc_head.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "schedule": schedule.state_dict(),
                    "step": step,
                    "elapsed": time.time() - start_time,
                },
                tmp,
            )
            os.replace(tmp, state_path)
            rng = np.random.default_rng([cfg.seed, step])  # resume draws the same batches
    bar.close()
    model.eval()
    save_base(model, tokenizer, out)
    wall = time.time() - start_time
    (out / "pretrain_recipe.json").write_text(
        json.dumps(
            {
                **asdict(cfg),
                "wall_seconds": round(wall, 1),
                "steps": total,
                "generator_version": GENERATOR_VERSION,
            },
            indent=1,
        )
    )
    state_path.unlink()
    print(f"pretraining done in {wall / 60:.1f} min -> {out}; measuring it for the model card")
    from benchmark.model_card import measure, write_card

    write_card(out, measure(out))
    return out
