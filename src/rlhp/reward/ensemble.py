"""The reward ensemble: K MLP predictors evaluated in one batched forward (SPEC §4).

Every forward returns the ensemble axis first, ``(K, ...)``. Member weights are stacked
tensors ``(K, in, out)`` multiplied with ``torch.baddbmm``, so K members cost one kernel
per layer, not K. Each member also owns one scalar: the reward of the absorbing state
that follows a terminated episode (see ``rlhp.segments``).

Output normalisation (zero mean, unit std per member) and the ensemble mean are small
functions on top of the raw per-member rewards.
"""

from __future__ import annotations

import itertools
import math
import sys
from dataclasses import dataclass

import numpy as np
import torch
from gymnasium import spaces
from torch import Tensor, nn

from rlhp.config import RewardModelConfig
from rlhp.reward.frozen import FrozenReward
from rlhp.segments import Segment, stack_segments


@dataclass(frozen=True)
class FeatureSpec:
    """How observations (and actions) become the model's input vector.

    Attributes:
        obs_shape: shape of one observation.
        action_dim: width of the action features (one-hot size for discrete), 0 if unused.
        discrete_actions: True if actions are integers to one-hot encode.
        action_squares: continuous actions only: each action's square follows the actions
            (``[o, a, a²]``), so a control cost quadratic in the action, as MuJoCo's are,
            is a linear function of the input.
        observation_dims: read only the first this many entries of each flattened
            observation (None: all of them).
    """

    obs_shape: tuple[int, ...]
    action_dim: int
    discrete_actions: bool
    action_squares: bool = False
    observation_dims: int | None = None

    def __post_init__(self) -> None:
        if self.action_squares and (self.discrete_actions or self.action_dim == 0):
            raise ValueError("action squares need continuous actions fed to the model")
        flat = int(np.prod(self.obs_shape))
        if self.observation_dims is not None and not 1 <= self.observation_dims <= flat:
            raise ValueError(
                f"reward_model.observation_dims={self.observation_dims} but observations "
                f"have {flat} entries: use a number from 1 to {flat}, or none for all"
            )

    @property
    def obs_dim(self) -> int:
        """Observation entries the model reads."""
        return self.observation_dims or int(np.prod(self.obs_shape))

    @property
    def input_dim(self) -> int:
        return self.obs_dim + self.action_dim * (2 if self.action_squares else 1)

    @classmethod
    def from_spaces(
        cls,
        obs_space: spaces.Space,
        action_space: spaces.Space,
        use_actions: bool,
        action_squares: bool = False,
        observation_dims: int | None = None,
    ) -> FeatureSpec:
        """``action_squares`` applies to continuous (Box) actions; discrete ones ignore it."""
        if not isinstance(obs_space, spaces.Box):
            raise TypeError(f"reward model needs a Box observation space, got {obs_space}")
        obs_shape = tuple(int(d) for d in obs_space.shape)
        if not use_actions:
            return cls(obs_shape, 0, False, observation_dims=observation_dims)
        if isinstance(action_space, spaces.Discrete):
            return cls(obs_shape, int(action_space.n), True, observation_dims=observation_dims)
        if isinstance(action_space, spaces.Box):
            width = int(np.prod(action_space.shape))
            return cls(obs_shape, width, False, action_squares, observation_dims)
        raise TypeError(f"reward model cannot encode actions of space {action_space}")

    def features(self, obs: Tensor, actions: Tensor) -> Tensor:
        """``(..., *obs_shape)``, ``(..., *act_shape)`` → ``(..., input_dim)`` float32."""
        lead = obs.shape[: obs.dim() - len(self.obs_shape)]
        flat = obs.reshape(*lead, -1)[..., : self.obs_dim].float()
        if self.action_dim == 0:
            return flat
        if self.discrete_actions:
            act = nn.functional.one_hot(actions.reshape(*lead).long(), self.action_dim).float()
        else:
            act = actions.reshape(*lead, -1).float()
        parts = [flat, act, act * act] if self.action_squares else [flat, act]
        return torch.cat(parts, dim=-1)


class EnsembleLinear(nn.Module):
    """K independent affine maps: ``(K, N, in)`` → ``(K, N, out)``."""

    def __init__(self, members: int, in_features: int, out_features: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(in_features)
        self.weight = nn.Parameter(
            torch.empty(members, in_features, out_features).uniform_(-bound, bound)
        )
        self.bias = nn.Parameter(torch.empty(members, 1, out_features).uniform_(-bound, bound))

    def forward(self, x: Tensor) -> Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


def mask_dropout(x: Tensor, p: float, generator: torch.Generator | None) -> Tensor:
    """Element-wise dropout, as ``nn.Dropout``, with ``p`` rounded to 1/256 (0.5 is
    exact) and kept values scaled so each element's expectation is unchanged.

    The masks are millions of elements per gradient step of the CNN, so their draw
    matters: one random byte per element, seven from each random 64-bit word (its top bit
    is always 0), compared with ``p``·256. Measured on a CPU core (7.4M elements, forward
    and backward): 2.2× faster than ``rand_like(x) >= p`` (itself 2× faster than
    ``F.dropout``'s Bernoulli draw). Unlike ``nn.Dropout`` it takes a generator.
    """
    threshold = min(round(p * 256), 255)  # at least one byte value kept
    n = x.numel()
    words = torch.empty(-(-n // 7), dtype=torch.int64, device=x.device)
    words.random_(generator=generator)
    low = slice(0, 7) if sys.byteorder == "little" else slice(1, 8)
    random_bytes = words.view(torch.uint8).reshape(-1, 8)[:, low].reshape(-1)[:n]
    keep = (random_bytes >= threshold).reshape(x.shape)
    return x * keep.to(x.dtype).mul_(256 / (256 - threshold))


class RewardEnsemble(nn.Module):
    """K reward predictors r̂ₖ(o, a) plus a learned absorbing-state reward per member."""

    input_mean: Tensor
    input_std: Tensor
    output_mean: Tensor
    output_std: Tensor
    absorbing_seen: Tensor
    normalization_pairs: int = 512
    """Labelled pairs (at most) whose steps set each member's output normalisation."""

    def __init__(self, spec: FeatureSpec, config: RewardModelConfig) -> None:
        super().__init__()
        self._init_shared(spec, config)
        widths = [spec.input_dim, *config.hidden_sizes]
        self.hidden = nn.ModuleList(
            EnsembleLinear(self.members, a, b) for a, b in itertools.pairwise(widths)
        )
        self.head = EnsembleLinear(self.members, widths[-1], 1)
        self._start_constant(config)
        self.register_buffer("input_mean", torch.zeros(spec.input_dim))
        self.register_buffer("input_std", torch.ones(spec.input_dim))

    def _init_shared(self, spec: FeatureSpec, config: RewardModelConfig) -> None:
        """What every reward ensemble holds beside its layers (the CNN's too): its input
        spec, K, dropout, the absorbing-state rewards and the output normalisation."""
        self.spec = spec
        self.members = config.ensemble_size
        self.dropout_p = config.dropout
        self.mask_generator: torch.Generator | None = None
        """Where dropout masks come from: a generator per fit (``seed_masks``), since
        torch's global one is also the agent's, drawing on another thread."""
        self.absorbing_reward = nn.Parameter(torch.zeros(self.members))
        self.register_buffer("output_mean", torch.zeros(self.members))
        self.register_buffer("output_std", torch.ones(self.members))
        self.register_buffer("absorbing_seen", torch.zeros((), dtype=torch.bool))

    def _start_constant(self, config: RewardModelConfig) -> None:
        """Zero the head (``config.zero_init_head``): r̂ starts constant, and only what the
        labels ask for shapes it."""
        if config.zero_init_head:
            with torch.no_grad():
                self.head.weight.zero_()
                self.head.bias.zero_()

    @property
    def device(self) -> torch.device:
        """Where the ensemble's parameters are (inputs are moved there)."""
        return next(self.parameters()).device

    def seed_masks(self, rng: np.random.Generator) -> None:
        """Give this fit's dropout masks a generator of their own, seeded from ``rng``
        (drawn only where there is dropout, so runs without keep their random streams):
        a fit on the worker thread then draws the same masks whatever the agent's
        thread draws from torch's global generator meanwhile."""
        if self.dropout_p > 0.0:
            seed = int(rng.integers(2**62))
            self.mask_generator = torch.Generator(device=self.device).manual_seed(seed)

    def _dropout(self, x: Tensor) -> Tensor:
        """Dropout in training mode (``mask_dropout``), nothing in eval mode."""
        if not self.training or self.dropout_p == 0.0:
            return x
        return mask_dropout(x, self.dropout_p, self.mask_generator)

    def l2_per_member(self) -> Tensor:
        """``(K,)`` sum of squared weights of each member (biases excluded)."""
        total = self.head.weight.pow(2).sum(dim=(1, 2))
        for layer in self.hidden:
            assert isinstance(layer, EnsembleLinear)
            total = total + layer.weight.pow(2).sum(dim=(1, 2))
        return total

    def raw_rewards(
        self, obs: Tensor, actions: Tensor, absorbing: Tensor, per_member: bool = False
    ) -> Tensor:
        """Unnormalised per-step rewards of every member.

        Args:
            obs: ``(..., *obs_shape)`` shared by all members, or ``(K, ...)`` per member
                when ``per_member`` is True.
            actions: matching ``(..., *act_shape)`` (ignored unless the model uses actions).
            absorbing: matching ``(...)`` bool; these steps get the absorbing reward.
            per_member: the leading axis of the inputs is already the ensemble axis.

        Returns:
            ``(K, ...)`` rewards.
        """
        device = self.device
        obs, actions, absorbing = obs.to(device), actions.to(device), absorbing.to(device)
        x = self.spec.features(obs, actions)
        lead = x.shape[:-1]
        k = self.members
        if per_member:
            x = x.reshape(k, -1, x.shape[-1])
            out_shape = tuple(lead)
        else:
            x = x.reshape(1, -1, x.shape[-1]).expand(k, -1, -1)
            out_shape = (k, *lead)
        x = (x - self.input_mean) / self.input_std
        for layer in self.hidden:
            x = self._dropout(nn.functional.leaky_relu(layer(x), 0.01))
        r = self.head(x).reshape(out_shape)
        absorbing_r = self.absorbing_reward.reshape(k, *([1] * (len(out_shape) - 1)))
        return torch.where(
            absorbing.reshape(out_shape) if per_member else absorbing.expand(out_shape),
            absorbing_r,
            r,
        )

    def normalize(self, raw: Tensor) -> Tensor:
        """``(K, ...)`` raw rewards → each member at zero mean and unit std."""
        shape = (self.members, *([1] * (raw.dim() - 1)))
        return (raw - self.output_mean.reshape(shape)) / self.output_std.reshape(shape)

    def rewards(self, obs: Tensor, actions: Tensor, absorbing: Tensor) -> Tensor:
        """r̂: the mean over members of their normalised rewards, shape ``(...)``."""
        return self.normalize(self.raw_rewards(obs, actions, absorbing)).mean(dim=0)

    @torch.no_grad()
    def segment_returns(self, segments: list[Segment]) -> np.ndarray:
        """``(N,)`` learned return Σₜ r̂ of each segment (eval mode, one batched forward)."""
        self.eval()
        return (
            self.rewards(*map(torch.as_tensor, stack_segments(segments))).sum(dim=-1).cpu().numpy()
        )

    @torch.no_grad()
    def absorbing_value(self) -> float:
        """Normalised ensemble reward of one absorbing step."""
        return float(((self.absorbing_reward - self.output_mean) / self.output_std).mean())

    @torch.no_grad()
    def member_offsets(self) -> Tensor:
        """``(K,)`` what each member's agent reward is measured from: its normalised
        absorbing-state reward once labelled segments have shown one; else 0 (an
        untrained r̂_abs means nothing)."""
        if not bool(self.absorbing_seen):
            return torch.zeros(self.members, device=self.device)
        return self.normalize(self.absorbing_reward.reshape(self.members, 1))[:, 0]

    def agent_offset(self) -> float:
        """The mean of ``member_offsets``: r̂ − this is the agent's reward without pessimism."""
        return float(self.member_offsets().mean())

    @torch.no_grad()
    def snapshot(self, pessimism: float = 0.0) -> FrozenReward:
        """A NumPy copy of the agent's reward r̂(o, a) − r̂_abs for fast per-step use
        (``pessimistic_reward`` of the members' advantages over the absorbing state)."""
        return FrozenReward.from_model(self, pessimism)

    @torch.no_grad()
    def step_features(self, obs: Tensor, actions: Tensor) -> Tensor:
        """``(..., F)`` what the model reads of each step, standardised as its input is:
        the space in which query selection measures how far apart segments are."""
        x = self.spec.features(obs, actions)
        return (x - self.input_mean.to(x.device)) / self.input_std.to(x.device)

    @torch.no_grad()
    def fit_input_normalization(self, obs: Tensor, actions: Tensor, absorbing: Tensor) -> None:
        """Set the input standardisation from the non-absorbing steps given ``(..., *obs_shape)``."""
        x = self.spec.features(obs, actions)[~absorbing].to(self.device)
        if x.shape[0] < 2:
            return
        self.input_mean.copy_(x.mean(dim=0))
        self.input_std.copy_(x.std(dim=0).clamp_min(1e-6))

    @torch.no_grad()
    def fit_output_normalization(self, obs: Tensor, actions: Tensor, absorbing: Tensor) -> None:
        """Set each member's mean/std from its raw rewards on the steps given."""
        was_training = self.training
        self.eval()
        raw = self.raw_rewards(obs, actions, absorbing).reshape(self.members, -1)
        self.absorbing_seen |= bool(absorbing.any())
        self.train(was_training)
        self.output_mean.copy_(raw.mean(dim=1))
        self.output_std.copy_(
            raw.std(dim=1).clamp_min(1e-6)
            if raw.shape[1] > 1
            else torch.ones(self.members, device=self.device)
        )


def make_reward_model(
    obs_space: spaces.Space, action_space: spaces.Space, config: RewardModelConfig
) -> RewardEnsemble:
    """The ensemble for these spaces: the paper's CNN for uint8 images ``(C, H, W)``
    (``rlhp.reward.cnn``), the MLP above for everything else."""
    from rlhp.reward.cnn import CnnRewardEnsemble, is_image_space

    spec = FeatureSpec.from_spaces(
        obs_space, action_space, config.use_actions, config.action_squares, config.observation_dims
    )
    if is_image_space(obs_space):
        return CnnRewardEnsemble(FeatureSpec(spec.obs_shape, 0, False), config)
    return RewardEnsemble(spec, config)
