"""Frames → H.264 MP4 that every browser plays (yuv420p, even sizes, moov atom first),
and ``VideoWriter`` for longer videos (MP4 or GIF) of a trained policy."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

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


GIF_COLOURS = 64
"""Colours of a GIF's one palette (the MuJoCo scenes and the control tasks need few)."""


class VideoWriter:
    """Frames → an ``.mp4`` (H.264, streamed to ffmpeg) or an animated ``.gif`` (Pillow).

    For videos longer than a clip (``rlhp record``): MP4 frames go to ffmpeg as they
    come; a GIF keeps its frames until ``close`` (keep GIFs short and small).
    """

    SUFFIXES = (".mp4", ".gif")

    def __init__(self, path: Path, fps: float) -> None:
        if path.suffix.lower() not in self.SUFFIXES:
            raise ValueError(f"{path} is not a .mp4 or .gif file")
        self.path = path
        self.fps = fps
        self.frames = 0
        self.size: tuple[int, int] | None = None
        """(width, height) of the frames written."""
        self._gif: list[np.ndarray] = []
        self._mp4: Any = None
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, frame: np.ndarray) -> None:
        """Append one ``(H, W, 3)`` uint8 frame (every frame the size of the first)."""
        height, width = frame.shape[:2]
        if self.size is None:
            self.size = (width, height)
            if self.path.suffix.lower() == ".mp4":
                self._mp4 = imageio_ffmpeg.write_frames(
                    str(self.path), (width + width % 2, height + height % 2), fps=self.fps,
                    codec="libx264", pix_fmt_out="yuv420p", macro_block_size=1, quality=None,
                    output_params=["-preset", "veryfast", "-crf", "23", "-movflags", "+faststart"],
                    ffmpeg_log_level="error",
                )  # fmt: skip
                self._mp4.send(None)
        elif self.size != (width, height):
            raise ValueError(f"frame of {width}×{height} in a video of {self.size}")
        if self._mp4 is not None:
            self._mp4.send(
                np.ascontiguousarray(np.pad(frame, ((0, height % 2), (0, width % 2), (0, 0))))
            )
        else:
            self._gif.append(frame)
        self.frames += 1

    def close(self) -> None:
        if self._mp4 is not None:
            self._mp4.close()
        elif self._gif:
            from PIL import Image

            # one palette for every frame, from a few spread over the video: no colour
            # flicker from frame to frame, and a third smaller than a palette per frame
            # (4 s of the one-leg cheetah at 160²: 233 vs 359 KiB)
            sample = np.linspace(0, len(self._gif) - 1, min(len(self._gif), 8)).astype(int)
            mosaic = Image.fromarray(np.concatenate([self._gif[i] for i in sample]))
            palette = mosaic.quantize(GIF_COLOURS, method=Image.Quantize.MEDIANCUT)
            images = [
                Image.fromarray(f).quantize(palette=palette, dither=Image.Dither.NONE)
                for f in self._gif
            ]
            images[0].save(
                self.path, save_all=True, append_images=images[1:], loop=0,
                duration=round(1000 / self.fps), optimize=True,
            )  # fmt: skip
