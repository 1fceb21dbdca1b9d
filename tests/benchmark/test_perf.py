"""Engine speed features: the vision-feature cache, length buckets, trainable new-script
tokens, and `fedocr perf` (its naive baseline must do exactly the engine's work)."""

import json

import numpy as np
import pytest
import torch
from peft import PeftModel

from benchmark import runner
from benchmark.config import ConfigError, load_config
from benchmark.feature_cache import CacheBudget, CachePlan, FeatureCache, cache_blocker, cache_plan
from benchmark.perf import measure, summary
from clients.client import batch_schedule

MICRO = [
    "model.size=random",
    "model.threads=1",
    "data.languages=ru,en",
    "data.train_per_language=40",
    "data.test_per_language=8",
    "partition.num_clients=3",
    "partition.min_size=4",
    "federation.rounds=2",
    "train.local_steps=3",
    "train.batch_size=4",
]
DECODER_ONLY = r"lora.targets=['decoder\..*\.(q_proj|v_proj|fc1)']"
# LoRA on the decoder and on the two upper blocks of the 4-block vision tower.
UPPER_TOWER = r"lora.targets=['(decoder\..*\.(q_proj|v_proj)|encoder\.layers\.[23]\..*\.(q_proj|fc2))']"


def _config(*extra):
    return load_config("smoke", None, [*MICRO, *extra])


def _fit_first_client(cfg):
    su = runner.setup(cfg)
    state = runner.RunState(0, su.ws.slots.read(), {})
    job = runner.client_job(cfg, state, 0, 1, 1)
    update = su.clients[0].fit(su.ws, job.start, 1, runner.local_training(cfg))
    return su, update


MORE_STEPS = "train.local_steps=12"  # 48 rows from a shard of ~27: rows come back


def _assert_same_update(update, reference):
    assert update.tensors.keys() == reference.tensors.keys()
    for name in reference.tensors:
        torch.testing.assert_close(update.tensors[name], reference.tensors[name], rtol=0, atol=1e-6)


def _assert_same_transcriptions(su):
    """Evaluation through a test-set cache gives the transcriptions of the uncached model."""
    data = su.tests["ru"]
    rows = np.arange(len(data))
    bound = su.backend.max_new_tokens(data.texts)
    with su.backend.autocast():
        cached = su.backend.generate(su.model, data, rows, bound, cache=su.test_features["ru"])
        assert cached == su.backend.generate(su.model, data, rows, bound)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_feature_cache_gives_the_same_update_and_transcriptions(precision):
    on_su, on = _fit_first_client(_config(DECODER_ONLY, MORE_STEPS, f"model.precision={precision}"))
    off_su, off = _fit_first_client(
        _config(DECODER_ONLY, MORE_STEPS, f"model.precision={precision}", "train.feature_cache=off")
    )
    assert on_su.ws.features is not None and off_su.ws.features is None
    assert on_su.backend.precision == precision
    assert on_su.ws.features.misses > 0 and on_su.ws.features.hits > 0  # rows reused across steps
    _assert_same_update(on, off)
    _assert_same_transcriptions(on_su)


def test_feature_cache_keeps_to_its_cap_and_says_when_it_cannot_run():
    off_su, off = _fit_first_client(_config(DECODER_ONLY, MORE_STEPS, "train.feature_cache=off"))
    capped_su, capped = _fit_first_client(_config(DECODER_ONLY, MORE_STEPS, "train.feature_cache_mb=0.2"))
    (row, *_) = capped_su.ws.features.rows.values()
    assert row.shape[-1] == 192  # tiny encoder: one 192-wide vector per image token
    per_row = row.numel() * row.element_size()
    assert capped_su.ws.features.budget.full and capped_su.ws.features.budget.used <= 0.2 * 2**20
    assert len(capped_su.ws.features.rows) == int(0.2 * 2**20 // per_row)
    assert capped_su.ws.features.misses > len(capped_su.ws.features.rows)  # rows beyond the cap re-encoded
    _assert_same_update(capped, off)
    default = runner.setup(_config())  # LoRA on every block of the tower: the embeddings are cached
    assert cache_plan(default.backend, default.model) == (CachePlan(depth=0, blocks=4), None)
    pooler = runner.setup(_config(r"lora.targets=['encoder\.(pooler\.dense|layers\.3\.mlp\.fc1)']"))
    assert pooler.ws.features is None  # an adapted module outside the blocks: no split
    assert "outside its adapted blocks (pooler.dense" in cache_blocker(pooler.backend, pooler.model)


def test_frozen_tower_prefix_cache_gives_the_same_update_and_transcriptions():
    on_su, on = _fit_first_client(_config(UPPER_TOWER, MORE_STEPS))
    off_su, off = _fit_first_client(_config(UPPER_TOWER, MORE_STEPS, "train.feature_cache=off"))
    assert off_su.ws.features is None
    assert on_su.ws.features.plan == CachePlan(depth=2, blocks=4)
    (row, *_) = on_su.ws.features.rows.values()
    assert row.shape == (97, 192)  # the hidden state after block 1: one vector per token
    assert on_su.ws.features.hits > 0
    assert any("encoder.layers.2" in name for name in on.tensors)  # the tower's LoRA trained
    _assert_same_update(on, off)
    _assert_same_transcriptions(on_su)
    # A row's cached value does not depend on which batch asked for it first (resume-safe).
    filled = on_su.test_features["ru"]
    alone = FeatureCache(filled.backend, filled.model, CacheBudget(2**30), filled.data, filled.plan)
    assert torch.equal(alone.features(np.array([5]))[0], filled.features(np.array([5]))[0])


def test_pool_cache_encodes_blocks_of_the_asking_clients_shard_only():
    su, _ = _fit_first_client(_config(DECODER_ONLY))
    shard = set(su.clients[0].shard.tolist())
    kept = set(su.ws.features.rows)
    # Client 0's steps asked for rows of its own shard; whole 16-row blocks of that shard were
    # encoded, and no row of another client's shard.
    assert kept and kept <= shard
    blocks = [set(b) for b in np.array_split(sorted(shard), range(16, len(shard), 16))]
    assert all(b <= kept or not b & kept for b in blocks) and any(b <= kept for b in blocks)
    # The shard's blocks are runs of its rows in order; a row alone gets its block's value.
    whole = FeatureCache(su.backend, su.model, CacheBudget(2**30), su.ws.data, su.ws.features.plan)
    row = min(kept)
    torch.testing.assert_close(
        whole.features(np.array([row]))[0], su.ws.features.features(np.array([row]))[0]
    )
    with pytest.raises(ValueError, match="groups overlap"):
        FeatureCache(su.backend, su.model, CacheBudget(1), su.ws.data, groups=[np.arange(4), np.arange(3, 6)])


def test_length_buckets_cover_the_shard_and_cut_padding():
    rng = np.random.default_rng(0)
    shard = np.arange(100, 300)
    lengths = np.zeros(400, dtype=np.int32)
    lengths[shard] = rng.integers(5, 60, size=len(shard))
    batches = batch_schedule(np.random.default_rng(1), shard, lengths, 16, 24, buckets=True)
    assert len(batches) == 24 and all(len(b) == 16 for b in batches)
    epoch = np.concatenate(batches[:12])  # 200 // 16 = 12 full batches per pass
    assert len(set(epoch.tolist())) == len(epoch) and set(epoch.tolist()) <= set(shard.tolist())

    def padding(schedule):
        return sum(int((lengths[b].max() - lengths[b]).sum()) for b in schedule)

    random = batch_schedule(np.random.default_rng(1), shard, lengths, 16, 24, buckets=False)
    assert all(len(set(b.tolist())) == 16 for b in random)
    assert padding(batches) < 0.5 * padding(random)
    small = batch_schedule(np.random.default_rng(2), shard[:5], lengths, 5, 3, buckets=True)
    assert [sorted(b.tolist()) for b in small] == [list(range(100, 105))] * 3


def test_trainable_tokens_train_new_script_rows_and_reload(tmp_path):
    cfg = _config("model.size=base", "lora.trainable_tokens=new", "federation.rounds=1")
    run_dir = runner.run(cfg, tmp_path / "run")
    su = runner.setup(cfg)
    ids = runner.new_token_ids(su.backend, su.ws.data)
    chars = {su.backend.tokenizer.chars[i - 4] for i in ids}
    assert {"ж", "ы"} <= chars and not chars & set("abcdefghijklmnopqrstuvwxyz 0123456789")
    deltas = [p for n, p in su.ws.slots.params.items() if "trainable_tokens_delta" in n]
    assert len(deltas) == 2 and all(p.shape == (len(ids), 192) for p in deltas)
    # The adapter (LoRA + token rows) reloads with PEFT and reproduces the run's predictions.
    backend = su.backend
    model = PeftModel.from_pretrained(backend.load(), str(run_dir / "adapters" / "global_round_1")).eval()
    data = su.tests["ru"]
    with backend.autocast():  # the run's precision (model.precision)
        predictions = backend.generate(model, data, np.arange(len(data)), backend.max_new_tokens(data.texts))
    written = [
        json.loads(line)
        for line in (run_dir / "predictions" / "round_1.jsonl").read_text().splitlines()
        if json.loads(line)["language"] == "ru"
    ]
    assert [" ".join(p.split()) for p in predictions] == [r["prediction"] for r in written]


@pytest.mark.parametrize(
    "setting",
    [
        "train.lr_schedule=cosine",
        "train.fedrs_alpha=0.5",
        "train.prox_mu=0.1",
        "federation.strategy=scaffold",
    ],
)
def test_perf_refuses_what_its_naive_trainer_cannot_replay_before_any_work(tmp_path, setting):
    with pytest.raises(ConfigError, match="naive baseline's Trainer (steps at a constant lr|takes plain)"):
        measure(_config(setting), tmp_path / "perf", naive=True)
    assert not (tmp_path / "perf").exists()


def test_perf_arms_do_the_same_work(tmp_path):
    # The shipped base: a rebuilt random model would differ from the resident one.
    cfg = _config(
        DECODER_ONLY,
        "model.size=base",
        "federation.rounds=1",
        "partition.num_clients=2",
        "partition.min_size=8",
    )
    figures = measure(cfg, tmp_path / "perf", naive=True, memory=(2,), cache_rounds=2, repeats=2)
    # The cache and the naive idiom change the speed, never the result.
    assert figures["cache_adapter_max_abs_diff"] <= 1e-5
    assert figures["naive_adapter_max_abs_diff"] <= 1e-5
    assert figures["engine"]["cer"][1] == pytest.approx(figures["naive"]["cer"][1], abs=1e-9)
    assert figures["engine"]["feature_cache"]["hits"] > 0
    assert figures["engine_no_cache"]["feature_cache"] == {"enabled": False}
    split = figures["naive"]["train_split"]
    assert split["rebuild"] > 0 and split["trainer_train"] > 0
    assert figures["flops"]["flops"] > 0 and 0 < figures["gemm_peak"]["flops_per_second"]
    (probe,) = figures["memory"]
    assert probe["clients"] == 2 and probe["peak_rss_mb"] > 100
    text = summary(figures)
    assert "model FLOPs utilisation" in text and "naive" in text
    # The ceiling: the naive arm's round-1 training time over that of round 1's FLOPs at the peak.
    ceiling = figures["naive_ceiling"]
    naive_round1 = next(x["train"] for x in figures["naive"]["rounds"] if x["round"] == 1)
    floor = figures["flops"]["flops"] / figures["gemm_peak"]["flops_per_second"]
    assert ceiling["ratio"] == pytest.approx(naive_round1 / floor, rel=1e-2)
    assert f"more than {ceiling['ratio']:.2f}x faster" in text
    # Repeats: every run of either arm ends at the same adapter (checked above, as the max
    # over runs), and each pair's seconds are reported with the median ratio.
    pairs = figures["naive_repeats"]
    assert len(pairs) == 2 and all(p["engine"] > 0 and p["naive"] > 0 for p in pairs)
    assert "2 runs of each, in turn" in text and "median" in text
    assert json.loads((tmp_path / "perf" / "perf.json").read_text())["clients"] == 2
