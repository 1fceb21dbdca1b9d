"""The ClientApp: a SuperNode is one client of the benchmark, named by its partition id.

A train message is one `ClientJob`; the ClientApp runs it with the runner's own
`train_client`, so a Flower client trains exactly like an in-process one. The model, the
encoded data and the partition are built once per process from the run config the job
carries (a Ray worker serves many jobs), never inside each call.

The suite (torch, transformers, ...) is imported on the first train message, not with this
module: on the deployment runtime every message starts a fresh ClientApp process, and the
query that tells the server which client a node is should not pay for those imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flwr.app import ConfigRecord, Context, Error, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from flwr.common.constant import ErrorCode

from benchmark.flower import NUM_PARTITIONS, PARTITION_ID

if TYPE_CHECKING:
    import torch

    from benchmark.config import RunConfig
    from benchmark.runner import Setup

app = ClientApp()


class Resident:
    """What this process keeps between messages for one run config."""

    def __init__(self, cfg: RunConfig, su: Setup):
        self.cfg = cfg
        self.su = su
        self.base_delta: dict[str, torch.Tensor] = {}  # frozen-weight change already added to the model

    def sync_base_delta(self, wanted: dict[str, torch.Tensor]) -> None:
        """Bring the frozen weights to the server's (fedex-lora, flora): add what is missing."""
        from benchmark.adapters import add_to_base_weights

        change = {}
        for prefix in wanted.keys() | self.base_delta.keys():
            if prefix not in self.base_delta:
                change[prefix] = wanted[prefix]
            elif prefix not in wanted:
                change[prefix] = -self.base_delta[prefix]
            else:
                change[prefix] = wanted[prefix] - self.base_delta[prefix]
        add_to_base_weights(self.su.model, change)
        self.base_delta = dict(wanted)


_resident: dict[str, Resident] = {}  # run config TOML -> this process's model, data and shards


def resident(config_toml: str) -> Resident:
    if config_toml not in _resident:
        import tempfile
        from pathlib import Path

        from benchmark.config import load_config
        from benchmark.runner import setup

        _resident.clear()  # one run at a time: free the last run's model before building the next
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "config.toml"
            path.write_text(config_toml, encoding="utf-8")
            cfg = load_config(config_file=path)
        _resident[config_toml] = Resident(cfg, setup(cfg))
    return _resident[config_toml]


def partition_id(context: Context) -> int:
    if PARTITION_ID not in context.node_config:
        raise ValueError(
            f"this SuperNode has no {PARTITION_ID!r} in its node config; start it with "
            f"--node-config '{PARTITION_ID}=<client id> {NUM_PARTITIONS}=<number of clients>'"
        )
    return int(context.node_config[PARTITION_ID])


@app.query()
def query(msg: Message, context: Context) -> Message:
    """Which client this node is, so that the server can address clients by partition id."""
    try:
        pid = partition_id(context)
        parts = int(context.node_config.get(NUM_PARTITIONS, -1))
        content = RecordDict({"metrics": MetricRecord({PARTITION_ID: pid, NUM_PARTITIONS: parts})})
    except Exception as err:
        content = RecordDict({"error": ConfigRecord({"detail": f"{type(err).__name__}: {err}"})})
    return Message(content, reply_to=msg)


@app.train()
def train(msg: Message, context: Context) -> Message:
    """Train this node's client on one job. Nothing escapes (an exception leaving a ClientApp
    can hang run_simulation, flwr #4476): a failing client sends a failed reply, and a node
    that cannot even import the suite a Flower error."""
    try:
        from benchmark.flower.task import job_config_toml, job_from_content, reply_content
        from benchmark.runner import local_training, train_client
    except Exception as err:
        return Message(
            Error(ErrorCode.CLIENT_APP_RAISED_EXCEPTION, f"{type(err).__name__}: {err}"), reply_to=msg
        )
    client_id = -1
    try:
        client_id = partition_id(context)
        node = resident(job_config_toml(msg.content))
        job = job_from_content(msg.content, node.su.ws.slots.params)
        if job.client_id != client_id:
            raise ValueError(f"a job for client {job.client_id} reached the node of client {client_id}")
        node.sync_base_delta(dict(job.base_delta))
        client = node.su.clients[client_id]
        reply = train_client(node.su.ws, client, job, local_training(node.cfg), node.su.strategy.trains)
    except Exception as err:
        reply = f"ClientApp failed: {type(err).__name__}: {err}"
    return Message(reply_content(reply, client_id), reply_to=msg)
