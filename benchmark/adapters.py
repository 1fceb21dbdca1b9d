"""LoRA adapters: wrap the base once, then move adapter tensors in and out of it.

Switching client = copying adapter tensors into the resident model's parameters; the model
is never rebuilt or re-wrapped.
"""

from __future__ import annotations

import re
import warnings

import torch
from peft import LoraConfig, PeftModel, get_peft_model


class LoraTargetError(ValueError):
    """The LoRA target pattern matched no module (a silent zero-match would train nothing)."""


def resolve_targets(model: torch.nn.Module, settings, default_targets: str) -> str | list[str]:
    """The LoRA target pattern (regex) or module-name list; raises if it matches no linear module."""
    targets = settings.targets or default_targets
    if isinstance(targets, list) and len(targets) == 1:
        targets = targets[0]  # one entry is a regex, as the config docs say
    pattern = targets if isinstance(targets, str) else None
    names = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)]
    if pattern is not None:
        matched = [n for n in names if re.fullmatch(pattern, n)]
    else:
        matched = [n for n in names if any(n == t or n.endswith("." + t) for t in targets)]
    if not matched:
        raise LoraTargetError(
            f"LoRA targets {targets!r} matched no linear module of the base model; "
            f"some module names: {', '.join(names[:8])}"
        )
    return targets


def wrap_with_lora(
    model: torch.nn.Module,
    settings,
    default_targets: str,
    token_indices: dict[str, list[int]] | None = None,
) -> PeftModel:
    """LoRA on the target modules; with `token_indices` ({embedding module name: ids}), those
    embedding rows train too (PEFT trainable tokens, saved in the same adapter)."""
    targets = resolve_targets(model, settings, default_targets)
    config = LoraConfig(
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=targets,
        bias="none",
        trainable_token_indices=token_indices or None,
    )
    with warnings.catch_warnings():
        # PEFT reads transformers' deprecated `is_gradient_checkpointing` alias while wrapping:
        # a FutureWarning in every run that says nothing about this one.
        warnings.filterwarnings(
            "ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning
        )
        return get_peft_model(model, config)


def parameter_counts(model: torch.nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, sum(p.numel() for p in model.parameters())


class AdapterSlots:
    """The trainable adapter parameters of a PeftModel, addressed by PEFT state-dict names
    (the names `get_peft_model_state_dict` and `adapter_model.safetensors` use)."""

    def __init__(self, model: PeftModel, adapter_name: str = "default"):
        marker = f".{adapter_name}"
        self.params: dict[str, torch.nn.Parameter] = {
            name.replace(marker, ""): p for name, p in model.named_parameters() if p.requires_grad
        }
        if not self.params:
            raise LoraTargetError("the adapter has no trainable parameters")

    def read(self) -> dict[str, torch.Tensor]:
        return {k: p.detach().to("cpu", copy=True) for k, p in self.params.items()}

    @torch.no_grad()
    def write(self, state: dict[str, torch.Tensor]) -> None:
        if state.keys() != self.params.keys():
            missing = sorted(self.params.keys() - state.keys())[:3]
            extra = sorted(state.keys() - self.params.keys())[:3]
            raise KeyError(f"adapter state does not match the model (missing {missing}, unexpected {extra})")
        for k, p in self.params.items():
            p.copy_(state[k])

    def nbytes(self) -> int:
        return sum(p.numel() * p.element_size() for p in self.params.values())


def lora_scaling(model: torch.nn.Module, adapter_name: str = "default") -> float:
    """The LoRA scaling (alpha / r) the model's adapter layers apply."""
    for module in model.modules():
        scaling = getattr(module, "scaling", None)
        if isinstance(scaling, dict) and adapter_name in scaling:
            return float(scaling[adapter_name])
    raise LoraTargetError("the model has no LoRA layer")


@torch.no_grad()
def add_to_base_weights(model: torch.nn.Module, deltas: dict[str, torch.Tensor]) -> None:
    """Add dense deltas to the frozen base weights of LoRA'd modules, keyed by the adapter's
    module prefix (e.g. "base_model.model.decoder...q_proj")."""
    for prefix, delta in deltas.items():
        base = model.get_submodule(prefix).get_base_layer()
        base.weight += delta.to(base.weight)


def load_adapter(base: torch.nn.Module, adapter_dir: str) -> PeftModel:
    """PeftModel.from_pretrained, plus the base-weight change that fedex-lora / flora runs keep
    beside the adapter (base_delta.safetensors, absent for other strategies)."""
    from pathlib import Path

    from safetensors.torch import load_file

    model = PeftModel.from_pretrained(base, adapter_dir)
    delta_file = Path(adapter_dir) / "base_delta.safetensors"
    if delta_file.exists():
        add_to_base_weights(model, load_file(str(delta_file)))
    return model
