"""Injectable client faults, for testing that a benchmark survives them.

Every decision is drawn from a generator seeded by (seed, round, client), so a faulty run
is as reproducible as a clean one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FAULT_KINDS = ("dropout", "crash", "nan", "straggler")


class ClientCrash(RuntimeError):
    """An injected crash in the middle of local training."""


@dataclass(frozen=True)
class FaultPlan:
    dropout: bool = False  # the client never answers (no compute is spent)
    crash_at_step: int | None = None  # the client raises at this local step
    nan: bool = False  # the client's update is poisoned with NaN
    slowdown: float = 1.0  # the client's (simulated) duration multiplier

    @property
    def any(self) -> bool:
        return self.dropout or self.crash_at_step is not None or self.nan or self.slowdown != 1.0


def draw_faults(
    faults_cfg, seed: int, round_num: int, client_id: int, local_steps: int, attempt: int = 1
) -> FaultPlan:
    """Decide which faults hit this client in this round (and this retry of the round)."""
    rng = np.random.default_rng([seed, round_num, client_id, attempt, 7919])
    u = rng.random(4)
    return FaultPlan(
        dropout=bool(u[0] < faults_cfg.dropout_prob),
        crash_at_step=int(rng.integers(max(local_steps, 1))) if u[1] < faults_cfg.crash_prob else None,
        nan=bool(u[2] < faults_cfg.nan_prob),
        slowdown=faults_cfg.straggler_slowdown if u[3] < faults_cfg.straggler_prob else 1.0,
    )
