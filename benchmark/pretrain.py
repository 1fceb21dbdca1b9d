"""`fedocr pretrain`: train the tiny backend's base model on this CPU, reproducibly.

Recipe (the seed scenario in miniature: a base that knows every language as text, but has
seen only some scripts as pictures -- none of the default benchmark's new scripts):
  1. character language model on text lines of every registry language (decoder only,
     cross-attention sees an empty memory) -- teaches the new characters' embeddings;
  2. OCR on synthetic Latin-script lines (en, de, fr, es; clean/scanned/degraded), with an
     auxiliary CTC loss on the encoder output (a linear head dropped after training), which
     is what makes the encoder learn to read within minutes on a CPU;
  3. widening: OCR on Hebrew, Bengali and Tamil lines mixed with Latin ones (fresh optimizer
     and CTC head), so that the vision tower has seen a right-to-left script and Brahmic
     scripts: its features then tell apart the glyphs of a script it has never seen, and a
     LoRA adapter learns to read that script faster (measured in the model card).
Resumable: state is saved every `save_every` steps and picked up on the next start. Phase 3
can also start from a checkpoint that finished phases 1-2 (`fedocr pretrain --start-from`).
"""

from __future__ import annotations

import functools
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
    load_base,
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
    # Phase 3 (widening): these languages' scripts, mixed with the Latin ones of phase 2.
    widen_languages: tuple[str, ...] = ("he", "bn", "ta")
    widen_lines_per_language: int = 6000
    widen_latin_lines_per_language: int = 1500
    widen_steps: int = 2000
    widen_warmup: int = 100
    vocab_languages: tuple[str, ...] = field(
        default_factory=lambda: tuple(c for c, lang in LANGUAGES.items() if lang.script != "Han")
    )


VOCAB_SAMPLE_LINES = 3000  # generated lines per language whose characters enter the vocabulary


@functools.lru_cache(maxsize=4)
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


PHASE12_FIELDS = (
    "seed", "ocr_languages", "levels", "lines_per_language_level", "ocr_steps", "lm_steps",
    "lm_lines_per_language", "batch_size", "lr", "warmup", "ctc_weight", "vocab_languages",
)  # fmt: skip


def _ocr_data(specs: list[SyntheticSpec]) -> tuple[torch.Tensor, list[str]]:
    """Rendered lines as uint8 pixels (ink 255) and their texts."""
    pixels, texts = [], []
    for spec in specs:
        train, _ = synthetic_splits(spec)
        for start in range(0, len(train), 2000):
            chunk = train[start : start + 2000]
            pixels.append((images_to_tensor(chunk["image"]) * 255).round().to(torch.uint8))
            texts += chunk["text"]
    return torch.cat(pixels), texts


def _level_specs(code: str, lines: int, levels: tuple[str, ...], seed: int) -> list[SyntheticSpec]:
    """`lines` lines of one language split over the level mix (a level listed twice gets twice
    the lines); seeds `seed + j` for the j-th distinct level."""
    per_entry = lines // len(levels)
    return [
        SyntheticSpec(code, per_entry * levels.count(level), 0, level=level, seed=seed + j)
        for j, level in enumerate(dict.fromkeys(levels))
    ]


def _check_start(cfg: PretrainConfig, start_from: Path) -> dict:
    """The recipe of a checkpoint that finished phases 1-2 with this config's settings."""
    recipe_path = Path(start_from) / "pretrain_recipe.json"
    if not recipe_path.exists():
        raise ValueError(f"{start_from}: no pretrain_recipe.json, so not a `fedocr pretrain` checkpoint")
    recipe = json.loads(recipe_path.read_text(encoding="utf-8"))
    if recipe.get("widen_steps"):
        raise ValueError(f"{recipe_path}: this checkpoint has already been through phase 3 (widen_steps)")
    mine = asdict(cfg)
    for key in PHASE12_FIELDS:
        theirs = recipe.get(key)
        ours = list(mine[key]) if isinstance(mine[key], tuple) else mine[key]
        if theirs != ours:
            raise ValueError(f"{recipe_path}: {key} = {theirs!r}, but this recipe has {ours!r}")
    if recipe.get("generator_version") != GENERATOR_VERSION:
        raise ValueError(
            f"{recipe_path}: generator_version = {recipe.get('generator_version')!r}, "
            f"the suite's generator is version {GENERATOR_VERSION}"
        )
    return recipe


def pretrain(
    cfg: PretrainConfig,
    out: Path,
    threads: int | None = None,
    start_from: Path | None = None,
    card: bool = True,
) -> Path:
    """Run the recipe into `out`; with `start_from` (a checkpoint that finished phases 1-2 of
    this recipe), run phase 3 only, from its weights. `card`: measure the result and write
    its model card."""
    if threads:
        torch.set_num_threads(threads)
    out = Path(out)
    start_recipe = _check_start(cfg, start_from) if start_from else None
    out.mkdir(parents=True, exist_ok=True)
    state_path = out / "pretrain_state.pt"
    torch.manual_seed(cfg.seed)
    p12 = cfg.lm_steps + cfg.ocr_steps
    total = p12 + cfg.widen_steps
    if start_from:
        model, tokenizer = load_base(Path(start_from))
        expected = build_vocabulary(cfg.vocab_languages)
        if tokenizer.chars != expected.chars:
            raise ValueError(
                f"{start_from}: its vocabulary differs from this recipe's ({len(expected)} symbols)"
            )
    else:
        tokenizer = build_vocabulary(cfg.vocab_languages)
        model = build_tiny_model(tiny_config(len(tokenizer)))
    width = model.config.encoder.hidden_size

    def optimiser(phase3: bool):
        if phase3:  # fresh CTC head, optimizer and schedule; the same draws from either start
            torch.manual_seed(cfg.seed + 3)
        head = torch.nn.Linear(width, len(tokenizer) + 1)  # last index = CTC blank
        params = list(model.parameters()) + list(head.parameters())
        opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.01)
        lam = _lr_lambda(cfg.widen_warmup, cfg.widen_steps) if phase3 else _lr_lambda(cfg.warmup, p12)
        return head, params, opt, torch.optim.lr_scheduler.LambdaLR(opt, lam)

    step = p12 if start_from else 0
    elapsed = 0.0
    state = torch.load(state_path, weights_only=False) if state_path.exists() else None
    if state is not None and state["step"] < step:
        raise ValueError(
            f"{state_path}: a run of phases 1-2 is in progress here; resume it without --start-from"
        )
    if state is not None:
        step, elapsed = state["step"], state["elapsed"]
    ctc_head, params, optimizer, schedule = optimiser(step >= p12)
    if state is not None:
        model.load_state_dict(state["model"])
        ctc_head.load_state_dict(state["ctc_head"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        print(f"resuming from step {step}/{total}")

    lm_texts: list[str] = []
    pixels, texts = torch.zeros(0), []
    if step < p12:
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
        pixels, texts = _ocr_data(
            [
                spec
                for i, code in enumerate(cfg.ocr_languages)
                for spec in _level_specs(
                    code, cfg.lines_per_language_level * len(cfg.levels), cfg.levels, cfg.seed + 1000 + 10 * i
                )
            ]
        )
        print(f"OCR data: {len(texts)} lines; LM data: {len(lm_texts)} lines; vocab {len(tokenizer)}")

    def widen_data() -> tuple[torch.Tensor, list[str]]:
        codes = list(cfg.ocr_languages) + list(cfg.widen_languages)
        specs = [
            spec
            for i, code in enumerate(codes)
            for spec in _level_specs(
                code,
                cfg.widen_latin_lines_per_language
                if code in cfg.ocr_languages
                else cfg.widen_lines_per_language,
                cfg.levels,
                cfg.seed + 3000 + 10 * i,
            )
        ]
        data = _ocr_data(specs)
        print(f"phase 3 OCR data: {len(data[1])} lines of {', '.join(codes)}")
        return data

    if step >= p12 and cfg.widen_steps:
        pixels, texts = widen_data()

    rng = np.random.default_rng([cfg.seed, step])
    model.train()
    bar = tqdm(total=total, initial=step, desc="pretrain")
    start_time = time.time() - elapsed
    # Wall seconds per phase; phases 1-2 of a --start-from checkpoint as its recipe recorded them.
    phase_seconds = {"1-2": start_recipe["wall_seconds"]} if start_recipe else {}
    if state is not None:
        phase_seconds = state.get("phase_seconds", phase_seconds)
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
        phase = "lm" if step <= cfg.lm_steps else "ocr" if step <= p12 else "widen"
        bar.set_postfix(loss=f"{loss.item():.3f}", phase=phase)
        if step == p12 and not start_from:
            phase_seconds["1-2"] = round(time.time() - start_time, 1)
        if step % cfg.save_every == 0 or step == total or step == p12:
            tmp = state_path.with_suffix(".tmp")
            torch.save(
                {
                    "model": model.state_dict(),
                    "ctc_head": ctc_head.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "schedule": schedule.state_dict(),
                    "step": step,
                    "elapsed": time.time() - start_time,
                    "phase_seconds": phase_seconds,
                },
                tmp,
            )
            os.replace(tmp, state_path)
            rng = np.random.default_rng([cfg.seed, step])  # resume draws the same batches
        if step == p12 and step < total:  # phase 3 starts: its data, a fresh optimizer
            generating = time.time()
            pixels, texts = widen_data()
            start_time += time.time() - generating  # wall times exclude data generation
            ctc_head, params, optimizer, schedule = optimiser(True)
    bar.close()
    model.eval()
    save_base(model, tokenizer, out)
    wall = time.time() - start_time
    if cfg.widen_steps:
        phase_seconds["3"] = round(wall - (0.0 if start_from else phase_seconds["1-2"]), 1)
    else:
        phase_seconds.setdefault("1-2", round(wall, 1))
    (out / "pretrain_recipe.json").write_text(
        json.dumps(
            {
                **asdict(cfg),
                "wall_seconds": round(sum(phase_seconds.values()), 1),
                "phase_seconds": phase_seconds,
                "started_from_checkpoint": bool(start_from),
                "steps": total,
                "generator_version": GENERATOR_VERSION,
            },
            indent=1,
        )
    )
    state_path.unlink()
    print(f"pretraining done in {wall / 60:.1f} min -> {out}")
    if card:
        from benchmark.model_card import measure, write_card

        print("measuring it for the model card")
        write_card(out, measure(out))
    return out
