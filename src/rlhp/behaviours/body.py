"""Positions and floor contacts of a MuJoCo body, from recorded simulator states.

A recorded state is ``qpos`` followed by ``qvel`` (``rlhp.rl.sim_state``). ``Body`` puts
it into its own ``MjData``, runs forward kinematics and reports each geom's clearance:
the height of its lowest point above the floor (the plane z = 0). A part "touches" the
floor when its clearance is below a tolerance — what a person sees in the clip, whether
or not the contact solver had a contact at that instant.
"""

from __future__ import annotations

import gymnasium as gym
import mujoco
import numpy as np

CAPSULE, SPHERE = int(mujoco.mjtGeom.mjGEOM_CAPSULE), int(mujoco.mjtGeom.mjGEOM_SPHERE)


class Body:
    """Kinematics of one MuJoCo task's model (Gymnasium id), reused for many states."""

    def __init__(self, env_id: str) -> None:
        env = gym.make(env_id)
        model = getattr(env.unwrapped, "model", None)
        if not isinstance(model, mujoco.MjModel):
            raise ValueError(f"{env_id} is not a MuJoCo environment")
        self.model = model
        self.data = mujoco.MjData(model)
        self.nq = int(model.nq)
        env.close()

    def geom_ids(self, names: tuple[str, ...]) -> np.ndarray:
        """Ids ``(len(names),)`` of the named geoms; a missing name raises ``KeyError``."""
        ids = [mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_GEOM, n) for n in names]
        missing = [n for n, i in zip(names, ids, strict=True) if i < 0]
        if missing:
            raise KeyError(f"the model has no geom(s) {missing}")
        return np.array(ids)

    def clearances(self, states: np.ndarray, geoms: np.ndarray) -> np.ndarray:
        """Height above the floor of each geom's lowest point, ``(T, len(geoms))``.

        Args:
            states: ``(T, nq + nv)`` recorded states.
            geoms: geom ids (capsules or spheres).
        """
        kinds = self.model.geom_type[geoms]
        if not np.isin(kinds, (CAPSULE, SPHERE)).all():
            raise ValueError("clearances are computed for capsule and sphere geoms only")
        radius = self.model.geom_size[geoms, 0]
        half = np.where(kinds == CAPSULE, self.model.geom_size[geoms, 1], 0.0)
        out = np.empty((len(states), len(geoms)))
        for t, state in enumerate(states):
            self.data.qpos[:] = state[: self.nq]
            mujoco.mj_kinematics(self.model, self.data)
            centre_z = self.data.geom_xpos[geoms, 2]
            axis_z = self.data.geom_xmat[geoms, 8]  # z component of each geom's own z axis
            out[t] = centre_z - np.abs(axis_z) * half - radius
        return out
