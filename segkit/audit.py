"""A data-quality audit of loaded tables that shows problems without personal data.

:func:`audit` reports missing values, duplicates, malformed emails, orphans
and outliers; emails appear only masked (:mod:`segkit.privacy`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from segkit.dataset import Dataset
from segkit.privacy import mask_email
from segkit.schema import TABLES
from segkit.validation import Validation

#: A pragmatic email shape: one @, no spaces, a dot in the domain.
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


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
        Tables as loaded, before validation.
    validation : Validation
        The result of :func:`segkit.validate` on ``raw``.
    outlier_iqr : float
        A value is an outlier beyond ``Q3 + outlier_iqr × IQR`` (or below
        ``Q1 − outlier_iqr × IQR``) of the clean column; 3 flags far-out values only.
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
    rows = [
        (name, column, int(frame[column].isna().sum()), len(frame))
        for name, frame in raw.tables().items()
        for column in frame.columns
    ]
    found = pd.DataFrame(rows, columns=["table", "column", "rows", "of"])
    found["share"] = found["rows"] / found["of"].where(found["of"] > 0)
    return found[found["rows"] > 0].reset_index(drop=True)


def _duplicates(raw: Dataset) -> pd.DataFrame:
    """Exact duplicate rows, and repeated keys (order_id, customer_id of customers)."""
    rows = []
    for name, frame in raw.tables().items():
        rows.append((name, "row", int(frame.duplicated().sum())))
        key = TABLES[name].key
        if key and key in frame:
            rows.append((name, key, int(frame[key].dropna().duplicated().sum())))
    return pd.DataFrame(rows, columns=["table", "kind", "rows"])


def _emails(customers: pd.DataFrame | None) -> pd.DataFrame:
    """Count of malformed emails with a few masked examples."""
    if customers is None or "email" not in customers:
        return pd.DataFrame({"rows": [0], "of": [0], "share": [np.nan], "examples": [""]})
    emails = customers["email"].dropna().astype(str)
    bad = emails[~emails.str.match(EMAIL_PATTERN)]
    examples = ", ".join(bad.head(3).map(mask_email))
    share = len(bad) / len(emails) if len(emails) else np.nan
    return pd.DataFrame(
        {"rows": [len(bad)], "of": [len(emails)], "share": [share], "examples": [examples]}
    )


def _orphans(rejects: pd.DataFrame) -> pd.DataFrame:
    """Rows whose customer_id is not in the customers table, with example ids."""
    unknown = rejects[rejects["rule"] == "unknown_customer"]
    return unknown.groupby("table", as_index=False).agg(
        rows=("value", "size"),
        example_ids=("value", lambda ids: ", ".join(ids.drop_duplicates().head(3))),
    )


def _outliers(clean: Dataset, k: float) -> pd.DataFrame:
    rows = []
    for name, frame in clean.tables().items():
        for spec in TABLES[name].fields:
            if spec.kind not in {"float", "int"} or frame[spec.name].notna().sum() < 4:
                continue
            values = frame[spec.name].dropna().astype("float64")
            q1, q3 = values.quantile([0.25, 0.75])
            low, high = q1 - k * (q3 - q1), q3 + k * (q3 - q1)
            count = int(((values < low) | (values > high)).sum())
            rows.append((name, spec.name, count, low, high, values.max()))
    columns = ["table", "column", "rows", "lower_fence", "upper_fence", "max"]
    return pd.DataFrame(rows, columns=columns)
