"""What the ServerApp and the ClientApps share: the run config and the message format.

A train message carries one `ClientJob` (runner.py): the run config as TOML (so every
ClientApp builds the same model, data and partition as the server), the adapter the client
starts from, its rank and injected faults, for fedex-lora / flora the frozen-weight change
so far, and for scaffold the gradient correction c - c_i. The reply carries the client's
`Update` (adapter tensors, example count, whitelisted scalars, scaffold's control variates)
or a line saying why there is none. Tensors travel as float32 (numpy
has no bfloat16) and are cast back to the global adapter's dtype on arrival, which is
lossless for float32, float16 and bfloat16 models.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path

import torch
from flwr.app import ArrayRecord, ConfigRecord, MetricRecord, RecordDict

from benchmark.config import RunConfig, load_config
from benchmark.runner import ClientJob
from clients.client import UPDATE_METRICS, Update
from clients.faults import FaultPlan


def run_settings(run_config: Mapping[str, object]) -> tuple[RunConfig, str, str]:
    """`flwr run` config (pyproject [tool.flwr.app.config] + --run-config) -> (the suite's
    config with engine = "flower", the run directory to write, the run directory to resume).

    Keys: `preset` or `config` (a TOML file), `set` (space-separated key=value overrides, as
    after `fedocr run --set`), `out` and `resume` (run directories; "" = none).
    """
    preset = str(run_config.get("preset", "") or "") or None
    config_file = str(run_config.get("config", "") or "") or None
    overrides = shlex.split(str(run_config.get("set", "") or ""))
    resume = str(run_config.get("resume", "") or "")
    if resume:
        cfg = load_config(config_file=Path(resume) / "config.toml")
    else:
        cfg = load_config(None if config_file else preset, config_file, [*overrides, "engine=flower"])
    return cfg, str(run_config.get("out", "") or ""), resume


def tensors_to_record(tensors: Mapping[str, torch.Tensor]) -> ArrayRecord:
    return ArrayRecord(
        torch_state_dict={
            name: t.detach().to("cpu", torch.float32).contiguous() for name, t in tensors.items()
        }
    )


def record_to_tensors(
    record: ArrayRecord, like: Mapping[str, torch.Tensor] | None = None
) -> dict[str, torch.Tensor]:
    """The record's tensors, each in the dtype of the same-named tensor in `like`."""
    tensors = {name: torch.from_numpy(array.numpy().copy()) for name, array in record.items()}
    if like is None:
        return tensors
    return {name: t.to(like[name].dtype) if name in like else t for name, t in tensors.items()}


def job_message_content(job: ClientJob, config_toml: str) -> RecordDict:
    content = RecordDict(
        {
            "arrays": tensors_to_record(job.start),
            "config": ConfigRecord(
                {
                    "run-config": config_toml,
                    "client-id": job.client_id,
                    "round": job.round,
                    "attempt": job.attempt,
                    "rank": job.rank,
                    "crash-at-step": -1 if job.faults.crash_at_step is None else job.faults.crash_at_step,
                    "nan": job.faults.nan,
                }
            ),
        }
    )
    if job.base_delta:
        content["base-delta"] = tensors_to_record(job.base_delta)
    if job.correction is not None:
        content["correction"] = tensors_to_record(job.correction)
    return content


def job_config_toml(content: RecordDict) -> str:
    """The run config a job message was made for."""
    return str(content["config"]["run-config"])


def job_from_content(content: RecordDict, like: Mapping[str, torch.Tensor]) -> ClientJob:
    """The job of a train message; its tensors take the dtypes of the same-named ones in `like`."""
    config = content["config"]
    crash = int(config["crash-at-step"])
    base_delta = record_to_tensors(content["base-delta"]) if "base-delta" in content else {}
    return ClientJob(
        client_id=int(config["client-id"]),
        round=int(config["round"]),
        attempt=int(config["attempt"]),
        rank=int(config["rank"]),
        start=record_to_tensors(content["arrays"], like),
        # Dropout and slowdown are the server's business: a dropped client is never asked.
        faults=FaultPlan(crash_at_step=None if crash < 0 else crash, nan=bool(config["nan"])),
        base_delta=base_delta,
        correction=record_to_tensors(content["correction"]) if "correction" in content else None,
    )


def reply_content(reply: Update | str, client_id: int) -> RecordDict:
    """Every reply has the same MetricRecord keys; a failed one says why in a ConfigRecord."""
    if isinstance(reply, str):
        metrics = {"client-id": client_id, "failed": 1, "num-examples": 0}
        metrics |= {key: 0.0 for key in sorted(UPDATE_METRICS)}
        return RecordDict({"metrics": MetricRecord(metrics), "error": ConfigRecord({"detail": reply})})
    metrics = {"client-id": reply.client_id, "failed": 0, "num-examples": reply.num_examples}
    metrics |= {key: reply.metrics[key] for key in sorted(UPDATE_METRICS) if key in reply.metrics}
    content = RecordDict({"arrays": tensors_to_record(reply.tensors), "metrics": MetricRecord(metrics)})
    if reply.controls:
        content["controls"] = tensors_to_record(reply.controls)
    return content


def update_from_content(content: RecordDict, job: ClientJob) -> Update | str:
    """The client's Update rebuilt from its reply (tensors in the global adapter's dtype)."""
    metrics = content["metrics"]
    if metrics["failed"]:
        return str(content["error"]["detail"])
    if int(metrics["client-id"]) != job.client_id:
        return f"the node of client {job.client_id} answered as client {int(metrics['client-id'])}"
    return Update(
        client_id=job.client_id,
        tensors=record_to_tensors(content["arrays"], job.start),
        num_examples=int(metrics["num-examples"]),
        metrics={key: metrics[key] for key in UPDATE_METRICS if key in metrics},
        controls=record_to_tensors(content["controls"]) if "controls" in content else {},
    )
