"""Presets for pixel environments: any ``ALE/<Game>-v5`` (the paper's seven games get
the same defaults as every other) and ``MinAtar/<Game>-v1``.

Agents: PPO with rl-baselines3-zoo's Atari settings (``hyperparams/ppo.yml``, ``atari``:
8 envs, 128 steps, 4 epochs, batch 256, lr and clip range decaying from 2.5e-4 and 0.1,
entropy 0.01, Nature CNN policy) by default; A2C with the paper's settings (16 workers,
n = 5, lr 7e-4 decaying linearly, γ = 0.99; the zoo's RMSprop ε = 1e-5, entropy 0.01 and
value weight 0.25) with ``--algo a2c``. MinAtar's 10×10 frames are too small for the
Nature CNN: its policy is one 3×3 convolution and 128 units (``SmallCnn``).

Task defaults (SPEC §6): 25-step segments; pre-training asks 500/5,500 of the budget
(the paper's share) and fits it for 200 epochs (MinAtar 60); the ensemble keeps the
3,000 most recent labels (the paper's buffer); dropout 0.5 in the CNN; 16 pairs a
gradient step; fits installed at the next update. The label rate's c stays the
project's T/20 of the step budget: the paper's c = 5·10⁶ frames (1.25·10⁶ agent steps)
was for runs of 10⁷ agent steps, i.e. c ≈ T/8; T/20 front-loads the labels a little more,
which short runs need (``docs/atari.md``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from gymnasium import spaces
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

from rlhp.config import TrainConfig
from rlhp.config.choices import Precision
from rlhp.rl.atari import is_ale, is_minatar
from rlhp.rl.preset_types import AgentPreset

SEGMENT_STEPS = 25
"""The paper's Atari segment length (agent steps)."""
PRETRAIN_FRACTION = 500 / 5500
"""The paper's 500 pre-training labels of a 5,500 budget."""
PRETRAIN_EPOCHS = 200
SMALL_PRETRAIN_EPOCHS = 60
"""MinAtar: the MLP presets' 60 passes; a 300k-step MinAtar twin trains in ~2 minutes on
a core, and 200 passes of pre-training (all before RL starts) would be a third of that."""
PRETRAIN_CHUNKS = 10
"""ALE pre-training (200 passes: ≈ 2 hours on a CPU core at a 3,300-label budget) is ten
fits of 20 passes, each followed by a checkpoint, so a stopped run loses at most one."""
MAX_LABELS = 3000
EVALUATION_PAIRS = 512
"""Pairs each ALE fit's closing evaluation reads (``reward_model.evaluation_pairs``):
≈ 190 held out per member, enough for the L2 ratio and an accuracy to ± 0.015."""
DROPOUT = 0.5
PRECISION: Precision = "auto"
"""ALE's reward CNN computes in bfloat16 where the processor has it (``reward_model.
precision``): on one core of an AVX-512 BF16 CPU a fit step took 0.62–0.68× float32's
time, evaluating labelled pairs 0.6×, r̂ of a rollout ≈ 0.5× (``benchmarks/pixel_reward_speed.py``).
MinAtar keeps float32: on its 10×10 frames bfloat16 was not faster (a fit step 1.06–1.15×)."""
BATCH_PAIRS = 16
"""Comparisons per member in a gradient step of the CNN. Measured on one core (3
members, 25-step segments): 16 pairs cost 1.8 s a step at 84×84×4 against 4.9 s for
32 (25 % less per pair), and at MinAtar's 10×10 the same per pair; half the pairs a
step halves each capped update (``max_steps_per_update``)."""


class SmallCnn(BaseFeaturesExtractor):
    """The policy's features for small images: 3×3 conv (16) → ReLU → 128 units → ReLU."""

    def __init__(self, observation_space: spaces.Box, features_dim: int = 128) -> None:
        super().__init__(observation_space, features_dim)
        channels, height, width = observation_space.shape
        self.net = nn.Sequential(
            nn.Conv2d(channels, 16, 3, 1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(16 * (height - 2) * (width - 2), features_dim),
            nn.ReLU(),
        )

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return self.net(observations)


def _ppo(**extra: Any) -> AgentPreset:
    return AgentPreset(
        n_envs=8,
        policy="CnnPolicy",
        kwargs=dict(
            n_steps=128,
            n_epochs=4,
            batch_size=256,
            learning_rate="lin_2.5e-4",
            clip_range="lin_0.1",
            vf_coef=0.5,
            ent_coef=0.01,
            **extra,
        ),
    )


def _a2c(**policy: Any) -> AgentPreset:
    from stable_baselines3.common.sb2_compat.rmsprop_tf_like import RMSpropTFLike

    return AgentPreset(
        n_envs=16,
        policy="CnnPolicy",
        kwargs=dict(
            n_steps=5,
            gamma=0.99,
            learning_rate="lin_7e-4",
            ent_coef=0.01,
            vf_coef=0.25,
            policy_kwargs=dict(
                optimizer_class=RMSpropTFLike, optimizer_kwargs=dict(eps=1e-5), **policy
            ),
        ),
    )


def pixel_agent_preset(env_id: str, algo: str) -> AgentPreset | None:
    """The agent preset of a pixel environment, None for other ids or algorithms."""
    small = dict(features_extractor_class=SmallCnn)
    if is_ale(env_id):
        return {"ppo": _ppo, "a2c": _a2c}.get(algo, lambda: None)()
    if is_minatar(env_id):
        if algo == "ppo":
            return _ppo(policy_kwargs=small)
        if algo == "a2c":
            return _a2c(**small)
    return None


def pixel_task_config(config: TrainConfig) -> TrainConfig:
    """The paper's Atari schedule and reward-model defaults on top of ``config``.

    A CNN fit outlasts the default install lag (0.5 % of the run) on a CPU, so each fit
    is installed at the next update (``install_at_next_update``): a fit shorter than an
    update interval no longer stops RL. A fit waits for a batch's worth of new answers
    (``min_new_answers``): late in a run a few labels an update would each buy a fit as
    long as any. On-policy agents get r̂ a rollout at a time (``batch_rollout_rewards``).
    ALE games compute the CNN in bfloat16 where the processor has it (``PRECISION``)
    and close each fit by evaluating a sample of the labelled pairs
    (``EVALUATION_PAIRS``), not all 3,000.
    """
    return dataclasses.replace(
        config,
        schedule=dataclasses.replace(config.schedule, pretrain_fraction=PRETRAIN_FRACTION),
        reward_model=dataclasses.replace(
            config.reward_model,
            pretrain_epochs=SMALL_PRETRAIN_EPOCHS if is_minatar(config.env_id) else PRETRAIN_EPOCHS,
            pretrain_chunks=(
                PRETRAIN_CHUNKS if is_ale(config.env_id) else config.reward_model.pretrain_chunks
            ),
            max_labels=MAX_LABELS,
            dropout=DROPOUT,
            batch_size=BATCH_PAIRS,
            install_at_next_update=True,
            min_new_answers=BATCH_PAIRS,
            batch_rollout_rewards=True,
            precision=PRECISION if is_ale(config.env_id) else config.reward_model.precision,
            evaluation_pairs=(
                EVALUATION_PAIRS if is_ale(config.env_id) else config.reward_model.evaluation_pairs
            ),
        ),
    )
