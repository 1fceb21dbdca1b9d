"""Names and shapes of LoRA adapter tensors (PEFT state-dict names), shared by clients and server."""

from __future__ import annotations

from collections.abc import Mapping

import torch

LORA_A, LORA_B = "lora_A", "lora_B"


def lora_factor(name: str) -> str | None:
    """The factor kind (LORA_A or LORA_B) of a LoRA state-dict name, None for other tensors."""
    for kind in (LORA_A, LORA_B):
        if name.endswith(f".{kind}.weight"):
            return kind
    return None


def module_prefix(name: str) -> str:
    """The LoRA'd module's state-dict prefix: "x.q_proj.lora_A.weight" -> "x.q_proj"."""
    return name.rsplit(".", 2)[0]


def slice_to_rank(tensors: Mapping[str, torch.Tensor], rank: int) -> dict[str, torch.Tensor]:
    """The first `rank` rows of every A and columns of every B; other tensors unchanged."""
    kinds = {name: lora_factor(name) for name in tensors}
    return {
        name: t[:rank] if kinds[name] == LORA_A else t[:, :rank] if kinds[name] == LORA_B else t
        for name, t in tensors.items()
    }


def pad_to_rank(tensors: Mapping[str, torch.Tensor], rank: int) -> dict[str, torch.Tensor]:
    """Zero rows appended to every A and zero columns to every B up to `rank`.

    B_pad @ A_pad == B @ A, so padding keeps each client's product; averaging padded factors
    is the zero-padding baseline for heterogeneous ranks.
    """
    padded = {}
    for name, t in tensors.items():
        kind = lora_factor(name)
        if kind == LORA_A:
            t = torch.nn.functional.pad(t, (0, 0, 0, rank - t.shape[0]))
        elif kind == LORA_B:
            t = torch.nn.functional.pad(t, (0, rank - t.shape[1]))
        padded[name] = t
    return padded


def trained_tensors(tensors: Mapping[str, torch.Tensor], trains: frozenset[str]) -> dict[str, torch.Tensor]:
    """The tensors a client trains and uploads: LoRA factors of the kinds in `trains`, and
    every tensor that is not a LoRA factor."""
    return {name: t for name, t in tensors.items() if lora_factor(name) in trains | {None}}
