"""MuJoCo presets: task facts match Gymnasium, every (task, algorithm) builds and steps,
the oracle's reward leaves out control costs, and early termination is absorbed."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from rlhp.cli.main import parser
from rlhp.cli.train import train_config
from rlhp.config import TrainConfig
from rlhp.errors import ConfigError
from rlhp.rl.agents import build_stack, probe_env
from rlhp.rl.mujoco_presets import MUJOCO_TASKS
from rlhp.rl.presets import agent_preset, hidden_terms, segment_length, task_config
from rlhp.rl.reward_wrapper import RewardSwapWrapper, visible_rewards
from rlhp.segments import EpisodePool, cut_segment
from tests.conftest import constant_model

pytest.importorskip("mujoco", reason="the MuJoCo tasks need the rlhp[mujoco] extra")

TASKS = sorted(MUJOCO_TASKS)
PAPER_TASKS = {
    "Hopper-v5",
    "HalfCheetah-v5",
    "Walker2d-v5",
    "Swimmer-v5",
    "Reacher-v5",
    "Ant-v5",
    "InvertedPendulum-v5",
    "InvertedDoublePendulum-v5",
}


def test_the_papers_eight_tasks_have_presets() -> None:
    assert set(TASKS) == PAPER_TASKS


@pytest.mark.parametrize("env_id", TASKS)
def test_task_facts_match_the_environment(env_id: str) -> None:
    env = gym.make(env_id)
    preset = MUJOCO_TASKS[env_id]
    assert preset.dt == pytest.approx(env.unwrapped.dt)  # type: ignore[attr-defined]
    assert env.spec is not None and preset.max_episode_steps == env.spec.max_episode_steps
    env.close()


def test_segments_are_one_and_a_half_simulated_seconds() -> None:
    # 1.5 s / dt, rounded, within the paper's 15-60 steps; Reacher's episodes last 50 steps
    # (1 s), so its segments do too.
    expected = {
        "Hopper-v5": 60,  # dt 0.008: 188 steps, capped at 60
        "Walker2d-v5": 60,
        "HalfCheetah-v5": 30,  # dt 0.05
        "Ant-v5": 30,
        "InvertedDoublePendulum-v5": 30,
        "Swimmer-v5": 38,  # dt 0.04
        "InvertedPendulum-v5": 38,
        "Reacher-v5": 50,  # dt 0.02 → 75, capped at the 50-step episode
    }
    assert {env_id: segment_length(env_id) for env_id in TASKS} == expected
    assert segment_length("CartPole-v1") == 50  # non-preset tasks keep their table


def test_oracle_reward_excludes_the_control_cost() -> None:
    infos = [
        {"reward_forward": 2.0, "reward_ctrl": -0.5, "reward_survive": 1.0},
        {"reward_forward": -1.0, "reward_ctrl": -0.25, "reward_survive": 1.0},
    ]
    env_rewards = np.array([2.5, -0.25])
    assert np.allclose(visible_rewards(env_rewards, infos, ("reward_ctrl",)), [3.0, 0.0])
    assert np.allclose(visible_rewards(env_rewards, infos, ()), env_rewards)
    with pytest.raises(KeyError, match="reward_contact"):
        visible_rewards(env_rewards, infos, ("reward_contact",))


@pytest.mark.parametrize("env_id", TASKS)
def test_a_control_cost_is_hidden_only_where_full_torque_costs_under_1_per_step(
    env_id: str,
) -> None:
    env = gym.make(env_id)
    base = env.unwrapped
    weight = getattr(base, "_ctrl_cost_weight", getattr(base, "_reward_control_weight", 0.0))
    high = np.asarray(env.action_space.high, dtype=float)  # type: ignore[attr-defined]
    full_torque_cost = weight * float(np.sum(high**2))
    env.close()
    preset = MUJOCO_TASKS[env_id]
    assert ("reward_ctrl" in preset.hidden_terms) == (0 < full_torque_cost < 1)
    # a visible control cost is a function of the action: the reward model must see it
    assert preset.reward_uses_actions == (full_torque_cost >= 1)


def test_hidden_terms_come_from_the_preset_unless_configured() -> None:
    assert hidden_terms(TrainConfig("Hopper-v5")) == ("reward_ctrl",)
    assert hidden_terms(TrainConfig("InvertedPendulum-v5")) == ()
    assert hidden_terms(TrainConfig("Reacher-v5")) == ()  # its torque cost is half its return
    # ... and the cost is a function of the action: the reward model sees actions there only
    assert task_config("Reacher-v5").reward_model.use_actions
    assert task_config("Ant-v5").reward_model.use_actions
    assert task_config("Ant-v5").reward_model.action_squares  # its 8 torques' energy
    assert not task_config("Reacher-v5").reward_model.action_squares
    assert task_config("Ant-v5").reward_model.observation_dims == 27  # not its contact forces
    assert task_config("Hopper-v5").reward_model.observation_dims is None
    assert hidden_terms(TrainConfig("Ant-v5")) == ()  # full torque costs 4 per step
    assert not task_config("Hopper-v5").reward_model.use_actions
    assert hidden_terms(TrainConfig("CartPole-v1")) == ()
    assert hidden_terms(TrainConfig("Hopper-v5").with_overrides(["oracle.hidden_terms=[]"])) == ()
    with pytest.raises(ConfigError, match="reward_nope"):
        probe_env(TrainConfig("Hopper-v5").with_overrides(['oracle.hidden_terms=["reward_nope"]']))
    with pytest.raises(ConfigError, match=r"observation_dims=12 does not fit.*1 to 11 here"):
        probe_env(TrainConfig("Hopper-v5").with_overrides(["reward_model.observation_dims=12"]))


def test_train_applies_the_preset_and_flags_override_it() -> None:
    args = parser().parse_args(["train", "Hopper-v5"])
    assert train_config(args, None) == task_config("Hopper-v5")
    args = parser().parse_args(
        ["train", "Hopper-v5", "--algo", "trpo", "--set", "reward_model.hidden_sizes=[32]"]
    )
    config = train_config(args, None)
    assert config.agent.algo == "trpo" and config.reward_model.hidden_sizes == (32,)
    trpo = agent_preset("Hopper-v5", "trpo").kwargs
    assert (trpo["gamma"], trpo["gae_lambda"]) == (0.995, 0.97)  # the paper's TRPO


@pytest.mark.filterwarnings(
    "ignore:You have specified a mini-batch size"
)  # zoo's own IP/IDP values
@pytest.mark.parametrize("algo", ["ppo", "trpo", "sac"])
def test_every_preset_builds_and_steps(algo: str) -> None:
    if algo == "trpo":
        pytest.importorskip("sb3_contrib")
    for env_id in TASKS:
        config = task_config(env_id).with_overrides([f"agent.algo={algo}"])
        probe_env(config)
        pool = EpisodePool(10_000)
        model = constant_model(0.25, 0.0, env_id)
        stack = build_stack(config, pool, model, env_seed=0)
        assert stack.model.gamma == agent_preset(env_id, algo).kwargs.get("gamma", 0.99)
        venv = stack.model.get_env()
        assert venv is not None
        obs = venv.reset()
        for _ in range(3):
            actions, _ = stack.model.predict(obs)
            obs, _, _, _ = venv.step(actions)
        assert stack.wrapper.env_steps == 3 * venv.num_envs, env_id
        # the raw reward the agent is shown is r̂ (0.25 everywhere), never the env's
        raw = stack.wrapper.step(np.array([venv.action_space.sample()] * venv.num_envs))[1]
        assert np.allclose(raw, 0.25), env_id


@pytest.mark.parametrize("env_id", ["Hopper-v5", "Walker2d-v5"])
def test_falling_is_absorbed_not_exploitable(env_id: str) -> None:
    from stable_baselines3.common.env_util import make_vec_env

    pool = EpisodePool(100_000)
    # r̂ rates being alive exactly like the absorbing state: every step must pay 0, so
    # neither falling early nor staying up carries any reward of its own.
    wrapper = RewardSwapWrapper(
        make_vec_env(env_id, n_envs=2, seed=0),
        pool,
        constant_model(0.7, 0.7, env_id),
        hidden_terms=("reward_ctrl",),
    )
    wrapper.reset()
    rewards = []
    rng = np.random.default_rng(0)
    while len(pool) < 6:
        actions = rng.uniform(-1, 1, size=(2, *wrapper.action_space.shape))
        rewards.extend(wrapper.step(actions)[1].tolist())
    assert np.allclose(rewards, 0.0)
    episode = pool.episodes[0]
    assert episode.terminated and episode.length < 1000  # a random walker falls
    # its last segment continues with absorbing steps worth 0 to the oracle
    length = segment_length(env_id)
    segment, truth = cut_segment(episode, episode.length - 5, length)
    assert segment.absorbing.sum() == length - 5 and np.all(truth[5:] == 0.0)
    assert np.all(segment.obs[5:] == 0.0)
    # Without early termination a time limit cuts episodes: truncated, never absorbed.
    pool = EpisodePool(100_000)
    wrapper = RewardSwapWrapper(
        make_vec_env(
            env_id,
            n_envs=1,
            seed=0,
            env_kwargs=dict(max_episode_steps=30, terminate_when_unhealthy=False),
        ),
        pool,
        None,
        hidden_terms=("reward_ctrl",),
    )
    wrapper.reset()
    sent = []
    while len(pool) < 1:
        sent.append(rng.uniform(-1, 1, size=(1, *wrapper.action_space.shape)))
        wrapper.step(sent[-1])
    episode = pool.episodes[0]
    assert not episode.terminated and episode.length == 30
    # Replayed in a plain env: the oracle's rewards are the env's minus the control cost,
    # and the reported true return is the env's own.
    env = gym.make(env_id, max_episode_steps=30, terminate_when_unhealthy=False)
    env.reset(seed=0)
    steps = [env.step(a[0]) for a in sent]
    env_rewards = np.array([float(step[1]) for step in steps])
    ctrl = np.array([step[4]["reward_ctrl"] for step in steps])
    assert np.all(ctrl < 0)
    assert np.allclose(episode.true_rewards, env_rewards - ctrl)
    assert wrapper.stats().true_return == pytest.approx(env_rewards.sum())


def test_trpo_without_sb3_contrib_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "sb3_contrib", None)  # import fails as if not installed
    with pytest.raises(ConfigError, match=r"rlhp\[contrib\]"):
        probe_env(TrainConfig("CartPole-v1").with_overrides(["agent.algo=trpo"]))


def test_ants_reward_model_reads_its_positions_and_velocities_not_its_contact_forces() -> None:
    env = gym.make("Ant-v5")
    obs, _ = env.reset(seed=0)
    obs, *_ = env.step(env.action_space.sample())
    data = env.unwrapped.data  # type: ignore[attr-defined]
    dims = task_config("Ant-v5").reward_model.observation_dims
    assert obs.shape == (105,) and dims == 13 + 14
    assert np.allclose(obs[:13], data.qpos[2:]) and np.allclose(obs[13:dims], data.qvel)
    env.close()
