"""Bad CSVs: every command that reads data exits 2 with a readable message and writes nothing."""

from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import BUNDLED_DATA

GOOD = pd.read_csv(BUNDLED_DATA).head(50)


def _write(path: Path, table: pd.DataFrame) -> Path:
    table.to_csv(path, index=False)
    return path


def missing_column(path: Path) -> Path:
    return _write(path, GOOD.drop(columns=["tenure_months"]))


def extra_column(path: Path) -> Path:
    return _write(path, GOOD.assign(shoe_size=42))


def out_of_range(path: Path) -> Path:
    table = GOOD.copy()
    table.loc[[3, 7], "age"] = [150, 12]
    return _write(path, table)


def wrong_type(path: Path) -> Path:
    table = GOOD.astype({"monthly_charges": object})
    table.loc[4, "monthly_charges"] = "cheap"
    return _write(path, table)


def empty_file(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def header_only(path: Path) -> Path:
    path.write_text(",".join(GOOD.columns) + "\n")
    return path


def not_a_csv(path: Path) -> Path:
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    return path


def semicolons(path: Path) -> Path:
    GOOD.to_csv(path, index=False, sep=";")
    return path


def missing_value(path: Path) -> Path:
    table = GOOD.astype({"contract_type": object})
    table.loc[9, "contract_type"] = None
    return _write(path, table)


CASES = {
    missing_column: ["tenure_months", "is a required column but is missing"],
    extra_column: ["shoe_size", "is not an expected column"],
    out_of_range: ["age", "must be an integer >= 18 and <= 100", "150, 12", "4, 8"],
    wrong_type: ["monthly_charges", "must be a number", "cheap", "5"],
    empty_file: ["the file is empty"],
    header_only: ["must have at least one data row"],
    not_a_csv: ["binary content"],
    semicolons: ["';'-separated"],
    missing_value: ["contract_type", "must not be missing"],
}


@pytest.mark.parametrize("command", ["validate", "train", "pipeline", "evaluate"])
@pytest.mark.parametrize("make_bad_csv", list(CASES), ids=lambda f: f.__name__)
def test_a_bad_csv_exits_2_names_the_problem_and_writes_nothing(run_cli, tmp_path, command, make_bad_csv):
    data = make_bad_csv(tmp_path / "bad.csv")
    workdir = tmp_path / "work"
    workdir.mkdir()
    result = run_cli(command, "--data", str(data), "--workdir", str(workdir), cwd=tmp_path)
    assert result.code == 2, result.err
    for fragment in CASES[make_bad_csv]:
        assert fragment in result.err, f"{fragment!r} not in {result.err!r}"
    assert "Traceback" not in result.err
    assert list(workdir.iterdir()) == []


def test_a_missing_file_is_named(run_cli, tmp_path):
    result = run_cli("validate", "--data", str(tmp_path / "nope.csv"))
    assert result.code == 2
    assert "nope.csv: no such file" in result.err


def test_the_violation_table_lists_column_rule_values_and_rows(run_cli, tmp_path):
    table = GOOD.copy()
    table.loc[list(range(30)), "num_tickets"] = 99
    result = run_cli("validate", "--data", str(_write(tmp_path / "bad.csv", table)))
    assert result.code == 2
    header, rule_line, row = result.err.splitlines()[1:4]
    assert header.split() == ["column", "rule", "count", "failing", "values", "rows"]
    assert set(rule_line) <= {"-", " "}
    assert row.startswith("num_tickets")
    assert "must be an integer >= 0 and <= 50" in row
    assert " 30 " in row
    assert row.rstrip().endswith(", ".join(str(n) for n in range(1, 21)))


def test_a_huge_failing_value_is_cut_and_its_length_named(run_cli, tmp_path):
    path = _write(tmp_path / "huge.csv", GOOD)
    with path.open("a") as handle:
        handle.write("9" * 1_000_000 + "\n")
    result = run_cli("validate", "--data", str(path))
    assert result.code == 2
    assert max(len(line) for line in result.err.splitlines()) < 300
    gender = next(line for line in result.err.splitlines() if line.startswith("gender"))
    assert "999999999999999999999999999999... (1,000,000 characters)" in gender
    assert gender.rstrip().endswith("51")


def test_a_word_in_a_code_column_names_that_row_only(run_cli, tmp_path):
    """One word makes pandas read the whole column as text; the valid "0" and "1" must not be
    reported as failing "must be one of {0, 1}" (they were, before the check compared numbers),
    and the word is reported once, by its field's rule, not also as "must be an integer"."""
    table = GOOD.astype({"gender": object, "churn": object})
    table.loc[3, "gender"] = "female"
    table.loc[8, "churn"] = "yes"
    result = run_cli("validate", "--data", str(_write(tmp_path / "word.csv", table)))
    assert result.code == 2
    lines = [line.split() for line in result.err.splitlines()[3:]]
    assert [" ".join(line[1:-3]) for line in lines] == ["must be one of {0, 1}", "must be one of {0, 1}"]
    assert [(line[0], line[-3], line[-2], line[-1]) for line in lines] == [
        ("gender", "1", "female", "4"),
        ("churn", "1", "yes", "9"),
    ]


def test_whole_numbers_written_as_floats_are_integers(run_cli, tmp_path):
    """pandas writes an integer column that once held a NaN as 41.0; that is still 41 (the API
    accepts 56.0 for an integer field too)."""
    table = GOOD.astype({"age": float, "gender": float, "churn": float})
    path = _write(tmp_path / "floats.csv", table)
    assert "41.0" in path.read_text()
    result = run_cli("validate", "--data", str(path))
    assert result.code == 0, result.err
    assert "50 rows" in result.out


def test_a_fraction_in_an_integer_column_is_named_by_row(run_cli, tmp_path):
    table = GOOD.astype({"age": float, "tenure_months": float})
    table.loc[6, "age"] = 41.5
    result = run_cli("validate", "--data", str(_write(tmp_path / "fraction.csv", table)))
    assert result.code == 2
    (row,) = result.err.splitlines()[3:]
    assert row.split() == ["age", "must", "be", "an", "integer", ">=", "18", "and", "<=", "100", "1", "41.5", "7"]


def test_a_true_false_column_is_named_even_with_no_cell_to_blame(run_cli, tmp_path):
    """pandas reads True/False as bool, which equals 1/0, so no cell fails a value check; the
    column is still named (it was "failed validation with 0 violations" and an empty table)."""
    table = GOOD.astype({"partner": bool})
    result = run_cli("validate", "--data", str(_write(tmp_path / "bools.csv", table)))
    assert result.code == 2
    assert "with 1 violation" in result.err
    (row,) = result.err.splitlines()[3:]
    assert row.split()[:8] == ["partner", "must", "be", "an", "integer", "(the", "column", "reads"]
    assert "as bool)" in row
