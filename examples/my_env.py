"""Your own Gymnasium environment with rlhp: a small goal-reaching task.

``rlhp train examples.my_env:MyEnv-v0`` imports this module (Gymnasium's
``module:EnvId`` form), which registers the environment, and trains on it with
defaults derived from the step budget and the spaces (no preset is needed):

    rlhp train examples.my_env:MyEnv-v0 --labels 200 --timesteps 50000 --out runs/my-env

MyEnv-v0 is a minimum-time task: a point on the plane moves one of four ways per step
and pays −1 every step until it reaches the goal disc, which ends the episode (200
steps at most). Clips that do not reach the goal all look alike to the oracle (−1 per
step): the case ``rlhp.loop.coverage`` is for.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

GOAL = np.array([0.6, 0.6])
GOAL_RADIUS = 0.2
STEP = 0.05
MOVES = np.array([[STEP, 0.0], [-STEP, 0.0], [0.0, STEP], [0.0, -STEP]])


class MyEnv(gym.Env[np.ndarray, int]):
    """Reach the goal disc at (0.6, 0.6) from a random start in [−1, 1]² outside it."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 15}

    def __init__(self, render_mode: str | None = None) -> None:
        self.render_mode = render_mode
        self.observation_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self.action_space = spaces.Discrete(4)
        self._position = np.zeros(2)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._position = GOAL
        while np.linalg.norm(self._position - GOAL) < 2 * GOAL_RADIUS:
            self._position = self.np_random.uniform(-1.0, 1.0, size=2)
        return self._position.astype(np.float32), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self._position = np.clip(self._position + MOVES[int(action)], -1.0, 1.0)
        reached = bool(np.linalg.norm(self._position - GOAL) < GOAL_RADIUS)
        return self._position.astype(np.float32), -1.0, reached, False, {}

    def render(self) -> np.ndarray:
        """A 64×64 picture: the goal disc in green, the point in white."""
        size = 64
        grid = (np.indices((size, size)).transpose(1, 2, 0)[..., ::-1] + 0.5) / size * 2 - 1
        grid[..., 1] *= -1  # image rows go down, y goes up
        frame = np.zeros((size, size, 3), dtype=np.uint8)
        frame[np.linalg.norm(grid - GOAL, axis=-1) < GOAL_RADIUS] = (40, 160, 60)
        frame[np.linalg.norm(grid - self._position, axis=-1) < 0.06] = (255, 255, 255)
        return frame


gym.register("MyEnv-v0", entry_point=MyEnv, max_episode_steps=200)
