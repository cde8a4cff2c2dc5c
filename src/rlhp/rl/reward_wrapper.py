"""The seam between the environment and the agent: record everything, show only r̂.

``RewardSwapWrapper`` sits directly on the raw vectorised environment (below any
observation normalisation). At every vector step it

* records (observation, action, true reward) per environment and, when an episode
  ends, hands the finished ``Episode`` to the pool that segments are cut from;
* replaces the environment's reward with the learned reward measured from the
  absorbing state, r̂(o, a) − r̂_abs — one batched forward over all environments (see
  ``rlhp.segments``). After termination the absorbing state would pay r̂_abs forever;
  shifting every reward by the same constant −r̂_abs makes that 0, so the episode can
  end as usual and the optimal policy is unchanged (a constant shift adds the same
  −r̂_abs/(1−γ) to every value). Dying early is worth exactly what r̂ says the
  absorbing state is worth, and the value targets have no terminal spike;
* with ``continuing`` (``agent.episode_ends="continue"``, the paper's Atari setting)
  hides every termination from the agent: its environment resets and, for the agent,
  the episode goes on (one continuing task; truncations still end episodes). The pool
  and the statistics still get the real episodes;
* in ``env`` mode passes the true reward through unchanged (the reference agent);
* with ``record_states`` (human feedback only) also records each step's simulator
  state, so that clips can be rendered later for the few segments asked about
  (``rlhp.rl.sim_state``, ``rlhp.clips``). Off by default: the oracle path stays fast.

What is recorded for the oracle is the reward a person could judge: the env's reward
minus the ``hidden_terms`` of its ``info`` (MuJoCo control costs, paper §3.1). The
episode statistics keep the env's own return, the number every benchmark compares.

The true reward never reaches the agent in ``preferences`` mode.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper
from stable_baselines3.common.vec_env.base_vec_env import VecEnvStepReturn

from rlhp.config import RuneConfig
from rlhp.reward.ensemble import RewardEnsemble
from rlhp.reward.frozen import FrozenReward
from rlhp.rl.exploration import StateEntropyReward
from rlhp.rl.rollout_rewards import learned_rewards
from rlhp.rl.sim_state import get_state
from rlhp.segments import Episode, EpisodePool, stacked_view


def visible_rewards(
    env_rewards: np.ndarray, infos: Sequence[dict[str, Any]], hidden_terms: tuple[str, ...]
) -> np.ndarray:
    """The env's reward minus the ``info`` terms a person cannot see, ``(n_envs,)``.

    Gymnasium's MuJoCo v5 tasks report their reward's parts in ``info``
    (``reward_forward``, ``reward_ctrl`` = −control cost, …); removing ``reward_ctrl``
    leaves what a clip shows.

    Raises:
        KeyError: a hidden term is missing from an ``info``, naming the terms it has.
    """
    visible = np.asarray(env_rewards, dtype=np.float64).copy()
    for term in hidden_terms:
        for i, info in enumerate(infos):
            if term not in info:
                terms = sorted(k for k in info if k.startswith("reward"))
                raise KeyError(
                    f"the env's info has no reward term {term!r} (it has {terms}); "
                    "fix oracle.hidden_terms, e.g. --set 'oracle.hidden_terms=[]'"
                )
            visible[i] -= float(info[term])
    return visible


@dataclass(frozen=True)
class EpisodeStats:
    """Means over the most recent finished episodes (NaN before the first)."""

    true_return: float
    """The env's own return (control costs included)."""
    learned_return: float
    length: float
    episodes: int


class RewardSwapWrapper(VecEnvWrapper):
    """Records episodes into ``pool`` and substitutes the learned reward."""

    def __init__(
        self,
        venv: VecEnv,
        pool: EpisodePool,
        model: RewardEnsemble | None,
        pessimism: float = 0.0,
        window: int = 20,
        record_states: bool = False,
        hidden_terms: tuple[str, ...] = (),
        explore_steps: int = 0,
        explore_k: int = 5,
        rune: RuneConfig | None = None,
        frame_stack: int = 1,
        batch_rollouts: bool = False,
        continuing: bool = False,
    ) -> None:
        super().__init__(venv)
        self.continuing = continuing
        """The agent never sees a termination (``agent.episode_ends="continue"``)."""
        self.batch_rollouts = batch_rollouts
        """Let on-policy rollouts defer r̂ to their end (``rlhp.rl.rollout_rewards``)."""
        self._deferred: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]] | None
        self._deferred = None
        """While a rollout is deferred: each step's (observations, actions, dones, the dones
        the agent saw, env steps before it); None otherwise."""
        self.rune = rune if rune is not None and rune.enabled else None
        """RUNE's decaying disagreement bonus on top of r̂ (``rlhp.rl.rune``), or None."""
        self.frame_stack = frame_stack
        """Observations stack this many frames on axis 0 (Atari): episodes then record
        each distinct frame once (``rlhp.segments.stacked_view``)."""
        self.record_states = record_states
        """Record simulator states for clip rendering; needs a DummyVecEnv underneath."""
        self.hidden_terms = hidden_terms
        """``info`` reward terms left out of the reward recorded for the oracle."""
        self.explore_until = explore_steps
        """Before this many env steps (of this wrapper), the agent's reward is PEBBLE's
        state entropy; ``explore_for`` moves it (the loop counts RL steps only)."""
        obs_dim = int(np.prod(venv.observation_space.shape or (1,)))
        self._explore = StateEntropyReward(obs_dim, explore_k) if explore_steps > 0 else None
        self._explore_k = explore_k
        self.seeking = False
        """Reward state entropy instead of r̂ until the first preference arrives
        (``seek_information``; ``rlhp.loop.coverage``)."""
        self.pool = pool
        self.model = model
        self.pessimism = pessimism
        self._reward_fn: FrozenReward | None = None
        self._last_obs: np.ndarray | None = None
        self._actions: np.ndarray | None = None
        n = self.num_envs
        self._obs: list[list[np.ndarray]] = [[] for _ in range(n)]
        self._act: list[list[np.ndarray]] = [[] for _ in range(n)]
        self._rew: list[list[float]] = [[] for _ in range(n)]
        self._states: list[list[np.ndarray]] = [[] for _ in range(n)]
        self._learned = np.zeros(n)
        self._env_return = np.zeros(n)
        self._true_returns: deque[float] = deque(maxlen=window)
        self._learned_returns: deque[float] = deque(maxlen=window)
        self._lengths: deque[int] = deque(maxlen=window)
        self.env_steps = 0
        self.episodes = 0
        self.refresh_reward()

    def explore_for(self, steps: int) -> None:
        """Explore (if enabled) for the next ``steps`` env steps, then show r̂ again."""
        self.explore_until = self.env_steps + steps

    def seek_information(self, on: bool) -> None:
        """While ``on``, the agent's reward is PEBBLE's state entropy, not r̂: no label has
        preferred anything yet, so r̂ is flat and the agent would not move."""
        if on and self._explore is None:
            obs_dim = int(np.prod(self.observation_space.shape or (1,)))
            self._explore = StateEntropyReward(obs_dim, self._explore_k)
        self.seeking = on

    def refresh_reward(self) -> FrozenReward | None:
        """Take a fresh snapshot of the reward after the model was retrained.

        Returns:
            The snapshot it replaces (None before the first).
        """
        old = self._reward_fn
        if self.model is not None:
            self._reward_fn = self.model.snapshot(self.pessimism)
        return old

    @property
    def reward_fn(self) -> FrozenReward | None:
        return self._reward_fn

    def reset(self) -> np.ndarray:
        obs = self.venv.reset()
        assert isinstance(obs, np.ndarray)
        for buffers in (self._obs, self._act, self._rew, self._states):
            for b in buffers:
                b.clear()
        self._learned[:] = 0.0
        self._env_return[:] = 0.0
        self._last_obs = obs
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)
        if self.record_states:
            # The state *before* the step belongs to the observation the action was taken at.
            envs = getattr(self.venv, "envs", None)
            if envs is None:
                raise TypeError("record_states needs a DummyVecEnv (in-process environments)")
            for i, env in enumerate(envs):
                self._states[i].append(get_state(env))
        self.venv.step_async(actions)

    def begin_rollout(self) -> bool:
        """Defer r̂ for the rollout that starts now (``settle`` ends it), unless deferring
        is off, there is no learned reward yet, or exploration rewards the agent.

        Returns:
            Whether this rollout is deferred.
        """
        deferrable = self.batch_rollouts and self._reward_fn is not None and not self._exploring()
        self._deferred = [] if deferrable else None
        return deferrable

    def settle(self) -> tuple[np.ndarray, np.ndarray] | None:
        """End a deferred rollout: its rewards for the agent ``(T, n_envs)`` (r̂ plus
        RUNE's bonus, unscaled) and the done flags the agent saw ``(T, n_envs)``; None if
        it was not deferred. The learned-return statistics are brought up to date."""
        steps, self._deferred = self._deferred, None
        if not steps:
            return None
        assert self._reward_fn is not None
        n = self.num_envs
        learned, bonus = learned_rewards(
            self._reward_fn,
            np.concatenate([s[0] for s in steps]),
            np.concatenate([s[1] for s in steps]),
            self._rune(),
            np.repeat([s[4] for s in steps], n),
        )
        learned, bonus = learned.reshape(len(steps), n), bonus.reshape(len(steps), n)
        for rewards, done in zip(learned, (s[2] for s in steps), strict=True):
            self._learned += rewards
            for i in np.flatnonzero(done):
                self._learned_returns.append(float(self._learned[i]))
                self._learned[i] = 0.0
        return learned + bonus, np.stack([s[3] for s in steps])

    def _rune(self) -> tuple[float, float] | None:
        """RUNE's (β₀, ρ), or None when it is off."""
        return (self.rune.beta0, self.rune.decay) if self.rune is not None else None

    def _exploring(self) -> bool:
        return self._explore is not None and (self.seeking or self.env_steps < self.explore_until)

    def step_wait(self) -> VecEnvStepReturn:
        obs, true_rewards, dones, infos = self.venv.step_wait()
        assert self._last_obs is not None and self._actions is not None
        prev, actions = self._last_obs, self._actions
        agent_dones = self._agent_dones(np.asarray(dones), infos)
        if self._deferred is not None:  # r̂ at the rollout's end (rlhp.rl.rollout_rewards)
            self._deferred.append(
                (prev, actions, np.asarray(dones).copy(), agent_dones, self.env_steps)
            )
            rewards = np.zeros(self.num_envs)
        elif self._reward_fn is not None:  # one forward for r̂ and RUNE's bonus, as settle()
            learned, bonus = learned_rewards(
                self._reward_fn, prev, actions, self._rune(), np.full(self.num_envs, self.env_steps)
            )
            self._learned += learned
            rewards = learned + bonus
        else:  # the env twin: its "learned" return is the true one
            rewards = true_rewards
            self._learned += rewards
        self._env_return += true_rewards
        if self._exploring():
            rewards = self._explore(prev)  # type: ignore[misc]
        oracle_rewards = visible_rewards(true_rewards, infos, self.hidden_terms)
        for i in range(self.num_envs):
            if self.frame_stack == 1:
                self._obs[i].append(prev[i])
            elif self._obs[i]:
                # the newest frame (a copy: a view would keep the whole vector obs alive)
                self._obs[i].append(prev[i][-1].copy())
            else:
                self._obs[i].extend(prev[i].copy())  # the episode's first stack: all k frames
            self._act[i].append(actions[i])
            self._rew[i].append(float(oracle_rewards[i]))
            if dones[i]:
                self._finish(i, terminated=not infos[i].get("TimeLimit.truncated", False))
        self.env_steps += self.num_envs
        assert isinstance(obs, np.ndarray)
        self._last_obs = obs
        return obs, rewards.astype(np.float32), agent_dones, infos

    def _agent_dones(self, dones: np.ndarray, infos: Sequence[dict[str, Any]]) -> np.ndarray:
        """The done flags the agent sees: with ``continuing`` and a learned reward, only
        truncations (the env below has already reset; the agent's return and GAE run on
        into the next episode, as in one endless game). Other runs pay nothing per step."""
        if not self.continuing or self.model is None or not dones.any():
            return dones
        return np.array(
            [
                d and info.get("TimeLimit.truncated", False)
                for d, info in zip(dones, infos, strict=True)
            ]
        )

    def _finish(self, i: int, terminated: bool) -> None:
        recorded = np.stack(self._obs[i])
        frames = recorded if self.frame_stack > 1 else None
        episode = Episode(
            obs=stacked_view(recorded, self.frame_stack) if frames is not None else recorded,
            frames=frames,
            actions=np.stack(self._act[i]),
            true_rewards=np.asarray(self._rew[i], dtype=np.float64),
            terminated=terminated,
            env_step=self.env_steps + self.num_envs,
            index=self.episodes,
            states=(
                np.stack(self._states[i])
                if self.record_states and len(self._states[i]) == len(self._act[i]) > 0
                else None
            ),
        )
        self.episodes += 1
        self.pool.add(episode)
        self._true_returns.append(float(self._env_return[i]))
        if self._deferred is None:  # else settle() counts its learned return
            self._learned_returns.append(float(self._learned[i]))
            self._learned[i] = 0.0
        self._lengths.append(episode.length)
        self._env_return[i] = 0.0
        self._obs[i].clear()
        self._act[i].clear()
        self._rew[i].clear()
        self._states[i].clear()

    def stats(self) -> EpisodeStats:
        def mean(values: deque) -> float:
            return float(np.mean(values)) if values else float("nan")

        return EpisodeStats(
            mean(self._true_returns),
            mean(self._learned_returns),
            mean(self._lengths),
            self.episodes,
        )
