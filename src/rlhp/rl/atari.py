"""Atari (ALE) and MinAtar environments from pixels, preprocessed as in the paper.

ALE (``ALE/<Game>-v5``, extra ``rlhp[atari]``): the paper's standard wrappers (SPEC §7)
— up to 30 no-op starts, frame skip 4 with a max over the last two frames, 84×84
grayscale, the last 4 frames stacked — with sticky actions off unless asked
(``atari.sticky_actions``). What the paper removes, each an option on by default:

* the score display is blanked (``atari.mask_score``) before the frames are stacked, so
  the reward model, the policy and the people labelling clips all see the same masked
  frames (``rlhp.rl.atari_masks``);
* the loss of a life ends nothing: the ALE reports lives only in ``info``, which neither
  the agent's reward nor the reward model reads, and Gymnasium's wrapper is built with
  ``terminal_on_life_loss=False`` (``atari.terminal_on_life_loss`` turns it on);
* the end of the episode reaches the agent as the learned absorbing-state value, which
  the agent's reward is measured from (``rlhp.segments``, ``rl/reward_wrapper.py``): the
  episode boundary itself carries no reward.

MinAtar (``MinAtar/<Game>-v1``, extra ``rlhp[minatar]``): 10×10×C boolean grids,
turned into ``(C, 10, 10)`` uint8 images (0 or 255) so they go through the same CNN
path as Atari frames; nothing else is changed.
"""

from __future__ import annotations

import functools
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper, VecTransposeImage
from stable_baselines3.common.vec_env.base_vec_env import VecEnvStepReturn

from rlhp.config import AtariConfig
from rlhp.errors import ConfigError
from rlhp.rl.atari_masks import ScoreMask, score_mask

ALE_PREFIX = "ALE/"
MINATAR_PREFIX = "MinAtar/"


def is_ale(env_id: str) -> bool:
    return env_id.startswith(ALE_PREFIX)


def is_minatar(env_id: str) -> bool:
    return env_id.startswith(MINATAR_PREFIX)


def is_pixel_env(env_id: str) -> bool:
    """Environments this module builds (observations are uint8 images ``(C, H, W)``)."""
    return is_ale(env_id) or is_minatar(env_id)


def evaluation_is_deterministic(env_id: str) -> bool:
    """Whether a task's policy is evaluated on its most likely actions: yes, except on
    pixel games, whose policies are evaluated on sampled actions, as rl-baselines3-zoo
    evaluates Atari (a deterministic game policy can stall, e.g. never fire)."""
    return not is_pixel_env(env_id)


def game_name(env_id: str) -> str:
    """``ALE/Pong-v5`` → ``Pong``."""
    return env_id.split("/", 1)[-1].rsplit("-", 1)[0]


class MinAtarImage(gym.ObservationWrapper):
    """MinAtar's ``(10, 10, C)`` bool grid as a ``(C, 10, 10)`` uint8 image of 0 / 255."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        h, w, c = env.observation_space.shape  # type: ignore[misc]
        self.observation_space = spaces.Box(0, 255, shape=(c, h, w), dtype=np.uint8)

    def observation(self, observation: Any) -> np.ndarray:
        return np.ascontiguousarray(
            np.moveaxis(np.asarray(observation, dtype=np.uint8) * 255, -1, 0)
        )


class ConcatenatedFrames(gym.ObservationWrapper):
    """The last ``k`` ``(C, H, W)`` observations as one ``(k·C, H, W)`` image, oldest first."""

    def __init__(self, env: gym.Env, k: int) -> None:
        from gymnasium.wrappers import FrameStackObservation

        super().__init__(FrameStackObservation(env, k))
        c, h, w = env.observation_space.shape  # type: ignore[misc]
        self.observation_space = spaces.Box(0, 255, shape=(k * c, h, w), dtype=np.uint8)

    def observation(self, observation: Any) -> np.ndarray:
        return np.ascontiguousarray(observation).reshape(self.observation_space.shape)


@functools.cache
def minatar_channels(env_id: str) -> int:
    """Object channels of one frame of a MinAtar game (Breakout 4, Freeway 7, …)."""
    _register_minatar()
    env = gym.make(env_id)
    channels = int(env.observation_space.shape[-1])  # type: ignore[index]
    env.close()
    return channels


def _register_ale() -> None:
    try:
        import ale_py
    except ImportError as exc:
        raise ConfigError("Atari games need ale-py and OpenCV: pip install 'rlhp[atari]'") from exc
    gym.register_envs(ale_py)


def _register_minatar() -> None:
    try:
        from minatar import gym as minatar_gym
    except ImportError as exc:
        raise ConfigError("MinAtar games need minatar: pip install 'rlhp[minatar]'") from exc
    if "MinAtar/Breakout-v1" not in gym.registry:
        minatar_gym.register_envs()


def make_pixel_env(env_id: str, atari: AtariConfig, render_mode: str | None = None) -> gym.Env:
    """One preprocessed ALE or MinAtar environment (see the module docstring).

    Raises:
        ConfigError: the extra is not installed, or the id is not a known game.
    """
    if is_minatar(env_id):
        _register_minatar()
        try:
            env: gym.Env = MinAtarImage(gym.make(env_id, render_mode=render_mode))
        except gym.error.Error as exc:
            raise ConfigError(
                f"unknown MinAtar game {env_id!r} ({exc}); e.g. MinAtar/Breakout-v1"
            ) from exc
        return env if atari.minatar_frames == 1 else ConcatenatedFrames(env, atari.minatar_frames)
    _register_ale()
    from gymnasium.wrappers import AtariPreprocessing, FrameStackObservation

    try:
        env = gym.make(
            env_id,
            frameskip=1,  # AtariPreprocessing skips (and max-pools) itself
            repeat_action_probability=atari.sticky_actions,
            render_mode=render_mode,
        )
    except gym.error.Error as exc:
        raise ConfigError(f"unknown Atari game {env_id!r} ({exc}); e.g. ALE/Pong-v5") from exc
    env = AtariPreprocessing(
        env,
        noop_max=atari.noop_max,
        frame_skip=atari.frame_skip,
        screen_size=84,
        terminal_on_life_loss=atari.terminal_on_life_loss,
        grayscale_obs=True,
        scale_obs=False,
    )
    if atari.mask_score:
        env = ScoreMask(env, score_mask(game_name(env_id)))
    return FrameStackObservation(env, atari.frame_stack)


def frame_stack_size(env_id: str, atari: AtariConfig) -> int:
    """Frames stacked in each observation along axis 0 (1: nothing is stacked)."""
    return atari.frame_stack if is_ale(env_id) else 1


class SignReward(VecEnvWrapper):
    """The agent learns from sign(reward) (the env twin's standard Atari reward clipping);
    the reward wrapper below it has already recorded the game's own score."""

    def reset(self) -> Any:
        return self.venv.reset()

    def step_wait(self) -> VecEnvStepReturn:
        obs, rewards, dones, infos = self.venv.step_wait()
        return obs, np.sign(rewards).astype(np.float32), dones, infos


class ChannelsFirst(VecTransposeImage):
    """Tells SB3 that the observations are channels-first images already; passes them on.

    SB3 wraps an image env in ``VecTransposeImage`` unless it is wrapped in one: it
    guesses the layout from the smallest dimension, and two MinAtar Freeway frames,
    ``(14, 10, 10)``, look channels-last to it, so the policy convolved over the wrong
    axes. ``make_pixel_env`` always gives ``(C, H, W)``; this wrapper is the "already
    transposed" mark and transposes nothing.
    """

    def __init__(self, venv: VecEnv) -> None:
        VecEnvWrapper.__init__(self, venv)  # not VecTransposeImage's: the space stays

    def reset(self) -> Any:
        return self.venv.reset()

    def step_wait(self) -> VecEnvStepReturn:
        return self.venv.step_wait()
