"""The single customer view: one row per customer with what they bought, when and how.

:func:`customer_view` turns orders (and optionally the customers and feedback
tables) into the per-customer table every segmentation method starts from:
recency, frequency and value, discount and return behaviour, feedback, and the
customer's attributes. It runs in the caller's engine (pandas, Polars, DuckDB,
PySpark); only two one-row checks (the last order and the missing values) are
collected.

Example
-------
>>> import pandas as pd
>>> orders = pd.DataFrame({"customer_id": ["a", "a", "b"],
...                        "order_ts": pd.to_datetime(["2025-01-01", "2025-01-11", "2025-01-21"]),
...                        "revenue": [10.0, 30.0, 5.0]})
>>> customer_view(orders)[["customer_id", "orders", "revenue", "recency_days"]].values.tolist()
[['a', 2, 40.0, 10.0], ['b', 1, 5.0, 0.0]]
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import narwhals as nw
import pandas as pd

from segkit.errors import DataContractError
from segkit.frames import (
    TIMESTAMP,
    as_lazy,
    as_timestamp,
    collect_small,
    count_true,
    days_between,
    require_columns,
    same_engine,
    timestamp_column,
)

#: The public columns of the view, in order; the sub-segment inputs and attributes follow.
VIEW_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "first_order_ts",
    "last_order_ts",
    "orders",
    "revenue",
    "avg_order_value",
    "recency_days",
    "tenure_days",
    "days_between_orders",
    "discount_share",
    "return_rate",
    "items",
    "avg_feedback",
)
#: Extra columns the sub-segments need.
SUBSEGMENT_INPUTS: tuple[str, ...] = (
    "discounted_order_share",
    "positive_feedback",
    "orders_after_positive_feedback",
)
#: The orders columns every per-customer summary needs.
ORDER_COLUMNS = ("customer_id", "order_ts", "revenue")
_FEEDBACK_COLUMNS = ("customer_id", "ts", "score")
#: A column of nulls. Float even for counts: pandas cannot hold nulls in a numpy integer column.
_NULL = nw.lit(None, nw.Float64)


def customer_view(
    orders: Any,
    customers: Any = None,
    feedback: Any = None,
    as_of: Any = None,
    positive_score: float = 9.0,
    charm_days: float = 14,
) -> Any:
    """One row per customer: recency, frequency, value, discounts, returns and feedback.

    Parameters
    ----------
    orders : frame
        Canonical orders: ``customer_id``, ``order_ts``, ``revenue`` required;
        ``discount``, ``items`` and ``returned`` optional (an absent one leaves
        its columns null). pandas, Polars (eager or lazy), DuckDB or PySpark.
    customers : frame, optional
        Canonical customers (unique ``customer_id``). When given, every customer
        who signed up by ``as_of`` (or has no ``signup_date``) gets a row, buyers
        or not (``orders`` 0, ``revenue`` 0, timestamps, recency and rates
        null), and the other columns are appended as attributes. Buyers missing
        from it are kept, with null attributes.
    feedback : frame, optional
        Canonical feedback (``customer_id``, ``ts``, ``score``). Without it
        ``avg_feedback``, ``positive_feedback`` and
        ``orders_after_positive_feedback`` are null for everyone; with it they
        are null, 0 and 0 for a customer who gave none. Feedback of customers
        outside the view is ignored.
    as_of : str, date or datetime, optional
        The snapshot time, by default the last ``order_ts``. Orders and feedback
        after it are ignored, so a past view is rebuilt exactly.
    positive_score : float, default 9.0
        A feedback score from which on the feedback counts as praise (9-10 of 10
        are promoters in Net Promoter terms).
    charm_days : float, default 14
        An order placed within this many days after a praise (strictly after it)
        counts in ``orders_after_positive_feedback``, once however many praises
        precede it.

    Returns
    -------
    frame
        Same kind as ``orders``, sorted by ``customer_id``: :data:`VIEW_COLUMNS`,
        then :data:`SUBSEGMENT_INPUTS`, then the customers' attributes.
        ``recency_days`` and ``tenure_days`` are fractional days from the last
        and first order to ``as_of``; ``days_between_orders`` is
        (last - first) / (orders - 1), null for one order; ``discount_share``
        is discount / (revenue + discount); ``return_rate`` and
        ``discounted_order_share`` are shares of orders.

    Raises
    ------
    DataContractError
        If ``orders`` lacks a required column or ``order_ts`` is not a
        timestamp, ``feedback`` lacks one of its columns, or ``customers``
        repeats a ``customer_id`` or has a column named like a view column.
    ValueError
        If an order up to ``as_of`` has a null or NaN ``customer_id``,
        ``order_ts`` or ``revenue``: the customer's value would silently be
        wrong. Run :func:`segkit.validate` first; it sends such rows to the
        rejects ledger.
    TypeError
        If ``as_of`` is not a date, a datetime or an ISO string.

    Example
    -------
    >>> from segkit.simulation import simulate
    >>> data = simulate(n_customers=300, seed=1, defects=False)
    >>> view = customer_view(data.orders, data.customers, data.feedback, as_of="2025-06-30")
    >>> bool(view.loc[view["orders"] == 0, "recency_days"].isna().all())
    True
    """
    lazy, back = as_lazy(orders, "orders")
    require_columns(lazy, ORDER_COLUMNS, "orders")
    lazy = lazy.with_columns(order_ts=timestamp_column(lazy, "order_ts", "orders"))
    stamp = as_timestamp(as_of) if as_of is not None else None
    stamp = checked_as_of(lazy, stamp)
    if stamp is not None:
        lazy = lazy.filter(nw.col("order_ts") <= nw.lit(stamp))
    view = _with_ratios(_order_totals(lazy), stamp)
    if customers is not None:
        view = _with_customers(view, _same_engine(lazy, customers, "customers"), stamp)
    if feedback is None:
        view = view.with_columns(
            avg_feedback=_NULL, positive_feedback=_NULL, orders_after_positive_feedback=_NULL
        )
    else:
        notes = _same_engine(lazy, feedback, "feedback")
        view = _with_feedback(view, lazy, notes, stamp, positive_score, charm_days)
    names = view.collect_schema().names()
    attributes = [name for name in names if name not in (*VIEW_COLUMNS, *SUBSEGMENT_INPUTS)]
    return back(view.select(*VIEW_COLUMNS, *SUBSEGMENT_INPUTS, *attributes).sort("customer_id"))


def _same_engine(lazy: nw.LazyFrame, other: Any, table: str) -> nw.LazyFrame:
    """``other`` in the orders' engine, ``customer_id`` typed like theirs."""
    opened = same_engine(lazy, other, table, "orders")
    require_columns(opened, ["customer_id"], table)
    key = lazy.collect_schema()["customer_id"]
    if opened.collect_schema()["customer_id"] != key:
        opened = opened.with_columns(nw.col("customer_id").cast(key))
    return opened


def last_order_time(orders: Any) -> pd.Timestamp:
    """The time of the last order (naive UTC), found by the orders' engine: the moment
    :func:`customer_view` takes when ``as_of`` is None.

    Example
    -------
    >>> import pandas as pd
    >>> orders = pd.DataFrame({"order_ts": pd.to_datetime(["2025-01-02", "2025-03-04"])})
    >>> last_order_time(orders)
    Timestamp('2025-03-04 00:00:00')
    """
    lazy, _ = as_lazy(orders, "orders")
    require_columns(lazy, ["order_ts"], "orders")
    last = collect_small(lazy.select(timestamp_column(lazy, "order_ts", "orders").max())).iloc[0, 0]
    if pd.isna(last):
        raise ValueError("orders: no order has an order_ts, so there is no last order time")
    return pd.Timestamp(as_timestamp(last, "last order_ts"))


def checked_as_of(lazy: nw.LazyFrame, as_of: datetime | None) -> datetime | None:
    """``as_of`` or the last order time; raise if an order up to it misses a required value."""
    window = nw.col("order_ts") <= nw.lit(as_of) if as_of is not None else nw.lit(True)
    revenue = nw.col("revenue").is_null()
    if lazy.collect_schema()["revenue"].is_float():
        revenue = revenue | nw.col("revenue").is_nan()
    checks = collect_small(
        lazy.select(
            last=nw.col("order_ts").max(),
            order_ts=count_true(nw.col("order_ts").is_null()),
            customer_id=count_true(nw.col("customer_id").is_null() & window),
            revenue=count_true(revenue & window),
        )
    ).iloc[0]
    for column in ORDER_COLUMNS:
        if checks[column] > 0:
            raise ValueError(
                f"orders: column '{column}' has {int(checks[column])} null or NaN values; "
                f"the totals per customer would be silently wrong. Drop or fix those orders "
                f"(segkit.validate sends them to the rejects ledger)"
            )
    if as_of is not None or pd.isna(checks["last"]):
        return as_of
    return as_timestamp(checks["last"], "last order_ts")


def _order_totals(lazy: nw.LazyFrame) -> nw.LazyFrame:
    """Per-customer counts, sums and extremes of the orders (helper sums start with ``_``)."""
    present = set(lazy.collect_schema().names())
    helpers = {
        "_discount": ("discount", nw.col("discount").cast(nw.Float64)),
        "_discounted": ("discount", (nw.col("discount") > 0).cast(nw.Int64)),
        "_returned": ("returned", nw.col("returned").cast(nw.Int64)),
        "_items": ("items", nw.col("items").cast(nw.Int64)),
    }
    kept = {name: expr for name, (source, expr) in helpers.items() if source in present}
    totals = (
        lazy.with_columns(revenue=nw.col("revenue").cast(nw.Float64), **kept)
        .group_by("customer_id")
        .agg(
            nw.col("order_ts").min().alias("first_order_ts"),
            nw.col("order_ts").max().alias("last_order_ts"),
            nw.len().alias("orders"),
            nw.col("revenue").sum(),
            *(nw.col(name).sum() for name in kept),
        )
    )
    return totals.with_columns(orders=nw.col("orders").cast(nw.Int64))


def _with_ratios(totals: nw.LazyFrame, as_of: datetime | None) -> nw.LazyFrame:
    """The view's rates and day counts; those from absent order columns are null."""
    orders, first, last = nw.col("orders"), nw.col("first_order_ts"), nw.col("last_order_ts")
    if as_of is None:  # no orders at all: nothing to measure from
        recency = tenure = _NULL
    else:
        recency = days_between(nw.lit(as_of), last, totals)
        tenure = days_between(nw.lit(as_of), first, totals)
    present = set(totals.collect_schema().names())
    gross = nw.col("revenue") + nw.col("_discount")
    optional = {
        "discount_share": ("_discount", nw.when(gross > 0).then(nw.col("_discount") / gross)),
        "return_rate": ("_returned", nw.col("_returned") / orders),
        "items": ("_items", nw.col("_items")),
        "discounted_order_share": ("_discounted", nw.col("_discounted") / orders),
    }
    rates = {
        name: expr.cast(nw.Int64 if name == "items" else nw.Float64) if helper in present else _NULL
        for name, (helper, expr) in optional.items()
    }
    return totals.with_columns(
        avg_order_value=nw.col("revenue") / orders,
        recency_days=recency.cast(nw.Float64),
        tenure_days=tenure.cast(nw.Float64),
        days_between_orders=nw.when(orders > 1).then(
            days_between(last, first, totals) / (orders - 1)
        ),
        **rates,
    ).drop(*(helper for helper, _ in optional.values() if helper in present))


def _with_customers(view: nw.LazyFrame, people: nw.LazyFrame, as_of: datetime | None):
    """Buyers and registered customers (signed up by ``as_of``), with their attributes."""
    _check_customers(people)
    joined = view.join(people, on="customer_id", how="full", suffix="_customers")
    joined = joined.with_columns(
        customer_id=nw.coalesce("customer_id", "customer_id_customers"),
        orders=nw.col("orders").fill_null(0).cast(nw.Int64),
        revenue=nw.col("revenue").fill_null(0.0),
    ).drop("customer_id_customers")
    if as_of is None or "signup_date" not in people.collect_schema().names():
        return joined
    signup = timestamp_column(people, "signup_date", "customers")
    return joined.filter((nw.col("orders") > 0) | signup.is_null() | (signup <= nw.lit(as_of)))


def _check_customers(people: nw.LazyFrame) -> None:
    """Attributes must not shadow view columns; one row per customer."""
    reserved = set(VIEW_COLUMNS + SUBSEGMENT_INPUTS) - {"customer_id"}
    clash = [name for name in people.collect_schema().names() if name in reserved]
    if clash:
        raise DataContractError(
            "customers", clash[0], "attribute names other than the view's columns"
        )
    counts = collect_small(people.select(rows=nw.len(), ids=nw.col("customer_id").n_unique()))
    repeated = int(counts["rows"].iloc[0] - counts["ids"].iloc[0])
    if repeated:
        raise DataContractError("customers", "customer_id", "unique values", f"{repeated} repeats")


def _with_feedback(view, orders, notes, as_of, positive_score, charm_days) -> nw.LazyFrame:
    """Average feedback, praise count and orders soon after a praise, per customer."""
    require_columns(notes, _FEEDBACK_COLUMNS, "feedback")
    notes = notes.select(
        "customer_id",
        ts=timestamp_column(notes, "ts", "feedback"),
        score=nw.col("score").cast(nw.Float64),
    )
    if as_of is not None:
        notes = notes.filter(nw.col("ts") <= nw.lit(as_of))
    positive = nw.col("score") >= positive_score
    per_customer = (
        notes.with_columns(positive_feedback=positive.cast(nw.Int64))
        .group_by("customer_id")
        .agg(nw.col("score").mean().alias("avg_feedback"), nw.col("positive_feedback").sum())
    )
    praise = notes.filter(positive).select("customer_id", "ts")
    charmed = _orders_after_praise(orders, praise, charm_days)
    counts = ("positive_feedback", "orders_after_positive_feedback")
    return (
        view.join(per_customer, on="customer_id", how="left")
        .join(charmed, on="customer_id", how="left")
        .with_columns(*(nw.col(name).fill_null(0).cast(nw.Int64) for name in counts))
    )


def _orders_after_praise(orders: nw.LazyFrame, praise: nw.LazyFrame, charm_days: float):
    """Per customer, orders placed within ``charm_days`` after their latest earlier praise.

    Orders and praise form one time line per customer. Carrying each praise
    time forward along it gives every order the latest praise before it, so an
    order counts once however many praises precede it; at the same instant an
    order sorts before a praise, so "before" is strict. Only the orders of
    customers who praised are scanned, and no join multiplies rows.
    """
    praised = praise.select("customer_id").unique()
    buys = orders.join(praised, on="customer_id", how="semi").select(
        "customer_id",
        nw.col("order_ts").alias("ts"),
        nw.lit(0, nw.Int64).alias("kind"),
        nw.lit(None, TIMESTAMP).alias("praise_ts"),
    )
    praise = praise.select(
        "customer_id",
        "ts",
        nw.lit(1, nw.Int64).alias("kind"),
        nw.col("ts").alias("praise_ts"),
    )
    latest = nw.col("praise_ts").fill_null(strategy="forward")
    latest = latest.over("customer_id", order_by=["ts", "kind"])
    timeline = nw.concat([buys, praise]).with_columns(latest=latest)
    since = days_between(nw.col("ts"), nw.col("latest"), timeline)
    after = (nw.col("kind") == 0) & (nw.col("ts") > nw.col("latest")) & (since <= charm_days)
    return (
        timeline.filter(after)
        .group_by("customer_id")
        .agg(nw.len().alias("orders_after_positive_feedback"))
    )
