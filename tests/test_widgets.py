"""The segment explorer: moving a slider changes the segment sizes it shows."""

from __future__ import annotations

import pytest

import segkit as sk


@pytest.fixture(scope="module")
def view():
    data = sk.simulate(n_customers=600, seed=5, defects=False)
    return sk.customer_view(data.orders, data.customers, as_of="2026-01-01")


def test_sizes_follow_the_sliders(view):
    explorer = sk.SegmentExplorer(view, bins=5, new_days=90, churn_days=365)
    rfm_sizes, stages = explorer.sizes()
    assert rfm_sizes["customers"].sum() == len(view) == stages["customers"].sum()
    churned_before = stages.set_index("lifecycle_stage").loc["Churn", "customers"]

    explorer.churn_days.value = 180
    _, stages = explorer.sizes()
    churned_after = stages.set_index("lifecycle_stage").loc["Churn", "customers"]
    expected = int(
        ((view["orders"] > 0) & (view["recency_days"] > 180) & (view["tenure_days"] > 90)).sum()
    )
    assert churned_after == expected > churned_before


def test_fewer_bins_give_no_more_segments(view):
    explorer = sk.SegmentExplorer(view, bins=5)
    many = len(explorer.sizes()[0])
    explorer.bins.value = 2
    assert len(explorer.sizes()[0]) < many


def test_moving_a_slider_redraws_the_tables(view):
    explorer = sk.SegmentExplorer(view, new_days=90)
    new_before = explorer.shown[1].set_index("lifecycle_stage").loc["New", "customers"]
    explorer.new_days.value = 28
    new_after = explorer.shown[1].set_index("lifecycle_stage").loc["New", "customers"]
    assert new_after == int(((view["orders"] > 0) & (view["tenure_days"] <= 28)).sum())
    assert new_after < new_before
    assert explorer.widget.children[1] is explorer.output


@pytest.fixture(scope="module")
def shop():
    data = sk.simulate(n_customers=400, seed=9, defects=False)
    view = sk.customer_view(data.orders, data.customers, as_of="2026-01-01")
    segments = sk.segments_table(sk.rfm(view), primary="rfm_segment")
    return data, segments


def test_attribution_explorer_follows_model_and_segment(shop):
    data, segments = shop
    explorer = sk.AttributionExplorer(
        data.touchpoints, data.orders, segments, models=("last_touch", "linear"), lookback_days=30
    )
    journeys = sk.journeys(data.touchpoints, data.orders, lookback_days=30)
    expected = sk.attribute(journeys, "last_touch").set_index("channel")["conversions"]
    shown = explorer.shown.set_index("channel")["conversions"]
    assert shown.sort_index().tolist() == pytest.approx(expected.sort_index().tolist())

    explorer.model.value = "linear"
    assert explorer.shown["conversions"].sum() == pytest.approx(expected.sum())
    explorer.segment.value = "Champions"
    champions = sk.label_journeys(journeys, segments)
    champions = champions[champions["segment"] == "Champions"]
    assert explorer.shown["conversions"].sum() == pytest.approx(
        champions.drop_duplicates("journey_id")["conversions"].sum()
    )


def test_attribution_explorer_reuses_given_journeys_and_keeps_their_options(shop):
    data, segments = shop
    options = {"collapse_repeats": True, "interactions": ["click", "visit"]}
    built = sk.label_journeys(
        sk.journeys(data.touchpoints, data.orders, lookback_days=30, **options), segments
    )
    seed = built.assign(conversions=built["conversions"] * 2)  # marked: shown only if reused
    explorer = sk.AttributionExplorer(
        data.touchpoints,
        data.orders,
        segments,
        models=("linear",),
        journey_options=options,
        journeys=seed,
    )
    expected = sk.attribute(seed, "linear")["conversions"].sum()
    assert explorer.shown["conversions"].sum() == pytest.approx(expected)
    explorer.lookback.value = 14
    rebuilt = sk.journeys(data.touchpoints, data.orders, lookback_days=14, **options)
    assert explorer.shown["conversions"].sum() == pytest.approx(
        sk.attribute(rebuilt, "linear")["conversions"].sum()
    )
