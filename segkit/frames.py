"""Dataframe-agnostic plumbing: any supported frame in, the same kind of frame out.

segkit functions accept pandas and Polars frames, Polars lazy frames, DuckDB
relations and PySpark DataFrames through narwhals. :func:`as_lazy` opens the
door and gives back the way out; heavy work runs as narwhals expressions in the
caller's engine, and only small aggregates are brought to pandas, explicitly,
with :func:`collect_small`.

Example
-------
>>> import pandas as pd, narwhals as nw
>>> lazy, back = as_lazy(pd.DataFrame({"x": [1, 2]}))
>>> type(back(lazy.with_columns(y=nw.col("x") * 2))).__name__
'DataFrame'
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from typing import Any

import narwhals as nw
import pandas as pd

from segkit.engines import engine_of, to_engine
from segkit.errors import DataContractError

SECONDS_PER_DAY = 86_400
MICROSECONDS_PER_SECOND = 1_000_000
#: The timestamp type segkit computes with: naive (UTC), microseconds.
TIMESTAMP = nw.Datetime("us")


def as_lazy(native: Any, table: str = "frame") -> tuple[nw.LazyFrame, Callable[[Any], Any]]:
    """``native`` as a narwhals LazyFrame, and a function turning a result (a narwhals
    LazyFrame) back into the caller's kind of frame: eager in, eager out; lazy stays lazy."""
    try:
        frame = nw.from_native(native)
    except TypeError:
        raise TypeError(
            f"{table}: expected a pandas, Polars, DuckDB or PySpark frame, "
            f"got {type(native).__name__}"
        ) from None
    if isinstance(frame, nw.DataFrame):
        return frame.lazy(), lambda result: result.collect().to_native()
    return frame, lambda result: result.to_native()


def collect_small(lazy: nw.LazyFrame) -> pd.DataFrame:
    """Bring a small aggregate (cut points, a profile, a count table) into pandas.

    The one place segkit leaves the caller's engine; never call it on a table
    that grows with the number of rows.
    """
    return lazy.collect().to_pandas()


def same_engine(lazy: nw.LazyFrame, other: Any, table: str, like: str) -> nw.LazyFrame:
    """``other`` opened with narwhals in ``lazy``'s engine (``lazy`` is the table called
    ``like``), since engines cannot join each other's frames.

    A pandas ``other`` (a small table such as segments) is sent to ``lazy``'s engine
    (:func:`segkit.engines.to_engine`); any other mix is a ``TypeError``.
    """
    opened, _ = as_lazy(other, table)
    if opened.implementation != lazy.implementation and opened.implementation.is_pandas():
        opened, _ = as_lazy(to_engine(other, engine_of(lazy.to_native())), table)
    if opened.implementation != lazy.implementation:
        raise TypeError(
            f"{table}: expected the same kind of frame as {like} "
            f"({lazy.implementation.name}), got {opened.implementation.name}"
        )
    return opened


def timestamp_column(lazy: nw.LazyFrame, column: str, table: str) -> nw.Expr:
    """``column`` as a naive microsecond timestamp (UTC for zoned ones); a date becomes midnight.

    Anything else is a :class:`DataContractError` naming the table and column.
    """
    _check_session_time_zone(lazy, table)
    dtype = lazy.collect_schema()[column]
    if dtype == nw.Date:
        return nw.col(column).cast(TIMESTAMP)
    if dtype != nw.Datetime:
        raise DataContractError(table, column, "a timestamp column", f"dtype {dtype}")
    expression = nw.col(column)
    if dtype.time_zone is not None:
        expression = expression.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    return expression.cast(TIMESTAMP)


def _check_session_time_zone(lazy: nw.LazyFrame, table: str) -> None:
    """Spark reads and writes timestamps in its session's time zone; segkit's are UTC."""
    if not lazy.implementation.is_spark_like():
        return
    session = getattr(lazy.to_native(), "sparkSession", None)
    zone = session.conf.get("spark.sql.session.timeZone") if session is not None else "UTC"
    if zone != "UTC":
        raise ValueError(
            f"{table}: the Spark session's time zone is {zone}, segkit computes in UTC; "
            'build the session with .config("spark.sql.session.timeZone", "UTC")'
        )


def scans_in_order(lazy: nw.LazyFrame) -> bool:
    """Whether ``lazy``'s engine runs windows fastest along one sorted frame.

    Polars and pandas sort once and then scan the whole frame cheaply; SQL
    engines (DuckDB, PySpark) run a window per partition in parallel, where a
    frame-wide window would run on one thread.
    """
    return lazy.implementation in (nw.Implementation.POLARS, nw.Implementation.PANDAS)


def columns_of(lazy: nw.LazyFrame) -> list[str]:
    return list(lazy.collect_schema().names())


def require_columns(lazy: nw.LazyFrame, columns: Iterable[str], table: str) -> None:
    """Raise :class:`DataContractError` naming the first of ``columns`` that is missing."""
    present = columns_of(lazy)
    for column in columns:
        if column not in present:
            raise DataContractError(table, column, "a column of that name", f"columns {present}")


def count_true(condition: nw.Expr) -> nw.Expr:
    """How many rows ``condition`` holds for, as an integer sum (Spark cannot sum booleans)."""
    return condition.cast(nw.Int64).sum()


def days_between(later: nw.Expr, earlier: nw.Expr, on: nw.LazyFrame) -> nw.Expr:
    """Days from ``earlier`` to ``later``, timestamps of the frame ``on``; whole seconds are
    counted (a fraction of a second is dropped, towards zero, as ``dt.total_seconds`` does)."""
    if _has_duration_totals(on):
        return (later - earlier).dt.total_seconds() / SECONDS_PER_DAY
    (later_seconds, later_micros), (earlier_seconds, earlier_micros) = map(_epoch, (later, earlier))
    seconds, micros = later_seconds - earlier_seconds, later_micros - earlier_micros
    borrow = ((seconds > 0) & (micros < 0)).cast(nw.Int64)
    carry = ((seconds < 0) & (micros > 0)).cast(nw.Int64)
    return (seconds - borrow + carry) / SECONDS_PER_DAY


def microseconds_between(later: nw.Expr, earlier: nw.Expr, on: nw.LazyFrame) -> nw.Expr:
    """Microseconds from ``earlier`` to ``later``, timestamps of the frame ``on``, exactly."""
    if _has_duration_totals(on):
        return (later - earlier).dt.total_microseconds()
    (later_seconds, later_micros), (earlier_seconds, earlier_micros) = map(_epoch, (later, earlier))
    return (later_seconds - earlier_seconds) * MICROSECONDS_PER_SECOND + (
        later_micros - earlier_micros
    )


def _has_duration_totals(lazy: nw.LazyFrame) -> bool:
    """Whether narwhals turns a difference of timestamps into a number in ``lazy``'s engine.

    narwhals 2.29 has no ``dt.total_*`` (nor ``dt.timestamp``) for Spark-like engines
    (PySpark, SQLFrame); there :func:`_epoch` reads the timestamps as numbers instead and
    both ways give the same whole numbers.
    """
    return not lazy.implementation.is_spark_like()


def _epoch(timestamp: nw.Expr) -> tuple[nw.Expr, nw.Expr]:
    """A naive (UTC) timestamp as whole seconds since 1970 (rounded down) and its microseconds.

    Spark counts the seconds of zoned timestamps only, read in the session's time zone;
    :func:`timestamp_column` has checked that it is UTC, so no wall-clock time is read in
    a zone with daylight saving. Before 1970 narwhals' Spark microseconds are negative
    (a remainder of negative microseconds since 1970); the modulo makes them the clock's.
    """
    seconds = timestamp.cast(nw.Datetime("us", "UTC")).cast(nw.Int64)
    micros = timestamp.dt.microsecond().cast(nw.Int64) % MICROSECONDS_PER_SECOND
    return seconds, micros


def quantiles(lazy: nw.LazyFrame, column: str, probabilities: Sequence[float]) -> list[float]:
    """Linear-interpolated quantiles of a numeric column, computed in the engine."""
    return quantiles_of(lazy, [column], probabilities)[column]


def quantiles_of(
    lazy: nw.LazyFrame, columns: Sequence[str], probabilities: Sequence[float]
) -> dict[str, list[float]]:
    """The same quantiles of several columns in one query (one pass over a lazy frame)."""
    row = collect_small(lazy.select(*quantile_exprs(columns, probabilities))).iloc[0]
    return quantiles_from(row, columns, len(probabilities))


def quantile_exprs(
    columns: Sequence[str], probabilities: Sequence[float], where: nw.Expr | None = None
) -> list[nw.Expr]:
    """Linear-interpolated quantiles of several columns, as expressions to select with
    other aggregates in the same query; only the rows where ``where`` holds count.
    Read the collected row back with :func:`quantiles_from`."""

    def values(column: str) -> nw.Expr:
        return nw.col(column) if where is None else nw.when(where).then(nw.col(column))

    return [
        values(column).quantile(p, interpolation="linear").alias(f"{column}__q{i}")
        for column in columns
        for i, p in enumerate(probabilities)
    ]


def quantiles_from(row: pd.Series, columns: Sequence[str], count: int) -> dict[str, list[float]]:
    """Each column's ``count`` quantiles from a row collected with :func:`quantile_exprs`."""
    return {column: [float(row[f"{column}__q{i}"]) for i in range(count)] for column in columns}


def as_timestamp(value: Any, name: str = "as_of") -> datetime:
    """A naive ``datetime`` from a string, date, datetime or pandas Timestamp.

    Anything else (a number, a list, an unparseable string) is a ``TypeError``
    naming the parameter, never a silent guess.
    """
    if isinstance(value, bool) or not isinstance(value, str | date | datetime | pd.Timestamp):
        raise TypeError(
            f"{name} must be a date, a datetime or an ISO string such as '2025-12-31', "
            f"got {type(value).__name__} {value!r}"
        )
    try:
        stamp = pd.Timestamp(value)
    except ValueError:
        raise TypeError(f"{name}: {value!r} is not a date or an ISO timestamp") from None
    if stamp is pd.NaT:
        raise TypeError(f"{name} is missing (NaT)")
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp.to_pydatetime()
