"""The orchestration: rollouts → segments → queries → labels → reward fit → RL, in a loop.

Read top to bottom in the order it runs:

1. set up (or reload) the run directory, the store, the agent stack and the ensemble;
2. pre-training: roll out the untrained policy, ask the pre-training share of the
   budget, fit the ensemble for ``pretrain_epochs`` (SPEC §6);
3. RL: one ``learn()`` call; at the end of a rollout past each scheduled update step
   the loop asks the labels now due, stores whatever answers have arrived, refits the
   ensemble and refreshes the reward the agent sees; the checkpoint follows when the next
   rollout starts, after SB3 has trained on the one that just ended. With people
   (an ``asynchronous`` labeller) it asks ``ask_ahead`` updates' labels early, and at
   any rollout end with new answers in the store and no fit running it starts a fit.

What one reward update does (ask, collect, fit, install) is ``rlhp.loop.updating``'s;
this module decides when. Only this module logs, writes metrics, checkpoints (what a
checkpoint holds is ``rlhp.loop.checkpoints``'s), or waits.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback
from threadpoolctl import threadpool_limits

from rlhp.config import TrainConfig
from rlhp.devices import resolve_device
from rlhp.labellers.base import Labeller, check_labeller
from rlhp.labellers.factory import LabellerFactory, make_labeller
from rlhp.loop.asking import candidate_pool
from rlhp.loop.checkpoints import read_checkpoint, write_checkpoint
from rlhp.loop.diagnostics import HackingMonitor, hacking_warning, tie_warning
from rlhp.loop.metrics import MetricsSink, read_metrics
from rlhp.loop.progress import RunProgress
from rlhp.loop.run_dir import RunDir
from rlhp.loop.schedule import LabelSchedule, pretrain_epochs_per_fit
from rlhp.loop.updating import RewardUpdater
from rlhp.queries import SelectorFactory
from rlhp.reward.ensemble import RewardEnsemble, make_reward_model
from rlhp.reward.saved import checkpoint, read_saved
from rlhp.rl.agents import build_stack, collect_untrained, probe_env, relabel_replay_buffer
from rlhp.rl.presets import segment_length
from rlhp.rl.rollout_rewards import begin_rollout, settle_rollout
from rlhp.store.labels import LabelStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunSummary:
    """What a finished (or resumed-and-finished) run reports."""

    run_dir: Path
    env_steps: int
    pretrain_env_steps: int
    labels_asked: int
    """Queries asked (what the budget counts)."""
    labels_answered: int
    """Queries answered, skips (can't tell) included."""
    labels_received: int
    """Labels the reward model trains on (left, right or equal)."""
    labels_skipped: int
    """Queries answered only with can't-tell: spent, no label."""
    true_return: float
    wall_time: float


def store_meta(config: TrainConfig) -> dict[str, str]:
    return {"env_id": config.env_id}


class PreferenceLoop:
    """One run: owns every component and the only side effects."""

    def __init__(
        self,
        config: TrainConfig,
        run: RunDir,
        store: LabelStore,
        resume: bool,
        progress: bool,
        labeller_factory: LabellerFactory | None = None,
        selector_factory: SelectorFactory | None = None,
    ) -> None:
        self.config = config
        self.run = run
        self.store = store
        self.resumed = resume
        self.state: dict[str, Any] = run.state() if resume else {}
        torch.set_num_threads(config.torch_threads)
        # numpy's OpenBLAS too: its thread pool gains nothing on these small matrices, and a
        # human run (server, clip worker, fit threads) once hung in its exec_blas
        threadpool_limits(config.torch_threads, user_api="blas")
        torch.manual_seed(config.seed + int(self.state.get("env_steps", 0)))
        obs_space, action_space = probe_env(config)
        self.vector_obs = len(obs_space.shape or ()) == 1
        """State-entropy exploration needs vector observations (not pixels)."""
        names = ("sample_rng", "oracle_rng", "fit_rng", "archive_rng")
        self.rngs = dict(
            zip(names, np.random.default_rng(config.seed).spawn(len(names)), strict=True)
        )
        for key, rng in self.rngs.items():
            if key in self.state:
                rng.bit_generator.state = self.state[key]
        self.sample_rng = self.rngs["sample_rng"]
        self.segment_length = config.queries.segment_length or segment_length(config.env_id)
        self.schedule = LabelSchedule.from_config(config)
        self.pool = candidate_pool(config.queries, self.rngs["archive_rng"])
        self.model: RewardEnsemble | None = None
        if config.reward == "preferences":  # the CNN for image observations, else the MLP
            self.model = make_reward_model(obs_space, action_space, config.reward_model)
            if config.reward_model_file is not None:  # frozen: the saved r̂, exactly
                own = run.reward_checkpoint  # the run's copy, once written
                source = own if resume and own.exists() else config.reward_model_file
                self.model.load_state_dict(read_saved(source).state["model"])
                self.model.eval()
            self.model.to(resolve_device(config.device))
        env_seed = config.seed + int(self.state.get("env_steps", 0))
        self.stack = build_stack(config, self.pool, self.model, env_seed)
        # -- labeller (issue #3): oracle or people; people need clips, clips need states --
        factory = labeller_factory or make_labeller
        self.labeller: Labeller = check_labeller(
            factory(config, store, run.path, self.rngs["oracle_rng"])
        )
        self.stack.wrapper.record_states = bool(self.labeller.needs_states)
        self.answers_land_any_time = bool(self.labeller.asynchronous)
        """Answers arrive between updates (people): fit them as they land."""
        # -- end labeller --
        self.metrics = MetricsSink(run.path)
        self.updater: RewardUpdater | None = None
        if self.model is not None and config.learns_reward:
            self.updater = RewardUpdater(
                config,
                self.model,
                store=store,
                pool=self.pool,
                stack=self.stack,
                labeller=self.labeller,
                # reward-hacking diagnostic (rlhp.loop.diagnostics), history rebuilt on resume
                hacking=HackingMonitor.from_rows(read_metrics(run.path) if resume else []),
                segment_length=self.segment_length,
                fit_rng=self.rngs["fit_rng"],
                sample_rng=self.sample_rng,
                selector=selector_factory(config, self.model) if selector_factory else None,
            )
        self.next_update = 1
        self.checkpoint_due = False
        """An update happened at the last rollout's end; checkpoint at the next start."""
        self.exploring = False
        """PEBBLE exploration is on (set when RL starts)."""
        self.wall_time = float(self.state.get("wall_time", 0.0))
        self.pretrain_env_steps = int(self.state.get("pretrain_env_steps", 0))
        self._started = time.perf_counter()
        self.progress = RunProgress(config.total_timesteps, self.schedule.total, progress)
        if resume:
            self._load_checkpoint()

    # -- running -------------------------------------------------------------------------

    def run_to_end(self) -> RunSummary:
        done = int(self.state.get("env_steps", 0))
        self.progress.steps(done, force=True)
        if self.updater is not None and not self.state.get("pretrained", False):
            self._pretrain()
        remaining = self.config.total_timesteps - done
        # -- PEBBLE exploration: the first explore_steps RL steps (pre-training rollouts excluded) --
        self.exploring = self.updater is not None and done < self.config.agent.explore_steps
        self.stack.wrapper.explore_for(max(0, self.config.agent.explore_steps - done))
        # -- end of PEBBLE exploration set-up --
        if remaining > 0:
            self.stack.model.learn(
                total_timesteps=remaining,
                callback=_LoopCallback(self),
                reset_num_timesteps=not self.resumed,
            )
        if self.updater is not None:
            self._install(self.stack.model.num_timesteps)
            self.updater.fitter.close()
        self._checkpoint(finished=True)
        self.progress.close()
        self.metrics.close()
        self.labeller.close()  # human: clip worker, server
        counts = self.store.counts()
        return RunSummary(
            run_dir=self.run.path,
            env_steps=self.stack.model.num_timesteps,
            pretrain_env_steps=self.pretrain_env_steps,
            labels_asked=counts.pairs,
            labels_answered=counts.answered,
            labels_received=counts.received,
            labels_skipped=counts.skipped,
            true_return=self.stack.wrapper.stats().true_return,
            wall_time=self._elapsed(),
        )

    def _pretrain(self) -> None:
        """Ask the pre-training share about the untrained policy and fit the ensemble.

        The passes are ``reward_model.pretrain_chunks`` fits, each followed by a
        checkpoint; a resumed run goes on after the last finished one (its labels are in
        the store; the pool is refilled from the untrained policy).
        """
        target = self.schedule.pretrain
        min_steps = int(np.clip(self.segment_length * target // 2, 2_000, 10_000))
        self.pretrain_env_steps += collect_untrained(self.stack, min_steps)
        assert self.updater is not None
        reward = self.config.reward_model
        chunks = pretrain_epochs_per_fit(reward.pretrain_epochs, reward.pretrain_chunks)
        done = int(self.state.get("pretrain_fits", 0))
        trainer = self.updater.fitter.trainer
        if done == 0:
            self.updater.fit_input_normalization()
            log.info(
                "pre-training: %d labels from %d steps of the untrained policy; fits on %d threads",
                target,
                self.pretrain_env_steps,
                self.updater.pretrain_threads,
            )
            trainer.on_progress = self.progress.pretraining(1, len(chunks))
            self._update(env_step=0, epochs=chunks[0], wait=True, wait_for=target)
            done = 1
        elif done < len(chunks):
            log.info("pre-training resumes after fit %d of %d", done, len(chunks))
        for fit in range(done, len(chunks)):
            self.state["pretrain_fits"] = fit
            self._checkpoint()
            log.info("pre-training: fit %d of %d (%d passes)", fit + 1, len(chunks), chunks[fit])
            trainer.on_progress = self.progress.pretraining(fit + 1, len(chunks))
            self.updater.fit_new_answers(0, chunks[fit], None, again=True)
            self._install(0)
        trainer.on_progress = None
        self.progress.pretrained()
        self.state["pretrain_fits"] = len(chunks)
        self.state["pretrained"] = True
        self._checkpoint()

    def on_rollout_end(self, env_step: int) -> None:
        updater = self.updater
        if updater is None:
            if env_step >= self.schedule.update_step(self.next_update):
                self._advance_updates(env_step)
                self._log_row(env_step, {})
                self.checkpoint_due = True
            return
        fitter = updater.fitter
        if fitter.running and env_step - fitter.started_at >= self.config.install_lag:
            self._install(env_step)
        if self.config.queries.explore_until_informed and self.vector_obs:  # loop.coverage
            self.stack.wrapper.seek_information(not updater.informed)
        # -- PEBBLE: once exploration ends, the replay buffer gets r̂ at once --
        if self.exploring and env_step >= self.config.agent.explore_steps:
            self.exploring = False
            # the snapshot the agent sees, not the live model a background fit may be training
            relabelled = relabel_replay_buffer(self.stack.model, self.stack.wrapper.reward_fn)
            self._log_row(env_step, {"rl/relabelled": relabelled, "rl/exploration_ended": 1})
        # -- end of PEBBLE --
        if env_step < self.schedule.update_step(self.next_update):
            if self.answers_land_any_time and not fitter.running:
                # people answer while RL runs: their labels reach r̂ now, not next update
                reward = self.config.reward_model
                updater.fit_new_answers(
                    env_step, reward.epochs_per_update, reward.max_steps_per_update
                )
            return
        self._advance_updates(env_step)
        self._update(
            env_step,
            epochs=self.config.reward_model.epochs_per_update,
            max_steps=self.config.reward_model.max_steps_per_update,
            wait_for=self.schedule.due(env_step) if self.config.schedule.wait_for_people else 0,
        )
        self.checkpoint_due = True

    def on_rollout_start(self) -> None:
        """Write the checkpoint an update asked for, now that the agent has learned from
        the rollout that ended there (SB3 trains after the rollout-end callback): a run
        resumed from it goes on with the policy the uninterrupted run has, not the one
        before that rollout's update."""
        if self.checkpoint_due:
            self._checkpoint()

    def _advance_updates(self, env_step: int) -> None:
        while (
            self.next_update <= self.schedule.updates
            and self.schedule.update_step(self.next_update) <= env_step
        ):
            self.next_update += 1

    def on_step(self, env_step: int) -> None:
        self.progress.steps(env_step)

    # -- one reward update ---------------------------------------------------------------

    def _update(
        self,
        env_step: int,
        epochs: int,
        max_steps: int | None = None,
        wait: bool = False,
        wait_for: int = 0,
    ) -> None:
        """Install the fit started last update, ask the labels now due, start the next fit.

        Args:
            wait: join the fit started here before returning (pre-training).
            wait_for: block until this many labels are answered (people: pre-training,
                and every update with ``schedule.wait_for_people``).
        """
        assert self.updater is not None
        installed = self._install(env_step)
        self.updater.ask_due(self.schedule, env_step, self.next_update)
        # -- wait hook (issue #3): pre-training (and wait_for_people) waits for people --
        if wait_for > 0 and self.labeller.asynchronous:
            log.info("waiting until %d labels are answered", wait_for)
            self.labeller.wait_for_answers(wait_for)
        # -- end wait hook --
        new_answers = self.updater.collect()
        ties = tie_warning(new_answers, self.updater.asks_ending_pairs)
        if ties is not None:
            log.warning(ties)
        self.updater.fit_new_answers(env_step, epochs, max_steps, at_once=wait)
        if wait:
            installed = self._install(env_step) or installed
        if not installed:
            self._log_row(env_step, self.updater.label_counts())

    def _install(self, env_step: int) -> bool:
        """Install the running fit once it is done; log it. False if there was none."""
        assert self.updater is not None
        installed = self.updater.install_finished(env_step)
        if installed is None:
            return False
        if installed.hacking.flagged:
            # people, or a rule, may be teaching what the env's reward does not measure
            taught = self.config.feedback == "human" or self.config.rule is not None
            window = self.updater.hacking.window
            log.warning(hacking_warning(installed.hacking, env_step, window, taught))
        self._log_row(env_step, installed.values)
        return True

    # -- persistence -----------------------------------------------------------------------

    def _log_row(self, env_step: int, values: dict[str, Any]) -> None:
        stats = self.stack.wrapper.stats()
        row = {
            "env_step": env_step,
            "rollout/true_return": stats.true_return,
            "rollout/learned_return": stats.learned_return,
            "rollout/episode_length": stats.length,
            "rollout/episodes": stats.episodes,
            "time/wall": self._elapsed(),
            **values,
        }
        self.metrics.write(row)
        labels = ("labels/asked", "labels/received", "labels/skipped")
        counted = tuple(values[k] for k in labels) if labels[0] in values else None
        self.progress.row(stats.true_return, stats.learned_return, counted)

    def _elapsed(self) -> float:
        return self.wall_time + time.perf_counter() - self._started

    def _checkpoint(self, finished: bool = False) -> None:
        published = None
        if self.updater is not None:
            published = self.updater.published
            self.state["last_round"] = self.updater.last_round
        elif self.model is not None and not self.run.reward_checkpoint.exists():
            # a frozen saved model: the run keeps its own copy (evaluate and reuse read it)
            published = checkpoint(
                self.model, self.config.reward_model, self.config.env_id, self.config.atari
            )
        self.state.update(
            env_steps=int(self.stack.model.num_timesteps),
            next_update=self.next_update,
            pretrain_env_steps=self.pretrain_env_steps,
            wall_time=self._elapsed(),
            finished=finished,
            **{k: r.bit_generator.state for k, r in self.rngs.items()},
        )
        write_checkpoint(self.run, self.stack, published, self.state)
        self.checkpoint_due = False

    def _load_checkpoint(self) -> None:
        read_checkpoint(self.run, self.stack, self.updater, self.state)
        self.next_update = int(self.state.get("next_update", 1))


class _LoopCallback(BaseCallback):
    """Hands SB3's step and rollout events to the loop (it reads no locals)."""

    def __init__(self, loop: PreferenceLoop) -> None:
        super().__init__()
        self.loop = loop

    def _on_step(self) -> bool:
        self.loop.on_step(self.model.num_timesteps)
        return True

    def _on_rollout_start(self) -> None:
        self.loop.on_rollout_start()
        begin_rollout(self.loop.stack)

    def _on_rollout_end(self) -> None:
        settle_rollout(self.loop.stack)  # the rollout's r̂, before a fit can be installed
        self.loop.on_rollout_end(self.model.num_timesteps)
