"""A tiny MinAtar preference run from pixels: the CNN path trains end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from rlhp.cli import main
from rlhp.evaluation import evaluate

pytestmark = pytest.mark.slow
pytest.importorskip("minatar", reason="needs the minatar extra: pip install 'rlhp[minatar]'")


def test_a_tiny_minatar_preference_run_learns_the_reward(tmp_path: Path) -> None:
    run = tmp_path / "run"
    argv = ["train", "MinAtar/Breakout-v1", "--labels", "40", "--timesteps", "4096"]
    argv += ["--seed", "0", "--out", str(run), "--no-progress", "--set", "schedule.updates=3"]
    assert main(argv) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["queries"]["segment_length"] is None  # the pixel preset: 25 steps
    assert config["reward_model"]["max_labels"] == 3000 and config["reward_model"]["dropout"] == 0.5
    weights = torch.load(run / "checkpoints" / "reward_model.pt", weights_only=True)["model"]
    assert weights["convs.0.weight"].shape == (3 * 16, 4, 3, 3)  # K=3 members, one 3×3 conv
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    fitted = [r for r in rows if "reward/return_correlation" in r]
    # Breakout's sparse bricks make some rounds all ties: those bank labels (rlhp.loop.coverage)
    assert 30 <= fitted[-1]["labels/answered"] <= 40
    # Breakout pays +1 per brick; the learned return of recent segments follows it
    assert fitted[-1]["reward/return_correlation"] > 0.5
    # pixel games are evaluated on sampled actions, as rl-baselines3-zoo evaluates Atari
    assert evaluate(run, episodes=1).deterministic is False
    assert evaluate(run, episodes=1, deterministic=True).deterministic is True
