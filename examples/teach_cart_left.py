"""Teach CartPole a behaviour its reward does not contain, through the real labelling page.

A rule-driven labeller *in the browser* (Playwright driving Debian's Chromium) looks at
the two clips the page shows — by drawing video frames onto a canvas and finding the
black cart — and prefers the clip in which the episode is not over and the cart is left
of centre more of the time. The trainer (``--feedback human``, server in a thread) only
ever sees those answers. Afterwards the policy is compared with an agent trained on
the environment reward: how often the pole is up *and* the cart left of centre.

    python examples/teach_cart_left.py --labels 300 --timesteps 60000

Prints one JSON line; docs/human_labelling.md reports a run.
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
from rlhp.rl.agents import build_stack, load_agent
from rlhp.segments import EpisodePool
from rlhp.web import CHROMIUM, CHROMIUM_ARGS
from rlhp.web.app import LabellingSettings
from rlhp.web.server import LabellingServer

INSTRUCTIONS = "Prefer the clip where the pole stays up with the cart left of centre."

# Runs in the page: scores one <video> by sampling frames onto a canvas.
SCORE_JS = """
async (samples) => {
  const canvas = document.createElement('canvas');
  const W = 150, H = 100; canvas.width = W; canvas.height = H;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const scores = [];
  for (const v of document.querySelectorAll('#stage video')) {
    v.pause();
    if (v.readyState < 1) {
      await new Promise(r => v.addEventListener('loadedmetadata', r, { once: true }));
    }
    let good = 0;
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
      if (!over && n > 0 && sx / n < W / 2) good++;
    }
    scores.push(good);
    v.play().catch(() => {});
  }
  return scores;
}
"""


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
                left, right = page.evaluate(SCORE_JS, 8)
            except Exception:  # the page moved on, or the server stopped
                continue
            key = "ArrowUp" if left == right else "ArrowLeft" if left > right else "ArrowRight"
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
    """Share of steps with the pole up and the cart left of centre; mean episode length."""
    config = RunDir.open(run).config()
    single = dataclasses.replace(config, agent=dataclasses.replace(config.agent, n_envs=1))
    stack = build_stack(single, EpisodePool(1), None, env_seed=seed)
    load_agent(stack, RunDir.open(run).agent_checkpoint)
    if stack.normalize is not None:
        stack.normalize.training = False
    venv = stack.model.get_env()
    assert venv is not None
    inner = stack.wrapper.venv.envs[0].unwrapped  # type: ignore[attr-defined]
    left_steps, steps, lengths = 0, 0, []
    obs = venv.reset()
    for _ in range(episodes):
        length = 0
        while True:
            left_steps += int(inner.state[0] < 0)
            action, _ = stack.model.predict(obs, deterministic=True)  # type: ignore[arg-type]
            obs, _, dones, _ = venv.step(action)
            length += 1
            if dones[0]:
                break
        steps += length
        lengths.append(length)
    return {
        "left_and_up_share": left_steps / (episodes * 500),
        "mean_length": float(np.mean(lengths)),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--labels", type=int, default=300)
    parser.add_argument("--timesteps", type=int, default=60_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    root = args.out or Path(tempfile.mkdtemp(prefix="teach-cart-left-"))
    base = TrainConfig("CartPole-v1", total_timesteps=args.timesteps, seed=args.seed)
    config = dataclasses.replace(
        base, feedback="human", schedule=ScheduleConfig(labels=args.labels)
    )
    config = dataclasses.replace(
        config, queries=dataclasses.replace(config.queries, segment_length=25)
    )
    done, log, urls = threading.Event(), [], []

    def factory(cfg, store, run_dir, _rng):  # type: ignore[no-untyped-def]
        server = LabellingServer(
            LabellingSettings(run_dir, instructions=INSTRUCTIONS), "127.0.0.1", 0
        ).start()
        urls.append(server.url)
        threading.Thread(target=label_in_browser, args=(server.url, done, log), daemon=True).start()
        return HumanLabeller(
            run_dir, cfg.env_id, store, where=server.url, poll_seconds=0.2, on_close=server.stop
        )

    started = time.time()
    try:
        summary = train(config, root / "human", labeller_factory=factory)
    finally:
        done.set()
    human_seconds = time.time() - started
    train(dataclasses.replace(base, reward="env"), root / "env-reward")
    keys = ("ArrowLeft", "ArrowRight", "ArrowUp")
    print(json.dumps({
        "labels_answered": summary.labels_answered, "labels_asked": summary.labels_asked,
        "timesteps": args.timesteps, "human_run_seconds": round(human_seconds),
        "preferences_from_browser": behaviour(root / "human"),
        "env_reward": behaviour(root / "env-reward"),
        "answers_by_key": {k: sum(e["key"] == k for e in log) for k in keys},
        "run_dir": str(root),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
