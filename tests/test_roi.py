"""ROI, ROAS and CPA per segment × channel, and the impression-to-conversion funnel."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segkit.attribution import compare_models_long
from segkit.errors import DataContractError
from segkit.journeys import journeys, label_journeys
from segkit.reach import channel_reach
from segkit.roi import NOT_SET, UNALLOCATED, UNSEGMENTED, funnel, roi, roi_totals
from segkit.simulation import simulate
from tests.conftest import ENGINES

NAN = np.nan
RATIOS = ["roi", "roas", "cpa"]


def credits_table() -> pd.DataFrame:
    """Two models' credits per segment, in the long format of compare_models_long."""
    linear = pd.DataFrame(
        {
            "segment": ["A", "A", "A", "A", "B", "B"],
            "model": "linear",
            "channel": ["email", "search", "direct", "affiliate", "email", "search"],
            "conversions": [3.0, 2.0, 1.0, 2.0, 1.0, 0.0],
            "revenue": [90.0, 100.0, 50.0, 20.0, 10.0, 0.0],
        }
    )
    first = linear.assign(model="first_touch", conversions=1.0, revenue=5.0)
    table = pd.concat([linear, first], ignore_index=True)
    return table.assign(share=0.1)


SPEND = pd.DataFrame(
    {
        "date": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-01", "2025-01-02"] * 2),
        "channel": ["email", "email", "search", "search", "display", "affiliate"] + ["email"] * 2,
        "campaign": ["news", "news", "brand", "generic", "banner", "coupon", "promo", None],
        "cost": [10.0, 20.0, 20.0, 40.0, 25.0, 0.0, 5.0, 5.0],
        "impressions": [100, 100, 0, 0, 1000, 0, 0, 0],
        "clicks": [5, 5, 3, 0, 2, 0, 0, 0],
    }
)
TOUCHES = pd.DataFrame(
    {
        "segment": ["A", "B", "A", "B", "A", "A"],
        "channel": ["email", "email", "search", "search", "affiliate", "direct"],
        "touches": [3, 1, 1, 2, 2, 5],
    }
)
#: ``roi(credits_table(), SPEND, touches=TOUCHES, model="linear")`` worked out by hand:
#: email costs 40 (A gets 3/4), search 60 (A 1/3), affiliate 0, display 25 nobody touched.
EXPECTED = pd.DataFrame(
    [
        ("A", "affiliate", 0.0, 1.0, 2.0, 20.0, NAN, NAN, 0.0),
        ("A", "direct", NAN, NAN, 1.0, 50.0, NAN, NAN, NAN),
        ("A", "email", 30.0, 0.75, 3.0, 90.0, 2.0, 3.0, 10.0),
        ("A", "search", 20.0, 1 / 3, 2.0, 100.0, 4.0, 5.0, 10.0),
        ("B", "email", 10.0, 0.25, 1.0, 10.0, 0.0, 1.0, 10.0),
        ("B", "search", 40.0, 2 / 3, 0.0, 0.0, -1.0, 0.0, NAN),
        (UNALLOCATED, "display", 25.0, 1.0, 0.0, 0.0, -1.0, 0.0, NAN),
    ],
    columns=["segment", "channel", "cost", "spend_share", "conversions", "revenue", *RATIOS],
)


def linear_roi(**options) -> pd.DataFrame:
    return roi(credits_table(), SPEND, touches=TOUCHES, model="linear", **options)


def assert_same(result: pd.DataFrame, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        result.reset_index(drop=True), expected, check_dtype=False, check_exact=False
    )


def assert_no_inf(table: pd.DataFrame) -> None:
    numbers = table.select_dtypes("number").to_numpy(dtype="float64")
    assert not np.isinf(numbers).any()


# roi ------------------------------------------------------------------------------------------


def test_roi_every_column_by_hand():
    result = linear_roi()
    assert_same(result, EXPECTED)
    assert_no_inf(result)


def test_roi_preserves_total_cost_and_credits():
    result = linear_roi()
    assert result["cost"].sum() == pytest.approx(SPEND["cost"].sum())
    linear = credits_table().query("model == 'linear'")
    assert result["conversions"].sum() == pytest.approx(linear["conversions"].sum())
    assert result["revenue"].sum() == pytest.approx(linear["revenue"].sum())


def test_roi_spend_shares_add_up_to_one_per_spend_channel():
    shares = linear_roi().groupby("channel")["spend_share"].sum(min_count=1)
    paid = sorted(SPEND["channel"].unique())
    assert shares[paid].tolist() == pytest.approx([1.0] * len(paid))
    assert np.isnan(shares["direct"])


def test_roi_does_not_mutate_inputs():
    credits, spend, touches = credits_table(), SPEND.copy(), TOUCHES.copy()
    roi(credits, spend, touches=touches, model="linear")
    pd.testing.assert_frame_equal(credits, credits_table())
    pd.testing.assert_frame_equal(spend, SPEND)
    pd.testing.assert_frame_equal(touches, TOUCHES)


def test_roi_segment_without_touches_of_a_spend_channel_gets_no_cost():
    credits = pd.DataFrame(
        {"segment": ["A", "C"], "channel": "email", "conversions": [1.0, 2.0], "revenue": 8.0}
    )
    touches = pd.DataFrame({"segment": ["A"], "channel": ["email"], "touches": [4]})
    spend = pd.DataFrame({"channel": ["email"], "cost": [6.0]})
    result = roi(credits, spend, touches=touches)
    expected = pd.DataFrame(
        [("A", "email", 6.0, 1.0, 1.0, 8.0, 1 / 3, 4 / 3, 6.0)]
        + [("C", "email", 0.0, 0.0, 2.0, 8.0, NAN, NAN, 0.0)],
        columns=EXPECTED.columns,
    )
    assert_same(result, expected)


def test_roi_spend_channel_never_touched_keeps_its_cost_unallocated():
    """Credited but absent from the touches: the segments get 0, the cost stays visible."""
    credits = pd.DataFrame(
        {"segment": ["A"], "channel": ["tv"], "conversions": [2.0], "revenue": [30.0]}
    )
    touches = pd.DataFrame({"segment": ["A"], "channel": ["email"], "touches": [1]})
    spend = pd.DataFrame({"channel": ["tv", "email"], "cost": [50.0, 5.0]})
    result = roi(credits, spend, touches=touches)
    expected = pd.DataFrame(
        [
            ("A", "email", 5.0, 1.0, 0.0, 0.0, -1.0, 0.0, NAN),
            ("A", "tv", 0.0, 0.0, 2.0, 30.0, NAN, NAN, 0.0),
            (UNALLOCATED, "tv", 50.0, 1.0, 0.0, 0.0, -1.0, 0.0, NAN),
        ],
        columns=EXPECTED.columns,
    )
    assert_same(result, expected)
    assert result["cost"].sum() == pytest.approx(55.0)


def test_roi_channel_without_spend_has_missing_cost_and_ratios():
    """Touched and credited but not in the spend table: not available, never inf or 0."""
    credits = pd.DataFrame(
        {"segment": ["A"], "channel": ["organic"], "conversions": [3.0], "revenue": [60.0]}
    )
    touches = pd.DataFrame({"segment": ["A"], "channel": ["organic"], "touches": [7]})
    spend = pd.DataFrame({"channel": ["email"], "cost": [5.0]})
    result = roi(credits, spend, touches=touches).set_index("channel")
    assert result.loc["organic", ["cost", "spend_share", *RATIOS]].isna().all()
    assert result.loc["organic", "conversions"] == 3.0
    assert result.loc["email", "segment"] == UNALLOCATED


def test_roi_without_groups_is_one_row_per_channel():
    result = roi(credits_table(), SPEND, by=None, model="linear")
    assert result["channel"].tolist() == ["affiliate", "direct", "display", "email", "search"]
    assert result["spend_share"].tolist()[2:] == [1.0, 1.0, 1.0]
    email = result.set_index("channel").loc["email"]
    assert (email["cost"], email["roi"], email["roas"], email["cpa"]) == (40.0, 1.5, 2.5, 10.0)


def test_roi_totals_recompute_ratios_from_sums():
    totals = roi_totals(linear_roi())
    expected = pd.DataFrame(
        [
            ("affiliate", 0.0, 2.0, 20.0, NAN, NAN, 0.0),
            ("direct", NAN, 1.0, 50.0, NAN, NAN, NAN),
            ("display", 25.0, 0.0, 0.0, -1.0, 0.0, NAN),
            ("email", 40.0, 4.0, 100.0, 1.5, 2.5, 10.0),
            ("search", 60.0, 2.0, 100.0, 2 / 3, 5 / 3, 30.0),
        ],
        columns=["channel", "cost", "conversions", "revenue", *RATIOS],
    )
    assert_same(totals, expected)
    # the mean of the segments' ROAS on email would be 2, not 2.5
    by_channel = roi(credits_table(), SPEND, by=None, model="linear")
    assert_same(totals, by_channel.drop(columns="spend_share"))


def test_roi_per_campaign():
    credits = pd.DataFrame(
        {
            "segment": ["A", "B", "A"],
            "channel": ["search", "search", "email"],
            "campaign": ["brand", "generic", None],
            "conversions": [1.0, 4.0, 1.0],
            "revenue": [50.0, 80.0, 10.0],
        }
    )
    touches = pd.DataFrame(
        {
            "segment": ["A", "B", "A"],
            "channel": ["search", "search", "email"],
            "campaign": ["brand", "generic", None],
            "touches": [2, 3, 1],
        }
    )
    result = roi(credits, SPEND, touches=touches, campaign=True)
    expected = pd.DataFrame(
        [
            ("A", "email", NOT_SET, 5.0, 1.0, 1.0, 10.0, 1.0, 2.0, 5.0),
            ("A", "search", "brand", 20.0, 1.0, 1.0, 50.0, 1.5, 2.5, 20.0),
            ("B", "search", "generic", 40.0, 1.0, 4.0, 80.0, 1.0, 2.0, 10.0),
            (UNALLOCATED, "affiliate", "coupon", 0.0, 1.0, 0.0, 0.0, NAN, NAN, NAN),
            (UNALLOCATED, "display", "banner", 25.0, 1.0, 0.0, 0.0, -1.0, 0.0, NAN),
            (UNALLOCATED, "email", "news", 30.0, 1.0, 0.0, 0.0, -1.0, 0.0, NAN),
            (UNALLOCATED, "email", "promo", 5.0, 1.0, 0.0, 0.0, -1.0, 0.0, NAN),
        ],
        columns=["segment", "channel", "campaign", *EXPECTED.columns[2:]],
    )
    assert_same(result, expected)
    assert result["cost"].sum() == pytest.approx(SPEND["cost"].sum())
    assert roi_totals(result)["campaign"].tolist() == [
        "coupon",
        "banner",
        NOT_SET,
        "news",
        "promo",
        "brand",
        "generic",
    ]


def test_roi_numeric_groups_keep_unallocated_rows_last():
    credits = pd.DataFrame(
        {"cluster": [0, 1], "channel": "email", "conversions": [1.0, 2.0], "revenue": 8.0}
    )
    touches = pd.DataFrame({"cluster": [0, 1], "channel": "email", "touches": [4, 0]})
    spend = pd.DataFrame({"channel": ["email", "tv"], "cost": [6.0, 3.0]})
    result = roi(credits, spend, by="cluster", touches=touches)
    assert result["cluster"].tolist() == [0, 1, UNALLOCATED]
    assert result["cost"].tolist() == [6.0, 0.0, 3.0]
    with pytest.raises(ValueError, match="result columns"):
        roi(credits, spend, by=["cluster", "channel"], touches=touches)


def test_roi_single_model_column_needs_no_model():
    only = credits_table().query("model == 'linear'")
    assert_same(roi(only, SPEND, touches=TOUCHES), EXPECTED)


@pytest.mark.parametrize("engine", ENGINES)
def test_roi_same_numbers_in_every_engine(engine):
    make = ENGINES[engine]
    result = roi(make(credits_table()), make(SPEND), touches=make(TOUCHES), model="linear")
    assert_same(result, EXPECTED)


def test_roi_negative_cost_names_table_column_and_rows():
    spend = SPEND.assign(cost=[10.0, -3.0, 20.0, 40.0, 25.0, -1.0, 5.0, 5.0])
    with pytest.raises(DataContractError, match="cost >= 0") as caught:
        roi(credits_table(), spend, touches=TOUCHES, model="linear")
    error = caught.value
    assert (error.table, error.column) == ("spend", "cost")
    assert "2 rows" in error.found
    assert "channel=email" in error.found and "cost=-3.0" in error.found
    assert "channel=affiliate" in error.found


def test_roi_missing_cost_or_channel_is_an_error():
    with pytest.raises(DataContractError, match="a cost on every row"):
        roi(
            credits_table(),
            SPEND.assign(cost=[1.0, NAN, 1, 1, 1, 1, 1, 1]),
            by=None,
            model="linear",
        )
    spend = SPEND.assign(channel=[None, *SPEND["channel"][1:]])
    with pytest.raises(DataContractError, match="a channel on every row"):
        roi(credits_table(), spend, by=None, model="linear")


@pytest.mark.parametrize(
    ("table", "column"),
    [
        ("attribution", "revenue"),
        ("attribution", "segment"),
        ("spend", "cost"),
        ("spend", "channel"),
        ("touches", "touches"),
        ("touches", "segment"),
    ],
)
def test_roi_missing_columns(table, column):
    tables = {"attribution": credits_table(), "spend": SPEND, "touches": TOUCHES}
    tables[table] = tables[table].drop(columns=column)
    with pytest.raises(DataContractError) as caught:
        roi(tables["attribution"], tables["spend"], touches=tables["touches"], model="linear")
    assert (caught.value.table, caught.value.column) == (table, column)


def test_roi_campaign_needs_campaign_columns():
    with pytest.raises(DataContractError) as caught:
        roi(credits_table(), SPEND, touches=TOUCHES, model="linear", campaign=True)
    assert (caught.value.table, caught.value.column) == ("attribution", "campaign")


def test_roi_several_models_need_a_model():
    with pytest.raises(ValueError, match=r"\['first_touch', 'linear'\]; no model given"):
        roi(credits_table(), SPEND, touches=TOUCHES)
    with pytest.raises(ValueError, match="'markov' is not among them"):
        roi(credits_table(), SPEND, touches=TOUCHES, model="markov")


def test_roi_model_without_model_column_is_an_error():
    only = credits_table().query("model == 'linear'").drop(columns="model")
    with pytest.raises(DataContractError, match="a model column"):
        roi(only, SPEND, touches=TOUCHES, model="linear")


def test_roi_by_groups_needs_touches():
    with pytest.raises(ValueError, match="needs touches"):
        roi(credits_table(), SPEND, model="linear")


def test_roi_negative_touches_are_an_error():
    touches = TOUCHES.assign(touches=[3, -1, 1, 2, 2, 5])
    with pytest.raises(DataContractError, match="counts >= 0") as caught:
        roi(credits_table(), SPEND, touches=touches, model="linear")
    assert "segment=B" in caught.value.found


def test_roi_empty_spend_leaves_every_cost_missing():
    result = roi(credits_table(), SPEND.iloc[:0], touches=TOUCHES, model="linear")
    assert result["cost"].isna().all() and result[RATIOS].isna().all().all()
    assert len(result) == 6


# funnel ---------------------------------------------------------------------------------------

TOUCHPOINTS = pd.DataFrame(
    {
        "customer_id": ["c1"] * 7 + ["c2"] * 4 + ["c3"],
        "channel": ["display", "display", "display", "email", "email", "search", "direct"]
        + ["display", "email", "direct", "social", "search"],
        "campaign": ["banner", "banner", None, "news", "news", "brand", None]
        + ["banner", "news", None, "story", "brand"],
        "interaction": ["impression", "impression", "click", "email_open", "click", "click"]
        + ["visit", "impression", "email_open", "visit", "share", "click"],
    }
)
SEGMENTS = pd.DataFrame({"customer_id": ["c1", "c2", "c9"], "segment": ["A", "B", "Z"]})


def journey_table() -> pd.DataFrame:
    """Journeys j1..j5 in the long format (only the columns the funnel reads)."""
    rows = [
        ("j1", "c1", ["display", "email", "search"], 1.0),
        ("j2", "c1", ["display", "direct"], 0.0),
        ("j3", "c2", ["display", "direct"], 1.0),
        ("j4", "c3", ["search"], 0.0),
        ("j5", "c2", ["email"], 0.0),
    ]
    return pd.DataFrame(
        [
            (journey, customer, step, len(channels), channel, converted)
            for journey, customer, channels, converted in rows
            for step, channel in enumerate(channels, start=1)
        ],
        columns=["journey_id", "customer_id", "step", "steps", "channel", "conversions"],
    )


#: ``funnel(TOUCHPOINTS, journey_table(), SPEND, SEGMENTS)`` worked out by hand.
FUNNEL = pd.DataFrame(
    [
        ("A", "direct", 1, 0, 0, 0, 1, NAN, 1, 0, 0.0, NAN),
        ("A", "display", 3, 2, 0, 1, 0, 0.5, 2, 1, 0.5, 0.002),
        ("A", "email", 2, 1, 1, 1, 0, 1.0, 1, 1, 1.0, 0.05),
        ("A", "search", 1, 0, 0, 1, 0, NAN, 1, 1, 1.0, NAN),
        ("B", "direct", 1, 0, 0, 0, 1, NAN, 1, 1, 1.0, NAN),
        ("B", "display", 1, 1, 0, 0, 0, 0.0, 1, 1, 1.0, 0.002),
        ("B", "email", 1, 1, 1, 0, 0, 0.0, 1, 0, 0.0, 0.05),
        ("B", "social", 1, 0, 0, 0, 0, NAN, 0, 0, NAN, NAN),
        (UNSEGMENTED, "search", 1, 0, 0, 1, 0, NAN, 1, 0, 0.0, NAN),
    ],
    columns=[
        "segment",
        "channel",
        "touches",
        "impressions",
        "opens",
        "clicks",
        "visits",
        "ctr",
        "journeys",
        "converting_journeys",
        "conversion_rate",
        "spend_ctr",
    ],
)


def test_funnel_every_column_by_hand():
    result = funnel(TOUCHPOINTS, journey_table(), SPEND, SEGMENTS)
    assert_same(result, FUNNEL)
    assert_no_inf(result)
    counts = ["touches", "impressions", "opens", "clicks", "visits", "journeys"]
    assert (result[counts].dtypes == "int64").all()
    assert "tv" not in set(result["channel"])


def test_funnel_does_not_mutate_inputs():
    touches, paths, segments = TOUCHPOINTS.copy(), journey_table(), SEGMENTS.copy()
    funnel(touches, paths, SPEND, segments)
    pd.testing.assert_frame_equal(touches, TOUCHPOINTS)
    pd.testing.assert_frame_equal(paths, journey_table())
    pd.testing.assert_frame_equal(segments, SEGMENTS)


def test_funnel_without_journeys_or_spend_has_only_touch_columns():
    result = funnel(TOUCHPOINTS, segments=SEGMENTS)
    assert_same(result, FUNNEL.iloc[:, :8])


def test_funnel_uses_labels_the_tables_already_carry():
    labelled = label_journeys(journey_table(), SEGMENTS[["customer_id", "segment"]])
    touches = TOUCHPOINTS.merge(SEGMENTS, how="left").fillna({"segment": UNSEGMENTED})
    assert_same(funnel(touches, labelled, SPEND), FUNNEL)
    assert_same(funnel(touches, labelled, SPEND, segments=SEGMENTS), FUNNEL)


def test_funnel_per_channel_and_campaign():
    result = funnel(TOUCHPOINTS, by=["channel", "campaign"])
    display = result[result["channel"] == "display"]
    assert display["campaign"].tolist() == [NOT_SET, "banner"]
    assert display[["touches", "impressions", "clicks"]].values.tolist() == [[1, 0, 1], [3, 3, 0]]
    assert result["touches"].sum() == len(TOUCHPOINTS)


@pytest.mark.parametrize("engine", ENGINES)
def test_funnel_same_numbers_in_every_engine(engine):
    make = ENGINES[engine]
    result = funnel(make(TOUCHPOINTS), make(journey_table()), make(SPEND), make(SEGMENTS))
    assert_same(result, FUNNEL)


def test_funnel_bad_inputs():
    with pytest.raises(ValueError, match="must include 'channel'"):
        funnel(TOUCHPOINTS, segments=SEGMENTS, by="segment")
    with pytest.raises(DataContractError) as caught:
        funnel(TOUCHPOINTS)
    assert (caught.value.table, caught.value.column) == ("touchpoints", "segment")
    with pytest.raises(DataContractError) as caught:
        funnel(TOUCHPOINTS.drop(columns="interaction"), segments=SEGMENTS)
    assert caught.value.column == "interaction"
    with pytest.raises(DataContractError, match="one row per customer"):
        funnel(TOUCHPOINTS, segments=pd.concat([SEGMENTS, SEGMENTS]))
    with pytest.raises(DataContractError, match="a channel on every row"):
        funnel(TOUCHPOINTS.assign(channel=None), segments=SEGMENTS)
    with pytest.raises(DataContractError) as caught:
        funnel(TOUCHPOINTS, journey_table().drop(columns="conversions"), segments=SEGMENTS)
    assert (caught.value.table, caught.value.column) == ("journeys", "conversions")
    with pytest.raises(DataContractError) as caught:
        funnel(TOUCHPOINTS, spend=SPEND.drop(columns="clicks"), segments=SEGMENTS)
    assert (caught.value.table, caught.value.column) == ("spend", "clicks")


# simulated shop -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shop():
    """Simulated data attributed per segment; a fifth of the customers left unsegmented."""
    data = simulate(n_customers=500, seed=1, defects=False)
    customers = data.customers["customer_id"]
    segments = pd.DataFrame(
        {"customer_id": customers, "segment": np.where(np.arange(len(customers)) % 2, "X", "Y")}
    ).iloc[: int(len(customers) * 0.8)]
    steps = journeys(data.touchpoints, data.orders)
    credits = compare_models_long(
        label_journeys(steps, segments), ["linear", "last_touch"], by="segment"
    )
    return data, segments, steps, credits


def test_roi_invariants_on_simulated_data(shop):
    data, segments, steps, credits = shop
    reach = channel_reach(data.touchpoints, segments)
    result = roi(credits, data.spend, touches=reach, model="last_touch")
    converted = steps.groupby("journey_id")["conversions"].first().sum()
    assert result["conversions"].sum() == pytest.approx(converted)
    assert result["cost"].sum() == pytest.approx(data.spend["cost"].sum())
    paid = set(data.spend["channel"])
    shares = result[result["channel"].isin(paid)].groupby("channel")["spend_share"].sum()
    assert shares.tolist() == pytest.approx([1.0] * len(paid))
    unpaid = result[~result["channel"].isin(paid)]
    assert len(unpaid) and unpaid[["cost", *RATIOS]].isna().all().all()
    assert UNALLOCATED not in set(result["segment"])
    assert_no_inf(result)
    totals = roi_totals(result)
    by_channel = roi(credits, data.spend, by=None, model="last_touch")
    assert_same(totals, by_channel.drop(columns="spend_share"))


def test_funnel_invariants_on_simulated_data(shop):
    data, segments, steps, _ = shop
    result = funnel(data.touchpoints, steps, data.spend, segments)
    assert result["touches"].sum() == len(data.touchpoints)
    counted = result[["impressions", "clicks", "visits"]].sum(axis=1)
    assert (counted == result["touches"]).all()  # the simulation has only these interactions
    assert set(result["segment"]) == {"X", "Y", UNSEGMENTED}
    channels_per_journey = steps.groupby("journey_id")["channel"].nunique().sum()
    assert result["journeys"].sum() == channels_per_journey
    assert (result["converting_journeys"] <= result["journeys"]).all()
    assert result.loc[result["channel"] == "direct", "spend_ctr"].isna().all()
    assert_no_inf(result)
