"""Segment profiles: size and value of each segment, the first table of every report.

Example
-------
>>> import pandas as pd
>>> seg = pd.DataFrame({"customer_id": list("abc"), "segment": ["X", "X", "Y"],
...                     "revenue": [10.0, 30.0, 60.0]})
>>> segment_summary(seg)["share_of_revenue"].tolist()
[0.4, 0.6]
"""

from __future__ import annotations

import pandas as pd


def segment_summary(segments: pd.DataFrame, by: str | list[str] = "segment") -> pd.DataFrame:
    """Customers, revenue, their shares of the total and revenue per customer by ``by``.

    ``segments`` has one row per customer with ``customer_id``, the ``by``
    columns and ``revenue``.
    """
    keys = [by] if isinstance(by, str) else list(by)
    summary = segments.groupby(keys, as_index=False, sort=True).agg(
        customers=("customer_id", "nunique"), revenue=("revenue", "sum")
    )
    summary["share_of_customers"] = summary["customers"] / summary["customers"].sum()
    total_revenue = summary["revenue"].sum()
    summary["share_of_revenue"] = summary["revenue"] / total_revenue if total_revenue else pd.NA
    summary["revenue_per_customer"] = summary["revenue"] / summary["customers"]
    return summary
