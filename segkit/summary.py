"""The executive summary a manager reads first: key numbers, top segments, channels, actions.

:func:`executive_summary` turns the tables of the analysis stage (the
playbook, the ROI table, CLV per segment, A/B tests, a budget plan) into a
short Markdown text. It only reads aggregates, so it never shows a customer.

Example
-------
>>> import pandas as pd
>>> book = pd.DataFrame({"segment": ["Champions", "Lost"], "customers": [10, 30],
...                      "revenue": [900.0, 100.0], "share_of_revenue": [0.9, 0.1],
...                      "trend_label": ["growing", "inactive"],
...                      "best_channels": ["email", ""], "action": ["Reward", "Suppress"]})
>>> print(executive_summary(book).splitlines()[2])
- **40** customers, **1,000** revenue to date.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from segkit.errors import DataContractError

_PLAYBOOK_COLUMNS = (
    "customers",
    "revenue",
    "share_of_revenue",
    "trend_label",
    "best_channels",
    "action",
)


def executive_summary(
    playbook: pd.DataFrame,
    roi_totals: pd.DataFrame | None = None,
    clv: pd.DataFrame | None = None,
    experiments: pd.DataFrame | None = None,
    budget: Any = None,
    segment: str = "segment",
    top: int = 3,
) -> str:
    """A Markdown summary of the analysis, for the top of the shared report.

    Parameters
    ----------
    playbook : pandas DataFrame
        :func:`segkit.playbook.playbook`: one row per segment with ``customers``,
        ``revenue``, ``share_of_revenue``, ``trend_label``, ``best_channels``
        and ``action``.
    roi_totals : pandas DataFrame, optional
        :func:`segkit.roi.roi_totals`: ``channel``, ``cost``, ``revenue``,
        ``roas`` per channel. Adds spend, ROAS of paid channels and the
        channels with the highest and lowest ROAS.
    clv : pandas DataFrame, optional
        Predicted value per segment with ``total_clv``, such as
        :func:`segkit.clv.per_segment` of :meth:`segkit.clv.GammaGamma.clv`.
        Adds the predicted value of the customer base.
    experiments : pandas DataFrame, optional
        :func:`segkit.experiments.ab_test` with ``by=None``: one line per
        experiment and variant.
    budget : BudgetPlan, optional
        :func:`segkit.budget.reallocate_budget`'s plan; its ``summary()`` is quoted.
    segment : str, default "segment"
        The segment column of ``playbook`` (and ``clv``).
    top : int, default 3
        How many segments (by revenue) to name.

    Returns
    -------
    str
        Markdown: key numbers, top segments with their best channels and
        recommended actions, experiments and the budget suggestion.

    Raises
    ------
    DataContractError
        If ``playbook`` lacks one of its columns.
    """
    for column in (segment, *_PLAYBOOK_COLUMNS):
        if column not in playbook:
            raise DataContractError(
                "playbook", column, "a column of that name", f"{list(playbook)}"
            )
    lines = ["## Executive summary", "", _key_numbers(playbook, roi_totals, clv, segment)]
    if roi_totals is not None:
        lines.append(_channel_line(roi_totals))
    lines += ["", f"**Top {top} segments by revenue**", ""]
    ranked = playbook.sort_values("revenue", ascending=False, kind="stable").head(top)
    for row in ranked.itertuples(index=False):
        values = row._asdict()
        channels = values["best_channels"] or "no attributed channel"
        lines.append(
            f"- **{values[segment]}**: {_share(values['share_of_revenue'])} of revenue from "
            f"{values['customers']:,} customers, {values['trend_label']}; best channels: "
            f"{channels}. *Action:* {values['action']}"
        )
    if experiments is not None and len(experiments):
        lines += ["", "**Experiments**", ""]
        lines += [_experiment_line(row) for _, row in experiments.iterrows()]
    if budget is not None:
        lines += ["", "**Budget**", "", budget.summary()]
    return "\n".join(lines)


def _key_numbers(playbook, roi_totals, clv, segment: str) -> str:
    parts = [
        f"- **{int(playbook['customers'].sum()):,}** customers, "
        f"**{_money(playbook['revenue'].sum())}** revenue to date."
    ]
    if roi_totals is not None:
        paid = roi_totals[roi_totals["cost"] > 0]
        cost, revenue = paid["cost"].sum(), paid["revenue"].sum()
        roas = f"{revenue / cost:.2f}" if cost > 0 else "not available"
        parts.append(
            f"- **{_money(cost)}** marketing spend; paid channels' attributed revenue "
            f"**{_money(revenue)}**, ROAS **{roas}**."
        )
    if clv is not None:
        parts.append(
            f"- Predicted value of today's customers: **{_money(clv['total_clv'].sum())}**."
        )
    return "\n".join(parts)


def _channel_line(roi_totals: pd.DataFrame) -> str:
    paid = roi_totals[roi_totals["roas"].notna()].sort_values("roas", ascending=False)
    if paid.empty:
        return "- No channel has both spend and attributed revenue: ROAS is not available."
    best, worst = paid.iloc[0], paid.iloc[-1]
    return (
        f"- Highest ROAS: **{best['channel']}** ({best['roas']:.2f}); lowest: "
        f"**{worst['channel']}** ({worst['roas']:.2f})."
    )


def _experiment_line(row: pd.Series) -> str:
    lift = row["absolute_lift"]
    if isinstance(lift, float) and math.isnan(lift):
        return f"- {row['experiment']} ({row['variant']}): not enough data. {row['warning']}"
    verdict = "significant" if row["significant"] else "not significant"
    return (
        f"- {row['experiment']} ({row['variant']}): conversion "
        f"{row['conversion_rate_control']:.1%} → {row['conversion_rate_treatment']:.1%} "
        f"({lift * 100:+.1f} pp, CI {row['absolute_lift_ci_low'] * 100:+.1f} to "
        f"{row['absolute_lift_ci_high'] * 100:+.1f} pp), {verdict} after correction."
    )


def _share(value: float) -> str:
    return "n/a" if pd.isna(value) else f"{value:.0%}"


def _money(value: float) -> str:
    return f"{value:,.0f}"
