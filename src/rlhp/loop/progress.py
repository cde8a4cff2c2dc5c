"""What a run shows on the terminal: one progress bar over the env steps.

The bar counts agent steps; its postfix says how many labels were asked, received and
skipped and the latest true and learned returns; while the reward model pre-trains
(before the first agent step: seconds for the MLP, an hour or more for Atari's CNN on
a CPU) its description says which fit and gradient step it is at, so a long
pre-training does not look like a hung run.
"""

from __future__ import annotations

from collections.abc import Callable

from tqdm import tqdm

UPDATE_STEPS = 2_000
"""Env steps between two redraws of the bar while the agent learns."""


class RunProgress:
    """The progress bar of one run (silent unless ``shown``)."""

    def __init__(self, total_steps: int, label_budget: int, shown: bool) -> None:
        self.label_budget = label_budget
        self._labels = f"asked 0/{label_budget}"
        self._bar = tqdm(total=total_steps, unit="step", dynamic_ncols=True, disable=not shown)

    def steps(self, env_step: int, force: bool = False) -> None:
        """Move the bar to ``env_step`` (every ``UPDATE_STEPS`` unless ``force``)."""
        if force or env_step - self._bar.n >= UPDATE_STEPS:
            self._bar.update(env_step - self._bar.n)

    def row(
        self, true_return: float, learned_return: float, labels: tuple[int, int, int] | None
    ) -> None:
        """Show a metrics row: returns, and ``labels`` (asked, received, skipped) if counted."""
        if labels is not None:
            asked, received, skipped = labels
            self._labels = f"asked {asked}/{self.label_budget} labels {received} skipped {skipped}"
        self._bar.set_postfix_str(
            f"{self._labels} true R {true_return:.1f} learned R {learned_return:.1f}",
            refresh=False,
        )

    def pretraining(self, fit: int, fits: int) -> Callable[[int, int], None]:
        """A fit's progress callback (``RewardTrainer.on_progress``) for pre-training fit
        ``fit`` of ``fits``: the bar's description shows its gradient steps."""
        part = f" {fit}/{fits}" if fits > 1 else ""

        def show(done: int, total: int) -> None:
            self._bar.set_description_str(f"pre-training r̂{part}: step {done}/{total}")

        return show

    def pretrained(self) -> None:
        """Pre-training is over: clear the description."""
        self._bar.set_description_str("")

    def close(self) -> None:
        self._bar.close()
