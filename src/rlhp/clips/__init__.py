"""Video clips of the segments people are asked about.

Choice made here (issue #3): clips are *replayed from saved simulator state*, not
recorded as frames during rollouts. The reward wrapper stores each step's simulator
state (a few floats) when ``record_states`` is on; only when a pair is actually sent to
people does ``ClipWorker`` (a background thread) put those states into a render
environment, grab ``rgb_array`` frames and encode an H.264 MP4 under ``RUN/clips/``.
Rollouts never render and never wait for encoding.

* ``render.py``  states → frames (absorbing steps: the last frame, dimmed, "episode over");
* ``encode.py``  frames → MP4 (imageio-ffmpeg's bundled ffmpeg, libx264, yuv420p, faststart);
* ``worker.py``  the queue and thread that turns segment ids into clips and records them
  in the store (``LabelStore.set_clip``).
"""
