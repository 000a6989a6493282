"""How concentrated customer value is: the Pareto (Lorenz) curve of revenue.

The orders may be any supported frame (pandas, Polars, DuckDB, PySpark): the
revenue per customer is summed in their engine, and those sums, one number per
customer, are collected to draw the curve.

Example
-------
>>> import pandas as pd
>>> orders = pd.DataFrame({"customer_id": list("abcde"), "revenue": [80.0, 5, 5, 5, 5]})
>>> float(revenue_share_of_top(orders, 0.2))
0.8
"""

from __future__ import annotations

from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd

from segkit.frames import as_lazy, require_columns


def pareto_curve(orders: Any) -> pd.DataFrame:
    """Customers ranked by revenue: ``customer_share`` (top x%) against ``revenue_share``.

    Starts at (0, 0) and ends at (1, 1); customers with zero revenue are included,
    orders without a ``customer_id`` are not. ``orders`` (``customer_id``,
    ``revenue``) may be any supported frame; each customer's revenue is summed in
    its engine and the sums (one number per customer) are brought to numpy.

    Example
    -------
    >>> orders = pd.DataFrame({"customer_id": ["a", "b", "a"], "revenue": [30.0, 20.0, 50.0]})
    >>> pareto_curve(orders)["revenue_share"].tolist()
    [0.0, 0.8, 1.0]
    """
    lazy, _ = as_lazy(orders, "orders")
    require_columns(lazy, ["customer_id", "revenue"], "orders")
    # NaN is missing revenue, skipped as pandas skips it (Polars, DuckDB and Spark would add it)
    amounts = lazy.select("customer_id", nw.col("revenue").cast(nw.Float64).fill_nan(None))
    sums = amounts.group_by("customer_id", drop_null_keys=True).agg(nw.col("revenue").sum())
    revenue = np.sort(sums.select("revenue").collect()["revenue"].to_numpy())[::-1]
    total = revenue.sum()
    if total <= 0:
        raise ValueError("orders have no positive revenue; a Pareto curve is undefined")
    n = len(revenue)
    return pd.DataFrame(
        {
            "customer_share": np.arange(n + 1) / n,
            "revenue_share": np.concatenate([[0.0], revenue.cumsum() / total]),
        }
    )


def revenue_share_of_top(orders: Any, top: float = 0.2) -> float:
    """Share of revenue from the top ``top`` fraction of customers (interpolated).

    ``orders`` as for :func:`pareto_curve`, any supported frame.
    """
    if not 0 < top <= 1:
        raise ValueError(f"top must be in (0, 1], got {top}")
    curve = pareto_curve(orders)
    return float(np.interp(top, curve["customer_share"], curve["revenue_share"]))
