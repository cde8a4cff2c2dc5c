"""Fault test with people (issue #3): the trainer, and the server in it, killed mid-run.

``rlhp train --feedback human`` runs as its own process, as a person would start it; a
simulated person answers over HTTP. The trainer is SIGKILLed after pre-training, while
answers are streaming in; every acknowledged answer must be in the store, the resumed
run must report exactly the answered count the killed one left, and finish its budget.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import load_script

FAST = ["--set", "schedule.updates=6", "--set", "reward_model.pretrain_epochs=10"]
"""A short run: few updates, a short pre-training fit."""


def _trainer(args: list[str], port: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "rlhp", "train", *args, "--feedback", "human"]
    command += ["--port", str(port), "--no-progress"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _person(url: str, acknowledged: list[int], stop: threading.Event) -> None:
    """Answers whatever it is offered; waits out the gap while the trainer is down."""
    while not stop.is_set():
        try:
            with httpx.Client(base_url=url, timeout=5) as client:
                client.post("/api/name", json={"name": "sim"})
                while not stop.is_set():
                    pair = client.get("/api/next").json()["pair"]
                    if pair is None:
                        time.sleep(0.05)
                        continue
                    choice = "left" if pair["id"] % 2 else "right"
                    reply = client.post(
                        "/api/answer", json={"pair_id": pair["id"], "choice": choice}
                    )
                    if reply.json()["stored"]:
                        acknowledged.append(pair["id"])
        except (httpx.TransportError, ValueError):
            time.sleep(0.1)  # the server is down (killed, or not started yet)


def _answers(run: Path) -> list[tuple[int, str, str]]:
    db = sqlite3.connect(run / "labels.sqlite")
    rows = db.execute("SELECT pair_id, choice, labeller FROM answers ORDER BY id").fetchall()
    db.close()
    return rows


def _wait_for(condition, seconds: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.mark.slow
def test_killing_the_trainer_loses_no_answer_and_the_run_resumes(tmp_path: Path) -> None:
    run, port = tmp_path / "run", load_script("benchmarks/load_test_labelling.py").free_port()
    url = f"http://127.0.0.1:{port}"
    budget = ["--labels", "40", "--timesteps", "12000", "--segment-length", "20"]
    trainer = _trainer(["CartPole-v1", *budget, *FAST, "--out", str(run)], port)
    acknowledged: list[int] = []
    stop = threading.Event()
    person = threading.Thread(target=_person, args=(url, acknowledged, stop), daemon=True)
    person.start()
    try:
        state = run / "state.json"
        _wait_for(
            lambda: state.exists() and json.loads(state.read_text()).get("pretrained"),
            300,
            "pre-training",
        )
        _wait_for(lambda: len(acknowledged) >= 15, 300, "answers during RL")
        os.kill(trainer.pid, signal.SIGKILL)  # trainer, clip worker and server at once
        trainer.wait(10)
        after_kill = _answers(run)
        assert set(acknowledged) <= {p for p, _, _ in after_kill}  # nothing acknowledged lost
        assert len(after_kill) - len(acknowledged) in (0, 1)  # at most the one in flight

        stop.set()
        person.join(10)
        resumed = _trainer(["--resume", str(run)], port)
        with httpx.Client(base_url=url, timeout=5) as client:
            _wait_for(lambda: _up(client), 120, "the resumed server")
            client.post("/api/name", json={"name": "sim"})
            progress = client.get("/api/progress").json()
        assert progress["answered"] == len({p for p, _, _ in after_kill})  # count unchanged

        stop.clear()
        person = threading.Thread(target=_person, args=(url, acknowledged, stop), daemon=True)
        person.start()
        out, err = resumed.communicate(timeout=600)
        assert resumed.returncode == 0, err[-2000:]
    finally:
        stop.set()
        for proc in (trainer, locals().get("resumed")):
            if proc is not None and proc.poll() is None:
                proc.kill()
    final = _answers(run)
    assert final[: len(after_kill)] == after_kill  # the old answers, untouched, in order
    assert len({p for p, _, _ in final}) == len(final)  # one answer per pair: no duplicates
    assert "40 queries asked" in out  # the whole budget was asked
    assert json.loads((run / "state.json").read_text())["finished"]


def _up(client: httpx.Client) -> bool:
    try:
        return client.get("/api/progress").status_code in (200, 401, 403)
    except httpx.TransportError:
        return False
