"""The CLI in-process: a real (small) run, evaluation, plot, and every bad input's error."""

import json
import sqlite3
from pathlib import Path

import pytest

from rlhp.cli import main
from rlhp.store.labels import LabelStore
from tests.postgres import PostgresServer

SMALL = ["--timesteps", "4000", "--labels", "20", "--no-progress", "--set", "schedule.updates=4"]


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "cp"
    assert main(["train", "CartPole-v1", "--seed", "3", "--out", str(out), *SMALL]) == 0
    return out


def test_train_writes_a_complete_run_directory(small_run: Path) -> None:
    for name in (
        "run.json",
        "config.json",
        "labels.sqlite",
        "state.json",
        "metrics.jsonl",
        "checkpoints/agent.pt",
        "checkpoints/reward_model.pt",
    ):
        assert (small_run / name).exists(), name
    assert json.loads((small_run / "state.json").read_text())["finished"] is True
    assert any((small_run / "tensorboard").iterdir())
    rows = [json.loads(line) for line in (small_run / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["labels/answered"] == 20


def test_evaluate_json_has_the_documented_fields(
    small_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evaluate", str(small_run), "--episodes", "3", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    for key in (
        "env_id",
        "episodes",
        "true_return_mean",
        "true_return_std",
        "labels_used",
        "timesteps",
    ):
        assert key in result
    assert (
        result["env_id"] == "CartPole-v1"
        and result["episodes"] == 3
        and result["labels_used"] == 20
    )
    assert result["timesteps"] >= 4000
    assert result["return_pearson"] is not None and result["return_pearson"] > 0.5
    assert result["deterministic"] is True  # CartPole: the policy's most likely actions


def test_evaluate_can_sample_the_policys_actions(
    small_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["evaluate", str(small_run), "--episodes", "2", "--actions", "sampled"]
    assert main(argv) == 0
    assert "sampled actions" in capsys.readouterr().out
    assert main([*argv, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["deterministic"] is False


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_plot_writes_a_png(
    small_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A preference run: four panels (return and reward model, against steps and labels);
    an env-reward run has no reward model or labels to show: one panel."""
    assert main(["plot", str(small_run)]) == 0
    assert _png_size(Path(capsys.readouterr().out.strip())) == (1210, 770)
    env_run = tmp_path / "env"
    argv = ["train", "CartPole-v1", "--reward", "env", "--timesteps", "2048", "--out"]
    assert main([*argv, str(env_run), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["plot", str(env_run)]) == 0
    assert _png_size(Path(capsys.readouterr().out.strip())) == (770, 440)


def error_of(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("rlhp: error: ")
    return err


def test_unknown_env(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = error_of(["train", "NoSuchEnv-v9", "--out", str(tmp_path / "r")], capsys)
    assert "unknown environment 'NoSuchEnv-v9'" in err and "CartPole-v1" in err
    assert not (tmp_path / "r").exists()


def test_action_space_the_algorithm_cannot_handle(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = error_of(["train", "CartPole-v1", "--algo", "sac", "--out", str(tmp_path / "r")], capsys)
    assert "sac cannot act" in err and "--algo ppo" in err


def test_budget_below_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "label budget must be >= 1" in error_of(
        ["train", "CartPole-v1", "--labels", "0"], capsys
    )


def test_existing_run_is_never_overwritten(
    small_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = (small_run / "labels.sqlite").read_bytes()
    err = error_of(["train", "CartPole-v1", "--out", str(small_run), *SMALL], capsys)
    assert "already holds a run" in err and "--resume" in err
    assert (small_run / "labels.sqlite").read_bytes() == before


def test_resume_with_another_env_or_config(
    small_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "is a run of CartPole-v1, not Pendulum-v1" in error_of(
        ["train", "Pendulum-v1", "--resume", str(small_run)], capsys
    )
    err = error_of(["train", "--resume", str(small_run), "--labels", "999"], capsys)
    assert "another config" in err and "schedule.labels" in err


def test_corrupt_and_foreign_store(
    small_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    corrupt = tmp_path / "corrupt"
    shutil.copytree(small_run, corrupt)
    (corrupt / "labels.sqlite").write_bytes(b"garbage" * 1000)
    for name in ("labels.sqlite-wal", "labels.sqlite-shm"):
        (corrupt / name).unlink(missing_ok=True)
    assert "not a readable rlhp label store" in error_of(["evaluate", str(corrupt)], capsys)
    assert (corrupt / "labels.sqlite").read_bytes() == b"garbage" * 1000
    foreign = tmp_path / "foreign"
    shutil.copytree(small_run, foreign)
    (foreign / "labels.sqlite").unlink()
    with sqlite3.connect(foreign / "labels.sqlite") as db:
        db.execute("CREATE TABLE things (x)")
    assert "not a readable rlhp label store" in error_of(
        ["train", "--resume", str(foreign)], capsys
    )


def test_not_a_run_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "not an rlhp run directory" in error_of(["evaluate", str(tmp_path)], capsys)
    assert "not an rlhp run directory" in error_of(["train", "--resume", str(tmp_path)], capsys)


def test_a2c_is_selectable_and_trains_on_the_learned_reward(tmp_path: Path) -> None:
    out = tmp_path / "a2c"
    argv = ["train", "CartPole-v1", "--algo", "a2c", "--out", str(out), *SMALL]
    assert main(argv) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["agent"]["algo"] == "a2c"
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["labels/answered"] == 20 and rows[-1]["env_step"] >= 4000


# -- the label store in a shared database (--store URL) --

TINY = ["--timesteps", "1024", "--labels", "10", "--no-progress", "--set", "schedule.updates=2"]


def test_evaluate_splits_the_return_into_its_parts_and_what_the_oracle_saw(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "reacher"
    hide = ["--set", 'oracle.hidden_terms=["reward_ctrl"]']
    argv = ["train", "Reacher-v5", "--reward", "env", "--timesteps", "512", "--out", str(out)]
    assert main([*argv, "--no-progress", *hide]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(out), "--episodes", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    terms = result["return_terms"]
    assert set(terms) == {"reward_ctrl", "reward_dist"}
    assert sum(terms.values()) == pytest.approx(result["true_return_mean"], rel=1e-4)
    assert terms["reward_ctrl"] < 0  # an untrained policy pays for torque
    assert result["visible_return_mean"] == pytest.approx(terms["reward_dist"], rel=1e-4)
    assert main(["evaluate", str(out), "--episodes", "2"]) == 0
    assert "without the terms hidden from the oracle" in capsys.readouterr().out


def test_a_run_keeps_its_labels_in_postgresql(
    tmp_path: Path,
    postgres_server: PostgresServer,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # trust auth ignores the password: it stands for one a user put in the URL
    url = postgres_server.new_database().replace("postgres@", "postgres:sekrit@")
    out = tmp_path / "pg"
    assert main(["train", "CartPole-v1", "--out", str(out), "--store", url, *TINY]) == 0
    assert "password" in caplog.text and "PGPASSWORD" in caplog.text and "sekrit" not in caplog.text
    assert not (out / "labels.sqlite").exists()
    assert json.loads((out / "run.json").read_text())["store"] == url  # to reconnect
    capsys.readouterr()
    assert main(["labels", "export", str(out)]) == 0  # found through the run directory
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 10 and {r["labeller"] for r in rows} == {"oracle"}
    assert main(["labels", "export", url, "--format", "csv"]) == 0  # or named directly
    assert len(capsys.readouterr().out.splitlines()) == 11
    assert main(["evaluate", str(out), "--episodes", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["labels_used"] == 10
    assert main(["reward", "fit", str(out), "--epochs", "2", "--out", str(tmp_path / "r.pt")]) == 0
    assert "10 comparisons" in capsys.readouterr().out
    assert main(["train", "--resume", str(out), "--no-progress"]) == 0  # finished: nothing to do
    assert "10 queries asked, 10 labels received, 0 skipped" in capsys.readouterr().out
    err = error_of(["train", "--resume", str(out), "--store", "postgresql://h/other"], capsys)
    assert "resume without --store" in err and "sekrit" not in err


@pytest.mark.parametrize(
    ("store", "says"),
    [
        ("mysql://ann@db.lab/run7", "SQLite or PostgreSQL"),
        ("postgresql://ann:sekrit@127.0.0.1:1/run7", "cannot use the label store"),
        ("taken", "already holds rlhp tables"),
    ],
)
def test_a_bad_store_is_refused_before_anything_is_written(
    tmp_path: Path,
    request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
    store: str,
    says: str,
) -> None:
    if store == "taken":  # a database that holds another run's store
        store = request.getfixturevalue("postgres_server").new_database()
        LabelStore.create(store, {"env_id": "CartPole-v1"}).close()
    out = tmp_path / "r"
    err = error_of(["train", "CartPole-v1", "--out", str(out), "--store", store, *TINY], capsys)
    assert says in err and "sekrit" not in err
    assert not out.exists()
    if says.startswith("already"):
        again = LabelStore.open(store)  # the store that was there is untouched
        assert again.counts().pairs == 0 and again.meta()["env_id"] == "CartPole-v1"
        again.close()
