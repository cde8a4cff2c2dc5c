from __future__ import annotations

from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest

from rlhp.clips.encode import GIF_COLOURS, VideoWriter, encode_mp4
from rlhp.clips.render import frame_stride, make_render_env, make_renderer, render_segment
from rlhp.clips.worker import ClipWorker
from rlhp.segments import Segment
from rlhp.store.labels import LabelStore
from tests.conftest import cartpole_segments


def _decode(path: Path) -> tuple[dict, list[np.ndarray]]:
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    w, h = meta["size"]
    frames = [np.frombuffer(f, np.uint8).reshape(h, w, 3) for f in reader]
    return meta, frames


def _cart_column(frame: np.ndarray) -> float:
    """Mean column of the black cart body (not the black track line spanning the frame)."""
    dark = frame.sum(axis=2) < 100
    dark[dark.sum(axis=1) > frame.shape[1] // 2] = False
    return float(np.nonzero(dark)[1].mean())


def test_replayed_states_put_the_cart_where_the_state_says() -> None:
    env = make_render_env("CartPole-v1", 320)
    states = np.array([[-1.5, 0, 0, 0], [0.0, 0, 0, 0], [1.5, 0, 0, 0]], dtype=np.float64)
    segment = Segment(
        obs=states.astype(np.float32),
        actions=np.zeros(3, np.int64),
        absorbing=np.zeros(3, bool),
        states=states,
    )
    frames = render_segment(env, segment)
    assert frames.shape == (3, 400, 600, 3) and frames.dtype == np.uint8
    left, centre, right = (_cart_column(f) for f in frames)
    assert left < centre < right
    assert centre == np.clip(centre, 290, 310)  # x = 0 is the middle of 600 px
    # the world is 4.8 wide in 600 px: x = ±1.5 is ±187.5 px from the middle
    assert abs((right - left) - 2 * 187.5) < 4


def test_absorbing_steps_show_a_dimmed_episode_over_frame() -> None:
    env = make_render_env("CartPole-v1", 320)
    states = np.zeros((4, 4))
    segment = Segment(
        obs=np.zeros((4, 4), np.float32),
        actions=np.zeros(4, np.int64),
        absorbing=np.array([False, False, True, True]),
        states=states,
    )
    frames = render_segment(env, segment)
    body = slice(0, 400 - 400 // 12)  # above the red band
    ratio = frames[2][body].mean() / frames[1][body].mean()
    assert abs(ratio - 0.35) < 0.01  # dimmed to DIM = 0.35 of the last real frame
    np.testing.assert_array_equal(frames[3], frames[2])  # held, not dimmed again
    band = frames[3][-(400 // 12) :]
    assert (band[:, :5, 0] == 200).all()  # the red "episode over" band …
    assert (band.min(axis=2) > 240).sum() > 100  # … with white writing on it


def test_encode_mp4_keeps_frame_count_and_size(tmp_path: Path) -> None:
    frames = np.zeros((12, 41, 63, 3), np.uint8)
    frames[:, :, :30] = 255  # left part white
    path = tmp_path / "clip.mp4"
    encode_mp4(frames, path, fps=25)
    meta, decoded = _decode(path)
    assert len(decoded) == 12
    assert tuple(meta["size"]) == (64, 42)  # padded to even sizes
    assert meta["fps"] == 25
    assert decoded[0][:, :25].mean() > 240 and decoded[0][:, 35:].mean() < 15
    assert not list(tmp_path.glob(".*tmp*"))


def test_a_gif_has_one_palette_for_all_its_frames_close_to_the_colours(tmp_path: Path) -> None:
    from PIL import Image

    frames = np.zeros((8, 40, 60, 3), np.uint8)
    frames[..., 2] = np.linspace(0, 255, 60, dtype=np.uint8)  # a blue ramp
    for t in range(8):
        frames[t, ..., 1] = 20 * t  # and the light changes from frame to frame
        frames[t, 10:20, 5 * t : 5 * t + 10] = (200, 120, 40)  # an orange square moving right
    writer = VideoWriter(tmp_path / "v.gif", fps=10)
    for frame in frames:
        writer.write(frame)
    writer.close()
    with Image.open(tmp_path / "v.gif") as gif:
        assert gif.n_frames == 8
        decoded = []
        for i in range(gif.n_frames):
            gif.seek(i)
            decoded.append(np.asarray(gif.convert("RGB"), dtype=int))
    # one palette for the whole video (8 × 61 colours went in): a colour does not change
    # from one frame to the next as each frame's own palette would make it
    colours = {tuple(c) for frame in decoded for c in frame.reshape(-1, 3)}
    assert len(colours) <= GIF_COLOURS
    for frame, back in zip(frames, decoded, strict=True):
        assert np.abs(back - frame).mean() < 6, np.abs(back - frame).mean()
    assert np.abs(decoded[7][15, 40] - [200, 120, 40]).max() <= 8  # the square where it went


def test_worker_renders_in_the_background_and_records_the_clip(tmp_path: Path) -> None:
    store = LabelStore.create(tmp_path / "labels.sqlite", {"env_id": "CartPole-v1"})
    segments, truth = cartpole_segments(2, length=15)
    ids = store.add_segments(segments, truth)
    worker = ClipWorker(tmp_path, "CartPole-v1", store)
    worker.submit(ids[0], segments[0])
    worker.submit(ids[1])  # read back from the store (states are in the blob)
    assert worker.wait_idle(60)
    worker.close()
    assert worker.rendered == 2 and worker.failed == 0
    for sid in ids:
        clip = store.clip_of(sid)
        assert clip == f"clips/segment-{sid:06d}.mp4"
        meta, decoded = _decode(tmp_path / clip)
        # CartPole steps 50 times a second; clips show at most 25 frames per second:
        # steps 0, 2, …, 14 at 25 fps, so the clip still plays in real time
        assert len(decoded) == 8 and meta["fps"] == 25


def test_store_keeps_segment_states(tmp_path: Path) -> None:
    store = LabelStore.create(tmp_path / "labels.sqlite", {"env_id": "CartPole-v1"})
    segments, truth = cartpole_segments(1, length=10)
    (sid,) = store.add_segments(segments, truth)
    back = store.segment(sid)
    assert back.states is not None
    np.testing.assert_array_equal(back.states, segments[0].states)


def test_frame_stride_keeps_clips_at_most_25_frames_a_second() -> None:
    assert frame_stride(125.0) == 5  # Hopper, Walker2d (dt 0.008)
    assert frame_stride(50.0) == 2  # CartPole
    assert frame_stride(20.0) == 1  # Half-Cheetah (dt 0.05)
    assert frame_stride(25.0) == 1


def _orange_extent(frame: np.ndarray) -> tuple[int, int]:
    """Height and width in pixels of the Hopper's orange-brown body in a frame."""
    r, g, b = (frame[..., i].astype(int) for i in range(3))
    body = (r > 120) & (r - b > 60) & (g < r)
    rows, cols = np.nonzero(body)
    return int(rows.max() - rows.min()), int(cols.max() - cols.min())


def test_mujoco_clips_draw_the_recorded_state_fast_and_small(tmp_path: Path) -> None:
    pytest.importorskip("mujoco")
    frames = make_renderer("Hopper-v5", 160)
    assert frames.steps_per_second == pytest.approx(125.0)
    standing = np.zeros(12)
    standing[1] = 1.25
    lying = standing.copy()
    lying[1], lying[2] = 0.1, np.pi / 2  # torso on the floor, turned a quarter forward
    states = np.stack([standing] * 4 + [lying] * 6)
    segment = Segment(
        obs=np.zeros((10, 11), np.float32),
        actions=np.zeros((10, 3), np.float32),
        absorbing=np.zeros(10, bool),
        states=states,
    )
    images = render_segment(frames, segment, stride=3)  # steps 0, 3, 6, 9
    frames.close()
    assert images.shape == (4, 160, 160, 3) and images.dtype == np.uint8
    tall, wide = _orange_extent(images[0]), _orange_extent(images[3])
    assert tall[0] > 2 * tall[1]  # standing: taller than wide
    assert wide[1] > 2 * wide[0]  # lying: wider than tall
