"""Per-language evaluation: batched bounded greedy decoding, normalisation, scoring."""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

from benchmark.backends.base import Backend, Prepared
from benchmark.metrics import score
from tasks.languages import language_or_default, normalise


def evaluate(
    model: torch.nn.Module,
    backend: Backend,
    test_sets: dict[str, Prepared],
    batch_size: int,
    max_new_tokens: int = 0,
    desc: str = "evaluate",
    caches: dict | None = None,
) -> tuple[dict[str, dict], list[dict]]:
    """Returns ({language: figures}, prediction rows as scored, i.e. after normalisation).

    `caches` ({test set: FeatureCache}) supplies the vision tower's outputs where present."""
    model.eval()
    results, rows = {}, []
    total = sum(len(d) for d in test_sets.values())
    with tqdm(total=total, desc=desc, leave=False) as bar:
        for name, data in test_sets.items():
            # A test set is keyed by name (usually its language code); its rows say the language.
            policy = language_or_default(data.languages[0] if data.languages else name).normalisation
            bound = max_new_tokens or backend.max_new_tokens(data.texts)
            predictions: list[str] = []
            for start in range(0, len(data), batch_size):
                batch = np.arange(start, min(start + batch_size, len(data)))
                with backend.autocast():
                    predictions += backend.generate(model, data, batch, bound, cache=(caches or {}).get(name))
                bar.update(len(batch))
            refs = [normalise(t, policy) for t in data.texts]
            hyps = [normalise(p, policy) for p in predictions]
            results[name] = score(refs, hyps)
            rows += [
                {"id": i, "language": name, "reference": r, "prediction": h}
                for i, r, h in zip(data.ids, refs, hyps)
            ]
    return results, rows
