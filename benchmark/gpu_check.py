"""GPU check: DeepSeek-OCR-2 at full size on one CUDA device.

Runs bf16 LoRA training steps (the seed recipe's LoRA shape and learning rate) and batched
greedy generation on synthetic text lines, and prints step time, tokens/s and peak GPU memory.

    python -m benchmark.gpu_check [--path DIR] [--steps 6] [--batch 8] [--new-tokens 48]

Without --path the weights are random: the architecture, speed and memory are what is measured.
On a machine without CUDA it exits with code 2.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(model_cfg, steps: int, batch_size: int, new_tokens: int, language: str = "en") -> dict:
    """Train `steps` LoRA steps and generate one batch; return timings and memory."""
    from benchmark.adapters import AdapterSlots
    from benchmark.backends import load_backend
    from benchmark.config import LoraSettings
    from tasks.synthetic import SyntheticSpec, synthetic_splits

    train, test = synthetic_splits(SyntheticSpec(language, max(batch_size, 8), batch_size), workers=1)
    t0 = time.perf_counter()
    backend = load_backend(model_cfg)
    model = backend.wrap_with_lora(backend.load(), LoraSettings(r=16, alpha=16, dropout=0.0))
    load_seconds = time.perf_counter() - t0
    pool, lines = backend.prepare(train), backend.prepare(test)
    slots = AdapterSlots(model)
    optimizer = torch.optim.AdamW(list(slots.params.values()), lr=2e-4)
    rng = np.random.default_rng(0)
    device = backend.device
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    model.train()
    step_seconds, tokens = [], 0
    for _ in range(steps):
        batch = backend.training_batch(pool, rng.choice(len(pool), size=batch_size, replace=False))
        _synchronize(device)
        start = time.perf_counter()
        loss = model(**batch).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        _synchronize(device)
        step_seconds.append(time.perf_counter() - start)
        tokens += int(batch["attention_mask"].sum())
    model.eval()
    # The first step pays for kernel selection and allocation: time the rest when there are any.
    timed = step_seconds[1:] or step_seconds
    train_tokens_per_step = tokens / steps

    start = time.perf_counter()
    predictions = backend.generate(model, lines, np.arange(len(lines)), new_tokens)
    _synchronize(device)
    generate_seconds = time.perf_counter() - start
    # Generated tokens, counted by encoding the output again (the end token not included).
    generated = sum(len(backend.answer_ids(p)) - 1 for p in predictions)
    return {
        "device": str(device),
        "parameters": sum(p.numel() for p in model.parameters()),
        "trainable": sum(p.numel() for p in slots.params.values()),
        "load_seconds": load_seconds,
        "step_seconds": float(np.mean(timed)),
        "train_tokens_per_second": train_tokens_per_step / float(np.mean(timed)),
        "generate_seconds": generate_seconds,
        "generated_tokens_per_second": generated / generate_seconds,
        "lines_per_second": len(lines) / generate_seconds,
        "peak_gpu_gib": torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None,
        "final_loss": loss.item(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark.gpu_check", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--path", default="", help="a DeepSeek-OCR-2 checkpoint folder (default: random weights)"
    )
    parser.add_argument("--steps", type=int, default=6, help="LoRA training steps")
    parser.add_argument(
        "--batch", type=int, default=8, help="lines per training step and per generation batch"
    )
    parser.add_argument("--new-tokens", type=int, default=48, help="tokens generated per line (greedy)")
    parser.add_argument("--resolution", default="dynamic", choices=["dynamic", "single"])
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print(
            f"gpu_check: no CUDA device (torch {torch.__version__}); run it on a machine with an NVIDIA GPU "
            "and a CUDA build of torch. Nothing was measured.",
            file=sys.stderr,
        )
        return 2

    from benchmark.config import ModelConfig

    cfg = ModelConfig(
        backend="deepseek-ocr2", path=args.path, size="base" if args.path else "random", device="cuda"
    )
    cfg.resolution = args.resolution
    print(
        f"DeepSeek-OCR-2 ({'weights: ' + args.path if args.path else 'random weights'}) on {torch.cuda.get_device_name()}"
    )
    r = measure(cfg, args.steps, args.batch, args.new_tokens)
    print(
        f"parameters        {r['parameters'] / 1e9:.2f} B, LoRA {r['trainable'] / 1e6:.1f} M (r=16, alpha=16)"
    )
    print(f"load              {r['load_seconds']:.1f} s")
    print(
        f"train step        {r['step_seconds']:.3f} s  (batch {args.batch}, bf16; loss {r['final_loss']:.3f})"
    )
    print(f"train tokens/s    {r['train_tokens_per_second']:.0f}  (prompt + image + answer tokens)")
    print(
        f"generate          {r['generate_seconds']:.2f} s for {args.batch} lines, up to {args.new_tokens} tokens each"
    )
    print(f"generated tok/s   {r['generated_tokens_per_second']:.0f}  ({r['lines_per_second']:.1f} lines/s)")
    print(f"peak GPU memory   {r['peak_gpu_gib']:.2f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
