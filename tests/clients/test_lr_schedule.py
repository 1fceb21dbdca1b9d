import math

import pytest

from clients.client import LocalTraining


def test_constant_schedule_keeps_the_configured_lr():
    t = LocalTraining(steps=10, batch_size=4, lr=3e-3, rounds=5)
    assert {t.lr_at(r, s) for r in range(1, 6) for s in range(10)} == {3e-3}


def test_cosine_runs_from_lr_to_lr_final_over_all_rounds_steps():
    t = LocalTraining(steps=10, batch_size=4, lr=2e-3, lr_schedule="cosine", lr_final=0.1, rounds=5)
    lrs = [t.lr_at(r, s) for r in range(1, 6) for s in range(10)]
    assert lrs[0] == pytest.approx(2e-3)
    assert lrs[-1] == pytest.approx(2e-4)
    assert lrs[24] == pytest.approx(2e-3 * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 24 / 49))))
    assert all(a > b for a, b in zip(lrs, lrs[1:]))  # strictly decreasing across round boundaries
    # round 3 carries on where round 2 stopped: the schedule is over the run, not per round
    assert t.lr_at(3, 0) < t.lr_at(2, 9)
    one = LocalTraining(steps=1, batch_size=4, lr=1e-3, lr_schedule="cosine", rounds=1)
    assert one.lr_at(1, 0) == pytest.approx(1e-3)


def test_unknown_schedule_is_refused():
    with pytest.raises(ValueError, match="lr_schedule = 'step'"):
        LocalTraining(steps=1, batch_size=1, lr=1e-3, lr_schedule="step").lr_at(1, 0)


def test_fit_steps_with_the_scheduled_lr():
    import dataclasses

    import torch

    from benchmark import runner
    from benchmark.config import load_config

    cfg = load_config(
        "smoke",
        None,
        [
            "model.size=random",
            "model.threads=1",
            "data.languages=ru,en",
            "data.train_per_language=12",
            "data.test_per_language=2",
            "partition.num_clients=2",
            "partition.min_size=4",
            "federation.rounds=2",
            "train.local_steps=1",
            "train.batch_size=4",
            "train.lr_schedule=cosine",
            "train.lr_final=0",
        ],
    )
    su = runner.setup(cfg)
    start = su.ws.slots.read()
    training = runner.local_training(cfg)
    assert (training.rounds, training.lr_at(2, 0)) == (2, 0.0)
    first = su.clients[0].fit(su.ws, start, 1, training)  # full lr: the adapter moves
    last = su.clients[0].fit(su.ws, start, 2, training)  # the run's last step: lr 0, nothing moves
    assert any(not torch.equal(first.tensors[k], start[k]) for k in first.tensors)
    for name, tensor in last.tensors.items():
        assert torch.equal(tensor, start[name]), name
    constant = dataclasses.replace(training, lr_schedule="constant")
    assert any(
        not torch.equal(t, start[k]) for k, t in su.clients[0].fit(su.ws, start, 2, constant).tensors.items()
    )
