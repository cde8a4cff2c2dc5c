"""Presets for the Gymnasium MuJoCo v5 tasks of the paper (§3.1, appendix A).

Task facts (``dt``, time limit, ``info`` reward terms) are Gymnasium v5's. Agent
hyperparameters are rl-baselines3-zoo's tuned values (``hyperparams/ppo.yml``,
``trpo.yml``, ``sac.yml``; tuned there on v4, whose dynamics v5 keeps), except that TRPO
uses the paper's γ = 0.995 and λ = 0.97, and Hopper's PPO uses the PPO paper's settings.
sb3-contrib's TRPO has no entropy bonus, so the paper's 0.01 bonus has no counterpart.

Tasks for novel behaviour (paper §3.2) are options of Gymnasium's own environments,
registered under the ``rlhp/`` namespace when this module is imported (no Gymnasium
code is changed): ``rlhp/HopperNoTermination-v5`` is Hopper-v5 with
``terminate_when_unhealthy=False`` — a torso upside down mid-backflip would otherwise end
the episode — and 1.5 s (188-step) segments, long enough to hold a whole flip.
Half-Cheetah never terminates, so running on one leg needs no option: ``HalfCheetah-v5``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
from torch import nn

from rlhp.rl.preset_types import AgentPreset, TaskPreset

CTRL = ("reward_ctrl",)

HOPPER_NO_TERMINATION = "rlhp/HopperNoTermination-v5"
"""Hopper-v5 that never ends early: it may lie down, tumble and flip (backflip teaching)."""
HOPPER_FLIP_REWARD = "rlhp/HopperBackflipReward-v5"
"""``HOPPER_NO_TERMINATION`` paid a written per-step backflip score instead of Hopper's
reward (``rlhp.behaviours.flip_reward``): the written-reward agent beside a taught one."""
BEHAVIOUR_ENVS: dict[str, dict[str, Any]] = {
    HOPPER_NO_TERMINATION: dict(
        entry_point="gymnasium.envs.mujoco.hopper_v5:HopperEnv",
        max_episode_steps=1000,
        kwargs={"terminate_when_unhealthy": False},
    ),
    HOPPER_FLIP_REWARD: dict(
        entry_point="rlhp.behaviours.flip_reward:make_flip_reward_env",
        max_episode_steps=1000,
    ),
}
"""Registered ids → ``gymnasium.register`` arguments."""


def register_behaviour_envs() -> None:
    """Register ``BEHAVIOUR_ENVS`` with Gymnasium (idempotent)."""
    for env_id, spec in BEHAVIOUR_ENVS.items():
        if env_id not in gym.registry:
            gym.register(env_id, **spec)


register_behaviour_envs()

MUJOCO_TASKS: dict[str, TaskPreset] = {
    "Hopper-v5": TaskPreset(dt=0.008, max_episode_steps=1000, hidden_terms=CTRL),
    "HalfCheetah-v5": TaskPreset(dt=0.05, max_episode_steps=1000, hidden_terms=CTRL),
    "Walker2d-v5": TaskPreset(dt=0.008, max_episode_steps=1000, hidden_terms=CTRL),
    "Swimmer-v5": TaskPreset(dt=0.04, max_episode_steps=1000, hidden_terms=CTRL),
    # A control cost is hidden only where full torque costs less than 1 per step (Hopper
    # 0.003, Walker2d 0.006, Swimmer 0.0002, HalfCheetah 0.6). Reacher's costs 2 and Ant's
    # 4 (weight 0.5 over 8 joints, against a healthy reward of 1): there torque dominates
    # the return and shows on screen as a whirling arm or thrashing legs. Hidden on
    # Reacher, the policy reached as well as the env twin at full torque (reward_ctrl -60
    # per episode against -0.3), worse than random on the true return. So the oracle sees
    # it, and the reward model sees the actions it is a function of (docs/mujoco.md).
    "Reacher-v5": TaskPreset(dt=0.02, max_episode_steps=50, reward_uses_actions=True),
    # Ant's contact cost is small (5e-4) and visible as legs pressing the floor. With 105
    # observations and 8 actions, 700 labels did not teach the MLP the square of each
    # action: fed the squares, held-out accuracy on Ant's labels rose from 0.76 to 0.85.
    # Its last 78 observations are contact forces, which no one watching a clip sees and
    # the reward hardly depends on: read only the 27 positions and velocities (0.90).
    "Ant-v5": TaskPreset(
        dt=0.05,
        max_episode_steps=1000,
        reward_uses_actions=True,
        reward_action_squares=True,
        reward_observation_dims=27,
    ),
    # The pendulums have no control cost: the oracle sees the env's reward.
    "InvertedPendulum-v5": TaskPreset(dt=0.04, max_episode_steps=1000),
    "InvertedDoublePendulum-v5": TaskPreset(dt=0.05, max_episode_steps=1000),
}

BEHAVIOUR_TASKS: dict[str, TaskPreset] = {
    HOPPER_NO_TERMINATION: TaskPreset(
        dt=0.008, max_episode_steps=1000, hidden_terms=CTRL, segment_steps=188
    ),
    HOPPER_FLIP_REWARD: TaskPreset(dt=0.008, max_episode_steps=1000, segment_steps=188),
}
"""Task presets of the ``BEHAVIOUR_ENVS``."""
_ALL_TASKS = {**MUJOCO_TASKS, **BEHAVIOUR_TASKS}

_BIG_POLICY = dict(
    log_std_init=-2,
    ortho_init=False,
    activation_fn=nn.ReLU,
    net_arch=dict(pi=[256, 256], vf=[256, 256]),
)


def _ppo(**kwargs: Any) -> AgentPreset:
    n_envs = kwargs.pop("n_envs", 1)
    return AgentPreset(n_envs=n_envs, normalize=True, kwargs=kwargs)


_PPO: dict[str, AgentPreset] = {
    "HalfCheetah-v5": _ppo(
        batch_size=64, n_steps=512, gamma=0.98, learning_rate=2.0633e-05, ent_coef=0.000401762,
        clip_range=0.1, n_epochs=20, gae_lambda=0.92, max_grad_norm=0.8, vf_coef=0.58096,
        policy_kwargs=_BIG_POLICY,
    ),
    # The PPO paper's MuJoCo settings (SB3's defaults, the learning rate annealed to 0 as
    # in CleanRL), not the zoo's: at 300k steps the zoo's (tuned for 1M) learned to stand
    # still (≈ 1,000) and fell to ≈ 0 for tens of thousands of steps; these hop
    # (env-reward returns 1,168–3,409 on seeds 0-9 at 300k, docs/benchmarks.md).
    "Hopper-v5": _ppo(
        batch_size=64, n_steps=2048, gamma=0.99, learning_rate="lin_3e-4", ent_coef=0.0,
        clip_range=0.2, n_epochs=10, gae_lambda=0.95, max_grad_norm=0.5, vf_coef=0.5,
    ),
    **{
        env_id: _ppo(
            batch_size=64, n_steps=2048, gamma=0.99, learning_rate="lin_3e-4", ent_coef=0.0,
            clip_range=0.2, n_epochs=10, gae_lambda=0.95, max_grad_norm=0.5, vf_coef=0.5,
        )
        for env_id in (HOPPER_NO_TERMINATION, HOPPER_FLIP_REWARD)
    },
    "Walker2d-v5": _ppo(
        batch_size=32, n_steps=512, gamma=0.99, learning_rate=5.05041e-05, ent_coef=0.000585045,
        clip_range=0.1, n_epochs=20, gae_lambda=0.95, max_grad_norm=1.0, vf_coef=0.871923,
    ),
    "Swimmer-v5": _ppo(
        n_envs=4, gamma=0.9999, n_steps=1024, batch_size=256, learning_rate=6e-4, gae_lambda=0.98
    ),
    "Reacher-v5": _ppo(
        batch_size=32, n_steps=512, gamma=0.9, learning_rate=0.000104019, ent_coef=7.52585e-08,
        clip_range=0.3, n_epochs=5, gae_lambda=1.0, max_grad_norm=0.9, vf_coef=0.950368,
    ),
    "Ant-v5": _ppo(),
    "InvertedPendulum-v5": _ppo(
        batch_size=64, n_steps=32, gamma=0.999, learning_rate=0.000222425, ent_coef=1.37976e-07,
        clip_range=0.4, n_epochs=5, gae_lambda=0.9, max_grad_norm=0.3, vf_coef=0.19816,
    ),
    "InvertedDoublePendulum-v5": _ppo(
        batch_size=512, n_steps=128, gamma=0.98, learning_rate=0.000155454, ent_coef=1.05057e-06,
        clip_range=0.4, n_epochs=10, gae_lambda=0.8, max_grad_norm=0.5, vf_coef=0.695929,
    ),
}  # fmt: skip

_TRPO_KWARGS: dict[str, Any] = dict(
    batch_size=128, n_steps=1024, gamma=0.995, gae_lambda=0.97, sub_sampling_factor=1,
    cg_max_steps=25, cg_damping=0.1, n_critic_updates=20, learning_rate=1e-3,
)  # fmt: skip
_TRPO: dict[str, AgentPreset] = {
    env_id: AgentPreset(
        n_envs=2,
        normalize=True,
        kwargs={**_TRPO_KWARGS, **({"target_kl": 0.04} if env_id == "HalfCheetah-v5" else {})},
    )
    for env_id in _ALL_TASKS
}

_SAC: dict[str, AgentPreset] = {
    env_id: AgentPreset(
        n_envs=1,
        kwargs=(
            {"learning_starts": 10_000}
            if env_id
            in (
                "Hopper-v5",
                HOPPER_NO_TERMINATION,
                HOPPER_FLIP_REWARD,
                "HalfCheetah-v5",
                "Walker2d-v5",
                "Ant-v5",
            )
            else {"gamma": 0.9999}
            if env_id == "Swimmer-v5"
            else {}
        ),
    )
    for env_id in _ALL_TASKS
}

MUJOCO_AGENTS: dict[tuple[str, str], AgentPreset] = {
    **{(env_id, "ppo"): preset for env_id, preset in _PPO.items()},
    **{(env_id, "trpo"): preset for env_id, preset in _TRPO.items()},
    **{(env_id, "sac"): preset for env_id, preset in _SAC.items()},
}
"""(env id, algorithm) → agent preset for the eight MuJoCo tasks and the behaviour tasks."""
