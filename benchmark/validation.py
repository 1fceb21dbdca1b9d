"""Server-side checks on every client update before it may reach the aggregate."""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch

from clients.client import Update


def update_problem(
    update: Update, reference: Mapping[str, torch.Tensor], max_norm: float = 0.0, controls: bool = False
) -> str | None:
    """Why `update` must be rejected, or None when it is acceptable.

    `reference` is the global adapter the client started from: names, shapes and dtypes must
    match it, every value must be finite, and (if `max_norm` > 0) the L2 distance from it must
    not exceed `max_norm`. With `controls` (SCAFFOLD) the update's control variates must have
    the same names and shapes and be finite too.
    """
    if not isinstance(update, Update):
        return f"not an Update but {type(update).__name__}"
    missing = sorted(reference.keys() - update.tensors.keys())
    extra = sorted(update.tensors.keys() - reference.keys())
    if missing or extra:
        return f"tensor names differ from the global adapter (missing {missing[:3]}, unexpected {extra[:3]})"
    squared = 0.0
    for name, ref in reference.items():
        tensor = update.tensors[name]
        if tensor.shape != ref.shape:
            return f"{name}: shape {tuple(tensor.shape)}, expected {tuple(ref.shape)}"
        if tensor.dtype != ref.dtype:
            return f"{name}: dtype {tensor.dtype}, expected {ref.dtype}"
        if not torch.isfinite(tensor).all():
            return f"{name}: non-finite values (NaN or Inf)"
        squared += float((tensor.double() - ref.double()).pow(2).sum())
    if max_norm > 0 and math.sqrt(squared) > max_norm:
        return f"update norm {math.sqrt(squared):.4g} exceeds the bound {max_norm:.4g}"
    if controls:
        missing = sorted(reference.keys() - update.controls.keys())
        extra = sorted(update.controls.keys() - reference.keys())
        if missing or extra:
            return f"control variate names differ from the adapter's (missing {missing[:3]}, unexpected {extra[:3]})"
        for name, ref in reference.items():
            control = update.controls[name]
            if control.shape != ref.shape:
                return f"control variate {name}: shape {tuple(control.shape)}, expected {tuple(ref.shape)}"
            if not torch.isfinite(control).all():
                return f"control variate {name}: non-finite values (NaN or Inf)"
    return None
