"""Restricted softmax (FedRS): a client's local loss trains down less (alpha 0: not at all)
the new-script characters of transcriptions it does not hold."""

import dataclasses

import numpy as np
import pytest
import torch

from benchmark import runner
from benchmark.config import load_config

OUTPUT_ROWS = "base_model.model.decoder.output_projection.token_adapter.trainable_tokens_delta"


@pytest.fixture(scope="module")
def su_cfg():
    cfg = load_config(
        "smoke",
        None,
        [
            "model.size=random",
            "model.threads=1",
            "data.languages=ru,el",
            "data.train_per_language=12",
            "data.test_per_language=2",
            "partition.num_clients=2",
            "partition.min_size=4",
            "partition.scheme=natural",  # one client reads Greek only, the other Russian only
            "lora.trainable_tokens=new",
            "train.local_steps=2",
            "train.batch_size=4",
            "train.fedrs_alpha=0",
        ],
    )
    return runner.setup(cfg), cfg


def test_a_client_leaves_the_output_rows_of_characters_it_lacks_untouched(su_cfg):
    su, cfg = su_cfg
    greek = next(c for c in su.clients if su.ws.data.languages[c.shard[0]] == "el")
    assert {su.ws.data.languages[r] for r in greek.shard} == {"el"}
    ids = runner.new_token_ids(su.backend, su.ws.data)  # the order of the trainable rows
    own = greek.vocabulary(su.ws)
    lacking = np.array([i for i, t in enumerate(ids) if t not in own])
    held = np.array([i for i, t in enumerate(ids) if t in own])
    assert len(lacking) > 20 and len(held) > 20  # Cyrillic-only and Greek-only letters
    assert su.ws.new_tokens == frozenset(ids)
    start = su.ws.slots.read()
    training = runner.local_training(cfg)
    assert training.fedrs_alpha == 0

    plain = greek.fit(su.ws, start, 1, dataclasses.replace(training, fedrs_alpha=1.0))
    assert plain.tensors[OUTPUT_ROWS][lacking].abs().sum() > 0  # the full softmax pushes them down

    restricted = greek.fit(su.ws, start, 1, training)
    rows = restricted.tensors[OUTPUT_ROWS]
    assert torch.equal(rows[lacking], start[OUTPUT_ROWS][lacking])
    assert rows[held].abs().sum() > 0
    assert np.isfinite(restricted.metrics["train_loss"])

    # the restriction ends with the fit: evaluation sees the model's own logits
    assert not su.ws.model.get_output_embeddings()._forward_hooks


def test_fedrs_scales_the_logits_of_the_lacking_characters_by_alpha(su_cfg):
    from clients.client import _Restriction

    su, _ = su_cfg
    blocked = {int(i) for i in sorted(su.ws.new_tokens)[:10]}
    batch = su.backend.training_batch(su.ws.data, su.clients[0].shard[:2])
    with torch.no_grad():
        plain = su.ws.model(**batch).logits
        restriction = _Restriction(su.ws.model, blocked | {int(batch["labels"][0, 0])}, 0.5)
        restriction.allow(batch["labels"])  # a label in the batch is never scaled
        scaled = su.ws.model(**batch).logits
        restriction.remove()
        again = su.ws.model(**batch).logits
    labels = batch["labels"]
    cols = sorted(blocked - set(labels[labels >= 0].tolist()))
    assert cols
    others = [i for i in range(plain.shape[-1]) if i not in cols]
    torch.testing.assert_close(scaled[..., cols], 0.5 * plain[..., cols])
    assert torch.equal(scaled[..., others], plain[..., others])
    assert torch.equal(again, plain)


def test_a_backend_without_a_text_to_vocabulary_map_is_refused_by_name():
    from types import SimpleNamespace

    from benchmark.backends.base import Backend
    from benchmark.config import ConfigError

    backend = SimpleNamespace(
        name="paddleocr-vl", known_scripts=frozenset, token_ids=lambda t: Backend.token_ids(backend, t)
    )
    pool = SimpleNamespace(texts=["Привет"], languages=["ru"])
    with pytest.raises(ConfigError, match="train.fedrs_alpha: the paddleocr-vl backend cannot map text"):
        runner.new_script_ids(backend, pool)
