"""A run killed mid-way (SIGKILL, no clean-up) resumes with every label intact."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from rlhp.cli import main
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
