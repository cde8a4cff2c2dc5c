from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest

from rlhp.cli import main
from rlhp.labellers.base import Answer
from rlhp.store.labels import LabelStore


def _answered(run: Path) -> None:
    store = LabelStore.open(run / "labels.sqlite")
    store.record_answers(
        [
            Answer(1, "left", "ada", 100.0),
            Answer(1, "equal", "bob", 101.0),
            Answer(2, "cant_tell", "ada", 102.5),
        ]
    )
    store.close()


def _rows(run: Path) -> list[tuple]:
    db = sqlite3.connect(run / "labels.sqlite")
    rows = db.execute(
        "SELECT pair_id, choice, labeller, answered_at FROM answers ORDER BY id"
    ).fetchall()
    db.close()
    return rows


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_then_import_into_a_copy_round_trips(
    labelling_run: Path, tmp_path: Path, fmt: str, capsys
) -> None:  # type: ignore[no-untyped-def]
    fresh = tmp_path / "copy"
    fresh.mkdir()
    (fresh / "labels.sqlite").write_bytes((labelling_run / "labels.sqlite").read_bytes())
    _answered(labelling_run)
    out = tmp_path / f"labels.{fmt}"
    assert main(["labels", "export", str(labelling_run), "--format", fmt, "--out", str(out)]) == 0
    text = out.read_text()
    if fmt == "jsonl":
        first = json.loads(text.splitlines()[0])
        assert first == {
            "pair_id": 1, "left_id": 1, "right_id": 2, "env_step": 0,
            "choice": "left", "labeller": "ada", "answered_at": 100.0, "given": "left",
        }  # fmt: skip
    else:
        assert (
            text.splitlines()[0]
            == "pair_id,left_id,right_id,env_step,choice,labeller,answered_at,given"
        )
        assert text.splitlines()[3] == "2,3,4,0,cant_tell,ada,102.5,cant_tell"
    assert main(["labels", "import", str(fresh), str(out)]) == 0
    assert "3 answers read, 3 new" in capsys.readouterr().out
    assert _rows(fresh) == _rows(labelling_run)
    assert main(["labels", "import", str(fresh), str(out)]) == 0  # idempotent
    assert "0 new, 3 already" in capsys.readouterr().out
    assert _rows(fresh) == _rows(labelling_run)


def test_import_refuses_foreign_or_bad_rows_and_imports_nothing(
    labelling_run: Path, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    good = {
        "pair_id": 1,
        "left_id": 1,
        "right_id": 2,
        "env_step": 0,
        "choice": "left",
        "labeller": "a",
        "answered_at": 1,
    }
    cases = {
        "unknown pair": dict(good, pair_id=99),
        "other segments": dict(good, right_id=7),
        "bad choice": dict(good, choice="both"),
        "missing field": {k: v for k, v in good.items() if k != "labeller"},
    }
    for what, bad in cases.items():
        path = tmp_path / "bad.jsonl"
        path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
        assert main(["labels", "import", str(labelling_run), str(path)]) == 2, what
        assert "rlhp: error:" in capsys.readouterr().err
        assert _rows(labelling_run) == [], what


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(
    labelling_run: Path, tmp_path: Path
) -> None:
    store = LabelStore.open(labelling_run / "labels.sqlite")
    names = ['=HYPERLINK("http://evil")', "+1", "-2+3", "@SUM(A1)", "ann"]
    store.record_answers([Answer(i + 1, "left", n, 100.0) for i, n in enumerate(names)])
    store.close()
    out = tmp_path / "labels.csv"
    assert main(["labels", "export", str(labelling_run), "--format", "csv", "--out", str(out)]) == 0
    cells = [line.split(",")[5] for line in out.read_text().splitlines()[1:]]
    assert cells[:4] == ['"\'=HYPERLINK(""http://evil"")"', "'+1", "'-2+3", "'@SUM(A1)"]
    assert cells[4] == "ann"
    # import takes the quote off again: the names round-trip
    from rlhp.labels_io import parse_rows

    assert [r.labeller for r in parse_rows(out.read_text(), "csv")] == names


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_corrected_answer_exports_the_correction_and_an_import_trains_on_it(
    labelling_run: Path, tmp_path: Path, fmt: str
) -> None:
    fresh = tmp_path / "copy"
    fresh.mkdir()
    (fresh / "labels.sqlite").write_bytes((labelling_run / "labels.sqlite").read_bytes())
    _answered(labelling_run)
    store = LabelStore.open(labelling_run / "labels.sqlite")
    assert store.correct_answer(1, "ada", "right", 30.0, now=105.0) == "stored"  # the undo
    counted = {(p.pair_id, p.target) for p in store.labelled_pairs()}
    store.close()
    out = tmp_path / f"labels.{fmt}"
    assert main(["labels", "export", str(labelling_run), "--format", fmt, "--out", str(out)]) == 0
    if fmt == "jsonl":
        first = json.loads(out.read_text().splitlines()[0])
        assert (first["choice"], first["given"]) == ("right", "left")
    else:
        assert out.read_text().splitlines()[1] == "1,1,2,0,right,ada,100.0,left"
    assert main(["labels", "import", str(fresh), str(out)]) == 0
    copy = LabelStore.open(fresh / "labels.sqlite")
    assert {(p.pair_id, p.target) for p in copy.labelled_pairs()} == counted == {(1, 0.25)}
    copy.close()


def test_an_export_without_the_given_column_still_imports(
    labelling_run: Path, tmp_path: Path
) -> None:
    old = tmp_path / "old.csv"
    old.write_text(
        "pair_id,left_id,right_id,env_step,choice,labeller,answered_at\n1,1,2,0,left,ada,100.0\n"
    )
    assert main(["labels", "import", str(labelling_run), str(old)]) == 0
    assert _rows(labelling_run) == [(1, "left", "ada", 100.0)]
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "pair_id,left_id,right_id,env_step,choice,labeller,answered_at,given\n"
        "2,3,4,0,left,ada,100.0,sideways\n"
    )
    assert main(["labels", "import", str(labelling_run), str(bad)]) == 2


GOOD_ROW = {
    "pair_id": 1,
    "left_id": 1,
    "right_id": 2,
    "env_step": 0,
    "choice": "left",
    "labeller": "ada",
    "answered_at": 1.0,
}


def _file(tmp_path: Path, fmt: str, rows: list[dict[str, object]]) -> Path:
    path = tmp_path / f"in.{fmt}"
    if fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    else:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(GOOD_ROW), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        path.write_text(out.getvalue())
    return path


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("ann\x1b[31m", "labeller 'ann\\x1b[31m': a labeller name is 1 to 200 printable"),
        ("a\u200bb", "printable characters"),
        ("", "printable characters"),
        ("x" * 201, "1 to 200"),
        (" ann", "does not keep; write it 'ann'"),
        ("Ann  Lee", "write it 'Ann Lee'"),
        ("a\nb", "write it 'a b'"),
    ],
)
def test_import_refuses_a_name_the_page_would_refuse_and_imports_nothing(
    labelling_run: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fmt: str,
    name: str,
    says: str,
) -> None:
    path = _file(
        tmp_path, fmt, [GOOD_ROW, dict(GOOD_ROW, pair_id=2, left_id=3, right_id=4, labeller=name)]
    )
    assert main(["labels", "import", str(labelling_run), str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("rlhp: error: ") and says in err, err
    second_row = "line 2:" if fmt == "jsonl" else "line 3:"  # CSV: its header is line 1
    assert second_row in err
    assert _rows(labelling_run) == []


@pytest.mark.parametrize(
    "name", ["a%zzb", "Ann 100% sure", "rule:rlhp.behaviours.cheetah:prefer_one_leg"]
)
def test_names_the_page_or_the_trainer_gives_import(
    labelling_run: Path, tmp_path: Path, name: str
) -> None:
    path = _file(tmp_path, "jsonl", [dict(GOOD_ROW, labeller=name)])
    assert main(["labels", "import", str(labelling_run), str(path)]) == 0
    assert _rows(labelling_run) == [(1, "left", name, 1.0)]
