"""Validate a Dataset against the canonical schema and keep a rejects ledger.

Table- and column-level problems (the required ``orders`` table or a required
column missing) stop the run with :class:`~segkit.errors.DataContractError`.
Row-level problems never stop it: each offending row goes to the rejects
ledger with the rule it broke, and ``rows_in = kept + rejected`` for every
table. Rules, in the order they are checked:

==================  ==========================================================
``malformed_line``  a CSV line that could not be parsed (wrong field count)
``type``            a value that cannot be read as the column's kind
``missing_value``   an empty value in a column that must have one
``minimum``         a number below the column's minimum (e.g. revenue < 0)
``maximum``         a number above the column's maximum (e.g. age > 120)
``future_timestamp`` a timestamp after ``as_of`` (default: now)
``duplicate_key``   a repeated order_id / customer_id (the first one is kept)
``unknown_customer`` a customer_id absent from the customers table
``clicks_exceed_impressions`` spend rows with more clicks than impressions
==================  ==========================================================

Example
-------
>>> import segkit as sk
>>> result = sk.validate(sk.simulate(n_customers=300, seed=3))
>>> bool((result.counts.rows_in == result.counts.kept + result.counts.rejected).all())
True
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

with warnings.catch_warnings():
    # pandera imports pyspark.pandas when PySpark is installed (segkit[spark]), which warns
    # that it does not support pandas 3 yet; segkit never uses pandas-on-Spark.
    warnings.filterwarnings("ignore", "PySpark does not yet fully support", FutureWarning)
    import pandera.pandas as pa

from segkit.dataset import Dataset
from segkit.errors import DataContractError
from segkit.privacy import mask_email
from segkit.schema import DTYPES, TABLES, Field, Table

#: pandera's import of pyspark.pandas (above) fails under pandas 3 after its warning, so
#: pandera tries again, and warns again, on the first validation.
_PYSPARK_PANDAS_WARNING = "PySpark does not yet fully support"
LEDGER_COLUMNS = ["table", "row", "line", "rule", "column", "value", "action", "message", "record"]
_NO_PROBLEMS = pd.DataFrame(
    {"row": pd.Series(dtype="int64")}
    | {c: pd.Series(dtype="str") for c in ("rule", "column", "message", "value")}
)
_TRUE = {"true", "t", "yes", "y", "1", "1.0"}
_FALSE = {"false", "f", "no", "n", "0", "0.0"}


@dataclass
class Validation:
    """The outcome of :func:`validate`.

    Attributes
    ----------
    clean : Dataset
        Valid rows of every table, canonical columns first with canonical dtypes.
    rejects : DataFrame
        The ledger: one row per broken rule (``table``, ``row`` = 0-based position
        in the table as loaded, ``line`` for unreadable CSV lines, ``rule``,
        ``column``, ``value``, ``message``, ``record`` = the original row as JSON).
    counts : DataFrame
        ``table``, ``rows_in``, ``kept``, ``rejected`` (distinct rows; ``rows_in =
        kept + rejected``) and ``values_cleared`` (kept rows with a value cleared).
    notes : list of str
        What validation filled in, e.g. optional columns added with defaults.
    """

    clean: Dataset
    rejects: pd.DataFrame
    counts: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def rule_counts(self) -> pd.DataFrame:
        """Rows per table, rule and action in the ledger."""
        return (
            self.rejects.groupby(["table", "rule", "action"], as_index=False, sort=True)
            .agg(rows=("rule", "size"))
            .sort_values(["table", "rows"], ascending=[True, False], ignore_index=True)
        )

    def rejects_preview(self, n: int = 10) -> pd.DataFrame:
        """The first ``n`` ledger entries per table and rule, personal data masked.

        The ``record`` column (the full original row) is left out; values of
        personal-data columns such as ``email`` are masked.
        """
        ledger = self.rejects.groupby(["table", "rule"], sort=False).head(n)
        pii = ledger["column"].isin([c for t in TABLES.values() for c in t.pii_columns])
        return (
            ledger.drop(columns="record")
            .assign(value=ledger["value"].where(~pii, ledger["value"].map(mask_email)))
            .reset_index(drop=True)
        )


def validate(data: Dataset, as_of: str | pd.Timestamp | None = None) -> Validation:
    """Check every table of ``data``; return the clean tables and the rejects ledger.

    Parameters
    ----------
    data : Dataset
        Tables with canonical column names (see :mod:`segkit.schema`); extra
        columns are kept after the canonical ones. Not modified.
    as_of : timestamp, optional
        Timestamps after it are rejected as ``future_timestamp``; default now (UTC).

    Raises
    ------
    DataContractError
        When ``orders`` or a required column of a present table is missing.
    """
    if data.orders is None:
        raise DataContractError(
            "orders", None, "an orders table (the only required table)", "no orders in the source"
        )
    as_of = pd.Timestamp.now(tz="UTC").tz_localize(None) if as_of is None else _naive(as_of)
    clean, ledgers, counts, notes = {}, [], [], []
    for name, frame in data.tables().items():
        schema = TABLES[name]
        _require_columns(schema, frame)
        kept, ledger, added = _validate_table(schema, frame, as_of, clean.get("customers"))
        lines = _unreadable_ledger(name, data.unreadable)
        clean[name] = kept
        ledgers += [ledger, lines]
        rejected = ledger.loc[ledger["action"] == "rejected", "row"].nunique() + len(lines)
        cleared = ledger.loc[ledger["action"] == "cleared", "row"].nunique()
        counts.append((name, len(frame) + len(lines), len(kept), rejected, cleared))
        notes += [
            f"{name}: column '{c}' absent, filled with {schema.field(c).default!r}" for c in added
        ]
    rejects = pd.concat(ledgers, ignore_index=True).astype({"row": "Int64", "line": "Int64"})
    columns = ["table", "rows_in", "kept", "rejected", "values_cleared"]
    return Validation(data.replace(**clean), rejects, pd.DataFrame(counts, columns=columns), notes)


def _validate_table(
    schema: Table, frame: pd.DataFrame, as_of: pd.Timestamp, customers: pd.DataFrame | None
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Kept rows, ledger entries and defaulted columns of one table."""
    typed, type_problems, added = _typed(schema, frame)
    problems = pd.concat([type_problems, _rule_violations(schema, typed, as_of)])
    problems = problems.drop_duplicates(["row", "column"]).reset_index(drop=True)
    clearable = problems["column"].isin([f.name for f in schema.fields if f.on_error == "clear"])
    problems["action"] = np.where(clearable, "cleared", "rejected")
    for column, rows in problems[clearable].groupby("column")["row"]:
        typed.loc[rows.to_numpy(), column] = schema.field(column).default
    rejected = problems.loc[~clearable, "row"]
    relational = _relational_violations(schema, typed, rejected, customers).assign(
        action="rejected"
    )
    problems = pd.concat([problems, relational], ignore_index=True)
    dropped = problems.loc[problems["action"] == "rejected", "row"].unique()
    kept = typed.drop(index=dropped).reset_index(drop=True)
    return kept, _ledger(schema.name, frame, problems), added


def _naive(ts: str | pd.Timestamp) -> pd.Timestamp:
    ts = pd.Timestamp(ts)
    return ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo else ts


def _require_columns(schema: Table, frame: pd.DataFrame) -> None:
    for name in schema.required_columns:
        if name not in frame.columns:
            spec = schema.field(name)
            raise DataContractError(
                schema.name,
                name,
                f"a {spec.kind} column ({spec.description})",
                f"columns {list(frame.columns)}; map yours with a columns: entry",
            )


def _typed(schema: Table, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Canonical dtypes for every field; values that cannot be converted are problems.

    Empty values of a field with a default take the default (absent consent is no consent).
    """
    frame = frame.reset_index(drop=True)
    columns, problems, added = {}, [], []
    for spec in schema.fields:
        if spec.name not in frame.columns:
            added += [spec.name] if spec.default is not None else []
            fill = spec.default if spec.default is not None else None
            columns[spec.name] = pd.Series([fill] * len(frame), dtype=DTYPES[spec.kind])
            continue
        raw = frame[spec.name]
        converted = convert(raw, spec)
        failed = raw.notna() & converted.isna() & (raw.astype(str).str.strip() != "")
        problems.append(_problems(failed, spec.name, "type", f"not a valid {spec.kind}", raw))
        if spec.default is not None:
            converted = converted.where(failed | converted.notna(), spec.default)
        columns[spec.name] = converted
    extra = [c for c in frame.columns if c not in schema.columns]
    typed = pd.concat([pd.DataFrame(columns, index=frame.index), frame[extra]], axis=1)
    return typed, pd.concat([_NO_PROBLEMS, *problems], ignore_index=True), added


def convert(values: pd.Series, spec: Field) -> pd.Series:
    """``values`` as the dtype of ``spec.kind``; what cannot be converted becomes missing."""
    kind = spec.kind
    if kind in {"id", "string"}:
        if pd.api.types.is_float_dtype(values) and (values.dropna() % 1 == 0).all():
            values = values.astype("Int64")
        text = values.astype("str").str.strip().where(values.notna())
        return text.where(text != "").astype("str")
    if kind in {"timestamp", "date"}:
        stamps = _timestamps(values)
        return stamps.dt.normalize() if kind == "date" else stamps
    if kind == "bool":
        if pd.api.types.is_bool_dtype(values):
            return values.astype("boolean")
        text = values.astype("str").str.strip().str.lower()
        mapped = text.map(lambda v: True if v in _TRUE else False if v in _FALSE else None)
        return mapped.where(values.notna()).astype("boolean")
    numbers = pd.to_numeric(values, errors="coerce")
    if kind == "int":
        numbers = numbers.where(numbers % 1 == 0)
    return numbers.astype(DTYPES[kind])


def _timestamps(values: pd.Series) -> pd.Series:
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    elif not pd.api.types.is_datetime64_any_dtype(values):
        text = values.astype("str").where(values.notna())
        parsed = pd.to_datetime(text, errors="coerce", format="ISO8601", utc=True)
        if parsed.isna().all() and text.notna().any():
            parsed = pd.to_datetime(text, errors="coerce", format="mixed", utc=True)
        values = parsed.dt.tz_localize(None)
    return values.astype("datetime64[us]")


def _problems(
    mask: pd.Series, column: str, rule: str, message: str, values: pd.Series
) -> pd.DataFrame:
    rows = np.flatnonzero(mask.to_numpy(dtype=bool))
    return pd.DataFrame(
        {
            "row": rows,
            "rule": rule,
            "column": column,
            "message": message,
            "value": values.iloc[rows].astype("str").to_numpy() if len(rows) else [],
        }
    )


def _pandera_schema(schema: Table, as_of: pd.Timestamp) -> pa.DataFrameSchema:
    """The value rules of a table as a pandera schema (nullability, bounds, future)."""
    columns = {}
    for spec in schema.fields:
        checks = []
        if spec.minimum is not None:
            checks.append(pa.Check(lambda s, m=spec.minimum: s >= m, name="minimum"))
        if spec.maximum is not None:
            checks.append(pa.Check(lambda s, m=spec.maximum: s <= m, name="maximum"))
        if spec.not_future:
            checks.append(pa.Check(lambda s: s <= as_of, name="future_timestamp"))
        columns[spec.name] = pa.Column(nullable=spec.nullable, checks=checks)
    return pa.DataFrameSchema(columns)


def _rule_violations(schema: Table, typed: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", _PYSPARK_PANDAS_WARNING, FutureWarning)
            _pandera_schema(schema, as_of).validate(typed, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases.dropna(subset=["index"])
        rule = cases["check"].where(cases["check"] != "not_nullable", "missing_value")
        messages = {
            "missing_value": "a value is required",
            "minimum": "below the minimum",
            "maximum": "above the maximum",
            "future_timestamp": f"after as_of {as_of}",
        }
        return pd.DataFrame(
            {
                "row": cases["index"].astype(int).to_numpy(),
                "rule": rule.to_numpy(),
                "column": cases["column"].to_numpy(),
                "message": rule.map(messages).to_numpy(),
                "value": cases["failure_case"].astype("str").to_numpy(),
            }
        )
    return _NO_PROBLEMS


def _relational_violations(
    schema: Table, typed: pd.DataFrame, rejected: pd.Series, customers: pd.DataFrame | None
) -> pd.DataFrame:
    """Duplicate keys (among otherwise valid rows), unknown customers, clicks > impressions."""
    invalid = typed.index.isin(rejected)
    found = []
    if schema.key:
        duplicated = typed[schema.key].duplicated() & ~invalid
        found.append(
            _problems(
                duplicated,
                schema.key,
                "duplicate_key",
                f"{schema.key} seen in an earlier row",
                typed[schema.key],
            )
        )
    if schema.references_customers and customers is not None:
        ids = typed["customer_id"]
        unknown = ~ids.isin(customers["customer_id"]) & ids.notna()
        found.append(
            _problems(
                unknown,
                "customer_id",
                "unknown_customer",
                "customer_id not in the customers table",
                typed["customer_id"],
            )
        )
    if schema.name == "spend":
        excess = (typed["clicks"] > typed["impressions"]).fillna(False)
        found.append(
            _problems(
                excess,
                "clicks",
                "clicks_exceed_impressions",
                "more clicks than impressions",
                typed["clicks"],
            )
        )
    return pd.concat([_NO_PROBLEMS, *found], ignore_index=True)


def _ledger(table: str, original: pd.DataFrame, problems: pd.DataFrame) -> pd.DataFrame:
    problems = problems.sort_values(["row", "column"], kind="stable").reset_index(drop=True)
    rows = problems["row"].astype(int).to_numpy()
    records = original.reset_index(drop=True).iloc[np.unique(rows)]
    as_json = {
        row: json.dumps(rec, default=str)
        for row, rec in zip(records.index, records.to_dict("records"), strict=True)
    }
    return problems.assign(table=table, line=pd.NA, record=[as_json[r] for r in rows])[
        LEDGER_COLUMNS
    ]


def _unreadable_ledger(table: str, unreadable: pd.DataFrame | None) -> pd.DataFrame:
    if unreadable is None or unreadable.empty:
        return pd.DataFrame(columns=LEDGER_COLUMNS)
    lines = unreadable[unreadable["table"] == table]
    return pd.DataFrame(
        {
            "table": table,
            "row": pd.NA,
            "line": lines["line"].to_numpy(),
            "rule": "malformed_line",
            "column": pd.NA,
            "value": pd.NA,
            "action": "rejected",
            "message": lines["error"].to_numpy(),
            "record": lines["text"].to_numpy(),
        }
    )[LEDGER_COLUMNS]
