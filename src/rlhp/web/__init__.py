"""The labelling web app: a FastAPI app over the label store and the clip files.

It depends on ``rlhp.store`` and ``RUN/clips`` only, never on training code, so it can
serve a run that another process is training (``rlhp label RUN_DIR``) or run in a
thread beside the trainer (``rlhp train ENV --feedback human``).
"""

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
