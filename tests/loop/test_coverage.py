"""Minimum-time tasks: uninformative rounds bank the budget and ask about episode ends
(issue 9, defect 7)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rlhp.config import AgentConfig, OracleConfig, QueryConfig, ScheduleConfig, TrainConfig
from rlhp.labellers.base import Answer, Labeller, Query
from rlhp.loop.asking import ask_pairs
from rlhp.loop.coverage import (
    ENDING_SELECTOR,
    ENDING_TRIAL,
    ending_pairs_inform,
    ending_segments,
    round_verdict,
)
from rlhp.loop.run_dir import RunDir
from rlhp.loop.schedule import LabelSchedule
from rlhp.loop.trainer import PreferenceLoop, store_meta
from rlhp.queries import UniformSelector
from rlhp.segments import Episode, EpisodePool
from rlhp.store.labels import LabelStore


def _episode(length: int, terminated: bool, index: int) -> Episode:
    obs = np.full((length, 2), float(index), dtype=np.float32)
    return Episode(obs, np.zeros(length, dtype=np.int64), -np.ones(length), terminated, 0, index)


def test_round_verdicts() -> None:
    def answers(*choices: str) -> list[Answer]:
        return [Answer(i, c, "x") for i, c in enumerate(choices)]  # type: ignore[arg-type]

    assert round_verdict([]) is None
    assert round_verdict(answers("equal", "cant_tell")) == (False, 1.0)
    assert round_verdict(answers("equal", "left", "equal", "right")) == (True, 0.5)


def test_ending_segments_hold_the_end_of_a_terminated_episode(rng: np.random.Generator) -> None:
    pool = EpisodePool(10_000)
    assert ending_segments(pool, 5, 10, rng) is None
    pool.add(_episode(100, terminated=False, index=0))
    assert ending_segments(pool, 5, 10, rng) is None  # truncated episodes do not count
    pool.add(_episode(30, terminated=True, index=1))
    ending = ending_segments(pool, 50, 10, rng)
    assert ending is not None
    segments, truth = ending
    for segment, rewards in zip(segments, truth, strict=True):
        assert segment.episode == 1 and segment.absorbing.any()
        real = int((~segment.absorbing).sum())
        assert segment.start + real == 30  # the episode's last step is inside
        assert np.array_equal(rewards, np.where(segment.absorbing, 0.0, -1.0))
    assert ending_segments(pool, 5, 1, rng) is None  # one step cannot show an episode end
    starts = {s.start for s in segments}
    assert len(starts) > 3  # the end falls at different places of the segment


class _Recorder(Labeller):
    name = "recorder"

    def __init__(self) -> None:
        self.queries: list[Query] = []

    def request(self, queries: list[Query]) -> None:
        self.queries.extend(queries)

    def collect(self) -> list[Answer]:
        return []


def test_ending_share_pairs_an_episode_end_with_a_segment_without(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    pool = EpisodePool(10_000)
    for i in range(6):
        pool.add(_episode(200, terminated=False, index=i))
    pool.add(_episode(40, terminated=True, index=6))
    store = LabelStore.create(tmp_path / "labels.sqlite", {"env_id": "x"})
    labeller = _Recorder()
    common = dict(
        pool=pool, selector=UniformSelector(), store=store, labeller=labeller,
        segment_length=10, oversampling=10, env_step=0, round_index=0,
        selector_name="uniform", rng=rng,
    )  # fmt: skip
    assert ask_pairs(8, ending_share=0.5, **common) == 8  # type: ignore[arg-type]
    ends = [(q.left.absorbing.any(), q.right.absorbing.any()) for q in labeller.queries]
    with_end = [e for e in ends if e[0] != e[1]]
    assert len(with_end) >= 4  # half the pairs: one side ends an episode, one does not
    assert {left for left, right in with_end} == {True, False}  # sides at random
    # the store holds their true rewards for the oracle: 0 after the episode end
    for q in labeller.queries:
        assert store.true_rewards(q.left_id).shape == (10,)
    # and records which mechanism chose each pair
    store.record_answers(Answer(q.pair_id, "equal", "ann") for q in labeller.queries)
    assert store.ties_by_selector() == {ENDING_SELECTOR: (len(with_end), len(with_end)),
                                        "uniform": (8 - len(with_end), 8 - len(with_end))}  # fmt: skip
    store.close()


def test_episode_end_pairs_stop_once_they_tie_more_than_the_rest() -> None:
    assert ending_pairs_inform({})  # nothing answered yet
    assert ending_pairs_inform({ENDING_SELECTOR: (ENDING_TRIAL - 1, ENDING_TRIAL - 1)})
    # a minimum-time task: the others all tie, an episode end is preferred
    assert ending_pairs_inform({ENDING_SELECTOR: (40, 10), "uniform": (200, 200)})
    # Breakout at 3,300 labels: 76 % of the episode-end pairs tied, 36 % of the rest
    assert not ending_pairs_inform({ENDING_SELECTOR: (1332, 1018), "disagreement": (1968, 714)})
    # as often as the rest is not more informative either; only episode-end pairs: go on
    assert not ending_pairs_inform({ENDING_SELECTOR: (20, 10), "a": (10, 5), "b": (10, 5)})
    assert ending_pairs_inform({ENDING_SELECTOR: (20, 20)})


def test_the_store_counts_answers_and_ties_per_selector(tmp_path: Path) -> None:
    from tests.conftest import cartpole_segments

    store = LabelStore.create(tmp_path / "labels.sqlite", {"env_id": "CartPole-v1"})
    segments, truth = cartpole_segments(8, length=5)
    ids = store.add_segments(segments, truth)
    a = store.add_pairs([(ids[0], ids[1]), (ids[2], ids[3])], 0, 0, "entropy")
    b = store.add_pairs([(ids[4], ids[5]), (ids[6], ids[7])], 0, 0, ENDING_SELECTOR)
    choices = ["left", "cant_tell", "equal", "right"]
    store.record_answers(Answer(p, c, "ann") for p, c in zip(a + b, choices, strict=True))  # type: ignore[arg-type]
    store.record_answers([Answer(a[1], "right", "bob")])  # a second answer to the same pair
    assert store.ties_by_selector() == {"entropy": (3, 1), ENDING_SELECTOR: (2, 1)}
    store.close()


class _Ties(Labeller):
    """Every pair is 'equal' until told otherwise: a minimum-time task's first rounds."""

    name = "ties"

    def __init__(self) -> None:
        self.answers: list[Answer] = []
        self.choice = "equal"
        self.asked: list[int] = []

    def request(self, queries: list[Query]) -> None:
        self.asked.append(len(queries))
        self.answers += [Answer(q.pair_id, self.choice, self.name) for q in queries]  # type: ignore[arg-type]

    def collect(self) -> list[Answer]:
        answers, self.answers = self.answers, []
        return answers


def _tie_loop(config: TrainConfig, tmp_path: Path) -> tuple[PreferenceLoop, LabelStore, _Ties]:
    """A loop whose labeller ties every pair, with 2,000 steps of untrained rollouts."""
    from rlhp.rl.agents import collect_untrained

    run = RunDir.create(tmp_path / "run", config)
    store = LabelStore.create(run.store_location, store_meta(config))
    ties = _Ties()
    loop = PreferenceLoop(config, run, store, False, False, lambda *_: ties)
    collect_untrained(loop.stack, 2_000)
    return loop, store, ties


@pytest.mark.parametrize("bank", [True, False])
def test_uninformative_rounds_bank_the_budget_until_segments_differ(
    tmp_path: Path, bank: bool
) -> None:
    config = TrainConfig(
        "CartPole-v1",
        total_timesteps=4_000,
        schedule=ScheduleConfig(labels=100, updates=10, kind="constant"),
        queries=QueryConfig(segment_length=10, bank_uninformative=bank, probe_pairs=2),
        oracle=OracleConfig(),
        agent=AgentConfig(overrides={"n_steps": 64}),
    )
    loop, store, ties = _tie_loop(config, tmp_path)
    updater = loop.updater
    assert updater is not None
    schedule = LabelSchedule.from_config(config)
    updater.ask_due(schedule, 0, 1)
    updater.collect()  # 25 pre-training ties: no preference at all
    for update in (1, 2, 3):
        updater.ask_due(schedule, schedule.update_step(update), update + 1)
        updater.collect()
    if bank:
        assert ties.asked == [25, 2, 2, 2]  # probes only; the rest stays due
        assert updater.banked == schedule.due(schedule.update_step(3)) - 25 - 6
    else:
        assert ties.asked == [25, 7, 8, 7]
    ties.choice = "left"  # segments now differ: the next round asks everything due
    updater.ask_due(schedule, schedule.update_step(4), 5)
    updater.collect()
    updater.ask_due(schedule, schedule.update_step(5), 6)
    assert store.counts().pairs == schedule.due(schedule.update_step(5))
    store.close()


def test_the_agent_explores_until_a_label_prefers_something(tmp_path: Path) -> None:
    config = TrainConfig(
        "CartPole-v1",
        total_timesteps=4_000,
        schedule=ScheduleConfig(labels=40, updates=4),
        queries=QueryConfig(segment_length=10),
        agent=AgentConfig(overrides={"n_steps": 64}),
    )
    loop, store, ties = _tie_loop(config, tmp_path)
    updater, wrapper = loop.updater, loop.stack.wrapper
    assert updater is not None and not updater.informed
    schedule = LabelSchedule.from_config(config)
    updater.ask_due(schedule, 0, 1)
    updater.collect()  # only ties: r̂ knows nothing
    loop.on_rollout_end(64)
    assert wrapper.seeking
    wrapper.reset()
    for _ in range(2):  # the first step fills the k-NN reference
        wrapper.step_async(np.zeros(wrapper.num_envs, dtype=np.int64))
        _, rewards, _, _ = wrapper.step_wait()
    assert np.all(rewards > 0)  # log(1 + k-NN distance): the state-entropy reward, not r̂ = 0
    ties.choice = "left"
    updater.ask_due(schedule, schedule.update_step(1), 2)
    updater.collect()
    loop.on_rollout_end(128)
    assert updater.informed and not wrapper.seeking
    store.close()


@pytest.mark.parametrize(
    ("stop", "ends"), [(False, "absorbing"), (True, "absorbing"), (False, "continue")]
)
def test_episode_end_pairs_that_only_tie_stop_when_asked_to(
    tmp_path: Path, stop: bool, ends: str
) -> None:
    config = TrainConfig(
        "CartPole-v1",
        total_timesteps=4_000,
        schedule=ScheduleConfig(labels=200, updates=10, kind="constant"),
        queries=QueryConfig(
            segment_length=10, bank_uninformative=False, ending_stop_when_tied=stop
        ),
        oracle=OracleConfig(),
        agent=AgentConfig(overrides={"n_steps": 64}, episode_ends=ends),  # type: ignore[arg-type]
    )
    loop, store, _ = _tie_loop(config, tmp_path)  # every answer a tie, ending pairs too
    updater = loop.updater
    assert updater is not None
    schedule = LabelSchedule.from_config(config)
    updater.ask_due(schedule, 0, 1)
    updater.collect()
    asked_ending = []
    for update in range(1, 6):
        before = store.ties_by_selector().get(ENDING_SELECTOR, (0, 0))[0]
        updater.ask_due(schedule, schedule.update_step(update), update + 1)
        updater.collect()
        asked_ending.append(store.ties_by_selector().get(ENDING_SELECTOR, (0, 0))[0] - before)
    if ends == "continue":  # ending an episode is worth nothing to the agent: never asked
        assert sum(asked_ending) == 0
    elif stop:  # they tied as often as the rest: once ENDING_TRIAL were answered, no more
        assert sum(asked_ending) >= ENDING_TRIAL and asked_ending[-1] == 0
    else:
        assert all(n > 0 for n in asked_ending)  # half of each tied round's pairs
    store.close()
