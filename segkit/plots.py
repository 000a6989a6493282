"""Plots: one function per chart, a tidy frame in, a matplotlib Axes out.

They follow seaborn's convention (``data=``, column names, ``ax=None``) and
share one theme, set by :func:`set_theme`. Titles say what the reader should see.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.ticker import PercentFormatter

PALETTE = "crest"


def set_theme() -> None:
    """The segkit look for every chart (seaborn's whitegrid, readable sizes) and table
    (three decimals)."""
    sns.set_theme(style="whitegrid", context="notebook", palette=PALETTE)
    pd.set_option("display.precision", 3)
    plt.rcParams.update({"figure.figsize": (8, 4), "figure.dpi": 100, "axes.titleweight": "bold"})


def _axes(ax: Axes | None) -> Axes:
    return ax if ax is not None else plt.subplots()[1]


def audit_chart(data: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Horizontal bars of affected rows per table and data-quality check.

    ``data`` is :attr:`segkit.audit.Audit.summary` (``table``, ``check``, ``rows``).
    """
    ax = _axes(ax)
    if data.empty:
        ax.text(0.5, 0.5, "No data-quality issues found", ha="center", va="center")
        ax.set_axis_off()
        return ax
    frame = data.assign(label=data["table"] + ": " + data["check"]).sort_values(
        "rows", ascending=False
    )
    sns.barplot(data=frame, x="rows", y="label", hue="table", dodge=False, ax=ax)
    ax.set_xscale("log")
    ax.set(xlabel="rows affected (log scale)", ylabel="", title="Where the data-quality issues are")
    return ax


def row_flow_chart(data: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Share of each table's rows that were rejected (``Validation.counts``)."""
    ax = _axes(ax)
    frame = data.assign(
        rejected_share=data["rejected"] / data["rows_in"].where(data["rows_in"] > 0)
    )
    sns.barplot(data=frame, x="rejected_share", y="table", color="#d1495b", ax=ax)
    for container in ax.containers:
        ax.bar_label(container, labels=[f"{n:,} rows" for n in frame["rejected"]], padding=3)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=2))
    ax.set(xlabel="rows rejected", ylabel="", title="How much of each table was rejected")
    return ax


def monthly_orders_chart(data: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Orders per calendar month from an orders table (``order_ts``)."""
    ax = _axes(ax)
    months = data["order_ts"].dt.to_period("M").value_counts().sort_index()
    ax.plot(months.index.to_timestamp(), months.to_numpy(), marker="o")
    ax.set(
        xlabel="", ylabel="orders", title="Orders per month: the seasonality to read segments by"
    )
    return ax


def pareto_chart(data: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """The Pareto curve (``customer_share``, ``revenue_share``) against equal shares."""
    ax = _axes(ax)
    ax.plot(data["customer_share"], data["revenue_share"], label="customers ranked by revenue")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="every customer equal")
    ax.set(
        xlabel="share of customers (top first)",
        ylabel="share of revenue",
        title="A few customers bring most of the revenue",
    )
    ax.legend(loc="lower right")
    return ax


def share_heatmap(
    data: pd.DataFrame, x: str, y: str, value: str, title: str, ax: Axes | None = None
) -> Axes:
    """A heatmap of ``value`` by ``y`` (rows) and ``x`` (columns), cells labelled as %."""
    ax = _axes(ax)
    grid = data.pivot_table(index=y, columns=x, values=value, aggfunc="sum", fill_value=0)
    sns.heatmap(grid, annot=True, fmt=".0%", cmap=PALETTE, cbar=False, ax=ax)
    ax.set(xlabel=x, ylabel=y, title=title)
    return ax


def bar_chart(data: pd.DataFrame, x: str, y: str, title: str, ax: Axes | None = None) -> Axes:
    """Horizontal bars of ``x`` per ``y``, largest on top; missing values are left out."""
    ax = _axes(ax)
    frame = data.dropna(subset=[x]).sort_values(x, ascending=False)
    sns.barplot(data=frame, x=x, y=y, color=sns.color_palette(PALETTE)[3], ax=ax)
    ax.set(xlabel=x, ylabel="", title=title)
    return ax
