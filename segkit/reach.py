"""Which channels reach which segments: touches and customers per segment × channel.

Example
-------
>>> import pandas as pd
>>> touches = pd.DataFrame(
...     {"customer_id": ["a", "a", "b"], "channel": ["email", "direct", "email"]}
... )
>>> segments = pd.DataFrame({"customer_id": ["a", "b"], "segment": ["X", "Y"]})
>>> channel_reach(touches, segments)["touches"].tolist()
[1, 1, 1]
"""

from __future__ import annotations

import pandas as pd

from segkit.journeys import UNSEGMENTED


def channel_reach(
    touchpoints: pd.DataFrame, segments: pd.DataFrame, segment: str = "segment"
) -> pd.DataFrame:
    """Touches, distinct customers and each channel's share of the segment's touches.

    Touchpoints of customers without a segment are counted under "Unsegmented"
    (prospects who never ordered), so no touch is lost.
    """
    labelled = touchpoints.merge(segments[["customer_id", segment]], on="customer_id", how="left")
    labelled[segment] = labelled[segment].fillna(UNSEGMENTED)
    reach = labelled.groupby([segment, "channel"], as_index=False, sort=True).agg(
        touches=("customer_id", "size"), customers=("customer_id", "nunique")
    )
    reach["share_of_segment_touches"] = reach["touches"] / reach.groupby(segment)[
        "touches"
    ].transform("sum")
    return reach


def touch_counts(touchpoints: pd.DataFrame) -> pd.DataFrame:
    """Touches per channel (rows) and interaction (columns), with a ``total`` column."""
    interaction = touchpoints["interaction"].fillna("unknown")
    counts = pd.crosstab(touchpoints["channel"], interaction)
    counts["total"] = counts.sum(axis=1)
    return counts.sort_values("total", ascending=False)
