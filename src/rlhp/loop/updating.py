"""The reward half of the loop: ask the labels due, store the answers, fit, install r̂.

``RewardUpdater`` owns everything a reward update touches: the ensemble's trainer and
fitter, the query selector, the labelled data read back from the store, and the state
the agent currently sees. Its methods return what happened (answers, metric values, the
reward-hacking check); the loop (``rlhp.loop.trainer``) decides when to call them and
does the logging, the waiting and the checkpoints.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from rlhp.config import TrainConfig
from rlhp.devices import usable_cores
from rlhp.labellers.base import Answer, Labeller
from rlhp.loop.asking import ask_pairs
from rlhp.loop.coverage import TIE_SHARE, ending_pairs_inform, round_verdict
from rlhp.loop.diagnostics import HackingCheck, HackingMonitor
from rlhp.loop.fitting import FitJob, Fitter
from rlhp.loop.labelled import LabelledData
from rlhp.loop.schedule import LabelSchedule
from rlhp.queries import QuerySelector, make_selector
from rlhp.reward.ensemble import RewardEnsemble
from rlhp.reward.frozen import pessimistic_reward
from rlhp.reward.saved import checkpoint
from rlhp.reward.surf import UnlabelledPairs
from rlhp.reward.training import RewardTrainer
from rlhp.rl.agents import AgentStack, relabel_replay_buffer
from rlhp.rl.reward_scale import carry_return_scale
from rlhp.segments import EpisodePool, stack_segments
from rlhp.stats import pearson
from rlhp.store.labels import LabelStore

DIAGNOSTIC_SEGMENTS = 128
"""Recent segments sampled from the pool for the learned/true return correlation."""


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
        selector: QuerySelector | None = None,
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
        self.trainer = RewardTrainer(model, config.reward_model, fit_rng, holdout_seed=config.seed)
        self.fitter = Fitter(
            model,
            self.trainer,
            config.reward_model.refit_inputs,
            config.reward_model.background_fit,
        )
        self.selector = selector or make_selector(config.queries.selector, model)
        """The query selector: ``selector`` if given (the Python API's own), else built-in."""
        self.selector_name = (
            config.queries.selector
            if selector is None
            else str(getattr(selector, "name", type(selector).__name__))
        )
        self.labelled = LabelledData(
            store,
            config.reward_model.max_labels,
            with_returns=config.reward_model.target == "returns",
            expected_pairs=config.schedule.labels,
        )
        self.answers_fitted = 0
        """Answers in the store when the last fit started."""
        self.last_round: tuple[bool, float] | None = None
        """(informative, tie share) of the last round that got answers (``coverage``)."""
        self.banked = 0
        """Labels due but held back at the last ask, because rounds were uninformative."""
        self._informed = False
        self.published: dict[str, Any] | None = None
        """The reward model state the agent currently sees (what a checkpoint saves)."""

    # -- asking and collecting -------------------------------------------------------------

    @property
    def asks_ending_pairs(self) -> bool:
        """Whether a round of ties is followed by episode-end pairs (``rlhp.loop.coverage``):
        not when ending an episode is worth nothing to the agent (``episode_ends``)."""
        return (
            self.config.agent.episode_ends == "absorbing" and self.config.queries.ending_share > 0
        )

    def ask_due(self, schedule: LabelSchedule, env_step: int, next_update: int) -> None:
        """Ask every label due by update ``next_update`` (plus ``ask_ahead``) not yet asked."""
        due = schedule.due_ahead(env_step, next_update, self.config.ask_ahead)
        wanted = due - self.store.counts().pairs
        queries = self.config.queries
        ending_share, self.banked = 0.0, 0
        if self.last_round is not None:
            informative, ties = self.last_round
            if (
                self.asks_ending_pairs
                and ties >= TIE_SHARE
                and (
                    not queries.ending_stop_when_tied
                    or ending_pairs_inform(self.store.ties_by_selector())
                )
            ):
                ending_share = queries.ending_share
            if not informative and queries.bank_uninformative and wanted > queries.probe_pairs:
                self.banked, wanted = wanted - queries.probe_pairs, queries.probe_pairs
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
                selector_name=self.selector_name,
                rng=self.sample_rng,
                ending_share=ending_share,
                history_share=queries.history_share,
            )

    def collect(self) -> list[Answer]:
        """Store the answers that arrived since the last call and return them.

        They are also this round's verdict: whether the next asks bank labels or ask
        about episode ends (``rlhp.loop.coverage``).
        """
        answers = self.labeller.collect()
        self.store.record_answers(answers)
        verdict = round_verdict(answers)
        if verdict is not None:
            self.last_round = verdict
        return answers

    # -- fitting and installing ------------------------------------------------------------

    def fit_new_answers(
        self,
        env_step: int,
        epochs: int,
        max_steps: int | None,
        at_once: bool = False,
        again: bool = False,
    ) -> None:
        """Start a fit if ``reward_model.min_new_answers`` answers arrived since the last
        one (fewer: r̂ stays as it is, and they wait for the next); any new answer will do
        ``at_once`` (pre-training) or once the whole budget has been asked, and none
        ``again`` (pre-training's later passes over the same labels). Pre-training's fits
        (``at_once``, ``again``) use ``reward_model.pretrain_threads``: the agent waits."""
        counts = self.store.counts()
        all_asked = counts.pairs >= self.config.schedule.labels
        if again:
            minimum = 0
        elif at_once or all_asked:
            minimum = 1
        else:
            minimum = self.config.reward_model.min_new_answers
        threads = self.pretrain_threads if at_once or again else None
        answers = counts.answers
        if answers - self.answers_fitted >= minimum:
            self.answers_fitted = answers
            data, fresh = self.labelled.comparisons()
            if data is not None:
                surf = self.config.reward_model.surf
                unlabelled = (  # SURF: pairs nobody labelled, cut now (the pool is ours here)
                    UnlabelledPairs.sample(
                        self.pool, surf.unlabelled_pairs, self.segment_length, self.sample_rng
                    )
                    if surf.enabled
                    else None
                )
                pick = self.normalization_pick(len(data))
                self.fitter.start(
                    FitJob(data, fresh, epochs, max_steps, env_step, unlabelled, threads, pick)
                )

    def install_finished(self, env_step: int) -> Installed | None:
        """Join the running fit and make it the reward the agent sees; None if none ran."""
        joined = time.perf_counter()
        result = self.fitter.join()
        if result is None:
            return None
        waited = time.perf_counter() - joined
        correlation = self.refresh_reward()
        relabelled = relabel_replay_buffer(self.stack.model, self.stack.wrapper.reward_fn)
        self.published = checkpoint(
            self.model,
            self.config.reward_model,
            self.config.env_id,
            self.config.atari,
            optimizer=copy.deepcopy(self.trainer.optimizer.state_dict()),
            l2=self.trainer.l2.clone(),
        )
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
            "time/fit_wait_seconds": waited,
            "rl/relabelled": relabelled,
            "diagnostics/reward_hacking": int(hacking.flagged),
            "diagnostics/correlation_change": hacking.correlation_change,
            "diagnostics/true_return_change": hacking.true_return_change,
        }
        return Installed(values, hacking)

    @property
    def pretrain_threads(self) -> int:
        """torch threads of pre-training's fits (``reward_model.pretrain_threads``)."""
        return self.config.reward_model.pretrain_threads or usable_cores()

    @property
    def informed(self) -> bool:
        """Some answer has preferred one segment of a pair (not only ties): r̂ can say
        something. Once true, it stays true."""
        if not self._informed:
            counts = self.store.counts()
            self._informed = counts.answers - counts.equal - counts.cant_tell > 0
        return self._informed

    def label_counts(self) -> dict[str, Any]:
        counts = self.store.counts()
        return {
            "labels/asked": counts.pairs,
            "labels/answered": counts.answered,
            "labels/received": counts.received,
            "labels/skipped": counts.skipped,
            "labels/banked": self.banked,
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
        self.model.fit_input_normalization(*map(torch.as_tensor, stack_segments(segments)))

    def normalization_pick(self, pairs: int) -> torch.Tensor:
        """Which of a fit's ``pairs`` labelled pairs set the members' output normalisation
        when the fit ends (``Fitter``).

        The statistics come from labelled segments alone (every phase of the run,
        absorbing steps included): a reference that changes only as labels arrive, so the
        reward's scale does not swing with what the policy happens to be doing (a sample
        of recent segments moved CartPole's alive/absorbing gap 3× between two updates and
        cost a seed its convergence). Drawn when the fit starts, which is the same place
        in ``sample_rng``'s stream as the install it used to be drawn at: nothing draws
        from it while a fit runs (queries are chosen after the join).
        """
        pick = self.sample_rng.permutation(pairs)[: self.model.normalization_pairs]
        return torch.as_tensor(np.sort(pick))

    @torch.no_grad()
    def refresh_reward(self) -> float:
        """Give the agent the fitted (and renormalised) members; return corr(learned,
        true) of recent segment returns.

        The new reward is evaluated once on the recent segments' steps, by the agent's
        snapshot: its members' advantages give both the agent's reward there (whose size
        ``carry_return_scale`` follows) and r̂ for the correlation (the members' mean, less
        a constant per step, which a correlation does not see)."""
        old_fn = self.stack.wrapper.refresh_reward()
        new_fn = self.stack.wrapper.reward_fn
        try:
            segments, truth = self.pool.sample(
                DIAGNOSTIC_SEGMENTS, self.segment_length, self.sample_rng
            )
        except ValueError:
            return float("nan")
        if new_fn is None:  # no model: nothing to compare
            return float("nan")
        obs, actions, absorbing = stack_segments(segments)
        alive = ~absorbing
        members = new_fn.advantages(obs[alive], actions[alive])  # (K, alive steps)
        if self.stack.normalize is not None:
            agent = pessimistic_reward(members, new_fn.pessimism)  # = new_fn(obs, actions)
            carry_return_scale(self.stack.normalize, old_fn, agent, obs[alive], actions[alive])
        learned = np.full(absorbing.shape, self.model.absorbing_value() - self.model.agent_offset())
        learned[alive] = members.mean(axis=0)
        correlation = pearson(learned.sum(axis=1), truth.sum(axis=1))
        return float("nan") if correlation is None else correlation

    # -- persistence -------------------------------------------------------------------------

    def load(self, saved: dict[str, Any]) -> None:
        """Restore a checkpoint's reward model (the state the agent saw when it was written).

        A checkpoint without the trainer's state (``rlhp reward fit`` writes weights and
        L2 only) starts a fresh optimiser, and the initial L2 where none was saved.
        """
        self.model.load_state_dict(saved["model"])
        if "optimizer" in saved:
            self.trainer.optimizer.load_state_dict(saved["optimizer"])
        if "l2" in saved:
            self.trainer.l2 = saved["l2"]
        self.published = saved
        self.stack.wrapper.refresh_reward()
