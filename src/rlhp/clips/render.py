"""Frames of a segment, replayed from its recorded simulator states.

MuJoCo renders headless only with ``MUJOCO_GL=egl`` (or ``osmesa``); ``make_renderer``
sets ``egl`` when nothing is set. On the software renderer (EGL on llvmpipe) the cost of
a MuJoCo frame is almost all in the scene's extra passes: Gymnasium's default scene took
0.43–0.48 s per Hopper frame at any size from 128² to 480², the same frame without
shadows, reflections, skybox and haze 0.044–0.054 s (loaded machine) and 0.013–0.019 s
at 160²–320² on an idle core (``benchmarks/clip_speed.py``). So ``MujocoFrames`` draws
with ``mujoco.Renderer`` and those four flags off, a camera that follows the body, and
clips show at most ``MAX_FPS`` frames per second of simulated time (``frame_stride``):
Hopper steps 125 times a second, its clips show every 5th step.

Classic control renders through Gymnasium (pygame, ~2 ms per frame).
"""

from __future__ import annotations

import math
import os
from typing import Any, Protocol

import gymnasium as gym
import numpy as np

import rlhp.rl.presets  # noqa: F401  (registers the rlhp/ behaviour tasks)
from rlhp.rl.sim_state import ClipError, set_state
from rlhp.segments import Segment

DIM = 0.35
"""Brightness of the frames shown after the episode ended (absorbing steps)."""
MAX_FPS = 25.0
"""Most frames per second of simulated time a clip shows (fewer frames, same motion)."""
TRACKED_BODY = 1
"""MuJoCo body the camera follows (1: the robot's root, tracking its whole subtree)."""


class FrameSource(Protocol):
    """Anything that draws a frame of a recorded simulator state."""

    steps_per_second: float
    """Environment steps per simulated second (``1 / dt``)."""

    def frame(self, state: np.ndarray) -> np.ndarray:
        """``(H, W, 3)`` uint8 picture of ``state`` (as recorded by ``get_state``)."""
        ...

    def close(self) -> None: ...


def frame_stride(steps_per_second: float, max_fps: float = MAX_FPS) -> int:
    """Show every k-th step so that a clip plays at most ``max_fps`` frames per second."""
    return max(1, math.ceil(steps_per_second / max_fps - 1e-9))


class GymFrames:
    """Frames from an environment's own ``render()`` (classic control)."""

    def __init__(self, env: gym.Env) -> None:
        self.env = env
        fps = env.metadata.get("render_fps")
        self.steps_per_second = float(fps) if fps else 30.0

    def frame(self, state: np.ndarray) -> np.ndarray:
        set_state(self.env, state)
        frame = self.env.render()
        if not isinstance(frame, np.ndarray):
            raise ClipError(f"{_name(self.env)} returned no rgb_array frame")
        return np.ascontiguousarray(frame[..., :3], dtype=np.uint8)

    def close(self) -> None:
        self.env.close()


class MujocoFrames:
    """MuJoCo frames through ``mujoco.Renderer`` with the costly scene passes off."""

    def __init__(self, env: gym.Env, size: int) -> None:
        import mujoco

        self.env = env
        inner: Any = env.unwrapped
        self._mujoco = mujoco
        self.model, self.data = inner.model, inner.data
        self.steps_per_second = 1.0 / float(inner.dt)
        self.renderer = mujoco.Renderer(self.model, height=size, width=size)
        flags = self.renderer.scene.flags
        for flag in (
            mujoco.mjtRndFlag.mjRND_SHADOW,
            mujoco.mjtRndFlag.mjRND_REFLECTION,
            mujoco.mjtRndFlag.mjRND_SKYBOX,
            mujoco.mjtRndFlag.mjRND_HAZE,
        ):
            flags[flag] = 0
        self.camera = mujoco.MjvCamera()
        self.camera.type = mujoco.mjtCamera.mjCAMERA_TRACKING
        self.camera.trackbodyid = TRACKED_BODY
        config = getattr(getattr(inner, "mujoco_renderer", None), "default_cam_config", None)
        for key in ("distance", "elevation", "azimuth"):
            if config and key in config:
                setattr(self.camera, key, float(config[key]))
        if not config or "azimuth" not in config:
            self.camera.azimuth = 90.0  # side view: the robot moves left to right
        if not config or "elevation" not in config:
            self.camera.elevation = -15.0

    def frame(self, state: np.ndarray) -> np.ndarray:
        set_state(self.env, state)  # sets qpos/qvel and runs mj_forward
        self.renderer.update_scene(self.data, self.camera)
        return self.renderer.render()

    def close(self) -> None:
        self.renderer.close()
        self.env.close()


def make_render_env(env_id: str, size: int) -> gym.Env:
    """An environment that renders ``rgb_array`` frames of about ``size`` pixels."""
    os.environ.setdefault("MUJOCO_GL", "egl")
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    try:
        env = gym.make(env_id, render_mode="rgb_array", width=size, height=size)
    except TypeError:  # classic control has a fixed screen size
        env = gym.make(env_id, render_mode="rgb_array")
    env.reset(seed=0)
    return env


def make_renderer(env_id: str, size: int) -> FrameSource:
    """The fast MuJoCo renderer for MuJoCo tasks, Gymnasium's ``render()`` otherwise."""
    os.environ.setdefault("MUJOCO_GL", "egl")
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    env = gym.make(env_id)
    env.reset(seed=0)
    if hasattr(env.unwrapped, "model") and hasattr(env.unwrapped, "data"):
        return MujocoFrames(env, size)
    env.close()
    return GymFrames(make_render_env(env_id, size))


def render_segment(source: gym.Env | FrameSource, segment: Segment, stride: int = 1) -> np.ndarray:
    """Frames ``(ceil(T / stride), H, W, 3)`` uint8 of steps 0, stride, 2·stride … of ``segment``.

    ``source`` is a ``FrameSource`` (``make_renderer``) or an environment from
    ``make_render_env``. Steps after the episode ended repeat the last real frame,
    dimmed, with a red bar at the bottom: a person sees that the episode is over (it was
    not cut by a time limit).
    """
    if segment.states is None:
        raise ClipError(
            "this segment has no recorded simulator states; clips need record_states=True"
        )
    frames_of = source if not isinstance(source, gym.Env) else GymFrames(source)
    frames: list[np.ndarray] = []
    over: np.ndarray | None = None
    for t in range(0, segment.length, stride):
        if segment.absorbing[t]:
            if over is None:  # dim the last real frame once, then hold it
                last = frames[-1] if frames else frames_of.frame(_last_real(segment, t))
                over = _episode_over(last)
            frames.append(over)
            continue
        frames.append(frames_of.frame(segment.states[t]))
    return np.stack(frames)


def _last_real(segment: Segment, t: int) -> np.ndarray:
    assert segment.states is not None
    real = np.flatnonzero(~segment.absorbing[:t])
    return segment.states[real[-1] if len(real) else 0]


def _name(env: gym.Env) -> str:
    return env.spec.id if env.spec else repr(env)


def _episode_over(frame: np.ndarray) -> np.ndarray:
    """The last frame, dimmed, with a red "episode over" band along the bottom."""
    out = (frame.astype(np.float32) * DIM).astype(np.uint8)
    band = max(4, frame.shape[0] // 12)
    out[-band:] = (200, 30, 30)
    if band >= 12:
        from PIL import Image, ImageDraw, ImageFont

        image = Image.fromarray(out)
        font = ImageFont.load_default(size=int(band * 0.7))
        ImageDraw.Draw(image).text(
            (frame.shape[1] // 2, frame.shape[0] - band // 2), "episode over", fill="white",
            font=font, anchor="mm",
        )  # fmt: skip
        out = np.asarray(image)
    return out
