"""One rlhp run: ``TrainConfig``, the root of every section."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any

from rlhp.config.agent import AgentConfig, AtariConfig
from rlhp.config.choices import Device, Feedback, RewardSource
from rlhp.config.parsing import build, check, jsonable
from rlhp.config.queries import QueryConfig, ScheduleConfig
from rlhp.config.reward import RewardModelConfig
from rlhp.config.teacher import OracleConfig


@dataclass(frozen=True)
class TrainConfig:
    """One rlhp run."""

    env_id: str
    """Gymnasium environment id, e.g. CartPole-v1."""
    total_timesteps: int = 100_000
    """Environment steps the agent trains for (pre-training rollouts not included)."""
    seed: int = 0
    """Seeds numpy, torch, the environments and the agent."""
    reward: RewardSource = "preferences"
    """preferences: the agent sees only the learned reward; env: the environment's reward
    (the reference every benchmark compares against)."""
    feedback: Feedback = "oracle"
    """Who answers the queries: the synthetic oracle, or people in the browser."""
    reward_model_file: str | None = None
    """A saved reward model (``rlhp reward fit``'s file, or a run's
    ``checkpoints/reward_model.pt``) the agent trains on, frozen: no labels are asked and
    r̂ never changes. ``rlhp train ENV --reward-model FILE_OR_RUN`` sets it (and takes
    ``reward_model`` from the file, so the architecture matches)."""
    rule: str | None = None
    """A comparison rule ``module:function`` that answers instead of the oracle
    (``rlhp.labellers.rule``; ``--teacher module:function``): directly, or with
    ``feedback="human"`` by key press on the labelling page in Chromium."""
    torch_threads: int = 1
    """torch intra-op threads; small networks on few cores are fastest with one."""
    device: Device = "cpu"
    """Where the agent's networks and the reward ensemble run: cpu, cuda, or auto (cuda
    when torch sees one). The per-step reward the agent sees is always a NumPy snapshot
    on the CPU (``FrozenReward``); fits and query scoring run on the device."""
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    reward_model: RewardModelConfig = field(default_factory=RewardModelConfig)
    queries: QueryConfig = field(default_factory=QueryConfig)
    oracle: OracleConfig = field(default_factory=OracleConfig)
    agent: AgentConfig = field(default_factory=AgentConfig)
    atari: AtariConfig = field(default_factory=AtariConfig)

    def __post_init__(self) -> None:
        check(bool(self.env_id), "env_id must be a Gymnasium id such as CartPole-v1")
        check(self.total_timesteps >= 1, "the step budget must be >= 1 (--timesteps)")
        check(self.torch_threads >= 1, "torch_threads must be >= 1")
        check(
            self.reward_model_file is None or self.reward == "preferences",
            "a saved reward model (--reward-model) is a learned reward: drop --reward env",
        )
        check(
            self.reward_model_file is None or self.feedback == "oracle",
            "a saved reward model is frozen and asks nobody: drop --feedback human",
        )
        check(
            self.reward_model.target == "comparisons" or self.feedback == "oracle",
            "reward_model.target=returns (the regression ablation) needs the oracle's true "
            "returns; use --feedback oracle",
        )

    @property
    def decay_c(self) -> float:
        """c of the c/(T+c) label rate, in env steps."""
        return self.schedule.decay_c or self.total_timesteps / 20

    @property
    def install_lag(self) -> int:
        """Env steps between starting a background reward fit and installing it."""
        if self.reward_model.install_at_next_update:  # the next update installs it
            return math.ceil(self.total_timesteps / self.schedule.updates)
        lag = self.reward_model.install_lag
        return self.total_timesteps // 200 if lag is None else lag

    @property
    def ask_ahead(self) -> int:
        """Reward updates ahead of need whose labels are asked (``queries.ask_ahead``)."""
        if self.queries.ask_ahead is not None:
            return self.queries.ask_ahead
        return 1 if self.feedback == "human" else 0

    @property
    def learns_reward(self) -> bool:
        """Labels are asked and r̂ is fitted (not env reward, not a frozen saved model)."""
        return self.reward == "preferences" and self.reward_model_file is None

    @property
    def pretrain_labels(self) -> int:
        """Comparisons asked about the untrained policy before RL starts."""
        if not self.learns_reward:
            return 0
        return round(self.schedule.labels * self.schedule.pretrain_fraction)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(jsonable(self.to_dict()), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        return build(cls, data, "")

    def with_overrides(self, assignments: list[str]) -> TrainConfig:
        """Apply ``section.field=value`` strings (values parsed as JSON, else as text)."""
        data = self.to_dict()
        for item in assignments:
            key, sep, raw = item.partition("=")
            check(bool(sep), f"--set expects key=value, got {item!r}")
            node = data
            *parents, leaf = key.split(".")
            for part in parents:
                check(isinstance(node.get(part), dict), f"unknown config key {key!r}")
                node = node[part]
            check(leaf in node, f"unknown config key {key!r}")
            try:
                node[leaf] = json.loads(raw)
            except json.JSONDecodeError:
                node[leaf] = raw
        return TrainConfig.from_dict(data)
