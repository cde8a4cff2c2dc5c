"""How the reward ensemble is built and fitted (SPEC §4), and the SURF and RUNE variants."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from rlhp.config.choices import Precision, RewardTarget
from rlhp.config.parsing import build, check


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
        check(0.5 <= self.threshold < 1.0, "reward_model.surf.threshold must be in [0.5, 1)")
        check(self.unlabelled_ratio >= 1, "reward_model.surf.unlabelled_ratio must be >= 1")
        check(self.loss_weight >= 0, "reward_model.surf.loss_weight must be >= 0")
        check(
            0.0 < self.crop_min_fraction <= 1.0,
            "reward_model.surf.crop_min_fraction must be in (0, 1]",
        )
        check(self.unlabelled_pairs >= 1, "reward_model.surf.unlabelled_pairs must be >= 1")


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
        check(self.beta0 >= 0, "reward_model.rune.beta0 must be >= 0")
        check(0.0 <= self.decay < 1.0, "reward_model.rune.decay must be in [0, 1)")


@dataclass(frozen=True)
class RewardModelConfig:
    """The ensemble of reward predictors (SPEC §4)."""

    ensemble_size: int = 3
    """K, the number of independently bootstrapped members."""
    hidden_sizes: tuple[int, ...] = (64, 64)
    """Hidden layer widths of each member's MLP (leaky ReLU, α=0.01)."""
    use_actions: bool = False
    """Feed the action to the reward model as well as the observation."""
    action_squares: bool = False
    """With ``use_actions`` and continuous actions, also feed each action's square, so a
    control cost quadratic in the action (MuJoCo's) is linear in the input. On Ant's
    labels it raised held-out accuracy from 0.76 to 0.85 (docs/benchmarks.md)."""
    observation_dims: int | None = None
    """Read only the first this many entries of each (flattened) observation; None: all.
    For observations whose tail a person watching cannot see and the task's reward
    hardly depends on, such as Ant's 78 contact forces after its 27 positions and
    velocities (MuJoCo puts ``qpos``, ``qvel`` first)."""
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
    min_new_answers: int = 1
    """A reward update fits only once this many answers arrived since the last fit (or
    every label of the budget has been asked); until then r̂ stays as it is. Late in a
    run the decaying schedule asks a few labels an update, and a capped fit on a few new
    labels among hundreds costs as much as one on many: the pixel presets wait for a
    batch's worth (16), which halves their fits."""
    pretrain_epochs: int = 60
    """Passes over the pre-training comparisons before RL starts."""
    pretrain_chunks: int = 1
    """Pre-training's passes split into this many fits, a checkpoint after each: a run
    stopped during pre-training resumes after the last finished fit instead of from the
    first pass. Each fit draws its bootstrap afresh and adapts L2 once, as every update's
    fit does. 1 (one fit, the paper's): for the MLP and MinAtar presets, whose
    pre-training takes seconds; the ALE presets' takes hours on a CPU core and uses 10."""
    pretrain_threads: int | None = None
    """torch threads for pre-training's fits, which the agent waits for with nothing else
    to do: None, every core this process may use. Updates during RL keep the run's
    ``torch_threads`` (the agent has the other core), so a seeded run's fits compute the
    same way each time whatever the timing. On the 2-core machine two threads took 0.67×
    one's time for an Atari fit and 0.75× for MinAtar's (docs/benchmarks.md)."""
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
    install_at_next_update: bool = False
    """Install each background fit at the next reward update instead, whatever
    ``install_lag`` says: for tasks whose fits outlast 0.5 % of the run (pixel rewards,
    fast simulators), so a fit shorter than an update interval no longer stops RL. The
    agent learns one update interval on each r̂, never a step on a half-trained one;
    runs stay reproducible."""
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
    batch_rollout_rewards: bool = False
    """On-policy agents get r̂ for a whole rollout in one batched call at its end instead
    of one call per vector step (``rlhp.rl.rollout_rewards``): the same rewards, cheaper
    where a forward of a few observations is mostly overhead (the pixel presets turn it
    on). Off-policy agents (SAC) cannot."""
    precision: Precision = "float32"
    """What the CNN reward model of image observations computes in (the MLP ignores it):
    float32; bfloat16 (the convolutions under autocast; parameters, optimiser, the dense
    layers and outputs stay float32); auto: bfloat16 where the device has bfloat16
    arithmetic (a CPU with AVX-512 BF16 or AMX, a CUDA device that supports it), else
    float32 — the ALE presets' choice, since a CNN fit is most of an Atari run's cost."""
    max_labels: int | None = None
    """Fit on the most recent this many labelled pairs only (the paper kept 3,000 on
    Atari); None fits on all of them."""
    evaluation_pairs: int | None = None
    """The end of each fit measures the members' training and held-out losses, the
    held-out accuracy and the adaptive L2's ratio on at most this many labelled pairs,
    drawn afresh each fit; None: on all of them. On Atari, evaluating 3,000 pairs took
    38 s against 50 s for the fit's 40 gradient steps (the ALE presets: 512)."""

    def __post_init__(self) -> None:
        check(self.ensemble_size >= 1, "reward_model.ensemble_size must be >= 1")
        check(len(self.hidden_sizes) >= 1, "reward_model.hidden_sizes needs a layer")
        check(
            self.evaluation_pairs is None or self.evaluation_pairs >= 1,
            "reward_model.evaluation_pairs must be >= 1 (or omitted: all pairs)",
        )
        check(
            self.use_actions or not self.action_squares,
            "reward_model.action_squares needs reward_model.use_actions=true",
        )
        check(
            self.observation_dims is None or self.observation_dims >= 1,
            "reward_model.observation_dims must be >= 1 (or none for all entries)",
        )
        check(0.0 <= self.dropout < 1.0, "reward_model.dropout must be in [0, 1)")
        check(0.0 <= self.epsilon < 1.0, "reward_model.epsilon must be in [0, 1)")
        check(0.0 <= self.holdout_fraction < 1.0, "reward_model.holdout_fraction must be in [0, 1)")
        check(self.batch_size >= 1, "reward_model.batch_size must be >= 1")
        check(self.max_steps_per_update >= 1, "reward_model.max_steps_per_update must be >= 1")
        check(self.min_new_answers >= 1, "reward_model.min_new_answers must be >= 1")
        check(self.pretrain_chunks >= 1, "reward_model.pretrain_chunks must be >= 1")
        check(
            self.pretrain_threads is None or self.pretrain_threads >= 1,
            "reward_model.pretrain_threads must be >= 1 (or omitted: every core)",
        )
        check(
            self.normalized_std is None or self.normalized_std > 0,
            "reward_model.normalized_std must be > 0",
        )
        check(
            self.max_labels is None or self.max_labels >= 1, "reward_model.max_labels must be >= 1"
        )
        lo, hi = self.l2_band
        check(1.0 <= lo < hi, "reward_model.l2_band must be (low, high) with 1 <= low < high")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RewardModelConfig:
        """From the dict a checkpoint saved (``dataclasses.asdict``), checked as the CLI's."""
        built: RewardModelConfig = build(cls, data, "reward_model.")
        return built
