"""Teach a behaviour no reward function names, by saying which of two clips is better.

    python examples/teach_behaviour.py backflip --labels 900 --timesteps 500000 --seed 0
    python examples/teach_behaviour.py backflip --through page --labels 200 --timesteps 100000
    python examples/teach_behaviour.py one-leg --labels 800 --timesteps 500000 --env-seeds 0
    python examples/teach_behaviour.py backflip-sum --labels 900 --timesteps 3000000 --env-seeds 0

A comparison rule (``rlhp.behaviours.hopper:prefer_backflip``,
``rlhp.behaviours.flip_reward:prefer_flip_sum``, ``rlhp.behaviours.cheetah:prefer_one_leg``)
answers every query the trainer asks, reading only the simulator states the run recorded
for the two clips: ``--through direct`` in the trainer's process, ``--through page`` on
the real labelling page in Chromium by key press (clips rendered, served and shown as for
people). The trained policy is then measured over 20 evaluation episodes
(``rlhp.behaviours``: backflips per episode, or the share of steps on one leg and the
forward speed) beside agents trained on the environment's reward (``--env-seeds``; for
``backflip-sum`` that reward is the rule's own per-step score, so they are the
written-reward agents). Prints one JSON line; docs/benchmarks.md reports the runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import torch

from rlhp.config import ScheduleConfig, TrainConfig
from rlhp.labellers.base import Labeller
from rlhp.labellers.factory import make_labeller
from rlhp.labellers.rule import load_rule
from rlhp.labellers.rule_page import PageRuleLabeller
from rlhp.loop.runs import train
from rlhp.loop.trainer import RunSummary
from rlhp.rl.presets import task_config
from rlhp.store.labels import LabelStore

Through = Literal["direct", "page"]


class Behaviour(NamedTuple):
    env_id: str
    rule: str
    instructions: str


BEHAVIOURS = {
    "backflip": Behaviour(
        "rlhp/HopperNoTermination-v5",
        "rlhp.behaviours.hopper:prefer_backflip",
        "Which clip is more of a clean backflip: a full turn backwards, landing upright on the foot?",
    ),
    # the same question as a sum over steps (rlhp.behaviours.flip_reward); its task pays
    # that sum as the env's reward, so --env-seeds trains the written-reward agents
    "backflip-sum": Behaviour(
        "rlhp/HopperBackflipReward-v5",
        "rlhp.behaviours.flip_reward:prefer_flip_sum",
        "Which clip is more of a clean backflip: a full turn backwards, landing upright on the foot?",
    ),
    "one-leg": Behaviour(
        "HalfCheetah-v5",
        "rlhp.behaviours.cheetah:prefer_one_leg",
        "Which clip moves forward more while standing on one leg?",
    ),
}


def teaching_config(
    behaviour: str, labels: int, timesteps: int, seed: int, through: Through
) -> TrainConfig:
    """The task's preset, taught by the behaviour's rule (on the page: ``feedback=human``,
    and every reward update waits for the page's answers, so a loaded machine's slow
    clips cost wall time, not labels)."""
    what = BEHAVIOURS[behaviour]
    config = task_config(what.env_id)
    return dataclasses.replace(
        config,
        total_timesteps=timesteps,
        seed=seed,
        rule=what.rule,
        feedback="human" if through == "page" else "oracle",
        schedule=ScheduleConfig(labels=labels, wait_for_people=through == "page"),
    )


def train_taught(config: TrainConfig, run_dir: Path, behaviour: str) -> tuple[RunSummary, dict]:
    """Train ``config``; returns the summary and what the labeller saw (page waiting time,
    clip render times)."""
    made: list[Labeller] = []

    def factory(cfg: TrainConfig, store: LabelStore, path: Path, rng: Any) -> Labeller:
        if cfg.feedback == "human":
            assert cfg.rule is not None
            labeller: Labeller = PageRuleLabeller(
                load_rule(cfg.rule), path, cfg.env_id, store, BEHAVIOURS[behaviour].instructions
            )
        else:
            labeller = make_labeller(cfg, store, path, rng)
        made.append(labeller)
        return labeller

    started = time.time()
    summary = train(config, run_dir, labeller_factory=factory)
    info: dict[str, Any] = {"run_seconds": round(time.time() - started)}
    labeller = made[0]
    if isinstance(labeller, PageRuleLabeller):
        clips = labeller.clips
        waits = [p.waited for p in labeller.bot.presses]
        info.update(
            page_answers=len(labeller.bot.presses),
            page_waiting_seconds=round(labeller.bot.waiting_seconds, 1),
            page_wait_per_answer_median_s=round(float(np.median(waits)), 3) if waits else None,
            clips_rendered=clips.rendered,
            clip_seconds_mean=round(clips.seconds / max(clips.rendered, 1), 3),
        )
    return summary, info


def main() -> None:
    from rlhp.behaviours.report import measure_run

    parser = argparse.ArgumentParser()
    parser.add_argument("behaviour", choices=sorted(BEHAVIOURS))
    parser.add_argument("--labels", type=int, default=900)
    parser.add_argument("--timesteps", type=int, default=500_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--through", choices=["direct", "page"], default="direct")
    parser.add_argument("--env-seeds", type=int, nargs="*", default=[], help="env-reward agents")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    root = args.out or Path(tempfile.mkdtemp(prefix=f"teach-{args.behaviour}-"))
    config = teaching_config(args.behaviour, args.labels, args.timesteps, args.seed, args.through)
    name = f"{args.behaviour}-{args.through}-s{args.seed}"
    summary, info = train_taught(config, root / name, args.behaviour)
    result: dict[str, Any] = {
        "behaviour": args.behaviour,
        "through": args.through,
        "seed": args.seed,
        "labels_answered": summary.labels_answered,
        "labels_asked": summary.labels_asked,
        "timesteps": summary.env_steps,
        **info,
        "taught": measure_run(root / name, args.episodes),
        "env_reward": {},
        "run_dir": str(root / name),
    }
    for seed in args.env_seeds:
        env_config = dataclasses.replace(
            task_config(config.env_id), total_timesteps=args.timesteps, seed=seed, reward="env"
        )
        train(env_config, root / f"{args.behaviour}-env-reward-s{seed}")
        result["env_reward"][seed] = measure_run(
            root / f"{args.behaviour}-env-reward-s{seed}", args.episodes
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
