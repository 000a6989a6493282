"""A data-quality audit of loaded tables that shows problems without personal data.

:func:`audit` reports missing values, duplicates, malformed emails, orphans
and outliers; emails appear only masked (:mod:`segkit.privacy`). The tables
may be pandas, Polars, DuckDB or PySpark frames: each check runs as a query in
their engine, and only counts, fences and a few examples come back, as pandas.

Example
-------
>>> import pandas as pd, segkit as sk
>>> customers = pd.DataFrame({"customer_id": ["c1", "c2"],
...                           "email": ["ann@shop.de", "bob at shop"]})
>>> orders = pd.DataFrame({"order_id": ["o1", "o2"], "customer_id": ["c1", "c9"],
...                        "order_ts": ["2024-01-05", "2024-02-01"], "revenue": ["10", "20"]})
>>> raw = sk.Dataset(orders=orders, customers=customers)
>>> quality = audit(raw, sk.validate(raw, as_of="2025-01-01"))
>>> quality.emails[["rows", "of", "examples"]].values.tolist()
[[1, 2, 'b***']]
>>> quality.orphans.values.tolist()
[['orders', 1, 'c9']]
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd

from segkit.dataset import Dataset
from segkit.frames import as_lazy, collect_small, columns_of, count_true, quantiles_of
from segkit.privacy import mask_email
from segkit.schema import TABLES
from segkit.validation import Validation

#: A pragmatic email shape: one @, no spaces, a dot in the domain.
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
#: What Python's ``\s`` matches (Unicode whitespace), spelled out: the engines' regexes read
#: ``\s`` differently (RE2 in DuckDB and Java in Spark as ASCII whitespace only).
_SPACE = "\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_PART = f"[^@{_SPACE}]"
#: :data:`EMAIL_PATTERN` as two searches every engine reads alike, since ``$`` differs (in
#: Python and Java it also matches before a final newline): an email is well formed when it
#: starts with the shape and has nothing that may not follow, namely a second @, a space or
#: a newline that is not the last character.
_EMAIL_START = f"^{_PART}+@{_PART}+\\.{_PART}"
_EMAIL_BREAK = "@[^@]*@|[" + _SPACE.replace("\n", "") + "]|\n[\\s\\S]"
#: The ledger rule of a row whose customer is not in the customers table.
UNKNOWN_CUSTOMER = "unknown_customer"
#: How many example emails and ids the audit shows.
EXAMPLES = 3


@dataclass
class Audit:
    """Data-quality findings; each attribute is a small frame ready to display.

    ``summary`` has one row per (table, check) with the number of affected rows,
    the input of :func:`segkit.plots.audit_chart`.
    """

    missing: pd.DataFrame
    duplicates: pd.DataFrame
    emails: pd.DataFrame
    orphans: pd.DataFrame
    outliers: pd.DataFrame
    summary: pd.DataFrame


def audit(raw: Dataset, validation: Validation, outlier_iqr: float = 3.0) -> Audit:
    """Audit the tables as loaded (``raw``) together with their validation.

    Parameters
    ----------
    raw : Dataset
        Tables as loaded, before validation: frames of one engine (pandas, Polars,
        DuckDB or PySpark).
    validation : Validation
        The result of :func:`segkit.validate` on ``raw``: ``clean`` tables of that
        engine, ``rejects`` a pandas frame or one of that engine.
    outlier_iqr : float
        A value is an outlier beyond ``Q3 + outlier_iqr × IQR`` (or below
        ``Q1 − outlier_iqr × IQR``) of the clean column; 3 flags far-out values only.

    Returns
    -------
    Audit
        Small pandas frames, the same whatever the engine (a NaN counts as missing,
        as in pandas). Examples are the first found: in row order in a frame in
        memory (pandas, a Polars DataFrame); a lazy frame's rows have no set order,
        so its example ids are the smallest distinct ones and its example emails
        the first the engine returns.
    """
    missing = _missing(raw)
    duplicates = _duplicates(raw)
    emails = _emails(raw.customers)
    orphans = _orphans(validation.rejects)
    outliers = _outliers(validation.clean, outlier_iqr)
    summary = pd.concat(
        [
            missing.assign(check="missing " + missing["column"])[["table", "check", "rows"]],
            duplicates.assign(check="duplicate " + duplicates["kind"])[["table", "check", "rows"]],
            emails.assign(table="customers", check="malformed email")[["table", "check", "rows"]],
            orphans.assign(check="unknown customer")[["table", "check", "rows"]],
            outliers.assign(check="outlier " + outliers["column"])[["table", "check", "rows"]],
        ],
        ignore_index=True,
    )
    summary = summary[summary["rows"] > 0].reset_index(drop=True)
    return Audit(missing, duplicates, emails, orphans, outliers, summary)


def _missing(raw: Dataset) -> pd.DataFrame:
    """Missing values per column of each table, one query per table."""
    rows = []
    for name, native in raw.tables().items():
        lazy, _ = as_lazy(native, name)
        schema = lazy.collect_schema()
        counts = collect_small(
            lazy.select(
                nw.len().alias("rows"),
                *(
                    count_true(_nan_as_missing(column, dtype).is_null()).alias(f"missing_{i}")
                    for i, (column, dtype) in enumerate(schema.items())
                ),
            )
        ).iloc[0]
        of = int(counts["rows"])
        rows += [(name, column, int(counts[f"missing_{i}"]), of) for i, column in enumerate(schema)]
    found = pd.DataFrame(rows, columns=["table", "column", "rows", "of"])
    found["share"] = found["rows"] / found["of"].where(found["of"] > 0)
    return found[found["rows"] > 0].reset_index(drop=True)


def _nan_as_missing(column: str, dtype: nw.dtypes.DType) -> nw.Expr:
    """``column`` with NaN as missing, as pandas reads it (Polars, DuckDB and Spark keep both)."""
    return nw.col(column).fill_nan(None) if dtype.is_float() else nw.col(column)


def _duplicates(raw: Dataset) -> pd.DataFrame:
    """Exact duplicate rows (rows − distinct rows), and repeated keys (order_id, customer_id
    of customers: keys − distinct keys, missing keys left out)."""
    rows = []
    for name, native in raw.tables().items():
        lazy, _ = as_lazy(native, name)
        key = TABLES[name].key
        keyed = key is not None and key in columns_of(lazy)
        measures = [nw.len().alias("rows")]
        if keyed:
            measures += [nw.col(key).count().alias("keys"), nw.col(key).n_unique().alias("ids")]
        counts = collect_small(lazy.select(*measures)).iloc[0]
        distinct = collect_small(lazy.unique().select(nw.len().alias("rows")))["rows"].iloc[0]
        rows.append((name, "row", int(counts["rows"]) - int(distinct)))
        if keyed:
            keys = int(counts["keys"])
            # n_unique counts a missing key as one more value
            distinct_keys = int(counts["ids"]) - (keys < int(counts["rows"]))
            rows.append((name, key, keys - distinct_keys))
    return pd.DataFrame(rows, columns=["table", "kind", "rows"])


def _emails(customers: Any) -> pd.DataFrame:
    """Count of malformed emails with a few masked examples."""
    lazy = as_lazy(customers, "customers")[0] if customers is not None else None
    if lazy is None or "email" not in columns_of(lazy):
        return pd.DataFrame({"rows": [0], "of": [0], "share": [np.nan], "examples": [""]})
    emails = lazy.filter(~nw.col("email").is_null()).select(nw.col("email").cast(nw.String))
    email = nw.col("email")
    malformed = ~email.str.contains(_EMAIL_START) | email.str.contains(_EMAIL_BREAK)
    counts = collect_small(emails.select(nw.len().alias("of"), count_true(malformed).alias("rows")))
    bad, of = int(counts["rows"].iloc[0]), int(counts["of"].iloc[0])
    shown = collect_small(emails.filter(malformed).head(EXAMPLES))["email"] if bad else []
    return pd.DataFrame(
        {
            "rows": [bad],
            "of": [of],
            "share": [bad / of if of else np.nan],
            "examples": [", ".join(map(mask_email, shown))],
        }
    )


def _orphans(rejects: Any) -> pd.DataFrame:
    """Rows whose customer_id is not in the customers table, per table, with example ids.

    ``rejects`` is the ledger, a pandas frame or a frame of any supported engine.
    """
    ledger = nw.from_native(rejects)
    unknown = ledger.filter(nw.col("rule") == UNKNOWN_CUSTOMER).select("table", "value")
    counts = collect_small(unknown.lazy().group_by("table").agg(nw.len().alias("rows")))
    found = [
        (table, int(rows), ", ".join(_example_ids(unknown, table)))
        for table, rows in counts.sort_values("table")[["table", "rows"]].itertuples(index=False)
    ]
    return pd.DataFrame(found, columns=["table", "rows", "example_ids"]).astype({"rows": "int64"})


def _example_ids(unknown: nw.DataFrame | nw.LazyFrame, table: str) -> list[str]:
    """Up to :data:`EXAMPLES` distinct ids of ``table``: the first in ledger order for a frame
    in memory, the smallest for a lazy one (whose rows have no order)."""
    ids = unknown.filter(nw.col("table") == table).select("value")
    if isinstance(ids, nw.DataFrame):
        return ids.unique(keep="first", maintain_order=True).head(EXAMPLES)["value"].to_list()
    return collect_small(ids.unique().sort("value").head(EXAMPLES))["value"].tolist()


def _outliers(clean: Dataset, k: float) -> pd.DataFrame:
    """Values beyond the fences of each numeric column with at least 4 values; per table one
    query counts the values, one takes the quartiles and one counts what lies outside."""
    rows = []
    for name, native in clean.tables().items():
        numeric = [spec.name for spec in TABLES[name].fields if spec.kind in {"float", "int"}]
        if not numeric:
            continue
        lazy, _ = as_lazy(native, name)
        numbers = lazy.select(nw.col(column).cast(nw.Float64).fill_nan(None) for column in numeric)
        counts = collect_small(numbers.select(nw.col(numeric).count())).iloc[0]
        measured = [column for column in numeric if counts[column] >= 4]
        if not measured:
            continue
        fences = _fences(quantiles_of(numbers, measured, (0.25, 0.75)), k)
        outside = [
            count_true((nw.col(column) < low) | (nw.col(column) > high)).alias(f"{column}__out")
            for column, (low, high) in fences.items()
        ]
        stats = collect_small(numbers.select(*outside, nw.col(measured).max())).iloc[0]
        rows += [
            (name, column, int(stats[f"{column}__out"]), low, high, float(stats[column]))
            for column, (low, high) in fences.items()
        ]
    columns = ["table", "column", "rows", "lower_fence", "upper_fence", "max"]
    return pd.DataFrame(rows, columns=columns)


def _fences(quartiles: dict[str, Sequence[float]], k: float) -> dict[str, tuple[float, float]]:
    """``(Q1 − k × IQR, Q3 + k × IQR)`` per column."""
    return {
        column: (q1 - k * (q3 - q1), q3 + k * (q3 - q1)) for column, (q1, q3) in quartiles.items()
    }
