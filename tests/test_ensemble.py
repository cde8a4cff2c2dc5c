import numpy as np
import pytest
import torch
from gymnasium import spaces

from rlhp.config import RewardModelConfig
from rlhp.errors import ConfigError
from rlhp.queries import EnsembleSelector, UniformSelector
from rlhp.reward.ensemble import FeatureSpec, RewardEnsemble
from rlhp.segments import SegmentBatch


def model(k: int = 3, use_actions: bool = False) -> RewardEnsemble:
    spec = FeatureSpec.from_spaces(spaces.Box(-1, 1, (4,)), spaces.Discrete(3), use_actions)
    return RewardEnsemble(spec, RewardModelConfig(ensemble_size=k, zero_init_head=False))


def test_one_batched_forward_equals_each_member_alone() -> None:
    torch.manual_seed(0)
    m = model(k=3, use_actions=True)
    obs, act = torch.randn(5, 7, 4), torch.randint(0, 3, (5, 7))
    absorbing = torch.zeros(5, 7, dtype=torch.bool)
    out = m.raw_rewards(obs, act, absorbing)
    assert out.shape == (3, 5, 7)
    per_member = m.raw_rewards(
        obs.expand(3, 5, 7, 4), act.expand(3, 5, 7), absorbing.expand(3, 5, 7), per_member=True
    )
    assert torch.allclose(out, per_member, atol=1e-6)
    # member 1 alone, computed by hand
    x = torch.cat([obs, torch.nn.functional.one_hot(act, 3).float()], -1)
    for layer in m.hidden:
        x = torch.nn.functional.leaky_relu(x @ layer.weight[1] + layer.bias[1], 0.01)
    assert torch.allclose(out[1], (x @ m.head.weight[1] + m.head.bias[1]).squeeze(-1), atol=1e-5)


def test_absorbing_steps_get_the_members_absorbing_reward() -> None:
    m = model()
    with torch.no_grad():
        m.absorbing_reward.copy_(torch.tensor([1.0, 2.0, 3.0]))
    absorbing = torch.tensor([[False, True]])
    out = m.raw_rewards(torch.randn(1, 2, 4), torch.zeros(1, 2), absorbing)
    assert out[:, 0, 1].tolist() == [1.0, 2.0, 3.0]


def test_output_normalisation_gives_zero_mean_unit_std_per_member() -> None:
    m = model()
    obs = torch.randn(500, 4) * 3
    no = torch.zeros(500, dtype=torch.bool)
    m.fit_output_normalization(obs, torch.zeros(500), no)
    normalized = m.normalize(m.raw_rewards(obs, torch.zeros(500), no)).detach()
    assert torch.allclose(normalized.mean(dim=1), torch.zeros(3), atol=1e-4)
    assert torch.allclose(normalized.std(dim=1), torch.ones(3), atol=1e-4)


def test_pessimism_lowers_reward_where_members_disagree() -> None:
    m = model()
    obs = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)
    mean = m.snapshot()(obs, np.zeros(50))
    cautious = m.snapshot(pessimism=1.0)(obs, np.zeros(50))
    assert np.all(cautious <= mean) and np.any(cautious < mean)


def test_dying_is_never_rewarded_at_any_pessimism() -> None:
    """Issue 9, defect 4: members that disagree by the same amount everywhere agree on
    how much better staying alive is than ending, so pessimism changes nothing; and
    where the members' mean says alive beats the absorbing state, no pessimism makes an
    alive step worth less than ending (reward < 0)."""
    m = model(k=3)
    with torch.no_grad():
        for layer in [*m.hidden, m.head]:
            layer.weight.zero_()
            layer.bias.zero_()
        m.head.bias[:, 0, 0] = torch.tensor([-1.0, 0.0, 1.0])  # every state: -1, 0, +1
        m.absorbing_reward.copy_(torch.tensor([-1.5, -0.5, 0.5]))  # 0.5 below each member
        m.absorbing_seen.fill_(True)
    obs = np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32)
    for k in (0.0, 0.5, 1.0, 3.0, 100.0):
        assert np.allclose(m.snapshot(k)(obs, np.zeros(20)), 0.5), k
    # members now disagree about staying alive (advantages 0.5, 0.5 and 2.0: mean 1, std
    # √0.75): k = 1 gives 1 − √0.75; at k = 3 the bound would sink below what ending is
    # worth, and stops there
    with torch.no_grad():
        m.absorbing_reward[2] = -1.0
    for k in (0.0, 0.5, 1.0, 3.0, 100.0):
        assert np.all(m.snapshot(k)(obs, np.zeros(20)) >= 0.0), k
    assert np.allclose(m.snapshot(1.0)(obs, np.zeros(20)), 1 - np.sqrt(0.75))
    assert np.allclose(m.snapshot(3.0)(obs, np.zeros(20)), 0.0)


def test_disagreement_selector_picks_the_pairs_members_disagree_on(
    rng: np.random.Generator,
) -> None:
    m = model(k=2)
    with (
        torch.no_grad()
    ):  # member 0 rewards obs[0], member 1 penalises it: they disagree when obs[0] differs
        for layer in [*m.hidden, m.head]:
            layer.weight.zero_()
            layer.bias.zero_()
        m.hidden[0].weight[0, 0, 0] = 1.0
        m.hidden[0].weight[1, 0, 0] = -1.0
        m.hidden[1].weight[:, 0, 0] = 1.0
        m.head.weight[:, 0, 0] = 1.0
    obs = np.zeros((6, 2, 3, 4), dtype=np.float32)
    obs[4, 0, :, 0] = 5.0  # pair 4: left has large obs[0]
    obs[1, 1, :, 0] = 1.0  # pair 1: a smaller difference
    batch = SegmentBatch(obs, np.zeros((6, 2, 3)), np.zeros((6, 2, 3), dtype=bool))
    assert EnsembleSelector(m, "disagreement")(batch, 2, rng).tolist() == [4, 1]
    # entropy of the mean prediction is highest (log 2) where both members see identical segments
    assert EnsembleSelector(m, "entropy")(batch, 1, rng).tolist()[0] in {0, 2, 3, 5}
    chosen = UniformSelector()(batch, 4, rng)
    assert len(set(chosen.tolist())) == 4


def test_numpy_snapshot_matches_the_torch_reward() -> None:
    torch.manual_seed(1)
    for use_actions in (False, True):
        m = model(k=3, use_actions=use_actions)
        with torch.no_grad():
            m.input_mean.normal_()
            m.output_mean.normal_()
            m.output_std.uniform_(0.5, 2.0)
            m.absorbing_reward.normal_()
            m.absorbing_seen.fill_(use_actions)  # without an absorbing state seen, no offset
        obs, act = torch.randn(9, 4), torch.randint(0, 3, (9,))
        no = torch.zeros(9, dtype=torch.bool)
        offset = m.absorbing_value() if use_actions else 0.0
        expected = m.rewards(obs, act, no) - offset
        got = m.snapshot()(obs.numpy(), act.numpy())
        assert np.allclose(got, expected.detach().numpy(), atol=1e-5)
        # with pessimism: the lower bound of the members' advantages, floored at min(mean, 0)
        with torch.no_grad():
            members = m.normalize(m.raw_rewards(obs, act, no)) - m.member_offsets()[:, None]
        mean, std = members.mean(dim=0), members.std(dim=0)
        by_hand = torch.maximum(mean - 0.7 * std, torch.minimum(mean, torch.zeros(())))
        assert np.allclose(m.snapshot(0.7)(obs.numpy(), act.numpy()), by_hand.numpy(), atol=1e-5)


def test_action_squares_follow_the_actions_and_the_snapshot_matches() -> None:
    box = spaces.Box(-1, 1, (2,))
    spec = FeatureSpec.from_spaces(spaces.Box(-5, 5, (3,)), box, True, action_squares=True)
    assert spec.input_dim == 3 + 2 + 2
    x = spec.features(torch.tensor([[1.0, 2.0, 3.0]]), torch.tensor([[0.5, -4.0]]))
    assert x.tolist() == [[1.0, 2.0, 3.0, 0.5, -4.0, 0.25, 16.0]]
    # discrete actions ignore it (a one-hot squared is itself); without actions it is refused
    assert not FeatureSpec.from_spaces(box, spaces.Discrete(3), True, True).action_squares
    with pytest.raises(ValueError, match="action squares"):
        FeatureSpec((3,), 0, False, action_squares=True)
    with pytest.raises(ConfigError, match="use_actions"):
        RewardModelConfig(action_squares=True)
    torch.manual_seed(2)
    m = RewardEnsemble(
        spec, RewardModelConfig(use_actions=True, action_squares=True, zero_init_head=False)
    )
    with torch.no_grad():
        m.input_mean.normal_()
        m.output_std.uniform_(0.5, 2.0)
    obs, act = torch.randn(9, 3), torch.rand(9, 2) * 2 - 1
    expected = m.rewards(obs, act, torch.zeros(9, dtype=torch.bool))
    assert np.allclose(m.snapshot()(obs.numpy(), act.numpy()), expected.detach().numpy(), atol=1e-5)


def test_observation_dims_reads_the_leading_entries_only_and_the_snapshot_matches() -> None:
    box = spaces.Box(-1, 1, (2,))
    spec = FeatureSpec.from_spaces(spaces.Box(-5, 5, (5,)), box, True, True, observation_dims=2)
    assert spec.input_dim == 2 + 2 + 2
    x = spec.features(torch.tensor([[1.0, 2.0, 3.0, 4.0, 5.0]]), torch.tensor([[0.5, -4.0]]))
    assert x.tolist() == [[1.0, 2.0, 0.5, -4.0, 0.25, 16.0]]
    with pytest.raises(ValueError, match="observations have 5 entries"):
        FeatureSpec((5,), 0, False, observation_dims=6)
    with pytest.raises(ConfigError, match="observation_dims must be >= 1"):
        RewardModelConfig(observation_dims=0)
    torch.manual_seed(3)
    config = RewardModelConfig(use_actions=True, observation_dims=2, zero_init_head=False)
    m = RewardEnsemble(spec, config)
    obs, act = torch.randn(9, 5), torch.rand(9, 2) * 2 - 1
    expected = m.rewards(obs, act, torch.zeros(9, dtype=torch.bool))
    assert np.allclose(m.snapshot()(obs.numpy(), act.numpy()), expected.detach().numpy(), atol=1e-5)
    # what the model does not read cannot change its reward
    changed = obs.clone()
    changed[:, 2:] = 100.0
    assert torch.equal(m.rewards(changed, act, torch.zeros(9, dtype=torch.bool)), expected)


def test_zero_initialised_heads_start_with_a_flat_reward() -> None:
    spec = FeatureSpec.from_spaces(spaces.Box(-1, 1, (4,)), spaces.Discrete(3), False)
    flat = RewardEnsemble(spec, RewardModelConfig())
    out = flat.raw_rewards(torch.randn(20, 4), torch.zeros(20), torch.zeros(20, dtype=torch.bool))
    assert torch.all(out == 0)


def test_selector_scores_in_chunks_equal_one_pass() -> None:
    torch.manual_seed(2)
    m = model(k=3)
    obs = np.random.default_rng(0).normal(size=(7, 2, 5, 4)).astype(np.float32)
    batch = SegmentBatch(obs, np.zeros((7, 2, 5)), np.zeros((7, 2, 5), dtype=bool))
    for kind in ("disagreement", "entropy"):
        whole = EnsembleSelector(m, kind, chunk=1000).scores(batch)  # type: ignore[arg-type]
        chunked = EnsembleSelector(m, kind, chunk=3).scores(batch)  # type: ignore[arg-type]
        assert whole.shape == (7,) and np.allclose(chunked, whole, atol=1e-6)
