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

import math
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


def scans_by_row(lazy: nw.LazyFrame) -> bool:
    """Whether windows along a sorted frame should run as plain scans of its rows
    (:func:`with_row_scans`): pandas, where narwhals' ``over(order_by=...)`` sorts and
    scatters back the whole frame for every expression."""
    return lazy.implementation.is_pandas_like()


def with_row_scans(lazy: nw.LazyFrame, *columns: nw.Expr) -> nw.LazyFrame:
    """``lazy.with_columns(*columns)``, where order-dependent expressions written without
    ``over`` (``shift``, ``cum_sum``, ``fill_null(strategy=...)``) run along the rows in
    their current order. Only for frames where :func:`scans_by_row`, sorted first.

    Example
    -------
    >>> import pandas as pd, narwhals as nw
    >>> lazy = nw.from_native(pd.DataFrame({"v": [3, 1, 2]})).lazy().sort("v")
    >>> with_row_scans(lazy, nw.col("v").cum_sum().alias("total")).collect()["total"].to_list()
    [1, 3, 6]
    """
    return lazy.collect().with_columns(*columns).lazy()


def sort_rows(lazy: nw.LazyFrame, *keys: str, nulls_last: bool = False) -> nw.LazyFrame:
    """``lazy.sort(*keys, nulls_last=nulls_last)``, ascending; on pandas by Arrow's sort.

    pandas sorts several keys by factorizing each (about 7 s for 5M rows by
    customer, time and four text columns); Arrow's stable sort of the same keys
    finds the same order in a tenth of that, and a sorted frame is not copied.
    Used where the keys are pandas text, integer, timestamp or boolean columns
    (float keys would place NaN differently, object columns may mix types);
    other frames and keys are sorted as ``lazy.sort`` does.

    Example
    -------
    >>> import pandas as pd, narwhals as nw
    >>> lazy = nw.from_native(pd.DataFrame({"k": ["b", None, "a"], "v": [1, 2, 3]})).lazy()
    >>> sort_rows(lazy, "k").collect()["v"].to_list()
    [2, 3, 1]
    """
    if not lazy.implementation.is_pandas():
        return lazy.sort(*keys, nulls_last=nulls_last)
    frame = lazy.collect().to_native()
    kinds = [frame[key].dtype for key in keys]
    if not all(isinstance(kind, pd.StringDtype) or kind.kind in "iubM" for kind in kinds):
        return lazy.sort(*keys, nulls_last=nulls_last)
    import pyarrow as pa
    import pyarrow.compute as pc

    placement = "at_end" if nulls_last else "at_start"
    table = pa.table({key: pa.array(frame[key], from_pandas=True) for key in keys})
    order = pc.sort_indices(table, sort_keys=[(key, "ascending", placement) for key in keys])
    order = order.to_numpy()
    if (order[1:] > order[:-1]).all():  # already sorted: no copy
        return nw.from_native(frame.reset_index(drop=True)).lazy()
    return nw.from_native(frame.take(order).reset_index(drop=True)).lazy()


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
    """Linear-interpolated quantiles of several numeric columns, computed in the engine.

    Nulls, and NaN in float columns, are skipped as pandas does; a column without
    values gets NaN. DuckDB computes each column's quantiles from one sort
    (``quantile_cont`` of a list) and Polars sorts each column once and picks the
    order statistics, where one ``quantile`` per column and probability would sort
    it again for each (four times the work for RFM's five cut points). Other
    engines get one query of narwhals quantiles.

    Example
    -------
    >>> import pandas as pd, narwhals as nw
    >>> lazy = nw.from_native(pd.DataFrame({"v": [1.0, 2.0, 4.0, None]})).lazy()
    >>> quantiles_of(lazy, ["v"], [0.25, 0.5, 1.0])
    {'v': [1.5, 2.0, 4.0]}
    """
    if lazy.implementation.is_duckdb():
        return _duckdb_quantiles(lazy, columns, probabilities)
    if lazy.implementation.is_polars():
        return _polars_quantiles(lazy, columns, probabilities)
    schema = lazy.collect_schema()
    expressions = [
        _values(column, schema).quantile(p, interpolation="linear").alias(f"{column}__q{i}")
        for column in columns
        for i, p in enumerate(probabilities)
    ]
    row = collect_small(lazy.select(*expressions)).iloc[0]
    return {
        column: [_as_float(row[f"{column}__q{i}"]) for i in range(len(probabilities))]
        for column in columns
    }


def _as_float(value: Any) -> float:
    return math.nan if pd.isna(value) else float(value)


def _values(column: str, schema: Any) -> nw.Expr:
    """A column with NaN as null (pandas skips both in a quantile)."""
    values = nw.col(column)
    return nw.when(~values.is_nan()).then(values) if schema[column].is_float() else values


def _duckdb_quantiles(
    lazy: nw.LazyFrame, columns: Sequence[str], probabilities: Sequence[float]
) -> dict[str, list[float]]:
    schema = lazy.collect_schema()
    listed = ", ".join(repr(float(p)) for p in probabilities)
    aggregates = []
    for i, column in enumerate(columns):
        quoted = '"' + column.replace('"', '""') + '"'
        skip_nan = f" filter (where not isnan({quoted}))" if schema[column].is_float() else ""
        aggregates.append(f"quantile_cont({quoted}, [{listed}]){skip_nan} as q{i}")
    (row,) = lazy.to_native().aggregate(", ".join(aggregates)).fetchall()
    nan = [math.nan] * len(probabilities)
    return {
        column: nan if found is None else [float(q) for q in found]
        for column, found in zip(columns, row, strict=True)
    }


def _polars_quantiles(
    lazy: nw.LazyFrame, columns: Sequence[str], probabilities: Sequence[float]
) -> dict[str, list[float]]:
    """Each column sorted once; the order statistics either side of each probability's
    position picked and interpolated as NumPy (and so pandas) does."""
    import polars as pl

    schema = lazy.collect_schema()
    values = {}
    for column in columns:
        value = pl.col(column)
        values[column] = value.filter(~value.is_nan()) if schema[column].is_float() else value
        values[column] = values[column].drop_nulls()
    native = lazy.to_native()
    counts = native.select(**{c: v.len() for c, v in values.items()}).collect().row(0, named=True)
    positions = {c: [(counts[c] - 1) * float(p) for p in probabilities] for c in columns}
    picks = {
        c: sorted({i for h in spots for i in (int(h), min(int(h) + 1, counts[c] - 1))})
        for c, spots in positions.items()
        if counts[c]
    }
    picked = native.select(
        *(values[c].sort().gather(picks[c]).implode().alias(c) for c in picks)
    ).collect()
    found = {}
    for column in columns:
        if column not in picks:
            found[column] = [math.nan] * len(probabilities)
            continue
        at = dict(zip(picks[column], picked[column][0], strict=True))
        last = counts[column] - 1
        found[column] = [
            _lerp(float(at[int(h)]), float(at[min(int(h) + 1, last)]), h - int(h))
            for h in positions[column]
        ]
    return found


def _lerp(below: float, above: float, t: float) -> float:
    """NumPy's linear interpolation between two order statistics (exact at both ends)."""
    difference = above - below
    return above - difference * (1 - t) if t >= 0.5 else below + difference * t


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
