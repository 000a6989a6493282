"""Buyer types: one-time and repeat buyers, the simplest behavioural segmentation.

Example
-------
>>> import pandas as pd
>>> orders = pd.DataFrame({"customer_id": ["a", "a", "b"], "revenue": [10.0, 5.0, 7.0]})
>>> buyer_types(orders)["segment"].tolist()
['Repeat buyer', 'One-time buyer']
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def buyer_types(orders: pd.DataFrame, repeat_min_orders: int = 2) -> pd.DataFrame:
    """One row per customer: ``orders``, ``revenue`` and ``segment``.

    ``segment`` is "Repeat buyer" from ``repeat_min_orders`` orders on, else
    "One-time buyer".
    """
    if repeat_min_orders < 2:
        raise ValueError(f"repeat_min_orders must be at least 2, got {repeat_min_orders}")
    per_customer = orders.groupby("customer_id", as_index=False, sort=True).agg(
        orders=("revenue", "size"), revenue=("revenue", "sum")
    )
    repeat = per_customer["orders"] >= repeat_min_orders
    per_customer["segment"] = np.where(repeat, "Repeat buyer", "One-time buyer")
    return per_customer
