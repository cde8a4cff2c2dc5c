"""Teach CartPole a behaviour its reward does not contain, through the real labelling page.

A rule-driven labeller *in the browser* (Playwright driving Debian's Chromium) looks at
the two clips the page shows — by drawing video frames onto a canvas and finding the
black cart — and prefers the clip in which the episode is not over and the cart is left
of centre (but not about to run off the track) more of the time (``SCORE_JS``). The
trainer (``--feedback human``, server in a thread) only ever sees those answers.
Afterwards the policy is compared with agents trained on the environment reward: how
often the pole is up *and* the whole cart left of centre.

    python examples/teach_cart_left.py --labels 300 --timesteps 100000 --seed 0

Prints one JSON line; docs/human_labelling.md reports runs on seeds 0-2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch

from rlhp.config import ScheduleConfig, TrainConfig
from rlhp.labellers.human import HumanLabeller
from rlhp.loop.run_dir import RunDir
from rlhp.loop.runs import train
from rlhp.loop.trainer import RunSummary
from rlhp.rl.agents import build_stack, load_agent
from rlhp.segments import EpisodePool
from rlhp.web import CHROMIUM, CHROMIUM_ARGS
from rlhp.web.app import LabellingSettings
from rlhp.web.server import LabellingServer

INSTRUCTIONS = "Prefer the clip where the pole stays up with the cart left of centre."

# Runs in the page: scores each <video> by sampling frames onto a canvas. With u the
# cart's position from the centre (0) to the left end of the track (1), a frame scores
# min(4u, 3 - 4u) clipped to [-1, 1]: rising from -1 a quarter right of centre to +1 a
# quarter left of it, +1 up to half-way to the left end, then falling to -1 at the end
# ("left of centre", not "as far left as possible", and not about to run off the
# track); -3 once the episode is over (the dimmed frame). A graded score, so two clips
# rarely tie, and keeping the pole up comes first.
SCORE_JS = """
async (samples) => {
  const canvas = document.createElement('canvas');
  const W = 200, H = 133; canvas.width = W; canvas.height = H;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const scores = [];
  for (const v of document.querySelectorAll('#stage video')) {
    v.pause();
    if (v.readyState < 1) {
      await new Promise(r => v.addEventListener('loadedmetadata', r, { once: true }));
    }
    let total = 0;
    for (let i = 0; i < samples; i++) {
      v.currentTime = (i + 0.5) / samples * v.duration;
      await new Promise(r => v.addEventListener('seeked', r, { once: true }));
      ctx.drawImage(v, 0, 0, W, H);
      const px = ctx.getImageData(0, 0, W, H).data;
      let bright = 0, sx = 0, n = 0;
      for (let y = 0; y < H; y++) {
        let rowDark = 0, rowSum = 0;
        for (let x = 0; x < W; x++) {
          const k = 4 * (y * W + x), s = px[k] + px[k + 1] + px[k + 2];
          bright += s;
          if (s < 120) { rowDark++; rowSum += x; }
        }
        if (rowDark > 0 && rowDark < W / 2) { sx += rowSum; n += rowDark; }
      }
      const over = bright / (W * H * 3) < 150;   // dimmed "episode over" frame
      const u = (W / 2 - sx / n) / (W / 2);
      total += over || n === 0 ? -3 : Math.max(-1, Math.min(1, 4 * u, 3 - 4 * u));
    }
    scores.push(total / samples);
    v.play().catch(() => {});
  }
  return scores;
}
"""
CART_HALF_WIDTH = 0.2
"""CartPole draws a 50 px cart on a 600 px view of the ±2.4 track: 0.4 units wide."""
TIE_MARGIN = 0.01
"""Scores closer than this (carts ~0.006 units apart on average) are a tie."""


def choose(left: float, right: float) -> str:
    """The key a person following the rule would press."""
    if abs(left - right) < TIE_MARGIN:
        return "ArrowUp"
    return "ArrowLeft" if left > right else "ArrowRight"


def label_in_browser(url: str, done: threading.Event, log: list[dict]) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_ARGS)
        )
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        page.goto(url)
        page.fill("#name-input", "rule-bot")
        page.click("#name-form button")
        while not done.is_set():
            try:
                page.wait_for_selector("#stage:not([hidden])", timeout=1000)
            except Exception:
                continue
            pair = page.get_attribute("#stage", "data-pair-id")
            try:
                left, right = page.evaluate(SCORE_JS, 10)
            except Exception:  # the page moved on, or the server stopped
                continue
            key = choose(left, right)
            page.keyboard.press(key)
            log.append({"pair": pair, "scores": [left, right], "key": key})
            try:
                page.wait_for_function(
                    f"document.getElementById('stage').dataset.pairId !== '{pair}'", timeout=60_000
                )
            except Exception:
                continue  # e.g. no new pair for a minute: look again
        browser.close()


@torch.no_grad()
def behaviour(run: Path, episodes: int = 10, seed: int = 123) -> dict[str, float]:
    """How the trained policy behaves over ``episodes`` deterministic episodes.

    ``left_and_up_share``: share of the 500 possible steps per episode spent with the
    pole up and the cart's centre left of the track's centre; ``clearly_left_share``:
    the same with the whole cart left of centre (x < -0.2, the cart's half-width: what a
    person sees as "left"); ``mean_x``: the cart's mean position while the pole is up
    (negative: left); ``mean_length``: steps before the episode ended.
    """
    config = RunDir.open(run).config()
    single = dataclasses.replace(config, agent=dataclasses.replace(config.agent, n_envs=1))
    stack = build_stack(single, EpisodePool(1), None, env_seed=seed)
    load_agent(stack, RunDir.open(run).agent_checkpoint)
    if stack.normalize is not None:
        stack.normalize.training = False
    venv = stack.model.get_env()
    assert venv is not None
    inner = stack.wrapper.venv.envs[0].unwrapped  # type: ignore[attr-defined]
    xs, lengths = [], []
    obs = venv.reset()
    for _ in range(episodes):
        length = 0
        while True:
            xs.append(float(inner.state[0]))
            action, _ = stack.model.predict(obs, deterministic=True)  # type: ignore[arg-type]
            obs, _, dones, _ = venv.step(action)
            length += 1
            if dones[0]:
                break
        lengths.append(length)
    return {
        "left_and_up_share": round(sum(x < 0 for x in xs) / (episodes * 500), 3),
        "clearly_left_share": round(sum(x < -CART_HALF_WIDTH for x in xs) / (episodes * 500), 3),
        "mean_x": round(float(np.mean(xs)), 3),
        "mean_length": float(np.mean(lengths)),
    }


def rule_score(states: np.ndarray, absorbing: np.ndarray) -> float:
    """The page's score of a clip computed from the simulator states it was rendered from."""
    u = -states[:, 0] / 2.4  # the track is ±2.4
    frame = np.clip(np.minimum(4 * u, 3 - 4 * u), -1.0, 1.0)
    return float(np.mean(np.where(absorbing, -3.0, frame)))


def train_through_the_page(config: TrainConfig, run_dir: Path) -> tuple[RunSummary, list[dict]]:
    """Train ``config`` with the rule-driven labeller answering in Chromium; its answers."""
    done, log = threading.Event(), []

    def factory(cfg, store, path, _rng):  # type: ignore[no-untyped-def]
        server = LabellingServer(
            LabellingSettings(path, instructions=INSTRUCTIONS), "127.0.0.1", 0
        ).start()
        threading.Thread(target=label_in_browser, args=(server.url, done, log), daemon=True).start()
        return HumanLabeller(
            path, cfg.env_id, store, where=server.url, poll_seconds=0.2, on_close=server.stop
        )

    try:
        summary = train(config, run_dir, labeller_factory=factory)
    finally:
        done.set()
    return summary, log


def page_config(labels: int, timesteps: int, seed: int, segment_length: int = 50) -> TrainConfig:
    config = TrainConfig(
        "CartPole-v1",
        total_timesteps=timesteps,
        seed=seed,
        feedback="human",
        schedule=ScheduleConfig(labels=labels),
    )
    return dataclasses.replace(
        config, queries=dataclasses.replace(config.queries, segment_length=segment_length)
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--labels", type=int, default=300)
    parser.add_argument("--timesteps", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--env-seeds", type=int, nargs="*", default=[0, 1, 2], help="env-reward baselines"
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    root = args.out or Path(tempfile.mkdtemp(prefix="teach-cart-left-"))
    started = time.time()
    summary, log = train_through_the_page(
        page_config(args.labels, args.timesteps, args.seed), root / "human"
    )
    human_seconds = time.time() - started
    baselines = {}
    for seed in args.env_seeds:
        env_config = TrainConfig(
            "CartPole-v1", total_timesteps=args.timesteps, seed=seed, reward="env"
        )
        train(env_config, root / f"env-reward-{seed}")
        baselines[seed] = behaviour(root / f"env-reward-{seed}")
    keys = ("ArrowLeft", "ArrowRight", "ArrowUp")
    print(json.dumps({
        "labels_answered": summary.labels_answered, "labels_asked": summary.labels_asked,
        "timesteps": args.timesteps, "human_run_seconds": round(human_seconds),
        "preferences_from_browser": behaviour(root / "human"),
        "env_reward_by_seed": baselines,
        "answers_by_key": {k: sum(e["key"] == k for e in log) for k in keys},
        "run_dir": str(root),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
