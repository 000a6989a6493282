"""Customer lifetime value: historical value, the BG/NBD and Gamma-Gamma models, discounted CLV.

Two views of a customer's worth. :func:`historical` is what a customer has been
worth so far: revenue to date, per order and per year of tenure, per customer
or per segment. The probabilistic models say what a customer will be worth:

1. :func:`summary` condenses orders to the four numbers of the customer-base
   literature (``frequency``, ``recency``, ``T``, ``monetary_value``), in the
   caller's engine; :func:`calibration_holdout` adds what happened after a
   calibration period, for checking a model on data it has not seen.
2. :class:`BetaGeo` is the BG/NBD model of Fader, Hardie & Lee (2005), "Counting
   your customers the easy way": while alive a customer buys at a Poisson rate
   λ (gamma distributed across customers with shape ``r`` and rate ``alpha``),
   and after each purchase drops out with probability p (beta distributed with
   ``a``, ``b``). It predicts the purchases of the next t periods and the
   probability that a customer is still alive.
3. :class:`GammaGamma` (Fader, Hardie & Lee 2005, "RFM and CLV"; Fader & Hardie
   2013, "The Gamma-Gamma model of monetary value") predicts the mean value of a
   customer's purchases from the mean of the repeat purchases seen, and
   :meth:`GammaGamma.clv` combines both models into a discounted CLV.

Time is counted in whole days: purchases on the same day are one purchase (their
values summed), and ``recency`` and ``T`` are in days or weeks (days / 7). On
the CDNOW sample (2,357 customers, 39 weeks to 1997-09-30) the fitted BG/NBD
reproduces the paper's r = 0.243, alpha = 4.414, a = 0.793, b = 2.426 and
log-likelihood -9582.4, and the Gamma-Gamma the note's p = 6.25, q = 3.74,
gamma = 15.44.

Example
-------
>>> import pandas as pd
>>> orders = pd.DataFrame({"customer_id": ["a", "a", "a", "b"],
...     "order_ts": pd.to_datetime(["2025-01-01", "2025-01-01", "2025-01-15", "2025-01-08"]),
...     "revenue": [10.0, 5.0, 30.0, 20.0]})
>>> summary(orders, "2025-01-29", unit="weeks").values.tolist()
[['a', 1, 2.0, 4.0, 30.0], ['b', 0, 0.0, 3.0, 0.0]]
"""

from __future__ import annotations

import warnings
from datetime import datetime
from typing import Any, Literal

import narwhals as nw
import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, digamma, gammaln, hyp2f1

from segkit.errors import DataContractError
from segkit.frames import (
    as_lazy,
    as_timestamp,
    collect_small,
    count_true,
    days_between,
    require_columns,
    same_engine,
    timestamp_column,
)

#: Days per unit of ``recency``, ``T`` and ``t``.
UNITS = {"days": 1.0, "weeks": 7.0}
#: The columns of :func:`summary`, in order.
SUMMARY_COLUMNS: tuple[str, ...] = ("customer_id", "frequency", "recency", "T", "monetary_value")
#: The columns of :func:`calibration_holdout`, in order.
HOLDOUT_COLUMNS: tuple[str, ...] = (*SUMMARY_COLUMNS, "frequency_holdout", "duration_holdout")
#: The columns of :func:`historical` per customer, in order.
HISTORICAL_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "first_order_ts",
    "last_order_ts",
    "orders",
    "revenue",
    "avg_order_value",
    "tenure_days",
    "revenue_per_year",
)
#: The length of a discounting period ("month") in :meth:`GammaGamma.clv`, in days.
DAYS_PER_MONTH = 30.0
DAYS_PER_YEAR = 365.25

Unit = Literal["days", "weeks"]


class ConvergenceWarning(UserWarning):
    """A model's maximum-likelihood optimiser stopped before it converged.

    The parameters of the last iteration are kept (and ``converged_`` is
    False); refit with a larger ``max_iterations`` or check the data.
    """


# --- summaries of orders -------------------------------------------------------------------


def summary(
    orders: Any,
    as_of: Any,
    *,
    customer_id: str = "customer_id",
    order_ts: str = "order_ts",
    revenue: str = "revenue",
    unit: Unit = "days",
) -> Any:
    """Per customer ``frequency``, ``recency``, ``T`` and ``monetary_value`` up to ``as_of``.

    The input of :class:`BetaGeo` and :class:`GammaGamma`, with the semantics of
    the BG/NBD literature (and of the lifetimes package): all purchases of a
    customer on one (UTC) day are one purchase, their values summed; the first
    purchase day is not a repeat purchase.

    Parameters
    ----------
    orders : frame
        Orders with a customer id, a timestamp (or date) and a revenue column:
        pandas, Polars (eager or lazy), DuckDB or PySpark.
    as_of : str, date or datetime
        The last day observed. Purchases on that day count, whatever their time
        of day (a time in ``as_of`` is ignored); later ones are left out.
    customer_id, order_ts, revenue : str
        The columns of ``orders`` to use, by default the canonical names.
    unit : {"days", "weeks"}
        The unit of ``recency`` and ``T``; weeks are days / 7.

    Returns
    -------
    frame
        Same kind as ``orders``, sorted by ``customer_id`` (the output column is
        always called so), one row per customer with a purchase up to ``as_of``:
        ``frequency`` (int): purchase days after the first; ``recency``: time
        from the first to the last purchase day; ``T``: time from the first
        purchase day to ``as_of``; ``monetary_value``: mean value of the repeat
        purchase days (the first day's value left out), 0 without repeats.

    Raises
    ------
    DataContractError
        If a column is missing or the timestamp column is not a timestamp.
    ValueError
        If an order up to ``as_of`` has a null or NaN customer id, timestamp or
        revenue or a negative revenue (a few are shown), if ``as_of`` is before
        the first order, or if ``unit`` is not "days" or "weeks".

    Example
    -------
    >>> from segkit.simulation import simulate
    >>> orders = simulate(n_customers=200, seed=1, defects=False).orders
    >>> list(summary(orders, "2025-06-30").columns)
    ['customer_id', 'frequency', 'recency', 'T', 'monetary_value']
    """
    scale = _days_per_unit(unit)
    lazy, back = as_lazy(orders, "orders")
    lazy, names = _canonical_orders(lazy, customer_id, order_ts, revenue)
    end = _day(as_of, "as_of")
    days = _purchase_days(lazy, end, names, "as_of")
    return _native(back, _summarised(days, end, scale).sort("customer_id"))


def calibration_holdout(
    orders: Any,
    calibration_end: Any,
    holdout_end: Any,
    *,
    customer_id: str = "customer_id",
    order_ts: str = "order_ts",
    revenue: str = "revenue",
    unit: Unit = "days",
) -> Any:
    """:func:`summary` up to ``calibration_end`` plus the purchases of the holdout period after it.

    Fit a model on the calibration columns, predict ``frequency_holdout`` from
    them and compare (:func:`holdout_check`), as Fader, Hardie & Lee (2005) do
    with 39 weeks of calibration and 39 of holdout on CDNOW.

    Parameters
    ----------
    orders : frame
        As for :func:`summary`.
    calibration_end, holdout_end : str, date or datetime
        The last days of the two periods; the holdout period runs from the day
        after ``calibration_end`` through ``holdout_end``.
    customer_id, order_ts, revenue, unit
        As for :func:`summary`.

    Returns
    -------
    frame
        Same kind as ``orders``: :data:`HOLDOUT_COLUMNS`, one row per customer
        who bought by ``calibration_end`` (customers who first bought later are
        not in the calibration cohort). ``frequency_holdout`` counts purchase
        days in the holdout period (all repeat purchases); ``duration_holdout``
        is its length in ``unit``, the same for every customer.

    Raises
    ------
    ValueError
        As :func:`summary`, and if ``holdout_end`` is not after ``calibration_end``.

    Example
    -------
    >>> from segkit.simulation import simulate
    >>> orders = simulate(n_customers=200, seed=1, defects=False).orders
    >>> cal_hold = calibration_holdout(orders, "2025-03-31", "2025-06-30", unit="weeks")
    >>> float(cal_hold["duration_holdout"].iloc[0])
    13.0
    """
    scale = _days_per_unit(unit)
    calibration, holdout = (
        _day(calibration_end, "calibration_end"),
        _day(holdout_end, "holdout_end"),
    )
    if holdout <= calibration:
        raise ValueError(
            f"holdout_end ({holdout.date()}) must be after calibration_end ({calibration.date()})"
        )
    lazy, back = as_lazy(orders, "orders")
    lazy, names = _canonical_orders(lazy, customer_id, order_ts, revenue)
    days = _purchase_days(lazy, holdout, names, "holdout_end", (calibration, "calibration_end"))
    cohort = _summarised(days.filter(nw.col("day") <= nw.lit(calibration)), calibration, scale)
    later = (
        days.filter(nw.col("day") > nw.lit(calibration))
        .group_by("customer_id")
        .agg(nw.len().alias("frequency_holdout"))
    )
    duration = (holdout - calibration).days / scale
    result = cohort.join(later, on="customer_id", how="left").with_columns(
        frequency_holdout=nw.col("frequency_holdout").fill_null(0).cast(nw.Int64),
        duration_holdout=nw.lit(duration, nw.Float64),
    )
    return _native(back, result.select(*HOLDOUT_COLUMNS).sort("customer_id"))


def _native(back, result: nw.LazyFrame) -> Any:
    """``result`` as the caller's kind of frame; a pandas one numbered 0..n-1 in sorted order."""
    native = back(result)
    return native.reset_index(drop=True) if isinstance(native, pd.DataFrame) else native


def _days_per_unit(unit: str) -> float:
    if unit not in UNITS:
        raise ValueError(f"unit must be 'days' or 'weeks', got {unit!r}")
    return UNITS[unit]


def _day(value: Any, name: str) -> datetime:
    """``value`` as a timestamp, cut to the start of its day."""
    return as_timestamp(value, name).replace(hour=0, minute=0, second=0, microsecond=0)


def _canonical_orders(lazy: nw.LazyFrame, customer_id: str, order_ts: str, revenue: str):
    """The three order columns under canonical names, and the caller's names of them."""
    names = {"customer_id": customer_id, "order_ts": order_ts, "revenue": revenue}
    require_columns(lazy, names.values(), "orders")
    dtype = lazy.collect_schema()[revenue]
    if not dtype.is_numeric():
        raise DataContractError("orders", revenue, "a numeric column", f"dtype {dtype}")
    canonical = lazy.select(
        nw.col(customer_id).alias("customer_id"),
        timestamp_column(lazy, order_ts, "orders").alias("order_ts"),
        nw.col(revenue).cast(nw.Float64).alias("revenue"),
    )
    return canonical, names


def _checked_orders(
    lazy: nw.LazyFrame, window: nw.Expr, names: dict, end_name: str, cohort: tuple
) -> datetime | None:
    """The first order time; raise if an order in ``window`` breaks a rule.

    ``window`` selects the orders that count (up to the parameter ``end_name``);
    one small query checks them all, a second one fetches examples only when a
    rule is broken. ``cohort`` is (time, parameter name): someone must have
    bought by then.
    """
    missing = {
        "customer_id": nw.col("customer_id").is_null() & window,
        "order_ts": nw.col("order_ts").is_null(),
        "revenue": (nw.col("revenue").is_null() | nw.col("revenue").is_nan()) & window,
    }
    negative = (nw.col("revenue") < 0) & window
    checks = collect_small(
        lazy.select(
            first=nw.col("order_ts").min(),
            negative=count_true(negative),
            **{column: count_true(rule) for column, rule in missing.items()},
        )
    ).iloc[0]
    for column in missing:
        if checks[column] > 0:
            raise ValueError(
                f"orders: column '{names[column]}' has {int(checks[column])} null or NaN values "
                f"up to {end_name}; every customer's summary would be silently wrong. Drop or "
                "fix those orders (segkit.validate sends them to the rejects ledger)"
            )
    if checks["negative"] > 0:
        shown = _examples(lazy.filter(negative), names)
        raise ValueError(
            f"orders: column '{names['revenue']}' has {int(checks['negative'])} negative values "
            f"up to {end_name}; purchase values must be ≥ 0 (a refund is not a purchase). "
            f"For example: {shown}"
        )
    if pd.isna(checks["first"]):
        return None
    first, (by, by_name) = as_timestamp(checks["first"], "first order_ts"), cohort
    if first > by:
        raise ValueError(
            f"orders: {by_name} ({by}) is before the first order ({first}); "
            "no customer had bought by then"
        )
    return first


def _examples(bad: nw.LazyFrame, names: dict | None = None, count: int = 3) -> str:
    """A few offending rows, as text with the caller's column names."""
    rows = collect_small(bad.head(count))
    if names:
        rows = rows.rename(columns=names)
    return "; ".join(
        ", ".join(f"{column}={value}" for column, value in row.items())
        for row in rows.to_dict("records")
    )


def _purchase_days(
    lazy: nw.LazyFrame, end: datetime, names: dict, end_name: str, cohort: tuple | None = None
) -> nw.LazyFrame:
    """One row per customer and purchase day up to ``end``, with the day's summed revenue.

    The orders are checked first (:func:`_checked_orders`; ``cohort`` defaults to ``end``).
    """
    day = nw.col("order_ts").dt.truncate("1d")
    _checked_orders(lazy, day <= nw.lit(end), names, end_name, cohort or (end, end_name))
    return (
        lazy.with_columns(day=day)
        .filter(nw.col("day") <= nw.lit(end))
        .group_by("customer_id", "day")
        .agg(nw.col("revenue").sum())
    )


def _summarised(days: nw.LazyFrame, end: datetime, scale: float) -> nw.LazyFrame:
    """The summary columns from purchase days (``day``, ``revenue``) up to ``end``."""
    first_day = nw.col("day").min().over("customer_id")
    repeat_value = nw.when(nw.col("day") > first_day).then(nw.col("revenue")).otherwise(0.0)
    per_customer = (
        days.with_columns(repeat_value=repeat_value)
        .group_by("customer_id")
        .agg(
            nw.col("day").min().alias("first"),
            nw.col("day").max().alias("last"),
            nw.len().alias("purchase_days"),
            nw.col("repeat_value").sum(),
        )
        .with_columns(frequency=(nw.col("purchase_days") - 1).cast(nw.Int64))
    )
    frequency = nw.col("frequency")
    return per_customer.select(
        "customer_id",
        "frequency",
        recency=(days_between(nw.col("last"), nw.col("first"), per_customer) / scale).cast(
            nw.Float64
        ),
        T=(days_between(nw.lit(end), nw.col("first"), per_customer) / scale).cast(nw.Float64),
        monetary_value=nw.when(frequency > 0)
        .then(nw.col("repeat_value") / frequency)
        .otherwise(0.0)
        .cast(nw.Float64),
    )


# --- historical value ------------------------------------------------------------------------


def historical(
    orders: Any,
    as_of: Any = None,
    *,
    segments: Any = None,
    by: str = "segment",
    customer_id: str = "customer_id",
    order_ts: str = "order_ts",
    revenue: str = "revenue",
) -> Any:
    """Historical CLV: what each customer (or segment) has spent up to ``as_of``.

    Parameters
    ----------
    orders : frame
        As for :func:`summary`.
    as_of : str, date or datetime, optional
        The snapshot time, by default the last order; later orders are ignored.
    segments : frame, optional
        ``customer_id`` and a ``by`` column, one row per customer, in the same
        engine as ``orders``. When given, the result is per segment instead of
        per customer.
    by : str
        The segment column of ``segments``.
    customer_id, order_ts, revenue : str
        The columns of ``orders`` to use.

    Returns
    -------
    frame
        Same kind as ``orders``. Without ``segments``: :data:`HISTORICAL_COLUMNS`
        per customer who ordered, sorted by ``customer_id``; ``tenure_days`` runs
        from the first order to ``as_of`` (fractional) and ``revenue_per_year``
        is revenue / tenure in years (null for a tenure of 0). With
        ``segments``: per ``by`` value, ``customers``, ``total_revenue``,
        ``mean_revenue`` and ``median_revenue``, where a segment member without
        orders counts with revenue 0; buyers missing from ``segments`` are left
        out, with a warning saying how many.

    Raises
    ------
    ValueError
        As :func:`summary`; also if ``segments`` repeats a customer.

    Example
    -------
    >>> import pandas as pd
    >>> orders = pd.DataFrame({"customer_id": ["a", "a", "b"], "revenue": [10.0, 30.0, 5.0],
    ...     "order_ts": pd.to_datetime(["2024-01-01", "2024-07-01", "2024-12-31"])})
    >>> historical(orders)[["customer_id", "revenue", "tenure_days"]].values.tolist()
    [['a', 40.0, 365.0], ['b', 5.0, 0.0]]
    """
    lazy, back = as_lazy(orders, "orders")
    lazy, names = _canonical_orders(lazy, customer_id, order_ts, revenue)
    stamp = as_timestamp(as_of) if as_of is not None else _last_order(lazy)
    if stamp is not None:
        window = nw.col("order_ts") <= nw.lit(stamp)
        _checked_orders(lazy, window, names, "as_of", (stamp, "as_of"))
    per_customer = _historical_per_customer(lazy, stamp)
    if segments is None:
        return _native(back, per_customer.sort("customer_id"))
    groups = same_engine(lazy, segments, "segments", "orders")
    return _native(
        back, _per_segment(per_customer, groups, by, "revenue", "customers with orders").sort(by)
    )


def _last_order(lazy: nw.LazyFrame) -> datetime | None:
    last = collect_small(lazy.select(nw.col("order_ts").max()))["order_ts"].iloc[0]
    return None if pd.isna(last) else as_timestamp(last, "last order_ts")


def _historical_per_customer(lazy: nw.LazyFrame, stamp: datetime | None) -> nw.LazyFrame:
    if stamp is not None:
        lazy = lazy.filter(nw.col("order_ts") <= nw.lit(stamp))
    tenure = (
        days_between(nw.lit(stamp), nw.col("first_order_ts"), lazy)
        if stamp is not None
        else nw.lit(None, nw.Float64)
    )
    totals = lazy.group_by("customer_id").agg(
        nw.col("order_ts").min().alias("first_order_ts"),
        nw.col("order_ts").max().alias("last_order_ts"),
        nw.len().alias("orders"),
        nw.col("revenue").sum(),
    )
    return (
        totals.with_columns(
            orders=nw.col("orders").cast(nw.Int64),
            avg_order_value=nw.col("revenue") / nw.col("orders"),
            tenure_days=tenure.cast(nw.Float64),
        )
        .with_columns(
            revenue_per_year=nw.when(nw.col("tenure_days") > 0).then(
                nw.col("revenue") / nw.col("tenure_days") * DAYS_PER_YEAR
            )
        )
        .select(*HISTORICAL_COLUMNS)
    )


def per_segment(values: Any, segments: Any, value: str = "clv", by: str = "segment") -> Any:
    """Customers, total, mean and median of a per-customer ``value`` in each segment.

    Sums predicted CLV (:meth:`GammaGamma.clv`) or any other per-customer
    value up to the segments of :func:`segkit.rfm` / ``segments.parquet``, the
    way :func:`historical` sums revenue. A segment member without a row in
    ``values`` (a prospect, who has no purchase for the models to extrapolate
    from) counts with 0.

    Parameters
    ----------
    values : frame
        ``customer_id`` and ``value``, one row per customer, any supported engine.
    segments : frame
        ``customer_id`` and ``by``, one row per customer, the same kind of frame.
    value, by : str
        The value column of ``values`` and the segment column of ``segments``.

    Returns
    -------
    frame
        Same kind as ``values``, sorted by ``by``: ``by``, ``customers``,
        ``total_<value>``, ``mean_<value>`` and ``median_<value>``.

    Raises
    ------
    DataContractError
        If a column is missing or ``segments`` repeats a customer; customers in
        ``values`` but not in ``segments`` are left out with a warning.

    Example
    -------
    >>> import pandas as pd
    >>> values = pd.DataFrame({"customer_id": ["a", "b"], "clv": [30.0, 10.0]})
    >>> segments = pd.DataFrame({"customer_id": ["a", "b", "c"], "segment": ["x", "x", "y"]})
    >>> per_segment(values, segments).values.tolist()
    [['x', 2, 40.0, 20.0, 20.0], ['y', 1, 0.0, 0.0, 0.0]]
    """
    lazy, back = as_lazy(values, "values")
    require_columns(lazy, ["customer_id", value], "values")
    groups = same_engine(lazy, segments, "segments", "values")
    return _native(
        back, _per_segment(lazy, groups, by, value, f"customers with a {value}").sort(by)
    )


def _per_segment(
    per_customer: nw.LazyFrame, groups: nw.LazyFrame, by: str, value: str, holders: str
) -> nw.LazyFrame:
    """Customers, total, mean and median ``value`` per segment (members without one at 0).

    ``holders`` names the customers of ``per_customer`` in the warning about
    those missing from the segments.
    """
    require_columns(groups, ["customer_id", by], "segments")
    key = per_customer.collect_schema()["customer_id"]
    if groups.collect_schema()["customer_id"] != key:
        groups = groups.with_columns(nw.col("customer_id").cast(key))
    groups = groups.select("customer_id", by)
    counts = collect_small(
        groups.select(rows=nw.len(), ids=nw.col("customer_id").n_unique()).join(
            per_customer.join(groups, on="customer_id", how="anti").select(missing=nw.len()),
            how="cross",
        )
    ).iloc[0]
    if counts["rows"] != counts["ids"]:
        repeated = int(counts["rows"] - counts["ids"])
        raise DataContractError(
            "segments", "customer_id", "one row per customer", f"{repeated} repeats"
        )
    if counts["missing"] > 0:
        warnings.warn(
            f"{int(counts['missing'])} {holders} are not in segments and are left out of "
            "the per-segment values",
            UserWarning,
            stacklevel=3,
        )
    members = groups.join(per_customer.select("customer_id", value), on="customer_id", how="left")
    members = members.with_columns(nw.col(value).cast(nw.Float64).fill_null(0.0))
    return (
        members.group_by(by)
        .agg(
            nw.len().alias("customers"),
            nw.col(value).sum().alias(f"total_{value}"),
            nw.col(value).mean().alias(f"mean_{value}"),
            nw.col(value).median().alias(f"median_{value}"),
        )
        .with_columns(nw.col("customers").cast(nw.Int64))
    )


# --- checked, collected model inputs ---------------------------------------------------------


def _model_input(
    summary: Any, columns: list[str], rules: list, weights: str | None, keep: nw.Expr | None = None
) -> pd.DataFrame:
    """The distinct rows of ``columns`` with their summed ``weight``, after checking ``rules``.

    Checks and aggregation run in the summary's engine; only the distinct
    combinations (far fewer than customers when times are whole days) are
    collected. Each rule is ``(column, what is expected, offending-rows expression)``.
    """
    lazy, _ = as_lazy(summary, "summary")
    needed = [*columns, *([weights] if weights else [])]
    require_columns(lazy, needed, "summary")
    schema = lazy.collect_schema()
    for column in needed:
        if not schema[column].is_numeric():
            raise DataContractError(
                "summary", column, "a numeric column", f"dtype {schema[column]}"
            )
    rules = [*_missing_rules(schema, needed), *rules]
    if weights:
        rules.append((weights, "weights ≥ 0", nw.col(weights) < 0))
    broken = collect_small(
        lazy.select(*(count_true(rule).alias(f"rule{i}") for i, (_, _, rule) in enumerate(rules)))
    ).iloc[0]
    for i, (column, expected, rule) in enumerate(rules):
        if broken[f"rule{i}"] > 0:
            shown = [c for c in ("customer_id", *needed) if c in schema]
            example = _examples(lazy.filter(rule).select(*dict.fromkeys(shown)))
            raise ValueError(
                f"summary: column '{column}': expected {expected}; {int(broken[f'rule{i}'])} "
                f"rows break it, e.g. {example}"
            )
    if keep is not None:
        lazy = lazy.filter(keep)
    weight = nw.col(weights).cast(nw.Float64) if weights else nw.lit(1.0, nw.Float64)
    grouped = lazy.with_columns(weight=weight).group_by(*columns).agg(nw.col("weight").sum())
    return collect_small(grouped).sort_values(columns, ignore_index=True)


def _missing_rules(schema, columns: list[str]) -> list:
    rules = []
    for column in columns:
        missing = nw.col(column).is_null()
        if schema[column].is_float():
            missing = missing | nw.col(column).is_nan() | nw.col(column).is_in([np.inf, -np.inf])
        rules.append((column, "no null, NaN or infinite values", missing))
    return rules


def _frequency_rules() -> list:
    frequency = nw.col("frequency")
    return [
        ("frequency", "values ≥ 0", frequency < 0),
        ("frequency", "whole numbers (repeat purchase days)", frequency.round(0) != frequency),
    ]


def _arrays(*values: Any) -> list[np.ndarray]:
    return list(np.broadcast_arrays(*(np.asarray(value, dtype=float) for value in values)))


def _shaped(result: np.ndarray) -> Any:
    """A 0-d result as a float, anything else as an array."""
    return float(result) if np.ndim(result) == 0 else result


def _optimised(objective, start: np.ndarray, max_iterations: int, model: str):
    """BFGS with the analytic gradient on log-parameters (so they stay positive).

    Returns the parameters, whether the optimiser converged and its iterations;
    a :class:`ConvergenceWarning` when it did not.
    """
    with np.errstate(all="ignore"):
        result = minimize(
            objective,
            start,
            jac=True,
            method="BFGS",
            options={"maxiter": max_iterations, "gtol": 1e-8},
        )
    # A line search can stall ("precision loss") at the optimum itself: a flat gradient counts.
    flat = result.status == 2 and np.abs(result.jac).max() < 1e-6
    converged = bool(result.success or flat) and bool(np.isfinite(result.fun))
    if not converged:
        warnings.warn(
            f"{model}: the maximum-likelihood fit did not converge after {result.nit} iterations "
            f"({result.message}); the parameters may be off. Raise max_iterations or check "
            "the summary for extreme values",
            ConvergenceWarning,
            stacklevel=3,
        )
    return np.exp(result.x), converged, int(result.nit)


def _mean_objective(log_likelihood, w: np.ndarray):
    """The weighted mean negative log-likelihood of log-parameters, and its gradient."""
    total = w.sum()

    def objective(log_params: np.ndarray) -> tuple[float, np.ndarray]:
        params = np.exp(log_params)
        values, gradient = log_likelihood(*params)
        value = -np.dot(w, values) / total
        if not np.isfinite(value):
            return np.inf, np.zeros_like(params)
        return value, -(w @ gradient) / total * params

    return objective


# --- BG/NBD ----------------------------------------------------------------------------------


class BetaGeo:
    """The BG/NBD model of repeat purchases (Fader, Hardie & Lee 2005).

    Parameters
    ----------
    max_iterations : int
        Iterations of the BFGS optimiser (on the logs of the parameters, with
        the analytic gradient) before it gives up with a :class:`ConvergenceWarning`.

    Attributes
    ----------
    params_ : dict of str to float
        ``r``, ``alpha`` (purchase rate: gamma shape and rate, ``alpha`` in the
        summary's unit), ``a``, ``b`` (dropout probability: beta).
    log_likelihood_ : float
        The maximised log-likelihood (weighted sum over customers).
    n_customers_ : float
        Customers fitted (the sum of the weights).
    converged_ : bool
        Whether the optimiser converged.
    n_iterations_ : int
        Iterations the optimiser took.

    Example
    -------
    >>> model = BetaGeo.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
    >>> round(model.probability_alive(frequency=2, recency=30.43, T=38.86), 3)
    0.727
    """

    def __init__(self, max_iterations: int = 1000):
        self.max_iterations = max_iterations

    def __repr__(self) -> str:
        return f"BetaGeo(max_iterations={self.max_iterations!r})"

    @classmethod
    def from_params(cls, r: float, alpha: float, a: float, b: float) -> BetaGeo:
        """A model with given parameters (published ones, say), ready to predict."""
        model = cls()
        model.params_ = {"r": float(r), "alpha": float(alpha), "a": float(a), "b": float(b)}
        return model

    def fit(self, summary: Any, weights: str | None = None) -> BetaGeo:
        """Maximum-likelihood ``r``, ``alpha``, ``a``, ``b`` from a :func:`summary`; ``self``.

        Parameters
        ----------
        summary : frame
            ``frequency``, ``recency`` and ``T`` per customer, any engine. The
            checks and a grouping of identical rows run there; only the distinct
            rows are collected.
        weights : str, optional
            A column of customer counts, for a summary of already aggregated rows.

        Raises
        ------
        DataContractError
            If a column is missing or not numeric.
        ValueError
            If a value is null, NaN or negative, ``frequency`` is not a whole
            number, ``recency`` exceeds ``T``, a customer without repeats has a
            ``recency`` above 0, or no customer has a repeat purchase (with
            every ``frequency`` 0 the dropout process cannot be identified).
        """
        if not isinstance(self.max_iterations, int) or self.max_iterations < 1:
            raise ValueError(f"max_iterations must be a positive int, got {self.max_iterations!r}")
        frequency, recency, T = nw.col("frequency"), nw.col("recency"), nw.col("T")
        rules = [
            *_frequency_rules(),
            ("recency", "values ≥ 0", recency < 0),
            ("recency", "values ≤ T (the last purchase is before the end)", recency > T),
            ("recency", "0 for customers with frequency 0", (frequency == 0) & (recency != 0)),
        ]
        rows = _model_input(summary, ["frequency", "recency", "T"], rules, weights)
        x, t_x, T_, w = (rows[c].to_numpy(float) for c in ("frequency", "recency", "T", "weight"))
        if not (w[x > 0] > 0).any():
            raise ValueError(
                f"summary: column 'frequency' is 0 for all {w.sum():g} customers; with no repeat "
                "purchase at all the BG/NBD model cannot be fitted (its dropout process is not "
                "identified). Use a longer period or a cohort with repeat buyers"
            )
        total = w.sum()
        objective = _mean_objective(
            lambda *params: _betageo_log_likelihood(*params, x, t_x, T_, gradient=True), w
        )
        # r = 1 and a purchase rate 1 / alpha near the observed one put the start on scale.
        alpha = np.dot(w, T_) / max(np.dot(w, x), 1e-9)
        start = np.log([1.0, max(alpha, 1e-6), 1.0, 1.0])
        params, self.converged_, self.n_iterations_ = _optimised(
            objective, start, self.max_iterations, "BetaGeo"
        )
        self.params_ = dict(zip(("r", "alpha", "a", "b"), map(float, params), strict=True))
        self.log_likelihood_ = float(np.dot(w, self.log_likelihood(x, t_x, T_)))
        self.n_customers_ = float(total)
        return self

    def _params(self) -> tuple[float, float, float, float]:
        if not hasattr(self, "params_"):
            raise RuntimeError("BetaGeo is not fitted yet; call fit(summary) first")
        return tuple(self.params_[name] for name in ("r", "alpha", "a", "b"))

    def log_likelihood(self, frequency: Any, recency: Any, T: Any) -> Any:
        """Each customer's log-likelihood under the model's parameters (FHL 2005, eq. 6)."""
        return _shaped(_betageo_log_likelihood(*self._params(), *_arrays(frequency, recency, T)))

    def probability_alive(self, frequency: Any, recency: Any, T: Any) -> Any:
        """P(alive at ``T``): 1 / (1 + a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x)).

        1 for customers without repeat purchases (the model lets customers drop
        out only right after a purchase). Scalars give a float, arrays an array.
        """
        return _shaped(_probability_alive(*self._params(), *_arrays(frequency, recency, T)))

    def expected_purchases(self, t: Any, frequency: Any, recency: Any, T: Any) -> Any:
        """Expected purchases in the next ``t`` units of a customer with this history.

        FHL 2005, eq. 10: E[Y(t) | x, t_x, T] =
        (a + b + x - 1) / (a - 1) * [1 - ((alpha + T) / (alpha + T + t)) ** (r + x)
        * 2F1(r + x, b + x; a + b + x - 1; t / (alpha + T + t))] * P(alive).
        ``t`` is in the summary's unit and broadcasts with the other arguments.

        Example
        -------
        >>> model = BetaGeo.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
        >>> round(model.expected_purchases(39, frequency=2, recency=30.43, T=38.86), 3)
        1.226
        """
        r, alpha, a, b = self._params()
        t, x, t_x, T = _arrays(t, frequency, recency, T)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t)))
            hyp = hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
            alive = _probability_alive(r, alpha, a, b, x, t_x, T)
            expected = (a + b + x - 1) / (a - 1) * (1 - ratio * hyp) * alive
        return _shaped(np.where(t == 0, 0.0, expected))

    def expected_purchases_new(self, t: Any) -> Any:
        """Expected repeat purchases in ``t`` units of a customer who just made a first one.

        FHL 2005, eq. 9: E[X(t)] = (a + b - 1) / (a - 1) *
        [1 - (alpha / (alpha + t)) ** r * 2F1(r, b; a + b - 1; t / (alpha + t))].
        """
        r, alpha, a, b = self._params()
        (t,) = _arrays(t)
        hyp = hyp2f1(r, b, a + b - 1, t / (alpha + t))
        return _shaped((a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp))

    def predict(self, summary: Any, t: float) -> pd.DataFrame:
        """Per customer of ``summary``: ``probability_alive`` and ``expected_purchases`` in ``t``.

        ``summary`` (any engine) is collected: ``customer_id``, ``frequency``,
        ``recency`` and ``T`` of every customer, since scipy computes the
        predictions. Returns a pandas frame with those columns and the two
        predictions, sorted by ``customer_id``.
        """
        self._params()
        rows = _collected(summary, ["customer_id", "frequency", "recency", "T"])
        history = rows["frequency"], rows["recency"], rows["T"]
        return rows.assign(
            probability_alive=np.asarray(self.probability_alive(*history), dtype=float),
            expected_purchases=np.asarray(self.expected_purchases(t, *history), dtype=float),
        )


def _betageo_log_likelihood(r, alpha, a, b, x, t_x, T, gradient: bool = False):
    """ln L(r, alpha, a, b | x, t_x, T) per customer, FHL 2005 eq. 6 in logs.

    With ``gradient``, also its derivatives by (r, alpha, a, b), one row per customer.
    """
    x, t_x, T = np.atleast_1d(x), np.atleast_1d(t_x), np.atleast_1d(T)
    head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + betaln(a, b + x) - betaln(a, b)
    alive = -(r + x) * np.log(alpha + T)
    dropped = np.full(x.shape, -np.inf)
    repeat = x > 0
    xr = x[repeat]
    dropped[repeat] = np.log(a) - np.log(b + xr - 1) - (r + xr) * np.log(alpha + t_x[repeat])
    values = head + np.logaddexp(alive, dropped)
    if not gradient:
        return values
    # The two terms of the likelihood (alive at T, dropped after t_x) as shares of it.
    share = np.exp(dropped - np.logaddexp(alive, dropped))
    last = np.where(repeat, b + x - 1, 1.0)  # b + x - 1, only used where x > 0
    by_r = digamma(r + x) - digamma(r) + np.log(alpha)
    by_r -= (1 - share) * np.log(alpha + T) + share * np.log(alpha + t_x)
    by_alpha = r / alpha - (r + x) * ((1 - share) / (alpha + T) + share / (alpha + t_x))
    by_a = digamma(a + b) - digamma(a + b + x) + share / a
    by_b = digamma(b + x) - digamma(a + b + x) - digamma(b) + digamma(a + b) - share / last
    return values, np.column_stack([by_r, by_alpha, by_a, by_b])


def _probability_alive(r, alpha, a, b, x, t_x, T) -> np.ndarray:
    log_odds = np.full(np.shape(x), -np.inf)
    repeat = x > 0
    xr = x[repeat]
    log_odds[repeat] = (
        np.log(a)
        - np.log(b + xr - 1)
        + (r + xr) * (np.log(alpha + T[repeat]) - np.log(alpha + t_x[repeat]))
    )
    return 1.0 / (1.0 + np.exp(log_odds))


def _collected(summary: Any, columns: list[str]) -> pd.DataFrame:
    """``columns`` of every customer of a summary, in pandas, sorted by ``customer_id``."""
    lazy, _ = as_lazy(summary, "summary")
    require_columns(lazy, columns, "summary")
    return collect_small(lazy.select(*columns).sort("customer_id")).reset_index(drop=True)


# --- Gamma-Gamma -----------------------------------------------------------------------------


class GammaGamma:
    """The Gamma-Gamma model of the value of repeat purchases (Fader & Hardie 2013).

    A customer's purchase values are gamma(``p``, ν) around their own mean p/ν,
    and ν is gamma(``q``, ``gamma``) across customers. Fitted on the customers
    with repeat purchases (``frequency`` > 0) from their mean repeat value
    ``monetary_value``; it assumes that how much a customer spends per purchase
    does not depend on how often they buy, and warns when the data disagree.

    Parameters
    ----------
    max_iterations : int
        Iterations of the optimiser before a :class:`ConvergenceWarning`.
    max_correlation : float
        A ``UserWarning`` when the (weighted Pearson) correlation of
        ``frequency`` and ``monetary_value`` among repeat buyers exceeds this
        in absolute value.

    Attributes
    ----------
    params_ : dict of str to float
        ``p``, ``q``, ``gamma``.
    log_likelihood_ : float
        The maximised log-likelihood.
    n_customers_ : float
        Repeat buyers fitted (sum of weights).
    converged_ : bool
        Whether the optimiser converged.
    n_iterations_ : int
        Iterations the optimiser took.
    correlation_ : float
        Correlation of ``frequency`` and ``monetary_value`` among them.

    Example
    -------
    >>> model = GammaGamma.from_params(p=6.25, q=3.74, gamma=15.44)
    >>> round(model.conditional_expected_value(frequency=2, monetary_value=22.35), 2)
    24.66
    """

    def __init__(self, max_iterations: int = 1000, max_correlation: float = 0.3):
        self.max_iterations = max_iterations
        self.max_correlation = max_correlation

    def __repr__(self) -> str:
        return (
            f"GammaGamma(max_iterations={self.max_iterations!r}, "
            f"max_correlation={self.max_correlation!r})"
        )

    @classmethod
    def from_params(cls, p: float, q: float, gamma: float) -> GammaGamma:
        """A model with given parameters, ready to predict."""
        model = cls()
        model.params_ = {"p": float(p), "q": float(q), "gamma": float(gamma)}
        return model

    def fit(self, summary: Any, weights: str | None = None) -> GammaGamma:
        """Maximum-likelihood ``p``, ``q``, ``gamma`` from the repeat buyers of a summary.

        Parameters
        ----------
        summary : frame
            ``frequency`` and ``monetary_value`` per customer, any engine;
            customers with ``frequency`` 0 are left out of the fit.
        weights : str, optional
            A column of customer counts, for aggregated rows.

        Raises
        ------
        ValueError
            If a value is null, NaN or negative, ``frequency`` is not a whole
            number, a repeat buyer's ``monetary_value`` is not above 0 (the
            model's values are positive; leave zero-value customers out), or
            there is no repeat buyer.
        """
        if not isinstance(self.max_iterations, int) or self.max_iterations < 1:
            raise ValueError(f"max_iterations must be a positive int, got {self.max_iterations!r}")
        frequency, value = nw.col("frequency"), nw.col("monetary_value")
        rules = [
            *_frequency_rules(),
            (
                "monetary_value",
                "values > 0 for customers with frequency > 0",
                (frequency > 0) & (value <= 0),
            ),
        ]
        columns = ["frequency", "monetary_value"]
        rows = _model_input(summary, columns, rules, weights, keep=frequency > 0)
        x, m, w = (rows[c].to_numpy(float) for c in ("frequency", "monetary_value", "weight"))
        if not (w > 0).any():
            raise ValueError(
                "summary: column 'frequency' is 0 for every customer; the Gamma-Gamma model is "
                "fitted on the mean value of repeat purchases, and there are none"
            )
        self.correlation_ = _weighted_correlation(x, m, w)
        if abs(self.correlation_) > self.max_correlation:
            warnings.warn(
                f"GammaGamma: frequency and monetary_value are correlated (r = "
                f"{self.correlation_:.2f}) among repeat buyers; the model assumes they are "
                "independent, so its values (and CLV) may be biased",
                UserWarning,
                stacklevel=2,
            )
        total = w.sum()
        objective = _mean_objective(
            lambda *params: _gammagamma_log_likelihood(*params, x, m, gradient=True), w
        )
        # p = 1, q = 2 and gamma = mean value make the model's mean spend the observed one.
        start = np.log([1.0, 2.0, max(np.dot(w, m) / total, 1e-9)])
        params, self.converged_, self.n_iterations_ = _optimised(
            objective, start, self.max_iterations, "GammaGamma"
        )
        self.params_ = dict(zip(("p", "q", "gamma"), map(float, params), strict=True))
        self.log_likelihood_ = float(np.dot(w, _gammagamma_log_likelihood(*params, x, m)))
        self.n_customers_ = float(total)
        return self

    def _params(self) -> tuple[float, float, float]:
        if not hasattr(self, "params_"):
            raise RuntimeError("GammaGamma is not fitted yet; call fit(summary) first")
        return tuple(self.params_[name] for name in ("p", "q", "gamma"))

    def log_likelihood(self, frequency: Any, monetary_value: Any) -> Any:
        """Each repeat buyer's log-likelihood of its mean value (frequency > 0)."""
        x, m = _arrays(frequency, monetary_value)
        return _shaped(_gammagamma_log_likelihood(*self._params(), x, m))

    def conditional_expected_value(self, frequency: Any, monetary_value: Any) -> Any:
        """Expected value of a customer's future purchases given their repeat purchases.

        p (gamma + x m) / (p x + q - 1): a weighted mean of the population mean
        p gamma / (q - 1) and the customer's own mean m, the more weight on m
        the more repeat purchases x. A customer without repeats gets the
        population mean (infinite when q ≤ 1).
        """
        p, q, gamma = self._params()
        x, m = _arrays(frequency, monetary_value)
        m = np.where(x > 0, m, 0.0)
        with np.errstate(divide="ignore"):
            return _shaped(p * (gamma + x * m) / (p * x + q - 1))

    def clv(
        self,
        betageo: BetaGeo,
        summary: Any,
        horizon: int = 12,
        discount_rate: float = 0.01,
        unit: Unit = "days",
    ) -> pd.DataFrame:
        """Discounted CLV per customer: expected purchases per month x expected value, discounted.

        For months k = 1..``horizon``, with a month of 30 days (30 / 7 weeks):
        CLV = sum_k [E(Y(k m)) - E(Y((k - 1) m))] * value / (1 + discount_rate) ** k,
        where E(Y(.)) is ``betageo``'s conditional expected purchases and value
        this model's :meth:`conditional_expected_value`. It is the computation
        of lifetimes' ``customer_lifetime_value`` with ``freq="D"`` (30 units a
        month); for weeks lifetimes uses 4.345 weeks a month, segkit 30 / 7 so
        that a summary in days and one in weeks give the same CLV.

        Parameters
        ----------
        betageo : BetaGeo
            A fitted (or :meth:`BetaGeo.from_params`) BG/NBD model.
        summary : frame
            ``customer_id``, ``frequency``, ``recency``, ``T`` and
            ``monetary_value``, any engine; collected (one row per customer).
        horizon : int
            Months ahead.
        discount_rate : float
            Discount rate per month (0.01 a month is about 12.7% a year).
        unit : {"days", "weeks"}
            The unit ``summary`` (and so both models) was measured in.

        Returns
        -------
        pandas.DataFrame
            ``customer_id``, ``expected_purchases`` (over the horizon,
            undiscounted), ``expected_value`` (per purchase) and ``clv``,
            sorted by ``customer_id``.
        """
        self._params()
        betageo._params()
        if not isinstance(horizon, int) or horizon < 1:
            raise ValueError(f"horizon must be a positive whole number of months, got {horizon!r}")
        if not discount_rate > -1:
            raise ValueError(f"discount_rate must be above -1, got {discount_rate!r}")
        month = DAYS_PER_MONTH / _days_per_unit(unit)
        rows = _collected(summary, list(SUMMARY_COLUMNS))
        history = tuple(rows[c].to_numpy(float) for c in ("frequency", "recency", "T"))
        value = np.asarray(
            self.conditional_expected_value(rows["frequency"], rows["monetary_value"])
        )
        cumulative = [np.zeros(len(rows))] + [
            np.asarray(betageo.expected_purchases(k * month, *history), dtype=float)
            for k in range(1, horizon + 1)
        ]
        discounted = sum(
            (cumulative[k] - cumulative[k - 1]) / (1 + discount_rate) ** k
            for k in range(1, horizon + 1)
        )
        return pd.DataFrame(
            {
                "customer_id": rows["customer_id"],
                "expected_purchases": cumulative[-1],
                "expected_value": value,
                "clv": discounted * value,
            }
        )


def _gammagamma_log_likelihood(p, q, gamma, x, m, gradient: bool = False):
    """ln f(m | p, q, gamma, x): the density of the mean m of x gamma(p, nu) purchase values,
    with nu ~ gamma(q, gamma) across customers (Fader & Hardie 2013).

    With ``gradient``, also its derivatives by (p, q, gamma), one row per customer.
    """
    px = p * x
    values = (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(gamma)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(gamma + x * m)
    )
    if not gradient:
        return values
    log_spend = np.log(gamma + x * m)
    by_p = x * (digamma(px + q) - digamma(px) + np.log(m) + np.log(x) - log_spend)
    by_q = digamma(px + q) - digamma(q) + np.log(gamma) - log_spend
    by_gamma = q / gamma - (px + q) / (gamma + x * m)
    return values, np.column_stack([by_p, by_q, by_gamma])


def _weighted_correlation(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    """Pearson correlation of x and y with weights; 0 when either is constant."""
    dx, dy = x - np.average(x, weights=w), y - np.average(y, weights=w)
    spread = np.sqrt(np.dot(w, dx * dx) * np.dot(w, dy * dy))
    return float(np.dot(w, dx * dy) / spread) if spread > 0 else 0.0


# --- checking a model on the holdout period ------------------------------------------------


def holdout_check(model: BetaGeo, cal_hold: Any, max_frequency: int = 7) -> pd.DataFrame:
    """Mean actual against mean predicted holdout purchases, per calibration frequency.

    The conditional-expectation check of Fader, Hardie & Lee (2005, figure 4)
    and lifetimes' ``plot_calibration_purchases_vs_holdout_purchases``: customers
    are grouped by their calibration ``frequency`` (0, 1, ..., with
    ``max_frequency`` and more together) and in each group the mean
    ``frequency_holdout`` is set against the mean of
    ``model.expected_purchases(duration_holdout, frequency, recency, T)``.

    Parameters
    ----------
    model : BetaGeo
        Fitted on the calibration columns of ``cal_hold``.
    cal_hold : frame
        A :func:`calibration_holdout` result, any engine (collected).
    max_frequency : int
        The last group collects this frequency and above.

    Returns
    -------
    pandas.DataFrame
        ``frequency`` (the group's lowest), ``label`` ("0", ..., "7+"),
        ``customers``, ``actual_holdout`` and ``predicted_holdout``, one row per
        group with customers.

    Example
    -------
    >>> check = holdout_check(BetaGeo().fit(cal_hold), cal_hold)  # doctest: +SKIP
    >>> check.plot(x="label", y=["actual_holdout", "predicted_holdout"])  # doctest: +SKIP
    """
    if not isinstance(max_frequency, int) or max_frequency < 1:
        raise ValueError(f"max_frequency must be a positive int, got {max_frequency!r}")
    columns = ["customer_id", "frequency", "recency", "T", "frequency_holdout", "duration_holdout"]
    rows = _collected(cal_hold, columns)
    predicted = model.expected_purchases(
        rows["duration_holdout"], rows["frequency"], rows["recency"], rows["T"]
    )
    groups = rows.assign(
        group=np.minimum(rows["frequency"].to_numpy(), max_frequency),
        predicted_holdout=np.asarray(predicted, dtype=float),
    )
    check = (
        groups.groupby("group")
        .agg(
            customers=("customer_id", "size"),
            actual_holdout=("frequency_holdout", "mean"),
            predicted_holdout=("predicted_holdout", "mean"),
        )
        .reset_index()
        .rename(columns={"group": "frequency"})
    )
    labels = [f"{f}+" if f == max_frequency else str(f) for f in check["frequency"]]
    check.insert(1, "label", labels)
    return check.astype({"frequency": "int64", "customers": "int64", "actual_holdout": float})


__all__ = [
    "BetaGeo",
    "ConvergenceWarning",
    "GammaGamma",
    "calibration_holdout",
    "historical",
    "holdout_check",
    "per_segment",
    "summary",
]
