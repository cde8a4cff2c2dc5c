"""Atari from pixels on real ALE games: the paper's preprocessing, the score masks, and
that no life-loss or episode-end signal reaches the agent's reward."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from stable_baselines3.common.env_util import make_vec_env

from rlhp.cli import main
from rlhp.config import AtariConfig, RewardModelConfig
from rlhp.reward.cnn import CnnRewardEnsemble
from rlhp.reward.ensemble import make_reward_model
from rlhp.rl.atari import make_pixel_env
from rlhp.rl.atari_masks import MASKS, ScoreMask, score_mask
from rlhp.rl.reward_wrapper import RewardSwapWrapper
from rlhp.segments import EpisodePool

pytest.importorskip("ale_py", reason="needs the atari extra: pip install 'rlhp[atari]'")

SEVEN = ("BeamRider", "Breakout", "Enduro", "Pong", "Qbert", "Seaquest", "SpaceInvaders")


def test_every_game_of_the_paper_has_a_mask() -> None:
    assert set(MASKS) == set(SEVEN)
    assert not score_mask("Asteroids").any()  # other games: nothing blanked


def test_pong_mask_is_its_score_rows_scaled_outward() -> None:
    # Pong's scores: rows 0-23 of 210 → rows 0 … ceil(24·84/210) = 0 … 9 (exclusive 10)
    mask = score_mask("Pong")
    assert mask[:10].all() and not mask[10:].any()


@pytest.mark.parametrize("game", SEVEN)
def test_the_mask_zeroes_exactly_the_masked_region(game: str) -> None:
    env = make_pixel_env(f"ALE/{game}-v5", AtariConfig(mask_score=False, frame_stack=1))
    wrapped = ScoreMask(env, score_mask(game))
    frame = np.full((1, 84, 84), 200, dtype=np.uint8)
    out = wrapped.observation(frame)
    mask = score_mask(game)
    assert mask.any()
    assert (out[0][mask] == 0).all() and (out[0][~mask] == 200).all()
    env.close()


def test_masked_and_unmasked_games_differ_only_inside_the_mask() -> None:
    """Same seed, same actions: Breakout's frames agree outside the mask, are 0 inside,
    and the unmasked frames really show something there (the score and lives)."""
    plain = make_pixel_env("ALE/Breakout-v5", AtariConfig(mask_score=False))
    masked = make_pixel_env("ALE/Breakout-v5", AtariConfig())
    mask = score_mask("Breakout")
    a, _ = plain.reset(seed=3)
    b, _ = masked.reset(seed=3)
    for step in range(30):
        assert np.array_equal(a[:, ~mask], b[:, ~mask]), step
        assert (b[:, mask] == 0).all()
        a = plain.step(step % 4)[0]
        b = masked.step(step % 4)[0]
    assert a[:, mask].any()
    plain.close()
    masked.close()


def test_the_papers_preprocessing() -> None:
    env = make_pixel_env("ALE/Pong-v5", AtariConfig())
    obs, _ = env.reset(seed=0)
    assert obs.shape == (4, 84, 84) and obs.dtype == np.uint8
    ale = env.unwrapped.ale  # type: ignore[attr-defined]
    assert ale.getFloat("repeat_action_probability") == 0.0  # no sticky actions
    frames = ale.getEpisodeFrameNumber()
    assert 0 <= frames <= 30  # up to 30 no-op starts (frame skip 1 underneath)
    new, *_ = env.step(0)
    assert ale.getEpisodeFrameNumber() - frames == 4  # frame skip 4
    assert np.array_equal(new[:3], obs[1:])  # 4 stacked frames, oldest first
    env.close()
    sticky = make_pixel_env("ALE/Pong-v5", AtariConfig(sticky_actions=0.25))
    sticky.reset(seed=0)
    assert sticky.unwrapped.ale.getFloat("repeat_action_probability") == 0.25  # type: ignore[attr-defined]
    sticky.close()


def test_no_life_loss_or_episode_end_signal_reaches_the_agents_reward() -> None:
    """A real Breakout game played to its end (5 lives) under a CNN reward model.

    Losing a life ends nothing; every reward the agent gets — at a life loss and at the
    final step too — is exactly r̂(observation) − r̂_abs from the frames alone; and the
    episode is recorded once, its frames stored once, observations rebuilt exactly.
    """
    torch.manual_seed(0)
    venv = make_vec_env(lambda: make_pixel_env("ALE/Breakout-v5", AtariConfig()), n_envs=1, seed=0)
    model = make_reward_model(
        venv.observation_space, venv.action_space, RewardModelConfig(zero_init_head=False)
    )
    assert isinstance(model, CnnRewardEnsemble)
    with torch.no_grad():
        model.absorbing_reward.fill_(0.3)
        model.absorbing_seen.fill_(True)  # r̂_abs ≠ 0 is subtracted from every step
    pool = EpisodePool(100_000)
    wrapper = RewardSwapWrapper(venv, pool, model, frame_stack=4)
    reward_fn = wrapper.reward_fn
    assert reward_fn is not None and np.all(reward_fn.offsets != 0.0)  # type: ignore[attr-defined]
    obs = wrapper.reset()
    rng = np.random.default_rng(0)
    seen, rewards, expected, lives, dones = [], [], [], [], []
    while not pool.episodes:
        action = np.array([1 if rng.random() < 0.3 else rng.integers(0, 4)])  # FIRE often
        seen.append(obs[0].copy())
        expected.append(reward_fn(obs, action)[0])
        obs, reward, done, info = wrapper.step(action)
        rewards.append(float(reward[0]))
        lives.append(int(info[0]["lives"]))
        dones.append(bool(done[0]))
    life_lost = [t for t in range(1, len(lives)) if lives[t] < lives[t - 1]]
    assert len(life_lost) >= 4 and not any(dones[t] for t in life_lost[:-1])
    assert dones[-1] and sum(dones) == 1  # one episode: it ended with the game, not a life
    np.testing.assert_allclose(rewards, expected, rtol=1e-5, atol=1e-6)
    episode = pool.episodes[0]
    assert episode.terminated and episode.length == len(seen)
    assert episode.frames is not None and episode.frames.shape == (len(seen) + 3, 84, 84)
    assert np.array_equal(episode.obs, np.stack(seen))
    venv.close()


def test_an_unknown_game_is_one_line_and_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", "ALE/Nonsense-v5", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown Atari game 'ALE/Nonsense-v5'" in err[0]
    assert "ALE/Pong-v5" in err[0]  # the fix: a real id


def test_pixel_presets_are_the_zoos_ppo_and_the_papers_a2c() -> None:
    from rlhp.rl.presets import agent_preset, segment_length, task_config

    for env_id in ("ALE/Pong-v5", "ALE/Asteroids-v5"):  # any ALE id gets the same defaults
        ppo = agent_preset(env_id, "ppo")
        assert ppo.policy == "CnnPolicy" and ppo.n_envs == 8
        assert ppo.kwargs["n_steps"] == 128 and ppo.kwargs["learning_rate"] == "lin_2.5e-4"
        a2c = agent_preset(env_id, "a2c")
        assert a2c.n_envs == 16 and a2c.kwargs["n_steps"] == 5
        assert a2c.kwargs["learning_rate"] == "lin_7e-4"
        assert segment_length(env_id) == 25
        config = task_config(env_id)
        assert round(config.schedule.labels * config.schedule.pretrain_fraction) == round(
            700 * 500 / 5500
        )
        assert config.reward_model.pretrain_epochs == 200
        assert config.reward_model.max_labels == 3000
        assert config.reward_model.evaluation_pairs == 512  # a fit's closing evaluation
    assert task_config("MinAtar/Breakout-v1").reward_model.evaluation_pairs is None
    assert (
        "features_extractor_class"
        in agent_preset("MinAtar/Breakout-v1", "ppo").kwargs["policy_kwargs"]
    )
    assert agent_preset("CartPole-v1", "ppo").policy == "MlpPolicy"


def test_pixel_fits_are_installed_at_the_next_update() -> None:
    from rlhp.rl.presets import task_config

    for env_id, pretrain_epochs in (("ALE/Pong-v5", 200), ("MinAtar/Breakout-v1", 60)):
        config = task_config(env_id).with_overrides(
            ["total_timesteps=500000", "schedule.updates=50"]
        )
        reward = config.reward_model
        assert reward.install_at_next_update and reward.batch_size == 16
        assert reward.min_new_answers == 16  # a fit waits for a batch of new answers
        assert reward.pretrain_epochs == pretrain_epochs
        assert config.install_lag == 10_000  # one update interval: RL never waits for a fit
    plain = task_config("CartPole-v1").with_overrides(["total_timesteps=100000"])
    assert not plain.reward_model.install_at_next_update and plain.install_lag == 500


def test_ale_reward_cnns_use_bfloat16_and_checkpoint_their_pretraining() -> None:
    from rlhp.rl.presets import task_config

    assert task_config("ALE/Breakout-v5").reward_model.precision == "auto"
    assert task_config("MinAtar/Breakout-v1").reward_model.precision == "float32"
    assert task_config("CartPole-v1").reward_model.precision == "float32"
    assert task_config("ALE/Breakout-v5").reward_model.pretrain_chunks == 10  # checkpoints
    assert task_config("MinAtar/Breakout-v1").reward_model.pretrain_chunks == 1
    config = task_config("ALE/Breakout-v5").with_overrides(["reward_model.precision=float32"])
    assert config.reward_model.precision == "float32"  # --set overrides the preset


def test_life_loss_ends_the_episode_only_when_asked() -> None:
    env = make_pixel_env("ALE/Breakout-v5", AtariConfig(terminal_on_life_loss=True))
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    terminated, info = False, {}
    while not terminated:
        _, _, terminated, _, info = env.step(int(rng.integers(0, 4)))
    assert info["lives"] == 4  # the first life lost ended it; the game was not over
    env.close()


def test_two_minatar_frames_show_the_freeway_crossing_one_frame_hides() -> None:
    pytest.importorskip("minatar", reason="needs the minatar extra: pip install 'rlhp[minatar]'")
    from rlhp.clips.pixels import pixel_clip
    from rlhp.errors import ConfigError
    from rlhp.segments import Segment

    with pytest.raises(ConfigError, match=r"atari\.minatar_frames must be >= 1"):
        AtariConfig(minatar_frames=0)
    one = make_pixel_env("MinAtar/Freeway-v1", AtariConfig())
    two = make_pixel_env("MinAtar/Freeway-v1", AtariConfig(minatar_frames=2))
    assert one.observation_space.shape == (7, 10, 10)
    assert two.observation_space.shape == (14, 10, 10)
    single, _ = one.reset(seed=0)
    pair, _ = two.reset(seed=0)
    np.testing.assert_array_equal(pair[7:], single)  # the newest frame last

    def chicken_row(frame: np.ndarray) -> int:
        return int(np.argwhere(frame[0])[0][0])

    for _ in range(200):  # "up" until the chicken crosses (known: within 50 steps)
        single, reward, *_ = one.step(1)
        pair, reward_two, *_ = two.step(1)
        np.testing.assert_array_equal(pair[7:], single)
        assert reward == reward_two
        if reward > 0:
            break
    assert reward == 1.0
    # the rewarded frame alone shows the chicken at the start row, as every start and
    # every car hit does; the frame before it shows where it came from: the top
    assert chicken_row(single) == 9 and chicken_row(pair[:7]) == 1
    clip_two = pixel_clip("MinAtar/Freeway-v1", Segment(pair[None], np.zeros(1), np.zeros(1, bool)))
    clip_one = pixel_clip(
        "MinAtar/Freeway-v1", Segment(single[None], np.zeros(1), np.zeros(1, bool))
    )
    np.testing.assert_array_equal(clip_two, clip_one)  # people see the newest frame
    one.close()
    two.close()


@pytest.mark.parametrize("frames", [1, 2])
def test_the_policy_sees_pixels_channels_first_however_many_channels(frames: int) -> None:
    """SB3 guesses an image's layout from its smallest dimension: two MinAtar Freeway frames
    are (14, 10, 10), which it took for channels-last and transposed to (10, 14, 10), so
    the policy convolved over the wrong axes (seen as SB3's "Treating image space as
    channels-last" warning)."""
    from rlhp.config import TrainConfig
    from rlhp.rl.agents import build_stack

    config = TrainConfig(
        "MinAtar/Freeway-v1", reward="env", atari=AtariConfig(minatar_frames=frames)
    )
    stack = build_stack(config, EpisodePool(1000), None, env_seed=0)
    shape = (7 * frames, 10, 10)
    assert stack.model.observation_space.shape == shape
    obs = stack.model.get_env().reset()  # type: ignore[union-attr]
    assert obs.shape[1:] == shape
    first = next(m for m in stack.model.policy.modules() if isinstance(m, torch.nn.Conv2d))
    assert first.in_channels == 7 * frames
