"""Reading event-log files for :func:`journeysim.fit`, defensively.

A log from outside is not trusted: every way a CSV or Parquet file can be
wrong ends in a ValueError naming the file, the line (CSV) or row (Parquet) and
the column, and reading it takes bounded memory:

- a line longer than :data:`MAX_LINE_BYTES` (a file that is not a CSV log, or a
  quoted field that never ends) is refused during a scan in 1 MiB chunks,
  before the parser sees it; so are bytes that are not UTF-8;
- a file whose table would not fit in the memory available is a MemoryError
  before it is read;
- missing columns, nested or binary columns, empty cells;
- a time column that mixes numbers and text, holds text that is not a date, or
  mixes time zones (or zoned and naive times); a time column of booleans (read
  as such from a CSV file, a Parquet file or a DataFrame: one message for all);
- ids, stage names and segments with control characters (a NUL byte in an id
  would make a customer of its own).

Times with one time zone are read as the local wall-clock times of that zone
(what calendar months are counted in); naive times as they are.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

import numpy as np
import pandas as pd

from .._base import system
from .._base.errors import FitError
from .._base.optional import optional

__all__ = [
    "MAX_LINE_BYTES",
    "check_no_bool_times",
    "control_character_code_row",
    "control_character_message",
    "control_character_row",
    "customer_codes",
    "read_csv",
    "read_parquet",
    "type_refused",
    "value_codes",
]

#: Longest line (bytes) a CSV event log may have; a row of a log is a few dozen.
MAX_LINE_BYTES = 1 << 20
#: Bytes read at a time by the scan of a CSV file.
CHUNK_BYTES = 1 << 20
#: Memory a table needs, as a multiple of its size in the file (CSV text) or
#: uncompressed (Parquet): parsing buffers, Python strings, the sort in fit().
CSV_MEMORY_FACTOR = 6.0
PARQUET_MEMORY_FACTOR = 4.0

# C0 control characters and DEL: never part of an id, a stage or a segment.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# A time zone after the time of an ISO 8601 date-time: Z, +01:00, -0500, +01.
_ZONE = re.compile(
    r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)$", re.IGNORECASE
)


def _check_size(name: str, need: float) -> None:
    avail = system.available_memory()
    if need > 0.8 * avail:
        raise MemoryError(
            f"events file {name!r} would need about {need / 2**30:.1f} GiB in memory, "
            f"more than the {avail / 2**30:.1f} GiB available: split the log by "
            "customer into smaller files (transition counts add up) or read only "
            "the customers you need"
        )


# -- CSV ---------------------------------------------------------------------------


def _scan_csv(path: Path, name: str) -> None:
    """One pass over the bytes in bounded memory: every line at most
    MAX_LINE_BYTES long, the text UTF-8, and (up to the first quote character,
    after which commas may be inside fields) as many fields on every line as on
    the header line: the parser would drop extra fields silently."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    line = 1  # of the start of the current chunk
    length = 0  # bytes of the current line so far
    commas = 0  # commas of the current line so far
    fields = None  # on the header line
    checking = True  # no quote seen yet
    offset = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            buf = np.frombuffer(chunk, dtype=np.uint8)
            ends = np.flatnonzero(buf == 10)
            starts = np.concatenate([[0], ends + 1])
            stops = np.concatenate([ends, [len(buf)]])
            lengths = stops - starts
            lengths[0] += length
            # The last piece runs on into the next chunk unless the chunk ends a line.
            complete = lengths[:-1]
            if complete.size and complete.max() > MAX_LINE_BYTES:
                k = int(np.argmax(complete > MAX_LINE_BYTES))
                _long_line(name, line + k)
            length = int(lengths[-1])
            if length > MAX_LINE_BYTES:
                _long_line(name, line + len(ends))
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as err:
                bad = line + int(np.count_nonzero(buf[: max(err.start, 0)] == 10))
                raise FitError(
                    f"events file {name!r}, line {bad}: bytes that are not UTF-8 text "
                    f"(near byte {offset + max(err.start, 0):,}): not a CSV event log, "
                    "or another encoding (save it as UTF-8)"
                ) from None
            if checking:
                counts = np.bincount(
                    np.searchsorted(ends, np.flatnonzero(buf == 44)),
                    minlength=len(ends) + 1,
                )
                counts[0] += commas
                quotes = np.flatnonzero(buf == 34)
                # Lines that end before the first quote, if any.
                last = (
                    len(ends)
                    if not quotes.size
                    else int(np.searchsorted(ends, quotes[0]))
                )
                if fields is None and len(ends):
                    fields = int(counts[0]) + 1
                for k in np.flatnonzero(counts[:last] + 1 != (fields or 0)):
                    # Blank lines ("" or "\r") are empty rows, which the reader
                    # reports as such; line 1 is the header.
                    blank = lengths[k] == 0 or (
                        lengths[k] == 1 and stops[k] > 0 and buf[stops[k] - 1] == 13
                    )
                    if line + k > 1 and not blank:
                        _wrong_fields(name, line + int(k), int(counts[k]) + 1, fields)
                commas = int(counts[-1])
                checking = not quotes.size
            line += len(ends)
            offset += len(chunk)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise FitError(
            f"events file {name!r}, line {line}: the file ends inside a UTF-8 "
            "character: truncated, or not UTF-8 text"
        ) from None
    if checking and fields is not None and length > 0 and commas + 1 != fields:
        _wrong_fields(name, line, commas + 1, fields)


def _wrong_fields(name: str, line: int, found: int, header: int) -> None:
    raise FitError(
        f"events file {name!r}, line {line}: {found} fields where the header line "
        f"has {header} (an unquoted comma in a value, or a line cut short)"
    )


def _long_line(name: str, line: int) -> None:
    raise FitError(
        f"events file {name!r}, line {line}: longer than {MAX_LINE_BYTES:,} bytes "
        "(a row of an event log is a few dozen): not a CSV event log, or a quoted "
        "field that never ends"
    )


def read_csv(path: Path, columns: list[str], time: str | None) -> pd.DataFrame:
    """The columns of a CSV event log, checked (see the module docstring).
    Locations are lines of the file (the header is line 1)."""
    name = str(path)
    _scan_csv(path, name)
    _check_size(name, CSV_MEMORY_FACTOR * path.stat().st_size)
    try:
        header = pd.read_csv(path, nrows=0)
    except pd.errors.EmptyDataError:
        raise FitError(f"events file {name!r} is empty (no header line)") from None
    except (pd.errors.ParserError, ValueError) as err:
        raise FitError(
            f"events file {name!r}: not a readable CSV file: {err}"
        ) from None
    missing = [c for c in columns if c not in header.columns]
    if missing:
        shown = [str(c) for c in header.columns[:20]]
        raise FitError(
            f"events file {name!r} has no column(s) {missing}; its columns are "
            f"{shown}{' ...' if len(header.columns) > 20 else ''}"
        )
    try:
        # Blank lines are kept (as empty rows) so that row i is line i + 2.
        df = pd.read_csv(path, usecols=columns, skip_blank_lines=False)
    except (pd.errors.ParserError, ValueError) as err:
        raise FitError(
            f"events file {name!r}: not a readable CSV file: {err}"
        ) from None
    return _check_frame(df[columns], name, time, lambda i: f"line {i + 2}")


# -- Parquet -----------------------------------------------------------------------


def read_parquet(path: Path, columns: list[str], time: str | None) -> pd.DataFrame:
    """The columns of a Parquet event log, checked (see the module docstring).
    Locations are rows of the file, from 0."""
    pa = optional("pyarrow", "reading Parquet event logs", "files")
    pq = optional("pyarrow.parquet", "reading Parquet event logs", "files")

    name = str(path)
    try:
        meta = pq.read_metadata(path)
    except (pa.ArrowException, OSError) as err:
        raise FitError(
            f"events file {name!r}: not a readable Parquet file: {err}"
        ) from None
    schema = meta.schema.to_arrow_schema()
    missing = [c for c in columns if c not in schema.names]
    if missing:
        raise FitError(
            f"events file {name!r} has no column(s) {missing}; its columns are "
            f"{schema.names[:20]}"
        )
    for c in columns:
        t = schema.field(c).type
        if pa.types.is_dictionary(t):
            t = t.value_type
        ok = (
            pa.types.is_integer(t)
            or pa.types.is_string(t)
            or pa.types.is_large_string(t)
            or (
                c == time
                and (
                    pa.types.is_floating(t)
                    or pa.types.is_timestamp(t)
                    or pa.types.is_date(t)
                )
            )
        )
        if not ok:
            raise FitError(f"events file {name!r}, " + type_refused(c, t, c == time))
    wanted = [schema.get_field_index(c) for c in columns]
    size = 0
    for g in range(meta.num_row_groups):
        rg = meta.row_group(g)
        size += sum(rg.column(i).total_uncompressed_size for i in wanted)
    _check_size(
        name, PARQUET_MEMORY_FACTOR * size + 64.0 * meta.num_rows * len(columns)
    )
    try:
        df = pq.read_table(path, columns=columns).to_pandas()
    except (pa.ArrowException, OSError) as err:
        raise FitError(
            f"events file {name!r}: not a readable Parquet file: {err}"
        ) from None
    return _check_frame(df[columns], name, time, lambda i: f"row {i}")


# -- checks common to both (and to logs in memory) ----------------------------------


def type_refused(column: str, dtype: object, time: bool) -> str:
    """Why a column of this type is refused: one message for every source."""
    what = "a time" if time else "an id or a name"
    return (
        f"column {column!r}: type {dtype} cannot hold {what} (expected integers or "
        "strings" + (", floats, dates or timestamps" if time else "") + ")"
    )


def check_no_bool_times(col: pd.Series, column: str, prefix: str = "") -> None:
    """Booleans are no times (they would be read as periods 0 and 1)."""
    if pd.api.types.is_bool_dtype(col.dtype):
        raise FitError(prefix + type_refused(column, "bool", True))


def control_character_row(col: pd.Series) -> int | None:
    """The position of the first value with a control character (NUL, tab,
    newline, ...), or None. Checked on the distinct values: one pass."""
    if pd.api.types.is_numeric_dtype(col.dtype):
        return None
    return control_character_code_row(*value_codes(col))


def value_codes(col: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Codes and distinct values of a column, as ``pd.factorize`` gives them
    but in any order of the values: a categorical column (a Parquet
    dictionary) has them already, so only its categories in use are kept,
    without hashing every row again."""
    if not isinstance(col.dtype, pd.CategoricalDtype):
        return pd.factorize(col)
    codes = col.cat.codes.to_numpy()
    k = len(col.cat.categories)
    # A comparison per category is a fast pass over one byte a row; a
    # bincount would first widen every code to 8 bytes.
    used = (
        np.array([(codes == i).any() for i in range(k)], dtype=bool)
        if k <= 64
        else np.bincount(codes[codes >= 0], minlength=k) > 0
    )
    if used.all():
        return codes, col.cat.categories
    new = np.cumsum(used) - 1
    return np.where(codes >= 0, new[codes], -1), col.cat.categories[used]


def customer_codes(col: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """``pd.factorize`` of the customer column (codes in order of first
    appearance), in one pass when the ids are integers in sorted order (a
    log written by customer), without hashing."""
    if pd.api.types.is_integer_dtype(col.dtype) and not isinstance(
        col.dtype, pd.CategoricalDtype
    ):
        ids = col.to_numpy()
        if len(ids) and not (ids[1:] < ids[:-1]).any():
            new = np.ones(len(ids), dtype=bool)
            new[1:] = ids[1:] != ids[:-1]
            return np.cumsum(new, dtype=np.int64) - 1, pd.Index(ids[new])
    codes, ids = pd.factorize(col)
    return codes.astype(np.int64, copy=False), ids


def control_character_code_row(codes: np.ndarray, uniques) -> int | None:
    """:func:`control_character_row` of a column already factorised."""
    kind = getattr(uniques, "dtype", None)
    if kind is not None and (
        pd.api.types.is_numeric_dtype(kind)
        or pd.api.types.is_datetime64_any_dtype(kind)
    ):
        return None  # numbers and dates hold no text
    text = pd.Series(uniques)
    if not isinstance(text.dtype, pd.StringDtype):
        text = text.astype(object).map(str).astype(pd.StringDtype())
    bad = text.str.contains(_CONTROL.pattern, regex=True).to_numpy(dtype=bool)
    if not bad.any():
        return None
    return int(np.argmax(np.isin(codes, np.flatnonzero(bad))))


def control_character_message(col: pd.Series, i: int, column: str) -> str:
    return (
        f"column {column!r}: {col.iloc[i]!r} has a control character: ids, stages "
        "and segments must be printable text (a NUL byte or a stray tab would make "
        "a customer or a stage of its own)"
    )


def _check_frame(df: pd.DataFrame, name: str, time: str | None, where) -> pd.DataFrame:
    # Blank lines at the very end of a file are no rows.
    filled = df.notna().any(axis=1).to_numpy()
    # The last filled row, without listing every filled one (10 M of them).
    end = len(filled) - int(np.argmax(filled[::-1])) if filled.any() else 0
    if end < len(df):
        df = df.iloc[:end]
    if len(df) == 0:
        return df
    for c in df.columns:
        null = df[c].isna().to_numpy()
        if null.any():
            i = int(np.argmax(null))
            empty = bool(df.iloc[i].isna().all())
            raise FitError(
                f"events file {name!r}, {where(i)}: "
                + ("an empty row" if empty else f"missing value in column {c!r}")
                + f" ({int(null.sum()):,} such row(s) in all)"
            )
    for c in df.columns:
        if c != time:
            i = control_character_row(df[c])
            if i is not None:
                raise FitError(
                    f"events file {name!r}, {where(i)}, "
                    + control_character_message(df[c], i, c)
                )
    if time is not None and time in df.columns:
        check_no_bool_times(df[time], time, f"events file {name!r}, ")
        col = df[time]
        times = _times(col, name, time, where)
        if times is not col:  # dates and numbers stay as read: no copy
            df = df.copy()
            df[time] = times
    return df


def _times(col: pd.Series, name: str, column: str, where) -> pd.Series:
    """The time column as numbers, or as naive date-times (the local times of
    the one time zone they have, if any)."""
    if pd.api.types.is_numeric_dtype(col):
        return col
    if isinstance(col.dtype, pd.DatetimeTZDtype):
        return col.dt.tz_localize(None)  # one zone: its wall-clock times
    if pd.api.types.is_datetime64_dtype(col):
        return col
    text = col.astype(str).str.strip()
    numbers = pd.to_numeric(text, errors="coerce")
    is_number = numbers.notna().to_numpy()
    if is_number.all():
        return numbers
    if is_number.any():
        mostly = is_number.mean() >= 0.5
        i = int(np.argmax(~is_number if mostly else is_number))
        what = "is not a number" if mostly else "is a number"
        raise FitError(
            f"events file {name!r}, {where(i)}, column {column!r}: {text.iloc[i]!r} "
            f"{what}, unlike most of the column: times must be numbers throughout "
            "(with an integer period) or dates throughout"
        )
    zones = text.str.extract(_ZONE, expand=False).str.upper()
    zones = zones.where(zones != "Z", "+00:00").str.replace(
        r"^([+-]\d{2})(\d{2})$", r"\1:\2", regex=True
    )
    zones = zones.where(~zones.str.fullmatch(r"[+-]\d{2}", na=False), zones + ":00")
    aware = zones.notna().to_numpy()
    if aware.any() and not aware.all():
        i = int(np.argmax(~aware)) if aware[0] else int(np.argmax(aware))
        j = 0
        raise FitError(
            f"events file {name!r}, {where(i)}, column {column!r}: {text.iloc[i]!r} "
            f"{'has no' if not aware[i] else 'has a'} time zone, unlike "
            f"{text.iloc[j]!r} ({where(j)}): mixed time zones; give every time in one "
            "zone (or none)"
        )
    if aware.any():
        distinct = zones.unique()
        if len(distinct) > 1:
            i = int(np.argmax((zones != zones.iloc[0]).to_numpy()))
            raise FitError(
                f"events file {name!r}, {where(i)}, column {column!r}: time zone "
                f"{zones.iloc[i]} differs from {zones.iloc[0]} ({where(0)}): mixed "
                "time zones; convert the times to one zone first (calendar months "
                "depend on it)"
            )
    try:
        stamps = pd.to_datetime(text)
    except (ValueError, TypeError, OverflowError):
        # Formats that differ from row to row: each on its own.
        stamps = pd.to_datetime(text, errors="coerce", format="mixed")
        bad = stamps.isna().to_numpy()
        if bad.any():
            i = int(np.argmax(bad))
            raise FitError(
                f"events file {name!r}, {where(i)}, column {column!r}: "
                f"{text.iloc[i]!r} is neither a number nor a date"
            ) from None
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        stamps = stamps.dt.tz_localize(None)
    return stamps
