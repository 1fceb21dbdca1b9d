import pytest

from benchmark.config import PRESET_DIR, ConfigError, load_config, parse_override, to_toml


def test_presets_load_and_overrides_apply():
    cfg = load_config("smoke", None, ["federation.rounds=5", "data.languages=fa,ar", "train.lr=1e-3"])
    assert cfg.federation.rounds == 5
    assert cfg.data.languages == ["fa", "ar"]
    assert cfg.train.lr == pytest.approx(1e-3)
    assert load_config().name == "default"


@pytest.mark.parametrize(
    "value", ["centralised,local-only", "[centralised, local-only]", "[centralised,'local-only']"]
)
def test_list_overrides_take_bare_words_with_or_without_brackets(value):
    assert load_config("smoke", None, [f"baselines={value}"]).baselines == ["centralised", "local-only"]
    assert load_config("smoke", None, ["baselines="]).baselines == []


@pytest.mark.parametrize("path", sorted(PRESET_DIR.glob("*.toml")), ids=lambda p: p.stem)
def test_every_shipped_preset_validates(path):
    assert load_config(path.stem).name == path.stem


def test_resolved_config_round_trips_through_toml(tmp_path):
    cfg = load_config("smoke", None, ["partition.alpha=0.3"])
    path = tmp_path / "config.toml"
    path.write_text(to_toml(cfg))
    assert load_config(config_file=path) == cfg


@pytest.mark.parametrize(
    "override, message",
    [
        (
            "federation.roundz=3",
            "unknown config key 'federation.roundz'; allowed here: clients_per_round, max_retries",
        ),
        (
            "partition.scheme=random",
            "partition.scheme = 'random' is not supported; choose one of: iid, natural, dirichlet",
        ),
        ("federation.rounds=0", "federation.rounds = 0: must be greater than 0"),
        ("train.batch_size=abc", "train.batch_size = 'abc': expected an integer"),
        ("data.languages=fa,xx", "data.languages: unknown language code 'xx'"),
        ("partition.num_clients=2", "federation.clients_per_round = 4 exceeds partition.num_clients = 2"),
        ("norounds", "expected key=value"),
        (
            "train.lr_schedule=linear",
            "train.lr_schedule = 'linear' is not supported; choose one of: constant, cosine",
        ),
        ("train.lr_final=1.5", "train.lr_final = 1.5: a fraction of train.lr, at most 1"),
        ("train.fedrs_alpha=2", "train.fedrs_alpha = 2.0: between 0 and 1 (1 = off)"),
        ("train.fedrs_alpha=-0.5", "train.fedrs_alpha = -0.5: must be 0 or more"),
    ],
)
def test_bad_values_name_the_key_value_and_allowed(override, message):
    with pytest.raises(ConfigError) as err:
        load_config("default", None, [override])
    assert message in str(err.value)


def test_unknown_preset_and_missing_file():
    with pytest.raises(ConfigError, match="unknown preset 'nope'; available presets: .*smoke"):
        load_config("nope")
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(config_file="/nonexistent/x.toml")


def test_override_values_are_read_as_toml():
    assert parse_override("a.b=3") == (["a", "b"], 3)
    assert parse_override("a=true") == (["a"], True)
    assert parse_override("model.path=/some/dir") == (["model", "path"], "/some/dir")


def test_precision_auto_is_fp32_on_cpu_and_explicit_values_win():
    import torch

    from benchmark.backends.base import resolve_precision

    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu) == "fp32"
    assert resolve_precision("bf16", cpu) == "bf16" and resolve_precision("fp32", cpu) == "fp32"
    with pytest.raises(ConfigError, match="model.precision = 'fp16' is not supported; choose one of: auto"):
        load_config("smoke", None, ["model.precision=fp16"])
