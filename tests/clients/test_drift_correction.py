"""Client-side drift correction: FedProx's proximal term and SCAFFOLD's corrected steps."""

import dataclasses
import json

import pytest
import torch

from benchmark import runner
from benchmark.config import ConfigError, load_config
from benchmark.strategies import make_strategy

SMOKE = [
    "model.size=random",
    "model.threads=1",
    "data.languages=ru,el",
    "data.train_per_language=12",
    "data.test_per_language=2",
    "partition.num_clients=2",
    "partition.min_size=4",
    "train.local_steps=3",
    "train.batch_size=4",
    "train.lr=1e-2",
]


@pytest.fixture(scope="module")
def su_cfg():
    cfg = load_config("smoke", None, SMOKE)
    return runner.setup(cfg), cfg


def _distance(update, start):
    return sum(float((t.double() - start[n].double()).pow(2).sum()) for n, t in update.tensors.items()) ** 0.5


def test_the_proximal_term_keeps_the_client_closer_to_where_it_started(su_cfg):
    su, cfg = su_cfg
    client, start = su.clients[0], su.ws.slots.read()
    training = runner.local_training(cfg)
    assert training.prox_mu == 0
    plain = client.fit(su.ws, start, 1, training)
    proximal = client.fit(su.ws, start, 1, dataclasses.replace(training, prox_mu=1e4))
    assert 0 < _distance(proximal, start) < 0.5 * _distance(plain, start)
    # mu = 0 is the plain loss, bit for bit
    again = client.fit(su.ws, start, 1, dataclasses.replace(training, prox_mu=0.0))
    assert all(torch.equal(again.tensors[n], t) for n, t in plain.tensors.items())


def test_a_zero_correction_changes_nothing_and_the_controls_are_the_mean_step(su_cfg):
    su, cfg = su_cfg
    client, start = su.clients[0], su.ws.slots.read()
    training = runner.local_training(cfg)
    plain = client.fit(su.ws, start, 1, training)
    assert dict(plain.controls) == {}
    zeros = {n: torch.zeros_like(t) for n, t in plain.tensors.items()}
    corrected = client.fit(su.ws, start, 1, training, correction=zeros)
    assert all(torch.equal(corrected.tensors[n], t) for n, t in plain.tensors.items())
    assert sorted(corrected.controls) == sorted(plain.tensors)
    # c_i is the mean step per unit of lr: steps x lr x c_i is the whole move of the round
    for name, control in corrected.controls.items():
        moved = start[name].double() - corrected.tensors[name].double()
        torch.testing.assert_close(
            moved, training.steps * training.lr * control.double(), rtol=1e-4, atol=1e-7
        )
    assert any(c.abs().max() > 0.1 for c in corrected.controls.values())
    assert corrected.nbytes() == 2 * plain.nbytes()  # the controls travel with the update


def test_a_correction_steers_tensors_the_client_data_do_not_move(su_cfg):
    """SCAFFOLD's point: the correction c - c_i moves a tensor whatever the client's own data
    say, in the direction the other clients' steps went."""
    su, cfg = su_cfg
    client, start = su.clients[0], su.ws.slots.read()
    training = runner.local_training(cfg)
    plain = client.fit(su.ws, start, 1, training)
    name = next(n for n in plain.tensors if "lora_A" in n)
    correction = {n: torch.zeros_like(t) for n, t in plain.tensors.items()}
    correction[name] = torch.full_like(plain.tensors[name], 2.0)  # twice any step Adam takes on its own
    steered = client.fit(su.ws, start, 1, training, correction=correction)
    moved = steered.tensors[name].double() - start[name].double()
    assert (moved < 0).all()  # every coordinate followed the correction
    with pytest.raises(ValueError, match="correction lacks"):
        client.fit(su.ws, start, 1, training, correction={name: correction[name]})


def test_a_scaffold_run_sends_each_client_its_correction_and_keeps_the_controls(tmp_path):
    cfg = load_config("smoke", None, [*SMOKE, "federation.rounds=2", "federation.strategy=scaffold"])
    run_dir = runner.run(cfg, tmp_path / "run")
    fedavg_dir = runner.run(load_config("smoke", None, [*SMOKE, "federation.rounds=2"]), tmp_path / "fedavg")
    [last] = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()][-1:]
    [plain] = [json.loads(line) for line in (fedavg_dir / "metrics.jsonl").read_text().splitlines()][-1:]
    for c, p in zip(last["clients"], plain["clients"]):  # the correction goes down, the controls up
        assert c["bytes_down"] == 2 * p["bytes_down"] and c["bytes_up"] == 2 * p["bytes_up"]
    state = runner.RunState.load(run_dir)
    controls = state.strategy["client_controls"]
    assert sorted(controls) == [0, 1]
    trained = sorted(state.global_adapter)
    assert all(sorted(c) == trained for c in controls.values())
    # c is the mean of the clients' control variates (every client has trained)
    for name in trained:
        mean = (controls[0][name].double() + controls[1][name].double()) / 2
        torch.testing.assert_close(state.strategy["control"][name], mean)
    strategy = make_strategy("scaffold", cfg.strategy, 2, 1.0)
    strategy.load_state_dict(state.strategy)
    job = runner.client_job(cfg, state, 1, 3, 1, strategy)
    for name in trained:
        torch.testing.assert_close(
            job.correction[name].double(), state.strategy["control"][name] - controls[1][name].double()
        )
    assert (
        runner.client_job(cfg, state, 1, 3, 1, make_strategy("fedavg", cfg.strategy, 2, 1.0)).correction
        is None
    )


def test_bad_settings_are_refused():
    with pytest.raises(ConfigError, match="train.prox_mu"):
        load_config("smoke", None, [*SMOKE, "train.prox_mu=-1"])
    with pytest.raises(ConfigError, match="scaffold needs every client at the adapter's full rank"):
        load_config("smoke", None, [*SMOKE, "federation.strategy=scaffold", "strategy.client_ranks=[2, 4]"])
