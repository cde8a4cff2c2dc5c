"""``rlhp label`` and ``rlhp train --feedback human`` refuse bad input with one line and
exit 2, before anything is created; a damaged store is refused by every command."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rlhp.cli import main
from rlhp.config import TrainConfig
from rlhp.labellers.base import Answer
from rlhp.store.labels import LabelStore
from tests.conftest import cartpole_segments


def _one_line_error(capsys: pytest.CaptureFixture[str], *words: str) -> str:
    """The one-line error on stderr, which names ``words``; nothing on stdout."""
    captured = capsys.readouterr()
    assert captured.out == "", captured.out[:200]
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("rlhp: error:"), err
    for word in words:
        assert word in err, err
    return err


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (["--port", "99999"], "--port 99999"),
        (["--port", "-1"], "--port -1"),
        (["--host", "no-such-host.invalid"], "--host no-such-host.invalid"),
        (["--host", "0.0.0.0", "--token", "short"], "at least 8"),
        (["--lock-seconds", "0"], "> 0"),
        (["--lock-seconds", "-5"], "> 0"),
        (["--lock-seconds", "nan"], "--lock-seconds nan"),
        (["--lock-seconds", "inf"], "--lock-seconds inf"),
        (["--locks-per-address", "2"], ">= 3"),
    ],
)
def test_a_human_run_with_a_bad_port_or_host_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str], says: str
) -> None:
    out = tmp_path / "run"
    argv = ["train", "CartPole-v1", "--feedback", "human", "--out", str(out), *options]
    assert main(argv) == 2
    _one_line_error(capsys, says)
    assert not out.exists()


def test_a_busy_port_creates_nothing_and_the_rerun_works(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        argv = ["train", "CartPole-v1", "--feedback", "human", "--out", str(out)]
        assert main([*argv, "--port", str(port)]) == 2
        _one_line_error(capsys, f"127.0.0.1:{port}", "--port")
    assert not out.exists()  # so a re-run is not refused as "already holds a run"


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (["--port", "99999"], "--port 99999"),
        (["--host", "300.1.2.3"], "--host 300.1.2.3"),
        (["--lock-seconds", "0"], "--lock-seconds 0.0 must be"),
        (["--locks-per-address", "0"], "--locks-per-address 0 must be >= 3"),
    ],
)
def test_rlhp_label_refuses_a_bad_port_or_host_in_one_line(
    labelling_run: Path, capsys: pytest.CaptureFixture[str], options: list[str], says: str
) -> None:
    assert main(["label", str(labelling_run), *options]) == 2
    _one_line_error(capsys, says)


def test_the_token_length_is_documented(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["label", "--help"])
    assert "at least 8" in " ".join(capsys.readouterr().out.split())


def _damage(path: Path) -> None:
    """Random bytes over one page in the middle of the file, as the issue's trial did."""
    with path.open("r+b") as f:
        f.seek(100_000)
        f.write(os.urandom(4096))


@pytest.fixture
def damaged_run(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    store = LabelStore.create(run / "labels.sqlite", {"env_id": "CartPole-v1"})
    segments, truth = cartpole_segments(120, length=25)
    ids = store.add_segments(segments, truth)
    pairs = store.add_pairs(list(zip(ids[0::2], ids[1::2], strict=True)), 0, 0, "uniform")
    store.record_answers([Answer(p, "left", "ann") for p in pairs])
    store.close()
    assert (run / "labels.sqlite").stat().st_size > 150_000
    _damage(run / "labels.sqlite")
    return run


def test_every_command_refuses_a_damaged_store_in_one_line(
    damaged_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = damaged_run / "labels.sqlite"
    before = store.read_bytes()
    (tmp_path / "in.jsonl").write_text("")
    # what rlhp evaluate needs to reach the store: the store is checked before the agent
    # (here an empty file) is loaded
    (damaged_run / "run.json").write_text(json.dumps({"format_version": 1}))
    (damaged_run / "config.json").write_text(TrainConfig(env_id="CartPole-v1").to_json())
    (damaged_run / "checkpoints").mkdir()
    (damaged_run / "checkpoints" / "agent.pt").write_bytes(b"")
    exported = tmp_path / "out.csv"
    for argv in (
        ["label", str(damaged_run), "--port", "0"],
        ["labels", "import", str(damaged_run), str(tmp_path / "in.jsonl")],
        ["labels", "export", str(damaged_run)],
        ["labels", "export", str(damaged_run), "--format", "csv", "--out", str(exported)],
        ["labels", "export", str(store)],
        ["reward", "fit", str(damaged_run), "--out", str(tmp_path / "r.pt"), "--epochs", "1"],
        ["evaluate", str(damaged_run), "--episodes", "1"],
    ):
        assert main(argv) == 2, argv
        _one_line_error(capsys, "damaged", "backup")  # and no rows (those pages are readable)
    assert store.read_bytes() == before  # nothing was written into it
    assert not exported.exists() and not (tmp_path / "r.pt").exists()


def test_rlhp_label_says_its_own_message_on_ctrl_c(labelling_run: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "rlhp", "label", str(labelling_run), "--port", str(port)],
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    assert "labelling page at" in proc.stderr.readline()
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    err = proc.stderr.read()
    assert proc.wait(20) == 0
    assert "labelling page stopped; every stored answer is kept" in err
    assert "--resume" not in err and "checkpoint" not in err


def test_importing_the_web_app_loads_neither_torch_nor_sb3_nor_numpy() -> None:
    code = (
        "import sys, rlhp.web.server, rlhp.web.app, rlhp; "
        "print(sorted(m for m in ('torch', 'stable_baselines3', 'gymnasium', 'numpy') if m in sys.modules)); "
        "from rlhp import TrainConfig; print(TrainConfig.__name__)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["[]", "TrainConfig"]
