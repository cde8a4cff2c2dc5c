"""What a run's learned reward pays along a policy's own play, step by step.

Loads the reward model of one preference run (``--reward RUN``) and plays each policy
given (run directories: the run itself, its env twin, any other run of the same task)
for ``--steps`` vector steps on sampled actions, recording r̂(o_t, a_t) — the reward
the agent is paid, from the absorbing state — beside the game's own reward r_t. Prints
one markdown row per policy:

* corr(r̂_t, r_{t+lag}) for lags 0, 1, 2: how far ahead of a scoring step r̂ pays;
* mean r̂ on scoring steps (r_t ≠ 0) and elsewhere;
* mean r̂ in the 20 steps before and after a life is lost (ALE's ``lives``), and in
  the 10 before the episode ends;
* corr of 25-step sums (or the run's segment length) and the share of such windows
  with no score: what the oracle compares, on this policy's states.

A reward that reads the run's own play well (sums' corr near 1) and another policy's
badly is one the better policy has not been labelled on yet.

    .venv/bin/python benchmarks/reward_along_play.py \\
        --reward benchmarks/results/atari-500k/runs/ALE_Breakout-v5-ppo-pref3300-t500000-s0 \\
        benchmarks/results/atari-500k/runs/ALE_Breakout-v5-ppo-pref3300-t500000-s0 \\
        benchmarks/results/atari-500k/runs/ALE_Breakout-v5-ppo-env-t500000-s0
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rlhp.loop.run_dir import RunDir
from rlhp.reward.saved import load_reward_model
from rlhp.rl.agents import build_stack, load_agent
from rlhp.rl.presets import segment_length as preset_segment_length
from rlhp.segments import EpisodePool

PLAY_SEED_OFFSET = 999  # neither the run's training nor its evaluation seeds


@dataclass(frozen=True)
class Play:
    """``(T, n_envs)`` arrays of one policy's play: r̂, the game's reward, episode ends
    and lives left (−1 where the env does not say)."""

    learned: np.ndarray
    true: np.ndarray
    done: np.ndarray
    lives: np.ndarray


def play(run_path: Path, reward_path: Path, steps: int) -> Play:
    """``steps`` vector steps of ``run_path``'s policy, paid by ``reward_path``'s r̂."""
    reward = load_reward_model(reward_path).snapshot(0.0)
    run = RunDir.open(run_path)
    config = run.config()
    stack = build_stack(config, EpisodePool(1), None, env_seed=config.seed + PLAY_SEED_OFFSET)
    load_agent(stack, run.agent_checkpoint)
    venv = stack.model.get_env()
    assert venv is not None
    obs = venv.reset()
    learned, true, done, lives = [], [], [], []
    for _ in range(steps):
        action, _ = stack.model.predict(obs, deterministic=False)
        learned.append(reward(np.asarray(obs), np.asarray(action)))
        obs, rewards, dones, infos = venv.step(action)
        true.append(np.asarray(rewards))
        done.append(np.asarray(dones))
        lives.append([info.get("lives", -1) for info in infos])
    venv.close()
    return Play(np.array(learned), np.array(true), np.array(done), np.array(lives))


def lagged_corr(learned: np.ndarray, true: np.ndarray, lag: int) -> float:
    """corr(r̂_t, r_{t+lag}) over every step and env."""
    a, b = learned[: len(learned) - lag], true[lag:]
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def near(events: np.ndarray, before: int, after: int) -> np.ndarray:
    """Steps within ``before`` steps ahead of an event (excluding it) or ``after`` steps
    from it (including it), per env: ``(T, n_envs)`` bools."""
    mask = np.zeros_like(events)
    for k in range(1, before + 1):
        mask[:-k] |= events[k:]
    for k in range(after):
        mask[k:] |= events[: len(events) - k]
    return mask


def window_sums(x: np.ndarray, length: int) -> np.ndarray:
    """Sums over consecutive non-overlapping windows of ``length`` steps, per env."""
    usable = len(x) // length * length
    return x[:usable].reshape(-1, length, *x.shape[1:]).sum(axis=1).ravel()


def summary(play: Play, segment_length: int) -> dict[str, float]:
    """The row's numbers (NaN where the play had no such event)."""
    lost = np.zeros_like(play.done)
    lost[1:] = (play.lives[1:] < play.lives[:-1]) & ~play.done[:-1]

    def mean_where(mask: np.ndarray) -> float:
        return float(play.learned[mask].mean()) if mask.any() else float("nan")

    sums_learned = window_sums(play.learned, segment_length)
    sums_true = window_sums(play.true, segment_length)
    return {
        "true per step": float(play.true.mean()),
        "steps per episode": play.done.size / max(int(play.done.sum()), 1),
        **{f"corr lag {lag}": lagged_corr(play.learned, play.true, lag) for lag in (0, 1, 2)},
        "r̂ scoring": mean_where(play.true != 0),
        "r̂ elsewhere": mean_where(play.true == 0),
        "r̂ before life lost": mean_where(near(lost, 20, 0)),
        "r̂ after life lost": mean_where(near(lost, 0, 20)),
        "r̂ before end": mean_where(near(play.done, 10, 0)),
        "sums corr": float(np.corrcoef(sums_learned, sums_true)[0, 1]),
        "windows without score": float((sums_true == 0).mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+", help="run directories whose policy plays")
    parser.add_argument("--reward", type=Path, required=True, help="run whose r̂ pays")
    parser.add_argument("--steps", type=int, default=1200, help="vector steps per policy")
    args = parser.parse_args()
    torch.set_num_threads(1)  # small batches: one thread is faster on these machines
    config = RunDir.open(args.reward).config()
    segment_length = config.queries.segment_length or preset_segment_length(config.env_id)
    rows = [(path.name, summary(play(path, args.reward, args.steps), segment_length))
            for path in args.runs]  # fmt: skip
    names = list(rows[0][1])
    print("| policy | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for name, row in rows:
        print(f"| {name} | " + " | ".join(f"{row[k]:.4g}" for k in names) + " |")


if __name__ == "__main__":
    main()
