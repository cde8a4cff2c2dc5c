"""Shared fixtures: one torch thread (2-core machines), a tiny CartPole run with clips,
and label-store locations on every backend (SQLite file, SQLite URL, PostgreSQL)."""

from __future__ import annotations

import importlib.util
import itertools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3.common.env_util import make_vec_env
from threadpoolctl import threadpool_limits

from rlhp.config import RewardModelConfig
from rlhp.reward.ensemble import FeatureSpec, RewardEnsemble
from rlhp.rl.reward_wrapper import RewardSwapWrapper
from rlhp.segments import EpisodePool, Segment
from rlhp.store.engine import Location
from rlhp.store.labels import LabelStore
from tests import postgres

torch.set_num_threads(1)
threadpool_limits(1, user_api="blas")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


ROOT = Path(__file__).resolve().parents[1]


def load_script(relative: str) -> ModuleType:
    """A script of the repository (``benchmarks/…``, ``examples/…``) imported as a module."""
    spec = importlib.util.spec_from_file_location(Path(relative).stem, ROOT / relative)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def constant_model(alive: float, absorbing: float, env_id: str = "CartPole-v1") -> RewardEnsemble:
    """A reward model that pays ``alive`` on every step and ``absorbing`` after the end."""
    env = gym.make(env_id)
    model = RewardEnsemble(
        FeatureSpec.from_spaces(env.observation_space, env.action_space, False), RewardModelConfig()
    )
    env.close()
    with torch.no_grad():
        for layer in [*model.hidden, model.head]:
            layer.weight.zero_()
            layer.bias.zero_()
        model.head.bias.fill_(alive)
        model.absorbing_reward.fill_(absorbing)
        model.absorbing_seen.fill_(True)
    return model


def cartpole_segments(
    count: int, length: int = 20, seed: int = 0, balance: bool = False
) -> tuple[list[Segment], np.ndarray]:
    """Segments with recorded simulator states from CartPole rollouts.

    Random actions, or with ``balance`` a noisy hand-written controller whose episodes
    last long enough to fill longer clips.
    """
    pool = EpisodePool(10_000)
    venv = make_vec_env("CartPole-v1", n_envs=2, seed=seed)
    wrapper = RewardSwapWrapper(venv, pool, None, record_states=True)
    rng = np.random.default_rng(seed)
    obs = wrapper.reset()
    while len(pool) < 6:
        actions = rng.integers(0, 2, size=2)
        if balance:
            push = (obs[:, 2] + 0.5 * obs[:, 3] > 0).astype(np.int64)
            actions = np.where(rng.random(2) < 0.8, push, actions)
        obs, *_ = wrapper.step(actions)
    return pool.sample(count, length, rng)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[postgres.PostgresServer]:
    """A PostgreSQL server of our own for the session; skips when it cannot run here."""
    reason = postgres.missing()
    if reason is not None:
        pytest.skip(reason)
    server = postgres.PostgresServer.start()
    yield server
    server.stop()


BACKENDS = ["sqlite", "sqlite-url", "postgresql"]

NewLocation = Callable[[], Location]


def _new_location(request: pytest.FixtureRequest, tmp_path: Path) -> NewLocation:
    """Fresh store locations on the backend ``request.param``, one per call."""
    if request.param == "postgresql":
        server: postgres.PostgresServer = request.getfixturevalue("postgres_server")
        return server.new_database
    names = itertools.count()
    if request.param == "sqlite-url":
        return lambda: f"sqlite:///{tmp_path}/store-{next(names)}.sqlite"
    return lambda: tmp_path / f"store-{next(names)}.sqlite"


@pytest.fixture(params=BACKENDS)
def new_location(request: pytest.FixtureRequest, tmp_path: Path) -> NewLocation:
    """A factory of fresh store locations, once per backend."""
    return _new_location(request, tmp_path)


@pytest.fixture(params=["sqlite", "postgresql"])
def labelling_run_any(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """``labelling_run`` with its store in RUN/labels.sqlite, or in PostgreSQL (run.json)."""
    if request.param == "sqlite":
        return _labelling_run(tmp_path, None)
    server: postgres.PostgresServer = request.getfixturevalue("postgres_server")
    return _labelling_run(tmp_path, server.new_database())


@pytest.fixture
def labelling_run(tmp_path: Path) -> Path:
    """A run directory with 6 pairs, fake clips for pairs 1–5 and none for pair 6."""
    return _labelling_run(tmp_path, None)


def _labelling_run(tmp_path: Path, url: str | None) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    if url is not None:
        (run / "run.json").write_text(json.dumps({"format_version": 1, "store": url}))
    store = LabelStore.create(url or run / "labels.sqlite", {"env_id": "CartPole-v1"})
    segments, truth = cartpole_segments(12, length=10)
    ids = store.add_segments(segments, truth)
    store.add_pairs(
        list(zip(ids[0::2], ids[1::2], strict=True)), env_step=0, round_index=0, selector="uniform"
    )
    (run / "clips").mkdir()
    for sid in ids[:10]:
        name = f"segment-{sid:06d}.mp4"
        (run / "clips" / name).write_bytes(b"fake mp4 " + bytes([sid]))
        store.set_clip(sid, f"clips/{name}")
    store.close()
    (run / "config.json").write_text(json.dumps({"schedule": {"labels": 40}}))
    (tmp_path / "secret.txt").write_text("not for labellers")
    return run
