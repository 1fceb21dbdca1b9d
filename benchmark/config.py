"""One validated config object per run: TOML presets + `--set key=value` overrides.

Every error names the key, the value and what is allowed, so users never see a stack trace.
"""

from __future__ import annotations

import dataclasses
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.strategies import STRATEGIES, StrategyConfig

PRESET_DIR = Path(__file__).parent / "presets"
BASELINES = ("centralised", "local-only")
DEFAULT_PRESET = "default"


class ConfigError(ValueError):
    """A config key or value the suite cannot use; the message says which and why."""


@dataclass
class ModelConfig:
    backend: str = "tiny"
    path: str = ""  # "" = the backend's built-in weights (tiny: the shipped base)
    size: str = "base"  # tiny: "base" (shipped, pretrained) or "random"
    device: str = "auto"  # auto | cpu | cuda
    threads: int = 0  # CPU threads for torch; 0 = torch's default
    family: str = ""  # image-text-to-text: model family (prompt); "" = from the checkpoint
    accelerator: str = "none"  # none | unsloth (deepseek-ocr on CUDA)
    resolution: str = ""  # backend resolution mode; "" = the backend's default
    # Autocast dtype for training, the vision-feature cache and decoding. auto: bf16 on CUDA
    # (where supported), float32 on CPU; bf16 on a CPU is opt-in.
    precision: str = "auto"  # auto | bf16 | fp32


@dataclass
class LoraSettings:
    r: int = 8
    alpha: int = 16
    dropout: float = 0.0
    targets: list[str] = field(default_factory=list)  # empty = backend default
    # "new": the embedding rows (input and output) of the characters in the training data that
    # the base never learned to read (scripts outside its OCR training) train with the adapter.
    trainable_tokens: str = "none"  # none | new


@dataclass
class DataConfig:
    languages: list[str] = field(default_factory=lambda: ["fa", "ru", "en"])
    train_per_language: int = 300
    test_per_language: int = 50
    level: str = "scanned"
    seed: int = 0
    min_chars: int = 8
    max_chars: int = 32
    system_fonts: bool = False
    tasks: list[str] = field(default_factory=list)  # extra task specs (`--task`), see tasks.sources
    on_bad_sample: str = "error"  # error | skip


@dataclass
class PartitionConfig:
    scheme: str = "dirichlet"  # iid | natural | dirichlet
    num_clients: int = 4
    alpha: float = 0.5
    min_size: int = 8


@dataclass
class FederationConfig:
    rounds: int = 3
    clients_per_round: int = 0  # 0 = every client every round
    # random: each round draws its clients afresh; cyclic: each cycle of ceil(clients /
    # clients_per_round) rounds is a fresh permutation of the clients cut into rounds, so every
    # client trains once per cycle (the last round of a cycle is topped up from its first).
    sampling: str = "random"
    strategy: str = "fedavg"
    min_clients: int = 1  # valid updates needed for a round to count
    on_too_few: str = "skip"  # skip (keep the global adapter) | retry (sample again)
    max_retries: int = 2
    round_deadline: float = 0.0  # seconds of (simulated) client time; later updates are dropped; 0 = none
    max_update_norm: float = (
        0.0  # reject updates whose L2 distance from the global adapter is larger; 0 = off
    )


@dataclass
class FaultsConfig:
    """Injected client faults (for testing robustness); all off by default."""

    crash_prob: float = 0.0
    nan_prob: float = 0.0
    straggler_prob: float = 0.0
    straggler_slowdown: float = 10.0
    dropout_prob: float = 0.0


@dataclass
class TrainConfig:
    local_steps: int = 10
    batch_size: int = 16
    lr: float = 2e-3
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    # Learning rate over the whole run: constant, or a cosine from lr down to lr x lr_final,
    # by the step's place among all the rounds' local steps (a local-only client: among its
    # own steps). Each round's local optimiser starts afresh either way.
    lr_schedule: str = "constant"  # constant | cosine
    lr_final: float = 0.1
    # Restricted softmax (FedRS): below 1, each client multiplies by fedrs_alpha the logits of
    # the new-script characters its own transcriptions never use, so that a client without,
    # say, Russian lines trains the Cyrillic letters down less (0: not at all). 1 = off.
    fedrs_alpha: float = 1.0
    # FedProx: (prox_mu / 2) * ||w - w_start||^2 over the trained adapter tensors is added to
    # each client's local loss, pulling it towards the adapter it started the round from. 0 = off.
    prox_mu: float = 0.0
    # Batches of lines of similar length (less padding): each pass over a client's shard is
    # shuffled, sorted by length within windows of 8 batches, and the batches shuffled.
    length_buckets: bool = True
    # Keep the frozen vision tower's output per image (auto: when LoRA leaves the tower untouched
    # and it has no dropout), up to feature_cache_mb for the training pool and test sets together.
    feature_cache: str = "auto"  # auto | off
    feature_cache_mb: float = 2048.0


@dataclass
class EvalConfig:
    batch_size: int = 100
    max_new_tokens: int = 0  # 0 = longest reference + margin


@dataclass
class FlowerConfig:
    """The Flower engine (engine = "flower"): one SuperNode per client, ClientApps on Ray."""

    num_cpus_per_client: float = 1.0  # CPU cores Ray reserves for each ClientApp worker
    num_gpus_per_client: float = 0.0  # GPU share of each worker (0.25 = four workers per GPU)
    ray_num_cpus: int = 0  # cores Ray may use in all (0 = every core of the machine)
    reply_timeout: float = 3600.0  # seconds the server waits for a round's replies (and for nodes)


@dataclass
class RunConfig:
    name: str = "run"
    seed: int = 0
    engine: str = "inprocess"
    # Baselines run after the federated run, into RUN_DIR/baselines/<name>/: "centralised"
    # (pooled data, same total steps) and "local-only" (every client alone).
    baselines: list[str] = field(default_factory=list)
    model: ModelConfig = field(default_factory=ModelConfig)
    lora: LoraSettings = field(default_factory=LoraSettings)
    data: DataConfig = field(default_factory=DataConfig)
    partition: PartitionConfig = field(default_factory=PartitionConfig)
    federation: FederationConfig = field(default_factory=FederationConfig)
    strategy: StrategyConfig = field(default_factory=StrategyConfig)
    faults: FaultsConfig = field(default_factory=FaultsConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    flower: FlowerConfig = field(default_factory=FlowerConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


CHOICES = {
    "engine": ("inprocess", "flower"),
    "data.on_bad_sample": ("error", "skip"),
    "model.accelerator": ("none", "unsloth"),
    "lora.trainable_tokens": ("none", "new"),
    "train.feature_cache": ("auto", "off"),
    "train.lr_schedule": ("constant", "cosine"),
    "federation.on_too_few": ("skip", "retry"),
    "federation.sampling": ("random", "cyclic"),
    "model.device": ("auto", "cpu", "cuda"),
    "model.precision": ("auto", "bf16", "fp32"),
    "data.level": ("clean", "scanned", "degraded"),
    "partition.scheme": ("iid", "natural", "dirichlet"),
    "federation.strategy": STRATEGIES,
}
POSITIVE = {
    "lora.r",
    "lora.alpha",
    "data.train_per_language",
    "data.test_per_language",
    "data.min_chars",
    "data.max_chars",
    "partition.num_clients",
    "federation.rounds",
    "train.local_steps",
    "train.batch_size",
    "train.lr",
    "eval.batch_size",
    "partition.alpha",
    "flower.num_cpus_per_client",
    "flower.reply_timeout",
}
NON_NEGATIVE = {
    "federation.clients_per_round",
    "model.threads",
    "eval.max_new_tokens",
    "partition.min_size",
    "federation.max_retries",
    "federation.round_deadline",
    "federation.max_update_norm",
    "faults.straggler_slowdown",
    "train.weight_decay",
    "train.max_grad_norm",
    "train.lr_final",
    "train.fedrs_alpha",
    "train.prox_mu",
    "train.feature_cache_mb",
    "lora.dropout",
    "flower.num_gpus_per_client",
    "flower.ray_num_cpus",
}


def _coerce(key: str, value, kind):
    """Convert a TOML/CLI value to the field's type or raise a ConfigError naming the key."""
    origin = typing.get_origin(kind)
    if origin is list:
        if isinstance(value, str):
            # `a,b` from the command line; `[a, b]` too (bare words in brackets are not TOML)
            text = value.strip()
            if text.startswith("[") and text.endswith("]"):
                text = text[1:-1]
            value = [v for v in (s.strip().strip("'\"") for s in text.split(",")) if v]
        if not isinstance(value, list):
            raise ConfigError(f"{key} = {value!r}: expected a list")
        (item,) = typing.get_args(kind) or (str,)
        return [_coerce(f"{key}[{i}]", v, item) for i, v in enumerate(value)]
    if kind is bool:
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "1", "yes"):
            return True
        if str(value).lower() in ("false", "0", "no"):
            return False
        raise ConfigError(f"{key} = {value!r}: expected true or false")
    if kind in (int, float):
        if isinstance(value, bool):
            raise ConfigError(f"{key} = {value!r}: expected a number")
        try:
            number = kind(value)
        except (TypeError, ValueError):
            raise ConfigError(
                f"{key} = {value!r}: expected {'an integer' if kind is int else 'a number'}"
            ) from None
        if kind is int and isinstance(value, float) and not value.is_integer():
            raise ConfigError(f"{key} = {value!r}: expected an integer")
        return number
    return str(value)


def _apply(obj, data: dict, prefix: str = "") -> None:
    hints = typing.get_type_hints(type(obj))
    names = {f.name for f in dataclasses.fields(obj)}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if key not in names:
            raise ConfigError(f"unknown config key {path!r}; allowed here: {', '.join(sorted(names))}")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"{path} must be a table of settings, got {value!r}")
            _apply(current, value, path + ".")
        else:
            setattr(obj, key, _coerce(path, value, hints[key]))


def validate(cfg: RunConfig) -> RunConfig:
    from benchmark.backends import BACKENDS

    flat = flatten(cfg.to_dict())
    if cfg.model.backend not in BACKENDS:
        raise ConfigError(
            f"model.backend = {cfg.model.backend!r} is not supported; choose one of: {', '.join(BACKENDS)}"
        )
    for key, allowed in CHOICES.items():
        if flat[key] not in allowed:
            raise ConfigError(f"{key} = {flat[key]!r} is not supported; choose one of: {', '.join(allowed)}")
    for key in POSITIVE:
        if not flat[key] > 0:
            raise ConfigError(f"{key} = {flat[key]!r}: must be greater than 0")
    for key in NON_NEGATIVE:
        if flat[key] < 0:
            raise ConfigError(f"{key} = {flat[key]!r}: must be 0 or more")
    if not cfg.data.languages:
        raise ConfigError("data.languages is empty: name at least one language code")
    from tasks.languages import LANGUAGES

    for code in cfg.data.languages:
        if code not in LANGUAGES:
            raise ConfigError(
                f"data.languages: unknown language code {code!r}; known: {', '.join(sorted(LANGUAGES))}"
            )
    if cfg.data.min_chars > cfg.data.max_chars:
        raise ConfigError(
            f"data.min_chars = {cfg.data.min_chars} is above data.max_chars = {cfg.data.max_chars}"
        )
    if cfg.federation.clients_per_round > cfg.partition.num_clients:
        raise ConfigError(
            f"federation.clients_per_round = {cfg.federation.clients_per_round} exceeds "
            f"partition.num_clients = {cfg.partition.num_clients}"
        )
    for key in ("crash_prob", "nan_prob", "straggler_prob", "dropout_prob"):
        value = getattr(cfg.faults, key)
        if not 0 <= value <= 1:
            raise ConfigError(f"faults.{key} = {value!r}: must be a probability between 0 and 1")
    if not 1 <= cfg.federation.min_clients <= (cfg.federation.clients_per_round or cfg.partition.num_clients):
        raise ConfigError(
            f"federation.min_clients = {cfg.federation.min_clients}: must be between 1 and the clients "
            "sampled per round"
        )
    from benchmark.strategies import client_rank, make_strategy

    try:
        make_strategy(cfg.federation.strategy, cfg.strategy, 1, 1.0)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    try:
        for cid in range(len(cfg.strategy.client_ranks)):
            client_rank(cfg.strategy.client_ranks, cid, cfg.lora.r)
    except ValueError as err:
        raise ConfigError(f"strategy.client_ranks = {cfg.strategy.client_ranks}: {err}") from None
    for name in cfg.baselines:
        if name not in BASELINES:
            raise ConfigError(f"baselines: unknown baseline {name!r}; choose from: {', '.join(BASELINES)}")
    if cfg.lora.dropout >= 1:
        raise ConfigError(f"lora.dropout = {cfg.lora.dropout}: must be below 1")
    if cfg.train.lr_final > 1:
        raise ConfigError(f"train.lr_final = {cfg.train.lr_final}: a fraction of train.lr, at most 1")
    if cfg.train.fedrs_alpha > 1:
        raise ConfigError(f"train.fedrs_alpha = {cfg.train.fedrs_alpha}: between 0 and 1 (1 = off)")
    return cfg


def flatten(data: dict, prefix: str = "") -> dict:
    """{"a": {"b": 1}} -> {"a.b": 1}."""
    out = {}
    for k, v in data.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def parse_override(item: str) -> tuple[list[str], object]:
    """`a.b=value` -> (["a", "b"], value); the value is read as TOML when it parses, else text."""
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected key=value, e.g. federation.rounds=5")
    key, raw = item.split("=", 1)
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key.strip().split("."), value


def preset_path(name: str) -> Path:
    path = PRESET_DIR / f"{name}.toml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in PRESET_DIR.glob("*.toml")))
        raise ConfigError(f"unknown preset {name!r}; available presets: {known}")
    return path


def read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config file {path} is not valid TOML: {err}") from None


def load_config(
    preset: str | None = None, config_file: str | Path | None = None, overrides: list[str] = ()
) -> RunConfig:
    """Defaults <- preset or config file <- `--set` overrides, then validated."""
    if preset and config_file:
        raise ConfigError("give either --preset or --config, not both")
    cfg = RunConfig()
    source = Path(config_file) if config_file else preset_path(preset or DEFAULT_PRESET)
    _apply(cfg, read_toml(source))
    for item in overrides:
        keys, value = parse_override(item)
        nested: dict = {}
        cursor = nested
        for k in keys[:-1]:
            cursor = cursor.setdefault(k, {})
        cursor[keys[-1]] = value
        _apply(cfg, nested)
    return validate(cfg)


def to_toml(cfg: RunConfig) -> str:
    """The resolved config as TOML (written to RUN_DIR/config.toml; loads back with --config)."""
    lines: list[str] = []
    tables = []
    for key, value in cfg.to_dict().items():
        if isinstance(value, dict):
            tables.append((key, value))
        else:
            lines.append(f"{key} = {toml_value(value)}")
    for name, table in tables:
        lines.append(f"\n[{name}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def toml_value(value) -> str:
    """A Python value as a TOML literal."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
