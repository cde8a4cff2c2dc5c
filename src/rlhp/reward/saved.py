"""Saved reward models: one checkpoint format, read back for reuse.

A reward checkpoint is a ``torch.save`` of plain data (read with ``weights_only=True``):

* ``model``: the ensemble's ``state_dict`` (weights, input and output normalisation,
  the absorbing-state rewards);
* ``reward_model``: the ``RewardModelConfig`` it was built with, as a dict;
* ``env_id``: the environment whose observations it reads;
* ``atari``: the pixel preprocessing those observations came through (``AtariConfig``:
  frames stacked, MinAtar frames concatenated…), which decides the input's shape;
* and, in a run's own ``checkpoints/reward_model.pt``, the trainer's ``optimizer`` state
  and adapted ``l2`` coefficients (a resumed run continues fitting from them).

Files written before ``reward_model``, ``env_id`` or ``atari`` were recorded still load:
what they lack comes from the run's ``config.json`` (the run directory given, or the run
a ``checkpoints/reward_model.pt`` belongs to) or the defaults.

``load_reward_model`` turns a file (of ``rlhp reward fit``) or a run directory into a
ready ``RewardEnsemble``; ``rlhp train ENV --reward-model SOURCE`` trains a fresh agent
on it, frozen, and ``rlhp.rl.learned_reward.LearnedRewardWrapper`` puts it into any
Gymnasium or SB3 training code.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import torch

from rlhp.config import AtariConfig, RewardModelConfig, TrainConfig
from rlhp.config.parsing import build
from rlhp.errors import RlhpError
from rlhp.reward.ensemble import RewardEnsemble, make_reward_model

RUN_CHECKPOINT = Path("checkpoints") / "reward_model.pt"


@dataclasses.dataclass(frozen=True)
class SavedReward:
    """A reward checkpoint located and read."""

    path: Path
    """The ``.pt`` file."""
    config: RewardModelConfig
    """The architecture it was built with."""
    env_id: str | None
    """The environment it belongs to (None: the file does not say)."""
    state: dict[str, Any]
    """Everything the file holds."""
    atari: AtariConfig = dataclasses.field(default_factory=AtariConfig)
    """The pixel preprocessing of the observations it reads (unused by vector envs)."""


def checkpoint(
    model: RewardEnsemble,
    config: RewardModelConfig,
    env_id: str,
    atari: AtariConfig | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The checkpoint dict of ``model`` (``extra``: the trainer's optimizer and l2)."""
    return {
        "model": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "reward_model": _plain(config),
        "env_id": env_id,
        **({"atari": _plain(atari)} if atari is not None else {}),
        **extra,
    }


def _plain(config: Any) -> dict[str, Any]:
    """A config dataclass as JSON-able data (what ``weights_only`` loading accepts)."""
    return dict(json.loads(json.dumps(dataclasses.asdict(config))))


def read_saved(source: Path | str) -> SavedReward:
    """Locate and read a reward checkpoint: a ``.pt`` file or a run directory.

    Raises:
        RlhpError: the source does not exist, holds no reward model, or is not one.
    """
    source = Path(source)
    run: Path | None
    if source.is_dir():
        path, run = source / RUN_CHECKPOINT, source
        if not path.is_file():
            raise RlhpError(
                f"{source} holds no reward model ({RUN_CHECKPOINT} is missing); "
                "give a run that learned from preferences, or a file of rlhp reward fit"
            )
    elif source.is_file():  # a run's own checkpoints/reward_model.pt, or a file of its own
        path = source
        run = path.parent.parent if path.parent.name == RUN_CHECKPOINT.parent.name else None
    else:
        raise RlhpError(f"no reward model at {source}; give a .pt file or a run directory")
    config_file = run / "config.json" if run is not None else None
    run_config = (
        TrainConfig.from_dict(json.loads(config_file.read_text()))
        if config_file is not None and config_file.is_file()
        else None
    )
    try:
        state = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as exc:  # a foreign or damaged file: torch raises many kinds
        raise RlhpError(
            f"{path} is not a reward model checkpoint ({exc.__class__.__name__})"
        ) from exc
    if not isinstance(state, dict) or "model" not in state:
        raise RlhpError(f"{path} is not a reward model checkpoint (it has no 'model' entry)")
    if "reward_model" in state:
        config = RewardModelConfig.from_dict(state["reward_model"])
    elif run_config is not None:
        config = run_config.reward_model
    else:
        config = RewardModelConfig()
    env_id = state.get("env_id") or (run_config.env_id if run_config is not None else None)
    if "atari" in state:
        atari = build(AtariConfig, state["atari"], "atari")
    else:
        atari = run_config.atari if run_config is not None else AtariConfig()
    return SavedReward(path, config, env_id, state, atari)


def load_reward_model(source: Path | str, env_id: str | None = None) -> RewardEnsemble:
    """A saved reward ensemble, ready to use (eval mode).

    Args:
        source: a ``.pt`` file (``rlhp reward fit``) or a run directory.
        env_id: the environment it will read; must match the saved one where the file
            says. Needed only for files that do not record it.

    Raises:
        RlhpError: mismatched environment, or weights that do not fit its spaces.
    """
    return model_from(read_saved(source), env_id)


def model_from(saved: SavedReward, env_id: str | None = None) -> RewardEnsemble:
    """``load_reward_model`` of a checkpoint already read: the ensemble the run would build
    for the environment's spaces (the CNN for pixels), with the saved weights."""
    from rlhp.rl.agents import probe_env  # the env as the agent sees it (Atari preprocessed)

    env = check_env(saved, env_id)
    obs_space, action_space = probe_env(
        TrainConfig(env, reward_model=saved.config, atari=saved.atari)
    )
    model = make_reward_model(obs_space, action_space, saved.config)
    try:
        model.load_state_dict(saved.state["model"])
    except RuntimeError as exc:
        raise RlhpError(
            f"the reward model in {saved.path} does not fit {env}'s observations: "
            f"{str(exc).splitlines()[0]}"
        ) from exc
    model.eval()
    return model


def check_env(saved: SavedReward, env_id: str | None) -> str:
    """The environment id to use with ``saved``; refuses a mismatch."""
    if env_id is not None and saved.env_id is not None and env_id != saved.env_id:
        raise RlhpError(
            f"the reward model in {saved.path} was learned on {saved.env_id}, not {env_id}; "
            f"train {saved.env_id} with it, or give a reward model of {env_id}"
        )
    env = env_id or saved.env_id
    if env is None:
        raise RlhpError(f"{saved.path} does not say which environment it belongs to; name it")
    return env
