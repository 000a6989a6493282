"""Lifecycle stages, their summary and the purchase funnel."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segkit.customer_view import customer_view
from segkit.errors import DataContractError
from segkit.lifecycle import STAGES, lifecycle, lifecycle_funnel, lifecycle_summary
from segkit.simulation import simulate
from tests.test_customer_view import ENGINES, NATIVE_TYPES, to_pandas


def small_view() -> pd.DataFrame:
    """Six customers on the stage boundaries (new_days=90, churn_days=365)."""
    return pd.DataFrame(
        {
            "customer_id": ["p", "n1", "n2", "a1", "a2", "x"],
            "orders": [0, 1, 2, 3, 2, 4],
            "revenue": [0.0, 10.0, 20.0, 40.0, 30.0, 100.0],
            "tenure_days": [np.nan, 5.0, 90.0, 90.5, 500.0, 700.0],
            "recency_days": [np.nan, 5.0, 10.0, 90.5, 365.0, 365.5],
        }
    )


def test_stages_on_their_boundaries():
    staged = lifecycle(small_view())
    assert staged["lifecycle_stage"].tolist() == [
        "Prospect",
        "New",
        "New",
        "Active",
        "Active",
        "Churn",
    ]
    assert list(staged.columns) == [*small_view().columns, "lifecycle_stage"]


def test_thresholds_move_the_boundaries():
    staged = lifecycle(small_view(), new_days=4, churn_days=300)
    assert staged["lifecycle_stage"].tolist() == [
        "Prospect",
        "Active",
        "Active",
        "Active",
        "Churn",
        "Churn",
    ]


@pytest.mark.parametrize(("new_days", "churn_days"), [(365, 365), (400, 365), (-1, 30)])
def test_new_days_must_be_below_churn_days(new_days, churn_days):
    with pytest.raises(ValueError, match="new_days < churn_days"):
        lifecycle(small_view(), new_days=new_days, churn_days=churn_days)


def test_a_view_without_recency_is_rejected():
    with pytest.raises(DataContractError, match="recency_days"):
        lifecycle(small_view().drop(columns="recency_days"))


def test_summary_counts_and_shares():
    summary = lifecycle_summary(lifecycle(small_view()))
    assert summary.columns.tolist() == [
        "stage",
        "customers",
        "share_of_customers",
        "revenue",
        "share_of_revenue",
    ]
    assert summary["stage"].tolist() == list(STAGES)
    assert summary["customers"].tolist() == [1, 2, 2, 1]
    assert summary["revenue"].tolist() == [0.0, 30.0, 70.0, 100.0]
    assert summary["share_of_customers"].tolist() == pytest.approx([1 / 6, 2 / 6, 2 / 6, 1 / 6])
    assert summary["share_of_revenue"].tolist() == pytest.approx([0, 0.15, 0.35, 0.5])


def test_summary_keeps_empty_stages_and_an_empty_view():
    no_churn = lifecycle_summary(lifecycle(small_view().iloc[:5]))
    assert no_churn["customers"].tolist() == [1, 2, 2, 0]
    empty = lifecycle_summary(lifecycle(small_view().iloc[:0]))
    assert empty["customers"].tolist() == [0, 0, 0, 0]
    assert empty["share_of_customers"].isna().all()


def test_funnel_with_prospects():
    funnel = lifecycle_funnel(lifecycle(small_view()))
    assert funnel["step"].tolist() == [
        "Registered",
        "First purchase",
        "Repeat purchase",
        "Active now",
    ]
    assert funnel["customers"].tolist() == [6, 5, 4, 3]
    assert funnel["share_of_first_step"].tolist() == pytest.approx([1, 5 / 6, 4 / 6, 3 / 6])
    assert funnel["conversion_from_previous"].tolist()[1:] == pytest.approx([5 / 6, 4 / 5, 3 / 4])
    assert np.isnan(funnel["conversion_from_previous"].iloc[0])


def test_funnel_without_prospects_starts_at_the_first_purchase():
    funnel = lifecycle_funnel(lifecycle(small_view().iloc[1:]))
    assert funnel["step"].tolist() == ["First purchase", "Repeat purchase", "Active now"]
    assert funnel["customers"].tolist() == [5, 4, 3]


@pytest.fixture(scope="module")
def demo_view() -> pd.DataFrame:
    data = simulate(n_customers=500, seed=5, defects=False)
    return customer_view(data.orders, data.customers, as_of="2025-10-31")


@pytest.mark.parametrize("engine", ENGINES)
def test_engines_agree(demo_view, engine):
    staged = lifecycle(ENGINES[engine](demo_view), new_days=60, churn_days=200)
    assert isinstance(staged, NATIVE_TYPES[engine])
    expected = lifecycle(demo_view, new_days=60, churn_days=200)
    pd.testing.assert_frame_equal(to_pandas(staged), to_pandas(expected), check_dtype=False)
    pd.testing.assert_frame_equal(lifecycle_summary(staged), lifecycle_summary(expected))
    pd.testing.assert_frame_equal(lifecycle_funnel(staged), lifecycle_funnel(expected))


def test_demo_stages_cover_everyone(demo_view):
    summary = lifecycle_summary(lifecycle(demo_view))
    assert summary["customers"].sum() == len(demo_view)
    assert summary["revenue"].sum() == pytest.approx(demo_view["revenue"].sum())
    assert (summary["customers"] > 0).all()
