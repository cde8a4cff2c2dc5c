"""A run's checkpoint: the agent, the reward model and the loop's state.

Written after every reward update — at the next rollout's start, once the agent has
trained on the rollout the update ended — and at the end (``write_checkpoint``), each file
atomically, and read back by ``rlhp train --resume`` (``read_checkpoint``). The state
(``state.json``) is written last, so a run killed between files resumes from steps no
later than the weights it finds.
"""

from __future__ import annotations

from typing import Any

import torch

from rlhp.atomic import replacing
from rlhp.loop.run_dir import RunDir
from rlhp.loop.updating import RewardUpdater
from rlhp.rl.agents import AgentStack, load_agent, save_agent


def write_checkpoint(
    run: RunDir, stack: AgentStack, reward: dict[str, Any] | None, state: dict[str, Any]
) -> None:
    """Save the agent, the reward checkpoint (``rlhp.reward.saved`` format; None: leave
    the file as it is) and the loop's state."""
    save_agent(stack, run.agent_checkpoint)
    if reward is not None:
        with replacing(run.reward_checkpoint) as tmp:
            torch.save(reward, tmp)
    run.save_state(state)


def read_checkpoint(
    run: RunDir, stack: AgentStack, updater: RewardUpdater | None, state: dict[str, Any]
) -> None:
    """Restore what ``write_checkpoint`` saved into a freshly built agent and updater.

    Every pair labelled so far counts as already shown to the model
    (``LabelledPairs.mark_all_seen``).
    """
    if run.agent_checkpoint.exists():
        load_agent(stack, run.agent_checkpoint, random_streams=True)
    if updater is None:
        return
    if run.reward_checkpoint.exists():
        updater.load(torch.load(run.reward_checkpoint, weights_only=True, map_location="cpu"))
    updater.labelled.mark_all_seen()
    last = state.get("last_round")
    updater.last_round = None if last is None else (bool(last[0]), float(last[1]))
