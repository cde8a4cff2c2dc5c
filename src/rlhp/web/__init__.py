"""The labelling web app: a FastAPI app over the label store and the clip files.

It depends on ``rlhp.store`` and ``RUN/clips`` only, never on training code, so it can
serve a run that another process is training (``rlhp label RUN_DIR``) or run in a
thread beside the trainer (``rlhp train ENV --feedback human``).
"""

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765

CHROMIUM = "/usr/bin/chromium"
"""Debian's Chromium: what the browser tests and examples drive (no browser download)."""
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
)
"""Flags for a headless Chromium on a closed network that plays the clips unprompted."""
