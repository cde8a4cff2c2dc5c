"""``rlhp record``: a video of the trained policy with the right frame count and size."""

from __future__ import annotations

import json
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from rlhp.cli import main


@pytest.fixture(scope="module")
def pendulum_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A (barely) trained Pendulum policy: its episodes always last 200 steps."""
    out = tmp_path_factory.mktemp("record") / "pendulum"
    overrides = json.dumps({"n_steps": 64, "batch_size": 64})
    argv = ["train", "Pendulum-v1", "--reward", "env", "--timesteps", "64", "--no-progress"]
    argv += ["--set", "agent.n_envs=1", "--set", f"agent.overrides={overrides}"]
    assert main([*argv, "--out", str(out)]) == 0
    return out


def test_record_writes_an_mp4_of_every_episode(
    pendulum_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = pendulum_run / "two.mp4"
    assert (
        main(["record", str(pendulum_run), "--episodes", "2", "--fps", "15", "--out", str(out)])
        == 0
    )
    reader = imageio_ffmpeg.read_frames(str(out))
    meta = next(reader)
    frames = [np.frombuffer(f, np.uint8) for f in reader]
    # Gymnasium plays Pendulum at 30 frames a second; at most 15 → every 2nd of the
    # 2 × 200 steps
    assert len(frames) == 200
    assert tuple(meta["size"]) == (500, 500) and meta["fps"] == 15
    assert (
        "200 frames of 500×500 at 15 fps, 2 episode(s) of [200, 200] steps"
        in capsys.readouterr().out
    )
    # the pendulum moves: frames differ
    assert not np.array_equal(frames[0], frames[100])


def test_record_writes_a_looping_gif(pendulum_run: Path) -> None:
    out = pendulum_run / "one.gif"
    assert main(["record", str(pendulum_run), "--out", str(out), "--max-seconds", "2"]) == 0
    with Image.open(out) as gif:
        assert gif.size == (500, 500) and gif.info["loop"] == 0
        # 2 s at 30 steps a second, every step shown for 1/30 s (GIF delays are whole
        # hundredths: 30 ms; a frame that repeats the one before is stored as a longer
        # delay of that one, so count delays)
        durations = []
        for i in range(gif.n_frames):
            gif.seek(i)
            durations.append(gif.info["duration"])
    assert sum(durations) == 60 * 30 and set(durations) <= {30 * k for k in range(1, 61)}


def test_record_refuses_bad_input_in_one_line(
    pendulum_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["record", str(pendulum_run), "--out", str(tmp_path / "x.avi")]) == 2
    assert main(["record", str(pendulum_run), "--episodes", "0"]) == 2
    assert main(["record", str(tmp_path / "nothing-here")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("rlhp: error: ") for line in lines)
    assert "must end in .mp4 or .gif" in lines[0]
    assert not (tmp_path / "x.avi").exists()


def test_record_draws_a_pixel_run_from_its_frames(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """MinAtar (and ALE) runs have no simulator state to replay: the video is the frames
    the agent saw, drawn as the labelling page's clips, at 15 steps a second."""
    pytest.importorskip("minatar", reason="needs the minatar extra: pip install 'rlhp[minatar]'")
    run, out = tmp_path / "breakout", tmp_path / "breakout.gif"
    overrides = json.dumps({"n_steps": 32, "batch_size": 32})
    argv = ["train", "MinAtar/Breakout-v1", "--reward", "env", "--timesteps", "32"]
    argv += ["--set", "agent.n_envs=1", "--set", f"agent.overrides={overrides}", "--no-progress"]
    assert main([*argv, "--out", str(run)]) == 0
    assert main(["record", str(run), "--out", str(out), "--max-seconds", "2", "--fps", "5"]) == 0
    steps = int(capsys.readouterr().out.split("episode(s) of [")[1].split("]")[0])
    assert 1 <= steps <= 30  # 2 s at 15 steps a second
    with Image.open(out) as gif:
        # every 3rd step shown at 5 fps; MinAtar's 10×10 grid at 32× is 320×320
        assert gif.size == (320, 320) and gif.n_frames == -(-steps // 3)
        rgb = gif.convert("RGB")
        colours = {rgb.getpixel((x, y)) for x in range(16, 320, 32) for y in range(16, 320, 32)}
    assert len(colours) >= 2  # the ball, paddle and bricks on black
