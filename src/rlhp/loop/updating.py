"""The reward half of the loop: ask the labels due, store the answers, fit, install r̂.

``RewardUpdater`` owns everything a reward update touches: the ensemble's trainer and
fitter, the query selector, the labelled data read back from the store, and the state
the agent currently sees. Its methods return what happened (answers, metric values, the
reward-hacking check); the loop (``rlhp.loop.trainer``) decides when to call them and
does the logging, the waiting and the checkpoints.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from rlhp.config import TrainConfig
from rlhp.labellers.base import Answer, Labeller
from rlhp.loop.asking import ask_pairs
from rlhp.loop.diagnostics import HackingCheck, HackingMonitor
from rlhp.loop.fitting import Fitter
from rlhp.loop.labelled import LabelledData
from rlhp.loop.schedule import LabelSchedule
from rlhp.queries import make_selector
from rlhp.reward.ensemble import RewardEnsemble
from rlhp.reward.training import Comparisons, RewardTrainer
from rlhp.rl.agents import AgentStack, relabel_replay_buffer
from rlhp.rl.reward_scale import carry_return_scale
from rlhp.segments import EpisodePool, Segment
from rlhp.stats import pearson
from rlhp.store import LabelStore

DIAGNOSTIC_SEGMENTS = 128
"""Recent segments sampled from the pool for the learned/true return correlation."""
NORMALIZATION_PAIRS = 512
"""Labelled pairs (at most) whose steps set each member's output normalisation."""


@dataclass(frozen=True)
class Installed:
    """A fit that became the reward the agent sees."""

    values: dict[str, Any]
    """Metric row values (``reward/…``, ``labels/…``, ``diagnostics/…``)."""
    hacking: HackingCheck


class RewardUpdater:
    """Asks, collects, fits and installs; one per preference run."""

    def __init__(
        self,
        config: TrainConfig,
        model: RewardEnsemble,
        *,
        store: LabelStore,
        pool: EpisodePool,
        stack: AgentStack,
        labeller: Labeller,
        hacking: HackingMonitor,
        segment_length: int,
        fit_rng: np.random.Generator,
        sample_rng: np.random.Generator,
    ) -> None:
        self.config = config
        self.model = model
        self.store = store
        self.pool = pool
        self.stack = stack
        self.labeller = labeller
        self.hacking = hacking
        self.segment_length = segment_length
        self.sample_rng = sample_rng
        self.trainer = RewardTrainer(model, config.reward_model, fit_rng)
        self.fitter = Fitter(
            model,
            self.trainer,
            config.reward_model.refit_inputs,
            config.reward_model.background_fit,
        )
        self.selector = make_selector(config.queries.selector, model)
        self.labelled = LabelledData(store, config.reward_model.max_labels)
        self.answers_fitted = 0
        """Answers in the store when the last fit started."""
        self.published: dict[str, Any] | None = None
        """The reward model state the agent currently sees (what a checkpoint saves)."""

    # -- asking and collecting -------------------------------------------------------------

    def ask_due(self, schedule: LabelSchedule, env_step: int, next_update: int) -> None:
        """Ask every label due by update ``next_update`` (plus ``ask_ahead``) not yet asked."""
        due = schedule.due_ahead(env_step, next_update, self.config.ask_ahead)
        wanted = due - self.store.counts().pairs
        if wanted > 0:
            ask_pairs(
                wanted,
                pool=self.pool,
                selector=self.selector,
                store=self.store,
                labeller=self.labeller,
                segment_length=self.segment_length,
                oversampling=self.config.queries.oversampling,
                env_step=env_step,
                round_index=next_update - 1,
                selector_name=self.config.queries.selector,
                rng=self.sample_rng,
            )

    def collect(self) -> list[Answer]:
        """Store the answers that arrived since the last call and return them."""
        answers = self.labeller.collect()
        self.store.record_answers(answers)
        return answers

    # -- fitting and installing ------------------------------------------------------------

    def fit_new_answers(self, env_step: int, epochs: int, max_steps: int | None) -> None:
        """Start a fit if answers arrived since the last one (none new: r̂ stays as it is)."""
        answers = self.store.counts().answers
        if answers > self.answers_fitted:
            self.answers_fitted = answers
            data, fresh = self.labelled.comparisons()
            if data is not None:
                self.fitter.start(data, fresh, epochs, max_steps, env_step)

    def install_finished(self, env_step: int) -> Installed | None:
        """Join the running fit and make it the reward the agent sees; None if none ran."""
        result = self.fitter.join()
        if result is None:
            return None
        correlation = self.refresh_reward(result.data)
        relabelled = relabel_replay_buffer(
            self.stack.model, self.model, self.config.reward_model.pessimism
        )
        self.published = {
            "model": {k: v.clone() for k, v in self.model.state_dict().items()},
            "optimizer": copy.deepcopy(self.trainer.optimizer.state_dict()),
            "l2": self.trainer.l2.clone(),
        }
        fit = result.metrics
        stats = self.stack.wrapper.stats()
        hacking = self.hacking.update(correlation, stats.learned_return, stats.true_return)
        values = {
            **self.label_counts(),
            "reward/fitted_at_step": result.env_step,
            "reward/fitted_on": len(result.data),
            "reward/fresh_accuracy": result.fresh_accuracy,
            "reward/val_accuracy": fit.val_accuracy,
            "reward/train_loss": fit.train_loss,
            "reward/val_loss": fit.val_loss,
            "reward/l2": fit.l2,
            "reward/return_correlation": correlation,
            "reward/absorbing_value": self.model.absorbing_value(),
            "time/fit_seconds": result.seconds,
            "rl/relabelled": relabelled,
            "diagnostics/reward_hacking": int(hacking.flagged),
            "diagnostics/correlation_change": hacking.correlation_change,
            "diagnostics/true_return_change": hacking.true_return_change,
        }
        return Installed(values, hacking)

    def label_counts(self) -> dict[str, Any]:
        counts = self.store.counts()
        return {
            "labels/asked": counts.pairs,
            "labels/answered": counts.answered,
            "labels/trainable": counts.trainable,
            "labels/equal": counts.equal,
            "labels/cant_tell": counts.cant_tell,
        }

    def fit_input_normalization(self) -> None:
        """Standardise the members' inputs on a sample of the pool (before the first fit)."""
        try:
            segments, _ = self.pool.sample(
                DIAGNOSTIC_SEGMENTS, self.segment_length, self.sample_rng
            )
        except ValueError:
            return
        self.model.fit_input_normalization(*map(torch.as_tensor, _stacked(segments)))

    @torch.no_grad()
    def refresh_reward(self, data: Comparisons) -> float:
        """Renormalise the members; return corr(learned, true) of recent segment returns.

        The normalisation statistics come from the labelled segments alone (every phase
        of the run, absorbing steps included): a reference that changes only as labels
        arrive, so the reward's scale does not swing with what the policy happens to be
        doing (a sample of recent segments moved CartPole's alive/absorbing gap 3× between
        two updates and cost a seed its convergence).
        """
        pick = self.sample_rng.permutation(len(data))[:NORMALIZATION_PAIRS]
        index = torch.as_tensor(np.sort(pick))
        self.model.fit_output_normalization(
            data.obs[index].flatten(0, 1),
            data.actions[index].flatten(0, 1),
            data.absorbing[index].flatten(0, 1),
        )
        old_fn = self.stack.wrapper.refresh_reward()
        try:
            segments, truth = self.pool.sample(
                DIAGNOSTIC_SEGMENTS, self.segment_length, self.sample_rng
            )
        except ValueError:
            return float("nan")
        obs, actions, absorbing = _stacked(segments)
        if self.stack.normalize is not None and self.stack.wrapper.reward_fn is not None:
            carry_return_scale(
                self.stack.normalize,
                old_fn,
                self.stack.wrapper.reward_fn,
                obs[~absorbing],
                actions[~absorbing],
            )
        correlation = pearson(self.model.segment_returns(segments), truth.sum(axis=1))
        return float("nan") if correlation is None else correlation

    # -- persistence -------------------------------------------------------------------------

    def load(self, saved: dict[str, Any]) -> None:
        """Restore a checkpoint's reward model (the state the agent saw when it was written)."""
        self.model.load_state_dict(saved["model"])
        self.trainer.optimizer.load_state_dict(saved["optimizer"])
        self.trainer.l2 = saved["l2"]
        self.published = saved
        self.stack.wrapper.refresh_reward()


def _stacked(segments: list[Segment]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Observations ``(N, T, *obs)``, actions ``(N, T, *act)`` and absorbing flags ``(N, T)``."""
    return (
        np.stack([s.obs for s in segments]),
        np.stack([s.actions for s in segments]),
        np.stack([s.absorbing for s in segments]),
    )
