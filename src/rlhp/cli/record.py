"""``rlhp record RUN_DIR [--episodes N] [--out FILE.mp4|.gif]``: a video of the policy."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rlhp.errors import RlhpError


def add_record_command(sub: Any) -> None:
    """Register ``record`` on the ``rlhp`` subparsers."""
    record = sub.add_parser(
        "record",
        help="video (MP4 or GIF) of the trained policy",
        description="Play the run's policy (as rlhp evaluate does) and write a video "
        "that plays in real time.",
    )
    record.add_argument("run_dir", type=Path)
    record.add_argument("--episodes", type=int, default=1)
    record.add_argument(
        "--out", type=Path, help="FILE.mp4 or FILE.gif (default RUN_DIR/policy.mp4)"
    )
    record.add_argument("--size", type=int, default=480, help="frame size of MuJoCo tasks (px)")
    record.add_argument("--fps", type=float, default=30.0, help="at most this many frames a second")
    record.add_argument(
        "--max-seconds", type=float, help="show at most this much of each episode (simulated s)"
    )


def _cmd_record(args: argparse.Namespace) -> int:
    from rlhp.clips.encode import VideoWriter
    from rlhp.recording import record_video

    out = args.out or args.run_dir / "policy.mp4"
    if out.suffix.lower() not in VideoWriter.SUFFIXES:
        raise RlhpError(f"--out {out} must end in .mp4 or .gif")
    if args.episodes < 1 or args.size < 16 or args.fps <= 0:
        raise RlhpError("--episodes must be >= 1, --size >= 16 and --fps > 0")
    if args.max_seconds is not None and args.max_seconds <= 0:
        raise RlhpError("--max-seconds must be > 0")
    done = record_video(args.run_dir, out, args.episodes, args.size, args.fps, args.max_seconds)
    print(
        f"{done.path}: {done.frames} frames of {done.width}×{done.height} at {done.fps:g} fps, "
        f"{len(done.episode_lengths)} episode(s) of {list(done.episode_lengths)} steps"
    )
    return 0


RECORD_COMMANDS = {"record": _cmd_record}
