"""The ServerApp: the runner's own rounds, with the clients as Flower SuperNodes.

Sampling (the run's seeded stream over client ids), screening, aggregation with the suite's
strategies, evaluation, checkpoints and the run directory are `benchmark.runner.execute`'s,
exactly as in the in-process engine. Only the step "train these clients" differs: each job
becomes a train message to the SuperNode whose `partition-id` is the job's client id.
Flower's node ids are random, so clients are never sampled by node id.
"""

from __future__ import annotations

import json
import time
from importlib.metadata import version
from pathlib import Path

from flwr.app import Context, Message, MessageType, RecordDict
from flwr.serverapp import Grid, ServerApp

from benchmark.config import RunConfig, to_toml
from benchmark.flower import NUM_PARTITIONS, PARTITION_ID
from benchmark.flower.task import job_message_content, run_settings, update_from_content
from benchmark.runner import ClientJob, Setup, _write_text_atomic, execute, new_run_dir
from clients.client import Update
from reports.report import write_report

app = ServerApp()


def partition_nodes(grid: Grid, num_clients: int, timeout: float) -> dict[int, int]:
    """{client id: node id}: wait for the SuperNodes, then ask each which partition it holds."""
    deadline = time.monotonic() + timeout
    while len(node_ids := list(grid.get_node_ids())) < num_clients:
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"only {len(node_ids)} of {num_clients} SuperNodes connected within {timeout:g} s"
            )
        time.sleep(1.0)
    queries = [Message(RecordDict(), dst_node_id=n, message_type=MessageType.QUERY) for n in node_ids]
    nodes: dict[int, int] = {}
    for reply in grid.send_and_receive(queries, timeout=timeout):
        node = reply.metadata.src_node_id
        if reply.has_error() or "error" in reply.content:
            why = reply.error.reason if reply.has_error() else reply.content["error"]["detail"]
            raise RuntimeError(f"SuperNode {node} did not say which client it is: {why}")
        metrics = reply.content["metrics"]
        pid, parts = int(metrics[PARTITION_ID]), int(metrics[NUM_PARTITIONS])
        if parts not in (-1, num_clients) or not 0 <= pid < num_clients:
            raise RuntimeError(
                f"SuperNode {node} holds partition {pid} of {parts}; this run has {num_clients} "
                f"clients (partition ids 0..{num_clients - 1})"
            )
        if pid in nodes:
            raise RuntimeError(f"two SuperNodes ({nodes[pid]} and {node}) hold partition {pid}")
        nodes[pid] = node
    missing = sorted(set(range(num_clients)) - nodes.keys())
    if missing:
        raise RuntimeError(f"no SuperNode answered for partitions {missing} within {timeout:g} s")
    return nodes


class FlowerClients:
    """The runner's FitClients over a Flower Grid: one train message per job."""

    def __init__(self, grid: Grid, cfg: RunConfig):
        self.grid = grid
        self.config_toml = to_toml(cfg)
        self.timeout = cfg.flower.reply_timeout
        self.nodes = partition_nodes(grid, cfg.partition.num_clients, self.timeout)

    def __call__(self, jobs: list[ClientJob]) -> list[Update | str]:
        if not jobs:
            return []
        messages = [
            Message(
                job_message_content(job, self.config_toml),
                dst_node_id=self.nodes[job.client_id],
                message_type=MessageType.TRAIN,
                group_id=str(job.round),
            )
            for job in jobs
        ]
        replies = {
            r.metadata.src_node_id: r for r in self.grid.send_and_receive(messages, timeout=self.timeout)
        }
        out: list[Update | str] = []
        for job in jobs:
            reply = replies.get(self.nodes[job.client_id])
            if reply is None:
                out.append(f"no reply within {self.timeout:g} s")
            elif reply.has_error():
                out.append(f"Flower error {reply.error.code}: {reply.error.reason}")
            else:
                try:
                    out.append(update_from_content(reply.content, job))
                except (KeyError, TypeError, ValueError) as err:  # a malformed reply is a failed client
                    out.append(f"malformed reply: {type(err).__name__}: {err}")
        return out


def serve(
    grid: Grid, cfg: RunConfig, run_dir: Path, command: list[str], resume: bool, launcher: dict
) -> Path:
    """Run (or resume) the run directory's rounds with the grid's SuperNodes as clients;
    `launcher` says how Flower was started (kept in run.json)."""
    info = {"name": "flower", "flwr": version("flwr"), "supernodes": cfg.partition.num_clients, **launcher}

    def engine(cfg: RunConfig, su: Setup) -> FlowerClients:
        return FlowerClients(grid, cfg)

    return execute(cfg, run_dir, command, resume, engine=engine, engine_info=info)


@app.main()
def main(grid: Grid, context: Context) -> None:
    """`flwr run .`: the run config names the suite's config (see task.run_settings)."""
    cfg, out, resume_dir = run_settings(context.run_config)
    command = ["flwr", "run", "--run-config", json.dumps(dict(context.run_config))]
    if resume_dir:
        run_dir = Path(resume_dir)
    else:
        run_dir = new_run_dir(cfg, out or None)
        _write_text_atomic(run_dir / "config.toml", to_toml(cfg))
    serve(grid, cfg, run_dir, command, bool(resume_dir), {"launcher": "flwr run"})
    print(f"report: {write_report(run_dir)}")
    print(run_dir)
