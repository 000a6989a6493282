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

The tables' kind of frame chooses one of two paths, with the same rules and messages:

* **pandas** (every table a pandas DataFrame, e.g. read from CSV): values are
  parsed from text (what cannot be read is a ``type`` problem), pandera checks
  the value rules, and the ledger is a pandas frame with each row's position and
  the row as JSON. The first of duplicate keys in table order is kept.
* **engine** (every table a Polars, DuckDB or PySpark frame, e.g. read from
  Parquet or a Spark/SQL table): columns must already have their type (a column
  of another dtype is a :class:`~segkit.errors.DataContractError`), every rule
  runs as a narwhals expression in that engine, and only the counts are
  collected. ``clean`` and the ledger are frames of the same engine, computed
  when used; the ledger's ``row`` and ``line`` are null (Spark has no row
  positions; unreadable CSV lines do not arise). Of duplicate keys the earliest
  by the table's first timestamp column is kept (ties keep any one of them).

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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd

with warnings.catch_warnings():
    # pandera imports pyspark.pandas when PySpark is installed (segkit[spark]), which warns
    # that it does not support pandas 3 yet; segkit never uses pandas-on-Spark.
    warnings.filterwarnings("ignore", "PySpark does not yet fully support", FutureWarning)
    import pandera.pandas as pa

from segkit.dataset import Dataset
from segkit.engines import engine_of
from segkit.errors import DataContractError
from segkit.frames import (
    TIMESTAMP,
    as_lazy,
    collect_small,
    columns_of,
    count_true,
    timestamp_column,
)
from segkit.privacy import mask_email
from segkit.schema import DTYPES, TABLES, Field, Table

#: pandera's import of pyspark.pandas (above) fails under pandas 3 after its warning, so
#: pandera tries again, and warns again, on the first validation.
_PYSPARK_PANDAS_WARNING = "PySpark does not yet fully support"
LEDGER_COLUMNS = ["table", "row", "line", "rule", "column", "value", "action", "message", "record"]
_COUNTS = ["table", "rows_in", "kept", "rejected", "values_cleared"]
#: The ledger message of each row rule both paths check; ``{as_of}`` and ``{key}`` (the
#: table's key) are filled in by :func:`_messages`.
MESSAGES = {
    "missing_value": "a value is required",
    "minimum": "below the minimum",
    "maximum": "above the maximum",
    "future_timestamp": "after as_of {as_of}",
    "duplicate_key": "{key} seen in an earlier row",
    "unknown_customer": "customer_id not in the customers table",
    "clicks_exceed_impressions": "more clicks than impressions",
}
_NO_PROBLEMS = pd.DataFrame(
    {"row": pd.Series(dtype="int64")}
    | {c: pd.Series(dtype="str") for c in ("rule", "column", "message", "value")}
)
_TRUE = {"true", "t", "yes", "y", "1", "1.0"}
_FALSE = {"false", "f", "no", "n", "0", "0.0"}
_PII_COLUMNS = [c for t in TABLES.values() for c in t.pii_columns]


@dataclass
class Validation:
    """The outcome of :func:`validate`.

    Attributes
    ----------
    clean : Dataset
        Valid rows of every table, canonical columns first with canonical dtypes,
        as frames of the input's engine (lazy where the engine is).
    rejects : DataFrame or engine frame
        The ledger: one row per broken rule (``table``, ``row`` = 0-based position
        in the table as loaded, ``line`` for unreadable CSV lines, ``rule``,
        ``column``, ``value``, ``action`` = rejected or cleared, ``message``,
        ``record`` = the original row as JSON). A pandas frame on the pandas path;
        on the engine path a lazy frame of the tables' engine, ``row`` and ``line``
        null, ``record`` a JSON object of the row's values as the engine casts them
        to text, e.g. ``{"order_id": "o7", "revenue": "-3.0", "items": null}``.
    counts : DataFrame
        ``table``, ``rows_in``, ``kept``, ``rejected`` (distinct rows; ``rows_in =
        kept + rejected``) and ``values_cleared`` (rows with a value cleared).
    notes : list of str
        What validation filled in, e.g. optional columns added with defaults.
    """

    clean: Dataset
    rejects: Any
    counts: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def rule_counts(self) -> pd.DataFrame:
        """Rows per table, rule and action in the ledger (counted by its engine)."""
        keys = ["table", "rule", "action"]
        if isinstance(self.rejects, pd.DataFrame):
            counts = self.rejects.groupby(keys, as_index=False, sort=True).agg(
                rows=("rule", "size")
            )
        else:
            ledger, _ = as_lazy(self.rejects, "rejects")
            counts = collect_small(
                ledger.group_by(keys).agg(nw.len().cast(nw.Int64).alias("rows")).sort(keys)
            )
        return counts.sort_values(["table", "rows"], ascending=[True, False], ignore_index=True)

    def rejects_preview(self, n: int = 10) -> pd.DataFrame:
        """The first ``n`` ledger entries per table and rule, personal data masked.

        The ``record`` column (the full original row) is left out; values of
        personal-data columns such as ``email`` are masked. From an engine's
        ledger at most ``n`` entries per table and rule are collected (the first
        by their record's text).
        """
        if isinstance(self.rejects, pd.DataFrame):
            ledger = self.rejects.groupby(["table", "rule"], sort=False).head(n)
            ledger = ledger.drop(columns="record")
        else:
            ledger = _first_entries(self.rejects, n)
        pii = ledger["column"].isin(_PII_COLUMNS)
        return ledger.assign(
            value=ledger["value"].where(~pii, ledger["value"].map(mask_email))
        ).reset_index(drop=True)


def validate(data: Dataset, as_of: str | pd.Timestamp | None = None) -> Validation:
    """Check every table of ``data``; return the clean tables and the rejects ledger.

    Parameters
    ----------
    data : Dataset
        Tables with canonical column names (see :mod:`segkit.schema`); extra
        columns are kept after the canonical ones. Not modified. Either every
        table is a pandas DataFrame (values are parsed from text) or every table
        is a typed frame of one other engine (validated in that engine).
    as_of : timestamp, optional
        Timestamps after it are rejected as ``future_timestamp``; default now (UTC).

    Raises
    ------
    DataContractError
        When ``orders`` or a required column of a present table is missing, or,
        on an engine, when a column's dtype does not fit its kind.
    TypeError
        When the tables are frames of different engines.
    """
    if data.orders is None:
        raise DataContractError(
            "orders", None, "an orders table (the only required table)", "no orders in the source"
        )
    as_of = pd.Timestamp.now(tz="UTC").tz_localize(None) if as_of is None else _naive(as_of)
    engine = _engine(data.tables())
    if engine == "pandas":
        return _validate_pandas(data, as_of)
    return _validate_in_engine(data, engine, as_of)


def _engine(tables: dict[str, Any]) -> str:
    """The engine every table is a frame of; a ``TypeError`` names two that differ."""
    engines = {name: engine_of(frame) for name, frame in tables.items()}
    first, engine = next(iter(engines.items()))
    for name, other in engines.items():
        if other != engine:
            raise TypeError(
                f"{name}: a {other} frame, but {first} is a {engine} frame; "
                "validate needs every table in one engine"
            )
    return engine


def _naive(ts: str | pd.Timestamp) -> pd.Timestamp:
    ts = pd.Timestamp(ts)
    return ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo else ts


def _require_columns(schema: Table, columns: list[str]) -> None:
    for name in schema.required_columns:
        if name not in columns:
            spec = schema.field(name)
            raise DataContractError(
                schema.name,
                name,
                f"a {spec.kind} column ({spec.description})",
                f"columns {columns}; map yours with a columns: entry",
            )


def _notes(schema: Table, added: list[str]) -> list[str]:
    return [
        f"{schema.name}: column '{c}' absent, filled with {schema.field(c).default!r}"
        for c in added
    ]


def _messages(schema: Table, as_of: pd.Timestamp) -> dict[str, str]:
    """The ledger message of each rule of :data:`MESSAGES` for ``schema``'s table."""
    return {rule: text.format(as_of=as_of, key=schema.key) for rule, text in MESSAGES.items()}


def _bounds(spec: Field, as_of: Any) -> list[tuple[str, Callable[[Any], Any]]]:
    """The bound rules of ``spec`` as (rule, passes): ``passes(values)`` holds where a value
    keeps the rule. ``values`` is a pandas Series (pandera) or a narwhals expression."""
    bounds = []
    if spec.minimum is not None:
        bounds.append(("minimum", lambda values, m=spec.minimum: values >= m))
    if spec.maximum is not None:
        bounds.append(("maximum", lambda values, m=spec.maximum: values <= m))
    if spec.not_future:
        bounds.append(("future_timestamp", lambda values: values <= as_of))
    return bounds


def _cleared_columns(schema: Table) -> list[str]:
    """Fields whose invalid values are cleared to their default instead of rejecting the row."""
    return [f.name for f in schema.fields if f.on_error == "clear"]


def _relational_rules(schema: Table, customers_present: bool) -> list[tuple[str, str]]:
    """(rule, column) of the rules that compare rows with each other or with customers."""
    rules = [("duplicate_key", schema.key)] if schema.key else []
    if schema.references_customers and customers_present:
        rules.append(("unknown_customer", "customer_id"))
    if schema.name == "spend":
        rules.append(("clicks_exceed_impressions", "clicks"))
    return rules


# --- the pandas path ------------------------------------------------------------------


def _validate_pandas(data: Dataset, as_of: pd.Timestamp) -> Validation:
    """Validate pandas tables: parse, check with pandera, ledger with row positions."""
    clean, ledgers, counts, notes = {}, [], [], []
    for name, frame in data.tables().items():
        schema = TABLES[name]
        _require_columns(schema, list(frame.columns))
        kept, ledger, added = _validate_table(schema, frame, as_of, clean.get("customers"))
        lines = _unreadable_ledger(name, data.unreadable)
        clean[name] = kept
        ledgers += [ledger, lines]
        rejected = ledger.loc[ledger["action"] == "rejected", "row"].nunique() + len(lines)
        cleared = ledger.loc[ledger["action"] == "cleared", "row"].nunique()
        counts.append((name, len(frame) + len(lines), len(kept), rejected, cleared))
        notes += _notes(schema, added)
    rejects = pd.concat(ledgers, ignore_index=True).astype({"row": "Int64", "line": "Int64"})
    return Validation(data.replace(**clean), rejects, pd.DataFrame(counts, columns=_COUNTS), notes)


def _validate_table(
    schema: Table, frame: pd.DataFrame, as_of: pd.Timestamp, customers: pd.DataFrame | None
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Kept rows, ledger entries and defaulted columns of one table."""
    messages = _messages(schema, as_of)
    typed, type_problems, added = _typed(schema, frame)
    problems = pd.concat([type_problems, _rule_violations(schema, typed, as_of, messages)])
    problems = problems.drop_duplicates(["row", "column"]).reset_index(drop=True)
    clearable = problems["column"].isin(_cleared_columns(schema))
    problems["action"] = np.where(clearable, "cleared", "rejected")
    for column, rows in problems[clearable].groupby("column")["row"]:
        typed.loc[rows.to_numpy(), column] = schema.field(column).default
    rejected = problems.loc[~clearable, "row"]
    relational = _relational_violations(schema, typed, rejected, customers, messages).assign(
        action="rejected"
    )
    problems = pd.concat([problems, relational], ignore_index=True)
    dropped = problems.loc[problems["action"] == "rejected", "row"].unique()
    kept = typed.drop(index=dropped).reset_index(drop=True)
    return kept, _ledger(schema.name, frame, problems), added


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
    columns = {
        spec.name: pa.Column(
            nullable=spec.nullable,
            checks=[pa.Check(passes, name=rule) for rule, passes in _bounds(spec, as_of)],
        )
        for spec in schema.fields
    }
    return pa.DataFrameSchema(columns)


def _rule_violations(
    schema: Table, typed: pd.DataFrame, as_of: pd.Timestamp, messages: dict[str, str]
) -> pd.DataFrame:
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", _PYSPARK_PANDAS_WARNING, FutureWarning)
            _pandera_schema(schema, as_of).validate(typed, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases.dropna(subset=["index"])
        rule = cases["check"].where(cases["check"] != "not_nullable", "missing_value")
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
    schema: Table,
    typed: pd.DataFrame,
    rejected: pd.Series,
    customers: pd.DataFrame | None,
    messages: dict[str, str],
) -> pd.DataFrame:
    """Duplicate keys (among otherwise valid rows), unknown customers, clicks > impressions."""
    invalid = typed.index.isin(rejected)
    found = []
    for rule, column in _relational_rules(schema, customers is not None):
        values = typed[column]
        if rule == "duplicate_key":
            broken = values.duplicated() & ~invalid
        elif rule == "unknown_customer":
            broken = ~values.isin(customers[column]) & values.notna()
        else:
            broken = (values > typed["impressions"]).fillna(False)
        found.append(_problems(broken, column, rule, messages[rule], values))
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


# --- the engine path ------------------------------------------------------------------

#: Per kind, on the engine path: the narwhals dtype of the validated column, and the dtypes
#: a source column may have (described, and as a test); it is cast, never parsed from text.
_TEXT = (nw.String, "String or any integer", lambda d: d == nw.String or d.is_integer())
_STAMP = (TIMESTAMP, "Datetime or Date", lambda d: d == nw.Datetime or d == nw.Date)
_ENGINE_KINDS: dict[str, tuple[Any, str, Callable[[Any], bool]]] = {
    "id": _TEXT,
    "string": _TEXT,
    "timestamp": _STAMP,
    "date": _STAMP,
    "bool": (nw.Boolean, "Boolean", lambda d: d == nw.Boolean),
    "int": (nw.Int64, "any integer", lambda d: d.is_integer()),
    "float": (nw.Float64, "any numeric", lambda d: d.is_numeric()),
}
#: The working columns the engine path adds to a table (and leaves out of its results).
_INVALID = "__segkit_invalid"  # a value rule rejects the row
_UNDATED = "__segkit_undated"  # the row has no timestamp to order duplicates by
_FIRST = "__segkit_first"  # the row is the one kept of its key
_KNOWN = "__segkit_known"  # the row's customer_id is a clean customer's
_REJECTED = "__segkit_rejected"
_CLEARED = "__segkit_cleared"  # a value of the row is cleared
_RECORD = "__segkit_record"
_PROBLEM = "__segkit_problem"
_RANK = "__segkit_rank"
#: A problem is one string, the rule padded to this width and then the offending value, so
#: one unpivot turns a row's problems into ledger rows (see :func:`_problem_code`).
_RULE_WIDTH = max(map(len, MESSAGES))


def _value_of(column: str) -> str:
    """The working column holding ``column``'s typed value."""
    return f"__segkit_value_{column}"


def _problem_of(column: str) -> str:
    """The working column holding ``column``'s problem (null when it has none)."""
    return f"__segkit_problem_{column}"


def _validate_in_engine(data: Dataset, engine: str, as_of: pd.Timestamp) -> Validation:
    """Validate typed frames of one engine with narwhals; only the counts are collected."""
    kept, clean, ledgers, counts, notes = {}, {}, [], [], []
    for name, native in data.tables().items():
        schema = TABLES[name]
        lazy, back = as_lazy(native, name)
        _require_columns(schema, columns_of(lazy))
        work, added = _checked(schema, lazy, engine, as_of, kept.get("customers"))
        kept[name] = _kept(schema, lazy, work)
        clean[name] = back(kept[name])
        ledgers.append(_engine_ledger(schema, lazy, work, as_of))
        counts.append((name, *_engine_counts(work)))
        notes += _notes(schema, added)
    rejects = nw.concat(ledgers, how="vertical").to_native()
    return Validation(data.replace(**clean), rejects, pd.DataFrame(counts, columns=_COUNTS), notes)


def _checked(
    schema: Table,
    lazy: nw.LazyFrame,
    engine: str,
    as_of: pd.Timestamp,
    customers: nw.LazyFrame | None,
) -> tuple[nw.LazyFrame, list[str]]:
    """``lazy`` with working columns, and the optional fields it lacked (given defaults).

    Working columns: every field's typed value (:func:`_value_of`) and problem
    (:func:`_problem_of`: the first rule the value breaks, one per row and column),
    whether the row is rejected (``_REJECTED``) and whether a value of it is cleared
    (``_CLEARED``).
    """
    dtypes = lazy.collect_schema()
    values, added = [], []
    for spec in schema.fields:
        if spec.name in dtypes:
            value = _engine_value(lazy, spec, dtypes[spec.name], engine, schema.name)
        else:
            added += [spec.name] if spec.default is not None else []
            value = nw.lit(spec.default, _ENGINE_KINDS[spec.kind][0])
        values.append(value.alias(_value_of(spec.name)))
    as_of_value = as_of.to_pydatetime()
    cleared = _cleared_columns(schema)
    work = lazy.with_columns(*values).with_columns(
        *(_value_problem(spec, as_of_value).alias(_problem_of(spec.name)) for spec in schema.fields)
    )
    problems = {c: ~nw.col(_problem_of(c)).is_null() for c in schema.columns}
    work = work.with_columns(
        _any(problems[c] for c in schema.columns if c not in cleared).alias(_INVALID)
    )
    work, relational = _relational_flags(schema, work, customers)
    work = work.with_columns(
        nw.coalesce(
            nw.col(_problem_of(column)),
            nw.when(broken).then(_problem_code(rule, nw.col(_value_of(column)))),
        ).alias(_problem_of(column))
        for rule, column, broken in relational
    )
    return work.with_columns(
        (nw.col(_INVALID) | _any(broken for _, _, broken in relational)).alias(_REJECTED),
        _any(problems[c] for c in cleared).alias(_CLEARED),
    ), added


def _engine_value(lazy: nw.LazyFrame, spec: Field, dtype: Any, engine: str, table: str) -> nw.Expr:
    """``spec``'s column cast to its kind's dtype; a DataContractError if it does not fit.

    Text is stripped and empty text is missing, floats' NaN is missing, dates are
    midnight and timestamps naive UTC (:func:`~segkit.frames.timestamp_column`), and
    missing values of a field with a default take the default, as on the pandas path.
    """
    target, accepted, fits = _ENGINE_KINDS[spec.kind]
    if not fits(dtype):
        raise DataContractError(
            table,
            spec.name,
            f"a {spec.kind} column, dtype {accepted}; on the {engine} engine columns must "
            "already have their type (cast it in the query, or load the CSV with the pandas "
            "engine)",
            f"dtype {dtype}",
        )
    column = nw.col(spec.name)
    if spec.kind in {"id", "string"}:
        text = column.cast(nw.String).str.strip_chars()
        value = nw.when(text != "").then(text)
    elif spec.kind in {"timestamp", "date"}:
        value = timestamp_column(lazy, spec.name, table)
        value = value.dt.date().cast(TIMESTAMP) if spec.kind == "date" else value
    elif spec.kind == "float":
        number = column.cast(target)
        value = nw.when(~number.is_nan()).then(number)
    else:
        value = column.cast(target)
    return value if spec.default is None else value.fill_null(spec.default)


def _value_problem(spec: Field, as_of: Any) -> nw.Expr:
    """The first value rule (missing, bounds, future) ``spec``'s typed value breaks, encoded."""
    value = nw.col(_value_of(spec.name))
    rules = [] if spec.nullable else [("missing_value", value.is_null())]
    rules += [(rule, ~passes(value)) for rule, passes in _bounds(spec, as_of)]
    problem = nw.lit(None, nw.String)
    for rule, broken in reversed(rules):
        problem = nw.when(broken).then(_problem_code(rule, value)).otherwise(problem)
    return problem


def _problem_code(rule: str, value: nw.Expr) -> nw.Expr:
    """``rule`` padded to :data:`_RULE_WIDTH`, then ``value`` as text ('' when null)."""
    text = value.cast(nw.String).fill_null("")
    return nw.concat_str([nw.lit(rule.ljust(_RULE_WIDTH)), text])


def _relational_flags(
    schema: Table, work: nw.LazyFrame, customers: nw.LazyFrame | None
) -> tuple[nw.LazyFrame, list[tuple[str, str, nw.Expr]]]:
    """``work`` with what the relational rules need, and (rule, column, broken) of each.

    Unknown customers are found by a left join on the clean customers' ids with a
    marker column (unique ids, so no row is repeated): one pass that is the semi join
    (marked) and the anti join (unmarked) at once, with no id leaving the engine.
    """
    found = []
    for rule, column in _relational_rules(schema, customers is not None):
        value = nw.col(_value_of(column))
        if rule == "duplicate_key":
            work = _with_first_of_key(schema, work)
            broken = ~nw.col(_INVALID) & ~nw.col(_FIRST)
        elif rule == "unknown_customer":
            known = customers.select(
                nw.col(column).alias(_value_of(column)), nw.lit(True).alias(_KNOWN)
            )
            work = work.join(known, on=_value_of(column), how="left")
            broken = ~value.is_null() & nw.col(_KNOWN).is_null()
        else:
            broken = (value > nw.col(_value_of("impressions"))).fill_null(False)
        found.append((rule, column, broken))
    return work, found


def _with_first_of_key(schema: Table, work: nw.LazyFrame) -> nw.LazyFrame:
    """``work`` with ``_FIRST``: whether the row is the one kept of its key among the rows
    that break no value rule, the earliest by the table's first timestamp column (rows
    without one last; ties keep any one, as an engine without row order must)."""
    stamp = next((f.name for f in schema.fields if f.kind in {"timestamp", "date"}), None)
    order = [_value_of(schema.key)]
    if stamp is not None:
        work = work.with_columns(nw.col(_value_of(stamp)).is_null().alias(_UNDATED))
        order = [_UNDATED, _value_of(stamp)]
    first = nw.col(_value_of(schema.key)).is_first_distinct().over(_INVALID, order_by=order)
    return work.with_columns(first.alias(_FIRST))


def _any(conditions: Any) -> nw.Expr:
    """Whether any of ``conditions`` (never null) holds; false when there are none."""
    conditions = list(conditions)
    return nw.any_horizontal(*conditions, ignore_nulls=True) if conditions else nw.lit(False)


def _kept(schema: Table, lazy: nw.LazyFrame, work: nw.LazyFrame) -> nw.LazyFrame:
    """The rows ``work`` keeps: canonical columns, cleared values replaced by their default,
    then ``lazy``'s extra columns."""
    cleared = _cleared_columns(schema)
    values = []
    for spec in schema.fields:
        value = nw.col(_value_of(spec.name))
        if spec.name in cleared:
            default = nw.lit(spec.default, _ENGINE_KINDS[spec.kind][0])
            value = nw.when(nw.col(_problem_of(spec.name)).is_null()).then(value).otherwise(default)
        values.append(value.alias(spec.name))
    extra = [c for c in columns_of(lazy) if c not in schema.columns]
    return work.filter(~nw.col(_REJECTED)).select(*values, *extra)


def _engine_counts(work: nw.LazyFrame) -> tuple[int, ...]:
    """``rows_in``, ``kept``, ``rejected`` and ``values_cleared`` of a table, in one query."""
    rejected, cleared = nw.col(_REJECTED), nw.col(_CLEARED)
    totals = work.select(
        nw.len().alias("rows_in"),
        count_true(~rejected).fill_null(0).alias("kept"),
        count_true(rejected).fill_null(0).alias("rejected"),
        count_true(cleared).fill_null(0).alias("values_cleared"),
    )
    return tuple(int(value) for value in collect_small(totals).iloc[0])


def _engine_ledger(
    schema: Table, lazy: nw.LazyFrame, work: nw.LazyFrame, as_of: pd.Timestamp
) -> nw.LazyFrame:
    """One ledger row per problem: rows with one are unpivoted to (column, problem)."""
    problems = work.filter(nw.col(_REJECTED) | nw.col(_CLEARED)).select(
        _record(columns_of(lazy)).alias(_RECORD),
        *(nw.col(_problem_of(c)).alias(c) for c in schema.columns),
    )
    long = problems.unpivot(
        list(schema.columns), index=_RECORD, variable_name="column", value_name=_PROBLEM
    ).filter(~nw.col(_PROBLEM).is_null())
    code = nw.col(_PROBLEM)
    value = code.str.slice(_RULE_WIDTH)
    cleared = _cleared_columns(schema)
    action = nw.lit("rejected")
    if cleared:
        action = nw.when(nw.col("column").is_in(cleared)).then(nw.lit("cleared")).otherwise(action)
    return long.with_columns(rule=code.str.slice(0, _RULE_WIDTH).str.strip_chars()).select(
        table=nw.lit(schema.name),
        row=nw.lit(None, nw.Int64),
        line=nw.lit(None, nw.Int64),
        rule=nw.col("rule"),
        column=nw.col("column"),
        value=nw.when(value != "").then(value),
        action=action,
        message=_lookup(nw.col("rule"), _messages(schema, as_of)),
        record=nw.col(_RECORD),
    )


def _lookup(key: nw.Expr, mapping: dict[str, str]) -> nw.Expr:
    """``mapping[key]`` as an expression (null for a key not in ``mapping``)."""
    found = nw.lit(None, nw.String)
    for name, text in mapping.items():
        found = nw.when(key == name).then(nw.lit(text)).otherwise(found)
    return found


def _record(columns: list[str]) -> nw.Expr:
    """The original row as a JSON object of text: ``{"order_id": "o7", "items": null}``.

    Each value is its column cast to String by the engine (numbers and timestamps as
    the engine prints them, e.g. ``"-3.0"``, ``"2100-01-01 00:00:00"``), in double
    quotes with backslashes and double quotes escaped; a null is written ``null``.
    """
    parts = []
    for i, column in enumerate(columns):
        text = (
            nw.col(column)
            .cast(nw.String)
            .str.replace_all("\\", "\\\\", literal=True)
            .str.replace_all('"', '\\"', literal=True)
        )
        quoted = nw.concat_str([nw.lit('"'), text, nw.lit('"')]).fill_null("null")
        parts += [nw.lit(("{" if i == 0 else ", ") + json.dumps(column) + ": "), quoted]
    return nw.concat_str([*parts, nw.lit("}")])


def _first_entries(rejects: Any, n: int) -> pd.DataFrame:
    """At most ``n`` entries per table and rule of an engine's ledger, without ``record``."""
    ledger, _ = as_lazy(rejects, "rejects")
    rank = nw.col("record").rank("ordinal").over("table", "rule")
    first = ledger.with_columns(rank.alias(_RANK)).filter(nw.col(_RANK) <= n)
    return collect_small(first.sort("table", "rule", _RANK).drop("record", _RANK))
