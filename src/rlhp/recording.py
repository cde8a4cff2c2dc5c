"""Watching a run: the trained policy's episodes, with simulator states, and videos of them.

``policy_episodes`` plays the run's saved policy (actions and evaluation seeds as
``rlhp evaluate`` chooses them) and records every step's simulator state with the same
wrapper that records training rollouts. ``record_video`` replays those states through
the clip renderer (``rlhp.clips.render``) into an MP4 or GIF: what ``rlhp record``
writes. Pixel environments (ALE, MinAtar) have no state to replay: their videos are the
frames the agent saw, drawn as the labelling page's clips (``rlhp.clips.pixels``). The
behaviour measures (``rlhp.behaviours``) read the same episodes.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rlhp.clips.encode import VideoWriter
from rlhp.clips.pixels import PIXEL_FPS, pixel_clip
from rlhp.clips.render import frame_stride, make_renderer
from rlhp.evaluation import EVAL_SEED_OFFSET
from rlhp.loop.run_dir import RunDir
from rlhp.rl.agents import build_stack, load_agent
from rlhp.rl.atari import evaluation_is_deterministic, is_pixel_env
from rlhp.segments import Episode, EpisodePool, Segment


@torch.no_grad()
def policy_episodes(
    run_dir: Path | str, episodes: int, seed_offset: int = EVAL_SEED_OFFSET
) -> list[Episode]:
    """``episodes`` episodes of the run's policy, states recorded; actions as ``rlhp
    evaluate`` chooses them (``evaluation_is_deterministic``).

    Each ``Episode.states`` is ``(L, state_dim)``: the state at each observation the
    policy acted on. One environment, seeded ``config.seed + seed_offset``.
    """
    run = RunDir.open(Path(run_dir))
    if not run.agent_checkpoint.exists():
        raise FileNotFoundError(f"{run.path} has no agent checkpoint yet; train it first")
    config = run.config()
    single = dataclasses.replace(config, agent=dataclasses.replace(config.agent, n_envs=1))
    pool = EpisodePool(2**62)
    with warnings.catch_warnings():  # one env makes PPO's rollout smaller than its batch;
        # this agent only plays, so SB3's advice about truncated mini-batches is noise
        warnings.filterwarnings("ignore", message="You have specified a mini-batch size")
        stack = build_stack(single, pool, None, env_seed=config.seed + seed_offset)
    load_agent(stack, run.agent_checkpoint)
    stack.wrapper.explore_for(0)
    stack.wrapper.record_states = not is_pixel_env(config.env_id)  # pixels: the frames are all
    if stack.normalize is not None:
        stack.normalize.training = False
        stack.normalize.norm_reward = False
    venv = stack.model.get_env()
    assert venv is not None
    deterministic = evaluation_is_deterministic(config.env_id)
    obs = venv.reset()
    while len(pool) < episodes:
        actions, _ = stack.model.predict(obs, deterministic=deterministic)  # type: ignore[arg-type]
        obs, _, _, _ = venv.step(actions)
    venv.close()
    return pool.episodes[:episodes]


@dataclass(frozen=True)
class Recording:
    """What ``record_video`` wrote."""

    path: Path
    frames: int
    width: int
    height: int
    fps: float
    episode_lengths: tuple[int, ...]
    """Steps of each episode shown (after ``max_seconds``)."""


def record_video(
    run_dir: Path | str,
    out: Path,
    episodes: int = 1,
    size: int = 480,
    max_fps: float = 30.0,
    max_seconds: float | None = None,
) -> Recording:
    """Render ``episodes`` of the run's policy into ``out`` (``.mp4`` or ``.gif``).

    Every ``frame_stride``-th step is drawn, so the video plays in real time at no more
    than ``max_fps`` frames per second: ``ceil(L / stride)`` frames per episode of L
    steps. ``size`` is the frame size of MuJoCo tasks (classic control has its own);
    ``max_seconds`` shortens each episode to that much simulated time.
    """
    config = RunDir.open(Path(run_dir)).config()
    played = policy_episodes(run_dir, episodes)
    env_id = config.env_id
    if is_pixel_env(env_id):  # the frames the agent saw, drawn as the page's clips
        return _write_episodes(
            Path(out), played, PIXEL_FPS, max_fps, max_seconds,
            lambda episode, shown: pixel_clip(env_id, _steps_of(episode, shown)),
        )  # fmt: skip
    frames = make_renderer(env_id, size)
    try:
        return _write_episodes(
            Path(out), played, frames.steps_per_second, max_fps, max_seconds,
            lambda episode, shown: (frames.frame(np.asarray(s)) for s in _states(episode)[shown]),
        )  # fmt: skip
    finally:
        frames.close()


def _write_episodes(
    out: Path,
    played: list[Episode],
    steps_per_second: float,
    max_fps: float,
    max_seconds: float | None,
    draw: Callable[[Episode, slice], Iterable[np.ndarray]],
) -> Recording:
    """Write the frames ``draw`` gives for the shown steps of each episode: every
    ``frame_stride``-th step of at most ``max_seconds`` of it, in real time."""
    stride = frame_stride(steps_per_second, max_fps)
    fps = steps_per_second / stride
    writer = VideoWriter(out, fps)
    lengths = []
    try:
        for episode in played:
            steps = len(episode.obs)
            if max_seconds is not None:
                steps = min(steps, max(1, math.floor(max_seconds * steps_per_second)))
            lengths.append(steps)
            for frame in draw(episode, slice(0, steps, stride)):
                writer.write(frame)
    finally:
        writer.close()
    assert writer.size is not None
    return Recording(out, writer.frames, *writer.size, fps, tuple(lengths))


def _states(episode: Episode) -> np.ndarray:
    assert episode.states is not None  # recorded for every env but pixel ones
    return episode.states


def _steps_of(episode: Episode, shown: slice) -> Segment:
    """The shown steps of a pixel episode as a segment (what ``pixel_clip`` draws)."""
    obs = episode.obs[shown]
    return Segment(obs=obs, actions=episode.actions[shown], absorbing=np.zeros(len(obs), bool))
