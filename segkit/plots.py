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
    (three decimals, rule texts shown whole)."""
    sns.set_theme(style="whitegrid", context="notebook", palette=PALETTE)
    pd.set_option("display.precision", 3)
    pd.set_option("display.max_colwidth", 160)
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


def rfm_grid_chart(data: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Customers per recency score (rows) × frequency score (columns) from RFM output."""
    ax = _axes(ax)
    grid = pd.crosstab(data["r_score"], data["f_score"]).sort_index(ascending=False)
    sns.heatmap(grid, annot=True, fmt=",d", cmap=PALETTE, cbar=False, ax=ax)
    ax.set(
        xlabel="frequency score",
        ylabel="recency score",
        title="Where customers sit: recent and frequent buyers top right",
    )
    return ax


def stage_chart(data: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Customers per lifecycle stage, each bar labelled with its share of revenue.

    ``data`` is :func:`segkit.lifecycle.lifecycle_summary` output.
    """
    ax = _axes(ax)
    sns.barplot(data=data, x="stage", y="customers", color=sns.color_palette(PALETTE)[3], ax=ax)
    labels = [f"{share:.0%} of revenue" for share in data["share_of_revenue"].fillna(0)]
    ax.bar_label(ax.containers[0], labels=labels, padding=3)
    ax.margins(y=0.15)
    ax.set(xlabel="", ylabel="customers", title="Customers per lifecycle stage and their revenue")
    return ax


def funnel_chart(data: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """A stage-by-stage funnel (``step``, ``customers``, ``conversion_from_previous``)."""
    ax = _axes(ax)
    sns.barplot(data=data, x="customers", y="step", color=sns.color_palette(PALETTE)[4], ax=ax)
    labels = [
        f"{n:,}" + ("" if pd.isna(rate) else f" ({rate:.0%} of previous)")
        for n, rate in zip(data["customers"], data["conversion_from_previous"], strict=True)
    ]
    ax.bar_label(ax.containers[0], labels=labels, padding=3)
    ax.set(xlabel="customers", ylabel="", title="How far customers get, step by step")
    return ax


def truth_check_chart(data: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Precision and recall of each flag against planted truth, with the chance level.

    ``data`` is :func:`segkit.subsegments.truth_check` output.
    """
    ax = _axes(ax)
    tidy = data.melt(id_vars="flag", value_vars=["precision", "recall"], var_name="measure")
    sns.barplot(data=tidy, x="flag", y="value", hue="measure", ax=ax)
    ax.scatter(
        data["flag"],
        data["base_rate"],
        marker="_",
        s=600,
        color="black",
        zorder=3,
        label="chance (base rate)",
    )
    ax.set_ylim(0, 1)
    ax.set(xlabel="", ylabel="", title="Flags recover the planted behaviour far above chance")
    ax.legend(loc="upper right")
    return ax


def k_selection_chart(data: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Silhouette per number of clusters; grey points fail the minimum-share guard.

    ``data`` is ``CustomerClusters.scores_`` (``k``, ``silhouette``, ``eligible``, ``chosen``).
    """
    ax = _axes(ax)
    ax.plot(data["k"], data["silhouette"], color="grey", zorder=1)
    eligible = data[data["eligible"]]
    ax.scatter(
        data["k"], data["silhouette"], color="lightgrey", zorder=2, label="a segment too small"
    )
    ax.scatter(eligible["k"], eligible["silhouette"], zorder=3, label="every segment large enough")
    chosen = data[data["chosen"]]
    ax.scatter(
        chosen["k"],
        chosen["silhouette"],
        s=160,
        facecolors="none",
        edgecolors="#d1495b",
        linewidths=2,
        zorder=4,
        label="chosen k",
    )
    ax.set(
        xlabel="number of clusters (k)",
        ylabel="silhouette (higher = better separated)",
        title="Choosing k: best separation among segments that are not too small",
    )
    ax.legend(loc="best")
    return ax


def profile_chart(data: pd.DataFrame, features: list[str], ax: Axes | None = None) -> Axes:
    """Each cluster's feature means relative to the overall mean (1 = average).

    ``data`` has one row per cluster with a ``name``, ``size`` and the mean of each feature.
    """
    ax = _axes(ax)
    overall = (data[features].mul(data["size"], axis=0)).sum() / data["size"].sum()
    relative = data.set_index("name")[features] / overall.where(overall != 0)
    sns.heatmap(relative, annot=True, fmt=".2f", cmap="vlag", center=1, cbar=False, ax=ax)
    ax.set(xlabel="", ylabel="", title="What sets each cluster apart (mean ÷ overall mean)")
    return ax


def model_comparison_chart(
    data: pd.DataFrame, value: str = "share", ax: Axes | None = None
) -> Axes:
    """Grouped bars: each channel's credit under each model (tidy ``model``, ``channel``,
    ``value``); where the models disagree is where the choice of model matters."""
    ax = _axes(ax)
    sns.barplot(data=data, x="channel", y=value, hue="model", ax=ax)
    ax.tick_params(axis="x", rotation=30)
    if value == "share":
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set(
        xlabel="", ylabel=f"credited {value}", title="How much credit each model gives each channel"
    )
    ax.legend(loc="upper right", fontsize="small", ncols=2)
    return ax


def removal_effects_chart(data: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Markov removal effect per channel: the share of conversions lost without it."""
    ax = _axes(ax)
    frame = data.sort_values("removal_effect", ascending=False)
    sns.barplot(
        data=frame, x="removal_effect", y="channel", color=sns.color_palette(PALETTE)[3], ax=ax
    )
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set(
        xlabel="conversions lost if the channel is removed",
        ylabel="",
        title="Removal effects: what each channel's absence would cost",
    )
    return ax


def matrix_heatmap(
    matrix: pd.DataFrame, title: str, fmt: str = ".2f", ax: Axes | None = None
) -> Axes:
    """A numeric matrix (rows × columns, e.g. a transition matrix) as an annotated heatmap."""
    ax = _axes(ax)
    sns.heatmap(
        matrix.astype("float64"),
        annot=True,
        fmt=fmt,
        cmap=PALETTE,
        cbar=False,
        ax=ax,
        annot_kws={"fontsize": "x-small"},
    )
    ax.set(xlabel="", ylabel="", title=title)
    return ax


def path_length_chart(data: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Journeys per number of steps (``steps``, ``journeys``)."""
    ax = _axes(ax)
    sns.barplot(data=data, x="steps", y="journeys", color=sns.color_palette(PALETTE)[2], ax=ax)
    for position, label in enumerate(ax.get_xticklabels()):
        label.set_visible(position % 5 == 0)  # long tails would print every length
    ax.set(
        xlabel="touchpoints in the journey",
        ylabel="journeys",
        title="Most journeys are short: touches before a conversion or a pause",
    )
    return ax


def holdout_chart(data: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Mean purchases in the holdout period, actual against predicted, per calibration frequency.

    ``data`` is :func:`segkit.clv.holdout_check` output.
    """
    ax = _axes(ax)
    for column, style in (("actual_holdout", "o-"), ("predicted_holdout", "s--")):
        ax.plot(data["label"], data[column], style, label=column.replace("_holdout", ""))
    ax.set(
        xlabel="repeat purchases in the calibration period",
        ylabel="mean purchases in the holdout",
        title="The CLV model predicts the holdout period",
    )
    ax.legend()
    return ax


def lift_chart(data: pd.DataFrame, y: str = "segment", ax: Axes | None = None) -> Axes:
    """Absolute lift with its confidence interval per ``y``, a line at no effect.

    ``data`` is one experiment's rows of :func:`segkit.experiments.ab_test`.
    """
    ax = _axes(ax)
    frame = data.dropna(subset=["absolute_lift"]).reset_index(drop=True)
    low = frame["absolute_lift"] - frame["absolute_lift_ci_low"]
    high = frame["absolute_lift_ci_high"] - frame["absolute_lift"]
    ax.errorbar(
        frame["absolute_lift"], frame[y], xerr=[low, high], fmt="o", capsize=3, color="#2a6f97"
    )
    ax.axvline(0, color="black", linewidth=1)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set(xlabel="absolute lift in conversion rate", ylabel="", title="Lift with its interval")
    return ax
