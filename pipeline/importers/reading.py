"""Reading dataset files: format checks, tolerant parsing, and the values sources share.

Every file is read as text (no type guessing, no "NA"/"null"/"None" turned into missing:
a song may be called "None"); each importer decides what is missing. A line with the
wrong number of fields is skipped and reported, never fatal.
"""

from __future__ import annotations

import ast
import contextlib
import csv
import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.importers.report import ImportReport
from sql.errors import TuneclusterError
from sql.normalize import norm_name
from sql.schema import INTEGER_FEATURES

SPOTIFY_ID = re.compile(r"[0-9A-Za-z]{22}")
RELEASE_DATE = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?")
PRECISION_BY_LENGTH = {4: "year", 7: "month", 10: "day"}
FIELD_LIMIT = 128 * 1024  # characters; longer fields skip their row (counted)
NAME_KEY_PREFIX = "name:"  # ':' is outside base62, so a name key never equals a Spotify id


class WrongFormat(TuneclusterError):
    """The file is not of the stated format (the message names what is missing)."""


def name_key(*names: str, kind: str = "") -> str:
    """A stable key for a source that names artists (or albums) but gives no id.

    Derived from the normalised name(s) (case, accents and spacing ignored), so the same
    name from TidyTuesday and from Kaggle meets in one row. 37 ASCII characters with a
    ':' — never a 22-character base62 Spotify id. `kind` separates key spaces (an album
    key hashes its artist's name and its own).
    """
    text = "\x00".join([kind, *(norm_name(n) for n in names)])
    return NAME_KEY_PREFIX + hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def is_spotify_id(value: str) -> bool:
    return SPOTIFY_ID.fullmatch(value) is not None


def check_columns(path: Path, found: Iterable[str], required: Iterable[str], fmt: str) -> None:
    missing = [c for c in required if c not in set(found)]
    if missing:
        raise WrongFormat(
            f"{path} is not a {fmt} file: missing column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)}"
        )


def read_table(
    path: Path,
    *,
    sep: str,
    required: Iterable[str],
    fmt: str,
    report: ImportReport,
    quoted: bool = True,
) -> pd.DataFrame:
    """All columns as strings ('' where empty); malformed lines skipped and reported.

    `quoted=False` for tab-separated exports that never quote (a name may then start
    with a double quote, as in `"Weird Al" Yankovic`).
    """
    quoting = csv.QUOTE_MINIMAL if quoted else csv.QUOTE_NONE
    header = _header(path, sep, quoting, fmt)
    check_columns(path, header, required, fmt)
    expected = len(header)
    malformed = 0

    def bad_line(fields: list[str]) -> None:
        nonlocal malformed
        malformed += 1
        report.skip(
            f"{path.name}: malformed line ({len(fields)} fields, expected {expected})",
            "|".join(fields)[:120],
        )

    with _any_field_size():  # csv's own 128 KiB limit drops such a row without a word
        frame = pd.read_csv(
            path,
            sep=sep,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            encoding_errors="replace",
            on_bad_lines=bad_line,
            engine="python",
            quoting=quoting,
        )
    report.files[str(path)] = len(frame) + malformed
    report.rows_read += len(frame) + malformed
    return _without_huge_fields(frame.fillna(""), path, report)


def _header(path: Path, sep: str, quoting: int, fmt: str) -> list[str]:
    """The file's column names; a missing file, or one that is no table, in one line."""
    if not path.is_file():
        raise TuneclusterError(f"{path}: no such file")
    try:
        header = pd.read_csv(path, sep=sep, nrows=0, encoding_errors="replace", quoting=quoting)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise WrongFormat(f"{path} is not a {fmt} file: {str(error).splitlines()[0]}") from None
    return list(header.columns)


@contextlib.contextmanager
def _any_field_size() -> Iterator[None]:
    """Let the csv module read fields of any size, so that every row is counted."""
    previous = csv.field_size_limit()
    csv.field_size_limit(2**31 - 1)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def _without_huge_fields(frame: pd.DataFrame, path: Path, report: ImportReport) -> pd.DataFrame:
    """Rows with a field over FIELD_LIMIT bytes are skipped, counted with the reason: no
    column of the catalogue holds that much, and such a field is a broken line's."""
    if frame.empty:
        return frame
    lengths = frame.apply(lambda column: column.str.len()).max(axis=1)
    huge = lengths > FIELD_LIMIT
    if huge.any():
        reason = f"{path.name}: a field longer than {FIELD_LIMIT // 1024} KiB"
        for _, row in frame[huge].iterrows():
            report.skip(reason, "|".join(str(v)[:40] for v in row.iloc[:3]))
        frame = frame[~huge].reset_index(drop=True)
    return frame


def numbers(
    frame: pd.DataFrame, columns: Iterable[str], report: ImportReport, file: str
) -> dict[str, np.ndarray]:
    """The columns as float64 arrays (NaN where empty; indexing an array is a hundred
    times faster than `DataFrame.at`); non-numbers become NaN and are reported."""
    out: dict[str, np.ndarray] = {}
    for column in columns:
        text = frame[column].str.strip()
        values = pd.to_numeric(text, errors="coerce")
        bad = values.isna() & (text != "") & (text.str.upper() != "NA")
        if bad.any():
            first = text[bad].iloc[0]
            report.note(
                f"{file}: {int(bad.sum())} non-numeric value(s) in {column} stored as unknown "
                f"(e.g. {first[:40]!r})"
            )
        out[column] = values.to_numpy(dtype=np.float64)
    return out


def as_int(value: Any) -> int | None:
    """A float64 cell (NaN = unknown) as an int or None."""
    if value is None or value != value:
        return None
    return int(value)


def as_float(value: Any) -> float | None:
    if value is None or value != value:
        return None
    return float(value)


def feature_values(
    values: dict[str, np.ndarray], i: int, names: Iterable[str]
) -> dict[str, float | int | None]:
    """Row `i` of the feature columns in `values` (`numbers`): the whole-number features
    as ints, the others as floats, None where unknown."""
    return {f: (as_int if f in INTEGER_FEATURES else as_float)(values[f][i]) for f in names}


def as_bool(value: str) -> bool | None:
    text = value.strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    return None


def release_date(value: str) -> tuple[str | None, str | None]:
    """A release date as given (YYYY, YYYY-MM, YYYY-MM-DD) and its precision, else Nones."""
    text = value.strip()
    if not RELEASE_DATE.fullmatch(text):
        return None, None
    return text, PRECISION_BY_LENGTH[len(text)]


def python_literal(text: str, kind: type) -> Any | None:
    """A Python-literal string (list or dict) as written by pandas/str(); None if not one."""
    text = text.strip()
    if not text:
        return kind()
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return value if isinstance(value, kind) else None


def genre_list(text: str, file: str, i: int, report: ImportReport) -> list:
    """Genres written as a Python list ("['pop', 'dance pop']"); [] when the text is not
    one, reported (the artist is kept without genres)."""
    genres = python_literal(text, list)
    if genres is None:
        report.skip(
            f"{file}: genres not a list (artist kept without genres)",
            f"row {i + 1}: {text[:60]!r}",
        )
        return []
    return genres


def folder_files(path: Path, names: Iterable[str], fmt: str) -> dict[str, Path]:
    """The named files of a folder format (the folder, or any file inside it)."""
    folder = path if path.is_dir() else path.parent
    if not folder.is_dir():
        raise TuneclusterError(f"{path}: no such folder")
    names = list(names)
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise WrongFormat(f"{folder} is not a {fmt} folder: missing {', '.join(missing)}")
    return {n: folder / n for n in names}


def read_folder(
    path: Path, files: dict[str, tuple[str, ...]], fmt: str, report: ImportReport, **options: Any
) -> dict[str, pd.DataFrame]:
    """Every file of a folder format (name → required columns) read with `read_table`
    (`options`: its `sep` and `quoted`)."""
    found = folder_files(path, files, fmt)
    return {
        name: read_table(found[name], required=columns, fmt=fmt, report=report, **options)
        for name, columns in files.items()
    }


def valid_track_rows(
    frame: pd.DataFrame, duplicate: np.ndarray, report: ImportReport
) -> Iterator[tuple[int, Any, str]]:
    """(0-based index, row, track id) of a one-file dataset's rows that are neither
    repeats (`duplicate`) nor without a Spotify track id; those are reported as skipped."""
    for i, row in enumerate(frame.itertuples(index=False)):
        if duplicate[i]:
            report.skip("duplicate row", f"row {i + 1}: {row.track_id}")
            continue
        track_id = row.track_id.strip()
        if not is_spotify_id(track_id):
            report.skip("invalid track id", f"row {i + 1}: {track_id!r}")
            continue
        yield i, row, track_id


def named(
    name: str | None, kind: str, key: str, file: str, i: int, report: ImportReport
) -> str | None:
    """`name`, or None with the row (of the `kind` keyed `key`) reported as skipped."""
    if not name:
        report.skip(f"{file}: {kind} without a name", f"row {i + 1}: {key}")
        return None
    return name


def unique_rows(frame: pd.DataFrame, file: str, report: ImportReport):
    """Rows with their 0-based index; exact duplicates are skipped and reported."""
    duplicate = frame.duplicated().to_numpy()
    for i, row in enumerate(frame.itertuples(index=False)):
        if duplicate[i]:
            report.skip(f"{file}: duplicate row", f"row {i + 1}")
            continue
        yield i, row


def valid_id(value: str, kind: str, file: str, i: int, report: ImportReport) -> str | None:
    """The Spotify id in `value`, or None with the row reported as skipped."""
    value = value.strip()
    if is_spotify_id(value):
        return value
    report.skip(f"{file}: invalid {kind} id", f"row {i + 1}: {value!r}")
    return None


def rows_with_id(
    frame: pd.DataFrame, file: str, column: str, kind: str, report: ImportReport
) -> Iterator[tuple[int, Any, str]]:
    """(0-based index, row, id) of the rows (`unique_rows`) whose `column` holds a valid
    Spotify id of a `kind`; the others are reported as skipped (`valid_id`)."""
    for i, row in unique_rows(frame, file, report):
        key = valid_id(getattr(row, column), kind, file, i, report)
        if key is not None:
            yield i, row, key


def named_rows(
    frame: pd.DataFrame,
    file: str,
    columns: tuple[str, str],
    kind: str,
    report: ImportReport,
    clean: Callable[[str], str | None] = str.strip,
) -> Iterator[tuple[int, Any, str, str]]:
    """(index, row, id, name) of the `rows_with_id` whose name (`columns`: the id's
    and the name's, the name `clean`ed) is not empty; the others reported (`named`)."""
    id_column, name_column = columns
    for i, row, key in rows_with_id(frame, file, id_column, kind, report):
        name = named(clean(getattr(row, name_column)), kind, key, file, i, report)
        if name is not None:
            yield i, row, key, name
