"""Reward fits off the RL thread (paper §2.2: the processes run asynchronously).

The loop starts a fit at a reward update and joins it at the first rollout end at least
``install_lag`` env steps later, so the ensemble trains on the second core while the
agent collects and learns on the first — and the result is installed at the same env
step whatever the timing, which keeps seeded runs reproducible. Between ``start`` and
``join`` nothing else may touch the model: the agent reads a NumPy snapshot of it, and
queries are chosen only after a join. The fit ends by renormalising the members' outputs
(on labelled steps the loop picked when it started the fit), so the agent's thread does
not pay for that forward pass at the install.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import torch

from rlhp.devices import torch_threads
from rlhp.reward.ensemble import RewardEnsemble
from rlhp.reward.surf import UnlabelledPairs
from rlhp.reward.training import Comparisons, FitMetrics, RewardTrainer, agreement


@dataclass(frozen=True)
class FitJob:
    """What one fit is asked to do."""

    data: Comparisons
    fresh: Comparisons | None
    """The labels that arrived since the last fit (their agreement is measured first)."""
    epochs: int
    max_steps: int | None
    env_step: int
    unlabelled: UnlabelledPairs | None = None
    """SURF's pairs nobody labelled."""
    threads: int | None = None
    """torch threads of the fit (None: the run's)."""
    normalize_on: torch.Tensor | None = None
    """Which pairs of ``data`` set the members' output normalisation once the fit is done
    (None: leave it)."""


@dataclass(frozen=True)
class FitResult:
    """One finished fit and what it was fitted on."""

    data: Comparisons
    metrics: FitMetrics
    fresh_accuracy: float
    """Agreement with the labels that arrived since the last fit, measured before fitting."""
    seconds: float
    env_step: int


class Fitter:
    """Runs at most one fit at a time, on a worker thread or (``background=False``) inline."""

    def __init__(
        self, model: RewardEnsemble, trainer: RewardTrainer, refit_inputs: bool, background: bool
    ) -> None:
        self.model = model
        self.trainer = trainer
        self.refit_inputs = refit_inputs
        self._executor = (
            ThreadPoolExecutor(1, thread_name_prefix="rlhp-fit") if background else None
        )
        self._pending: Future[FitResult] | None = None
        self._started_at = 0

    def start(self, job: FitJob) -> None:
        """Begin ``job``; the previous fit must have been joined."""
        if self._pending is not None:
            raise RuntimeError("join the running fit before starting another")
        self._started_at = job.env_step
        if self._executor is None:
            future: Future[FitResult] = Future()
            future.set_result(self._fit(job))
            self._pending = future
        else:
            self._pending = self._executor.submit(self._fit, job)

    @property
    def running(self) -> bool:
        return self._pending is not None

    @property
    def started_at(self) -> int:
        """Env step at which the running fit started."""
        return self._started_at

    def join(self) -> FitResult | None:
        """Wait for the running fit, if any, and return its result."""
        if self._pending is None:
            return None
        pending, self._pending = self._pending, None
        return pending.result()

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)

    def _fit(self, job: FitJob) -> FitResult:
        started, data = time.perf_counter(), job.data
        with torch_threads(job.threads):
            fresh = job.fresh
            fresh_accuracy = agreement(self.model, fresh) if fresh is not None else float("nan")
            if self.refit_inputs:
                self.model.fit_input_normalization(data.obs, data.actions, data.absorbing)
            metrics = self.trainer.fit(data, job.epochs, job.max_steps, job.unlabelled)
        if job.normalize_on is not None:  # at the run's threads: the same sums as an RL update's
            index = job.normalize_on
            with torch.no_grad():
                self.model.fit_output_normalization(
                    data.obs[index].flatten(0, 1),
                    data.actions[index].flatten(0, 1),
                    data.absorbing[index].flatten(0, 1),
                )
        seconds = time.perf_counter() - started
        return FitResult(data, metrics, fresh_accuracy, seconds, job.env_step)
