"""Bring-your-own-data provider: prices (and optionally shares) from CSV or Parquet files.

Layout (long format, one row per symbol and session; header names are matched case-insensitively
and extra columns are ignored):

* prices: ``symbol,date,open,high,low,close,volume`` plus an optional ``adj_close``;
* shares: ``symbol,date,shares_outstanding`` (``date`` = the day the figure is known from);
* corporate actions (optional): ``symbol,ex_date,kind,ratio,amount,currency``, ``kind`` ``split``
  (``ratio`` = new shares per old share, 2 for a 2-for-1, 0.1 for a 1-for-10 reverse split) or
  ``dividend`` (``amount`` per share as quoted on the ex-date; ``currency`` may be empty). Read from
  ``corporate_actions.csv`` (``.csv.gz``, ``.parquet``, ``.pq``) beside the prices file (beside the
  prices folder when that is a folder), or the path given; no such file means no event. A kind
  other than those two, a split without a ratio > 0 or a dividend without an amount >= 0 is a
  format error naming the line and column, and a duplicate is keyed by (symbol, ex_date, kind).

A path is one file (``.csv``, ``.csv.gz``, ``.parquet`` / ``.pq``) or a folder, in which case every
such file directly inside it is read (not sub-folders, in name order) and the rows concatenated.

Dates are ``YYYY-MM-DD``; anything after the tenth character (``T16:00:00``, an offset) is ignored,
so the date as written is the session. Numbers are plain decimals (``1234.5``, ``1e6``); an empty
cell or ``NA`` / ``N/A`` / ``NaN`` / ``null`` / ``None`` is a missing value and becomes NaN (missing
data is a quality matter, not a format error). Negative or zero prices are kept for the same
reason: the quality checks report them.

A file that cannot be read as that layout raises :class:`FilesFormatError`, a ``ProviderError``
(so the pipeline treats it like any provider that delivered garbage) that is also a ``ValueError``
(it is bad input). Its message names the file, the position and the column, e.g.
``prices.csv line 7, column 'close': 'abc' is not a number``. Positions are editor line numbers in
CSV (the header is line 1; a quoted value spanning lines would shift the count) and the 0-based row
index in Parquet. Checked: empty file, missing required column, a line with too many or too few
fields (a short line would otherwise load with its last values missing), text
that is not UTF-8, missing symbol or date, unparseable date, non-numeric or infinite number, and
duplicate ``(symbol, date)`` (both positions named, across files too). Every problem found is kept
on the exception (``problems``); the message shows the first ten.

Files are read once per instance and read again only when a file's size or modification time
changes, or files are added or removed from the folder.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from autoindex_pipeline.providers.prices.base import (
    CORPORATE_ACTION_COLUMNS,
    PRICE_COLUMNS,
    SHARES_COLUMNS,
    CallStats,
    FetchResult,
    ProgressCallback,
    ProviderError,
    empty_corporate_actions_frame,
    normalize_corporate_actions_frame,
    normalize_price_frame,
    normalize_shares_frame,
)

SOURCE = "files"
CSV_SUFFIXES = (".csv", ".csv.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")
MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none"})
_NA_SPELLINGS = sorted({v for t in MISSING_TOKENS for v in (t, t.upper(), t.capitalize())} | {"NaN", "N/a"})
_MAX_LISTED_PROBLEMS = 10
# Kept per check and file: a million bad rows should not become a million objects.
_MAX_KEPT_PROBLEMS = 100
_DATE_SHAPE = r"^\d{4}-\d{2}-\d{2}(?:[T ].*)?$"
_POS = "_pos"
_FILE = "_file"


@dataclass(frozen=True)
class FileProblem:
    """One thing wrong in one place of one file."""

    path: str
    where: str  # "line 7", "row index 6", "lines 3 and 9", "schema", or "" for the whole file
    columns: tuple[str, ...]
    message: str
    line: int | None = None  # 1-based CSV line (or 0-based Parquet row index) of the first position

    @property
    def column(self) -> str | None:
        return self.columns[0] if self.columns else None

    def __str__(self) -> str:
        names = ", ".join(repr(c) for c in self.columns)
        column = "" if not self.columns else f", column {names}" if len(self.columns) == 1 else f", columns {names}"
        where = f" {self.where}" if self.where else ""
        return f"{self.path}{where}{column}: {self.message}"


class FilesFormatError(ProviderError, ValueError):
    """A prices or shares file is not in the documented layout. ``problems`` lists every finding
    (the message shows the first few); ``path``, ``line`` and ``column`` describe the first."""

    def __init__(self, problems: Sequence[FileProblem], omitted: int = 0) -> None:
        self.problems = list(problems)
        self.omitted = omitted
        first = self.problems[0]
        self.path, self.line, self.column = first.path, first.line, first.column
        text = str(first)
        others = len(self.problems) - 1 + omitted
        if others:
            shown = "".join(f"\n  {p}" for p in self.problems[1:_MAX_LISTED_PROBLEMS])
            more = others - max(min(len(self.problems), _MAX_LISTED_PROBLEMS) - 1, 0)
            tail = f"\n  ... and {more} more" if more > 0 else ""
            text += f"\n({others} more problem(s):{shown}{tail})"
        super().__init__(text)


@dataclass(frozen=True)
class _Layout:
    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    numeric: tuple[str, ...]
    date_column: str = "date"
    text: tuple[str, ...] = ()
    """Further text columns kept as written (stripped; empty -> missing)."""
    keys: tuple[str, ...] = ("symbol", "date")


PRICES_LAYOUT = _Layout("prices", PRICE_COLUMNS, ("adj_close",), ("open", "high", "low", "close", "volume", "adj_close"))
SHARES_LAYOUT = _Layout("shares", SHARES_COLUMNS, (), ("shares_outstanding",))
CORPORATE_ACTIONS_LAYOUT = _Layout(
    "corporate actions", ("symbol", "ex_date", "kind"), ("ratio", "amount", "currency"), ("ratio", "amount"),
    date_column="ex_date", text=("kind", "currency"), keys=("symbol", "ex_date", "kind"),
)
CORPORATE_ACTIONS_STEM = "corporate_actions"


class FilesProvider:
    """Prices and shares outstanding from the user's own CSV / Parquet files."""

    name = "files"

    def __init__(
        self, prices_path: str | Path, shares_path: str | Path | None = None, corporate_actions_path: str | Path | None = None
    ) -> None:
        self.prices_path = Path(prices_path)
        self.shares_path = None if shares_path is None else Path(shares_path)
        self.corporate_actions_path = (
            _beside(self.prices_path) if corporate_actions_path is None else Path(corporate_actions_path)
        )
        self._cache: dict[str, tuple[tuple, pd.DataFrame]] = {}
        self._lock = threading.Lock()

    def fetch_prices(
        self,
        symbols: Sequence[str],
        start: dt.date,
        end: dt.date,
        progress: ProgressCallback | None = None,
    ) -> FetchResult:
        wanted = list(dict.fromkeys(str(s) for s in symbols))
        data = self._load(self.prices_path, PRICES_LAYOUT)
        present = set(data["symbol"].unique())
        _refuse_foreign_symbols(self.prices_path, wanted, present)
        failures = {s: _absent(s, present) for s in wanted if s not in present}
        mask = data["symbol"].isin(wanted) & (data["date"] >= pd.Timestamp(start)) & (data["date"] <= pd.Timestamp(end))
        frame = normalize_price_frame(data.loc[mask], source=SOURCE)
        if progress is not None:
            progress(len(wanted), len(wanted))
        return FetchResult(frame, failures, CallStats(calls=1, succeeded=1))

    def fetch_shares(self, symbols: Sequence[str], end: dt.date) -> FetchResult:
        wanted = list(dict.fromkeys(str(s) for s in symbols))
        if self.shares_path is None:
            empty = normalize_shares_frame(pd.DataFrame({c: [] for c in SHARES_COLUMNS}), source=SOURCE)
            return FetchResult(empty, {s: "no shares file configured" for s in wanted}, CallStats())
        data = self._load(self.shares_path, SHARES_LAYOUT)
        present = set(data["symbol"].unique())
        failures = {s: "not in shares file" for s in wanted if s not in present}
        mask = data["symbol"].isin(wanted) & (data["date"] <= pd.Timestamp(end))
        frame = normalize_shares_frame(data.loc[mask], source=SOURCE)
        return FetchResult(frame, failures, CallStats(calls=1, succeeded=1))

    def fetch_corporate_actions(self, symbols: Sequence[str], start: dt.date, end: dt.date) -> FetchResult:
        """Events with ex-date in ``[start, end]`` from the corporate-actions file (none without
        one: the file is optional)."""
        wanted = list(dict.fromkeys(str(s) for s in symbols))
        path = self.corporate_actions_path
        if path is None or not path.exists():
            return FetchResult(empty_corporate_actions_frame(SOURCE), {}, CallStats())
        data = self._load(path, CORPORATE_ACTIONS_LAYOUT)
        mask = data["symbol"].isin(wanted) & (data["ex_date"] >= pd.Timestamp(start)) & (data["ex_date"] <= pd.Timestamp(end))
        frame = data.loc[mask].reindex(columns=list(CORPORATE_ACTION_COLUMNS))
        return FetchResult(normalize_corporate_actions_frame(frame, SOURCE), {}, CallStats(calls=1, succeeded=1))

    # ------------------------------------------------------------------ reading

    def _load(self, path: Path, layout: _Layout) -> pd.DataFrame:
        files = _list_files(path, layout)
        signature = tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files)
        key = f"{layout.name}:{path}"
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and cached[0] == signature:
                return cached[1]
            frame = _read_all(files, layout)
            self._cache[key] = (signature, frame)
            return frame


def _beside(prices_path: Path) -> Path | None:
    """The corporate-actions file next to the prices file (or folder), if there is one."""
    folder = prices_path.parent
    for suffix in (*CSV_SUFFIXES, *PARQUET_SUFFIXES):
        candidate = folder / f"{CORPORATE_ACTIONS_STEM}{suffix}"
        if candidate.is_file() and candidate != prices_path:
            return candidate
    return None


def _absent(symbol: str, present: set[str]) -> str:
    spelled = sorted(p for p in present if p.upper() == symbol.upper())
    return f"not in files (spelled {', '.join(map(repr, spelled))} there)" if spelled else "not in files"


def _refuse_foreign_symbols(path: Path, wanted: list[str], present: set[str]) -> None:
    """Files that hold prices, but none of the requested symbols, are almost always the wrong
    files or the wrong spelling (``aapl``); "no prices" would hide which."""
    if not wanted or not present or present & set(wanted):
        return
    foreign = sorted(present)
    shown = ", ".join(map(repr, foreign[:5])) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
    wanted_upper = {w.upper() for w in wanted}
    hint = (
        "; symbols are matched exactly and the universe spells them in upper case: write them that way in the file"
        if any(p.upper() in wanted_upper for p in foreign)
        else "; check that providers.files.prices_path names the right files and the universe the right symbols"
    )
    raise ProviderError(f"{path}: symbols not in the universe: {shown} (none of the {len(wanted)} requested "
                        f"symbols is in the files){hint}")


def _list_files(path: Path, layout: _Layout) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and _kind(p) is not None)
        if not files:
            message = f"folder holds no {layout.name} file (*.csv, *.csv.gz, *.parquet, *.pq)"
            raise FilesFormatError([FileProblem(str(path), "", (), message)])
        return files
    if not path.exists():
        raise ProviderError(f"{layout.name} file or folder not found: {path}")
    return [path]


def _kind(path: Path) -> str | None:
    name = path.name.lower()
    if name.startswith("."):
        return None
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    return None


def _read_all(files: list[Path], layout: _Layout) -> pd.DataFrame:
    frames: list[pd.DataFrame] = []
    problems: list[FileProblem] = []
    omitted = 0
    for path in files:
        try:
            frames.append(_read_one(path, layout))
        except FilesFormatError as exc:
            problems.extend(exc.problems)
            omitted += exc.omitted
    if problems:
        raise FilesFormatError(problems, omitted)
    data = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    _check_duplicates(data, layout.keys)
    columns = [c for c in (*layout.required, *layout.optional) if c in data.columns]
    return data.loc[:, columns].sort_values(list(layout.keys), kind="stable").reset_index(drop=True)


def _read_one(path: Path, layout: _Layout) -> pd.DataFrame:
    """One file, validated: symbol (str), date (datetime64), numbers (float64), plus its name and
    the position of each row for later messages."""
    # Single-file paths with an unknown suffix are read as CSV: the user named the file.
    kind = _kind(path) or "csv"
    shown = str(path)
    if kind == "csv":
        raw, unit, offset = _read_csv(path, shown, layout), "line", 2
    else:
        raw, unit, offset = _read_parquet(path, shown, layout), "row index", 0
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    header_where, header_line = ("line 1", 1) if kind == "csv" else ("schema", None)
    dupes = sorted({c for c in raw.columns if list(raw.columns).count(c) > 1 and c in (*layout.required, *layout.optional)})
    if dupes:
        message = "appears more than once in the header"
        raise FilesFormatError([FileProblem(shown, header_where, (c,), message, header_line) for c in dupes])
    missing = [c for c in layout.required if c not in raw.columns]
    if missing:
        header = ", ".join(map(str, raw.columns)) or "nothing"
        message = f"missing required column (found: {header})"
        raise FilesFormatError([FileProblem(shown, header_where, (c,), message, header_line) for c in missing])

    keep = [c for c in (*layout.required, *layout.optional) if c in raw.columns]
    raw = raw.loc[:, keep]
    positions = np.arange(len(raw)) + offset
    text = {c: _as_text(raw[c]) for c in keep if not _is_typed(raw[c], c, layout)}
    # Blank lines (every field empty) are skipped rather than reported: editors leave them.
    blank = np.ones(len(raw), dtype=bool)
    for c in keep:
        blank &= _is_empty(text[c]) if c in text else raw[c].isna().to_numpy()
    raw, positions = raw.loc[~blank], positions[~blank]
    text = {c: s.loc[~blank] for c, s in text.items()}

    problems: list[FileProblem] = []
    omitted = 0

    def report(mask: np.ndarray, column: str, values: np.ndarray | None, describe) -> None:
        nonlocal omitted
        hits = np.flatnonzero(mask)
        omitted += max(len(hits) - _MAX_KEPT_PROBLEMS, 0)
        for i in hits[:_MAX_KEPT_PROBLEMS]:
            pos = int(positions[i])
            value = None if values is None else values[i]
            problems.append(FileProblem(shown, f"{unit} {pos}", (column,), describe(value), pos))

    out = pd.DataFrame(index=raw.index)
    symbol = text["symbol"] if "symbol" in text else _as_text(raw["symbol"])
    report(_is_empty(symbol), "symbol", None, lambda _v: "missing symbol")
    out["symbol"] = symbol.astype(str)

    date_name = layout.date_column
    date_col = raw[date_name]
    if date_name not in text:
        dates = pd.to_datetime(date_col)
        if isinstance(dates.dtype, pd.DatetimeTZDtype):
            dates = dates.dt.tz_localize(None)  # keep the wall-clock date as written
        dates = dates.dt.normalize()
        report(dates.isna().to_numpy(), date_name, None, lambda _v: "missing date")
    else:
        date_text = text[date_name]
        shaped = date_text.str.match(_DATE_SHAPE).fillna(False).to_numpy(dtype=bool)
        dates = pd.to_datetime(date_text.str.slice(0, 10).where(shaped), format="%Y-%m-%d", errors="coerce")
        empty = _is_empty(date_text)
        bad = dates.isna().to_numpy() & ~empty
        report(empty, date_name, None, lambda _v: "missing date")
        report(bad, date_name, date_text.to_numpy(), lambda v: f"{v!r} is not a date (expected YYYY-MM-DD)")
    out[date_name] = dates.astype("datetime64[ns]")
    for c in layout.text:
        if c in raw.columns:
            values = text[c] if c in text else _as_text(raw[c])
            out[c] = values.where(~pd.Series(_is_empty(values), index=values.index)).astype(object)

    for c in layout.numeric:
        if c not in raw.columns:
            continue
        if c in text:
            values = text[c]
            missing_value = values.str.lower().isin(MISSING_TOKENS).to_numpy(dtype=bool)
            numbers = pd.to_numeric(values.where(~missing_value), errors="coerce").astype("float64").to_numpy()
            bad = ~missing_value & ~np.isfinite(numbers)
            report(bad, c, values.to_numpy(), lambda v: f"{v!r} is not a number")
            numbers = np.where(missing_value, np.nan, numbers)
        else:
            numbers = raw[c].astype("float64").to_numpy()
            bad = np.isinf(numbers)
            report(bad, c, numbers, lambda v: f"{v!r} is not a finite number")
        out[c] = numbers

    if layout is CORPORATE_ACTIONS_LAYOUT:
        _check_events(out, report)
    if problems:
        problems.sort(key=lambda p: p.line or 0)
        raise FilesFormatError(problems, omitted)
    out[_FILE] = shown
    out[_POS] = positions
    return out.reset_index(drop=True)


def _read_csv(path: Path, shown: str, layout: _Layout) -> pd.DataFrame:
    expected = ",".join(layout.required)
    # Blank lines are kept (as empty rows) so row i is always line i + 2.
    options = {"skip_blank_lines": False, "encoding": "utf-8-sig"}
    try:
        header = pd.read_csv(path, nrows=0, **options).columns
        numeric = {c: "float64" for c in header if str(c).strip().lower() in layout.numeric}
        if len(numeric) == len({str(c).strip().lower() for c in numeric}):
            try:
                # Fast path for the usual, well-formed file: the C parser types the numbers.
                raw = pd.read_csv(path, dtype={**{c: str for c in header if c not in numeric}, **numeric},
                                  keep_default_na=False, na_values={c: _NA_SPELLINGS for c in numeric}, **options)
                if all(np.isfinite(raw[c].to_numpy()[raw[c].notna().to_numpy()]).all() for c in numeric):
                    _check_short_lines(path, shown, len(header))
                    return raw.fillna({c: "" for c in header if c not in numeric})
            except (ValueError, TypeError):
                pass
        # Everything as text: the validation then finds and locates whatever is wrong.
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, **options)
        _check_short_lines(path, shown, len(header))
        return raw
    except pd.errors.EmptyDataError:
        message = f"file is empty (expected a header line {expected!r})"
        raise FilesFormatError([FileProblem(shown, "line 1", (layout.required[0],), message, 1)]) from None
    except pd.errors.ParserError as exc:
        match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if match:
            want, line, saw = match.groups()
            raise FilesFormatError(
                [FileProblem(shown, f"line {line}", (), f"{saw} fields where the header has {want}", int(line))]
            ) from None
        raise FilesFormatError([FileProblem(shown, "", (), f"not a readable CSV file: {str(exc).strip()}")]) from None
    except UnicodeDecodeError as exc:
        raise FilesFormatError([FileProblem(shown, "", (), f"not UTF-8 text ({exc.reason} at byte {exc.start})")]) from None


def _check_short_lines(path: Path, shown: str, width: int) -> None:
    """pandas fills a line with fewer fields than the header with missing values; that is a
    truncated or hand-edited line, not missing data, so it is a format error."""
    short = _short_lines(path, width)
    if short:
        problems = [FileProblem(shown, f"line {line}", (), f"{saw} fields where the header has {width}", line)
                    for line, saw in short[:_MAX_KEPT_PROBLEMS]]
        raise FilesFormatError(problems, max(len(short) - _MAX_KEPT_PROBLEMS, 0))


def _short_lines(path: Path, width: int) -> list[tuple[int, int]]:
    """(line, fields) of every non-blank line after the header with fewer than ``width`` fields."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as handle:
        data = handle.read()
    if b'"' in data:
        # Quoted fields may hold commas or newlines: let the csv module count.
        reader = csv.reader(io.StringIO(data.decode("utf-8-sig")))
        out = []
        for row in reader:
            if reader.line_num > 1 and row and any(f.strip() for f in row) and len(row) < width:
                out.append((reader.line_num, len(row)))
        return out
    if not data.endswith(b"\n"):
        data += b"\n"
    chars = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(chars == ord("\n"))
    commas = np.concatenate(([0], np.cumsum(chars == ord(","))))
    starts = np.concatenate(([0], ends[:-1] + 1))
    fields = commas[ends] - commas[starts] + 1
    content = np.concatenate(([0], np.cumsum(~np.isin(chars, np.frombuffer(b" \t\r\n", dtype=np.uint8)))))
    blank = (content[ends] - content[starts]) == 0
    bad = np.flatnonzero((fields < width) & ~blank)
    return [(int(i) + 1, int(fields[i])) for i in bad if i > 0]


def _read_parquet(path: Path, shown: str, layout: _Layout) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a damaged file
        raise FilesFormatError([FileProblem(shown, "", (), f"not a readable Parquet file: {exc}")]) from None
    if frame.shape[1] == 0:
        raise FilesFormatError([FileProblem(shown, "schema", (layout.required[0],), "file is empty (no columns)")])
    return frame.reset_index(drop=True)


def _check_events(out: pd.DataFrame, report) -> None:
    """Section 2a's rules on each event, located: a known kind, a split's ratio > 0, a dividend's
    amount >= 0."""
    kind = out["kind"].fillna("").astype(str).str.lower()
    out["kind"] = kind
    report((~kind.isin(("split", "dividend"))).to_numpy(), "kind", kind.to_numpy(),
           lambda v: f"{v!r} is not a kind of corporate action (split or dividend)")
    ratio = out["ratio"].to_numpy(dtype=float) if "ratio" in out else np.full(len(out), np.nan)
    amount = out["amount"].to_numpy(dtype=float) if "amount" in out else np.full(len(out), np.nan)
    with np.errstate(invalid="ignore"):
        bad_ratio = (kind == "split").to_numpy() & ~(ratio > 0)
        bad_amount = (kind == "dividend").to_numpy() & ~(amount >= 0)
    report(bad_ratio, "ratio", ratio, lambda v: f"a split needs a ratio > 0 (new shares per old share), got {v!r}")
    report(bad_amount, "amount", amount, lambda v: f"a dividend needs an amount >= 0 per share, got {v!r}")


def _is_typed(column: pd.Series, name: str, layout: _Layout) -> bool:
    """Parquet can carry real types; those need no text parsing."""
    if name == layout.date_column:
        return pd.api.types.is_datetime64_any_dtype(column)
    if name in layout.numeric:
        return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
    return False


def _as_text(column: pd.Series) -> pd.Series:
    return column.astype("string").fillna("").str.strip()


def _is_empty(text: pd.Series) -> np.ndarray:
    return (text.str.len() == 0).to_numpy(dtype=bool)


def _check_duplicates(data: pd.DataFrame, keys: tuple[str, ...] = ("symbol", "date")) -> None:
    keys = list(keys)
    later = data.duplicated(keys, keep="first").to_numpy()
    if not later.any():
        return
    grouped = data.groupby(keys, sort=False)
    first_file = grouped[_FILE].transform("first").to_numpy()
    first_pos = grouped[_POS].transform("first").to_numpy()
    rows = data.loc[later].head(_MAX_KEPT_PROBLEMS)
    omitted = int(later.sum()) - len(rows)
    problems = []
    for (sym, day, file, pos, *extra), ffile, fpos in zip(
        rows[[keys[0], keys[1], _FILE, _POS, *keys[2:]]].itertuples(index=False, name=None),
        first_file[later][: len(rows)],
        first_pos[later][: len(rows)],
        strict=True,
    ):
        unit = "line" if not str(file).lower().endswith(PARQUET_SUFFIXES) else "row index"
        funit = "line" if not str(ffile).lower().endswith(PARQUET_SUFFIXES) else "row index"
        if ffile == file:
            plural = "lines" if unit == "line" else "row indexes"
            path, where = file, f"{plural} {fpos} and {pos}"
        else:
            path, where = ffile, f"{funit} {fpos} and {file} {unit} {pos}"
        what = "".join(f" {value}" for value in extra) or " row"
        message = f"duplicate{what} for {sym} on {pd.Timestamp(day).date()}"
        problems.append(FileProblem(str(path), where, tuple(keys[:2]), message, int(fpos)))
    raise FilesFormatError(problems, omitted)
