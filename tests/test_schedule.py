import pytest

from rlhp.config import ScheduleConfig, TrainConfig
from rlhp.loop.schedule import LabelSchedule


def schedule(kind: str = "decay", labels: int = 100) -> LabelSchedule:
    config = TrainConfig(
        "CartPole-v1", total_timesteps=100_000, schedule=ScheduleConfig(labels=labels, kind=kind)
    )
    return LabelSchedule.from_config(config)


@pytest.mark.parametrize("kind", ["decay", "constant"])
def test_budget_starts_at_pretraining_share_and_ends_complete(kind: str) -> None:
    s = schedule(kind)
    assert s.due(0) == 25
    assert s.due(100_000) == 100
    assert s.due(10**9) == 100
    dues = [s.due(t) for t in range(0, 100_001, 1000)]
    assert dues == sorted(dues)


def test_decay_front_loads_and_constant_is_linear() -> None:
    assert schedule("constant").due(50_000) == 25 + 37
    # c = 5k: F(50k)/F(100k) = ln 11 / ln 21 = 0.788 of the 75 online labels
    assert schedule("decay").due(50_000) == 25 + 59


def test_env_reward_runs_ask_nothing() -> None:
    config = TrainConfig("CartPole-v1", reward="env")
    assert LabelSchedule.from_config(config).due(10**6) == 0


def test_updates_are_evenly_spaced() -> None:
    s = schedule()
    assert s.update_step(1) == 2000 and s.update_step(50) == 100_000
