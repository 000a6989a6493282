"""The single customer view: hand-computed values, snapshots, prospects, engines, bad inputs."""

from __future__ import annotations

from datetime import date, datetime

import narwhals as nw
import numpy as np
import pandas as pd
import polars as pl
import pytest

import segkit as sk
from segkit.customer_view import SUBSEGMENT_INPUTS, VIEW_COLUMNS, customer_view
from segkit.errors import DataContractError
from segkit.simulation import simulate
from tests.conftest import ENGINES, NATIVE_TYPES

AS_OF = "2025-02-01"


def to_pandas(result) -> pd.DataFrame:
    """Any engine's result as pandas with nullable dtypes, so NaN and NA compare equal."""
    frame = nw.from_native(result)
    if isinstance(frame, nw.LazyFrame):
        frame = frame.collect()
    return frame.to_pandas().convert_dtypes().reset_index(drop=True)


def stamps(*values: str) -> pd.Series:
    return pd.Series(pd.to_datetime(list(values), format="ISO8601")).astype("datetime64[us]")


def hand_orders() -> pd.DataFrame:
    """c1: three orders in January; c2: one; c3: one after AS_OF only."""
    return pd.DataFrame(
        {
            "order_id": ["o1", "o2", "o3", "o4", "o5"],
            "customer_id": ["c1", "c1", "c1", "c2", "c3"],
            "order_ts": stamps(
                "2025-01-01", "2025-01-11", "2025-01-31 12:00", "2025-01-21", "2025-02-10"
            ),
            "revenue": [90.0, 50.0, 60.0, 40.0, 100.0],
            "discount": [10.0, 0.0, 20.0, 0.0, 5.0],
            "items": [2, 1, 3, 1, 4],
            "returned": [False, True, False, False, True],
        }
    )


def hand_feedback() -> pd.DataFrame:
    """c1 praises on 5 and 10 January and at the very instant of o3; c2 once, once too late."""
    return pd.DataFrame(
        {
            "customer_id": ["c1", "c1", "c1", "c1", "c2", "c2"],
            "ts": stamps(
                "2025-01-05",
                "2025-01-10",
                "2025-01-31 12:00",
                "2025-01-20",
                "2025-01-20",
                "2025-02-15",
            ),
            "score": [9.0, 10.0, 10.0, 3.0, 9.5, 10.0],
            "source": ["survey"] * 6,
        }
    )


def hand_customers() -> pd.DataFrame:
    """c1-c3 registered before AS_OF, c4 after it, c5 without a signup date; c9 is missing."""
    return pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3", "c4", "c5"],
            "signup_date": stamps("2024-12-01", "2025-01-02", "2025-01-15", "2025-03-01", "NaT"),
            "country": ["DE", "FR", "NL", "US", "GB"],
        }
    )


def test_hand_computed_values():
    view = customer_view(hand_orders(), feedback=hand_feedback(), as_of=AS_OF)
    assert list(view.columns) == [*VIEW_COLUMNS, *SUBSEGMENT_INPUTS]
    assert view["customer_id"].tolist() == ["c1", "c2"]  # c3 ordered after as_of
    c1, c2 = view.iloc[0], view.iloc[1]
    assert c1["first_order_ts"] == pd.Timestamp("2025-01-01")
    assert c1["last_order_ts"] == pd.Timestamp("2025-01-31 12:00")
    assert (c1["orders"], c1["revenue"], c1["items"]) == (3, 200.0, 6)
    assert c1["avg_order_value"] == pytest.approx(200 / 3)
    assert c1["recency_days"] == pytest.approx(0.5)
    assert c1["tenure_days"] == pytest.approx(31.0)
    assert c1["days_between_orders"] == pytest.approx(30.5 / 2)
    assert c1["discount_share"] == pytest.approx(30 / 230)
    assert c1["return_rate"] == pytest.approx(1 / 3)
    assert c1["discounted_order_share"] == pytest.approx(2 / 3)
    assert c1["avg_feedback"] == pytest.approx(8.0)
    assert c1["positive_feedback"] == 3
    assert c1["orders_after_positive_feedback"] == 1  # o2, after two praises, counted once
    assert (c2["recency_days"], c2["tenure_days"]) == (11.0, 11.0)
    assert np.isnan(c2["days_between_orders"])
    assert (c2["discount_share"], c2["return_rate"], c2["discounted_order_share"]) == (0, 0, 0)
    assert (c2["avg_feedback"], c2["positive_feedback"]) == (9.5, 1)  # the 15 Feb praise is late
    assert c2["orders_after_positive_feedback"] == 1


def test_praise_at_the_same_instant_as_an_order_does_not_precede_it():
    # With 25 days o3 (31 Jan 12:00) follows the 10 Jan praise by 21.5 days; the praise
    # at 31 Jan 12:00 itself is not before o3 and must not hide the earlier one.
    view = customer_view(hand_orders(), feedback=hand_feedback(), as_of=AS_OF, charm_days=25)
    assert view["orders_after_positive_feedback"].tolist() == [2, 1]
    strict = customer_view(
        hand_orders(), feedback=hand_feedback(), as_of=AS_OF, positive_score=10, charm_days=1
    )
    assert strict["positive_feedback"].tolist() == [2, 0]
    assert strict["orders_after_positive_feedback"].tolist() == [1, 0]  # o2 a day after 10 Jan


def test_as_of_defaults_to_the_last_order():
    view = customer_view(hand_orders())
    assert view["customer_id"].tolist() == ["c1", "c2", "c3"]
    assert view.set_index("customer_id").loc["c3", "recency_days"] == 0.0
    assert view.set_index("customer_id").loc["c1", "recency_days"] == pytest.approx(9.5)


@pytest.mark.parametrize("as_of", ["2025-01-15", "2025-01-31 12:00", "2025-02-20"])
def test_a_past_snapshot_equals_the_view_of_the_orders_known_then(as_of):
    orders, feedback = hand_orders(), hand_feedback()
    known = orders[orders["order_ts"] <= pd.Timestamp(as_of)].reset_index(drop=True)
    heard = feedback[feedback["ts"] <= pd.Timestamp(as_of)].reset_index(drop=True)
    snapshot = customer_view(orders, feedback=feedback, as_of=as_of)
    rebuilt = customer_view(known, feedback=heard, as_of=as_of)
    pd.testing.assert_frame_equal(snapshot, rebuilt)


@pytest.mark.parametrize("as_of", ["2025-02-01", date(2025, 2, 1), datetime(2025, 2, 1)])
def test_as_of_accepts_strings_dates_and_datetimes(as_of):
    view = customer_view(hand_orders(), as_of=as_of)
    assert view["recency_days"].tolist() == [0.5, 11.0]


@pytest.mark.parametrize("as_of", [20250201, ["2025-02-01"], "not a date", True])
def test_as_of_of_a_wrong_type_is_a_type_error(as_of):
    with pytest.raises(TypeError, match="as_of"):
        customer_view(hand_orders(), as_of=as_of)


def test_customers_add_prospects_and_attributes_and_keep_unknown_buyers():
    orders = pd.concat(
        [hand_orders(), hand_orders().iloc[[3]].assign(order_id="o9", customer_id="c9")]
    )
    view = customer_view(orders, hand_customers(), as_of=AS_OF)
    assert view["customer_id"].tolist() == ["c1", "c2", "c3", "c5", "c9"]  # c4 signs up later
    assert list(view.columns) == [*VIEW_COLUMNS, *SUBSEGMENT_INPUTS, "signup_date", "country"]
    by_id = view.set_index("customer_id")
    assert by_id["orders"].tolist() == [3, 1, 0, 0, 1]
    assert by_id["revenue"].tolist() == [200.0, 40.0, 0.0, 0.0, 40.0]
    prospects = by_id.loc[["c3", "c5"]]
    assert prospects[["last_order_ts", "recency_days", "return_rate"]].isna().all().all()
    assert by_id["country"].tolist()[:4] == ["DE", "FR", "NL", "GB"]
    assert pd.isna(by_id.loc["c9", "country"])


def test_a_customer_who_signs_up_after_as_of_but_ordered_before_is_kept():
    customers = hand_customers().assign(signup_date=stamps(*["2025-06-01"] * 5))
    view = customer_view(hand_orders(), customers, as_of=AS_OF)
    assert view["customer_id"].tolist() == ["c1", "c2"]
    assert view["country"].tolist() == ["DE", "FR"]


@pytest.mark.parametrize("engine", ENGINES)
def test_engines_agree_on_the_hand_example(engine):
    make = ENGINES[engine]
    tables = hand_orders(), hand_customers(), hand_feedback()
    result = customer_view(*(make(table) for table in tables), as_of=AS_OF, charm_days=25)
    assert isinstance(result, NATIVE_TYPES[engine])
    expected = customer_view(*tables, as_of=AS_OF, charm_days=25)
    pd.testing.assert_frame_equal(to_pandas(result), to_pandas(expected), check_dtype=False)


@pytest.fixture(scope="module")
def demo():
    return simulate(n_customers=400, seed=3, defects=False)


@pytest.mark.parametrize("engine", ["polars", "polars_lazy", "duckdb"])
def test_engines_agree_on_demo_data(demo, engine):
    make = ENGINES[engine]
    tables = demo.orders, demo.customers, demo.feedback
    result = customer_view(*(make(table) for table in tables), as_of="2025-09-30")
    expected = customer_view(*tables, as_of="2025-09-30")
    assert expected["orders_after_positive_feedback"].sum() > 0
    pd.testing.assert_frame_equal(to_pandas(result), to_pandas(expected), check_dtype=False)


def test_orders_after_positive_feedback_matches_a_brute_force_count(demo):
    view = customer_view(demo.orders, feedback=demo.feedback, charm_days=14).set_index(
        "customer_id"
    )
    praise = demo.feedback[demo.feedback["score"] >= 9]
    pairs = demo.orders.merge(praise, on="customer_id")
    since = (pairs["order_ts"] - pairs["ts"]).dt.total_seconds() / 86_400
    counted = pairs[(since > 0) & (since <= 14)].drop_duplicates("order_id")
    expected = counted.groupby("customer_id").size()
    got = view["orders_after_positive_feedback"]
    assert len(expected) >= 10
    assert got[got > 0].sort_index().to_dict() == expected.sort_index().to_dict()


def test_inputs_are_not_mutated():
    orders, customers, feedback = hand_orders(), hand_customers(), hand_feedback()
    customer_view(orders, customers, feedback, as_of=AS_OF)
    pd.testing.assert_frame_equal(orders, hand_orders())
    pd.testing.assert_frame_equal(customers, hand_customers())
    pd.testing.assert_frame_equal(feedback, hand_feedback())


@pytest.mark.parametrize("engine", ENGINES)
def test_empty_orders_give_an_empty_view_or_only_prospects(engine):
    make = ENGINES[engine]
    empty = hand_orders().iloc[:0]
    view = to_pandas(customer_view(make(empty)))
    assert list(view.columns) == [*VIEW_COLUMNS, *SUBSEGMENT_INPUTS]
    assert len(view) == 0
    prospects = to_pandas(customer_view(make(empty), make(hand_customers())))
    assert prospects["customer_id"].tolist() == ["c1", "c2", "c3", "c4", "c5"]
    assert prospects["orders"].tolist() == [0] * 5


def test_a_single_customer_with_a_single_order():
    view = customer_view(hand_orders().iloc[[3]])
    assert view[["orders", "revenue", "recency_days", "tenure_days"]].values.tolist() == [
        [1, 40.0, 0.0, 0.0]
    ]
    assert view["days_between_orders"].isna().all()


@pytest.mark.parametrize("engine", ENGINES)
def test_missing_optional_columns_and_tables_give_nulls(engine):
    orders = hand_orders()[["customer_id", "order_ts", "revenue"]]
    view = to_pandas(customer_view(ENGINES[engine](orders), as_of=AS_OF))
    assert view["revenue"].tolist() == [200.0, 40.0]
    missing = ["discount_share", "return_rate", "items", "avg_feedback", *SUBSEGMENT_INPUTS]
    assert view[missing].isna().all().all()


def test_a_missing_required_column_is_a_data_contract_error():
    with pytest.raises(DataContractError, match="revenue"):
        customer_view(hand_orders().drop(columns="revenue"))
    with pytest.raises(DataContractError, match="score"):
        customer_view(hand_orders(), feedback=hand_feedback().drop(columns="score"))


@pytest.mark.parametrize("engine", ENGINES)
def test_nan_revenue_is_an_error_naming_the_column_and_count(engine):
    orders = hand_orders()
    orders.loc[[0, 3], "revenue"] = np.nan
    with pytest.raises(ValueError, match="'revenue' has 2 null or NaN"):
        customer_view(ENGINES[engine](orders))


def test_nan_revenue_after_as_of_is_ignored_with_the_order():
    orders = hand_orders()
    orders.loc[4, "revenue"] = np.nan
    assert customer_view(orders, as_of=AS_OF)["revenue"].tolist() == [200.0, 40.0]


def test_a_missing_customer_id_is_an_error():
    orders = hand_orders().astype({"customer_id": "object"})
    orders.loc[1, "customer_id"] = None
    with pytest.raises(ValueError, match="'customer_id' has 1 null"):
        customer_view(orders)


def test_order_ts_as_text_is_a_data_contract_error():
    orders = hand_orders().astype({"order_ts": "str"})
    with pytest.raises(DataContractError, match="order_ts"):
        customer_view(orders)


def test_zoned_timestamps_are_compared_in_utc():
    orders = hand_orders()
    orders["order_ts"] = orders["order_ts"].dt.tz_localize("Europe/Berlin")
    view = customer_view(orders, as_of="2025-01-31 11:00")  # o3 is at 11:00 UTC
    assert view.set_index("customer_id").loc["c1", "recency_days"] == 0.0


def test_repeated_customers_or_clashing_attributes_are_rejected():
    with pytest.raises(DataContractError, match="unique"):
        customer_view(hand_orders(), pd.concat([hand_customers(), hand_customers().iloc[:1]]))
    with pytest.raises(DataContractError, match="revenue"):
        customer_view(hand_orders(), hand_customers().assign(revenue=1.0))


def test_tables_from_different_engines_are_rejected():
    with pytest.raises(TypeError, match="same kind of frame"):
        customer_view(hand_orders(), feedback=pl.from_pandas(hand_feedback()))


@pytest.mark.parametrize("engine", ENGINES)
def test_integer_customer_ids_work_and_mixed_id_types_are_aligned(engine):
    make = ENGINES[engine]
    orders = hand_orders().assign(customer_id=[1, 1, 1, 2, 3])
    feedback = hand_feedback().assign(customer_id=["1", "1", "1", "1", "2", "2"])
    customers = hand_customers().assign(customer_id=[1, 2, 3, 4, 5])
    result = to_pandas(customer_view(make(orders), make(customers), make(feedback), as_of=AS_OF))
    assert result["customer_id"].tolist() == [1, 2, 3, 5]
    assert result["orders_after_positive_feedback"].tolist() == [1, 1, 0, 0]
    assert result["avg_feedback"].tolist()[:2] == [8.0, 9.5]


def test_a_pandas_table_joins_frames_of_another_engine():
    """Small pandas tables (customers, segments) are sent to the orders' engine."""
    expected = customer_view(hand_orders(), hand_customers(), hand_feedback())
    result = customer_view(pl.from_pandas(hand_orders()).lazy(), hand_customers(), hand_feedback())
    assert isinstance(result, pl.LazyFrame)
    pd.testing.assert_frame_equal(sk.to_pandas(result), expected, check_dtype=False)


def test_last_order_time_is_found_by_the_engine():
    orders = hand_orders()
    expected = pd.Timestamp(orders["order_ts"].max())
    assert sk.last_order_time(orders) == expected
    assert sk.last_order_time(pl.from_pandas(orders).lazy()) == expected
