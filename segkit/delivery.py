"""What the spend bought: cost, impressions, clicks, CTR, CPC and CPM per channel.

Ratios with a zero denominator are missing (shown as not available), never inf.

Example
-------
>>> import pandas as pd
>>> spend = pd.DataFrame({"channel": ["a", "a"], "cost": [10.0, 10.0],
...                       "impressions": [1000, 1000], "clicks": [10, 30]})
>>> float(delivery(spend)["ctr"].iloc[0])
0.02
"""

from __future__ import annotations

import pandas as pd


def delivery(spend: pd.DataFrame, by: str | list[str] = "channel") -> pd.DataFrame:
    """Totals and rates of the spend table grouped by ``by`` (channel, campaign, ...)."""
    keys = [by] if isinstance(by, str) else list(by)
    totals = spend.groupby(keys, as_index=False, sort=True)[["cost", "impressions", "clicks"]].sum()
    impressions = totals["impressions"].astype("float64").where(totals["impressions"] > 0)
    clicks = totals["clicks"].astype("float64").where(totals["clicks"] > 0)
    return totals.assign(
        ctr=totals["clicks"] / impressions,
        cpc=totals["cost"] / clicks,
        cpm=totals["cost"] / impressions * 1000,
    )
