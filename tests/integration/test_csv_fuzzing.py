"""Hypothesis fuzzing of the CSV path: random corruptions of a valid file, stacked, with or
without a BOM or CRLF line ends. Every one must exit 2 with a readable message (the file and
what is wrong, no traceback) and leave nothing behind in the workdir."""

from __future__ import annotations

import contextlib
import csv
import io
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from churnguard.domain.customer import FIELD_RULES
from churnguard.domain.errors import InvalidProfile
from churnguard.entrypoints import cli
from tests.conftest import BUNDLED_DATA, examples

with BUNDLED_DATA.open(newline="") as handle:
    GOOD_ROWS = list(csv.reader(handle))[:41]  # header + 40 customers
HEADER, BODY = GOOD_ROWS[0], GOOD_ROWS[1:]
RULES = {rule.name: rule for rule in FIELD_RULES}
INTEGER_COLUMNS = {rule.name for rule in FIELD_RULES if rule.is_integer} | {"churn"}
BINARY_COLUMNS = {rule.name for rule in FIELD_RULES if rule.allowed == (0, 1)} | {"churn"}
NOT_A_NUMBER = st.text(alphabet="abcdefghijklmnopqrstuvwxyz!?#", min_size=1, max_size=8)


def _out_of_range(column: str, draw_offset: int) -> str:
    rule = RULES.get(column)
    if rule is None:  # the churn label
        return str(2 + draw_offset)
    if rule.allowed is not None:
        return str(max(rule.allowed) + 1 + draw_offset)
    if rule.maximum is not None:
        return str(int(rule.maximum) + 1 + draw_offset)
    return str(-1 - draw_offset)


@st.composite
def corrupted_table(draw: st.DrawFn) -> list[list[str]]:
    """A table with one or more corruptions that each make it invalid on their own."""
    header, body = list(HEADER), [list(row) for row in BODY]
    kinds = draw(
        st.lists(
            st.sampled_from(
                [
                    "drop_column",
                    "extra_column",
                    "wrong_type",
                    "out_of_range",
                    "missing",
                    "short_row",
                    "fraction",
                    "bool_column",
                ]
            ),
            min_size=1,
            max_size=3,
        )
    )
    for kind in kinds:
        if kind == "drop_column":
            # only an expected column: dropping an extra one would undo that corruption (a random
            # run drew extra_column then drop_column of it, i.e. the original valid file)
            index = draw(st.sampled_from([i for i, name in enumerate(header) if name in HEADER]))
            header.pop(index)
            for row in body:
                if index < len(row):
                    row.pop(index)
        elif kind == "fraction":  # 41.5 in an integer column (41.0 would be fine)
            column = draw(st.sampled_from([i for i, name in enumerate(header) if name in INTEGER_COLUMNS]))
            at = draw(st.integers(0, len(body) - 1))
            if column < len(body[at]):
                body[at][column] = f"{body[at][column]}.5"
        elif kind == "bool_column":  # a 0/1 column written as True/False
            column = draw(st.sampled_from([i for i, name in enumerate(header) if name in BINARY_COLUMNS]))
            for row in body:
                if column < len(row):
                    row[column] = {"0": "False", "1": "True"}.get(row[column], row[column])
        elif kind == "extra_column":
            header.append(draw(st.sampled_from(["shoe_size", "Age", "customer_id", "churn_score", " "])))
            for row in body:
                row.append(str(draw(st.integers(0, 9))))
        elif body:
            at = draw(st.integers(0, len(body) - 1))
            column = draw(st.integers(0, len(header) - 1))
            if column >= len(body[at]):
                continue
            if kind == "wrong_type":
                body[at][column] = draw(NOT_A_NUMBER)
            elif kind == "out_of_range":
                body[at][column] = _out_of_range(header[column], draw(st.integers(0, 1000)))
            elif kind == "missing":
                body[at][column] = ""
            elif kind == "short_row":
                body[at] = body[at][:-1]
    return [header, *body]


def _valid_by_the_field_rules(table: list[list[str]]) -> bool:
    """An oracle independent of pandas and Pandera: the exact header, full rows, every cell in its
    field's domain (the domain's own rules; the churn label 0 or 1)."""
    header, *rows = table
    if header != HEADER or not rows:
        return False
    for row in rows:
        if len(row) != len(header):
            return False
        for name, cell in zip(header, row, strict=True):
            try:
                value = float(cell)
                number = int(value) if value.is_integer() else value
                if name in RULES:
                    RULES[name].check(number)
                elif number not in (0, 1):
                    return False
            except (ValueError, InvalidProfile):
                return False
    return True


def test_the_oracle_accepts_the_clean_table_and_refuses_a_changed_cell():
    assert _valid_by_the_field_rules(GOOD_ROWS)
    changed = [list(row) for row in GOOD_ROWS]
    changed[7][1] = "101"  # age
    assert not _valid_by_the_field_rules(changed)


@settings(max_examples=examples(3000), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=corrupted_table())
def test_every_generated_table_is_invalid_by_the_oracle(table):
    """Guards the generator itself: a random run once drew extra_column then drop_column of that
    same column, which rebuilt the clean file; the CLI rightly accepted it and the fuzz test failed."""
    assert not _valid_by_the_field_rules(table)


def _render(table: list[list[str]], delimiter: str = ",", line_end: str = "\n") -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator=line_end).writerows(table)
    return buffer.getvalue()


@st.composite
def corrupted_file(draw: st.DrawFn) -> bytes:
    shape = draw(st.sampled_from(["table", "table", "table", "empty", "header_only", "garbage", "huge_line", "delim"]))
    line_end = draw(st.sampled_from(["\n", "\r\n"]))
    if shape == "table":
        text = _render(draw(corrupted_table()), line_end=line_end)
    elif shape == "empty":
        text = draw(st.sampled_from(["", "\n", "   \n\n"]))
    elif shape == "header_only":
        text = _render([HEADER], line_end=line_end)
    elif shape == "garbage":
        return draw(st.binary(min_size=1, max_size=4096))
    elif shape == "huge_line":
        table = [HEADER, *BODY]
        text = _render(table, line_end=line_end) + "9" * draw(st.integers(1 << 20, 3 << 20)) + line_end
    else:
        text = _render(GOOD_ROWS, delimiter=draw(st.sampled_from([";", "\t", "|", " "])), line_end=line_end)
    data = text.encode("utf-8")
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data  # a BOM alone is fine (Excel writes one); it rides on the corruption
    return data


def _run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(args))
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("command", ["validate", "train"])
# print_blob: a failing draw prints @reproduce_failure(...), to replay that exact file anywhere
@settings(
    max_examples=examples(150),
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(content=corrupted_file())
def test_any_corrupted_csv_exits_2_with_a_readable_message_and_writes_nothing(command, content):
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        data, workdir = root / "customers.csv", root / "workdir"
        data.write_bytes(content)
        code, out, err = (
            _run(command, "--data", str(data), "--workdir", str(workdir), "--grid", "fast")
            if (command == "train")
            else _run(command, "--data", str(data), "--workdir", str(workdir))
        )
        assert code == 2, (out, err)
        assert "Traceback" not in out + err
        message = err.strip()
        assert message.startswith("error:"), message[:500]
        assert "customers.csv" in message
        assert len(message.splitlines()[0]) > len("error: customers.csv")
        assert "with 0 violations" not in message, message  # a refusal always says what is wrong
        assert not workdir.exists() or not any(workdir.rglob("*")), sorted(workdir.rglob("*"))


def test_a_bom_or_crlf_alone_is_not_a_corruption(tmp_path):
    clean = _render(GOOD_ROWS).encode()
    for name, content in (
        ("bom.csv", b"\xef\xbb\xbf" + clean),
        ("crlf.csv", _render(GOOD_ROWS, line_end="\r\n").encode()),
    ):
        (tmp_path / name).write_bytes(content)
        code, out, err = _run("validate", "--data", str(tmp_path / name), "--workdir", str(tmp_path / "w"))
        assert code == 0, err
        assert "40 rows" in out
