"""Segment playbook: what each segment is worth, where it is heading, how to reach it, what to do.

:func:`playbook` gives one row per segment: its customers and revenue (with
shares of the total), its revenue trend, the channels that pay best for it
(from an ROI table, :func:`segkit.roi`) and a recommended action.
:func:`playbook_flags` does the same for the behavioural flags of
:mod:`segkit.subsegments` (VIPs, discount abusers, ...), which cut across
segments.

Trend
    Revenue of the segment's customers in the last ``trend_days`` up to
    ``as_of`` (the window (as_of − trend_days, as_of]) against the
    ``trend_days`` before (as_of − 2·trend_days, as_of − trend_days], as a
    relative change ``recent / previous − 1``. Labels: "growing" above
    +``trend_band`` (10%), "declining" below −``trend_band``, "stable" within
    ±``trend_band`` (a change of exactly ±10% is stable); "new" when the
    earlier window has no revenue but the recent one has, "inactive" when
    neither has (both with a missing ``trend``). Members are today's: a segment
    defined by recency (Lost, New) shows the trend its definition implies.
Best channels
    From the ROI table's rows of the segment with attributed revenue > 0:
    channels with spend (a known ROAS) first, by ROAS, then channels without
    spend (organic, direct, referral, ...) by attributed revenue; ties by
    revenue, then name. The top ``top_channels`` as ``"a, b"``.
Actions
    Looked up by segment (or flag) name in :data:`DEFAULT_ACTIONS`, updated
    with the ``actions`` argument. A name without an action gets "review" and a
    note saying how to add one; it is not an error.

Example
-------
>>> import pandas as pd
>>> segments = pd.DataFrame({"customer_id": ["a", "b", "c"],
...                          "segment": ["Champions", "Lost", "Lost"]})
>>> orders = pd.DataFrame({"customer_id": ["a", "a", "b"], "revenue": [30.0, 50.0, 20.0],
...     "order_ts": pd.to_datetime(["2025-05-01", "2025-06-01", "2024-01-01"])})
>>> playbook(segments, orders)[["segment", "customers", "revenue", "trend_label"]].values.tolist()
[['Champions', 1, 80.0, 'new'], ['Lost', 2, 20.0, 'inactive']]
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd

from segkit.customer_view import ORDER_COLUMNS, checked_as_of
from segkit.errors import DataContractError, ParameterError
from segkit.frames import (
    as_lazy,
    as_timestamp,
    collect_small,
    count_true,
    require_columns,
    same_engine,
    timestamp_column,
)
from segkit.subsegments import FLAGS

#: Recommended action per segment name (the RFM segments of :data:`segkit.RFM_SEGMENTS`,
#: "Prospect" and the lifecycle stages) and per behavioural flag of :mod:`segkit.subsegments`.
DEFAULT_ACTIONS: dict[str, str] = {
    # RFM segments
    "Champions": "Reward and retain: exclusive offers, early access and referral asks; "
    "no discounts needed",
    "Loyal": "Loyalty programme and upsell to higher-value products",
    "Potential Loyalist": "Membership or loyalty sign-up and personal recommendations to "
    "build the habit",
    "New": "Onboarding series: welcome, how-to content and a reason for a second order",
    "Promising": "Build the relationship: brand content and a time-limited offer for the "
    "next order",
    "Need Attention": "Reactivate with personal, limited-time offers based on past purchases",
    "About to Sleep": "Reconnect before they lapse: popular products and a modest "
    "limited-time offer",
    "At Risk": "Personal win-back: tailored messages, renewal offers and helpful resources",
    "Can't Lose Them": "Personal win-back first: reach out one to one, learn why they stopped, "
    "make a strong offer",
    "Hibernating": "Low-cost re-engagement (one relevant offer), then suppress if there is "
    "no response",
    "Lost": "Suppress from paid campaigns; at most a low-cost reactivation email",
    "Prospect": "First-purchase incentive and a welcome series",
    # lifecycle stages ("New" and "Prospect" as above)
    "Active": "Keep engaged: cross-sell, loyalty programme and regular relevant content",
    "Churn": "Low-cost re-engagement or suppress from paid campaigns",
    # behavioural flags
    "vip": "Exclusive offers and early access; no discounts needed",
    "discount_abuser": "No blanket discounts: exclude from coupon campaigns and watch returns",
    "cherry_picker": "Sale-period messaging only; keep out of full-price campaigns",
    "charmed": "Ask for reviews and referrals",
    "churn_risk": "Timely, personal win-back before they lapse; suppress if there is no response",
}
#: The action of a name the mapping does not know.
REVIEW = "review"
TREND_LABELS = ("growing", "stable", "declining", "new", "inactive")
PLAYBOOK_COLUMNS = (
    "customers",
    "share_of_customers",
    "revenue",
    "share_of_revenue",
    "avg_revenue_per_customer",
    "recent_revenue",
    "previous_revenue",
    "trend",
    "trend_label",
    "best_channels",
    "action",
    "note",
)
FLAG_COLUMNS = ("flag", "customers", "share_of_customers", "top_segments", "action", "note")
ROI_TABLE = "ROI table"
#: Changes this close to ±trend_band count as on the band (floating-point noise, as in 110/100).
_EDGE = 1e-9


def playbook(
    segments: Any,
    orders: Any,
    roi_table: Any = None,
    actions: Mapping[Any, str | None] | None = None,
    as_of: Any = None,
    trend_days: float = 90,
    segment: str = "segment",
    top_channels: int = 2,
    trend_band: float = 0.1,
) -> pd.DataFrame:
    """One row per segment: size, revenue, trend, best channels and a recommended action.

    Parameters
    ----------
    segments : frame
        One row per customer with ``customer_id`` and the ``segment`` column
        (``segments.parquet`` of notebook 02). Any engine.
    orders : frame
        Canonical orders (``customer_id``, ``order_ts``, ``revenue``), same engine
        as ``segments``. Orders after ``as_of`` are ignored.
    roi_table : frame, optional
        ROI per (segment, channel), as :func:`segkit.roi` returns it: the
        ``segment`` column, ``channel``, ``revenue`` and ``roas``. Without it
        ``best_channels`` is empty.
    actions : mapping, optional
        Segment name to action, updating :data:`DEFAULT_ACTIONS` (a value of
        None removes a default).
    as_of : str, date or datetime, optional
        End of the analysis, by default the last ``order_ts``.
    trend_days : float, default 90
        Length of each of the two windows the trend compares (a quarter).
    segment : str, default "segment"
        The segment column of ``segments`` and ``roi_table``, and the name of the
        result's first column.
    top_channels : int, default 2
        How many channels ``best_channels`` lists.
    trend_band : float, default 0.1
        Relative change within which (inclusive) a trend is "stable".

    Returns
    -------
    pandas.DataFrame
        The ``segment`` column, then :data:`PLAYBOOK_COLUMNS`, largest revenue
        first: ``customers``; ``revenue`` of their orders up to ``as_of``;
        shares of the totals (a share of a zero total is missing);
        ``avg_revenue_per_customer``; ``recent_revenue`` and
        ``previous_revenue`` (the two trend windows); ``trend`` and
        ``trend_label`` (module docstring); ``best_channels``; ``action`` and a
        ``note`` (empty unless the action is missing). ``attrs["as_of"]`` holds
        the end used (None without orders).

    Raises
    ------
    DataContractError
        If a required column is missing or ``order_ts`` is not a timestamp, or
        ``segments`` repeats a customer, or ``roi_table`` repeats a
        (segment, channel) pair.
    ValueError
        If a segment is missing for some customers, or an order up to
        ``as_of`` misses its ``customer_id``, ``order_ts`` or ``revenue``
        (run :func:`segkit.validate` first).
    ParameterError
        If ``actions``, ``trend_days``, ``top_channels`` or ``trend_band`` is invalid.

    Warns
    -----
    UserWarning
        When orders up to ``as_of`` belong to customers missing from
        ``segments``: their revenue is in no segment (count and examples given).

    Example
    -------
    >>> import pandas as pd
    >>> segments = pd.DataFrame({"customer_id": ["a", "b"], "segment": ["Loyal", "Odd"]})
    >>> orders = pd.DataFrame({"customer_id": ["a", "b"], "revenue": [10.0, 5.0],
    ...                        "order_ts": pd.to_datetime(["2025-01-01", "2025-02-01"])})
    >>> playbook(segments, orders, actions={"Odd": "call them"})["action"].tolist()
    ['Loyalty programme and upsell to higher-value products', 'call them']
    """
    _check_parameters(trend_days, top_channels, trend_band)
    mapping = _action_mapping(actions)
    if not isinstance(segment, str):
        raise ParameterError(f"segment must name a column, got {segment!r}")
    people, buys = _inputs(segments, orders, segment)
    stamp = checked_as_of(buys, as_timestamp(as_of) if as_of is not None else None)
    per_customer = _revenue_windows(buys, stamp, trend_days)
    _warn_unsegmented(per_customer, people)
    revenue_columns = ("revenue", "recent_revenue", "previous_revenue")
    totals = collect_small(
        people.join(per_customer, on="customer_id", how="left")
        .with_columns(*(nw.col(name).fill_null(0.0) for name in revenue_columns))
        .group_by(segment)
        .agg(nw.len().alias("customers"), *(nw.col(name).sum() for name in revenue_columns))
    )
    table = _summarised(totals, segment, trend_band)
    channels = _best_channels(roi_table, segment, top_channels) if roi_table is not None else {}
    table["best_channels"] = pd.array(
        [channels.get(name, "") for name in table[segment]], dtype="str"
    )
    table["action"], table["note"] = _actions_for(table[segment], mapping)
    table = table[[segment, *PLAYBOOK_COLUMNS]]
    table.attrs["as_of"] = stamp
    return table


def playbook_flags(
    segments: Any,
    actions: Mapping[Any, str | None] | None = None,
    flags: Sequence[str] = tuple(FLAGS),
    segment: str | None = "segment",
    top_segments: int = 2,
) -> pd.DataFrame:
    """One row per behavioural flag: how many carry it, where they sit and what to do.

    Parameters
    ----------
    segments : frame
        One row per customer with the boolean ``flags`` columns (pandas
        nullable booleans allowed; a missing value counts as not flagged) and,
        unless ``segment`` is None, the ``segment`` column. Any engine.
    actions : mapping, optional
        Flag name to action, updating :data:`DEFAULT_ACTIONS`.
    flags : sequence of str, default the five flags of :mod:`segkit.subsegments`
        The flag columns, in the order of the result.
    segment : str or None, default "segment"
        The column ``top_segments`` is taken from; None leaves it empty.
    top_segments : int, default 2
        How many segments ``top_segments`` lists.

    Returns
    -------
    pandas.DataFrame
        :data:`FLAG_COLUMNS`: ``flag``, ``customers`` flagged,
        ``share_of_customers`` (of all rows; missing for an empty table),
        ``top_segments`` (the segments holding most of the flagged customers, as
        ``"a, b"``; ties by name), ``action`` and ``note``.

    Raises
    ------
    DataContractError
        If a flag or the segment column is missing, or a flag is not boolean.
    ParameterError
        If ``actions`` or ``top_segments`` is invalid.

    Example
    -------
    >>> import pandas as pd
    >>> segments = pd.DataFrame({"customer_id": ["a", "b"], "segment": ["Loyal", "Lost"],
    ...                          "vip": [True, False], "charmed": [True, True]})
    >>> playbook_flags(segments, flags=["vip", "charmed"])[["flag", "customers"]].values.tolist()
    [['vip', 1], ['charmed', 2]]
    """
    mapping = _action_mapping(actions)
    _check_count("top_segments", top_segments)
    flags = [flags] if isinstance(flags, str) else list(flags)
    lazy, _ = as_lazy(segments, "segments")
    require_columns(lazy, [*flags, *([segment] if segment is not None else [])], "segments")
    schema = lazy.collect_schema()
    for flag in flags:
        if schema[flag] != nw.Boolean:
            raise DataContractError(
                "segments", flag, "a boolean flag column", f"dtype {schema[flag]}"
            )
    as_counts = [nw.col(flag).fill_null(False).cast(nw.Int64) for flag in flags]
    flagged = lazy.select(*([segment] if segment is not None else []), *as_counts)
    counts = [nw.col(flag).sum() for flag in flags]
    totals = collect_small(flagged.select(nw.len().alias("_rows"), *counts)).iloc[0]
    rows = int(totals["_rows"])
    if segment is not None and flags:
        by_segment = collect_small(flagged.group_by(segment).agg(*counts))
    table = pd.DataFrame(
        {
            "flag": pd.array(flags, dtype="str"),
            "customers": np.array([int(totals[flag]) for flag in flags], dtype="int64"),
        }
    )
    table["share_of_customers"] = table["customers"] / rows if rows else np.nan
    table["top_segments"] = pd.array(
        [
            _top_segments(by_segment, segment, flag, top_segments) if segment is not None else ""
            for flag in flags
        ],
        dtype="str",
    )
    table["action"], table["note"] = _actions_for(table["flag"], mapping)
    return table[list(FLAG_COLUMNS)]


def _check_count(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ParameterError(f"{name} must be a whole number ≥ 0, got {value!r}")


def _check_parameters(trend_days: Any, top_channels: Any, trend_band: Any) -> None:
    for name, value in (("trend_days", trend_days), ("trend_band", trend_band)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
            raise ParameterError(f"{name} must be a number, got {value!r}")
    if not 0 < trend_days < math.inf:
        raise ParameterError(f"trend_days must be a positive number of days, got {trend_days!r}")
    if not 0 <= trend_band < math.inf:
        raise ParameterError(f"trend_band must be a share ≥ 0 (0.1 is ±10%), got {trend_band!r}")
    _check_count("top_channels", top_channels)


def _action_mapping(actions: Any) -> dict[Any, str | None]:
    """:data:`DEFAULT_ACTIONS` updated with ``actions``, checked."""
    if actions is None:
        return dict(DEFAULT_ACTIONS)
    if not isinstance(actions, Mapping):
        raise ParameterError(
            f"actions must map segment or flag names to actions, got {type(actions).__name__}"
        )
    wrong = {name: action for name, action in actions.items() if not isinstance(action, str | None)}
    if wrong:
        raise ParameterError(f"actions must be text (or None to remove one), got {wrong!r}")
    return {**DEFAULT_ACTIONS, **actions}


def _actions_for(names: pd.Series, mapping: Mapping[Any, str | None]) -> tuple[Any, Any]:
    """The action and the note of each name; "review" and a hint for a name without one."""
    chosen, notes = [], []
    for name in names:
        action = mapping.get(name)
        chosen.append(action if action else REVIEW)
        notes.append(
            ""
            if action
            else f"no action defined for {name!r}: review it and add one with "
            f"actions={{{name!r}: '...'}}"
        )
    return pd.array(chosen, dtype="str"), pd.array(notes, dtype="str")


def _inputs(segments: Any, orders: Any, segment: str) -> tuple[nw.LazyFrame, nw.LazyFrame]:
    """``segments`` (customer_id, segment) and ``orders`` (customer_id, order_ts, revenue),
    opened in the orders' engine (a pandas ``segments`` is sent there) with matching key
    types and checked."""
    buys, _ = as_lazy(orders, "orders")
    people = same_engine(buys, segments, "segments", "orders")
    require_columns(people, ["customer_id", segment], "segments")
    require_columns(buys, ORDER_COLUMNS, "orders")
    revenue_type = buys.collect_schema()["revenue"]
    if not revenue_type.is_numeric():
        raise DataContractError("orders", "revenue", "a numeric column", f"dtype {revenue_type}")
    buys = buys.select(
        nw.col("customer_id"),
        timestamp_column(buys, "order_ts", "orders").alias("order_ts"),
        nw.col("revenue").cast(nw.Float64),
    )
    key = buys.collect_schema()["customer_id"]
    people = people.select("customer_id", segment)
    if people.collect_schema()["customer_id"] != key:
        people = people.with_columns(nw.col("customer_id").cast(key))
    checks = collect_small(
        people.select(
            rows=nw.len(),
            ids=nw.col("customer_id").n_unique(),
            unlabelled=count_true(nw.col(segment).is_null()),
        )
    ).iloc[0]
    if checks["rows"] != checks["ids"]:
        repeated = collect_small(
            people.group_by("customer_id")
            .agg(nw.len().alias("_rows"))
            .filter(nw.col("_rows") > 1)
            .select("customer_id")
            .head(3)
        )["customer_id"].tolist()
        raise DataContractError(
            "segments", "customer_id", "one row per customer", f"repeated ids, e.g. {repeated}"
        )
    if checks["unlabelled"] > 0:
        missing = collect_small(
            people.filter(nw.col(segment).is_null()).select("customer_id").head(3)
        )["customer_id"].tolist()
        raise ValueError(
            f"segments: column '{segment}' is missing for {int(checks['unlabelled'])} customers, "
            f"e.g. {missing}; every customer needs a segment (a MECE segmentation)"
        )
    return people, buys


def _revenue_windows(buys: nw.LazyFrame, stamp: datetime | None, trend_days: float) -> nw.LazyFrame:
    """Per customer: revenue up to ``stamp`` and in the recent and previous trend windows."""
    if stamp is None:  # no orders: any end gives empty windows
        stamp = datetime(1970, 1, 1)
    recent_start = stamp - timedelta(days=trend_days)
    previous_start = stamp - timedelta(days=2 * trend_days)
    ts, revenue, zero = nw.col("order_ts"), nw.col("revenue"), nw.lit(0.0)
    recent = ts > nw.lit(recent_start)
    previous = (ts > nw.lit(previous_start)) & (ts <= nw.lit(recent_start))
    return (
        buys.filter(ts <= nw.lit(stamp))
        .with_columns(
            _recent=nw.when(recent).then(revenue).otherwise(zero),
            _previous=nw.when(previous).then(revenue).otherwise(zero),
        )
        .group_by("customer_id")
        .agg(
            revenue.sum(),
            nw.col("_recent").sum().alias("recent_revenue"),
            nw.col("_previous").sum().alias("previous_revenue"),
        )
    )


def _warn_unsegmented(per_customer: nw.LazyFrame, people: nw.LazyFrame) -> None:
    outside = per_customer.join(people.select("customer_id"), on="customer_id", how="anti")
    counts = collect_small(outside.select(customers=nw.len(), revenue=nw.col("revenue").sum()))
    customers = int(counts["customers"].iloc[0])
    if customers:
        examples = collect_small(outside.select("customer_id").head(3))["customer_id"].tolist()
        warnings.warn(
            f"orders: {customers} customer{'s' if customers != 1 else ''} with orders "
            f"{'are' if customers != 1 else 'is'} not in segments (revenue "
            f"{float(counts['revenue'].iloc[0]):,.2f} left out of every segment), e.g. {examples}",
            UserWarning,
            stacklevel=3,
        )


def _summarised(totals: pd.DataFrame, segment: str, band: float) -> pd.DataFrame:
    """Shares, revenue per customer and trend of the per-segment totals, largest revenue first."""
    table = totals.astype(
        {
            "customers": "int64",
            "revenue": "float64",
            "recent_revenue": "float64",
            "previous_revenue": "float64",
        }
    )
    table = _largest_first(table, segment)
    customers, revenue = table["customers"].sum(), table["revenue"].sum()
    table["share_of_customers"] = table["customers"] / customers if customers else np.nan
    table["share_of_revenue"] = table["revenue"] / revenue if revenue else np.nan
    table["avg_revenue_per_customer"] = table["revenue"] / table["customers"]
    previous = table["previous_revenue"]
    table["trend"] = (table["recent_revenue"] / previous.where(previous > 0)) - 1
    table["trend_label"] = pd.array(
        [_trend_label(r, p, band) for r, p in zip(table["recent_revenue"], previous, strict=True)],
        dtype="str",
    )
    return table


def _largest_first(table: pd.DataFrame, segment: str) -> pd.DataFrame:
    """Largest revenue first, then most customers, then by name, so every engine agrees."""
    names = table[segment].astype("str").to_numpy()
    order = np.lexsort((names, -table["customers"].to_numpy(), -table["revenue"].to_numpy()))
    return table.iloc[order].reset_index(drop=True)


def _trend_label(recent: float, previous: float, band: float) -> str:
    if previous > 0:
        change = recent / previous - 1
        if change > band + _EDGE:
            return "growing"
        if change < -band - _EDGE:
            return "declining"
        return "stable"
    return "new" if recent > 0 else "inactive"


def _best_channels(roi_table: Any, segment: str, top: int) -> dict[Any, str]:
    """Segment to its best channels as ``"a, b"`` (ranking in the module docstring)."""
    lazy, _ = as_lazy(roi_table, ROI_TABLE)
    require_columns(lazy, [segment, "channel", "revenue", "roas"], ROI_TABLE)
    schema = lazy.collect_schema()
    for column in ("revenue", "roas"):
        if not schema[column].is_numeric():
            raise DataContractError(
                ROI_TABLE, column, "a numeric column", f"dtype {schema[column]}"
            )
    roi = collect_small(
        lazy.select(
            segment,
            nw.col("channel"),
            nw.col("revenue").cast(nw.Float64),
            nw.col("roas").cast(nw.Float64),
        )
    )
    repeated = roi.duplicated([segment, "channel"])
    if repeated.any():
        pairs = roi.loc[repeated, [segment, "channel"]].head(3).values.tolist()
        raise DataContractError(
            ROI_TABLE,
            f"{segment}, channel",
            "one row per (segment, channel), from one attribution model",
            f"repeated {pairs}",
        )
    for column in ("revenue", "roas"):
        roi[column] = roi[column].astype("Float64").to_numpy(dtype="float64", na_value=np.nan)
    roi = roi[roi["revenue"] > 0].assign(
        _paid=lambda frame: np.isfinite(frame["roas"]),
        _roas=lambda frame: frame["roas"].where(np.isfinite(frame["roas"]), -np.inf),
        channel=lambda frame: frame["channel"].astype("str"),
    )
    ranked = roi.sort_values(
        ["_paid", "_roas", "revenue", "channel"],
        ascending=[False, False, False, True],
        kind="stable",
    )
    best = ranked.groupby(segment, sort=False).head(top)
    return best.groupby(segment, sort=False)["channel"].agg(", ".join).to_dict()


def _top_segments(by_segment: pd.DataFrame, segment: str, flag: str, top: int) -> str:
    counts = by_segment[[segment, flag]]
    counts = counts[counts[flag] > 0].assign(_name=lambda frame: frame[segment].astype("str"))
    ranked = counts.sort_values([flag, "_name"], ascending=[False, True], kind="stable")
    return ", ".join(ranked["_name"].head(top))
