"""Hostile event logs (docs/reliability.md, "Hostile event logs"): CSV and
Parquet files with wrong column types, empty cells, mixed time zones, lines of
100 MB, bytes that are not text. Each ends in a ValueError that names the file
and the line (CSV) or row (Parquet), read in bounded memory."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pandas as pd
import pytest

import journeysim as js
from journeysim._base import system

pa = pytest.importorskip("pyarrow")


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return path


GOOD = "customer,period,stage\n1,0,a\n1,1,b\n2,0,a\n2,2,c\n"


def test_a_good_csv_fits_as_its_dataframe(tmp_path):
    path = write(tmp_path, "good.csv", GOOD + "\n\n")  # trailing blank lines: fine
    f = js.fit(path)
    g = js.fit(pd.read_csv(tmp_path / "good.csv"))
    np.testing.assert_array_equal(f.counts.to_numpy(), g.counts.to_numpy())


@pytest.mark.parametrize(
    ("text", "match"),
    [
        # a word among numbers
        (GOOD + "3,x,a\n", r"line 6, column 'period': 'x' is not a number"),
        # a number among dates
        (
            "customer,period,stage\n1,2024-01-01,a\n1,2024-02-01,b\n2,7,a\n",
            r"line 4, column 'period': '7' is a number",
        ),
        # text that is no date
        (
            "customer,period,stage\n1,2024-01-01,a\n1,someday,b\n",
            r"line 3, column 'period': 'someday' is neither a number nor a date",
        ),
        # an empty cell, an empty line
        ("customer,period,stage\n1,0,a\n1,1,\n", r"line 3: missing value in .*'stage'"),
        ("customer,period,stage\n1,0,a\n\n1,1,b\n", r"line 3: an empty row"),
        # a header without the columns
        ("customer,when,stage\n1,0,a\n", r"has no column\(s\) \['period'\]"),
        ("", r"is empty"),
        # rows with more or fewer fields than the header
        (
            "customer,period,stage\n1,0,a\n1,1,b,extra,more\n",
            r"line 3: 5 fields where the header line has 3",
        ),
        ("customer,period,stage\n1,0,a\n1,1\n", r"line 3: 2 fields where"),
        ("customer,period,stage\r\n1,0,a\r\n\r\n1,1\r\n", r"line 4: 2 fields"),
    ],
)
def test_bad_csv_cells_are_named_by_file_line_and_column(tmp_path, text, match):
    path = write(tmp_path, "log.csv", text)
    with pytest.raises(ValueError, match=r"events file '.*log\.csv'.*" + match):
        js.fit(path)


@pytest.mark.parametrize(
    ("times", "match"),
    [
        # zoned and naive
        (
            ["2024-01-01T09:00:00+01:00", "2024-02-01", "2024-02-03T10:00:00Z"],
            r"line 3, column 'date': '2024-02-01' has no time zone, unlike "
            r"'2024-01-01T09:00:00\+01:00' \(line 2\)",
        ),
        # two zones
        (
            ["2024-01-01T09:00:00+01:00", "2024-07-01T09:00:00+02:00", "2024-08-01"],
            r"has no time zone",
        ),
        (
            ["2024-01-01T09:00:00+01:00", "2024-07-01T09:00:00+0200"],
            r"line 3, column 'date': time zone \+02:00 differs from \+01:00 \(line 2\)",
        ),
        (
            ["2024-01-01 09:00Z", "2024-07-01 09:00-05:00"],
            r"time zone -05:00 differs from \+00:00",
        ),
    ],
)
def test_mixed_time_zones_are_refused(tmp_path, times, match):
    rows = "".join(f"{k % 2},{t},{'ab'[k % 2]}\n" for k, t in enumerate(times))
    path = write(tmp_path, "zones.csv", "customer,date,stage\n" + rows)
    with pytest.raises(ValueError, match=match + r".*mixed time zones"):
        js.fit(path, time="date", period="M")


def test_one_time_zone_counts_months_on_its_wall_clock(tmp_path):
    # 00:30 on 1 February in UTC+01:00 is in February there (January in UTC).
    zoned = (
        "customer,date,stage\n"
        "1,2024-01-15T12:00:00+01:00,a\n1,2024-02-01T00:30:00+01:00,b\n"
    )
    naive = "customer,date,stage\n1,2024-01-15T12:00:00,a\n1,2024-02-01T00:30:00,b\n"
    a = js.fit(write(tmp_path, "zoned.csv", zoned), time="date", period="M")
    b = js.fit(write(tmp_path, "naive.csv", naive), time="date", period="M")
    np.testing.assert_array_equal(a.counts.to_numpy(), b.counts.to_numpy())
    assert a.counts.loc["a", "b"] == 1


def test_a_100_megabyte_line_is_refused_in_bounded_memory(tmp_path):
    path = tmp_path / "long.csv"
    with open(path, "w") as f:
        f.write("customer,period,stage\n1,0,a\n1,1,")
        f.write("b" * 100_000_000)
        f.write("\n2,0,a\n")
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"long\.csv', line 3: longer than"):
            js.fit(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20, peak  # chunks of 1 MiB, not the line


def test_bytes_that_are_not_text_are_refused(tmp_path):
    path = tmp_path / "binary.csv"
    path.write_bytes(b"customer,period,stage\n1,0,a\n" + bytes(range(128, 256)) + b"\n")
    with pytest.raises(
        ValueError, match=r"binary\.csv', line 3: bytes that are not UTF-8"
    ):
        js.fit(path)
    # A Parquet file named .csv is not text either.
    pq_as_csv = tmp_path / "table.csv"
    pd.DataFrame({"customer": [1], "period": [0], "stage": ["a"]}).to_parquet(pq_as_csv)
    with pytest.raises(
        ValueError, match=r"table\.csv', line \d+: bytes that are not UTF"
    ):
        js.fit(pq_as_csv)


def test_a_log_too_big_for_memory_fails_before_reading(tmp_path, monkeypatch):
    path = write(tmp_path, "log.csv", GOOD)
    monkeypatch.setattr(system, "available_memory", lambda: 10)
    with pytest.raises(MemoryError, match=r"log\.csv' would need about .* GiB"):
        js.fit(path)
    pd.read_csv(path).to_parquet(tmp_path / "log.parquet")
    with pytest.raises(MemoryError, match=r"split the log by customer"):
        js.fit(tmp_path / "log.parquet")


# -- Parquet -------------------------------------------------------------------------


def parquet(tmp_path, table, name="log.parquet"):
    import pyarrow.parquet as pq

    path = tmp_path / name
    pq.write_table(table if isinstance(table, pa.Table) else pa.table(table), path)
    return path


@pytest.mark.parametrize(
    ("columns", "match"),
    [
        (
            {
                "customer": [1, 1, 2],
                "period": [0.0, 1.0, None],
                "stage": ["a", "b", "a"],
            },
            r"row 2: missing value in column 'period'",
        ),
        (
            {
                "customer": [1, 1, 2],
                "period": ["0", "1", "x"],
                "stage": ["a", "b", "a"],
            },
            r"row 2, column 'period': 'x' is not a number",
        ),
        (
            {"customer": [1, 1], "period": [0, 1], "stage": [[1], [2]]},
            r"column 'stage': type list<.*> cannot hold an id or a name",
        ),
        (
            {"customer": [1, 1], "period": [True, False], "stage": ["a", "b"]},
            r"column 'period': type bool cannot hold a time",
        ),
        (
            {"customer": [1, 1], "period": [0, 1], "stage": [b"\xff", b"\xfe"]},
            r"column 'stage': type binary cannot hold",
        ),
        (
            {"customer": [1], "when": [0], "stage": ["a"]},
            r"has no column\(s\) \['period'\]",
        ),
        (
            {
                "customer": [1, 1],
                "period": ["2024-01-01T00:00:00+01:00", "2024-02-01T00:00:00Z"],
                "stage": ["a", "b"],
            },
            r"row 1, column 'period': time zone \+00:00 differs from \+01:00 "
            r"\(row 0\): mixed time zones",
        ),
    ],
)
def test_bad_parquet_columns_are_named_by_file_row_and_column(tmp_path, columns, match):
    path = parquet(tmp_path, columns)
    with pytest.raises(ValueError, match=r"events file '.*log\.parquet'.*" + match):
        js.fit(path)


def test_parquet_timestamps_in_one_zone_count_on_its_wall_clock(tmp_path):
    stamps = pd.to_datetime(["2024-01-15 12:00", "2024-02-01 00:30"])
    zoned = pa.table(
        {
            "customer": [1, 1],
            "date": pa.array(
                stamps.tz_localize("Europe/Paris"), pa.timestamp("us", "Europe/Paris")
            ),
            "stage": ["a", "b"],
        }
    )
    a = js.fit(parquet(tmp_path, zoned), time="date", period="M")
    assert a.counts.loc["a", "b"] == 1  # February in Paris, January in UTC


def test_a_file_that_is_not_parquet(tmp_path):
    path = write(tmp_path, "log.parquet", GOOD)
    with pytest.raises(ValueError, match=r"log\.parquet': not a readable Parquet file"):
        js.fit(path)


# -- times and ids that a cast would change silently (issue 13, item 5) -------------


@pytest.mark.parametrize(
    ("times", "shown", "row"),
    [
        ([0, -0.5, 1], "-0.5", 1),
        ([0.0, 1.0, 2.25], "2.25", 2),
        ([0, np.inf, 1], "inf", 1),
    ],
)
def test_times_that_are_not_whole_numbers_are_refused(times, shown, row):
    # -0.5 was truncated to period 0 (and -1.0 kept as -1): not floored alike.
    events = pd.DataFrame({"customer": [1, 1, 2], "period": times, "stage": "a"})
    with pytest.raises(
        ValueError,
        match=rf"column 'period': time {shown} \(row {row}; 1 such row\(s\)\) is not "
        r"a whole number",
    ):
        js.fit(events)
    # Whole numbers held as floats are fine, and are the integers' periods.
    whole = pd.DataFrame(
        {"customer": [1, 1, 2], "period": [-1.0, 0.0, 3.0], "stage": ["a", "b", "a"]}
    )
    f = js.fit(whole)
    g = js.fit(whole.astype({"period": int}))
    np.testing.assert_array_equal(f.counts.to_numpy(), g.counts.to_numpy())
    assert f.counts.loc["a", "b"] == 1
    # A CSV file's fractional times too (and so does `end`).
    with pytest.raises(ValueError, match="not a whole number"):
        js.fit(whole, end=4.5)


def test_fractional_times_in_a_csv_are_refused(tmp_path):
    path = write(tmp_path, "frac.csv", "customer,period,stage\n1,0,a\n1,0.5,b\n")
    with pytest.raises(ValueError, match=r"time 0.5 \(row 1;.*not a whole number"):
        js.fit(path)


BOOL_TIME = r"column 'period': type bool cannot hold a time \(expected integers"


def test_a_bool_time_column_is_refused_from_every_source(tmp_path):
    frame = pd.DataFrame({"customer": [1, 1], "period": [True, False], "stage": "a"})
    with pytest.raises(ValueError, match=BOOL_TIME):
        js.fit(frame)  # was read as periods 1 and 0
    with pytest.raises(ValueError, match=BOOL_TIME):
        js.fit(frame, model="continuous")
    with pytest.raises(ValueError, match=r"log\.parquet', " + BOOL_TIME):
        js.fit(parquet(tmp_path, frame))
    path = write(tmp_path, "bool.csv", "customer,period,stage\n1,True,a\n1,False,b\n")
    with pytest.raises(ValueError, match=r"bool\.csv', " + BOOL_TIME):
        js.fit(path)


def test_control_characters_in_ids_are_refused(tmp_path):
    # "1\0" was a customer of its own beside "1".
    path = tmp_path / "nul.csv"
    path.write_bytes(b"customer,period,stage\n1,0,a\n1\x00,1,b\n1,2,c\n")
    with pytest.raises(
        ValueError,
        match=r"nul\.csv', line 3, column 'customer': '1\\x00' has a control "
        r"character",
    ):
        js.fit(path)
    frame = pd.DataFrame(
        {"customer": ["x", "x", "y\t"], "period": [0, 1, 0], "stage": ["a", "b", "a"]}
    )
    with pytest.raises(ValueError, match=r"row 2, column 'customer': 'y\\t' has a"):
        js.fit(frame)
    frame = pd.DataFrame(
        {"customer": [1, 1], "period": [0, 1], "stage": ["a", "b\x00"], "s": "p"}
    )
    with pytest.raises(ValueError, match=r"row 1, column 'stage': 'b\\x00'"):
        js.fit(frame)
    frame["stage"] = "a"
    frame["s"] = ["p", "p\n"]
    with pytest.raises(ValueError, match=r"row 1, column 's'"):
        js.fit(frame, segment="s")
    with pytest.raises(ValueError, match=r"log\.parquet', row 1, column 's'"):
        js.fit(parquet(tmp_path, frame), segment="s")
