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


#: Label and flag columns segmentation adds, in the order segments.parquet keeps them.
LABEL_COLUMNS = (
    "rfm_segment",
    "r_score",
    "f_score",
    "m_score",
    "rfm_score",
    "lifecycle_stage",
    "vip",
    "discount_abuser",
    "cherry_picker",
    "charmed",
    "churn_risk",
    "cluster",
    "cluster_name",
)


def segments_table(labelled: pd.DataFrame, primary: str = "rfm_segment") -> pd.DataFrame:
    """One row per customer with every label and flag, and ``segment`` = the primary one.

    ``primary`` must label every customer exactly once (a MECE segmentation such
    as ``rfm_segment`` or a rule set's ``<name>_segment``); attribution and
    analysis break their results down by ``segment``.
    """
    if primary not in labelled:
        raise ValueError(f"primary segment column {primary!r} is not among {list(labelled)}")
    if labelled[primary].isna().any():
        missing = labelled.loc[labelled[primary].isna(), "customer_id"].head(3).tolist()
        raise ValueError(f"primary segment {primary!r} leaves customers unlabelled, e.g. {missing}")
    labels = [c for c in LABEL_COLUMNS if c in labelled]
    labels += [c for c in labelled if c.endswith("_segment") and c not in labels]
    table = labelled[["customer_id", "orders", "revenue", *labels]]
    return table.assign(segment=labelled[primary]).reset_index(drop=True)[
        ["customer_id", "segment", "orders", "revenue", *labels]
    ]


def flag_summary(flagged: pd.DataFrame, flags: list[str] | tuple[str, ...]) -> pd.DataFrame:
    """Customers and revenue carrying each boolean flag, with their shares of the total."""
    revenue = flagged["revenue"].sum()
    rows = [
        (flag, int(flagged[flag].sum()), float(flagged.loc[flagged[flag], "revenue"].sum()))
        for flag in flags
    ]
    summary = pd.DataFrame(rows, columns=["flag", "customers", "revenue"])
    summary["share_of_customers"] = summary["customers"] / len(flagged)
    summary["share_of_revenue"] = summary["revenue"] / revenue if revenue else pd.NA
    return summary
