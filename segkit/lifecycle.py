"""Lifecycle stages: where each customer is in their relationship with the shop.

Every customer of a :func:`segkit.customer_view.customer_view` gets one stage,
checked in this order:

=========  ==========================================================
Prospect   registered, no order yet (``orders`` is 0)
New        first order at most ``new_days`` before ``as_of``
Churn      last order more than ``churn_days`` before ``as_of``
Active     every other buyer
=========  ==========================================================

A new customer cannot be churned because ``new_days < churn_days``. The
stage is computed in the caller's engine; :func:`lifecycle_summary` and
:func:`lifecycle_funnel` collect only a four-row table each.

Example
-------
>>> import pandas as pd
>>> view = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "orders": [0, 1, 3, 2],
...                      "revenue": [0.0, 10.0, 90.0, 20.0],
...                      "tenure_days": [None, 20.0, 400.0, 800.0],
...                      "recency_days": [None, 20.0, 30.0, 500.0]})
>>> lifecycle(view)["lifecycle_stage"].tolist()
['Prospect', 'New', 'Active', 'Churn']
"""

from __future__ import annotations

from typing import Any

import narwhals as nw
import pandas as pd

from segkit.frames import as_lazy, collect_small, require_columns

#: The stages in lifecycle order.
STAGES: tuple[str, ...] = ("Prospect", "New", "Active", "Churn")
_VIEW_COLUMNS = ("customer_id", "orders", "revenue", "tenure_days", "recency_days")


def lifecycle(view: Any, new_days: float = 90, churn_days: float = 365) -> Any:
    """The customer view with a ``lifecycle_stage`` column: Prospect, New, Active or Churn.

    Parameters
    ----------
    view : frame
        A customer view (:func:`segkit.customer_view.customer_view`), any engine.
    new_days : float, default 90
        A buyer whose first order is at most this many days old (``tenure_days``)
        is New: a quarter, the usual onboarding window.
    churn_days : float, default 365
        A buyer whose last order is more than this many days old
        (``recency_days``) is Churn: a full year without buying covers seasonal
        shoppers. Must be larger than ``new_days``.

    Returns
    -------
    frame
        ``view`` (same kind, same rows and order) with ``lifecycle_stage`` appended.

    Raises
    ------
    ValueError
        If ``new_days`` is not smaller than ``churn_days`` or either is negative.
    DataContractError
        If the view lacks ``orders``, ``tenure_days`` or ``recency_days``.

    Example
    -------
    >>> import pandas as pd
    >>> view = pd.DataFrame({"customer_id": ["a", "b"], "orders": [1, 2], "revenue": [5.0, 9.0],
    ...                      "tenure_days": [70.0, 400.0], "recency_days": [70.0, 200.0]})
    >>> lifecycle(view, new_days=60, churn_days=180)["lifecycle_stage"].tolist()
    ['Active', 'Churn']
    """
    if not 0 <= new_days < churn_days:
        raise ValueError(
            f"lifecycle needs 0 <= new_days < churn_days, got new_days={new_days}, "
            f"churn_days={churn_days}"
        )
    lazy, back = as_lazy(view, "customer view")
    require_columns(lazy, _VIEW_COLUMNS, "customer view")
    stage = (
        nw.when(nw.col("orders").fill_null(0) == 0)
        .then(nw.lit("Prospect"))
        .when(nw.col("tenure_days") <= new_days)
        .then(nw.lit("New"))
        .when(nw.col("recency_days") > churn_days)
        .then(nw.lit("Churn"))
        .otherwise(nw.lit("Active"))
    )
    return back(lazy.with_columns(lifecycle_stage=stage))


def lifecycle_summary(view_with_stage: Any) -> pd.DataFrame:
    """Customers and revenue per lifecycle stage, with their shares of the total.

    Parameters
    ----------
    view_with_stage : frame
        The output of :func:`lifecycle`, any engine.

    Returns
    -------
    pandas.DataFrame
        One row per stage in :data:`STAGES` order (empty stages as zeros):
        ``stage``, ``customers``, ``share_of_customers``, ``revenue``,
        ``share_of_revenue``. A share of a zero total is NaN.

    Example
    -------
    >>> import pandas as pd
    >>> view = pd.DataFrame({"customer_id": ["a", "b"], "orders": [0, 2], "revenue": [0.0, 9.0],
    ...                      "tenure_days": [None, 400.0], "recency_days": [None, 200.0]})
    >>> lifecycle_summary(lifecycle(view))[["stage", "customers"]].values.tolist()
    [['Prospect', 1], ['New', 0], ['Active', 1], ['Churn', 0]]
    """
    lazy, _ = as_lazy(view_with_stage, "customer view")
    require_columns(lazy, ["lifecycle_stage", "revenue"], "customer view")
    counts = collect_small(
        lazy.group_by("lifecycle_stage").agg(nw.len().alias("customers"), nw.col("revenue").sum())
    ).set_index("lifecycle_stage")
    summary = counts.reindex(list(STAGES), fill_value=0).rename_axis("stage").reset_index()
    summary = summary.astype({"stage": "str", "customers": "int64", "revenue": "float64"})
    summary["share_of_customers"] = _share(summary["customers"])
    summary["share_of_revenue"] = _share(summary["revenue"])
    return summary[["stage", "customers", "share_of_customers", "revenue", "share_of_revenue"]]


def lifecycle_funnel(view_with_stage: Any) -> pd.DataFrame:
    """How many customers reach each step from registration to being active now.

    Steps, each a subset of the one before: "Registered" (every customer in the
    view; shown only when the view has prospects, i.e. was built with the
    customers table), "First purchase" (at least one order), "Repeat purchase"
    (at least two orders) and "Active now" (repeat buyers not in the Churn
    stage).

    Parameters
    ----------
    view_with_stage : frame
        The output of :func:`lifecycle`, any engine.

    Returns
    -------
    pandas.DataFrame
        ``step``, ``customers``, ``share_of_first_step`` and
        ``conversion_from_previous`` (NaN for the first step).

    Example
    -------
    >>> import pandas as pd
    >>> view = pd.DataFrame({"customer_id": ["a", "b"], "orders": [0, 2], "revenue": [0.0, 9.0],
    ...                      "tenure_days": [None, 400.0], "recency_days": [None, 200.0]})
    >>> lifecycle_funnel(lifecycle(view))[["step", "customers"]].values.tolist()
    [['Registered', 2], ['First purchase', 1], ['Repeat purchase', 1], ['Active now', 1]]
    """
    lazy, _ = as_lazy(view_with_stage, "customer view")
    require_columns(lazy, ["lifecycle_stage", "orders"], "customer view")
    orders = nw.col("orders").fill_null(0)
    stage = nw.col("lifecycle_stage")
    counts = collect_small(
        lazy.with_columns(
            _buyer=(orders >= 1).cast(nw.Int64),
            _repeat=(orders >= 2).cast(nw.Int64),
            _active=((orders >= 2) & (stage != "Churn")).cast(nw.Int64),
        ).select(
            nw.len().alias("Registered"),
            nw.col("_buyer").sum().alias("First purchase"),
            nw.col("_repeat").sum().alias("Repeat purchase"),
            nw.col("_active").sum().alias("Active now"),
        )
    ).iloc[0]
    steps = [str(step) for step in counts.index]
    if counts["Registered"] == counts["First purchase"]:  # no prospects: start at the buyers
        steps = steps[1:]
    customers = counts[steps].fillna(0).astype("int64").to_numpy()
    funnel = pd.DataFrame({"step": pd.array(steps, dtype="str"), "customers": customers})
    first = funnel["customers"].iloc[0]
    funnel["share_of_first_step"] = funnel["customers"] / first if first else float("nan")
    funnel["conversion_from_previous"] = funnel["customers"] / funnel["customers"].shift(1)
    return funnel


def _share(values: pd.Series) -> pd.Series:
    total = values.sum()
    return values / total if total else values * float("nan")
