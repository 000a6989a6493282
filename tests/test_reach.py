"""channel_reach and touch_counts: counted in each engine, the same pandas tables back."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest

from segkit.journeys import UNSEGMENTED
from segkit.reach import UNKNOWN_INTERACTION, channel_reach, touch_counts
from segkit.simulation import simulate
from tests.conftest import ENGINES

#: Five touches: a is segmented, c is a prospect, one touch has no customer, one no channel.
TOUCHPOINTS = pd.DataFrame(
    {
        "customer_id": ["a", "a", "a", "c", None, "a"],
        "channel": ["email", "email", "direct", "email", "email", None],
        "interaction": ["click", "email_open", None, "click", "click", "visit"],
    }
)
SEGMENTS = pd.DataFrame({"customer_id": ["a", "b"], "segment": ["VIP", "Lost"]})


@pytest.fixture(scope="module")
def shop() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Simulated touchpoints, and segments for four fifths of the customers."""
    data = simulate(n_customers=300, seed=3)
    ids = data.customers["customer_id"].drop_duplicates()
    labels = np.resize(["Champions", "Loyal", "Lost"], len(ids))
    segments = pd.DataFrame({"customer_id": ids, "segment": labels}).iloc[: len(ids) * 4 // 5]
    return data.touchpoints, segments


def test_channel_reach_hand_checked():
    reach = channel_reach(TOUCHPOINTS, SEGMENTS)
    # The touch without a channel is left out; the one without a customer is Unsegmented
    # with c's, and counts as a touch but not as a customer.
    assert reach.values.tolist() == [
        [UNSEGMENTED, "email", 2, 1, 1.0],
        ["VIP", "direct", 1, 1, 1 / 3],
        ["VIP", "email", 2, 1, 2 / 3],
    ]
    assert reach.columns.tolist() == [
        "segment",
        "channel",
        "touches",
        "customers",
        "share_of_segment_touches",
    ]
    assert reach.dtypes.astype(str).tolist() == ["str", "str", "int64", "int64", "float64"]


def test_touch_counts_hand_checked():
    counts = touch_counts(TOUCHPOINTS)
    assert counts.index.tolist() == ["email", "direct"]
    assert counts.columns.tolist() == ["click", "email_open", UNKNOWN_INTERACTION, "total"]
    assert counts.values.tolist() == [[3, 1, 0, 4], [0, 0, 1, 1]]
    assert (counts.index.name, counts.columns.name) == ("channel", "interaction")


@pytest.mark.parametrize("engine", ENGINES)
def test_channel_reach_same_in_every_engine(engine, shop):
    touchpoints, segments = shop
    expected = channel_reach(touchpoints, segments)
    assert expected["touches"].sum() == len(touchpoints)
    assert set(expected["segment"]) == {"Champions", "Loyal", "Lost", UNSEGMENTED}
    make = ENGINES[engine]
    for labels in (make(segments), segments):  # pandas segments are moved to the engine
        result = channel_reach(make(touchpoints), labels)
        pd.testing.assert_frame_equal(result, expected, check_exact=True)


@pytest.mark.parametrize("engine", ENGINES)
def test_touch_counts_same_in_every_engine(engine, shop):
    touchpoints, _ = shop
    expected = touch_counts(touchpoints)
    assert expected["total"].sum() == len(touchpoints)
    assert expected["total"].is_monotonic_decreasing
    result = touch_counts(ENGINES[engine](touchpoints))
    pd.testing.assert_frame_equal(result, expected, check_exact=True)


def test_channel_reach_segments_of_another_engine_are_an_error():
    with pytest.raises(TypeError, match="segments: expected the same kind of frame"):
        channel_reach(TOUCHPOINTS, pl.from_pandas(SEGMENTS))
    with pytest.raises(TypeError, match="segments: expected the same kind of frame"):
        channel_reach(pl.from_pandas(TOUCHPOINTS).lazy(), ENGINES["duckdb"](SEGMENTS))


def test_channel_reach_numeric_labels_keep_their_type():
    """Cluster numbers are not mixed with the text "Unsegmented": a prospect's label is missing."""
    clusters = SEGMENTS.assign(segment=[1, 2])
    for engine in ("pandas", "polars_lazy"):
        reach = channel_reach(ENGINES[engine](TOUCHPOINTS), ENGINES[engine](clusters))
        assert reach["segment"].tolist()[:2] == [1, 1]
        assert np.isnan(reach["segment"].iloc[2])
        assert reach["share_of_segment_touches"].tolist() == [1 / 3, 2 / 3, 1.0]


@pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")
@pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")
def test_reach_on_spark(spark, shop):
    touchpoints, segments = shop
    frame = spark.createDataFrame(touchpoints)
    expected = channel_reach(touchpoints, segments)
    pd.testing.assert_frame_equal(channel_reach(frame, segments), expected, check_exact=True)
    pd.testing.assert_frame_equal(touch_counts(frame), touch_counts(touchpoints), check_exact=True)
