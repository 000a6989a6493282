"""Which channels reach which segments: touches and customers per segment × channel.

The touchpoints may be any supported frame (pandas, Polars, DuckDB, PySpark):
the counting runs in their engine and only the counts (segment × channel,
channel × interaction) come back, as pandas.

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

from typing import Any

import narwhals as nw
import pandas as pd

from segkit.frames import as_lazy, collect_small, require_columns, same_engine
from segkit.journeys import UNSEGMENTED

#: The interaction of a touchpoint without one, in :func:`touch_counts`.
UNKNOWN_INTERACTION = "unknown"


def channel_reach(touchpoints: Any, segments: Any, segment: str = "segment") -> pd.DataFrame:
    """Touches, distinct customers and each channel's share of the segment's touches.

    Touchpoints of customers without a segment are counted under "Unsegmented"
    (prospects who never ordered), so no touch is lost. Touchpoints without a
    channel are left out.

    Parameters
    ----------
    touchpoints : frame
        ``customer_id`` and ``channel`` per touch; any supported engine, counted there.
    segments : frame
        ``customer_id`` and the ``segment`` column, one row per customer (a customer
        in several rows counts each touch once per row). The same kind of frame as
        ``touchpoints``, or pandas, which is then moved to their engine.
    segment : str, default "segment"
        The label column of ``segments``. Text labels (strings, categories) come back
        as strings; other labels (cluster numbers) keep their type, and customers
        without one get a missing label instead of "Unsegmented".

    Returns
    -------
    pandas DataFrame
        One row per (segment, channel) touched, sorted by both: ``touches``,
        ``customers`` (distinct, known ids) and ``share_of_segment_touches``.

    Example
    -------
    >>> touches = pd.DataFrame({"customer_id": ["a", "a", "c"], "channel": "email"})
    >>> segments = pd.DataFrame({"customer_id": ["a"], "segment": ["VIP"]})
    >>> channel_reach(touches, segments)[["segment", "touches", "customers"]].values.tolist()
    [['Unsegmented', 1, 1], ['VIP', 2, 1]]
    """
    lazy, _ = as_lazy(touchpoints, "touchpoints")
    require_columns(lazy, ["customer_id", "channel"], "touchpoints")
    labels = same_engine(lazy, segments, "segments", "touchpoints")
    require_columns(labels, ["customer_id", segment], "segments")
    labels = labels.select("customer_id", segment)
    key = lazy.collect_schema()["customer_id"]
    if labels.collect_schema()["customer_id"] != key:
        labels = labels.with_columns(nw.col("customer_id").cast(key))
    if labels.collect_schema()[segment] in (nw.String, nw.Categorical, nw.Enum):
        label = nw.col(segment).cast(nw.String).fill_null(UNSEGMENTED)
    else:
        label = nw.col(segment)
    labelled = (
        lazy.filter(~nw.col("channel").is_null())
        .select("customer_id", "channel")
        .join(labels, on="customer_id", how="left")
        .with_columns(label)
    )
    per_customer = labelled.group_by(segment, "channel", "customer_id").agg(
        nw.len().alias("touches")
    )
    counts = collect_small(
        per_customer.group_by(segment, "channel").agg(
            nw.col("touches").sum(), nw.col("customer_id").count().alias("customers")
        )
    )
    reach = counts.astype({"touches": "int64", "customers": "int64"}).sort_values(
        [segment, "channel"], ignore_index=True
    )
    totals = reach.groupby(segment, dropna=False)["touches"].transform("sum")
    reach["share_of_segment_touches"] = reach["touches"] / totals
    return reach


def touch_counts(touchpoints: Any) -> pd.DataFrame:
    """Touches per channel (rows) and interaction (columns), with a ``total`` column.

    ``touchpoints`` (``channel``, ``interaction``) may be any supported frame: the
    counts per (channel, interaction) are computed in its engine, then pivoted in
    pandas. A missing interaction counts as "unknown"; touches without a channel
    are left out. Rows are sorted by ``total``, largest first.

    Example
    -------
    >>> touches = pd.DataFrame({"channel": ["email", "email", "display"],
    ...                         "interaction": ["click", None, "click"]})
    >>> touch_counts(touches).values.tolist()
    [[1, 1, 2], [1, 0, 1]]
    """
    lazy, _ = as_lazy(touchpoints, "touchpoints")
    require_columns(lazy, ["channel", "interaction"], "touchpoints")
    kinds = lazy.filter(~nw.col("channel").is_null()).select(
        "channel", nw.col("interaction").cast(nw.String).fill_null(UNKNOWN_INTERACTION)
    )
    pairs = collect_small(kinds.group_by("channel", "interaction").agg(nw.len().alias("touches")))
    counts = pd.crosstab(
        pairs["channel"], pairs["interaction"], values=pairs["touches"], aggfunc="sum"
    )
    counts = counts.fillna(0).astype("int64")
    counts["total"] = counts.sum(axis=1)
    return counts.sort_values("total", ascending=False)
