"""Segment migration: where the customers of each segment went between two snapshots.

Compare the same segmentation at two dates (say ``as_of`` and ``as_of`` − 90 days):
the transitions table counts customers per (from, to) pair, the matrix shows it
as a grid, and the flows say per segment how many stayed, came in and left.
Customers only in the later snapshot come from ``"(new)"``; those only in the
earlier one go to ``"(gone)"``.

Example
-------
>>> import pandas as pd
>>> before = pd.DataFrame({"customer_id": ["a", "b", "c"], "segment": ["Loyal", "Loyal", "New"]})
>>> after = pd.DataFrame({"customer_id": ["a", "c", "d"], "segment": ["Loyal", "Loyal", "New"]})
>>> moves = migration(before, after)
>>> moves.flows[["segment", "before", "after", "net_change"]].to_dict("list")
{'segment': ['Loyal', 'New'], 'before': [2, 1], 'after': [2, 1], 'net_change': [0, 0]}
>>> print(moves.summary().splitlines()[0])
Loyal is steady at 2 customers: 1 left, all to (gone); 1 came in, all from New.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import narwhals as nw
import pandas as pd

from segkit.errors import DataContractError
from segkit.frames import as_lazy, collect_small, require_columns

NEW = "(new)"
GONE = "(gone)"
#: A customer present in a snapshot whose segment is missing.
NO_SEGMENT = "(no segment)"


@dataclass(frozen=True)
class Migration:
    """Segment transitions between two snapshots (small pandas tables).

    Attributes
    ----------
    transitions : pandas.DataFrame
        ``from_segment``, ``to_segment``, ``customers`` and ``share_of_from``
        (the share of the from-segment's customers that made this move).
    matrix : pandas.DataFrame
        Customers from (rows) × to (columns), zeros included.
    flows : pandas.DataFrame
        Per segment: ``before``, ``after``, ``stayed``, ``inflow``, ``outflow``,
        ``net_change`` and ``growth`` (after / before − 1), largest net change first.
    """

    transitions: pd.DataFrame
    matrix: pd.DataFrame
    flows: pd.DataFrame

    def summary(self) -> str:
        """One sentence per segment: growing or leaking, and mostly from or to where."""
        if self.flows.empty:
            return "No customers in either snapshot."
        return "\n".join(_sentence(row, self.transitions) for row in self.flows.itertuples())


def migration(
    before: Any, after: Any, segment: str = "segment", customer: str = "customer_id"
) -> Migration:
    """Count the moves of customers between the segments of two snapshots.

    The snapshots (pandas, Polars, DuckDB, ... frames of one engine, one row per
    customer) are full-outer-joined on ``customer`` and counted per (from, to)
    pair in their engine; only that small count table is collected.

    Parameters
    ----------
    before, after : frame
        The earlier and the later snapshot, each with ``customer`` and ``segment``.
    segment, customer : str
        Names of the segment and the customer id columns.

    Returns
    -------
    Migration
        ``transitions``, ``matrix`` and ``flows`` tables and a ``summary()``.

    Example
    -------
    >>> moves = migration(segments_90_days_ago, segments_today)  # doctest: +SKIP
    >>> print(moves.summary())  # doctest: +SKIP
    """
    earlier = _snapshot(before, "before", segment, customer, "from_segment")
    later = _snapshot(after, "after", segment, customer, "to_segment")
    if earlier.implementation is not later.implementation:
        raise TypeError(
            "before and after must be frames of the same engine to be joined there; got "
            f"{earlier.implementation.value} and {later.implementation.value}"
        )
    joined = earlier.join(later, left_on="id_before", right_on="id_after", how="full")
    pairs = joined.select(
        from_segment=nw.when(nw.col("id_before").is_null())
        .then(nw.lit(NEW))
        .otherwise(nw.col("from_segment")),
        to_segment=nw.when(nw.col("id_after").is_null())
        .then(nw.lit(GONE))
        .otherwise(nw.col("to_segment")),
    )
    counts = collect_small(pairs.group_by("from_segment", "to_segment").agg(nw.len()))
    transitions = _transitions(counts.rename(columns={"len": "customers"}))
    return Migration(transitions, _matrix(transitions), _flows(transitions))


def _snapshot(native: Any, table: str, segment: str, customer: str, to: str) -> nw.LazyFrame:
    """Id and segment (as text, missing → "(no segment)") of a snapshot checked to be
    one row per customer."""
    lazy, _ = as_lazy(native, table)
    require_columns(lazy, [customer, segment], table)
    ids = nw.col(customer)
    sizes = collect_small(
        lazy.select(rows=nw.len(), customers=ids.n_unique(), missing=ids.null_count())
    ).iloc[0]
    if sizes["missing"]:
        raise DataContractError(table, customer, "no missing ids", f"{sizes['missing']} missing")
    if sizes["rows"] != sizes["customers"]:
        raise DataContractError(
            table,
            customer,
            "one row per customer",
            f"{sizes['rows']} rows for {sizes['customers']} customers",
        )
    label = nw.col(segment).cast(nw.String()).fill_null(NO_SEGMENT)
    return lazy.select(nw.col(customer).alias(f"id_{table}"), label.alias(to))


def _order(labels: Any) -> list[str]:
    """Segments sorted by name, the "(no segment)", "(new)" and "(gone)" markers last."""
    labels, markers = set(labels), (NO_SEGMENT, NEW, GONE)
    return sorted(labels - set(markers)) + [m for m in markers if m in labels]


def _transitions(counts: pd.DataFrame) -> pd.DataFrame:
    columns = ["from_segment", "to_segment", "customers", "share_of_from"]
    if counts.empty:
        return pd.DataFrame({c: pd.Series(dtype="str") for c in columns[:2]}).assign(
            customers=pd.Series(dtype="int64"), share_of_from=pd.Series(dtype="float64")
        )
    counts = counts.astype({"from_segment": "str", "to_segment": "str", "customers": "int64"})
    rank = {name: i for i, name in enumerate(_order([*counts.from_segment, *counts.to_segment]))}
    counts = counts.sort_values(
        ["from_segment", "to_segment"], key=lambda column: column.map(rank)
    ).reset_index(drop=True)
    totals = counts.groupby("from_segment")["customers"].transform("sum")
    return counts.assign(share_of_from=counts["customers"] / totals)[columns]


def _matrix(transitions: pd.DataFrame) -> pd.DataFrame:
    matrix = transitions.pivot(index="from_segment", columns="to_segment", values="customers")
    matrix = matrix.reindex(
        index=_order(transitions["from_segment"]), columns=_order(transitions["to_segment"])
    )
    return matrix.fillna(0).astype("int64")


def _flows(transitions: pd.DataFrame) -> pd.DataFrame:
    """Before, after, stayed, inflow, outflow, net change and growth per real segment."""
    t = transitions
    segments = _order([*t.from_segment, *t.to_segment])
    segments = [s for s in segments if s not in (NEW, GONE)]
    before = t.groupby("from_segment")["customers"].sum()
    after = t.groupby("to_segment")["customers"].sum()
    stayed = t[t.from_segment == t.to_segment].set_index("from_segment")["customers"]
    flows = pd.DataFrame(
        {
            "segment": pd.Series(segments, dtype="str"),
            "before": before.reindex(segments, fill_value=0).to_numpy(),
            "after": after.reindex(segments, fill_value=0).to_numpy(),
            "stayed": stayed.reindex(segments, fill_value=0).to_numpy(),
        }
    ).astype({"before": "int64", "after": "int64", "stayed": "int64"})
    flows["inflow"] = flows["after"] - flows["stayed"]
    flows["outflow"] = flows["before"] - flows["stayed"]
    flows["net_change"] = flows["after"] - flows["before"]
    flows["growth"] = flows["after"] / flows["before"].where(flows["before"] > 0) - 1
    flows = flows.sort_values(["net_change", "segment"], ascending=[False, True], kind="stable")
    return flows.reset_index(drop=True)


def _largest_move(transitions: pd.DataFrame, segment: str, direction: str) -> str:
    """Where most of ``segment``'s outflow went ("out") or its inflow came from ("in")."""
    own, other = ("from_segment", "to_segment")[:: 1 if direction == "out" else -1]
    moves = transitions[(transitions[own] == segment) & (transitions[other] != segment)]
    rank = {name: i for i, name in enumerate(_order(moves[other]))}
    top = moves.assign(rank=moves[other].map(rank))
    top = top.sort_values(["customers", "rank"], ascending=[False, True]).iloc[0]
    preposition = "to" if direction == "out" else "from"
    if top["customers"] == moves["customers"].sum():
        return f"all {preposition} {top[other]}"
    return f"{top['customers']:,} of them {preposition} {top[other]}"


def _sentence(flow: Any, transitions: pd.DataFrame) -> str:
    """Growing, leaking, new or steady, with the largest move in and out."""
    came = left = ""
    if flow.inflow:
        came = f"{flow.inflow:,} came in, {_largest_move(transitions, flow.segment, 'in')}"
    if flow.outflow:
        left = f"{flow.outflow:,} left, {_largest_move(transitions, flow.segment, 'out')}"
    change = f"{flow.before:,} → {_customers(flow.after)}"
    if flow.before == 0:
        verdict, moves = f"is new with {_customers(flow.after)}", [came]
    elif flow.net_change > 0:
        verdict, moves = f"is growing, {change} ({flow.growth:+.0%})", [came, left]
    elif flow.net_change < 0:
        verdict, moves = f"is leaking, {change} ({flow.growth:+.0%})", [left, came]
    else:
        verdict, moves = f"is steady at {_customers(flow.after)}", [left, came]
    detail = "; ".join(m for m in moves if m) or "all stayed"
    return f"{flow.segment} {verdict}: {detail}."


def _customers(count: int) -> str:
    return f"{count:,} customer" + ("" if count == 1 else "s")
