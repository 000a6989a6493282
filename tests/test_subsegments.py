"""Sub-segment flags: the rules on hand-made views, edge cases, engines and the planted truth."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from segkit.customer_view import customer_view
from segkit.errors import DataContractError
from segkit.simulation import simulate
from segkit.subsegments import FLAGS, subsegment_rules, subsegments, truth_check
from tests.test_customer_view import ENGINES, NATIVE_TYPES, to_pandas

NAN = np.nan


def rule_view() -> pd.DataFrame:
    """One customer per rule and its boundary; repeat buyers' median gap is 30 days."""
    rows = [  # id, orders, revenue, recency, gap, discounted share, return rate, after praise
        ("abuser", 4, 200.0, 20.0, 40.0, 0.75, 0.5, 0),
        ("abuser_edge", 2, 80.0, 10.0, 20.0, 0.5, 0.25, 0),
        ("cherry", 5, 150.0, 10.0, 30.0, 0.8, 0.2, 0),
        ("cherry_once", 1, 30.0, 5.0, NAN, 1.0, 0.0, 0),
        ("charmed", 2, 90.0, 5.0, 10.0, 0.0, 0.0, 1),
        ("churn", 3, 60.0, 100.0, 30.0, 0.0, 0.0, 0),
        ("churn_edge", 3, 60.0, 90.0, 30.0, 0.0, 0.0, 0),
        ("one_time_gone", 1, 20.0, 91.0, NAN, 0.0, 0.0, 0),
        ("one_time_recent", 1, 20.0, 89.0, NAN, 0.0, 0.0, 0),
        ("prospect", 0, 0.0, NAN, NAN, NAN, NAN, 0),
    ]
    columns = [
        "customer_id",
        "orders",
        "revenue",
        "recency_days",
        "days_between_orders",
        "discounted_order_share",
        "return_rate",
        "orders_after_positive_feedback",
    ]
    return pd.DataFrame(rows, columns=columns)


def flagged(frame: pd.DataFrame, flag: str) -> list[str]:
    return frame.loc[frame[flag], "customer_id"].tolist()


def test_each_rule_on_its_boundary():
    flags = subsegments(rule_view(), vip_share=0.1)
    assert list(flags.columns) == [*rule_view().columns, *FLAGS]
    assert flagged(flags, "discount_abuser") == ["abuser", "abuser_edge"]
    assert flagged(flags, "cherry_picker") == ["cherry"]  # one order is not a habit
    assert flagged(flags, "charmed") == ["charmed"]
    # 100 > 3 x 30 but 90 is not; one-time buyers are measured against the median gap 30
    assert flagged(flags, "churn_risk") == ["churn", "one_time_gone"]
    assert flagged(flags, "vip") == ["abuser"]  # revenue 200 > the 90% cut 160, 4 orders


def test_thresholds_are_parameters():
    flags = subsegments(
        rule_view(),
        vip_share=0.3,
        vip_min_orders=5,
        abuser_return_rate=0.3,
        cherry_discounted_share=0.75,
        charm_min_orders=2,
        churn_risk_factor=2.5,
        min_orders=1,
    )
    assert flagged(flags, "vip") == ["cherry"]  # 200, 150, 90 above the cut 86; 5 orders needed
    assert flagged(flags, "discount_abuser") == ["abuser"]
    assert flagged(flags, "cherry_picker") == ["cherry", "cherry_once"]
    assert flagged(flags, "charmed") == []
    assert flagged(flags, "churn_risk") == [
        "churn",
        "churn_edge",
        "one_time_gone",
        "one_time_recent",
    ]


def test_vip_needs_value_and_frequency():
    view = pd.DataFrame(
        {
            "customer_id": [f"b{k:02d}" for k in range(1, 21)],
            "orders": [3] * 19 + [2],
            "revenue": [float(k) for k in range(1, 21)],
            "recency_days": 1.0,
            "days_between_orders": 10.0,
            "discounted_order_share": 0.0,
            "return_rate": 0.0,
            "orders_after_positive_feedback": 0,
        }
    )
    # the 90% quantile of 1..20 is 18.1: revenue 19 and 20 qualify, 20 has two orders only
    assert flagged(subsegments(view, vip_share=0.1), "vip") == ["b19"]
    assert flagged(subsegments(view, vip_share=0.1, vip_min_orders=2), "vip") == ["b19", "b20"]


def test_identical_customers_flag_no_vip_and_say_so():
    view = rule_view().iloc[[0] * 10].assign(customer_id=[f"same{k}" for k in range(10)])
    with pytest.warns(UserWarning, match="no VIP flagged"):
        flags = subsegments(view)
    assert not flags["vip"].any()
    assert flags["discount_abuser"].all()  # the other rules do not depend on ranks


def test_a_single_buyer_cannot_be_ranked_so_is_no_vip():
    view = rule_view().iloc[[0]]
    with pytest.warns(UserWarning, match="no VIP"):
        flags = subsegments(view)
    assert flags[list(FLAGS)].values.tolist() == [[False, True, False, False, False]]


def test_missing_inputs_give_false_never_null():
    orders = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b"],
            "order_ts": pd.to_datetime(["2025-01-01", "2025-03-01", "2025-02-01"]).astype(
                "datetime64[us]"
            ),
            "revenue": [10.0, 20.0, 5.0],
        }
    )
    flags = subsegments(customer_view(orders))  # no discounts, returns or feedback
    assert flags[["discount_abuser", "cherry_picker", "charmed"]].eq(False).all().all()
    assert flags[list(FLAGS)].dtypes.map(lambda dtype: dtype.kind == "b").all()


@pytest.mark.parametrize("engine", ENGINES)
def test_an_empty_view_gets_the_flag_columns(engine):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no buyers: nothing to rank, nothing to warn about
        flags = to_pandas(subsegments(ENGINES[engine](rule_view().iloc[:0])))
    assert list(flags.columns) == [*rule_view().columns, *FLAGS]
    assert len(flags) == 0


def test_a_view_without_the_subsegment_inputs_is_rejected():
    with pytest.raises(DataContractError, match="orders_after_positive_feedback"):
        subsegments(rule_view().drop(columns="orders_after_positive_feedback"))


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        ("vip_share", 0.0, ValueError),
        ("vip_share", 1.0, ValueError),
        ("abuser_return_rate", 1.5, ValueError),
        ("min_orders", 0, ValueError),
        ("churn_risk_factor", "3", TypeError),
        ("charm_min_orders", float("nan"), TypeError),
    ],
)
def test_parameters_out_of_range_are_rejected(name, value, error):
    with pytest.raises(error, match=name):
        subsegments(rule_view(), **{name: value})
    with pytest.raises(error, match=name):
        subsegment_rules(**{name: value})


def test_rules_in_words_follow_the_parameters():
    rules = subsegment_rules(vip_share=0.1, min_orders=3).set_index("flag")["rule"]
    assert rules.index.tolist() == list(FLAGS)
    assert rules["vip"] == "top 10% of buyers by revenue with at least 3 orders"
    assert rules["cherry_picker"].startswith("at least 3 orders, at least 80% of them discounted")
    assert "3 times" in subsegment_rules()["rule"].iloc[4]
    with pytest.raises(TypeError, match="unknown"):
        subsegment_rules(vip_shares=0.1)


def test_truth_check_counts_by_hand():
    flags = rule_view().assign(
        vip=False,
        discount_abuser=[True, True] + [False] * 8,
        cherry_picker=False,
        charmed=False,
        churn_risk=[False] * 5 + [True, False, True, False, False],
    )
    truth = pd.DataFrame(
        {
            "customer_id": flags["customer_id"],
            "vip": False,
            "discount_abuser": [True] + [False] * 8 + [True],
            "cherry_picker": [False, False, True] + [False] * 7,
            "churned": [False] * 5 + [True, True, False, False, True],
            "charmed": False,
        }
    )
    scores = truth_check(flags, truth).set_index("flag")
    abuser = scores.loc["discount_abuser"]
    assert abuser[["customers", "flagged", "planted", "true_positives"]].tolist() == [9, 2, 1, 1]
    assert abuser[["precision", "recall", "base_rate"]].tolist() == pytest.approx([0.5, 1, 1 / 9])
    assert abuser["lift"] == pytest.approx(4.5)
    churn = truth_check(flags, truth, among="all").set_index("flag").loc["churn_risk"]
    assert churn[["customers", "flagged", "planted", "true_positives"]].tolist() == [10, 2, 3, 1]
    assert churn["recall"] == pytest.approx(1 / 3)
    assert np.isnan(scores.loc["vip", "precision"])  # nothing flagged, nothing planted


@pytest.fixture(scope="module")
def demo_view() -> pd.DataFrame:
    data = simulate(n_customers=600, seed=8, defects=False)
    return customer_view(data.orders, data.customers, data.feedback)


@pytest.mark.parametrize("engine", ENGINES)
def test_engines_agree(demo_view, engine):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the demo has no ties at the VIP cut
        result = subsegments(ENGINES[engine](demo_view), vip_share=0.1)
    assert isinstance(result, NATIVE_TYPES[engine])
    expected = subsegments(demo_view, vip_share=0.1)
    assert expected[list(FLAGS)].sum().min() > 0
    pd.testing.assert_frame_equal(to_pandas(result), to_pandas(expected), check_dtype=False)


@pytest.fixture(scope="module", params=[1, 2, 3])
def planted(request) -> tuple[pd.DataFrame, pd.DataFrame]:
    data = simulate(n_customers=3000, seed=request.param, defects=False)
    return customer_view(data.orders, data.customers, data.feedback), data.truth.customers


def test_default_flags_find_the_planted_behaviour(planted):
    """Among buyers. Recall is capped for two flags by construction: VIPs are ~7% of buyers,
    more than the top 5% flagged; a third of cherry-picking buyers ordered once (< min_orders).
    churn_risk is scored against ``churned`` (base rate ~20%): quiet low-frequency customers
    look like churners, so its precision stays near 45%."""
    scores = truth_check(subsegments(*planted[:1]), planted[1]).set_index("flag")
    least_lift = {"churn_risk": 1.8}
    least_recall = {"vip": 0.3, "cherry_picker": 0.35}
    for flag, row in scores.iterrows():
        assert row["lift"] >= least_lift.get(flag, 3.0), (flag, row.to_dict())
        assert row["recall"] >= least_recall.get(flag, 0.5), (flag, row.to_dict())
        assert row["precision"] >= 3 * row["base_rate"] or flag == "churn_risk"


def test_looser_parameters_trade_precision_for_recall(planted):
    """Top 10% catches about half the VIPs (0.49-0.59 over seeds 1-10), one order suffices
    for cherry pickers (recall 0.67-0.85); precision stays well above chance."""
    view, truth = planted
    wider = truth_check(subsegments(view, vip_share=0.1, min_orders=1), truth).set_index("flag")
    assert wider.loc["vip", "recall"] >= 0.45, wider.loc["vip"].to_dict()
    assert wider.loc["cherry_picker", "recall"] >= 0.6, wider.loc["cherry_picker"].to_dict()
    assert (wider["lift"] >= 3.0).drop("churn_risk").all(), wider.to_dict()
