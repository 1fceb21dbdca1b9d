"""Server-side aggregation: pure functions of the updates they receive."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from clients.client import Update

STRATEGIES = ("fedavg",)


def fedavg(updates: Sequence[Update]) -> dict[str, torch.Tensor]:
    """FedAvg over every adapter tensor, weighted by each client's number of examples.

    For LoRA this averages A and B separately (FedIT): mean(B) @ mean(A) is in general not
    the mean of B_k @ A_k.
    """
    if not updates:
        raise ValueError("fedavg needs at least one update")
    names = updates[0].tensors.keys()
    for u in updates[1:]:
        if u.tensors.keys() != names:
            raise ValueError(
                f"client {u.client_id} sent other tensor names than client {updates[0].client_id}"
            )
    total = sum(u.num_examples for u in updates)
    return {
        name: sum(u.tensors[name].double() * (u.num_examples / total) for u in updates).to(
            updates[0].tensors[name].dtype
        )
        for name in names
    }


def aggregate(strategy: str, updates: Sequence[Update]) -> dict[str, torch.Tensor]:
    if strategy == "fedavg":
        return fedavg(updates)
    raise ValueError(f"unknown strategy {strategy!r}; available: {', '.join(STRATEGIES)}")
