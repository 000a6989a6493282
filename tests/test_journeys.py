"""Journeys from touchpoints and orders: hand-built cases, a reference on simulated data,
engines, labels, statistics and bad inputs."""

from __future__ import annotations

import narwhals as nw
import numpy as np
import pandas as pd
import polars as pl
import pytest

from segkit.errors import DataContractError
from segkit.journeys import (
    JOURNEY_COLUMNS,
    TOUCH_COLUMNS,
    UNSEGMENTED,
    drop_direct,
    journey_stats,
    journeys,
    journeys_from_paths,
    label_journeys,
    untracked_conversions,
)
from segkit.simulation import simulate
from tests.conftest import ENGINES, NATIVE_TYPES

COMPARED = [*JOURNEY_COLUMNS, *TOUCH_COLUMNS]


def to_pandas(result) -> pd.DataFrame:
    """Any engine's journeys as pandas, by journey and step, nullable dtypes (NaN == NA)."""
    frame = nw.from_native(result)
    if isinstance(frame, nw.LazyFrame):
        frame = frame.collect()
    frame = frame.to_pandas()
    if "journey_id" in frame:
        frame = frame.sort_values(["journey_id", "step"])
    return frame.convert_dtypes().reset_index(drop=True)


def stamps(*values: str) -> pd.Series:
    return pd.Series(pd.to_datetime(list(values), format="ISO8601")).astype("datetime64[us]")


def touches(*rows: tuple) -> pd.DataFrame:
    """Touchpoints from (customer_id, ts, channel[, campaign[, interaction]]) rows."""
    rows = [(*row, *[None] * (5 - len(row))) for row in rows]
    customer, ts, channel, campaign, interaction = zip(*rows, strict=True) if rows else [()] * 5
    return pd.DataFrame(
        {
            "customer_id": pd.Series(customer, dtype="str"),
            "ts": stamps(*ts),
            "channel": pd.Series(channel, dtype="str"),
            "campaign": pd.Series(campaign, dtype="str"),
            "interaction": pd.Series(interaction, dtype="str"),
        }
    )


def orders(*rows: tuple) -> pd.DataFrame:
    """Orders from (order_id, customer_id, order_ts, revenue) rows."""
    order_id, customer, ts, revenue = zip(*rows, strict=True) if rows else [()] * 4
    return pd.DataFrame(
        {
            "order_id": pd.Series(order_id, dtype="str"),
            "customer_id": pd.Series(customer, dtype="str"),
            "order_ts": stamps(*ts),
            "revenue": pd.Series(revenue, dtype="float64"),
        }
    )


def build(engine: str, touch: pd.DataFrame, order: pd.DataFrame, **options) -> pd.DataFrame:
    convert = ENGINES[engine]
    return to_pandas(journeys(convert(touch), convert(order), **options))


def paths(result: pd.DataFrame) -> dict[str, list[str]]:
    """Journey id -> channels in step order."""
    return {key: list(group["channel"]) for key, group in result.groupby("journey_id")}


# --- hand-built journeys -----------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_two_orders_split_the_customers_touches(engine):
    touch = touches(
        ("a", "2025-01-01", "email"),
        ("a", "2025-01-03", "search"),
        ("a", "2025-01-05", "display"),  # after o1: belongs to o2, never to both
        ("a", "2025-01-06 12:00", "email"),
    )
    order = orders(
        ("o1", "a", "2025-01-04", 10.0),
        ("o2", "a", "2025-01-07", 25.0),
    )
    result = build(engine, touch, order)
    assert paths(result) == {"o1": ["email", "search"], "o2": ["display", "email"]}
    assert result["step"].tolist() == [1, 2, 1, 2]
    assert result["steps"].tolist() == [2, 2, 2, 2]
    assert result["revenue"].tolist() == [10.0, 10.0, 25.0, 25.0]
    assert result["conversions"].tolist() == [1.0] * 4
    assert result["nulls"].tolist() == [0.0] * 4
    assert result["days_before_conversion"].tolist() == [3.0, 1.0, 2.0, 0.5]
    assert result["order_id"].tolist() == ["o1", "o1", "o2", "o2"]
    assert result["conversion_ts"].tolist() == list(
        stamps(*["2025-01-04"] * 2, *["2025-01-07"] * 2)
    )
    assert list(result.columns) == COMPARED
    assert isinstance(
        journeys(ENGINES[engine](touch), ENGINES[engine](order)), NATIVE_TYPES[engine]
    )


def test_a_touch_at_an_orders_time_belongs_to_that_order_not_the_next():
    touch = touches(("a", "2025-01-04", "email"), ("a", "2025-01-04 00:00:01", "search"))
    order = orders(("o1", "a", "2025-01-04", 1.0), ("o2", "a", "2025-01-05", 2.0))
    assert paths(build("duckdb", touch, order)) == {"o1": ["email"], "o2": ["search"]}


def test_lookback_window_is_inclusive_at_both_ends():
    touch = touches(
        ("a", "2024-12-31 23:59:59.999999", "early"),  # a microsecond outside 30 days
        ("a", "2025-01-01", "edge"),  # exactly 30 days before
        ("a", "2025-01-31", "closer"),  # exactly at order_ts
    )
    order = orders(("o1", "a", "2025-01-31", 5.0))
    result = build("pandas", touch, order)
    assert paths(result) == {"a:1": ["early"], "o1": ["edge", "closer"]}
    assert result.set_index("channel").loc["early", "days_before_conversion"] is pd.NA
    assert result.set_index("channel").loc["edge", "days_before_conversion"] == 30.0


def test_touch_outside_the_lookback_is_non_converting_and_the_order_untracked():
    touch = touches(("a", "2025-01-01", "email"))
    order = orders(("o1", "a", "2025-02-10", 40.0), ("o2", "b", "2025-02-11", 60.0))
    result = build("pandas", touch, order)
    assert result[["journey_id", "conversions", "nulls", "revenue"]].values.tolist() == [
        ["a:1", 0.0, 1.0, 0.0]
    ]
    assert result["order_id"].isna().all() and result["conversion_ts"].isna().all()
    untracked = untracked_conversions(touch, order)
    assert untracked.to_dict("records") == [
        {
            "orders": 2,
            "untracked_orders": 2,
            "untracked_share": 1.0,
            "revenue": 100.0,
            "untracked_revenue": 100.0,
            "untracked_revenue_share": 1.0,
        }
    ]


@pytest.mark.parametrize("engine", ENGINES)
def test_ties_in_time_are_ordered_by_channel_campaign_interaction(engine):
    at = "2025-01-02 10:00"
    touch = touches(
        ("a", at, "search", "c2", "click"),
        ("a", at, "search", "c1", "view"),
        ("a", at, "email", "c9", "open"),
        ("a", at, "search", "c1", "click"),
        ("a", at, "search", None, "click"),
        ("a", "2025-01-01", "tv", "c1", "view"),
    )
    order = orders(("o1", "a", "2025-01-03", 1.0))
    result = build(engine, touch, order)
    assert result["channel"].tolist() == ["tv", "email", "search", "search", "search", "search"]
    assert result["campaign"].fillna("-").tolist() == ["c1", "c9", "-", "c1", "c1", "c2"]
    assert result["interaction"].tolist() == ["view", "open", "click", "click", "view", "click"]


@pytest.mark.parametrize("engine", ENGINES)
def test_collapse_repeats_and_max_steps_renumber_the_steps(engine):
    channels = ["email", "email", "search", "email", "email", "display"]
    touch = touches(*(("a", f"2025-01-0{day + 1}", name) for day, name in enumerate(channels)))
    order = orders(("o1", "a", "2025-01-08", 9.0))
    collapsed = build(engine, touch, order, collapse_repeats=True)
    assert paths(collapsed) == {"o1": ["email", "search", "email", "display"]}
    assert collapsed["step"].tolist() == [1, 2, 3, 4] and set(collapsed["steps"]) == {4}
    last = build(engine, touch, order, max_steps=2)
    assert paths(last) == {"o1": ["email", "display"]}
    assert last["step"].tolist() == [1, 2] and set(last["steps"]) == {2}
    assert last["days_before_conversion"].tolist() == [3.0, 2.0]
    both = build(engine, touch, order, collapse_repeats=True, max_steps=3)
    assert paths(both) == {"o1": ["search", "email", "display"]}
    assert both["step"].tolist() == [1, 2, 3]
    assert build(engine, touch, order, max_steps=10)["steps"].tolist() == [6] * 6


def test_collapse_repeats_renews_the_last_step_of_non_converting_journeys():
    touch = touches(
        ("a", "2025-01-01", "email"),
        ("a", "2025-01-02", "search"),
        ("a", "2025-01-03", "search"),  # dropped: the journey's last touch
        ("a", "2025-03-01", "search"),  # a new journey after 57 quiet days
    )
    result = build("polars", touch, orders(), collapse_repeats=True)
    assert paths(result) == {"a:1": ["email", "search"], "a:2": ["search"]}
    assert result["steps"].tolist() == [2, 2, 1]


def test_interactions_keep_only_the_listed_types():
    touch = touches(
        ("a", "2025-01-01", "display", "c1", "impression"),
        ("a", "2025-01-02", "search", "c2", "click"),
        ("a", "2025-01-03", "email", "c3", None),
        ("a", "2025-01-04", "social", "c4", "click"),
    )
    order = orders(("o1", "a", "2025-01-05", 3.0))
    assert paths(build("duckdb", touch, order, interactions=["click"])) == {
        "o1": ["search", "social"]
    }
    assert paths(build("pandas", touch, order, interactions="impression")) == {"o1": ["display"]}
    untracked = untracked_conversions(touch, order, interactions=["visit"])
    assert untracked["untracked_orders"].tolist() == [1]


@pytest.mark.parametrize("engine", ENGINES)
def test_non_converting_touches_split_at_gaps_and_orders(engine):
    touch = touches(
        ("a", "2025-01-01", "display"),
        ("a", "2025-01-20", "email"),  # 19 days later: same journey
        ("a", "2025-03-01", "social"),  # 40 days later: a new journey
        ("a", "2025-03-05", "search"),  # 40 days before o1: outside its window
        ("a", "2025-04-15", "email"),  # after o1, 6 days later: another journey
        ("b", "2025-01-10", "tv"),  # a customer without orders
    )
    order = orders(("o1", "a", "2025-04-14", 7.0))
    result = build(engine, touch, order)
    assert paths(result) == {
        "a:1": ["display", "email"],
        "a:2": ["social", "search"],
        "a:3": ["email"],
        "b:1": ["tv"],
    }
    assert set(result["conversions"]) == {0.0} and set(result["nulls"]) == {1.0}
    assert result["days_before_conversion"].isna().all()
    wider = build(engine, touch, order, inactivity_days=100)
    assert paths(wider) == {
        "a:1": ["display", "email", "social", "search"],
        "a:2": ["email"],
        "b:1": ["tv"],
    }


def test_tied_orders_take_the_touches_by_order_id():
    touch = touches(("a", "2025-01-01", "email"), ("a", "2025-01-02", "search"))
    order = orders(("o2", "a", "2025-01-03", 1.0), ("o1", "a", "2025-01-03", 2.0))
    for engine in ENGINES:
        assert paths(build(engine, touch, order)) == {"o1": ["email", "search"]}
    assert untracked_conversions(touch, order)["untracked_orders"].tolist() == [1]


def test_output_is_sorted_by_customer_then_time():
    touch = touches(
        ("b", "2025-01-01", "tv"), ("a", "2025-01-03", "search"), ("a", "2025-01-01", "email")
    )
    result = journeys(touch, orders(("o1", "a", "2025-01-04", 1.0)))
    assert result["channel"].tolist() == ["email", "search", "tv"]
    assert result.index.tolist() == [0, 1, 2]


# --- simulated data: a reference implementation and invariants ----------------------------


def reference_journeys(
    touch: pd.DataFrame, order: pd.DataFrame, lookback_days: float = 30
) -> pd.DataFrame:
    """The journey rules written out row by row with pandas' own forward as-of join."""
    lookback = pd.Timedelta(days=lookback_days)
    keyed = touch.assign(_c=touch["campaign"].fillna(""), _i=touch["interaction"].fillna(""))
    merged = pd.merge_asof(
        keyed.sort_values("ts", kind="stable"),
        order.sort_values(["order_ts", "order_id"])[
            ["order_id", "customer_id", "order_ts", "revenue"]
        ],
        left_on="ts",
        right_on="order_ts",
        by="customer_id",
        direction="forward",
    )
    merged["next_order"] = merged["order_id"].fillna("")  # "" after the last order
    merged["converting"] = merged["order_ts"].notna() & (
        merged["order_ts"] - merged["ts"] <= lookback
    )
    rows = []
    for customer, group in merged.groupby("customer_id", sort=True):
        run, previous = 0, None
        for row in group.sort_values(["ts", "channel", "_c", "_i"]).itertuples():
            if row.converting:
                journey = row.order_id
            else:
                fresh = (
                    previous is None
                    or previous.converting
                    or previous.next_order != row.next_order
                    or row.ts - previous.ts > lookback
                )
                run += fresh
                journey = f"{customer}:{run}"
            previous = row
            rows.append((journey, customer, row))
    return _reference_frame(rows)


def _reference_frame(rows) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "journey_id": [journey for journey, _, _ in rows],
            "customer_id": [customer for _, customer, _ in rows],
            "channel": [row.channel for _, _, row in rows],
            "ts": [row.ts for _, _, row in rows],
            "converting": [row.converting for _, _, row in rows],
            "order_id": [row.order_id for _, _, row in rows],
            "order_ts": [row.order_ts for _, _, row in rows],
            "revenue": [row.revenue for _, _, row in rows],
            "campaign": [row.campaign for _, _, row in rows],
            "interaction": [row.interaction for _, _, row in rows],
        }
    )
    converting = frame["converting"]
    frame["step"] = frame.groupby("journey_id").cumcount() + 1
    frame["steps"] = frame.groupby("journey_id")["step"].transform("max")
    waited = (frame["order_ts"] - frame["ts"]).dt.total_seconds() / 86_400
    frame["days_before_conversion"] = waited.where(converting)
    frame["conversions"] = converting.astype("float64")
    frame["nulls"] = 1.0 - frame["conversions"]
    frame["revenue"] = frame["revenue"].where(converting, 0.0)
    frame["order_id"] = frame["order_id"].where(converting)
    frame["conversion_ts"] = frame["order_ts"].where(converting)
    return (
        frame[COMPARED].sort_values(["journey_id", "step"]).convert_dtypes().reset_index(drop=True)
    )


@pytest.fixture(scope="module")
def shop():
    data = simulate(n_customers=500, seed=7, defects=False)
    assert not data.orders.duplicated(["customer_id", "order_ts"]).any()
    return data


@pytest.fixture(scope="module")
def shop_journeys(shop) -> dict[str, pd.DataFrame]:
    return {engine: build(engine, shop.touchpoints, shop.orders) for engine in ENGINES}


def test_simulated_journeys_match_the_reference(shop, shop_journeys):
    expected = reference_journeys(shop.touchpoints, shop.orders)
    pd.testing.assert_frame_equal(shop_journeys["pandas"], expected, check_dtype=False)


@pytest.mark.parametrize("engine", ["polars", "polars_lazy", "duckdb"])
def test_engines_give_identical_journeys(shop_journeys, engine):
    pd.testing.assert_frame_equal(shop_journeys[engine], shop_journeys["pandas"])


def test_every_touchpoint_ends_in_exactly_one_journey(shop, shop_journeys):
    result = shop_journeys["pandas"]
    assert len(result) == len(shop.touchpoints)
    firsts = result[result["step"] == 1]
    assert firsts["journey_id"].is_unique
    assert (result.groupby("journey_id").size() == firsts.set_index("journey_id")["steps"]).all()


def test_conversions_count_the_orders_with_a_touch_in_their_window(shop, shop_journeys):
    result = shop_journeys["pandas"]
    per_journey = result.drop_duplicates("journey_id")
    touched = _orders_with_touches(shop.touchpoints, shop.orders, lookback_days=30)
    assert per_journey["conversions"].sum() == len(touched)
    assert set(result["order_id"].dropna()) == touched
    untracked = untracked_conversions(shop.touchpoints, shop.orders)
    assert untracked["untracked_orders"].item() == len(shop.orders) - len(touched)
    assert untracked["orders"].item() == len(shop.orders)
    assert 0 < untracked["untracked_share"].item() < 0.5


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    "options", [{}, {"lookback_days": 7}, {"interactions": ["click"], "max_steps": 2}]
)
def test_untracked_from_built_journeys_matches_from_touchpoints(shop, engine, options):
    convert = ENGINES[engine]
    touch, order = convert(shop.touchpoints), convert(shop.orders)
    window = {key: value for key, value in options.items() if key != "max_steps"}
    built = journeys(touch, order, **options)
    labels = shop.customers[["customer_id"]].head(100).assign(segment="VIP")

    from_touches = untracked_conversions(touch, order, **window)
    from_journeys = untracked_conversions(built, order)
    from_labelled = untracked_conversions(label_journeys(built, convert(labels)), order)

    pd.testing.assert_frame_equal(from_journeys, from_touches, rtol=1e-12)
    pd.testing.assert_frame_equal(from_labelled, from_touches, rtol=1e-12)
    assert from_touches["untracked_orders"].item() > 0


def test_untracked_from_journeys_refuses_window_options(shop):
    built = journeys(shop.touchpoints, shop.orders)
    for option in ({"lookback_days": 30}, {"interactions": ["click"]}):
        with pytest.raises(ValueError, match="these are journeys, built with their own"):
            untracked_conversions(built, shop.orders, **option)


def _orders_with_touches(touch, order, lookback_days) -> set[str]:
    """Orders with a touch in (previous order, order_ts] within the lookback: a brute force."""
    ordered = order.sort_values(["customer_id", "order_ts", "order_id"])
    ordered["previous_ts"] = ordered.groupby("customer_id")["order_ts"].shift(1)
    pairs = ordered.merge(touch[["customer_id", "ts"]], on="customer_id")
    start = pairs["order_ts"] - pd.Timedelta(days=lookback_days)
    inside = (pairs["ts"] <= pairs["order_ts"]) & (pairs["ts"] >= start)
    inside &= pairs["previous_ts"].isna() | (pairs["ts"] > pairs["previous_ts"])
    return set(pairs.loc[inside, "order_id"])


def test_filters_lose_only_what_they_filter(shop):
    clicks = build("polars", shop.touchpoints, shop.orders, interactions=["click"])
    assert len(clicks) == (shop.touchpoints["interaction"] == "click").sum()
    capped = build("polars", shop.touchpoints, shop.orders, max_steps=3)
    full = build("polars", shop.touchpoints, shop.orders)
    expected = full.drop_duplicates("journey_id")["steps"].clip(upper=3).sum()
    assert len(capped) == expected and capped["steps"].max() == 3
    collapsed = build("polars", shop.touchpoints, shop.orders, collapse_repeats=True)
    previous = full.groupby("journey_id")["channel"].shift(1)
    changes = (full["channel"] != previous).fillna(True).sum()
    assert len(collapsed) == changes
    assert collapsed["journey_id"].nunique() == full["journey_id"].nunique()


def test_journeys_do_not_change_their_inputs(shop):
    touch, order = shop.touchpoints.copy(), shop.orders.copy()
    journeys(touch, order, collapse_repeats=True, max_steps=4)
    pd.testing.assert_frame_equal(touch, shop.touchpoints)
    pd.testing.assert_frame_equal(order, shop.orders)


# --- odd but valid inputs ------------------------------------------------------------------


def test_unknown_customers_and_late_touches_are_non_converting():
    data = simulate(n_customers=200, seed=3)  # with touches of unknown customers and in 2100
    valid_orders = data.orders.drop_duplicates("order_id")
    result = journeys(data.touchpoints, valid_orders)
    strangers = result[result["customer_id"].str.startswith("C999999X")]
    assert len(strangers) > 0 and set(strangers["conversions"]) == {0.0}
    late = result[result["ts"].dt.year == 2100]
    assert len(late) > 0 and set(late["conversions"]) == {0.0}
    assert len(result) == len(data.touchpoints)


def test_no_orders_at_all_gives_only_non_converting_journeys():
    touch = touches(("a", "2025-01-01", "email"), ("b", "2025-01-02", "email"))
    for engine in ENGINES:
        result = build(engine, touch, orders())
        assert result["journey_id"].tolist() == ["a:1", "b:1"]
        assert result["conversions"].sum() == 0
    assert untracked_conversions(touch, orders())["orders"].tolist() == [0]


def test_a_single_channel_and_minimal_columns():
    touch = touches(("a", "2025-01-01", "email"), ("a", "2025-01-02", "email"))
    touch = touch[["customer_id", "ts", "channel"]]
    result = journeys(touch, orders(("o1", "a", "2025-01-03", 4.0)))
    assert list(result.columns) == [*JOURNEY_COLUMNS, "order_id", "conversion_ts"]
    assert result["channel"].tolist() == ["email", "email"]
    assert journey_stats(result).top_paths["path"].tolist() == ["email > email"]


def test_ids_of_other_types_and_zoned_times_are_aligned():
    touch = pd.DataFrame(
        {
            "customer_id": [1, 1],
            "ts": pd.to_datetime(["2025-01-01 09:00", "2025-01-02 09:00"]).tz_localize(
                "Europe/Berlin"
            ),
            "channel": ["email", "search"],
        }
    )
    order = orders(("7", "1", "2025-01-02 08:00", 1.0))  # 08:00 UTC = 09:00 Berlin
    result = journeys(touch, order)
    assert result["journey_id"].tolist() == ["7", "7"]
    assert result["customer_id"].tolist() == ["1", "1"]
    assert result["ts"].tolist() == list(stamps("2025-01-01 08:00", "2025-01-02 08:00"))


# --- bad inputs ----------------------------------------------------------------------------


def test_missing_columns_name_the_table():
    touch = touches(("a", "2025-01-01", "email"))
    order = orders(("o1", "a", "2025-01-02", 1.0))
    with pytest.raises(DataContractError, match="'touchpoints', column 'channel'"):
        journeys(touch.drop(columns="channel"), order)
    with pytest.raises(DataContractError, match="'orders', column 'revenue'"):
        journeys(touch, order.drop(columns="revenue"))
    with pytest.raises(DataContractError, match="'touchpoints', column 'interaction'"):
        journeys(touch.drop(columns="interaction"), order, interactions=["click"])
    with pytest.raises(DataContractError, match="timestamp"):
        journeys(touch.assign(ts="2025-01-01"), order)


@pytest.mark.parametrize("engine", ENGINES)
def test_null_channels_are_an_error_with_their_count(engine):
    touch = touches(("a", "2025-01-01", None), ("a", "2025-01-02", None), ("b", "2025-01-03", "x"))
    order = orders(("o1", "a", "2025-01-04", 1.0))
    with pytest.raises(ValueError, match="2 touches have a null channel"):
        journeys(ENGINES[engine](touch), ENGINES[engine](order))


def test_bad_orders_and_parameters_are_refused():
    touch = touches(("a", "2025-01-01", "email"))
    order = orders(("o1", "a", "2025-01-02", 1.0), ("o1", "a", "2025-01-03", 2.0))
    with pytest.raises(DataContractError, match="'order_id': expected unique values"):
        journeys(touch, order)
    with pytest.raises(ValueError, match="1 orders have a null or NaN revenue"):
        journeys(touch, orders(("o1", "a", "2025-01-02", float("nan"))))
    good = orders(("o1", "a", "2025-01-02", 1.0))
    for days in (0, -3, float("inf")):
        with pytest.raises(ValueError, match="lookback_days must be a positive"):
            journeys(touch, good, lookback_days=days)
    with pytest.raises(TypeError, match="lookback_days must be a number"):
        journeys(touch, good, lookback_days="30")
    with pytest.raises(ValueError, match="inactivity_days"):
        journeys(touch, good, inactivity_days=0)
    with pytest.raises(ValueError, match="max_steps"):
        journeys(touch, good, max_steps=0)
    with pytest.raises(ValueError, match="interactions: an empty list"):
        journeys(touch, good, interactions=[])
    with pytest.raises(TypeError, match="orders: expected the same kind of frame"):
        journeys(touch, pl.from_pandas(good))
    with pytest.raises(TypeError, match="touchpoints: expected a pandas"):
        journeys([1, 2], good)


# --- labels and statistics -----------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_label_journeys_marks_unlabelled_customers(engine):
    touch = touches(("a", "2025-01-01", "email"), ("b", "2025-01-02", "search"))
    order = orders(("o1", "a", "2025-01-03", 1.0))
    labels = pd.DataFrame(
        {"customer_id": ["a", "c", None], "segment": ["VIP", "Lost", "x"], "score": [1, 2, 3]}
    )
    convert = ENGINES[engine]
    built = journeys(convert(touch), convert(order))
    labelled = label_journeys(built, convert(labels), columns=["segment", "score"])
    assert isinstance(labelled, NATIVE_TYPES[engine])
    result = to_pandas(labelled)
    assert result["journey_id"].tolist() == ["b:1", "o1"]
    assert result["segment"].tolist() == [UNSEGMENTED, "VIP"]
    assert result["score"].tolist() == [pd.NA, 1]
    assert len(result) == 2


def test_label_journeys_refuses_repeats_clashes_and_missing_columns():
    built = journeys(touches(("a", "2025-01-01", "email")), orders())
    with pytest.raises(DataContractError, match="'labels', column 'customer_id'"):
        label_journeys(built, pd.DataFrame({"customer_id": ["a", "a"], "segment": ["x", "y"]}))
    with pytest.raises(DataContractError, match="'journeys', column 'channel'"):
        label_journeys(built, pd.DataFrame({"customer_id": ["a"], "channel": ["x"]}), "channel")
    with pytest.raises(DataContractError, match="'labels', column 'segment'"):
        label_journeys(built, pd.DataFrame({"customer_id": ["a"]}))


def test_journey_stats_by_hand():
    touch = touches(
        ("a", "2025-01-01", "email"),
        ("a", "2025-01-03", "search"),
        ("b", "2025-01-01", "email"),
        ("b", "2025-01-02", "search"),
        ("c", "2025-01-05", "search"),
    )
    order = orders(("o1", "a", "2025-01-05", 1.0), ("o2", "c", "2025-01-06", 1.0))
    stats = journey_stats(journeys(touch, order))
    assert stats.path_lengths.to_dict("list") == {
        "steps": [1, 2],
        "journeys": [1, 2],
        "conversions": [1.0, 1.0],
        "nulls": [0.0, 1.0],
        "conversion_rate": [1.0, 0.5],
    }
    assert stats.top_paths[["path", "journeys", "conversions", "conversion_rate"]].to_dict(
        "list"
    ) == {
        "path": ["email > search", "search"],
        "journeys": [2, 1],
        "conversions": [1.0, 1.0],
        "conversion_rate": [0.5, 1.0],
    }
    assert stats.time_to_conversion.to_dict("records") == [
        {"journeys": 2, "median_days": 2.5, "mean_days": 2.5, "p90_days": 3.7}
    ]


def test_journey_stats_agree_with_pandas_and_across_engines(shop, shop_journeys):
    full = shop_journeys["pandas"]
    by_path = full.groupby("journey_id").agg(
        path=("channel", " > ".join), conversions=("conversions", "first")
    )
    expected = by_path.groupby("path").agg(
        journeys=("conversions", "size"), conversions=("conversions", "sum")
    )
    stats = {engine: journey_stats(ENGINES[engine](full), top=15) for engine in ENGINES}
    top = stats["pandas"].top_paths.set_index("path")
    assert top["journeys"].tolist() == sorted(expected["journeys"], reverse=True)[:15]
    assert (top["conversions"] == expected.loc[top.index, "conversions"]).all()
    assert stats["pandas"].path_lengths["journeys"].sum() == len(by_path)
    for engine in ENGINES:
        for name in ("path_lengths", "top_paths", "time_to_conversion"):
            pd.testing.assert_frame_equal(
                getattr(stats[engine], name), getattr(stats["pandas"], name), obj=name
            )


def test_journey_stats_pack_long_paths_and_many_channels():
    names = [f"ch{i:02d}" for i in range(40)]  # 6 bits per step, 10 steps per integer
    path = " > ".join(names[i % 40] for i in range(57))
    steps = journeys_from_paths(
        pd.DataFrame({"path": [path, path, "ch01"], "total_conversions": [1, 0, 2]}),
        value=None,
        nulls=None,
    )
    top = journey_stats(steps).top_paths
    assert top["path"].tolist() == [path, "ch01"]
    assert top["journeys"].tolist() == [2, 1] and top["steps"].tolist() == [57, 1]


def test_journey_stats_of_no_journeys():
    empty = journeys(touches(), orders())
    stats = journey_stats(empty)
    assert stats.path_lengths.empty and stats.top_paths.empty
    assert stats.time_to_conversion["journeys"].tolist() == [0]
    assert np.isnan(stats.time_to_conversion["median_days"].item())


@pytest.mark.parametrize("engine", ENGINES)
def test_drop_direct_keeps_direct_only_where_a_journey_has_nothing_else(engine):
    paths = pd.DataFrame(
        {
            "path": ["direct > email > direct", "direct > direct", "tv > search", "app"],
            "total_conversions": [1.0, 2.0, 0.0, 1.0],
            "total_conversion_value": [10.0, 30.0, 0.0, 5.0],
            "total_null": [0.0, 0.0, 3.0, 1.0],
        }
    )
    steps = journeys_from_paths(paths)
    result = to_pandas(drop_direct(ENGINES[engine](steps), direct_channels=["direct", "app"]))
    assert result[["journey_id", "step", "steps", "channel"]].values.tolist() == [
        ["p0", 1, 1, "email"],
        ["p1", 1, 2, "direct"],
        ["p1", 2, 2, "direct"],
        ["p2", 1, 2, "tv"],
        ["p2", 2, 2, "search"],
        ["p3", 1, 1, "app"],
    ]
    totals = result.groupby("journey_id")[["conversions", "revenue", "nulls"]].first()
    assert totals.sum().tolist() == [4.0, 45.0, 4.0]
    pd.testing.assert_frame_equal(steps, journeys_from_paths(paths))  # the input is unchanged


def test_drop_direct_on_shuffled_rows_matches_every_engine(shop, shop_journeys):
    steps = shop_journeys["pandas"].sample(frac=1.0, random_state=3)
    assert steps["channel"].eq("direct").any()
    expected = to_pandas(drop_direct(pl.from_pandas(shop_journeys["pandas"])))
    for engine in ENGINES:
        result = to_pandas(drop_direct(ENGINES[engine](steps)))
        pd.testing.assert_frame_equal(result.reset_index(drop=True), expected, check_dtype=False)
    assert len(expected) < len(steps)
