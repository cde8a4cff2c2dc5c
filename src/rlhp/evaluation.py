"""Evaluating a run: the policy's true return, and how well r̂ tracks the true reward."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from stable_baselines3.common.evaluation import evaluate_policy

from rlhp.loop.run_dir import RunDir
from rlhp.reward.ensemble import RewardEnsemble, make_reward_model
from rlhp.rl.agents import build_stack, load_agent, probe_env
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

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def evaluate(run_dir: Path | str, episodes: int = 20) -> Evaluation:
    """Run ``episodes`` deterministic episodes of the trained policy on the true reward."""
    run = RunDir.open(Path(run_dir))
    config = run.config()
    if not run.agent_checkpoint.exists():
        raise FileNotFoundError(f"{run.path} has no agent checkpoint yet; train it first")
    store = LabelStore.open(run.store_location, expect={"env_id": config.env_id})
    obs_space, action_space = probe_env(config)
    stack = build_stack(config, EpisodePool(1), None, env_seed=config.seed + EVAL_SEED_OFFSET)
    load_agent(stack, run.agent_checkpoint)
    stack.wrapper.explore_for(0)  # never PEBBLE-explore while evaluating
    if stack.normalize is not None:
        stack.normalize.training = False
        stack.normalize.norm_reward = False
    venv = stack.model.get_env()
    assert venv is not None
    returns, _ = evaluate_policy(
        stack.model, venv, n_eval_episodes=episodes, deterministic=True, return_episode_rewards=True
    )
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
    )


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
