"""Insider transactions and institutional holdings as typed frames: data for users, not inputs
to the methodology. A provider's rows are normalised here (columns, types, upper-case symbols)
and every insider transaction gets ``transaction_id``, a hash of its own fields, so a
transaction a provider repeats on every fetch is stored once."""

from __future__ import annotations

import hashlib

import pandas as pd

INSIDER_COLUMNS = ("transaction_id", "symbol", "date", "insider", "position", "shares", "value", "is_direct", "description")
HOLDINGS_COLUMNS = ("symbol", "date_reported", "holder", "shares", "value", "percent_held")


class OwnershipDataError(ValueError):
    """Rows that cannot be stored (a missing symbol, date, name or share count); the message
    names the first."""


def _require(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise OwnershipDataError(f"{what}: missing column(s) {', '.join(missing)}")


def _text(values: pd.Series) -> pd.Series:
    return values.where(values.notna(), None).map(lambda v: None if v is None else str(v).strip() or None)


def _transaction_id(row: tuple) -> str:
    return hashlib.sha1("\x1f".join("" if v is None or v != v else str(v) for v in row).encode()).hexdigest()


def normalize_insider(frame: pd.DataFrame) -> pd.DataFrame:
    """``symbol, date, insider, shares`` required; ``position, value, is_direct, description``
    optional. Returns :data:`INSIDER_COLUMNS`, one row per distinct transaction."""
    _require(frame, ("symbol", "date", "insider", "shares"), "insider transactions")
    out = pd.DataFrame({
        "symbol": frame["symbol"].astype(str).str.strip().str.upper(),
        "date": pd.to_datetime(frame["date"], errors="coerce").dt.normalize(),
        "insider": _text(frame["insider"]),
        "position": _text(frame["position"]) if "position" in frame else None,
        "shares": pd.to_numeric(frame["shares"], errors="coerce"),
        "value": pd.to_numeric(frame["value"], errors="coerce") if "value" in frame else float("nan"),
        "is_direct": frame["is_direct"].map(lambda v: None if pd.isna(v) else str(v).strip().lower() in ("1", "true", "yes", "direct"))
        if "is_direct" in frame else None,
        "description": _text(frame["description"]) if "description" in frame else None,
    })
    bad = out[(out["symbol"] == "") | out["date"].isna() | out["insider"].isna() | out["shares"].isna()]
    if len(bad):
        i = bad.index[0]
        raise OwnershipDataError(f"insider transactions: row {i} lacks a symbol, a date, an insider or a share count")
    keyed = out.loc[:, list(INSIDER_COLUMNS[1:])]
    out.insert(0, "transaction_id", [_transaction_id(r) for r in keyed.itertuples(index=False, name=None)])
    return out.drop_duplicates("transaction_id").reset_index(drop=True).loc[:, list(INSIDER_COLUMNS)]


def normalize_holdings(frame: pd.DataFrame) -> pd.DataFrame:
    """``symbol, date_reported, holder, shares`` required; ``value, percent_held`` optional. A
    holder reported twice for the same date keeps its last row."""
    _require(frame, ("symbol", "date_reported", "holder", "shares"), "institutional holdings")
    out = pd.DataFrame({
        "symbol": frame["symbol"].astype(str).str.strip().str.upper(),
        "date_reported": pd.to_datetime(frame["date_reported"], errors="coerce").dt.normalize(),
        "holder": _text(frame["holder"]),
        "shares": pd.to_numeric(frame["shares"], errors="coerce"),
        "value": pd.to_numeric(frame["value"], errors="coerce") if "value" in frame else float("nan"),
        "percent_held": pd.to_numeric(frame["percent_held"], errors="coerce") if "percent_held" in frame else float("nan"),
    })
    bad = out[(out["symbol"] == "") | out["date_reported"].isna() | out["holder"].isna() | out["shares"].isna()]
    if len(bad):
        raise OwnershipDataError(f"institutional holdings: row {bad.index[0]} lacks a symbol, a date, a holder or a share count")
    out = out.drop_duplicates(["symbol", "date_reported", "holder"], keep="last").reset_index(drop=True)
    return out.loc[:, list(HOLDINGS_COLUMNS)]
