"""How concentrated customer value is: the Pareto (Lorenz) curve of revenue.

Example
-------
>>> import pandas as pd
>>> orders = pd.DataFrame({"customer_id": list("abcde"), "revenue": [80.0, 5, 5, 5, 5]})
>>> float(revenue_share_of_top(orders, 0.2))
0.8
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def pareto_curve(orders: pd.DataFrame) -> pd.DataFrame:
    """Customers ranked by revenue: ``customer_share`` (top x%) against ``revenue_share``.

    Starts at (0, 0) and ends at (1, 1); customers with zero revenue are included.
    """
    revenue = orders.groupby("customer_id")["revenue"].sum().sort_values(ascending=False)
    total = revenue.sum()
    if total <= 0:
        raise ValueError("orders have no positive revenue; a Pareto curve is undefined")
    n = len(revenue)
    return pd.DataFrame(
        {
            "customer_share": np.arange(n + 1) / n,
            "revenue_share": np.concatenate([[0.0], revenue.cumsum().to_numpy() / total]),
        }
    )


def revenue_share_of_top(orders: pd.DataFrame, top: float = 0.2) -> float:
    """Share of revenue from the top ``top`` fraction of customers (interpolated)."""
    if not 0 < top <= 1:
        raise ValueError(f"top must be in (0, 1], got {top}")
    curve = pareto_curve(orders)
    return float(np.interp(top, curve["customer_share"], curve["revenue_share"]))
