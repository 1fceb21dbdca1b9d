"""`fedocr run --set engine=flower`: the run on Flower's simulation runtime (Ray), in-process.

The ServerApp runs in a thread of this process (it holds the model for evaluation, as the
in-process engine does); one virtual SuperNode per client, `partition-id` = client id; Ray
runs the ClientApps in worker processes sized by the `[flower]` config table.
"""

from __future__ import annotations

from pathlib import Path

import torch

from benchmark.config import ConfigError, RunConfig


def backend_config(cfg: RunConfig) -> dict:
    """Ray resources from the `[flower]` table; refuses settings under which Ray would wait forever."""
    fl = cfg.flower
    if fl.num_gpus_per_client > 0 and torch.cuda.device_count() == 0:
        raise ConfigError(
            f"flower.num_gpus_per_client = {fl.num_gpus_per_client}, but torch sees no CUDA GPU here; "
            "set it to 0 to run the clients on CPU"
        )
    if fl.num_gpus_per_client > 1:
        raise ConfigError(f"flower.num_gpus_per_client = {fl.num_gpus_per_client}: must be at most 1")
    if fl.ray_num_cpus and fl.ray_num_cpus < fl.num_cpus_per_client:
        raise ConfigError(
            f"flower.ray_num_cpus = {fl.ray_num_cpus} is below flower.num_cpus_per_client = "
            f"{fl.num_cpus_per_client}: Ray could not start a single client"
        )
    init_args: dict = {"include_dashboard": False}
    if fl.ray_num_cpus:
        init_args["num_cpus"] = fl.ray_num_cpus
    return {
        "client_resources": {"num_cpus": fl.num_cpus_per_client, "num_gpus": fl.num_gpus_per_client},
        "init_args": init_args,
    }


def simulate(cfg: RunConfig, run_dir: Path, command: list[str] | None, resume: bool) -> Path:
    """Run (or resume) `run_dir` on Flower's simulation runtime; returns the run directory."""
    import ray
    from flwr.app import Context
    from flwr.serverapp import Grid, ServerApp
    from flwr.simulation import run_simulation

    from benchmark.flower.client_app import app as client_app
    from benchmark.flower.server_app import serve

    resources = backend_config(cfg)
    server_app = ServerApp()

    @server_app.main()
    def main(grid: Grid, context: Context) -> None:
        launcher = {"launcher": "fedocr run (flwr run_simulation, Ray)", "ray": resources}
        serve(grid, cfg, run_dir, list(command or []), resume, launcher)

    try:
        # Re-raises what the ServerApp raised (a config or data error, say) after Ray stops.
        run_simulation(
            server_app=server_app,
            client_app=client_app,
            num_supernodes=cfg.partition.num_clients,
            backend_config=resources,
        )
    finally:
        if ray.is_initialized():
            ray.shutdown()  # Ray's workers would otherwise hold their memory until this process ends
    if not (run_dir / "run.json").exists():
        raise RuntimeError(f"the Flower simulation stopped before the run finished; see {run_dir}")
    return run_dir
