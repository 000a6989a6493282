"""Segment playbook: sizes, revenue, trend labels on the band edges, best channels, actions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest

from segkit.errors import DataContractError, ParameterError
from segkit.playbook import (
    DEFAULT_ACTIONS,
    FLAG_COLUMNS,
    PLAYBOOK_COLUMNS,
    REVIEW,
    playbook,
    playbook_flags,
)
from segkit.rfm import PROSPECT, RFM_SEGMENTS
from segkit.subsegments import FLAGS
from tests.conftest import ENGINES

AS_OF = "2025-07-01"


def small_segments() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8"],
            "segment": [
                "Champions",
                "Champions",
                "Loyal",
                "At Risk",
                "Potential Loyalist",
                "New",
                "Lost",
                "Mystery",
            ],
            "vip": pd.array([True, False, True, False, False, False, False, pd.NA], "boolean"),
            "churn_risk": [False, False, False, True, False, False, True, False],
        }
    )


def small_orders() -> pd.DataFrame:
    """With as_of 2025-07-01 and 30-day windows: recent (06-01, 07-01], previous (05-02, 06-01]."""
    rows = [
        ("c1", "2025-06-15", 110.0),  # Champions +10% exactly: stable
        ("c1", "2025-05-15", 100.0),
        ("c1", "2025-07-02", 1000.0),  # after as_of: ignored
        ("c3", "2025-06-20", 90.0),  # Loyal -10% exactly: stable
        ("c3", "2025-05-20", 100.0),
        ("c4", "2025-06-20", 89.0),  # At Risk -11%: declining
        ("c4", "2025-05-20", 100.0),
        ("c5", "2025-07-01", 111.0),  # Potential Loyalist +11%: growing (as_of is in the window)
        ("c5", "2025-06-01", 100.0),  # the window's start belongs to the previous window
        ("c6", "2025-06-30", 50.0),  # New: nothing before, new
        ("c7", "2024-01-01", 40.0),  # Lost: nothing in either window, inactive
    ]
    return pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(len(rows))],
            "customer_id": [row[0] for row in rows],
            "order_ts": pd.to_datetime([row[1] for row in rows]),
            "revenue": [row[2] for row in rows],
        }
    )


def small_roi() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "segment": ["Champions"] * 4 + ["Loyal"] * 2 + ["Elsewhere"],
            "channel": ["search", "email", "organic", "display", "organic", "direct", "search"],
            "cost": [100.0, 10.0, np.nan, 50.0, np.nan, np.nan, 10.0],
            "revenue": [500.0, 100.0, 1000.0, 0.0, 300.0, 200.0, 10.0],
            "roas": [5.0, 10.0, np.nan, 0.0, np.nan, np.nan, 1.0],
        }
    )


def run(**options) -> pd.DataFrame:
    defaults = {"as_of": AS_OF, "trend_days": 30}
    return playbook(small_segments(), small_orders(), **{**defaults, **options})


def test_sizes_revenue_and_shares_by_hand():
    table = run()
    assert table.columns.tolist() == ["segment", *PLAYBOOK_COLUMNS]
    assert table["segment"].tolist() == [
        "Potential Loyalist",
        "Champions",
        "Loyal",
        "At Risk",
        "New",
        "Lost",
        "Mystery",
    ]
    assert table["customers"].tolist() == [1, 2, 1, 1, 1, 1, 1]
    assert table["revenue"].tolist() == [211.0, 210.0, 190.0, 189.0, 50.0, 40.0, 0.0]
    assert table["share_of_customers"].sum() == pytest.approx(1.0)
    assert table["share_of_revenue"].sum() == pytest.approx(1.0)
    assert table["share_of_revenue"].iloc[0] == pytest.approx(211 / 890)
    assert table["share_of_customers"].iloc[1] == pytest.approx(2 / 8)
    assert table["avg_revenue_per_customer"].tolist()[:2] == pytest.approx([211.0, 105.0])
    assert table.attrs["as_of"] == pd.Timestamp(AS_OF)


def test_trend_labels_on_the_band_edges():
    table = run().set_index("segment")
    assert table["recent_revenue"].to_dict() == {
        "Potential Loyalist": 111.0,
        "Champions": 110.0,
        "Loyal": 90.0,
        "At Risk": 89.0,
        "New": 50.0,
        "Lost": 0.0,
        "Mystery": 0.0,
    }
    assert table.loc["Potential Loyalist", "previous_revenue"] == 100.0
    assert table["trend_label"].to_dict() == {
        "Potential Loyalist": "growing",
        "Champions": "stable",
        "Loyal": "stable",
        "At Risk": "declining",
        "New": "new",
        "Lost": "inactive",
        "Mystery": "inactive",
    }
    assert table.loc[["Potential Loyalist", "Champions", "Loyal", "At Risk"], "trend"].tolist() == (
        pytest.approx([0.11, 0.10, -0.10, -0.11])
    )
    assert table.loc[["New", "Lost", "Mystery"], "trend"].isna().all()


def test_a_wider_band_makes_more_segments_stable():
    labels = run(trend_band=0.2).set_index("segment")["trend_label"]
    assert labels[["Potential Loyalist", "At Risk"]].tolist() == ["stable", "stable"]
    assert run(trend_band=0.0).set_index("segment")["trend_label"]["Champions"] == "growing"


def test_best_channels_paid_by_roas_then_unpaid_by_revenue():
    table = run(roi_table=small_roi()).set_index("segment")["best_channels"]
    # email (ROAS 10) before search (ROAS 5) although search brought more; display's ROAS 0
    # and zero revenue never make it a best channel
    assert table["Champions"] == "email, search"
    assert table["Loyal"] == "organic, direct"
    assert table["New"] == ""
    three = run(roi_table=small_roi(), top_channels=3).set_index("segment")["best_channels"]
    assert three["Champions"] == "email, search, organic"
    assert set(run()["best_channels"]) == {""}


def test_actions_from_the_default_and_an_overridden_mapping():
    table = run().set_index("segment")
    assert table.loc["Champions", "action"] == DEFAULT_ACTIONS["Champions"]
    assert table.loc["Champions", "note"] == ""
    assert table.loc["Mystery", "action"] == REVIEW
    assert "no action defined for 'Mystery'" in table.loc["Mystery", "note"]
    changed = run(actions={"Mystery": "call them", "Loyal": "double points", "Lost": None})
    changed = changed.set_index("segment")
    assert changed.loc["Mystery", "action"] == "call them"
    assert changed.loc["Loyal", "action"] == "double points"
    assert changed.loc["Lost", "action"] == REVIEW  # None removes the default
    assert changed.loc["Champions", "action"] == DEFAULT_ACTIONS["Champions"]


def test_every_rfm_segment_and_flag_has_a_default_action():
    names = [rule["segment"] for rule in RFM_SEGMENTS] + [PROSPECT, *FLAGS]
    assert [name for name in names if name not in DEFAULT_ACTIONS] == []


def test_an_empty_orders_window():
    table = run(as_of="2023-01-01")  # before every order
    assert table["revenue"].eq(0).all()
    assert table["share_of_revenue"].isna().all()
    assert set(table["trend_label"]) == {"inactive"}
    assert table["customers"].sum() == 8
    no_orders = playbook(small_segments(), small_orders().iloc[:0])
    assert no_orders.attrs["as_of"] is None
    assert no_orders["revenue"].eq(0).all() and no_orders["customers"].sum() == 8


def test_any_segment_column():
    segments = small_segments().assign(stage=["Active"] * 7 + ["Prospect"])
    table = playbook(segments, small_orders(), as_of=AS_OF, segment="stage")
    assert table.columns[0] == "stage"
    assert table["stage"].tolist() == ["Active", "Prospect"]
    assert table["action"].tolist() == [DEFAULT_ACTIONS["Active"], DEFAULT_ACTIONS["Prospect"]]


@pytest.mark.parametrize("engine", ["polars", "polars_lazy", "duckdb"])
def test_engines_agree(engine):
    expected = run(roi_table=small_roi())
    build = ENGINES[engine]
    table = playbook(
        build(small_segments()),
        build(small_orders()),
        roi_table=build(small_roi()),
        as_of=AS_OF,
        trend_days=30,
    )
    pd.testing.assert_frame_equal(table, expected, check_dtype=False)


def test_missing_and_unknown_columns_are_named():
    with pytest.raises(DataContractError, match="'cluster_name'"):
        run(segment="cluster_name")
    with pytest.raises(DataContractError, match="table 'orders', column 'revenue'"):
        playbook(small_segments(), small_orders().drop(columns="revenue"))
    with pytest.raises(DataContractError, match="table 'ROI table', column 'roas'"):
        run(roi_table=small_roi().drop(columns="roas"))
    with pytest.raises(DataContractError, match="timestamp"):
        playbook(small_segments(), small_orders().astype({"order_ts": "str"}))


def test_bad_rows_are_named():
    repeated = pd.concat([small_segments(), small_segments().iloc[[2]]], ignore_index=True)
    with pytest.raises(DataContractError, match=r"one row per customer.*c3"):
        playbook(repeated, small_orders())
    unlabelled = small_segments()
    unlabelled.loc[3, "segment"] = None
    with pytest.raises(ValueError, match=r"missing for 1 customers, e.g. \['c4'\]"):
        playbook(unlabelled, small_orders())
    orders = small_orders()
    orders.loc[0, "revenue"] = np.nan
    with pytest.raises(ValueError, match="'revenue' has 1 null or NaN"):
        playbook(small_segments(), orders)
    roi = pd.concat([small_roi(), small_roi().iloc[[0]]], ignore_index=True)
    with pytest.raises(DataContractError, match="one row per"):
        run(roi_table=roi)


def test_orders_of_unsegmented_customers_are_reported():
    segments = small_segments().iloc[:-2]  # drops c7 (Lost, 40 before as_of) and c8
    with pytest.warns(
        UserWarning, match=r"1 customer with orders is not in segments \(revenue 40\.00.*\['c7'\]"
    ):
        table = playbook(segments, small_orders(), as_of=AS_OF, trend_days=30)
    assert table["revenue"].sum() == 850.0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"trend_days": 0}, "trend_days"),
        ({"trend_band": -0.1}, "trend_band"),
        ({"top_channels": 1.5}, "top_channels"),
        ({"actions": ["call"]}, "actions"),
        ({"actions": {"Loyal": 3}}, "actions"),
    ],
)
def test_parameters_are_checked(options, message):
    with pytest.raises(ParameterError, match=message):
        run(**options)


def test_inputs_are_not_mutated():
    segments, orders, roi = small_segments(), small_orders(), small_roi()
    copies = segments.copy(), orders.copy(), roi.copy()
    playbook(segments, orders, roi_table=roi, as_of=AS_OF)
    playbook_flags(segments, flags=["vip", "churn_risk"])
    for frame, copy in zip((segments, orders, roi), copies, strict=True):
        pd.testing.assert_frame_equal(frame, copy)


def test_flags_by_hand():
    table = playbook_flags(small_segments(), flags=["vip", "churn_risk"])
    assert table.columns.tolist() == list(FLAG_COLUMNS)
    assert table["flag"].tolist() == ["vip", "churn_risk"]
    assert table["customers"].tolist() == [2, 2]  # a missing vip counts as not flagged
    assert table["share_of_customers"].tolist() == pytest.approx([0.25, 0.25])
    # ties between segments are broken by name
    assert table["top_segments"].tolist() == ["Champions, Loyal", "At Risk, Lost"]
    assert table["action"].tolist() == [DEFAULT_ACTIONS["vip"], DEFAULT_ACTIONS["churn_risk"]]
    changed = playbook_flags(
        small_segments(), actions={"vip": "gift box"}, flags=["vip"], segment=None
    )
    assert changed[["top_segments", "action"]].values.tolist() == [["", "gift box"]]


def test_flags_need_boolean_columns_that_exist():
    with pytest.raises(DataContractError, match="'discount_abuser'"):
        playbook_flags(small_segments())
    with pytest.raises(DataContractError, match="boolean"):
        playbook_flags(small_segments().assign(vip=1), flags=["vip"])


def test_flags_in_polars():
    expected = playbook_flags(small_segments(), flags=["vip", "churn_risk"])
    table = playbook_flags(pl.from_pandas(small_segments()), flags=["vip", "churn_risk"])
    pd.testing.assert_frame_equal(table, expected, check_dtype=False)
