"""Frames → H.264 MP4 that every browser plays (yuv420p, even sizes, moov atom first)."""

from __future__ import annotations

import os
from pathlib import Path

import imageio_ffmpeg
import numpy as np


def encode_mp4(frames: np.ndarray, path: Path, fps: float) -> None:
    """Write ``frames`` ``(T, H, W, 3)`` uint8 to ``path`` atomically (tmp file + rename).

    Odd sizes are padded by one black row/column (H.264 in yuv420p needs even sizes).
    """
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"expected (T, H, W, 3) uint8 frames, got {frames.shape} {frames.dtype}")
    _, height, width, _ = frames.shape
    pad_h, pad_w = height % 2, width % 2
    if pad_h or pad_w:
        frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.mp4")
    writer = imageio_ffmpeg.write_frames(
        str(tmp),
        (width + pad_w, height + pad_h),
        fps=fps,
        codec="libx264",
        pix_fmt_out="yuv420p",
        macro_block_size=1,
        quality=None,
        output_params=["-preset", "veryfast", "-crf", "23", "-movflags", "+faststart"],
        ffmpeg_log_level="error",
    )
    writer.send(None)
    for frame in frames:
        writer.send(np.ascontiguousarray(frame))
    writer.close()
    tmp.replace(path)
