"""A saved reward model trains a fresh agent, frozen (issue 9, defect 5)."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from rlhp.cli import main
from rlhp.loop.run_dir import RunDir
from rlhp.loop.trainer import PreferenceLoop, store_meta
from rlhp.reward.saved import load_reward_model, read_saved
from rlhp.rl.learned_reward import LearnedRewardWrapper
from rlhp.store.labels import LabelStore
from tests.reward.test_offline import _left_preferring_store


@pytest.fixture
def fitted(tmp_path: Path) -> Path:
    """A reward model from ``rlhp reward fit``: the cart further left is better."""
    _left_preferring_store(tmp_path / "labels.sqlite").close()
    out = tmp_path / "reward.pt"
    assert main(["reward", "fit", str(tmp_path / "labels.sqlite"), "--out", str(out)]) == 0
    return out


def _obs(n: int = 9) -> np.ndarray:
    obs = np.zeros((n, 4), dtype=np.float32)
    obs[:, 0] = np.linspace(-0.8, 0.8, n)
    return obs


def test_train_on_a_saved_reward_model_asks_nothing_and_uses_it_exactly(
    tmp_path: Path, fitted: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "frozen"
    argv = ["train", "CartPole-v1", "--reward-model", str(fitted), "--timesteps", "2048"]
    assert main([*argv, "--out", str(out), "--no-progress"]) == 0
    assert "0 queries asked" in capsys.readouterr().out
    config = json.loads((out / "config.json").read_text())
    assert config["reward_model_file"] == str(fitted.absolute())
    # the run's own copy is the saved model, bit for bit
    saved, copy = read_saved(fitted).state["model"], read_saved(out).state["model"]
    assert saved.keys() == copy.keys()
    assert all(torch.equal(saved[k], copy[k]) for k in saved)
    # and the agent's reward is the saved r̂ − r̂_abs on any observation
    run = RunDir.open(out)
    store = LabelStore.open(run.store_location, expect=store_meta(run.config()))
    try:
        loop = PreferenceLoop(run.config(), run, store, resume=True, progress=False)
        assert loop.updater is None and loop.stack.wrapper.reward_fn is not None
        shown = loop.stack.wrapper.reward_fn(_obs(), np.zeros(9, dtype=np.int64))
    finally:
        store.close()
    expected = load_reward_model(fitted, "CartPole-v1").snapshot()(_obs(), np.zeros(9))
    assert np.array_equal(shown, expected)
    assert shown[0] > shown[-1]  # it still prefers the cart on the left


def test_learned_reward_wrapper_gives_the_saved_reward_to_any_training_code(
    fitted: Path,
) -> None:
    model = load_reward_model(fitted)
    env = LearnedRewardWrapper(gym.make("CartPole-v1"), model)
    obs, _ = env.reset(seed=0)
    expected = model.snapshot()(np.asarray(obs)[None], np.array([1]))[0]
    _, reward, _, _, info = env.step(1)
    assert reward == pytest.approx(expected) and info["env_reward"] == 1.0
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    venv = make_vec_env(
        "CartPole-v1", 2, wrapper_class=LearnedRewardWrapper, wrapper_kwargs={"model": model}
    )
    agent = PPO("MlpPolicy", venv, n_steps=32, batch_size=32, device="cpu")
    agent.learn(64)  # SB3 trains on it unchanged
    assert agent.num_timesteps == 64


def test_bad_reward_model_sources_get_one_line(
    tmp_path: Path, fitted: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def error(argv: list[str]) -> str:
        assert main(argv) == 2
        return capsys.readouterr().err

    base = ["train", "--timesteps", "64", "--no-progress", "--out", str(tmp_path / "x")]
    assert "learned on CartPole-v1, not Pendulum-v1" in error(
        [*base, "Pendulum-v1", "--reward-model", str(fitted)]
    )
    assert "no reward model at" in error(
        [*base, "CartPole-v1", "--reward-model", str(tmp_path / "missing.pt")]
    )
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    assert "is not a reward model checkpoint" in error(
        [*base, "CartPole-v1", "--reward-model", str(tmp_path / "junk.pt")]
    )
    assert "drop --reward env" in error(
        [*base, "CartPole-v1", "--reward-model", str(fitted), "--reward", "env"]
    )
    assert not (tmp_path / "x").exists()  # nothing was created


def test_a_pixel_reward_model_loads_with_the_preprocessing_it_was_learned_on(
    tmp_path: Path,
) -> None:
    """A MinAtar run with two frames per observation saved a CNN that reads 14 channels;
    loading it probed the env with the default preprocessing (7 channels) and failed."""
    from rlhp.config import AtariConfig, RewardModelConfig, TrainConfig
    from rlhp.reward.ensemble import make_reward_model
    from rlhp.reward.saved import checkpoint
    from rlhp.rl.agents import probe_env

    env_id, atari, reward = "MinAtar/Freeway-v1", AtariConfig(minatar_frames=2), RewardModelConfig()
    config = TrainConfig(env_id, atari=atari, reward_model=reward)
    obs_space, action_space = probe_env(config)
    model = make_reward_model(obs_space, action_space, reward)
    channels = model.state_dict()["convs.0.weight"].shape[1]
    assert channels == 2 * probe_env(TrainConfig(env_id))[0].shape[0]
    torch.save(checkpoint(model, reward, env_id, atari), tmp_path / "reward.pt")
    loaded = load_reward_model(tmp_path / "reward.pt")
    assert loaded.state_dict()["convs.0.weight"].shape[1] == channels
    # a run's checkpoint written before the preprocessing was recorded: its run says it
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.json").write_text(config.to_json())
    legacy = checkpoint(model, reward, env_id)
    assert "atari" not in legacy
    torch.save(legacy, run / "checkpoints" / "reward_model.pt")
    for source in (run, run / "checkpoints" / "reward_model.pt"):
        assert read_saved(source).atari == atari
        assert load_reward_model(source).state_dict()["convs.0.weight"].shape[1] == channels
