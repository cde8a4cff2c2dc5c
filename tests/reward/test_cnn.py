"""The CNN reward ensemble: one batched forward equals each member run alone, and it
trains with the project's trainer (bootstrap, adaptive L2) unchanged."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gymnasium import spaces
from torch.nn import functional as F

from rlhp.config import RewardModelConfig
from rlhp.reward.cnn import FILTERS, PAPER_CONV, SMALL_CONV, CnnRewardEnsemble
from rlhp.reward.ensemble import RewardEnsemble, make_reward_model
from rlhp.reward.frozen import pessimistic_reward
from rlhp.reward.training import Comparisons, RewardTrainer

ATARI = spaces.Box(0, 255, (4, 84, 84), np.uint8)
MINATAR = spaces.Box(0, 255, (4, 10, 10), np.uint8)


def _model(space: spaces.Box, **kw: object) -> CnnRewardEnsemble:
    torch.manual_seed(0)
    config = RewardModelConfig(zero_init_head=False, **kw)  # type: ignore[arg-type]
    model = make_reward_model(space, spaces.Discrete(4), config)
    assert isinstance(model, CnnRewardEnsemble)
    return model


def _member_alone(model: CnnRewardEnsemble, member: int, obs: torch.Tensor) -> torch.Tensor:
    """Member ``member``'s raw reward, computed with its own slices of the weights only."""
    x = obs.float() / 255.0
    for conv, norm in zip(model.convs, model.norms, strict=True):
        assert isinstance(conv, torch.nn.Conv2d) and isinstance(norm, torch.nn.BatchNorm2d)
        rows = slice(member * FILTERS, (member + 1) * FILTERS)
        x = F.conv2d(x, conv.weight[rows], conv.bias[rows], conv.stride)
        x = F.batch_norm(
            x, norm.running_mean[rows], norm.running_var[rows], norm.weight[rows],
            norm.bias[rows], training=False, eps=norm.eps,
        )  # fmt: skip
        x = F.leaky_relu(x, 0.01)
    h = F.leaky_relu(x.flatten(1) @ model.dense.weight[member] + model.dense.bias[member], 0.01)
    return (h @ model.head.weight[member] + model.head.bias[member])[:, 0]


def test_the_factory_picks_the_cnn_for_images_and_the_mlp_otherwise() -> None:
    assert type(_model(ATARI)) is CnnRewardEnsemble
    assert _model(ATARI).layout == PAPER_CONV
    assert _model(MINATAR).layout == SMALL_CONV
    vector = spaces.Box(-1.0, 1.0, (4,), np.float32)
    model = make_reward_model(vector, spaces.Discrete(2), RewardModelConfig())
    assert type(model) is RewardEnsemble


def test_the_paper_network_has_its_shapes() -> None:
    model = _model(ATARI)
    # 84 → 26 → 11 → 9 → 7 (7×7/3, 5×5/2, 3×3/1, 3×3/1), 16 filters: 784 features
    assert model.flat_features == 16 * 7 * 7
    assert model.dense.weight.shape == (3, 784, 64)


@pytest.mark.parametrize("space", [ATARI, MINATAR])
def test_batched_forward_equals_each_member_alone(space: spaces.Box) -> None:
    model = _model(space).eval()
    with torch.no_grad():  # give batch norm non-trivial running statistics first
        for norm in model.norms:
            assert isinstance(norm, torch.nn.BatchNorm2d)
            norm.running_mean.uniform_(-0.1, 0.1)
            norm.running_var.uniform_(0.5, 2.0)
    g = torch.Generator().manual_seed(1)
    obs = torch.randint(0, 256, (6, *space.shape), dtype=torch.uint8, generator=g)
    none = torch.zeros(6, dtype=torch.bool)
    with torch.no_grad():
        shared = model.raw_rewards(obs, torch.zeros(6), none)  # (K, 6)
        own = torch.stack([_member_alone(model, k, obs) for k in range(3)])
        # per-member inputs: member k sees a rolled copy; each must match its own forward
        rolled = torch.stack([obs.roll(k, dims=0) for k in range(3)])
        per = model.raw_rewards(rolled, torch.zeros(3, 6), none.expand(3, 6), per_member=True)
        per_own = torch.stack([_member_alone(model, k, rolled[k]) for k in range(3)])
    assert shared.shape == (3, 6)
    torch.testing.assert_close(shared, own, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(per, per_own, rtol=1e-5, atol=1e-5)


def test_absorbing_steps_get_the_absorbing_reward_and_outputs_have_std_005() -> None:
    model = _model(MINATAR).eval()
    with torch.no_grad():
        model.absorbing_reward.copy_(torch.tensor([1.0, 2.0, 3.0]))
    obs = torch.randint(0, 256, (50, 4, 10, 10), dtype=torch.uint8)
    absorbing = torch.zeros(50, dtype=torch.bool)
    absorbing[-5:] = True
    raw = model.raw_rewards(obs, torch.zeros(50), absorbing)
    assert torch.equal(raw[:, -1], torch.tensor([1.0, 2.0, 3.0]))
    model.fit_output_normalization(obs[:-5], torch.zeros(45), absorbing[:-5])
    normalized = model.normalize(model.raw_rewards(obs[:-5], torch.zeros(45), absorbing[:-5]))
    torch.testing.assert_close(normalized.std(dim=1), torch.full((3,), 0.05))
    torch.testing.assert_close(normalized.mean(dim=1), torch.zeros(3), atol=1e-6, rtol=0)


def test_the_snapshot_gives_the_agent_the_ensemble_reward_minus_the_offset() -> None:
    model = _model(MINATAR)
    obs = np.random.default_rng(0).integers(0, 256, (8, 4, 10, 10), dtype=np.uint8)
    with torch.no_grad():
        model.absorbing_reward.copy_(torch.tensor([0.5, -0.2, 0.1]))
    seen = torch.zeros(8, dtype=torch.bool)
    seen[-1] = True  # an absorbing step: the agent's reward is measured from its value
    model.fit_output_normalization(torch.as_tensor(obs), torch.zeros(8), seen)
    assert model.agent_offset() == pytest.approx(model.absorbing_value()) != 0.0
    frozen = model.snapshot()
    model.eval()
    with torch.no_grad():
        rewards = model.rewards(
            torch.as_tensor(obs), torch.zeros(8), torch.zeros(8, dtype=torch.bool)
        )
    expected = rewards.double().numpy() - model.absorbing_value()
    np.testing.assert_allclose(frozen(obs, np.zeros(8)), expected, rtol=1e-5, atol=1e-7)
    with torch.no_grad():  # pessimism: the members' advantages over the absorbing state
        members = (
            model.normalize(model.raw_rewards(torch.as_tensor(obs), torch.zeros(8), seen & False))
            - model.member_offsets()[:, None]
        )
    np.testing.assert_allclose(
        model.snapshot(0.5)(obs, np.zeros(8)),
        pessimistic_reward(members.double().numpy(), 0.5),
        rtol=1e-5,
        atol=1e-7,
    )
    with torch.no_grad():  # later training does not change what the agent sees
        model.head.bias.add_(1.0)
    np.testing.assert_allclose(frozen(obs, np.zeros(8)), expected, rtol=1e-5, atol=1e-7)


def test_the_snapshot_gives_a_rollout_at_once_what_it_gives_step_by_step() -> None:
    """A rollout's frames (``CHANNELS_LAST_FROM`` or more: channels-last) get the rewards
    a vector step's 8 (NCHW) get, and the ensemble's."""
    from rlhp.reward.cnn_frozen import CHANNELS_LAST_FROM

    model = _model(MINATAR).eval()
    obs = np.random.default_rng(1).integers(0, 256, (2 * CHANNELS_LAST_FROM, 4, 10, 10))
    obs = obs.astype(np.uint8)
    frozen = model.snapshot()
    rollout = frozen(obs, np.zeros(len(obs)))
    steps = np.concatenate([frozen(obs[i : i + 8], np.zeros(8)) for i in range(0, len(obs), 8)])
    np.testing.assert_allclose(rollout, steps, rtol=1e-5, atol=1e-7)
    with torch.no_grad():
        none = torch.zeros(len(obs), dtype=torch.bool)
        expected = model.rewards(torch.as_tensor(obs), torch.zeros(len(obs)), none)
    np.testing.assert_allclose(rollout, expected.double().numpy(), rtol=1e-5, atol=1e-6)


def test_the_trainer_teaches_it_which_cell_is_good() -> None:
    """Reward = 1 when the top-left cell of channel 0 is lit: after fitting, the members
    prefer the segment with more lit steps on their held-out pairs (chance: 0.5)."""
    rng = np.random.default_rng(0)
    n, t = 400, 5
    obs = np.zeros((n, 2, t, 4, 10, 10), dtype=np.uint8)
    lit = rng.random((n, 2, t)) < 0.5
    obs[..., 0, 0, 0] = np.where(lit, 255, 0)
    obs[..., 1, :, :] = (rng.random(obs[..., 1, :, :].shape) < 0.1) * 255  # distractors
    returns = lit.sum(axis=2)
    keep = returns[:, 0] != returns[:, 1]
    targets = (returns[:, 0] > returns[:, 1]).astype(np.float32)[keep]
    data = Comparisons(
        torch.as_tensor(obs[keep]),
        torch.zeros((int(keep.sum()), 2, t)),
        torch.zeros((int(keep.sum()), 2, t), dtype=torch.bool),
        torch.as_tensor(targets),
    )
    model = _model(MINATAR, dropout=0.5)
    trainer = RewardTrainer(model, model_config := RewardModelConfig(), rng)
    assert model_config.batch_size == 32
    metrics = trainer.fit(data, epochs=12)
    # accuracy on each member's own held-out pairs, never trained on (chance: 0.5)
    assert metrics.val_accuracy > 0.75, metrics
    assert metrics.l2 != RewardModelConfig().l2_initial  # the adaptive L2 moved


def test_inference_pads_batches_to_a_few_sizes_and_returns_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """oneDNN caches a primitive per input shape: without grad the convolutions see at
    most 12 batch sizes (powers of two up to the chunk), and every frame's reward is the
    one it gets alone."""
    from rlhp.reward import cnn
    from rlhp.reward.cnn_inference import INFERENCE_CHUNK

    model = _model(MINATAR).eval()
    frozen = model.snapshot()
    sizes: set[int] = set()
    conv2d = F.conv2d

    def recording(x: torch.Tensor, *args: object, **kw: object) -> torch.Tensor:
        sizes.add(x.shape[0])
        return conv2d(x, *args, **kw)  # type: ignore[arg-type]

    obs = torch.randint(0, 256, (INFERENCE_CHUNK + 300, 4, 10, 10), dtype=torch.uint8)
    every = frozen(obs.numpy(), np.zeros(len(obs)))  # each frame's reward, in other batches
    for n in (1, 3, 37, 100, 513, 2049, INFERENCE_CHUNK + 300):
        none = torch.zeros(n, dtype=torch.bool)
        with torch.no_grad():
            alone = torch.stack([_member_alone(model, k, obs[:n]) for k in range(3)])
            with monkeypatch.context() as patch:
                patch.setattr(cnn.F, "conv2d", recording)
                raw = model.raw_rewards(obs[:n], torch.zeros(n), none)
                agent = frozen(obs[:n].numpy(), np.zeros(n))
        torch.testing.assert_close(raw, alone, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(agent, every[:n], rtol=1e-5, atol=1e-7)
    assert sizes <= {1 << i for i in range(12)} and max(sizes) == INFERENCE_CHUNK
    sizes.clear()
    model.train()  # training: batch statistics, so the batch is never padded
    with monkeypatch.context() as patch:
        patch.setattr(cnn.F, "conv2d", recording)
        model.raw_rewards(obs[:37], torch.zeros(37), torch.zeros(37, dtype=torch.bool))
    assert sizes == {37}


@pytest.mark.parametrize("p", [0.5, 0.25])
def test_dropout_keeps_1_minus_p_and_each_expectation(p: float) -> None:
    model = _model(MINATAR, dropout=p).train()
    torch.manual_seed(3)
    ones = torch.ones(200, 48, 8, 8)
    out = model._dropout(ones)
    kept = out != 0
    # 614,400 Bernoulli draws: the kept share is 1 - p within 5 standard errors
    assert abs(float(kept.float().mean()) - (1 - p)) < 5 * (p * (1 - p) / ones.numel()) ** 0.5
    assert torch.allclose(out[kept], torch.full_like(out[kept], 1 / (1 - p)))
    assert not torch.equal(model._dropout(ones), out)  # a fresh mask every call
    assert torch.equal(model.eval()._dropout(ones), ones)


@pytest.mark.parametrize("image", [True, False])
def test_a_fit_with_dropout_is_the_same_whatever_else_draws_random_numbers(image: bool) -> None:
    """Dropout masks came from torch's global generator, which the agent's thread also
    draws from while a fit runs beside it: pixel runs of one seed differed from their
    first rollouts on. Each fit now draws its masks from its own generator, seeded from
    the trainer's rng — the CNN's and the MLP's (``reward_model.dropout``)."""
    rng = np.random.default_rng(0)
    shape = (4, 10, 10) if image else (6,)
    obs = torch.as_tensor(rng.integers(0, 256, (24, 2, 3, *shape), dtype=np.uint8))
    obs = obs if image else obs.float()
    data = Comparisons(
        obs, torch.zeros(24, 2, 3), torch.zeros(24, 2, 3, dtype=torch.bool), torch.rand(24)
    )
    weights = []
    for others in (0, 5):
        torch.manual_seed(0)
        config = RewardModelConfig(zero_init_head=False, dropout=0.5)
        space = MINATAR if image else spaces.Box(-1, 1, (6,), np.float32)
        model = make_reward_model(space, spaces.Discrete(4), config)
        trainer = RewardTrainer(model, config, np.random.default_rng(1))
        torch.manual_seed(others)  # what the agent's thread leaves the global generator at
        trainer.fit(data, epochs=2)
        weights.append(model.head.weight.detach().clone())
    assert torch.equal(weights[0], weights[1])


def test_precision_picks_the_compute_dtype() -> None:
    from rlhp.reward.cnn_inference import compute_dtype, native_bfloat16

    cpu = torch.device("cpu")
    assert compute_dtype("float32", cpu) == torch.float32
    assert compute_dtype("bfloat16", cpu) == torch.bfloat16
    native = torch.bfloat16 if native_bfloat16("cpu") else torch.float32
    assert compute_dtype("auto", cpu) == native
    assert compute_dtype("auto", torch.device("meta")) == torch.float32


def test_bfloat16_computes_what_float32_does_to_bfloat16_precision() -> None:
    """The same weights in both precisions: rewards within bfloat16's ≈ 3 significant
    digits of the activations, the snapshot's convolutions in bfloat16 too, outputs
    float32, and a training step's gradients close to float32's."""
    full, half = _model(ATARI), _model(ATARI, precision="bfloat16")
    half.load_state_dict(full.state_dict())
    obs = torch.randint(0, 256, (40, 4, 84, 84), dtype=torch.uint8)
    none = torch.zeros(40, dtype=torch.bool)
    for model in (full, half):
        model.eval()
    with torch.no_grad():
        a, b = full.raw_rewards(obs, none, none), half.raw_rewards(obs, none, none)
    assert b.dtype == torch.float32
    spread = float(a.std())
    assert spread > 0 and float((a - b).abs().max()) < 0.05 * spread
    for model in (full, half):  # the agent's rewards: zero mean, std 0.05 over these frames
        model.fit_output_normalization(obs, torch.zeros(40), none)
    frozen = half.snapshot()
    assert frozen.dtype == torch.bfloat16 and frozen.convs[0][0].dtype == torch.bfloat16
    agent, exact = frozen(obs.numpy(), np.zeros(40)), full.snapshot()(obs.numpy(), np.zeros(40))
    assert agent.dtype == np.float64
    # random frames through a random network: outputs that barely differ, the hardest case
    assert np.abs(agent - exact).max() < 0.1 * exact.std()
    assert np.corrcoef(agent, exact)[0, 1] > 0.999
    grads = []
    for model in (full, half):
        model.train()
        model.zero_grad()
        with torch.random.fork_rng():
            torch.manual_seed(1)
            model.raw_rewards(obs, none, none).pow(2).sum().backward()
        assert model.convs[0].weight.grad is not None
        grads.append(model.convs[0].weight.grad.flatten())
    cosine = F.cosine_similarity(grads[0], grads[1], dim=0)
    assert float(cosine) > 0.99


def test_inference_chunks_keep_big_frames_few() -> None:
    from rlhp.reward.cnn_inference import INFERENCE_CHUNK, inference_chunk

    assert inference_chunk((4, 84, 84)) == 128
    assert inference_chunk((4, 84, 84), torch.bfloat16) == 256
    assert inference_chunk((4, 10, 10)) == INFERENCE_CHUNK
    assert inference_chunk((3, 2000, 2000)) == 1
    model = _model(ATARI).eval()
    obs = torch.randint(0, 256, (300, 4, 84, 84), dtype=torch.uint8)
    none = torch.zeros(300, dtype=torch.bool)
    with torch.no_grad():
        whole = model.raw_rewards(obs, none, none)
        parts = torch.cat(
            [
                model.raw_rewards(obs[i : i + 7], none[i : i + 7], none[i : i + 7])
                for i in range(0, 300, 7)
            ],
            dim=1,
        )
    torch.testing.assert_close(whole, parts, rtol=1e-5, atol=1e-6)


def test_stacked_views_are_evaluated_a_chunk_at_a_time_with_the_same_rewards(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Labelled pairs are views whose frames overlap (4 observations share each frame):
    flattening them whole copied every observation. Inference copies at most one chunk
    of frames at a time, and the rewards are those of the contiguous copy."""
    from rlhp.reward import cnn
    from rlhp.segments import stacked_view

    model = _model(MINATAR).eval()
    pixels = np.random.default_rng(0).integers(0, 256, (9, 2, 8, 10, 10), dtype=np.uint8)
    view = torch.as_tensor(stacked_view(pixels, 4, axis=2))  # (9, 2, 5, 4, 10, 10)
    absorbing = torch.zeros((9, 2, 5), dtype=torch.bool)
    chunk = 16
    monkeypatch.setattr(cnn, "inference_chunk", lambda *_: chunk)
    copied: list[int] = []
    frames = cnn.frames

    def recording(pixels: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        copied.append(pixels.shape[0])
        return frames(pixels, dtype)

    monkeypatch.setattr(cnn, "frames", recording)
    with torch.no_grad():
        from_view = model.raw_rewards(view, absorbing, absorbing)
        from_copy = model.raw_rewards(view.contiguous(), absorbing, absorbing)
    torch.testing.assert_close(from_view, from_copy, rtol=0, atol=0)
    assert from_view.shape == (3, 9, 2, 5)
    assert max(copied) <= chunk  # 90 frames, never more than a chunk at once
    batches = list(cnn.frame_chunks(view, (4, 10, 10), chunk))
    assert [len(b) for b in batches] == [10] * 9  # one pair (2 × 5 frames) per batch
    torch.testing.assert_close(torch.cat(batches), view.reshape(-1, 4, 10, 10))
