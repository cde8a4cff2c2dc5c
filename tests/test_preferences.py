import math

import pytest
import torch

from rlhp.preferences import (
    binary_entropy,
    log_preference_probs,
    preference_logits,
    preference_loss,
    preference_probability,
)


def test_zero_logits_give_log_two_for_any_target() -> None:
    logits = torch.zeros(4)
    for target in (0.0, 0.5, 1.0):
        loss = preference_loss(logits, torch.full((4,), target), epsilon=0.1)
        assert torch.allclose(loss, torch.full((4,), math.log(2)))


def test_logits_are_differences_of_segment_returns() -> None:
    rewards = torch.tensor([[[1.0, 2.0, 3.0], [0.5, 0.5, 0.0]]])  # (1, 2, 3)
    assert preference_logits(rewards).item() == pytest.approx(6.0 - 1.0)


def test_probability_matches_hand_computation() -> None:
    # P = 0.9 * sigmoid(1) + 0.05
    p = preference_probability(torch.tensor(1.0), epsilon=0.1)
    assert p.item() == pytest.approx(0.9 / (1 + math.exp(-1)) + 0.05, rel=1e-6)


def test_epsilon_bounds_the_loss_however_wrong_the_logits() -> None:
    logits = torch.tensor([-1e4, -50.0, 1e4])
    targets = torch.tensor([1.0, 1.0, 0.0])
    loss = preference_loss(logits, targets, epsilon=0.1)
    assert torch.all(loss <= -math.log(0.05) + 1e-6)
    assert torch.all(torch.isfinite(loss))


def test_loss_without_epsilon_is_stable_for_large_logits() -> None:
    logits = torch.tensor([1e4, -1e4], requires_grad=True)
    loss = preference_loss(logits, torch.tensor([1.0, 0.0]), epsilon=0.0)
    loss.sum().backward()
    assert torch.allclose(loss, torch.zeros(2))
    assert logits.grad is not None and torch.all(torch.isfinite(logits.grad))


def test_probabilities_of_both_orders_sum_to_one() -> None:
    logits = torch.linspace(-30, 30, 13)
    log_left, log_right = log_preference_probs(logits, epsilon=0.1)
    assert torch.allclose(log_left.exp() + log_right.exp(), torch.ones(13), atol=1e-6)


def test_tie_target_is_minimised_at_zero_logit() -> None:
    logits = torch.linspace(-3, 3, 61)
    loss = preference_loss(logits, torch.full((61,), 0.5), epsilon=0.1)
    assert logits[loss.argmin()].item() == pytest.approx(0.0, abs=1e-6)


def test_shape_errors_are_named() -> None:
    with pytest.raises(ValueError, match="expected"):
        preference_logits(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="differ"):
        preference_loss(torch.zeros(3), torch.zeros(2))


def test_binary_entropy_known_values() -> None:
    h = binary_entropy(torch.tensor([0.0, 0.5, 1.0]))
    assert torch.allclose(h, torch.tensor([0.0, math.log(2), 0.0]))
