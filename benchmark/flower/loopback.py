"""A Flower deployment on this machine: a SuperLink and N SuperNodes as separate processes on
127.0.0.1, each SuperNode bound to one client (`partition-id`), and `flwr run` against them.

    python -m benchmark.flower.loopback --supernodes 4 \\
        --run-config "preset='smoke' out='/abs/path/run-dir'"

`--supernodes` must equal the run's `partition.num_clients` (the smoke preset has 4).

It is the deployment runtime with every component on loopback: connections are `--insecure`
(no TLS), which is only acceptable because nothing leaves 127.0.0.1. Every process it starts
is stopped when it returns, also on failure or Ctrl-C. Flower's state goes to a FLWR_HOME
under --workdir (never ~/.flwr).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

HOST = "127.0.0.1"
PROJECT_DIR = Path(__file__).resolve().parents[2]  # the Flower app: pyproject.toml [tool.flwr.app]
CONNECTION = "loopback"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@dataclass
class Federation:
    address: str  # the SuperLink's Fleet, Control and Runtime APIs (one HTTP port)
    env: dict[str, str]  # FLWR_HOME (holding the `loopback` connection) and PATH for flwr commands
    workdir: Path  # the SuperLink's working directory: relative run directories land here
    logs: list[Path]
    procs: list[subprocess.Popen]  # the SuperLink and the SuperNodes, in that order


def _start(command: list[str], env: dict, workdir: Path, log: Path) -> subprocess.Popen:
    with open(log, "w") as out:  # the child keeps its own copy of the file descriptor
        # A session (process group) of its own, so that stopping it reaches its children too.
        return subprocess.Popen(
            command, cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _stop(procs: list[subprocess.Popen]) -> None:
    """Stop the processes, their process groups and every descendant (Flower's SuperExec and
    app processes start sessions of their own)."""
    family: list[psutil.Process] = []
    for proc in procs:
        try:
            family += [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            pass
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for proc in procs:
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                pass
        for member in family:
            try:
                member.send_signal(sig)
            except psutil.NoSuchProcess:
                pass
        _, alive = psutil.wait_procs(family, timeout=10)
        if not alive:
            break
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


def _wait_healthy(address: str, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"flower-superlink exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://{address}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the SuperLink did not answer on {address} within {timeout:g} s")


@contextmanager
def loopback_federation(supernodes: int, workdir: Path, timeout: float = 120) -> Iterator[Federation]:
    """A SuperLink and `supernodes` SuperNodes (partition ids 0..N-1) on 127.0.0.1."""
    workdir.mkdir(parents=True, exist_ok=True)
    bin_dir = str(Path(sys.executable).parent)  # the SuperLink starts flower-superexec by name
    env = {
        **os.environ,
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
        "FLWR_HOME": str(workdir / "flwr-home"),
        # A local test calls no one: no usage telemetry, no update check (both on by default).
        "FLWR_TELEMETRY_ENABLED": os.environ.get("FLWR_TELEMETRY_ENABLED", "0"),
        "FLWR_DISABLE_UPDATE_CHECK": os.environ.get("FLWR_DISABLE_UPDATE_CHECK", "1"),
    }
    port = free_port()
    address = f"{HOST}:{port}"
    (workdir / "flwr-home").mkdir(exist_ok=True)
    (workdir / "flwr-home" / "config.toml").write_text(
        f'[superlink]\ndefault = "{CONNECTION}"\n\n[superlink.{CONNECTION}]\naddress = "{address}"\ninsecure = true\n'
    )
    procs: list[subprocess.Popen] = []
    logs = [workdir / "superlink.log"]
    try:
        superlink = _start(
            [
                f"{bin_dir}/flower-superlink",
                "--insecure",  # loopback only; see README "Scale out with Flower" for TLS
                "--disable-runtime-dependency-installation",  # apps run in this environment
                "--host",
                HOST,
                "--port",
                str(port),
            ],
            env,
            workdir,
            logs[0],
        )
        procs.append(superlink)
        _wait_healthy(address, superlink, logs[0], timeout)
        for pid in range(supernodes):
            logs.append(workdir / f"supernode-{pid}.log")
            procs.append(
                _start(
                    [
                        f"{bin_dir}/flower-supernode",
                        "--insecure",
                        "--superlink",
                        address,
                        "--node-config",
                        f"partition-id={pid} num-partitions={supernodes}",
                        "--host",  # the SuperNode's own Runtime API, for its ClientApp processes
                        HOST,
                        "--port",
                        str(free_port()),
                    ],
                    env,
                    workdir,
                    logs[-1],
                )
            )
        yield Federation(address, env, workdir, logs, procs)
    finally:
        _stop(procs)


def flwr_run(fed: Federation, run_config: str, timeout: float) -> subprocess.CompletedProcess:
    """`flwr run` of this project on the federation, waiting for the run to end (--stream)."""
    command = [f"{Path(sys.executable).parent}/flwr", "run", str(PROJECT_DIR), CONNECTION, "--stream"]
    if run_config:
        command += ["--run-config", run_config]
    with open(fed.workdir / "flwr-run.log", "w") as log, ExitStack() as stack:
        proc = subprocess.Popen(
            command, env=fed.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        stack.callback(_stop, [proc])
        proc.wait(timeout=timeout)
    return subprocess.CompletedProcess(command, proc.returncode, (fed.workdir / "flwr-run.log").read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmark.flower.loopback", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--supernodes", type=int, default=4, help="SuperNodes, one per client: partition.num_clients"
    )
    parser.add_argument(
        "--run-config",
        default="",
        help="flwr run config, e.g. \"preset='smoke' set='federation.rounds=1' out='/abs/run-dir'\"",
    )
    parser.add_argument(
        "--workdir",
        default="runs/flower-loopback",
        help="logs, Flower state, and relative run directories (default: runs/flower-loopback)",
    )
    parser.add_argument("--timeout", type=float, default=3600, help="seconds the run may take")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the federation on `kill` too
    workdir = Path(args.workdir).resolve()
    with loopback_federation(args.supernodes, workdir) as fed:
        print(f"SuperLink on {fed.address}, {args.supernodes} SuperNodes; logs in {workdir}", file=sys.stderr)
        result = flwr_run(fed, args.run_config, args.timeout)
        print(result.stdout)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
