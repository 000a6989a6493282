"""The attribution API: invariants of every model, dispatch, paths, comparisons, truth checks."""

from __future__ import annotations

import sys
import types

import numpy as np
import pandas as pd
import pytest

from segkit.attribution import (
    DEFAULT_MODELS,
    MODELS,
    attribute,
    attribute_paths,
    attribution_truth_check,
    compare_models,
    compare_models_long,
    side_by_side,
)
from segkit.errors import DataContractError
from segkit.heuristic_attribution import HEURISTIC_MODELS
from segkit.journeys import drop_direct, journeys, journeys_from_paths
from segkit.simulation import simulate

#: Options the invariant tests pass (custom needs weights; the rest use their defaults).
OPTIONS = {"custom": {"weights": {"first": 3, "last": 2, "middle": 1}}}


def long_journeys(rows: list[tuple]) -> pd.DataFrame:
    """Journeys in the long format from (segment, channels, days, conversions, revenue) rows."""
    parts = []
    for i, (segment, channels, days, conversions, revenue) in enumerate(rows):
        steps = len(channels)
        parts.append(
            pd.DataFrame(
                {
                    "journey_id": f"j{i}",
                    "customer_id": f"c{i}",
                    "step": np.arange(1, steps + 1),
                    "steps": steps,
                    "channel": channels,
                    "days_before_conversion": np.asarray(days, "float64"),
                    "conversions": float(conversions),
                    "nulls": 0.0 if conversions > 0 else 1.0,
                    "revenue": float(revenue),
                    "segment": segment,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


NAN = float("nan")
#: Two segments, repeated and direct touches, fractional and zero conversions.
JOURNEYS = long_journeys(
    [
        ("A", ["search", "email", "direct"], [9, 4, 0], 1, 120),
        ("A", ["social", "search"], [3, 0], 0.5, 40),
        ("A", ["email", "email", "search", "social"], [20, 12, 2, 0], 2, 90),
        ("A", ["social", "direct"], [NAN, NAN], 0, 0),
        ("A", ["search"], [0], 1, 30),
        ("B", ["email", "direct"], [6, 0], 1, 60),
        ("B", ["social", "email", "search", "email", "direct"], [30, 14, 7, 1, 0], 1, 200),
        ("B", ["email"], [NAN], 0, 0),
        ("B", ["search", "social"], [2, 0], 0.25, 15),
        ("B", ["direct", "search"], [NAN, NAN], 0, 0),
    ]
)


@pytest.mark.parametrize("model", MODELS)
def test_credits_are_non_negative_and_add_up_per_group(model):
    credits = attribute(JOURNEYS, model, by="segment", **OPTIONS.get(model, {}))
    assert list(credits.columns) == ["segment", "channel", "conversions", "revenue"]
    assert (credits[["conversions", "revenue"]] >= -1e-12).all().all()
    journeys = JOURNEYS.drop_duplicates("journey_id").groupby("segment")
    totals = credits.groupby("segment")
    assert totals["conversions"].sum().to_numpy() == pytest.approx(journeys["conversions"].sum())
    assert totals["revenue"].sum().to_numpy() == pytest.approx(journeys["revenue"].sum())
    assert credits.equals(credits.sort_values(["segment", "channel"]).reset_index(drop=True))


@pytest.mark.parametrize("model", MODELS)
def test_renaming_channels_permutes_the_credits(model):
    names = {"search": "zz_paid", "email": "aa_crm", "social": "mm_meta", "direct": "direct"}
    renamed = JOURNEYS.assign(channel=JOURNEYS["channel"].map(names))
    original = attribute(JOURNEYS, model, by="segment", **OPTIONS.get(model, {}))
    result = attribute(renamed, model, by="segment", **OPTIONS.get(model, {}))
    expected = original.assign(channel=original["channel"].map(names))
    expected = expected.sort_values(["segment", "channel"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(result, expected, rtol=1e-9)


@pytest.mark.parametrize("model", MODELS)
def test_fractional_conversions_are_kept(model):
    journeys = long_journeys(
        [
            ("A", ["search", "email"], [2, 0], 0.3, 10),
            ("A", ["email"], [0], 0.45, 5),
            ("A", ["search"], [NAN], 0, 0),
        ]
    )
    credits = attribute(journeys, model, **OPTIONS.get(model, {}))
    assert credits["conversions"].sum() == pytest.approx(0.75)
    assert credits["revenue"].sum() == pytest.approx(15.0)


def test_models_list_every_family():
    assert (*HEURISTIC_MODELS, "markov", "shapley", "shapley_ordered") == MODELS
    assert len(DEFAULT_MODELS) == 9 and set(DEFAULT_MODELS) <= set(MODELS)


def test_attribute_hand_computed_with_and_without_groups():
    credits = attribute(JOURNEYS, "last_touch")
    assert credits.set_index("channel")["conversions"].to_dict() == pytest.approx(
        {"direct": 3.0, "email": 0.0, "search": 1.5, "social": 2.25}
    )
    by_list = attribute(JOURNEYS, "last_touch", by=["segment"])
    pd.testing.assert_frame_equal(by_list, attribute(JOURNEYS, "last_touch", by="segment"))
    assert by_list.groupby("channel")["conversions"].sum().to_dict() == pytest.approx(
        credits.set_index("channel")["conversions"].to_dict()
    )


def test_unknown_model_lists_them_all():
    with pytest.raises(ValueError, match="expected one of first_touch.*shapley_ordered"):
        attribute(JOURNEYS, "data_driven")


def fake_module(monkeypatch, name: str, function: str, calls: list) -> None:
    """Stand-in for a Markov or Shapley module that records how it was called."""

    def credits(journeys, by=(), **options):
        calls.append((tuple(by), options))
        return pd.DataFrame(
            {"channel": ["b", "a"], "conversions": [1, 2], "revenue": [3, 4], "extra": 0}
        )

    module = types.ModuleType(name)
    setattr(module, function, credits)
    monkeypatch.setitem(sys.modules, name, module)


def test_markov_and_shapley_dispatch_with_their_options(monkeypatch):
    calls: list = []
    fake_module(monkeypatch, "segkit.markov_attribution", "markov_credits", calls)
    fake_module(monkeypatch, "segkit.shapley_attribution", "shapley_credits", calls)
    credits = attribute(JOURNEYS, "markov", order=2)
    assert credits.values.tolist() == [["a", 2.0, 4.0], ["b", 1.0, 3.0]]
    attribute(JOURNEYS, "shapley")
    attribute(JOURNEYS, "shapley", variant="rate", max_channels=5)
    attribute(JOURNEYS, "shapley_ordered")
    assert calls == [
        ((), {"order": 2}),
        ((), {"variant": "simplified"}),
        ((), {"variant": "rate", "max_channels": 5}),
        ((), {"variant": "ordered"}),
    ]
    with pytest.raises(ValueError, match="use the model 'shapley_ordered'"):
        attribute(JOURNEYS, "shapley", variant="ordered")
    with pytest.raises(TypeError, match="takes no variant"):
        attribute(JOURNEYS, "shapley_ordered", variant="rate")


def test_attribute_paths_matches_channel_attribution_heuristic_models():
    # ChannelAttribution's heuristic_models: first / last channel of each path get
    # its conversions and value; linear gives each touch conversions / path length,
    # repeated channels counted, so "a > b > a" gives a 2/3 and b 1/3.
    paths = pd.DataFrame(
        {
            "path": ["a > b > a", "c", "b > c", " a>  c "],
            "total_conversions": [2, 1, 0, 1],
            "total_conversion_value": [30.0, 10.0, 0.0, 20.0],
            "total_null": [4, 2, 5, 0],
        }
    )
    expected = {
        "first_touch": {"a": (3, 50), "b": (0, 0), "c": (1, 10)},
        "last_touch": {"a": (2, 30), "b": (0, 0), "c": (2, 30)},
        "linear": {"a": (2 * 2 / 3 + 1 / 2, 30 * 2 / 3 + 20 / 2), "b": (2 / 3, 10), "c": (1.5, 20)},
    }
    for model, credits in expected.items():
        result = attribute_paths(paths, model).set_index("channel")
        assert sorted(result.index) == sorted(credits)
        for channel, (conversions, value) in credits.items():
            assert result.loc[channel].tolist() == pytest.approx([conversions, value])


def test_attribute_paths_column_names_and_no_times():
    paths = pd.DataFrame({"route": ["x|y"], "n": [4]})
    credits = attribute_paths(
        paths, "linear", path="route", conversions="n", value=None, nulls=None, sep="|"
    )
    assert credits["conversions"].tolist() == [2.0, 2.0]
    with pytest.raises(ValueError, match="days_before_conversion"):
        attribute_paths(
            paths, "time_decay", path="route", conversions="n", value=None, nulls=None, sep="|"
        )


HEURISTIC_THREE = ["first_touch", "linear", "position_based"]


def test_compare_models_wide_and_long():
    wide = compare_models(JOURNEYS, HEURISTIC_THREE, by="segment")
    assert list(wide.columns) == ["segment", "channel", *HEURISTIC_THREE]
    pairs = JOURNEYS[["segment", "channel"]].drop_duplicates()
    assert len(wide) == len(pairs)
    for model in HEURISTIC_THREE:
        credits = attribute(JOURNEYS, model, by="segment")
        assert wide[model].tolist() == pytest.approx(credits["conversions"].tolist())
    shares = compare_models(JOURNEYS, HEURISTIC_THREE, by="segment", value="share")
    assert shares.groupby("segment")[HEURISTIC_THREE].sum().to_numpy() == pytest.approx(1.0)
    long = compare_models_long(JOURNEYS, HEURISTIC_THREE, by="segment")
    assert list(long.columns) == ["segment", "model", "channel", "conversions", "revenue", "share"]
    assert len(long) == 3 * len(pairs)
    assert list(dict.fromkeys(long["model"])) == HEURISTIC_THREE
    pd.testing.assert_frame_equal(side_by_side(long, "share"), shares)
    with pytest.raises(ValueError, match="value: expected one of"):
        side_by_side(long, "roas")


def test_compare_models_fills_channels_a_model_does_not_list(monkeypatch):
    fake_module(monkeypatch, "segkit.markov_attribution", "markov_credits", [])
    wide = compare_models(JOURNEYS, ["markov", "first_touch"], value="revenue")
    assert wide.set_index("channel")["markov"].to_dict() == {
        "a": 4.0,
        "b": 3.0,
        "direct": 0.0,
        "email": 0.0,
        "search": 0.0,
        "social": 0.0,
    }


def test_compare_models_options_per_model():
    wide = compare_models(JOURNEYS, ["time_decay"], time_decay={"half_life_days": 1e-3})
    last = attribute(JOURNEYS, "last_touch")
    assert wide["time_decay"].tolist() == pytest.approx(last["conversions"].tolist(), abs=1e-6)
    with pytest.raises(TypeError, match="not among the models"):
        compare_models(JOURNEYS, ["linear"], markov={"order": 2})
    with pytest.raises(TypeError, match="must be a dict"):
        compare_models(JOURNEYS, ["time_decay"], time_decay=3)
    with pytest.raises(ValueError, match="value: expected one of"):
        compare_models(JOURNEYS, ["linear"], value="roas")
    with pytest.raises(ValueError, match="unknown"):
        compare_models(JOURNEYS, ["linear", "magic"])


def test_compare_models_default_runs_the_nine_models():
    wide = compare_models(JOURNEYS)
    assert list(wide.columns) == ["channel", *DEFAULT_MODELS]


def test_no_conversions_at_all_credits_zero_and_shares_are_undefined():
    journeys = JOURNEYS.assign(conversions=0.0, revenue=0.0)
    credits = attribute(journeys, "linear", by="segment")
    assert credits["conversions"].eq(0).all() and len(credits) == 8
    long = compare_models_long(journeys, ["linear"])
    assert long["share"].isna().all()


def test_single_channel_gets_everything():
    journeys = JOURNEYS.assign(channel="email")
    for model in ("first_touch", "last_non_direct", "w_shaped", "time_decay"):
        credits = attribute(journeys, model)
        assert credits["channel"].tolist() == ["email"]
        assert credits["conversions"].iloc[0] == pytest.approx(6.75)


def test_bad_input_is_a_clear_error():
    with pytest.raises(DataContractError, match="column 'steps'"):
        attribute(JOURNEYS.drop(columns="steps"), "linear")
    negative = JOURNEYS.copy()
    negative.loc[0, "conversions"] = -1.0
    with pytest.raises(ValueError, match="conversions ≥ 0"):
        attribute(negative, "first_touch")
    with pytest.raises(ValueError, match="'channel' and 'model' are result columns"):
        attribute(JOURNEYS, "linear", by="channel")


def test_truth_check_hand_computed():
    credits = pd.DataFrame(
        {
            "model": ["m1"] * 3 + ["m2"] * 3,
            "channel": ["a", "b", "c"] * 2,
            "conversions": [3.0, 2.0, 1.0, 1.0, 1.0, 4.0],
        }
    )
    truth = pd.DataFrame({"channel": ["a", "b", "c"], "incremental_conversions": [30, 20, 10]})
    check = attribution_truth_check(credits, truth)
    assert list(check.columns) == ["model", "channels", "spearman", "top_channels", "share_error"]
    assert check["model"].tolist() == ["m1", "m2"]
    assert check["spearman"].tolist() == pytest.approx([1.0, -0.8660254])
    assert check["top_channels"].tolist() == [3, 0]
    # m2 shares 1/6, 1/6, 4/6 against 3/6, 2/6, 1/6: ½ (2/6 + 1/6 + 3/6) = 1/2
    assert check["share_error"].tolist() == pytest.approx([0.0, 0.5])


def test_truth_check_single_model_groups_and_missing_channels():
    credits = pd.DataFrame(
        {
            "segment": ["X", "Y", "Y"],
            "channel": ["a", "a", "direct"],
            "conversions": [1.0, 1.0, 2.0],
        }
    )
    truth = pd.DataFrame({"channel": ["a", "b"], "incremental_effect": [0.1, 0.1]})
    check = attribution_truth_check(credits, truth, column="incremental_effect")
    assert list(check.columns) == ["channels", "spearman", "top_channels", "share_error"]
    # a: 2, b: 0, direct: 2 credited against effects 0.1, 0.1, 0; a (tied first with b)
    # is ranked first, then b should follow but direct does
    assert check.iloc[0].tolist() == pytest.approx([3, -0.5, 1, 0.5])
    with pytest.raises(DataContractError, match="incremental_conversions"):
        attribution_truth_check(credits, truth)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_data_driven_models_recover_the_planted_order_of_the_strongest_channels(seed):
    """On demo data, with navigational direct visits set aside (as notebook 03 does).

    The truth is the conversions the tracked journeys would lose without each
    channel. Rate-based Shapley, which compares journeys that converted with
    those that did not, ranks the three strongest channels (paid search,
    organic search, email) in the planted order; Markov and simplified
    Shapley, which credit a channel for being on converting paths, get the
    two strongest right. (At 2,000 customers rate-based Shapley's coalition
    rates are still noisy: 4,000 is the smallest size where it holds for these seeds.)
    """
    data = simulate(n_customers=4000, seed=seed, defects=False)
    steps = drop_direct(journeys(data.touchpoints, data.orders))
    truth = data.truth.channel_effects
    strongest = truth.sort_values("incremental_conversions", ascending=False)["channel"]
    assert strongest.head(3).tolist() == ["paid_search", "organic_search", "email"]
    rate = attribute(steps, "shapley", variant="rate").assign(model="shapley_rate")
    credits = pd.concat([rate, compare_models_long(steps, models=["markov", "shapley"])])
    check = attribution_truth_check(credits, truth).set_index("model")
    assert check.loc["shapley_rate", "top_channels"] >= 3
    assert check.loc["markov", "top_channels"] >= 2
    assert check.loc["shapley", "top_channels"] >= 2
    assert check.loc["shapley_rate", "spearman"] > 0.8


def test_direct_visits_mislead_data_driven_models_when_kept():
    """Why notebook 03 sets direct aside: kept, it tops Markov's credit though it adds nothing."""
    data = simulate(n_customers=2000, seed=1, defects=False)
    credits = attribute(journeys(data.touchpoints, data.orders), "markov").set_index("channel")
    assert data.truth.channel_effects.set_index("channel").loc["direct"].sum() == 0
    assert credits["conversions"].idxmax() == "direct"


#: Converting journeys that end in a direct visit, one made of direct alone: 7 conversions.
DIRECT_PATHS = pd.DataFrame(
    {
        "path": ["email > direct", "direct", "search > direct", "email", "search"],
        "total_conversions": [3.0, 1.0, 2.0, 0.0, 1.0],
        "total_conversion_value": [30.0, 5.0, 20.0, 0.0, 10.0],
        "total_null": [0.0, 2.0, 1.0, 4.0, 1.0],
    }
)


def test_compare_models_sets_direct_aside_per_model_as_attribute_does():
    steps = journeys_from_paths(DIRECT_PATHS)
    options = {
        "markov": {"direct_channels": ["direct"]},
        "shapley": {"direct_channels": "direct"},
        "shapley_ordered": {"direct_channels": ["direct", "search"]},
        "last_non_direct": {"direct_channels": ["direct"]},
    }
    models = ["markov", "shapley", "shapley_ordered", "last_non_direct", "linear"]
    long = compare_models_long(steps, models, **options)
    for model in models:
        alone = attribute(steps, model, **options.get(model, {}))
        got = long[long["model"] == model].drop(columns=["model", "share"])
        pd.testing.assert_frame_equal(got.reset_index(drop=True), alone)
    assert long.groupby("model")["conversions"].sum().tolist() == pytest.approx([7.0] * 5)


@pytest.mark.parametrize("model", ["markov", "shapley", "shapley_ordered"])
def test_data_driven_models_set_direct_aside_on_request(model):
    steps = journeys_from_paths(DIRECT_PATHS)
    aside = attribute(steps, model, direct_channels=["direct"])
    pd.testing.assert_frame_equal(aside, attribute(drop_direct(steps), model))
    assert aside["conversions"].sum() == pytest.approx(7.0)
    # direct keeps only the order of the journey made of direct alone
    assert aside.set_index("channel").loc["direct", "conversions"] < 1.0 + 1e-9
    kept = attribute(steps, model, direct_channels=None)
    pd.testing.assert_frame_equal(kept, attribute(steps, model))
