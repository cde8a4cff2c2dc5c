"""A run killed mid-way (SIGKILL, no clean-up) resumes with every label intact, and with
the agent the uninterrupted run would have had at that step."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from rlhp.cli import main
from rlhp.loop import trainer
from rlhp.loop.asking import candidate_pool
from rlhp.loop.run_dir import RunDir
from rlhp.rl.agents import build_stack, load_agent
from rlhp.store.labels import LabelStore


def test_killed_run_resumes_with_its_labels(tmp_path: Path) -> None:
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "rlhp",
        "train",
        "CartPole-v1",
        "--timesteps",
        "40000",
        "--labels",
        "60",
        "--seed",
        "5",
        "--out",
        str(out),
        "--no-progress",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    state: dict = {}
    while time.monotonic() < deadline:
        if (out / "state.json").exists():
            state = json.loads((out / "state.json").read_text())
            if state.get("env_steps", 0) >= 8000:
                break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 8000 <= state["env_steps"] < 40000, state

    store = LabelStore.open(out / "labels.sqlite")
    before = {(a.pair_id, a.labeller, a.choice) for a in store.answers()}
    asked_before = store.counts().pairs
    store.close()
    assert 25 <= len(before) < 60

    assert main(["train", "--resume", str(out), "--no-progress"]) == 0
    store = LabelStore.open(out / "labels.sqlite")
    after = {(a.pair_id, a.labeller, a.choice) for a in store.answers()}
    counts = store.counts()
    store.close()
    assert before <= after  # no answered label lost or changed
    assert (
        asked_before <= counts.pairs == 60 and counts.answered == 60
    )  # the schedule went on to the budget
    final = json.loads((out / "state.json").read_text())
    assert final["finished"] and final["env_steps"] >= 40000
    # the metrics continue from where the run stopped, not from step 0
    steps = [
        json.loads(line)["env_step"] for line in (out / "metrics.jsonl").read_text().splitlines()
    ]
    assert steps[-1] >= 40000


def test_a_checkpoint_holds_the_policy_that_learned_from_the_rollout_it_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SB3 trains on a rollout after the rollout-end callback, where the loop updates r̂.
    The checkpoint of that update must hold the policy after that training — the one the
    run goes on with — or a run resumed from it skips one PPO update."""
    saved: list[tuple[int, dict[str, torch.Tensor]]] = []
    write = trainer.write_checkpoint

    def spy(run: RunDir, stack: Any, reward: Any, state: dict[str, Any]) -> None:
        write(run, stack, reward, state)
        agent = torch.load(run.agent_checkpoint, weights_only=True)
        saved.append((state["env_steps"], agent["parameters"]["policy"]))

    starts: dict[int, dict[str, torch.Tensor]] = {}
    start = trainer._LoopCallback._on_rollout_start

    def record(callback: Any) -> None:
        start(callback)
        policy = callback.model.policy.state_dict()
        starts[callback.model.num_timesteps] = {k: v.clone() for k, v in policy.items()}

    monkeypatch.setattr(trainer, "write_checkpoint", spy)
    monkeypatch.setattr(trainer._LoopCallback, "_on_rollout_start", record)
    out = tmp_path / "run"
    args = ["train", "CartPole-v1", "--reward", "env", "--timesteps", "6000", "--seed", "1"]
    assert main([*args, "--out", str(out), "--no-progress"]) == 0
    mid_run = [(steps, params) for steps, params in saved if steps in starts]
    assert len(mid_run) >= 3, [steps for steps, _ in saved]
    for steps, params in mid_run:
        for name, value in starts[steps].items():
            torch.testing.assert_close(params[name], value, rtol=0, atol=0)


def test_resuming_restores_the_random_streams_the_agent_draws_from(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["train", "CartPole-v1", "--reward", "env", "--timesteps", "2000", "--seed", "4"]
    assert main([*args, "--out", str(out), "--no-progress"]) == 0
    run = RunDir.open(out)
    streams = torch.load(run.agent_checkpoint, weights_only=True)["random"]
    config = dataclasses.replace(run.config(), total_timesteps=2000)
    pool = candidate_pool(config.queries, np.random.default_rng(0))
    stack = build_stack(config, pool, None, env_seed=99)  # seeds the globals afresh
    load_agent(stack, run.agent_checkpoint)  # playing a saved policy: its own seeding
    assert not torch.equal(torch.get_rng_state(), streams["torch"])
    load_agent(stack, run.agent_checkpoint, random_streams=True)  # resuming training
    assert torch.equal(torch.get_rng_state(), streams["torch"])
    assert np.random.get_state(legacy=True)[1].tolist() == streams["numpy_keys"].tolist()  # type: ignore[index]
