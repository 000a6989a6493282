"""Journeys: the touchpoints that led (or did not lead) to each conversion, in long format.

Every attribution model reads this one format, one row per step of a journey:

========================  ===================================================================
``journey_id``            str, unique per journey
``customer_id``           str (null for journeys built from aggregated paths)
``step``, ``steps``       int: position of the touch (1 = first) and the journey's length
``channel``               str
``ts``                    timestamp of the touch (null for aggregated paths)
``days_before_conversion`` float: time from the touch to the conversion (null when unknown
                          or the journey did not convert)
``conversions``           float: conversions the journey ended in, repeated on each step
                          (1 for an order, 0 for a non-converting journey; may be fractional)
``nulls``                 float: non-conversions the journey stands for (1 or 0; counts
                          when the journey is an aggregated path)
``revenue``               float: conversion value of the journey, repeated on each step
========================  ===================================================================

Steps are ordered by time, ties broken deterministically; other columns (``campaign``,
``interaction``, ``order_id``, a ``segment``) may follow and are carried along.

Example
-------
>>> import pandas as pd
>>> paths = pd.DataFrame({"path": ["email > search", "search"], "total_conversions": [1, 2],
...                       "total_conversion_value": [50.0, 80.0], "total_null": [3, 0]})
>>> journeys_from_paths(paths)[["journey_id", "step", "channel", "conversions"]].values.tolist()
[['p0', 1, 'email', 1.0], ['p0', 2, 'search', 1.0], ['p1', 1, 'search', 2.0]]
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import reduce
from typing import Any

import narwhals as nw
import pandas as pd

from segkit.errors import DataContractError
from segkit.frames import (
    TIMESTAMP,
    as_lazy,
    collect_small,
    count_true,
    days_between,
    microseconds_between,
    require_columns,
    same_engine,
    scans_by_row,
    scans_in_order,
    sort_rows,
    timestamp_column,
    with_row_scans,
)

JOURNEY_COLUMNS = (
    "journey_id",
    "customer_id",
    "step",
    "steps",
    "channel",
    "ts",
    "days_before_conversion",
    "conversions",
    "nulls",
    "revenue",
)


def journeys_from_paths(
    paths: pd.DataFrame,
    path: str = "path",
    conversions: str = "total_conversions",
    value: str | None = "total_conversion_value",
    nulls: str | None = "total_null",
    sep: str = ">",
) -> pd.DataFrame:
    """Long-format journeys from aggregated paths, the format of the ChannelAttribution package.

    One row per distinct path such as ``"email > search > direct"`` with its
    conversions, conversion value and non-conversions becomes one journey per
    row (``journey_id`` ``p<row>``). Channel names are stripped of surrounding
    spaces; an empty channel or path, or negative counts, are errors naming the row.

    Parameters
    ----------
    paths : pandas DataFrame
        The aggregated paths (a small table; pandas).
    path, conversions, value, nulls : str
        Column names; ``value`` and ``nulls`` may be ``None`` when absent (then 0).
    sep : str
        The channel separator inside a path.
    """
    missing = [c for c in (path, conversions, value, nulls) if c is not None and c not in paths]
    if missing:
        raise DataContractError("paths", missing[0], "a column of that name", f"{list(paths)}")
    table = pd.DataFrame(
        {
            "journey_id": [f"p{i}" for i in range(len(paths))],
            "channels": paths[path].astype("str").str.split(sep).to_numpy(),
            "conversions": paths[conversions].astype("float64").to_numpy(),
            "revenue": _optional(paths, value),
            "nulls": _optional(paths, nulls),
        }
    )
    _check_paths(table, paths[path])
    long = table.explode("channels", ignore_index=True).rename(columns={"channels": "channel"})
    long["channel"] = long["channel"].str.strip()
    long["step"] = long.groupby("journey_id", sort=False).cumcount() + 1
    long["steps"] = long.groupby("journey_id", sort=False)["step"].transform("max")
    long["customer_id"] = pd.Series(pd.NA, index=long.index, dtype="str")
    long["ts"] = pd.Series(pd.NaT, index=long.index, dtype="datetime64[us]")
    long["days_before_conversion"] = float("nan")
    return long[list(JOURNEY_COLUMNS)]


def _optional(paths: pd.DataFrame, column: str | None):
    if column is None:
        return 0.0
    return paths[column].astype("float64").fillna(0.0).to_numpy()


def _check_paths(table: pd.DataFrame, raw: pd.Series) -> None:
    empty = table["channels"].map(lambda names: any(not n.strip() for n in names))
    negative = (table[["conversions", "revenue", "nulls"]] < 0).any(axis=1)
    missing = table["conversions"].isna()
    for problem, mask in (
        ("an empty channel", empty),
        ("a negative count", negative),
        ("missing conversions", missing),
    ):
        if mask.any():
            row = int(mask.to_numpy().nonzero()[0][0])
            raise DataContractError(
                "paths", None, f"paths without {problem}", f"row {row}: {raw.iloc[row]!r}"
            )


#: Columns that follow :data:`JOURNEY_COLUMNS` in :func:`journeys`' result (``campaign`` and
#: ``interaction`` only when the touchpoints have them).
TOUCH_COLUMNS = ("campaign", "interaction", "order_id", "conversion_ts")
#: The label :func:`label_journeys` gives the journeys of customers without one.
UNSEGMENTED = "Unsegmented"
_REQUIRED_TOUCH = ("customer_id", "ts", "channel")
_REQUIRED_ORDER = ("order_id", "customer_id", "order_ts", "revenue")
_OPTIONAL_TOUCH = ("campaign", "interaction")
_MICROSECONDS_PER_DAY = 86_400_000_000
#: Two touches in a row are in one journey only when these columns agree.
_JOURNEY_KEYS = ("customer_id", "_next", "_converting")


def journeys(
    touchpoints: Any,
    orders: Any,
    lookback_days: float = 30,
    interactions: Iterable[str] | None = None,
    collapse_repeats: bool = False,
    max_steps: int | None = None,
    inactivity_days: float | None = None,
) -> Any:
    """Every touchpoint in exactly one journey: the touches before each order, and the rest.

    A touch belongs to the customer's first order at or after it (never to two
    orders) and joins that order's journey when it happened at most
    ``lookback_days`` before it. The customer's other touches form
    non-converting journeys, split wherever the customer was untouched for more
    than ``inactivity_days`` and at every order, so no journey spans an order.
    Orders without a touch in their window get no journey: attribution cannot
    see them, and :func:`untracked_conversions` counts them. Without
    ``interactions``, ``collapse_repeats`` and ``max_steps``, the result has
    exactly one row per touchpoint.

    Parameters
    ----------
    touchpoints : frame
        Canonical touchpoints: ``customer_id``, ``ts`` and ``channel`` required;
        ``campaign`` and ``interaction`` carried along when present. pandas,
        Polars (eager or lazy), DuckDB or PySpark. Touches of customers without
        orders are fine: they form non-converting journeys.
    orders : frame
        Canonical orders (``order_id``, ``customer_id``, ``order_ts``,
        ``revenue``), the same kind of frame as ``touchpoints``; may be empty.
    lookback_days : float, default 30
        A touch counts for an order when ``order_ts - lookback_days <= ts <= order_ts``.
    interactions : list of str, optional
        The interaction types that count, e.g. ``["click"]``; other touches,
        and those without an interaction, are dropped first.
    collapse_repeats : bool, default False
        Drop a step whose channel is the previous step's channel.
    max_steps : int, optional
        Keep the last ``max_steps`` steps of each journey (closest to the conversion).
    inactivity_days : float, optional
        A gap longer than this between two non-converting touches starts a new
        journey; by default ``lookback_days``.

    Returns
    -------
    frame
        Same kind as ``touchpoints``: the journey format of this module
        (:data:`JOURNEY_COLUMNS`), then :data:`TOUCH_COLUMNS` (``order_id`` and
        ``conversion_ts``, the order's time, are null for non-converting
        journeys; ``customer_id`` and ``order_id`` are strings). ``journey_id``
        is the order id of a converting journey and ``<customer_id>:<k>`` for
        the customer's k-th non-converting one. Steps are ordered by ``ts``,
        ties by ``channel``, ``campaign`` and ``interaction`` (a null one sorts
        first). Rows are sorted by customer and time, so each journey's steps
        are together and in order.

    Raises
    ------
    DataContractError
        If a required column is missing, ``ts`` or ``order_ts`` is not a
        timestamp, or an ``order_id`` repeats.
    ValueError
        If a touch has a null ``customer_id``, ``ts`` or ``channel`` (the
        message gives the count), an order misses a required value, or
        ``lookback_days``, ``inactivity_days`` or ``max_steps`` is not positive.

    Example
    -------
    >>> touches = pd.DataFrame({"customer_id": ["a", "a", "b"], "channel": ["email", "ads", "tv"],
    ...                         "ts": pd.to_datetime(["2025-01-01", "2025-01-05", "2025-01-02"])})
    >>> orders = pd.DataFrame({"order_id": ["o1"], "customer_id": ["a"], "revenue": [30.0],
    ...                        "order_ts": pd.to_datetime(["2025-01-06"])})
    >>> journeys(touches, orders)[["journey_id", "step", "channel", "conversions"]].values.tolist()
    [['o1', 1, 'email', 1.0], ['o1', 2, 'ads', 1.0], ['b:1', 1, 'tv', 0.0]]
    """
    lookback = _positive_days(lookback_days, "lookback_days")
    inactivity = lookback if inactivity_days is None else inactivity_days
    inactivity = _positive_days(inactivity, "inactivity_days")
    max_steps = _checked_max_steps(max_steps)
    touches, back = as_lazy(touchpoints, "touchpoints")
    touches, buys = _prepared(touches, orders, interactions)
    line = _Line.of(touches)
    assigned = _assigned(touches, buys, lookback, line)
    bounded = _boundaries(assigned, inactivity, collapse_repeats, line)
    steps = _outcomes(_last_steps(_numbered(bounded, line), max_steps))
    carried = [name for name in _OPTIONAL_TOUCH if name in touches.collect_schema().names()]
    columns = (*JOURNEY_COLUMNS, *carried, "order_id", "conversion_ts")
    return _fresh_index(back(sort_rows(steps, *line.partition, "_seq").select(*columns)))


def _fresh_index(result: Any) -> Any:
    """A pandas result numbered 0..n-1 (a sort in pandas keeps the old labels)."""
    return result.reset_index(drop=True) if isinstance(result, pd.DataFrame) else result


def _positive_days(days: Any, name: str) -> float:
    if isinstance(days, bool) or not isinstance(days, numbers.Real):
        raise TypeError(f"{name} must be a number of days, got {type(days).__name__} {days!r}")
    if not math.isfinite(days) or days <= 0:
        raise ValueError(f"{name} must be a positive number of days, got {days!r}")
    return float(days)


def _checked_max_steps(max_steps: Any) -> int | None:
    if max_steps is None:
        return None
    if isinstance(max_steps, bool) or not isinstance(max_steps, numbers.Integral) or max_steps < 1:
        raise ValueError(f"max_steps must be None or a positive integer, got {max_steps!r}")
    return int(max_steps)


def _prepared(touches: nw.LazyFrame, orders: Any, interactions: Any):
    """Touchpoints and orders checked, in one engine, ids as strings, times as timestamps."""
    buys = same_engine(touches, orders, "orders", "touchpoints")
    require_columns(touches, _REQUIRED_TOUCH, "touchpoints")
    touches = _kept_interactions(touches, interactions)
    present = touches.collect_schema().names()
    touches = touches.select(
        nw.col("customer_id").cast(nw.String),
        timestamp_column(touches, "ts", "touchpoints").alias("ts"),
        *(
            nw.col(name).cast(nw.String)
            for name in ("channel", *_OPTIONAL_TOUCH)
            if name in present
        ),
    )
    _check_touches(touches)
    return touches, _prepared_orders(buys)


def _prepared_orders(buys: nw.LazyFrame) -> nw.LazyFrame:
    """Orders checked (:func:`_check_orders`), ids as strings, ``order_ts`` a timestamp."""
    require_columns(buys, _REQUIRED_ORDER, "orders")
    buys = buys.select(
        nw.col("order_id").cast(nw.String),
        nw.col("customer_id").cast(nw.String),
        timestamp_column(buys, "order_ts", "orders").alias("order_ts"),
        nw.col("revenue").cast(nw.Float64),
    )
    _check_orders(buys)
    return buys


def _kept_interactions(touches: nw.LazyFrame, interactions: Any) -> nw.LazyFrame:
    if interactions is None:
        return touches
    kept = [interactions] if isinstance(interactions, str) else list(interactions)
    if not kept:
        raise ValueError("interactions: an empty list drops every touch; pass None to keep all")
    require_columns(touches, ["interaction"], "touchpoints")
    return touches.filter(nw.col("interaction").cast(nw.String).is_in(kept))


def _check_touches(touches: nw.LazyFrame) -> None:
    """A step needs a customer, a time and a channel: nulls are an error, never a guess."""
    nulls = collect_small(touches.select(count_true(nw.col(*_REQUIRED_TOUCH).is_null())))
    nulls = nulls.fillna(0).iloc[0]  # a sum over no rows is null in SQL engines
    for column in _REQUIRED_TOUCH:
        if nulls[column] > 0:
            raise ValueError(
                f"touchpoints: {int(nulls[column])} touches have a null {column}; a journey "
                f"step needs a customer, a time and a channel. Drop or fix them first "
                f"(segkit.validate sends them to the rejects ledger)"
            )


def _check_orders(buys: nw.LazyFrame) -> None:
    """No null keys, times or revenue (NaN included), and unique order ids."""
    revenue = nw.col("revenue").is_null() | nw.col("revenue").is_nan()
    checks = (
        collect_small(
            buys.select(
                count_true(nw.col("order_id", "customer_id", "order_ts").is_null()),
                revenue=count_true(revenue),
                rows=nw.len(),
                ids=nw.col("order_id").n_unique(),
            )
        )
        .fillna(0)
        .iloc[0]
    )
    for column in _REQUIRED_ORDER:
        if checks[column] > 0:
            raise ValueError(
                f"orders: {int(checks[column])} orders have a null or NaN {column}; "
                f"their journeys would be wrong. Drop or fix them first "
                f"(segkit.validate sends them to the rejects ledger)"
            )
    repeats = int(checks["rows"] - checks["ids"])
    if repeats:
        raise DataContractError("orders", "order_id", "unique values", f"{repeats} repeats")


def _timeline(touches: nw.LazyFrame, buys: nw.LazyFrame) -> tuple[nw.LazyFrame, list[str]]:
    """Touches and orders in one frame, and the columns that order it along the time lines.

    The order of :func:`journeys`' one sort: customer, time, touch before order
    (``order_id`` is null on a touch and nulls sort first, so a touch at
    ``order_ts`` counts for that order), tied orders by id, then channel,
    campaign and interaction (nulls first). An order row has a null channel
    and carries its values in the columns a touch fills from the next order.
    """
    names = touches.collect_schema().names()
    ties = [name for name in _OPTIONAL_TOUCH if name in names]
    nothing = nw.lit(None, nw.String)
    touch_rows = touches.with_columns(
        order_id=nothing,
        _order_customer=nothing,
        conversion_ts=nw.lit(None, TIMESTAMP),
        revenue=nw.lit(None, nw.Float64),
    )
    order_rows = buys.select(
        "customer_id",
        "order_id",
        "revenue",
        *(nothing.alias(name) for name in ("channel", *ties)),
        ts=nw.col("order_ts"),
        _order_customer=nw.col("customer_id"),
        conversion_ts=nw.col("order_ts"),
    )
    timeline = nw.concat([touch_rows, order_rows.select(touch_rows.collect_schema().names())])
    return timeline, ["customer_id", "ts", "order_id", "channel", *ties]


@dataclass(frozen=True)
class _Line:
    """Window expressions along ``_seq``, the customers' time lines one after another.

    Where :func:`~segkit.frames.scans_in_order` (Polars, pandas) the whole
    frame is numbered with one sort and then scanned (``partition`` empty);
    SQL engines run a window per customer (``partition`` ``customer_id``) in
    parallel. Both give the same results: every computation along the line
    stops at a change of customer.

    Where :func:`~segkit.frames.scans_by_row` (pandas, ``in_rows``) the rows
    stay sorted by ``_seq`` and a window is a plain scan of the column
    (:meth:`with_columns`).
    """

    partition: tuple[str, ...]
    order: tuple[str, ...] = ("_seq",)
    in_rows: bool = False

    @classmethod
    def of(cls, lazy: nw.LazyFrame) -> _Line:
        if not scans_in_order(lazy):
            return cls(("customer_id",))
        return cls((), in_rows=scans_by_row(lazy))

    def numbered(
        self, lazy: nw.LazyFrame, keys: list[str], along: Callable[[_Line], list[nw.Expr]]
    ) -> nw.LazyFrame:
        """``lazy`` with ``_seq``, its row number by ``keys``, and the columns ``along(line)``.

        SQL engines compute ``along`` in the numbering's window pass, sharing its
        sort; Polars and pandas sort by ``_seq`` first, which makes every later
        window along ``_seq`` a cheap scan.
        """
        lazy = lazy.with_columns(_one=nw.lit(1, nw.Int64))
        if self.in_rows:
            lazy = sort_rows(lazy, *keys)
            numbered = self.with_columns(lazy, self.running_total("_one").alias("_seq"))
            return self.with_columns(numbered.drop("_one"), *along(self))
        by_keys = _Line(self.partition, tuple(k for k in keys if k not in self.partition))
        number = by_keys.running_total("_one").alias("_seq")
        if self.partition:
            return lazy.with_columns(number, *along(by_keys)).drop("_one")
        lazy = lazy.with_columns(number).drop("_one").sort("_seq")
        return lazy.with_columns(*along(self))

    def with_columns(self, lazy: nw.LazyFrame, *columns: nw.Expr) -> nw.LazyFrame:
        """``lazy.with_columns(*columns)`` for columns computed along the line."""
        return with_row_scans(lazy, *columns) if self.in_rows else lazy.with_columns(*columns)

    def over(self, expression: nw.Expr) -> nw.Expr:
        if self.in_rows:
            return expression
        return expression.over(*self.partition, order_by=list(self.order))

    def after(self, name: str, strategy: str = "backward") -> nw.Expr:
        """``name`` filled from the next (``backward``) or previous (``forward``) value."""
        return self.over(nw.col(name).fill_null(strategy=strategy)).alias(name)

    def previous(self, name: str) -> nw.Expr:
        return self.over(nw.col(name).shift(1))

    def following(self, name: str) -> nw.Expr:
        return self.over(nw.col(name).shift(-1))

    def running_total(self, values: str | nw.Expr) -> nw.Expr:
        values = nw.col(values) if isinstance(values, str) else values
        return self.over(values.cum_sum()).cast(nw.Int64)

    def per_customer(self, lazy: nw.LazyFrame, total: str, name: str) -> nw.LazyFrame:
        """``total``, a running total of ``name`` along the line, restarted at each customer.

        Per-customer windows restart by themselves; along the whole frame,
        subtract the total before the customer's first touch.
        """
        if self.partition:
            return lazy
        before = nw.when(nw.col("_customer_begins")).then(nw.col(total) - nw.col(name))
        start = self.over(before.fill_null(strategy="forward"))
        return self.with_columns(lazy, (nw.col(total) - start).cast(nw.Int64).alias(total))


def _assigned(
    touches: nw.LazyFrame, buys: nw.LazyFrame, lookback_days: float, line: _Line
) -> nw.LazyFrame:
    """The touches along ``_seq``, each with the order it leads to when inside its window.

    Carrying every order's values backwards along the time line gives each
    touch the next order: a forward as-of join by customer that every engine
    answers alike, ties included. ``_next`` (orders passed, plus one) tells
    apart touches before different orders, and ``_position`` numbers the
    touches. The order columns stay null for a touch after the customer's last
    order or outside its order's window.
    """
    filled = ("_order_customer", "order_id", "conversion_ts", "revenue")

    def along(line: _Line) -> list[nw.Expr]:
        orders_passed = line.running_total((~nw.col("order_id").is_null()).cast(nw.Int64))
        return [*(line.after(name) for name in filled), (orders_passed + 1).alias("_next")]

    touched = line.numbered(*_timeline(touches, buys), along)
    waited = microseconds_between(nw.col("conversion_ts"), nw.col("ts"), touched)
    converting = (
        ~nw.col("conversion_ts").is_null()
        & (nw.col("_order_customer") == nw.col("customer_id"))
        & (waited <= round(lookback_days * _MICROSECONDS_PER_DAY))
    )
    touched = touched.filter(~nw.col("channel").is_null()).with_columns(
        _converting=converting, _position=nw.col("_seq") - nw.col("_next") + 1
    )
    return touched.with_columns(
        nw.when(nw.col("_converting")).then(nw.col(name)).alias(name) for name in filled[1:]
    ).drop("_order_customer")


def _continues(earlier: str, later: str, inactivity_days: float, on: nw.LazyFrame) -> nw.Expr:
    """Whether the touch in columns prefixed ``later`` is in the journey of the one in ``earlier``.

    The same customer, order ahead and converting state, and between
    non-converting touches a gap of at most ``inactivity_days``.
    """

    def column(prefix: str, name: str) -> nw.Expr:
        return nw.col(f"{prefix}{name}")

    gap = microseconds_between(column(later, "ts"), column(earlier, "ts"), on)
    same = [column(earlier, name) == column(later, name) for name in _JOURNEY_KEYS]
    quiet = column(later, "_converting") | (gap <= round(inactivity_days * _MICROSECONDS_PER_DAY))
    return reduce(operator.and_, [*same, quiet]).fill_null(False)


def _boundaries(
    assigned: nw.LazyFrame, inactivity_days: float, collapse_repeats: bool, line: _Line
) -> nw.LazyFrame:
    """Flag each journey's first (``_begins``) and last (``_ends``) touch.

    A journey begins where the customer, the order ahead (``_next``) or the
    converting state changes from the previous touch, and between
    non-converting touches after a gap longer than ``inactivity_days``.
    """
    names = ("ts", *_JOURNEY_KEYS, *(("channel",) if collapse_repeats else ()))
    flagged = line.with_columns(
        assigned,
        *(line.previous(name).alias(f"_previous{name}") for name in names),
        *(line.following(name).alias(f"_following{name}") for name in names),
    )
    same_customer = (nw.col("_previouscustomer_id") == nw.col("customer_id")).fill_null(False)
    repeat = nw.col("_previouschannel") == nw.col("channel") if collapse_repeats else nw.lit(False)
    flagged = flagged.with_columns(
        _begins=~_continues("_previous", "", inactivity_days, flagged),
        _ends=~_continues("", "_following", inactivity_days, flagged),
        _customer_begins=~same_customer,
        _repeat=repeat,
    ).drop(*(f"_{side}{name}" for side in ("previous", "following") for name in names))
    if collapse_repeats:
        flagged = _collapsed(flagged, line)
    return flagged.with_columns(
        _idle_begins=(nw.col("_begins") & ~nw.col("_converting")).cast(nw.Int64)
    )


def _collapsed(flagged: nw.LazyFrame, line: _Line) -> nw.LazyFrame:
    """Without steps that repeat the previous step's channel; positions and ends renewed."""
    repeat = ~nw.col("_begins") & nw.col("_repeat")
    kept = flagged.filter(~repeat.fill_null(False)).with_columns(_one=nw.lit(1, nw.Int64))
    kept = line.with_columns(
        kept,
        line.running_total("_one").alias("_position"),
        line.following("_begins").alias("_following_begins"),
    )
    return kept.with_columns(_ends=nw.col("_following_begins").fill_null(True))


def _numbered(bounded: nw.LazyFrame, line: _Line) -> nw.LazyFrame:
    """``journey_id``, ``step`` and ``steps``.

    A journey's touches are consecutive along ``_seq``: a step is the touch's
    position minus that of the journey's first touch. A non-converting journey
    is ``<customer_id>:<k>``, ``k`` counting the customer's non-converting
    beginnings (``_run``).
    """
    begins, ends, position = nw.col("_begins"), nw.col("_ends"), nw.col("_position")
    counted = line.with_columns(
        bounded,
        line.running_total("_idle_begins").alias("_run"),
        line.over(nw.when(begins).then(position).fill_null(strategy="forward")).alias("_first"),
        line.over(nw.when(ends).then(position).fill_null(strategy="backward")).alias("_last"),
    )
    counted = line.per_customer(counted, "_run", "_idle_begins")
    idle = nw.concat_str([nw.col("customer_id"), nw.lit(":"), nw.col("_run").cast(nw.String)])
    return counted.with_columns(
        journey_id=nw.when(nw.col("_converting")).then(nw.col("order_id")).otherwise(idle),
        step=(position - nw.col("_first") + 1).cast(nw.Int64),
        steps=(nw.col("_last") - nw.col("_first") + 1).cast(nw.Int64),
    )


def _last_steps(numbered: nw.LazyFrame, max_steps: int | None) -> nw.LazyFrame:
    """Each journey's last ``max_steps`` steps, renumbered from 1."""
    if max_steps is None:
        return numbered
    dropped = (nw.col("steps") - max_steps).clip(lower_bound=0)
    numbered = numbered.with_columns(_dropped=dropped).filter(nw.col("step") > nw.col("_dropped"))
    return numbered.with_columns(
        step=nw.col("step") - nw.col("_dropped"), steps=nw.col("steps") - nw.col("_dropped")
    )


def _outcomes(numbered: nw.LazyFrame) -> nw.LazyFrame:
    """Conversions, nulls, revenue and days before conversion from ``_converting``."""
    converting = nw.col("_converting")
    conversions = nw.when(converting).then(nw.lit(1.0)).otherwise(nw.lit(0.0)).cast(nw.Float64)
    days = days_between(nw.col("conversion_ts"), nw.col("ts"), numbered)
    return numbered.with_columns(
        conversions=conversions,
        nulls=(1.0 - conversions).cast(nw.Float64),
        revenue=nw.col("revenue").fill_null(0.0),
        days_before_conversion=nw.when(converting).then(days).cast(nw.Float64),
    )


def untracked_conversions(
    touchpoints: Any,
    orders: Any,
    lookback_days: float | None = None,
    interactions: Iterable[str] | None = None,
) -> pd.DataFrame:
    """How many orders (and how much revenue) no journey leads to: attribution's blind spot.

    An order whose lookback window holds none of the customer's touches (after
    their previous order) gets no journey in :func:`journeys`, so no model can
    credit a channel for it.

    Parameters
    ----------
    touchpoints : frame
        Canonical touchpoints, with the same parameters and checks as
        :func:`journeys`; or the journeys :func:`journeys` already built from
        them (labelled or not), which is much faster: an order is tracked when a
        journey ends in it, and nothing is rebuilt. The journeys carry their own
        lookback window and interactions, so those are not passed then.
    orders : frame
        Canonical orders, the same kind of frame as ``touchpoints``.
    lookback_days : float, default 30
        For touchpoints: the lookback window, as in :func:`journeys`.
    interactions : list of str, optional
        For touchpoints: the interaction types that count, as in :func:`journeys`.

    Returns
    -------
    pandas DataFrame
        One row: ``orders``, ``untracked_orders``, ``untracked_share``,
        ``revenue``, ``untracked_revenue``, ``untracked_revenue_share``
        (shares NaN without orders).

    Raises
    ------
    ValueError
        If journeys are passed with ``lookback_days`` or ``interactions``.

    Example
    -------
    >>> touches = pd.DataFrame({"customer_id": ["a"], "channel": ["email"],
    ...                         "ts": pd.to_datetime(["2025-01-01"])})
    >>> orders = pd.DataFrame({"order_id": ["o1", "o2"], "customer_id": ["a", "b"],
    ...                        "order_ts": pd.to_datetime(["2025-01-02", "2025-01-03"]),
    ...                        "revenue": [10.0, 30.0]})
    >>> untracked_conversions(touches, orders)[["untracked_orders", "untracked_revenue"]].values
    array([[ 1., 30.]])
    >>> built = journeys(touches, orders)
    >>> untracked_conversions(built, orders)["untracked_orders"].tolist()
    [1]
    """
    frame, _ = as_lazy(touchpoints, "touchpoints")
    if "journey_id" in frame.collect_schema().names():
        if lookback_days is not None or interactions is not None:
            raise ValueError(
                "untracked_conversions: these are journeys, built with their own lookback_days "
                "and interactions; pass those to journeys(), or pass the touchpoints here"
            )
        require_columns(frame, ["order_id"], "journeys")
        buys = _prepared_orders(same_engine(frame, orders, "orders", "journeys"))
        tracked = frame.select(nw.col("order_id").cast(nw.String)).drop_nulls()
    else:
        lookback = _positive_days(30 if lookback_days is None else lookback_days, "lookback_days")
        touches, buys = _prepared(frame, orders, interactions)
        assigned = _assigned(touches, buys, lookback, _Line.of(touches))
        tracked = assigned.filter(nw.col("_converting")).select("order_id")
    flagged = buys.join(
        tracked.unique().with_columns(_tracked=nw.lit(1, nw.Int64)), on="order_id", how="left"
    )
    untracked = nw.col("_tracked").is_null()
    totals = (
        collect_small(
            flagged.select(
                orders=nw.len(),
                untracked_orders=untracked.cast(nw.Int64).sum(),
                revenue=nw.col("revenue").sum(),
                untracked_revenue=nw.when(untracked).then(nw.col("revenue")).otherwise(0.0).sum(),
            )
        )
        .astype("float64")
        .fillna(0.0)
    )
    totals.insert(2, "untracked_share", totals["untracked_orders"] / totals["orders"])
    totals["untracked_revenue_share"] = totals["untracked_revenue"] / totals["revenue"]
    return totals.astype({"orders": "int64", "untracked_orders": "int64"})


def label_journeys(
    journeys: Any,
    labels: Any,
    columns: str | Sequence[str] = ("segment",),
    on: str = "customer_id",
) -> Any:
    """Per-customer labels (a segment, a cluster) on every step of the journeys.

    A left join in the journeys' engine: a journey of a customer without a
    label (a prospect, a journey built from aggregated paths) keeps its rows and
    gets :data:`UNSEGMENTED` in the string label columns (null in others).

    Parameters
    ----------
    journeys : frame
        Journeys in this module's format, any supported kind.
    labels : frame
        One row per ``on`` value (e.g. segments.parquet), the same kind of frame;
        rows with a null ``on`` are ignored.
    columns : str or sequence of str, default ("segment",)
        The label columns to add; none may already be a journeys column.
    on : str, default "customer_id"
        The key shared by both tables.

    Returns
    -------
    frame
        Same kind as ``journeys``, sorted by ``journey_id`` and ``step``, with ``columns`` added.

    Raises
    ------
    DataContractError
        If a column is missing, a label column is already in the journeys, or
        ``labels`` repeats an ``on`` value.

    Example
    -------
    >>> paths = pd.DataFrame({"path": ["email > search"], "total_conversions": [1]})
    >>> steps = journeys_from_paths(paths, value=None, nulls=None)
    >>> label_journeys(steps, pd.DataFrame({"customer_id": ["a"], "segment": ["VIP"]}))[
    ...     "segment"].tolist()
    ['Unsegmented', 'Unsegmented']
    """
    lazy, back = as_lazy(journeys, "journeys")
    tags = same_engine(lazy, labels, "labels", "journeys")
    columns = [columns] if isinstance(columns, str) else list(columns)
    require_columns(lazy, [on], "journeys")
    require_columns(tags, [on, *columns], "labels")
    names = lazy.collect_schema().names()
    for column in columns:
        if column in names:
            raise DataContractError("journeys", column, "no column named like a label")
    tags = tags.select(on, *columns).filter(~nw.col(on).is_null())
    _check_unique(tags, on, "labels")
    key = lazy.collect_schema()[on]
    if tags.collect_schema()[on] != key:
        tags = tags.with_columns(nw.col(on).cast(key))
    labelled = lazy.join(tags, on=on, how="left")
    schema = tags.collect_schema()
    texts = [c for c in columns if schema[c] in (nw.String, nw.Categorical, nw.Enum)]
    labelled = labelled.with_columns(
        nw.col(c).cast(nw.String).fill_null(UNSEGMENTED) for c in texts
    )
    order = [c for c in ("journey_id", "step") if c in names]
    return _fresh_index(back(sort_rows(labelled, *order) if order else labelled))


def drop_direct(journeys: Any, direct_channels: str | Sequence[str] = ("direct",)) -> Any:
    """Journeys without their direct steps, except journeys made only of direct steps.

    A direct visit right before an order is usually navigational: the customer
    had already decided and typed the address. Data-driven models (``markov``,
    ``shapley``) read such visits as the strongest channel because they sit in
    converting journeys only. Setting them aside applies the rule of
    ``last_non_direct`` to every model: direct counts only when a journey has
    nothing else. Steps are renumbered from 1; conversions, nulls and revenue
    are unchanged, so every model still credits every conversion.

    Parameters
    ----------
    journeys : frame
        Journeys in this module's format, any supported kind.
    direct_channels : str or sequence of str, default ("direct",)
        The channels to set aside.

    Returns
    -------
    frame
        Same kind as ``journeys``, sorted by ``journey_id`` and ``step``.

    Example
    -------
    >>> paths = pd.DataFrame({"path": ["email > direct", "direct"], "total_conversions": [1, 1]})
    >>> steps = drop_direct(journeys_from_paths(paths, value=None, nulls=None))
    >>> steps[["journey_id", "step", "steps", "channel"]].values.tolist()
    [['p0', 1, 1, 'email'], ['p1', 1, 1, 'direct']]
    """
    lazy, back = as_lazy(journeys, "journeys")
    require_columns(lazy, ["journey_id", "step", "steps", "channel"], "journeys")
    direct = [direct_channels] if isinstance(direct_channels, str) else list(direct_channels)
    is_direct = nw.col("channel").is_in(direct)
    if scans_by_row(lazy):
        # pandas: sorted once; the windows run per journey number (an integer, where
        # the text id would be factorized again for each) along the rows, which stay sorted.
        lazy = sort_rows(lazy, "journey_id", "step")
        begins = (nw.col("journey_id") != nw.col("journey_id").shift(1)).fill_null(True)
        lazy = with_row_scans(lazy, begins.cast(nw.Int64).cum_sum().alias("_journey"))
        kept = with_row_scans(_without(lazy, is_direct, "_journey"), *_renumbered("_journey"))
        return _fresh_index(back(kept.drop("_one", "_journey")))
    kept = _without(lazy, is_direct, "journey_id")
    kept = kept.with_columns(*_renumbered("journey_id", order_by="step")).drop("_one")
    return _fresh_index(back(sort_rows(kept, "journey_id", "step")))


def _without(lazy: nw.LazyFrame, is_direct: nw.Expr, journey: str) -> nw.LazyFrame:
    """The steps of ``lazy`` but the direct ones of journeys with other steps, and ``_one``."""
    others = (~is_direct).cast(nw.Int64).sum().over(journey)
    kept = lazy.with_columns(_others=others).filter(~is_direct | (nw.col("_others") == 0))
    return kept.drop("_others").with_columns(_one=nw.lit(1, nw.Int64))


def _renumbered(journey: str, order_by: str | None = None) -> list[nw.Expr]:
    """``step`` and ``steps`` counted again per ``journey``, in ``order_by`` or row order."""
    return [
        nw.col("_one").cum_sum().over(journey, order_by=order_by).cast(nw.Int64).alias("step"),
        nw.col("_one").sum().over(journey).cast(nw.Int64).alias("steps"),
    ]


def _check_unique(lazy: nw.LazyFrame, key: str, table: str) -> None:
    counts = collect_small(lazy.select(rows=nw.len(), keys=nw.col(key).n_unique()))
    counts = counts.fillna(0).iloc[0]
    repeats = int(counts["rows"] - counts["keys"])
    if repeats:
        raise DataContractError(table, key, "one row per value", f"{repeats} repeats")


@dataclass(frozen=True)
class JourneyStats:
    """Small pandas tables that describe a set of journeys, for a notebook.

    Attributes
    ----------
    path_lengths : pandas DataFrame
        Per number of steps: ``steps``, ``journeys``, ``conversions``, ``nulls``,
        ``conversion_rate`` (conversions / (conversions + nulls): the converting
        share for journeys from :func:`journeys`).
    top_paths : pandas DataFrame
        The most frequent channel sequences: ``path`` ("a > b > c"), ``steps``,
        ``journeys``, ``conversions``, ``nulls``, ``conversion_rate``; most journeys first.
    time_to_conversion : pandas DataFrame
        One row over the converting journeys: ``journeys``, ``median_days``,
        ``mean_days``, ``p90_days`` from the first (kept) step to the conversion.
    """

    path_lengths: pd.DataFrame
    top_paths: pd.DataFrame
    time_to_conversion: pd.DataFrame


def journey_stats(journeys: Any, top: int = 10) -> JourneyStats:
    """Path lengths, the most frequent paths and the time to conversion of journeys.

    Every aggregate runs in the journeys' engine; only the small tables are
    collected. Paths are compared exactly: each journey's channel sequence is
    packed into integers (a few bits per step, one ``int64`` per block of
    steps) and grouped on those, then the top ones are unpacked into
    "a > b > c". The number of blocks grows with the longest journey (one
    per ~15 steps with 8 channels), so cap very long journeys with
    ``journeys(..., max_steps=...)`` first.

    Parameters
    ----------
    journeys : frame
        Journeys in this module's format (:func:`journeys`,
        :func:`journeys_from_paths`), any supported kind.
    top : int, default 10
        How many paths ``top_paths`` keeps; ties with the last kept one are
        broken by the packed path, the same way in every engine.

    Returns
    -------
    JourneyStats

    Example
    -------
    >>> paths = pd.DataFrame({"path": ["email > search", "search", "email > search"],
    ...                       "total_conversions": [1, 0, 0], "total_null": [0, 1, 1]})
    >>> stats = journey_stats(journeys_from_paths(paths, value=None))
    >>> stats.top_paths[["path", "journeys", "conversion_rate"]].values.tolist()
    [['email > search', 2, 0.5], ['search', 1, 0.0]]
    """
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ValueError(f"top must be a positive integer, got {top!r}")
    lazy, _ = as_lazy(journeys, "journeys")
    required = ("journey_id", "step", "steps", "channel", "conversions", "nulls")
    require_columns(lazy, (*required, "days_before_conversion"), "journeys")
    firsts = lazy.filter(nw.col("step") == 1)
    lengths = _path_lengths(firsts)
    longest = int(lengths["steps"].max()) if len(lengths) else 0
    return JourneyStats(lengths, _top_paths(lazy, longest, top), _time_to_conversion(firsts))


def _with_rate(table: pd.DataFrame) -> pd.DataFrame:
    counted = table["conversions"] + table["nulls"]
    rate = (table["conversions"] / counted.where(counted > 0)).astype("float64")
    return table.assign(conversion_rate=rate).reset_index(drop=True)


def _path_lengths(firsts: nw.LazyFrame) -> pd.DataFrame:
    """Journeys, conversions and nulls per number of steps (one row per journey in ``firsts``)."""
    table = collect_small(
        firsts.group_by("steps")
        .agg(
            nw.len().alias("journeys"),
            nw.col("conversions").sum(),
            nw.col("nulls").sum(),
        )
        .sort("steps")
    )
    table = table.astype({"steps": "int64", "journeys": "int64"})
    return _with_rate(table.astype({"conversions": "float64", "nulls": "float64"}))


def _time_to_conversion(firsts: nw.LazyFrame) -> pd.DataFrame:
    """Days from each converting journey's first step to its conversion: median, mean, p90."""
    days = nw.col("days_before_conversion")
    converted = firsts.filter((nw.col("conversions") > 0) & ~days.is_null())
    table = collect_small(
        converted.select(
            journeys=nw.len(),
            median_days=days.median(),
            mean_days=days.mean(),
            p90_days=days.quantile(0.9, interpolation="linear"),
        )
    )
    return table.astype({"journeys": "int64"}).astype(
        {name: "float64" for name in ("median_days", "mean_days", "p90_days")}
    )


def _top_paths(lazy: nw.LazyFrame, longest: int, top: int) -> pd.DataFrame:
    """The ``top`` most frequent channel sequences, grouped exactly on packed integers."""
    columns = ["path", "steps", "journeys", "conversions", "nulls", "conversion_rate"]
    if longest == 0:
        return pd.DataFrame({name: [] for name in columns})
    channels = collect_small(lazy.select("channel").unique())["channel"]
    if channels.isna().any():
        raise ValueError("journeys: some steps have a null channel; a path needs every channel")
    channels = sorted(channels.tolist())
    packing = _Packing(len(channels), longest)
    codes = nw.col("channel").replace_strict(
        channels, list(range(1, len(channels) + 1)), default=0, return_dtype=nw.Int64
    )
    slot = (nw.col("step") - 1) % packing.per_block
    weights = [1 << (packing.bits * i) for i in range(packing.per_block)]
    weight = slot.replace_strict(
        list(range(packing.per_block)), weights, default=0, return_dtype=nw.Int64
    )
    coded = lazy.with_columns(
        _block=(nw.col("step") - 1) // packing.per_block, _packed=codes * weight
    )
    blocks = [f"_p{b}" for b in range(packing.blocks)]
    coded = coded.with_columns(
        nw.when(nw.col("_block") == b).then(nw.col("_packed")).otherwise(0).alias(name)
        for b, name in enumerate(blocks)
    )
    per_journey = coded.group_by("journey_id").agg(
        nw.col("steps", "conversions", "nulls").max(), nw.col(*blocks).sum()
    )
    paths = per_journey.group_by("steps", *blocks).agg(
        nw.len().alias("journeys"), nw.col("conversions", "nulls").sum()
    )
    order = ["journeys", "conversions", "steps", *blocks]
    best = paths.sort(order, descending=[True, True, False, *(False for _ in blocks)]).head(top)
    table = collect_small(best)
    table["path"] = [packing.path(row, blocks, channels) for row in table[blocks].to_numpy()]
    table = table.astype({"steps": "int64", "journeys": "int64"})
    return _with_rate(table[columns[:-1]].astype({"conversions": "float64", "nulls": "float64"}))


@dataclass(frozen=True)
class _Packing:
    """A path as integers: ``bits`` per step (channel code 1.., 0 = no step), ``per_block``
    steps per ``int64`` (at most 63 bits, so never negative), ``blocks`` integers."""

    channels: int
    longest: int

    @property
    def bits(self) -> int:
        return self.channels.bit_length()

    @property
    def per_block(self) -> int:
        return 63 // self.bits

    @property
    def blocks(self) -> int:
        return math.ceil(self.longest / self.per_block)

    def path(self, values: Sequence[int], blocks: list[str], channels: list[str]) -> str:
        mask, names = (1 << self.bits) - 1, []
        for value in values:
            for slot in range(self.per_block):
                code = (int(value) >> (self.bits * slot)) & mask
                if code:
                    names.append(channels[code - 1])
        return " > ".join(names)
