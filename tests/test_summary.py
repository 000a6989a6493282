"""The executive summary: what it says from hand-made tables."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from segkit.errors import DataContractError
from segkit.summary import executive_summary

PLAYBOOK = pd.DataFrame(
    {
        "segment": ["Lost", "Champions", "Loyal", "New"],
        "customers": [300, 20, 60, 1000],
        "revenue": [500.0, 6000.0, 3000.0, 500.0],
        "share_of_revenue": [0.05, 0.6, 0.3, 0.05],
        "trend_label": ["inactive", "growing", "stable", "new"],
        "best_channels": ["", "email, search", "search", "display"],
        "action": ["Suppress", "Reward", "Upsell", "Onboard"],
    }
)
TOTALS = pd.DataFrame(
    {
        "channel": ["direct", "email", "search"],
        "cost": [math.nan, 100.0, 900.0],
        "revenue": [50.0, 1200.0, 1800.0],
        "roas": [math.nan, 12.0, 2.0],
    }
)


class Plan:
    def summary(self) -> str:
        return "Moves 10 of 100."


def test_key_numbers_top_segments_channels_and_budget():
    text = executive_summary(PLAYBOOK, TOTALS, budget=Plan(), top=2)
    lines = text.splitlines()
    assert lines[0] == "## Executive summary"
    assert "**1,380** customers, **10,000** revenue to date." in text
    # paid channels only: 3,000 revenue for 1,000 spend
    assert (
        "**1,000** marketing spend; paid channels' attributed revenue **3,000**, ROAS **3.00**"
        in text
    )
    assert "Highest ROAS: **email** (12.00); lowest: **search** (2.00)." in text
    ranked = [line for line in lines if line.startswith("- **") and ":" in line[:20]]
    assert ranked == [
        "- **Champions**: 60% of revenue from 20 customers, growing; best channels: "
        "email, search. *Action:* Reward",
        "- **Loyal**: 30% of revenue from 60 customers, stable; best channels: search. "
        "*Action:* Upsell",
    ]
    assert lines[-1] == "Moves 10 of 100."
    assert "@" not in text


def test_clv_experiments_and_segments_without_channels():
    clv = pd.DataFrame({"segment": ["Champions", "Lost"], "total_clv": [2500.4, 100.0]})
    tests = pd.DataFrame(
        {
            "experiment": ["banner", "email"],
            "variant": ["treatment", "treatment"],
            "conversion_rate_control": [0.10, math.nan],
            "conversion_rate_treatment": [0.15, math.nan],
            "absolute_lift": [0.05, math.nan],
            "absolute_lift_ci_low": [0.01, math.nan],
            "absolute_lift_ci_high": [0.09, math.nan],
            "significant": [True, False],
            "warning": ["", "no customers in control"],
        }
    )
    text = executive_summary(PLAYBOOK, clv=clv, experiments=tests, top=4)
    assert "Predicted value of today's customers: **2,600**." in text
    assert (
        "- banner (treatment): conversion 10.0% → 15.0% (+5.0 pp, CI +1.0 to +9.0 pp), "
        "significant after correction." in text
    )
    assert "- email (treatment): not enough data. no customers in control" in text
    assert "best channels: no attributed channel. *Action:* Suppress" in text
    assert "ROAS" not in text


def test_a_missing_playbook_column_is_named():
    with pytest.raises(DataContractError, match="column 'action'"):
        executive_summary(PLAYBOOK.drop(columns="action"))
