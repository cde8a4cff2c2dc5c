"""Run configuration: frozen, typed, nested dataclasses.

The same classes are the CLI schema (``rlhp train --set section.field=value``) and the
saved ``config.json`` of a run directory. Values that depend on others (segment length
from the environment preset, the decay constant from the step budget) are properties,
never fields patched after parsing.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

from rlhp.errors import ConfigError

Algo = Literal["ppo", "a2c", "sac", "trpo"]
RewardSource = Literal["preferences", "env"]
Selector = Literal[
    "uniform", "disagreement", "entropy", "kcenter", "kcenter_disagreement", "kcenter_entropy"
]
ScheduleKind = Literal["decay", "constant"]
Feedback = Literal["oracle", "human"]
Device = Literal["cpu", "cuda", "auto"]
RewardTarget = Literal["comparisons", "returns"]


@dataclass(frozen=True)
class SurfConfig:
    """SURF (Park et al., ICLR 2022): pseudo-labels on unlabelled pairs and temporal crops.

    Defaults are the paper's: confidence threshold τ = 0.999, unlabelled batch μ = 4× the
    labelled one, loss weight λ = 1, crops of 45–55 steps from 55 (a shortest crop of
    45/55 of the segment).
    """

    enabled: bool = False
    """Add SURF's semi-supervised loss and crop augmentation to every reward fit."""
    threshold: float = 0.999
    """τ: a member pseudo-labels an unlabelled pair only when max(P̂, 1−P̂) > τ."""
    unlabelled_ratio: int = 4
    """μ: unlabelled pairs per labelled pair in each gradient step."""
    loss_weight: float = 1.0
    """λ: weight of the pseudo-label loss beside the labelled loss."""
    crop_min_fraction: float = 45 / 55
    """Each segment of a pair is cropped to a random window of between this share of its
    steps and all of them, independently for each segment (1 disables the crop)."""
    unlabelled_pairs: int = 2048
    """Unlabelled pairs cut from the recent episodes at the start of each fit."""

    def __post_init__(self) -> None:
        _check(0.5 <= self.threshold < 1.0, "reward_model.surf.threshold must be in [0.5, 1)")
        _check(self.unlabelled_ratio >= 1, "reward_model.surf.unlabelled_ratio must be >= 1")
        _check(self.loss_weight >= 0, "reward_model.surf.loss_weight must be >= 0")
        _check(
            0.0 < self.crop_min_fraction <= 1.0,
            "reward_model.surf.crop_min_fraction must be in (0, 1]",
        )
        _check(self.unlabelled_pairs >= 1, "reward_model.surf.unlabelled_pairs must be >= 1")


@dataclass(frozen=True)
class RuneConfig:
    """RUNE (Liang et al., ICLR 2022): an exploration bonus from the members' disagreement.

    The agent's reward is r̂ + β_t·std_k(r̂_k), with β_t = β₀·(1 − ρ)^t decaying with the
    env steps t. Defaults are the paper's: β₀ = 0.05, ρ = 10⁻⁵ per step.
    """

    enabled: bool = False
    """Add the bonus to the reward the agent sees (needs an ensemble of >= 2)."""
    beta0: float = 0.05
    """β₀: the bonus weight at the first step."""
    decay: float = 1e-5
    """ρ: β_t = β₀·(1 − ρ)^t."""

    def __post_init__(self) -> None:
        _check(self.beta0 >= 0, "reward_model.rune.beta0 must be >= 0")
        _check(0.0 <= self.decay < 1.0, "reward_model.rune.decay must be in [0, 1)")


@dataclass(frozen=True)
class RewardModelConfig:
    """The ensemble of reward predictors (SPEC §4)."""

    ensemble_size: int = 3
    """K, the number of independently bootstrapped members."""
    hidden_sizes: tuple[int, ...] = (64, 64)
    """Hidden layer widths of each member's MLP (leaky ReLU, α=0.01)."""
    use_actions: bool = False
    """Feed the action to the reward model as well as the observation."""
    dropout: float = 0.0
    """Dropout probability after each hidden layer (0 disables it)."""
    learning_rate: float = 1e-3
    """Adam step size."""
    batch_size: int = 32
    """Comparisons per member in one gradient step (32 is the fastest per epoch on a CPU core)."""
    epochs_per_update: int = 8
    """Passes over each member's bootstrap sample at every reward update…"""
    max_steps_per_update: int = 40
    """…but at most this many gradient steps, so an update costs the same with 100 or
    10,000 labels; the ensemble is warm-started, so the passes add up across updates."""
    pretrain_epochs: int = 60
    """Passes over the pre-training comparisons before RL starts."""
    l2_initial: float = 1e-4
    """Initial L2 coefficient; adapted so validation/training loss stays in l2_band."""
    l2_band: tuple[float, float] = (1.1, 1.5)
    """Target range of held-out loss divided by training loss."""
    holdout_fraction: float = math.exp(-1)
    """Share of the labelled pairs each member never trains on (its validation set, the
    paper's 1/e), fixed per pair for the life of the run (a seeded hash of the pair id)."""
    epsilon: float = 0.1
    """Random-response probability: P = (1-ε)·P̂ + ε/2 (SPEC §3)."""
    zero_init_head: bool = True
    """Start every member's output layer at zero, so r̂ is flat until labels shape it;
    a randomly initialised head is a random reward the agent chases where no label reaches."""
    background_fit: bool = True
    """Fit on a worker thread between two updates, overlapping RL (the paper's
    asynchronous design); False fits inline. Both give the same, reproducible results."""
    install_lag: int | None = None
    """Env steps a background fit runs beside RL before its result is installed, at the
    next rollout end after that (or the next update at the latest); None: 0.5 % of the
    step budget. Long enough to hide a fit behind short rollouts (CartPole's are 256
    steps), short enough that the agent never learns long on an old reward."""
    refit_inputs: bool = True
    """Re-standardise the model's inputs on all labelled segments before every fit, so
    states the policy reaches later are not extrapolated from the first rollouts' scale."""
    scale_rewards: bool = True
    """Scale the learned reward by the running std of the agent's discounted return
    (VecNormalize), so its size matches what the agent's hyperparameters expect however
    r̂'s normalisation and offset move between updates."""
    pessimism: float = 0.0
    """The agent sees mean − pessimism·std over members: states the members disagree on
    (unlabelled, out of distribution) look worse, so the agent does not exploit them."""
    target: RewardTarget = "comparisons"
    """comparisons: Bradley-Terry on the labels (the method); returns: least squares on the
    oracle's true segment returns instead (the paper's "target" ablation, §3.3)."""
    surf: SurfConfig = field(default_factory=SurfConfig)
    """SURF's semi-supervised reward learning (off by default)."""
    rune: RuneConfig = field(default_factory=RuneConfig)
    """RUNE's exploration bonus (off by default)."""
    normalized_std: float | None = None
    """Std of each member's normalised output; None: 1 for the MLP, 0.05 for the CNN of
    image observations (SPEC §4)."""
    max_labels: int | None = None
    """Fit on the most recent this many labelled pairs only (the paper kept 3,000 on
    Atari); None fits on all of them."""

    def __post_init__(self) -> None:
        _check(self.ensemble_size >= 1, "reward_model.ensemble_size must be >= 1")
        _check(len(self.hidden_sizes) >= 1, "reward_model.hidden_sizes needs a layer")
        _check(0.0 <= self.dropout < 1.0, "reward_model.dropout must be in [0, 1)")
        _check(0.0 <= self.epsilon < 1.0, "reward_model.epsilon must be in [0, 1)")
        _check(
            0.0 <= self.holdout_fraction < 1.0, "reward_model.holdout_fraction must be in [0, 1)"
        )
        _check(self.batch_size >= 1, "reward_model.batch_size must be >= 1")
        _check(self.max_steps_per_update >= 1, "reward_model.max_steps_per_update must be >= 1")
        _check(
            self.normalized_std is None or self.normalized_std > 0,
            "reward_model.normalized_std must be > 0",
        )
        _check(
            self.max_labels is None or self.max_labels >= 1, "reward_model.max_labels must be >= 1"
        )
        lo, hi = self.l2_band
        _check(1.0 <= lo < hi, "reward_model.l2_band must be (low, high) with 1 <= low < high")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RewardModelConfig:
        """From the dict a checkpoint saved (``dataclasses.asdict``), checked as the CLI's."""
        built: RewardModelConfig = _build(cls, data, "reward_model.")
        return built


@dataclass(frozen=True)
class QueryConfig:
    """Which segment pairs are asked about (SPEC §5)."""

    selector: Selector = "disagreement"
    """uniform: random pairs; disagreement: highest variance of P̂ across members;
    entropy: highest entropy of the members' mean P̂; kcenter: farthest-first coverage of
    the pairs' features; kcenter_disagreement / kcenter_entropy: k-center among the most
    uncertain half (B-Pref). With one member, disagreement ranks by entropy (warned)."""
    oversampling: int = 10
    """Candidate pairs sampled per pair asked."""
    segment_length: int | None = None
    """Steps per segment; None takes the environment preset."""
    pool_steps: int = 20_000
    """Segments are cut from episodes among this many most recent environment steps…"""
    pool_bytes: int = 2**30
    """…and at most this many bytes of recorded episodes (Atari frames are stored once,
    7 KiB a step: 1 GiB holds ≈ 150k steps)."""
    ask_ahead: int | None = None
    """Reward updates ahead whose labels are asked now, so people have pairs to answer
    while training goes on; None: 1 with people, 0 with the oracle (it answers at once)."""
    bank_uninformative: bool = True
    """After a round whose answers prefer nothing (all ties or can't-tell), ask only
    ``probe_pairs`` per round until one is informative; the rest stays due and is asked
    once segments differ (``rlhp.loop.coverage``)."""
    probe_pairs: int = 2
    """Pairs asked per round while banking."""
    ending_share: float = 0.5
    """After a round with at least half ties, this share of the next round's pairs sets a
    segment containing an episode end beside one without (0 disables it)."""
    explore_until_informed: bool = True
    """Until some answer prefers a segment (not only ties), the agent is rewarded by
    state entropy (PEBBLE's) instead of the flat r̂, so it moves and reaches states
    the labels can tell apart (minimum-time tasks). Vector observations only: a k-NN
    over raw pixels is costly and says little."""

    def __post_init__(self) -> None:
        _check(self.oversampling >= 1, "queries.oversampling must be >= 1")
        _check(self.ask_ahead is None or self.ask_ahead >= 0, "queries.ask_ahead must be >= 0")
        _check(
            self.segment_length is None or self.segment_length >= 1,
            "queries.segment_length must be >= 1",
        )
        _check(self.pool_steps >= 1, "queries.pool_steps must be >= 1")
        _check(self.probe_pairs >= 1, "queries.probe_pairs must be >= 1")
        _check(0.0 <= self.ending_share <= 1.0, "queries.ending_share must be in [0, 1]")
        _check(self.pool_bytes >= 1, "queries.pool_bytes must be >= 1")


@dataclass(frozen=True)
class ScheduleConfig:
    """The label budget and when labels are asked for (SPEC §6)."""

    labels: int = 700
    """Total number of comparisons asked for during the run."""
    pretrain_fraction: float = 0.25
    """Share of the budget asked about rollouts of the untrained policy before RL starts."""
    kind: ScheduleKind = "decay"
    """decay: label rate ∝ c/(T+c); constant: a constant rate over the run."""
    decay_c: float | None = None
    """c of the decaying rate in env steps; None means a twentieth of the step budget."""
    updates: int = 50
    """Reward-model updates (query rounds) spread over the run after pre-training."""

    def __post_init__(self) -> None:
        _check(self.labels >= 1, "the label budget must be >= 1 (use --labels N with N >= 1)")
        _check(0.0 <= self.pretrain_fraction <= 1.0, "schedule.pretrain_fraction must be in [0, 1]")
        _check(self.decay_c is None or self.decay_c > 0, "schedule.decay_c must be > 0")
        _check(self.updates >= 1, "schedule.updates must be >= 1")


@dataclass(frozen=True)
class OracleConfig:
    """The synthetic labeller, with B-Pref's noise model (SPEC §9). Defaults: a perfect oracle."""

    beta: float = math.inf
    """Rationality: labels sampled from sigmoid(β·ΔR); inf (or <= 0) picks the larger return."""
    gamma: float = 1.0
    """Myopia: step t of H is weighted γ^(H-1-t)."""
    mistake: float = 0.0
    """Probability of flipping the label."""
    skip: float = 0.0
    """δ_skip: skip the query (answer can't-tell: spent, no label) when the better return
    is below this fraction of the current policy's average segment return (measured from
    ``min(0, the policy's worst segment)``; ``rlhp.labellers.oracle.PolicyReference``)."""
    equal: float = 0.0
    """δ_equal: answer 'equal' when |R1-R2| < this fraction of the current policy's
    average segment return (measured as for ``skip``)."""
    hidden_terms: tuple[str, ...] | None = None
    """Reward terms of the env's ``info`` that the oracle does not see, because a person
    watching the clip could not (MuJoCo v5: the control cost ``reward_ctrl``, paper §3.1):
    the oracle's reward is the env's reward minus these terms. None takes the task preset
    (``rlhp.rl.presets``); ``[]`` shows the oracle the env's full reward."""

    def __post_init__(self) -> None:
        _check(0.0 <= self.mistake <= 1.0, "oracle.mistake must be in [0, 1]")
        _check(0.0 < self.gamma <= 1.0, "oracle.gamma must be in (0, 1]")
        _check(self.skip >= 0 and self.equal >= 0, "oracle.skip and oracle.equal must be >= 0")


@dataclass(frozen=True)
class AgentConfig:
    """The RL algorithm that is trained on the (learned or true) reward."""

    algo: Algo = "ppo"
    """Stable-Baselines3 algorithm."""
    n_envs: int | None = None
    """Parallel environments; None takes the preset."""
    overrides: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments for the SB3 constructor that replace the preset's."""
    explore_steps: int = 0
    """PEBBLE's unsupervised pre-training: for the first this many RL steps the agent is
    rewarded by state entropy (distance to its k-th nearest recent state) instead of r̂;
    0 disables it. Meant for SAC, whose replay buffer is relabelled with r̂ afterwards."""
    explore_k: int = 5
    """k of the k-nearest-neighbour state-entropy estimate."""

    def __post_init__(self) -> None:
        _check(self.n_envs is None or self.n_envs >= 1, "agent.n_envs must be >= 1")
        _check(self.explore_steps >= 0, "agent.explore_steps must be >= 0")
        _check(self.explore_k >= 1, "agent.explore_k must be >= 1")


@dataclass(frozen=True)
class AtariConfig:
    """Atari (ALE) preprocessing and what the paper removes (SPEC §7; ``rlhp.rl.atari``)."""

    noop_max: int = 30
    """Up to this many no-op actions at the start of every episode."""
    frame_skip: int = 4
    """Agent steps last this many frames; the observation is the max of the last two."""
    frame_stack: int = 4
    """84×84 grayscale frames stacked in one observation."""
    sticky_actions: float = 0.0
    """The ALE's repeat_action_probability (v5's default is 0.25; the paper had none)."""
    mask_score: bool = True
    """Blank the score display (per-game masks, ``rlhp.rl.atari_masks``) in every frame."""
    terminal_on_life_loss: bool = False
    """End the episode at every life lost, as SB3's ``AtariWrapper`` does for env-reward
    agents. Off: the paper removes this signal, and returns are then per life."""
    clip_env_reward: bool = True
    """The env-reward twin learns from sign(reward), the standard Atari setting; the
    oracle and every reported score use the game's own, unclipped score."""

    def __post_init__(self) -> None:
        _check(self.noop_max >= 0, "atari.noop_max must be >= 0")
        _check(
            self.frame_skip >= 1 and self.frame_stack >= 1,
            "atari.frame_skip and atari.frame_stack must be >= 1",
        )
        _check(0.0 <= self.sticky_actions < 1.0, "atari.sticky_actions must be in [0, 1)")


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
        _check(bool(self.env_id), "env_id must be a Gymnasium id such as CartPole-v1")
        _check(self.total_timesteps >= 1, "the step budget must be >= 1 (--timesteps)")
        _check(self.torch_threads >= 1, "torch_threads must be >= 1")
        _check(
            self.reward_model_file is None or self.reward == "preferences",
            "a saved reward model (--reward-model) is a learned reward: drop --reward env",
        )
        _check(
            self.reward_model_file is None or self.feedback == "oracle",
            "a saved reward model is frozen and asks nobody: drop --feedback human",
        )
        _check(
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
        return json.dumps(_jsonable(self.to_dict()), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        return _build(cls, data, "")

    def with_overrides(self, assignments: list[str]) -> TrainConfig:
        """Apply ``section.field=value`` strings (values parsed as JSON, else as text)."""
        data = self.to_dict()
        for item in assignments:
            key, sep, raw = item.partition("=")
            _check(bool(sep), f"--set expects key=value, got {item!r}")
            node = data
            *parents, leaf = key.split(".")
            for part in parents:
                _check(isinstance(node.get(part), dict), f"unknown config key {key!r}")
                node = node[part]
            _check(leaf in node, f"unknown config key {key!r}")
            try:
                node[leaf] = json.loads(raw)
            except json.JSONDecodeError:
                node[leaf] = raw
        return TrainConfig.from_dict(data)


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _build(cls: Any, data: Any, where: str) -> Any:
    """Build dataclass ``cls`` from plain JSON data, checking keys and types."""
    if not isinstance(data, dict):
        raise ConfigError(f"config section {where or 'root'} must be an object")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    _check(not unknown, f"unknown config key(s) {sorted(unknown)} in {where or 'root'}")
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = _coerce(hints[name], value, f"{where}{name}")
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"config section {where or 'root'}: {exc}") from exc


def _coerce(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, where + ".")
    if origin is Literal:
        _check(value in typing.get_args(hint), f"{where} must be one of {typing.get_args(hint)}")
        return value
    if origin in (types.UnionType, typing.Union):
        if value is None:
            return None
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        return _coerce(inner[0], value, where)
    if origin is tuple:
        _check(isinstance(value, (list, tuple)), f"{where} must be a list")
        args = typing.get_args(hint)
        item = args[0]
        return tuple(_coerce(item, v, where) for v in value)
    if origin is dict or hint is dict:
        _check(isinstance(value, dict), f"{where} must be an object")
        return dict(value)
    if hint is float:
        if isinstance(value, str) and value in ("inf", "-inf"):
            return float(value)
        _check(
            isinstance(value, (int, float)) and not isinstance(value, bool),
            f"{where} must be a number",
        )
        return float(value)
    if hint is int:
        _check(
            isinstance(value, int) and not isinstance(value, bool), f"{where} must be an integer"
        )
        return value
    if hint is bool:
        _check(isinstance(value, bool), f"{where} must be true or false")
        return value
    if hint is str:
        _check(isinstance(value, str), f"{where} must be text")
        return value
    return value


ORACLE_PRESETS: dict[str, OracleConfig] = {
    "oracle": OracleConfig(),
    "stoc": OracleConfig(beta=1.0),
    "mistake": OracleConfig(mistake=0.1),
    "skip": OracleConfig(skip=0.1),
    "equal": OracleConfig(equal=0.1),
    "myopic": OracleConfig(gamma=0.9),
}
"""B-Pref's named simulated teachers (SPEC §9)."""
