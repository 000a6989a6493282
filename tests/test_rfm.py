"""RFM scores and segments: hand-computed cut points, ties, skew, thresholds, segment tables."""

from __future__ import annotations

import math

import duckdb
import narwhals as nw
import numpy as np
import pandas as pd
import polars as pl
import pytest

from segkit.errors import DataContractError, ParameterError
from segkit.rfm import RFM, RFM_SEGMENTS, rfm, rfm_segment_table

OUTPUT = ["customer_id", "r_score", "f_score", "m_score", "rfm_score", "rfm_segment"]
THRESHOLDS = {
    "recency": [30, 90, 180, 365],
    "frequency": [1, 2, 4, 8],
    "monetary": [50, 100, 250, 600],
}


def view(recency, orders, revenue, ids=None) -> pd.DataFrame:
    """A minimal customer view; prospects are rows with orders 0 and recency None."""
    ids = ids or [f"c{i:02d}" for i in range(len(orders))]
    return pd.DataFrame(
        {
            "customer_id": ids,
            "recency_days": pd.Series(recency, dtype="float64"),
            "orders": pd.Series(orders, dtype="int64"),
            "revenue": pd.Series(revenue, dtype="float64"),
            "country": "DE",
        }
    )


def engines(frame: pd.DataFrame) -> dict[str, object]:
    df = frame
    return {
        "pandas": df,
        "polars": pl.from_pandas(df),
        "polars_lazy": pl.from_pandas(df).lazy(),
        "duckdb": duckdb.sql("select * from df"),
    }


def rows(result, columns=OUTPUT) -> list[tuple]:
    """The result's ``columns`` as plain tuples, missing values as None, whatever the engine."""
    frame = nw.from_native(result)
    if isinstance(frame, nw.LazyFrame):
        frame = frame.collect()
    return [
        tuple(None if pd.isna(value) else value for value in row)
        for row in frame.select(columns).rows()
    ]


@pytest.fixture
def five() -> pd.DataFrame:
    """Five buyers with distinct values and one prospect (see test_hand_computed_scores)."""
    return view(
        [5, 10, 20, 40, 80, None],
        [6, 3, 2, 1, 1, 0],
        [50, 40, 30, 20, 10, 0],
        ids=["a", "b", "c", "d", "e", "p"],
    )


def test_hand_computed_scores_and_segments(five):
    # recency quantiles of 5,10,20,40,80 at .2/.4/.6/.8: 9, 16, 28, 48
    # orders 1,1,2,3,6: 1, 1.6, 2.4, 3.6; revenue 10..50: 18, 26, 34, 42
    scored = rfm(five)
    assert rows(scored) == [
        ("a", 5, 5, 5, "555", "Champions"),
        ("b", 4, 4, 4, "444", "Loyal"),
        ("c", 3, 3, 3, "333", "Need Attention"),
        ("d", 2, 1, 2, "212", "Hibernating"),
        ("e", 1, 1, 1, "111", "Lost"),
        ("p", None, None, None, None, "Prospect"),
    ]
    assert str(scored["r_score"].dtype) == "Int64"


def test_cut_points_are_readable_and_exact(five):
    cuts = RFM().fit(five).cut_points_
    assert list(cuts.columns) == ["metric", "score", "lower", "upper"]
    recency = cuts[cuts["metric"] == "recency"]
    assert recency["score"].tolist() == [5, 4, 3, 2, 1]
    assert recency["lower"].tolist() == [-math.inf, 9, 16, 28, 48]
    assert recency["upper"].tolist() == [9, 16, 28, 48, math.inf]
    frequency = cuts[cuts["metric"] == "frequency"]
    assert frequency["upper"].tolist() == pytest.approx([1, 1.6, 2.4, 3.6, math.inf])
    assert cuts[cuts["metric"] == "monetary"]["upper"].tolist()[:4] == pytest.approx(
        [18, 26, 34, 42]
    )


def test_prospects_do_not_move_the_cut_points(five):
    buyers_only = five[five["customer_id"] != "p"]
    pd.testing.assert_frame_equal(RFM().fit(five).cut_points_, RFM().fit(buyers_only).cut_points_)


def test_orders_without_recency_are_prospects():
    frame = view([3, None, 50], [2, 4, 1], [30, 90, 10], ids=["a", "b", "c"])
    scored = rfm(frame, bins=3)
    assert rows(scored)[1] == ("b", None, None, None, None, "Prospect")


def test_ties_share_a_score_and_spread_over_all_bins():
    # orders 1,1,1,1,5: quantiles 1, 1, 1, 1.8 -> cuts [1, 1.8], 3 classes -> scores 1, 3, 5
    frame = view([10, 20, 30, 40, 50], [1, 1, 1, 1, 5], [10, 10, 10, 30, 30])
    scored = rfm(frame)
    assert scored["f_score"].tolist() == [1, 1, 1, 1, 5]
    # revenue 10,10,10,30,30: quantiles 10, 10, 18, 30 (= maximum, dropped) -> 3 classes
    assert scored["m_score"].tolist() == [1, 1, 1, 5, 5]


def skewed_view() -> pd.DataFrame:
    """20 buyers, 65% of them bought once, as in a transactions-only dataset."""
    orders = [1] * 13 + [2] * 4 + [3] * 2 + [10]
    recency = [float(5 * i + 1) for i in range(20)]
    revenue = [float(10 + 7 * i) for i in range(20)]
    return view(recency, orders, revenue)


@pytest.mark.parametrize(
    ("bins", "repeat_scores"), [(5, {2: 3, 3: 5, 10: 5}), (3, {2: 3, 3: 3, 10: 3})]
)
def test_skewed_frequency_separates_one_time_from_repeat_buyers(bins, repeat_scores):
    scored = rfm(skewed_view(), bins=bins)
    one_time = scored.loc[scored["orders"] == 1, "f_score"]
    repeat = scored.loc[scored["orders"] > 1, "f_score"]
    assert set(one_time) == {1}
    assert repeat.min() > one_time.max()
    assert scored["f_score"].max() == bins
    for orders, score in repeat_scores.items():
        assert set(scored.loc[scored["orders"] == orders, "f_score"]) == {score}


def test_equal_values_never_split_by_row_order():
    rng = np.random.default_rng(7)
    frame = view(
        rng.choice([1.0, 7.0, 30.0], 60).tolist(),
        rng.choice([1, 2, 3], 60, p=[0.7, 0.2, 0.1]).tolist(),
        rng.choice([10.0, 20.0, 20.0, 99.0], 60).tolist(),
    )
    scored = rfm(frame)
    for column, score in [
        ("recency_days", "r_score"),
        ("orders", "f_score"),
        ("revenue", "m_score"),
    ]:
        assert (scored.groupby(column)[score].nunique() == 1).all(), column


def test_explicit_thresholds_put_boundary_values_in_the_lower_class():
    frame = view([30, 31, 400], [1, 2, 9], [50, 600, 601], ids=["a", "b", "c"])
    scored = rfm(frame, method="thresholds", thresholds=THRESHOLDS)
    assert rows(scored, ["customer_id", "rfm_score"]) == [("a", "511"), ("b", "424"), ("c", "155")]
    cuts = RFM(method="thresholds", thresholds=THRESHOLDS).fit(frame).cut_points_
    monetary = cuts[cuts["metric"] == "monetary"]
    assert monetary["score"].tolist() == [1, 2, 3, 4, 5]
    assert monetary["upper"].tolist() == [50, 100, 250, 600, math.inf]


@pytest.mark.parametrize(
    ("thresholds", "message"),
    [
        ({**THRESHOLDS, "recency": [30, 90, 180]}, r"thresholds\['recency'\] must be 4 numbers"),
        ({**THRESHOLDS, "monetary": [50, 40, 250, 600]}, "strictly increasing"),
        ({**THRESHOLDS, "frequency": [1, 2, 2, 8]}, "strictly increasing"),
        ({**THRESHOLDS, "frequency": [1, 2, "4", 8]}, "must be 4 numbers"),
        ({"recency": [1, 2, 3, 4], "frequency": [1, 2, 3, 4]}, "cut points for"),
        ({**THRESHOLDS, "tenure": [1, 2, 3, 4]}, "tenure"),
        ([30, 90, 180, 365], "cut points for"),
    ],
)
def test_bad_thresholds_are_named(five, thresholds, message):
    with pytest.raises(ParameterError, match=message):
        rfm(five, method="thresholds", thresholds=thresholds)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"bins": 1}, "bins must be a whole number from 2 to 9, got 1"),
        ({"bins": 10}, "got 10"),
        ({"bins": 2.5}, "got 2.5"),
        ({"bins": True}, "got True"),
        ({"method": "kmeans"}, "method must be one of"),
        ({"method": "thresholds"}, "needs thresholds"),
        ({"thresholds": THRESHOLDS}, 'only used with method="thresholds"'),
    ],
)
def test_bad_parameters(five, params, message):
    with pytest.raises(ParameterError, match=message):
        RFM(**params).fit(five)


def test_hyperparameters_stored_as_given_and_fit_returns_self(five):
    segments = [{"segment": "Everyone"}]
    model = RFM(bins=3, segments=segments)
    assert (model.bins, model.method, model.thresholds, model.segments) == (
        3,
        "quantile",
        None,
        segments,
    )
    assert model.segments is segments
    assert not hasattr(model, "cut_points_")
    assert model.fit(five) is model
    assert repr(model) == "RFM(bins=3, method='quantile', segments=...)"


def test_transform_before_fit_raises(five):
    with pytest.raises(RuntimeError, match="not fitted"):
        RFM().transform(five)


def test_transform_scores_new_customers_with_the_fitted_cut_points(five):
    model = RFM().fit(five)
    newcomers = view([1, 1000], [50, 1], [1e6, 0.5], ids=["x", "y"])
    assert rows(model.transform(newcomers)) == [
        ("x", 5, 5, 5, "555", "Champions"),
        ("y", 1, 1, 1, "111", "Lost"),
    ]


@pytest.mark.parametrize("engine", ["pandas", "polars", "polars_lazy", "duckdb"])
def test_engines_give_identical_scores(engine):
    rng = np.random.default_rng(3)
    n = 40
    orders = rng.choice([0, 1, 1, 1, 2, 3, 7], n)
    frame = view(
        np.where(orders == 0, np.nan, rng.integers(1, 400, n)).tolist(),
        orders.tolist(),
        np.where(orders == 0, 0, rng.integers(1, 60, n) * 5.0).tolist(),
    )
    native = engines(frame)[engine]
    result = rfm(native)
    assert type(result) is type(native)
    expected = rows(rfm(frame))
    assert rows(result) == expected
    assert len({row[4] for row in expected}) > 5


def test_result_is_sorted_by_customer_id_and_input_untouched(five):
    shuffled = five.sample(frac=1, random_state=1)
    before = shuffled.copy()
    scored = rfm(shuffled)
    assert scored["customer_id"].tolist() == ["a", "b", "c", "d", "e", "p"]
    pd.testing.assert_frame_equal(shuffled, before)
    assert list(scored.columns[: len(five.columns)]) == list(five.columns)


def test_single_customer_and_identical_customers_get_the_middle_score():
    single = rfm(view([12], [2], [80.0]))
    assert rows(single) == [("c00", 3, 3, 3, "333", "Need Attention")]
    alike = rfm(view([12] * 4, [2] * 4, [80.0] * 4), bins=4)
    assert {row[1:] for row in rows(alike)} == {(2, 2, 2, "222", "Hibernating")}


def test_no_customer_with_orders_cannot_be_fitted(five):
    empty = five.iloc[0:0]
    with pytest.raises(DataContractError, match="at least one customer with orders"):
        rfm(empty)
    with pytest.raises(DataContractError, match="at least one customer with orders"):
        rfm(five[five["orders"] == 0])


def test_transform_of_an_empty_view_is_empty_with_the_score_columns(five):
    result = RFM().fit(five).transform(five.iloc[0:0])
    assert len(result) == 0
    assert list(result.columns) == [*five.columns, *OUTPUT[1:]]


@pytest.mark.parametrize("engine", ["pandas", "polars", "duckdb"])
def test_missing_revenue_is_named_with_count_and_customers(five, engine):
    five.loc[five["customer_id"].isin(["b", "d"]), "revenue"] = np.nan
    native = engines(five)[engine]
    with pytest.raises(DataContractError, match="column 'revenue'") as caught:
        rfm(native)
    assert "2 missing (null or NaN), e.g. customer_id b, d" in str(caught.value)


def test_nan_revenue_is_caught_in_polars_where_nan_is_not_null(five):
    frame = pl.from_pandas(five).with_columns(
        pl.when(pl.col("customer_id") == "c")
        .then(float("nan"))
        .otherwise(pl.col("revenue"))
        .alias("revenue")
    )
    with pytest.raises(DataContractError, match="1 missing"):
        rfm(frame)


def test_missing_and_non_numeric_columns(five):
    with pytest.raises(DataContractError, match="column 'orders'"):
        rfm(five.drop(columns="orders"))
    with pytest.raises(DataContractError, match="column 'revenue': expected a numeric column"):
        rfm(five.assign(revenue=five["revenue"].astype(str)))


@pytest.mark.parametrize(
    ("rfm_score", "segment"),
    [
        ("555", "Champions"),
        ("544", "Champions"),
        ("543", "Champions"),  # fm 3.5 rounds half up to 4
        ("455", "Loyal"),
        ("533", "Potential Loyalist"),
        ("511", "New"),
        ("411", "Promising"),
        ("333", "Need Attention"),
        ("322", "About to Sleep"),
        ("115", "At Risk"),
        ("255", "Can't Lose Them"),
        ("211", "Hibernating"),
        ("112", "Lost"),
    ],
)
def test_default_segment_table_bins5(rfm_score, segment):
    table = rfm_segment_table()
    assert table.loc[table["rfm_score"] == rfm_score, "rfm_segment"].item() == segment


@pytest.mark.parametrize(
    ("rfm_score", "segment"),
    [
        ("333", "Champions"),
        ("311", "New"),
        ("322", "Potential Loyalist"),
        ("233", "Loyal"),
        ("211", "About to Sleep"),
        ("123", "At Risk"),
        ("133", "Can't Lose Them"),
        ("111", "Lost"),
    ],
)
def test_default_segment_table_bins3_rescales_to_the_1_to_5_grid(rfm_score, segment):
    table = rfm_segment_table(bins=3)
    assert table.loc[table["rfm_score"] == rfm_score, "rfm_segment"].item() == segment


@pytest.mark.parametrize("bins", range(2, 10))
def test_default_segment_table_is_complete_for_every_bins(bins):
    table = rfm_segment_table(bins=bins)
    assert len(table) == bins**3
    assert table["rfm_score"].is_unique
    assert table["rfm_segment"].notna().all()
    assert set(table["rfm_segment"]) <= {rule["segment"] for rule in RFM_SEGMENTS}
    assert {"Champions", "Lost", "Can't Lose Them", "New"} <= set(table["rfm_segment"])


def test_default_grid_has_the_eleven_classic_segments():
    table = rfm_segment_table(bins=5)
    assert table["rfm_segment"].nunique() == 11
    assert table.groupby("rfm_segment").size()["Champions"] == 10  # r=5 with fm 4 or 5


def test_segment_table_with_a_gap_lists_combinations():
    without_lost = [rule for rule in RFM_SEGMENTS if rule["segment"] != "Lost"]
    with pytest.raises(ParameterError, match="6 match no segment, e.g. 111") as caught:
        rfm_segment_table(without_lost, bins=5)
    assert "(r=1, f=1, m=1, fm=1)" in str(caught.value)


def test_segment_table_with_an_overlap_lists_combinations_and_names():
    overlapping = [*RFM_SEGMENTS, {"segment": "VIP", "r": [5, 5], "fm": [5, 5]}]
    with pytest.raises(ParameterError, match="match several segments") as caught:
        rfm_segment_table(overlapping, bins=3)
    assert "333 (r=5, f=5, m=5, fm=5): Champions, VIP" in str(caught.value)


def test_bad_segment_table_is_checked_when_fitting(five):
    with pytest.raises(ParameterError, match="match no segment"):
        RFM(segments=[{"segment": "Recent", "r": [4, 5]}]).fit(five)


@pytest.mark.parametrize(
    ("segments", "message"),
    [
        ([{"segment": "A", "recency": [1, 5]}], r"unknown keys \['recency'\]"),
        ([{"segment": "A", "r": [5, 1]}], r"segments\[0\] \(A\): r must be \[low, high\]"),
        ([{"segment": "A", "r": "1-5"}], "r must be"),
        ([{"segment": "A", "r": [1, 2, 3]}], "r must be"),
        ([{"r": [1, 5]}], "'segment' name"),
        ([], "non-empty list"),
        ({"segment": "A"}, "non-empty list"),
    ],
)
def test_malformed_segment_rules(segments, message):
    with pytest.raises(ParameterError, match=message):
        rfm_segment_table(segments)


def test_custom_segment_table_as_list_or_dataframe(five):
    rules = [
        {"segment": "Active", "r": [4, 5]},
        {"segment": "Fading", "r": 3},
        {"segment": "Gone", "r": [1, 2], "f": [1, 5], "m": None},
    ]
    expected = ["Active", "Active", "Fading", "Gone", "Gone", "Prospect"]
    assert rfm(five, segments=rules)["rfm_segment"].tolist() == expected
    as_frame = pd.DataFrame(rules)
    assert rfm(five, segments=as_frame)["rfm_segment"].tolist() == expected


def test_rules_on_f_and_m_separately():
    rules = [
        {"segment": "One-time", "f": [1, 1]},
        {"segment": "Repeat big", "f": [2, 5], "m": [4, 5]},
        {"segment": "Repeat small", "f": [2, 5], "m": [1, 3]},
    ]
    table = rfm_segment_table(rules, bins=5)
    assert table.groupby("rfm_segment").size().to_dict() == {
        "One-time": 25,
        "Repeat big": 40,
        "Repeat small": 60,
    }
