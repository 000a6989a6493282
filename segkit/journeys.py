"""Journeys: the touchpoints that led (or did not lead) to each conversion, in long format.

Every attribution model reads this one format, one row per step of a journey:

========================  ===================================================================
``journey_id``            str, unique per journey
``customer_id``           str (null for journeys built from aggregated paths)
``step``, ``steps``       int: position of the touch (1 = first) and the journey's length
``channel``               str
``ts``                    timestamp of the touch (null for aggregated paths)
``days_before_conversion`` float: time from the touch to the conversion (null when unknown
                          or the journey did not convert)
``conversions``           float: conversions the journey ended in, repeated on each step
                          (1 for an order, 0 for a non-converting journey; may be fractional)
``nulls``                 float: non-conversions the journey stands for (1 or 0; counts
                          when the journey is an aggregated path)
``revenue``               float: conversion value of the journey, repeated on each step
========================  ===================================================================

Steps are ordered by time, ties broken deterministically; other columns (``campaign``,
``interaction``, ``order_id``, a ``segment``) may follow and are carried along.

Example
-------
>>> import pandas as pd
>>> paths = pd.DataFrame({"path": ["email > search", "search"], "total_conversions": [1, 2],
...                       "total_conversion_value": [50.0, 80.0], "total_null": [3, 0]})
>>> journeys_from_paths(paths)[["journey_id", "step", "channel", "conversions"]].values.tolist()
[['p0', 1, 'email', 1.0], ['p0', 2, 'search', 1.0], ['p1', 1, 'search', 2.0]]
"""

from __future__ import annotations

import pandas as pd

from segkit.errors import DataContractError

JOURNEY_COLUMNS = (
    "journey_id",
    "customer_id",
    "step",
    "steps",
    "channel",
    "ts",
    "days_before_conversion",
    "conversions",
    "nulls",
    "revenue",
)


def journeys_from_paths(
    paths: pd.DataFrame,
    path: str = "path",
    conversions: str = "total_conversions",
    value: str | None = "total_conversion_value",
    nulls: str | None = "total_null",
    sep: str = ">",
) -> pd.DataFrame:
    """Long-format journeys from aggregated paths, the format of the ChannelAttribution package.

    One row per distinct path such as ``"email > search > direct"`` with its
    conversions, conversion value and non-conversions becomes one journey per
    row (``journey_id`` ``p<row>``). Channel names are stripped of surrounding
    spaces; an empty channel or path, or negative counts, are errors naming the row.

    Parameters
    ----------
    paths : pandas DataFrame
        The aggregated paths (a small table; pandas).
    path, conversions, value, nulls : str
        Column names; ``value`` and ``nulls`` may be ``None`` when absent (then 0).
    sep : str
        The channel separator inside a path.
    """
    missing = [c for c in (path, conversions, value, nulls) if c is not None and c not in paths]
    if missing:
        raise DataContractError("paths", missing[0], "a column of that name", f"{list(paths)}")
    table = pd.DataFrame(
        {
            "journey_id": [f"p{i}" for i in range(len(paths))],
            "channels": paths[path].astype("str").str.split(sep).to_numpy(),
            "conversions": paths[conversions].astype("float64").to_numpy(),
            "revenue": _optional(paths, value),
            "nulls": _optional(paths, nulls),
        }
    )
    _check_paths(table, paths[path])
    long = table.explode("channels", ignore_index=True).rename(columns={"channels": "channel"})
    long["channel"] = long["channel"].str.strip()
    long["step"] = long.groupby("journey_id", sort=False).cumcount() + 1
    long["steps"] = long.groupby("journey_id", sort=False)["step"].transform("max")
    long["customer_id"] = pd.Series(pd.NA, index=long.index, dtype="str")
    long["ts"] = pd.Series(pd.NaT, index=long.index, dtype="datetime64[us]")
    long["days_before_conversion"] = float("nan")
    return long[list(JOURNEY_COLUMNS)]


def _optional(paths: pd.DataFrame, column: str | None):
    if column is None:
        return 0.0
    return paths[column].astype("float64").fillna(0.0).to_numpy()


def _check_paths(table: pd.DataFrame, raw: pd.Series) -> None:
    empty = table["channels"].map(lambda names: any(not n.strip() for n in names))
    negative = (table[["conversions", "revenue", "nulls"]] < 0).any(axis=1)
    missing = table["conversions"].isna()
    for problem, mask in (
        ("an empty channel", empty),
        ("a negative count", negative),
        ("missing conversions", missing),
    ):
        if mask.any():
            row = int(mask.to_numpy().nonzero()[0][0])
            raise DataContractError(
                "paths", None, f"paths without {problem}", f"row {row}: {raw.iloc[row]!r}"
            )
