"""Where a backend's model comes from: a local folder, a hub id, or a seeded random init.

Every way of not finding weights ends in a `BackendUnavailable` that says what to download
and where to put it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import torch

from benchmark.backends.base import BackendUnavailable

T = TypeVar("T")
_HUB_ID = re.compile(r"[\w.-]+/[\w.-]+")


def download_hint(hub_id: str, folder: str) -> str:
    return (
        f"on a machine with internet run `hf download {hub_id} --local-dir {folder}`, "
        f"copy the folder here and set model.path={folder}"
    )


def checkpoint_source(path: str, backend: str, hub_id: str, folder: str) -> str:
    """The local folder or hub id to load from; a clear error when there is none."""
    hint = download_hint(hub_id, folder)
    if not path:
        raise BackendUnavailable(
            f"{backend}: no weights given (model.path is empty): {hint}; "
            "or set model.size=tiny for a small random model that runs on a CPU"
        )
    local = Path(path).expanduser()
    if local.is_dir():
        if not (local / "config.json").exists():
            raise BackendUnavailable(
                f"{backend}: {local} holds no config.json, so it is not a model folder: {hint}"
            )
        return str(local)
    if local.exists() or not _HUB_ID.fullmatch(path):
        raise BackendUnavailable(f"{backend}: model.path={path!r} is not a model folder: {hint}")
    return path  # a hub id: loading says whether it can be fetched


def load_checkpoint(load: Callable[[], T], source: str, backend: str, hub_id: str, folder: str) -> T:
    """Run `load()`; a missing file or unreachable hub becomes a BackendUnavailable."""
    try:
        return load()
    except (OSError, ValueError) as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise BackendUnavailable(
            f"{backend}: could not load {source!r} ({first_line}): {download_hint(hub_id, folder)}"
        ) from None


def seeded(build: Callable[[], T], seed: int = 0) -> T:
    """Build a random model reproducibly without disturbing the caller's random state, so that
    a freshly built base is the same base an adapter was trained on."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return build()


def build_on(device: torch.device, model_class, config):
    """A random model built directly on `device` in the weights' dtype (a 3.4B model in float32
    on the CPU first would need 14 GB)."""
    with torch.device(device):
        return model_class._from_config(config, dtype=weights_dtype(device))


def weights_dtype(device: torch.device) -> torch.dtype:
    """bf16 on a GPU (the seed recipe's precision); float32 on a CPU, where runs are small and
    outputs are compared exactly."""
    return torch.bfloat16 if device.type == "cuda" else torch.float32
