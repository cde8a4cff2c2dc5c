import math

import pytest

from rlhp.config import TrainConfig
from rlhp.errors import ConfigError


def test_json_round_trip_keeps_every_field() -> None:
    import json

    config = TrainConfig("Pendulum-v1", total_timesteps=123).with_overrides(
        [
            "reward_model.hidden_sizes=[32, 32]",
            'agent.overrides={"n_steps": 64}',
            "queries.selector=entropy",
        ]
    )
    again = TrainConfig.from_dict(json.loads(config.to_json()))
    assert again == config
    assert again.reward_model.hidden_sizes == (32, 32)
    assert math.isinf(again.oracle.beta)


def test_unknown_keys_and_bad_values_are_named() -> None:
    with pytest.raises(ConfigError, match="unknown config key"):
        TrainConfig("CartPole-v1").with_overrides(["reward_model.nope=1"])
    with pytest.raises(ConfigError, match="must be one of"):
        TrainConfig("CartPole-v1").with_overrides(["queries.selector=psychic"])
    with pytest.raises(ConfigError, match="label budget"):
        TrainConfig("CartPole-v1").with_overrides(["schedule.labels=0"])
    with pytest.raises(ConfigError, match="integer"):
        TrainConfig("CartPole-v1").with_overrides(["seed=1.5"])


def test_derived_values_are_properties() -> None:
    config = TrainConfig("CartPole-v1", total_timesteps=50_000)
    assert config.decay_c == 2_500
    assert config.pretrain_labels == round(700 * 0.25)
