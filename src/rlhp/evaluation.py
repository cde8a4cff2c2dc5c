"""Evaluating a run: the policy's true return, and how well r̂ tracks the true reward."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.evaluation import evaluate_policy

from rlhp.loop.run_dir import RunDir
from rlhp.reward.ensemble import RewardEnsemble, make_reward_model
from rlhp.rl.agents import build_stack, load_agent, probe_env
from rlhp.rl.atari import evaluation_is_deterministic
from rlhp.rl.presets import hidden_terms
from rlhp.segments import EpisodePool
from rlhp.stats import pearson, ranks
from rlhp.store.labels import LabelStore

EVAL_SEED_OFFSET = 10_000
"""Evaluation episodes are seeded apart from every training seed."""


@dataclass(frozen=True)
class Evaluation:
    """The result of ``rlhp evaluate``."""

    env_id: str
    episodes: int
    true_return_mean: float
    true_return_std: float
    labels_used: int
    """Labels received: pairs with an answer the reward model trains on."""
    labels_asked: int
    """Queries asked (the budget)."""
    labels_skipped: int
    """Queries answered only with can't-tell (spent, no label)."""
    timesteps: int
    reward: str
    segments_compared: int
    return_pearson: float | None
    """Pearson correlation of learned and true returns over the stored segments."""
    return_spearman: float | None
    """Spearman rank correlation of the same."""
    return_terms: dict[str, float] = dataclasses.field(default_factory=dict)
    """Per-episode mean of each ``reward_*`` term the env reports in ``info`` (MuJoCo:
    ``reward_forward``, ``reward_ctrl``, …); empty for envs without them."""
    visible_return_mean: float | None = None
    """The true return less the oracle's hidden terms: the return the oracle judged by.
    Equal to ``true_return_mean`` when nothing is hidden."""
    deterministic: bool = True
    """The policy's most likely actions (True) or sampled ones (False)."""

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def evaluate(
    run_dir: Path | str, episodes: int = 20, deterministic: bool | None = None
) -> Evaluation:
    """Run ``episodes`` episodes of the trained policy on the true reward.

    ``deterministic``: the policy's most likely action at each step (True) or a sampled
    one (False); None: the task's convention (``evaluation_is_deterministic``)."""
    run = RunDir.open(Path(run_dir))
    config = run.config()
    if deterministic is None:
        deterministic = evaluation_is_deterministic(config.env_id)
    if not run.agent_checkpoint.exists():
        raise FileNotFoundError(f"{run.path} has no agent checkpoint yet; train it first")
    store = LabelStore.open(run.store_location, expect={"env_id": config.env_id}, checked=True)
    obs_space, action_space = probe_env(config)
    stack = build_stack(config, EpisodePool(1), None, env_seed=config.seed + EVAL_SEED_OFFSET)
    load_agent(stack, run.agent_checkpoint)
    stack.wrapper.explore_for(0)  # never PEBBLE-explore while evaluating
    if stack.normalize is not None:
        stack.normalize.training = False
        stack.normalize.norm_reward = False
    venv = stack.model.get_env()
    assert venv is not None
    terms = _EpisodeTerms()
    returns, _ = evaluate_policy(
        stack.model,
        venv,
        n_eval_episodes=episodes,
        deterministic=deterministic,
        return_episode_rewards=True,
        callback=terms,
    )
    return_terms = terms.means()
    hidden = sum(return_terms.get(term, 0.0) for term in hidden_terms(config))
    try:
        counts = store.counts()
        pearson, spearman, compared = None, None, 0
        if config.reward == "preferences" and run.reward_checkpoint.exists():
            model = make_reward_model(obs_space, action_space, config.reward_model)
            model.load_state_dict(
                torch.load(run.reward_checkpoint, weights_only=True, map_location="cpu")["model"]
            )
            pearson, spearman, compared = _return_correlation(model, store)
    finally:
        store.close()
    return Evaluation(
        env_id=config.env_id,
        episodes=episodes,
        true_return_mean=float(np.mean(returns)),
        true_return_std=float(np.std(returns)),
        labels_used=counts.received,
        labels_asked=counts.pairs,
        labels_skipped=counts.skipped,
        timesteps=int(stack.model.num_timesteps),
        reward=config.reward,
        segments_compared=compared,
        return_pearson=pearson,
        return_spearman=spearman,
        return_terms=return_terms,
        visible_return_mean=float(np.mean(returns)) - hidden,
        deterministic=deterministic,
    )


class _EpisodeTerms:
    """``evaluate_policy``'s step callback: sums each episode's ``reward_*`` info terms.

    A reward's parts tell a policy that optimises what the oracle saw (e.g. reaching at
    full torque while the torque cost is hidden) from one that learned nothing.
    """

    def __init__(self) -> None:
        self.running: dict[int, dict[str, float]] = {}
        self.episodes: list[dict[str, float]] = []

    def __call__(self, local: dict[str, Any], _globals: dict[str, Any]) -> None:
        info, i = local["info"], local["i"]
        totals = self.running.setdefault(i, {})
        for key, value in info.items():
            if key.startswith("reward_") and isinstance(value, (int, float, np.number)):
                totals[key] = totals.get(key, 0.0) + float(value)
        # evaluate_policy counts an episode at a Monitor's episode end (not a life lost)
        if local["done"] and ("episode" in info or not local.get("is_monitor_wrapped")):
            self.episodes.append(self.running.pop(i))

    def means(self) -> dict[str, float]:
        keys = sorted({key for episode in self.episodes for key in episode})
        return {key: float(np.mean([e.get(key, 0.0) for e in self.episodes])) for key in keys}


@torch.no_grad()
def _return_correlation(
    model: RewardEnsemble, store: LabelStore
) -> tuple[float | None, float | None, int]:
    model.eval()
    ids = store.segment_ids()
    if len(ids) < 3:
        return None, None, len(ids)
    true = np.array([store.true_rewards(i).sum() for i in ids])
    learned = model.segment_returns([store.segment(i) for i in ids])
    return pearson(learned, true), pearson(ranks(learned), ranks(true)), len(ids)
