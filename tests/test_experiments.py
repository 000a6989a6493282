"""A/B tests: a hand-computed example, the correction, engines, bad input, planted lifts."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower

from segkit.errors import DataContractError, ParameterError
from segkit.experiments import RESULT_COLUMNS, ab_brief, ab_test
from segkit.simulation import simulate
from tests.conftest import ENGINES

START = pd.Timestamp("2024-03-01 09:00")


def assignments(sizes: dict[tuple[str, str], int], start: pd.Timestamp = START) -> pd.DataFrame:
    """``sizes[(experiment, variant)]`` customers each, ids ``<experiment>-<variant>-<i>``."""
    rows = [
        (f"{experiment}-{variant}-{i}", experiment, variant, start)
        for (experiment, variant), size in sizes.items()
        for i in range(size)
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "experiment", "variant", "assigned_ts"])
    return frame.astype({"assigned_ts": "datetime64[us]"})


def orders_for(customers: list[str], revenue: list[float], offset: pd.Timedelta | None = None):
    """One order per customer, ``offset`` (default three days) after START."""
    offset = pd.Timedelta(days=3) if offset is None else offset
    return pd.DataFrame(
        {
            "order_id": [f"o-{c}-{offset}" for c in customers],
            "customer_id": customers,
            "order_ts": START + offset,
            "revenue": revenue,
        }
    ).astype({"order_ts": "datetime64[us]"})


def hand_example() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Control: 100 customers, 10 convert; treatment: 120, 30 convert.

    Orders that must not count sit around them: before assignment, exactly at the
    end of the window, after it; a second order in the window counts once.
    """
    assigned = assignments({("banner", "control"): 100, ("banner", "treatment"): 120})
    control = [f"banner-control-{i}" for i in range(10)]
    treatment = [f"banner-treatment-{i}" for i in range(30)]
    ignored = [f"banner-control-{i}" for i in range(10, 40)]
    orders = pd.concat(
        [
            orders_for(control, [20.0] * 10, offset=pd.Timedelta(0)),  # at assignment: counts
            orders_for(treatment, [float(10 + i) for i in range(30)]),
            orders_for(treatment[:5], [5.0] * 5, offset=pd.Timedelta(days=29, hours=23)),
            orders_for(ignored, [99.0] * 30, offset=pd.Timedelta(seconds=-1)),
            orders_for(ignored, [99.0] * 30, offset=pd.Timedelta(days=30)),
            orders_for(ignored, [99.0] * 30, offset=pd.Timedelta(days=45)),
        ],
        ignore_index=True,
    )
    return assigned, orders


def window_revenue(assigned: pd.DataFrame, orders: pd.DataFrame, variant: str) -> np.ndarray:
    """Revenue per assigned customer of ``variant`` in [assigned_ts, assigned_ts + 30 days)."""
    customers = assigned.loc[assigned["variant"] == variant, "customer_id"]
    inside = orders[
        (orders["order_ts"] >= START) & (orders["order_ts"] < START + pd.Timedelta(30, "D"))
    ]
    totals = inside.groupby("customer_id")["revenue"].sum()
    return totals.reindex(customers, fill_value=0.0).to_numpy()


def wilson(count: int, n: int, z: float) -> tuple[float, float]:
    p = count / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    return centre - half, centre + half


def test_hand_example_matches_direct_computations():
    assigned, orders = hand_example()
    row = ab_test(assigned, orders, by=None).iloc[0]
    assert (row["experiment"], row["variant"]) == ("banner", "treatment")
    assert (row["n_control"], row["n_treatment"]) == (100, 120)
    assert (row["conversions_control"], row["conversions_treatment"]) == (10, 30)
    assert row["conversion_rate_control"] == pytest.approx(0.10)
    assert row["conversion_rate_treatment"] == pytest.approx(0.25)
    assert row["absolute_lift"] == pytest.approx(0.15)
    assert row["relative_lift"] == pytest.approx(1.5)

    # p-value: the pooled z-test is the chi-square test of the 2x2 table without Yates
    table = [[30, 90], [10, 90]]
    chi2 = stats.chi2_contingency(table, correction=False)
    assert row["p_value"] == pytest.approx(chi2.pvalue, rel=1e-9)
    pooled = 40 / 220
    z = 0.15 / math.sqrt(pooled * (1 - pooled) * (1 / 120 + 1 / 100))
    assert row["p_value"] == pytest.approx(2 * stats.norm.sf(z), rel=1e-9)

    # Newcombe's interval from the two Wilson intervals
    z95 = stats.norm.ppf(0.975)
    (l1, u1), (l2, u2) = wilson(30, 120, z95), wilson(10, 100, z95)
    assert row["absolute_lift_ci_low"] == pytest.approx(0.15 - math.hypot(0.25 - l1, u2 - 0.10))
    assert row["absolute_lift_ci_high"] == pytest.approx(0.15 + math.hypot(u1 - 0.25, 0.10 - l2))

    # Katz log interval of the rate ratio
    spread = z95 * math.sqrt(1 / 30 - 1 / 120 + 1 / 10 - 1 / 100)
    assert row["relative_lift_ci_low"] == pytest.approx(2.5 * math.exp(-spread) - 1)
    assert row["relative_lift_ci_high"] == pytest.approx(2.5 * math.exp(spread) - 1)

    # Welch on revenue per assigned customer, zeros for those who did not buy
    treated, untreated = (window_revenue(assigned, orders, v) for v in ("treatment", "control"))
    assert row["revenue_per_customer_control"] == pytest.approx(2.0)
    assert row["revenue_per_customer_treatment"] == pytest.approx((sum(range(10, 40)) + 25) / 120)
    welch = stats.ttest_ind(treated, untreated, equal_var=False)
    interval = welch.confidence_interval(0.95)
    assert row["revenue_difference"] == pytest.approx(treated.mean() - untreated.mean())
    assert row["revenue_p_value"] == pytest.approx(welch.pvalue, rel=1e-9)
    assert row["revenue_difference_ci_low"] == pytest.approx(interval.low)
    assert row["revenue_difference_ci_high"] == pytest.approx(interval.high)

    # 80% power at the minimum detectable lift
    h = 2 * math.asin(math.sqrt(0.10 + row["minimum_detectable_lift"])) - 2 * math.asin(
        math.sqrt(0.10)
    )
    assert NormalIndPower().power(h, nobs1=120, alpha=0.05, ratio=100 / 120) == pytest.approx(0.8)
    assert row["absolute_lift"] > row["minimum_detectable_lift"]
    assert row["p_adjusted"] == row["p_value"]  # one comparison: nothing to correct
    assert bool(row["significant"])
    assert row["warning"] == ""


def test_result_columns_and_dtypes():
    assigned, orders = hand_example()
    result = ab_test(assigned, orders, by=None)
    assert result.columns.tolist() == ["experiment", *RESULT_COLUMNS]
    assert result["n_control"].dtype == "int64"
    assert result["significant"].dtype == bool


def test_alpha_sets_the_interval_level_and_the_significance():
    assigned, orders = hand_example()
    wide = ab_test(assigned, orders, by=None, alpha=0.001).iloc[0]
    usual = ab_test(assigned, orders, by=None).iloc[0]
    assert wide["absolute_lift_ci_low"] < usual["absolute_lift_ci_low"]
    assert wide["revenue_difference_ci_high"] > usual["revenue_difference_ci_high"]
    assert wide["minimum_detectable_lift"] > usual["minimum_detectable_lift"]
    assert wide["p_value"] == usual["p_value"]
    assert wide["significant"] == (usual["p_value"] < 0.001)


def test_the_window_length_is_a_parameter():
    assigned, orders = hand_example()
    longer = ab_test(assigned, orders, by=None, window_days=31).iloc[0]
    assert longer["conversions_control"] == 40  # the orders exactly 30 days later count now
    shorter = ab_test(assigned, orders, by=None, window_days=1).iloc[0]
    assert (shorter["conversions_control"], shorter["conversions_treatment"]) == (10, 0)


def segmented_example() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Two experiments; customers in three segments with different lifts, every tenth
    customer (30 per variant) without a segment."""
    rng = np.random.default_rng(5)
    sizes = {(e, v): 300 for e in ("banner", "email") for v in ("control", "treatment")}
    assigned = assignments(sizes)
    segment = np.array(["Champions", "At Risk", "New"])[np.arange(len(assigned)) % 3]
    segments = pd.DataFrame({"customer_id": assigned["customer_id"], "segment": segment})
    segments = segments[np.arange(len(segments)) % 10 != 9].reset_index(drop=True)
    rate = np.where(assigned["variant"] == "treatment", 0.25, 0.1)
    rate = rate + np.where(segment == "Champions", 0.1, 0.0)
    buyers = assigned.loc[rng.random(len(assigned)) < rate, "customer_id"].tolist()
    return assigned, orders_for(buyers, [30.0] * len(buyers)), segments


@pytest.mark.parametrize(("correction", "method"), [("holm", "holm"), ("bh", "fdr_bh")])
def test_correction_runs_over_every_segment_and_experiment(correction, method):
    assigned, orders, segments = segmented_example()
    result = ab_test(assigned, orders, segments=segments, correction=correction)
    assert result[["experiment", "segment"]].values.tolist() == [
        [e, s] for e in ("banner", "email") for s in ("At Risk", "Champions", "New", "Unsegmented")
    ]
    assert result["p_value"].notna().all()
    expected = multipletests(result["p_value"], method=method)[1]
    np.testing.assert_allclose(result["p_adjusted"], expected)
    assert (result["p_adjusted"] >= result["p_value"]).all()
    assert result["significant"].tolist() == (expected < 0.05).tolist()
    revenue = multipletests(result["revenue_p_value"], method=method)[1]
    np.testing.assert_allclose(result["revenue_p_adjusted"], revenue)


def test_no_correction_keeps_the_p_values():
    assigned, orders, segments = segmented_example()
    result = ab_test(assigned, orders, segments=segments, correction=None)
    pd.testing.assert_series_equal(result["p_adjusted"], result["p_value"], check_names=False)


def test_segments_add_up_to_the_overall_test_and_unknowns_are_unsegmented():
    assigned, orders, segments = segmented_example()
    by_segment = ab_test(assigned, orders, segments=segments)
    overall = ab_test(assigned, orders, by=None).set_index("experiment")
    sums = by_segment.groupby("experiment")[["n_control", "n_treatment", "conversions_treatment"]]
    pd.testing.assert_frame_equal(
        sums.sum(), overall[["n_control", "n_treatment", "conversions_treatment"]]
    )
    unsegmented = by_segment[by_segment["segment"] == "Unsegmented"]
    assert unsegmented[["n_control", "n_treatment"]].values.tolist() == [[30, 30], [30, 30]]
    assert unsegmented["warning"].str.contains("fewer than 100 customers").all()


def test_by_can_name_a_column_of_the_experiments_table():
    assigned, orders, segments = segmented_example()
    labelled = assigned.merge(segments, on="customer_id", how="left").fillna(
        {"segment": "Unsegmented"}
    )
    direct = ab_test(labelled, orders, by="segment")
    joined = ab_test(assigned, orders, segments=segments)
    pd.testing.assert_frame_equal(direct, joined)


def test_a_missing_label_in_the_experiments_table_is_unsegmented():
    assigned, orders = hand_example()
    labelled = assigned.assign(segment=pd.array(["A"] * 200 + [None] * 20, dtype="str"))
    result = ab_test(labelled, orders, by="segment", min_per_variant=0)
    assert result["segment"].tolist() == ["A", "Unsegmented"]
    assert result["n_treatment"].tolist() == [100, 20]


def test_several_by_columns():
    assigned, orders, segments = segmented_example()
    segments = segments.assign(tier=np.where(segments.index % 2 == 0, "even", "odd"))
    result = ab_test(assigned, orders, by=["segment", "tier"], segments=segments)
    assert result.columns[:4].tolist() == ["experiment", "segment", "tier", "variant"]
    assert result.groupby("experiment")["n_control"].sum().tolist() == [300, 300]


def test_a_segment_without_treated_customers_gets_a_row_of_nans_and_a_warning():
    assigned = assignments({("banner", "control"): 30, ("banner", "treatment"): 30})
    orders = orders_for(["banner-control-0", "banner-treatment-0"], [10.0, 10.0])
    segments = pd.DataFrame(
        {
            "customer_id": assigned["customer_id"],
            "segment": np.where(
                assigned["customer_id"].isin(["banner-control-1", "banner-control-2"]),
                "Lonely",
                "A",
            ),
        }
    )
    result = ab_test(assigned, orders, segments=segments).set_index("segment")
    lonely = result.loc["Lonely"]
    assert (lonely["n_control"], lonely["n_treatment"]) == (2, 0)
    assert lonely[["absolute_lift", "p_value", "p_adjusted", "revenue_difference"]].isna().all()
    assert not lonely["significant"]
    assert lonely["warning"] == "no customers in treatment"
    assert "expected conversions" in result.loc["A", "warning"]
    assert result.loc["A", "p_adjusted"] == result.loc["A", "p_value"]  # NaN rows not counted


def test_one_customer_per_variant_can_detect_nothing():
    assigned = assignments({("banner", "control"): 1, ("banner", "treatment"): 1})
    row = ab_test(assigned, orders_for(["banner-treatment-0"], [5.0]), by=None).iloc[0]
    assert row["absolute_lift"] == 1.0
    assert math.isnan(row["minimum_detectable_lift"])
    assert math.isnan(row["revenue_p_value"])  # Welch needs two customers per variant
    assert "no rise over the control rate is detectable" in row["warning"]


def test_no_conversions_at_all_is_no_variation():
    assigned = assignments({("banner", "control"): 200, ("banner", "treatment"): 200})
    empty = orders_for([], [])
    row = ab_test(assigned, empty, by=None).iloc[0]
    assert row["absolute_lift"] == 0
    assert math.isnan(row["p_value"]) and math.isnan(row["relative_lift"])
    assert "no variation" in row["warning"]
    assert not row["significant"]


def test_a_small_lift_is_flagged_as_underpowered():
    assigned = assignments({("banner", "control"): 400, ("banner", "treatment"): 400})
    buyers = [f"banner-control-{i}" for i in range(40)] + [
        f"banner-treatment-{i}" for i in range(44)
    ]
    row = ab_test(assigned, orders_for(buyers, [1.0] * 84), by=None).iloc[0]
    assert row["absolute_lift"] == pytest.approx(0.01)
    assert row["minimum_detectable_lift"] > 0.01
    assert "underpowered" in row["warning"]
    assert "fewer than" not in row["warning"]


def test_several_treatment_variants_are_each_compared_with_control():
    assigned = assignments(
        {("banner", "control"): 200, ("banner", "blue"): 200, ("banner", "red"): 200}
    )
    buyers = [
        f"banner-{v}-{i}" for v, k in (("control", 20), ("blue", 40), ("red", 20)) for i in range(k)
    ]
    result = ab_test(assigned, orders_for(buyers, [1.0] * len(buyers)), by=None)
    assert result["variant"].tolist() == ["blue", "red"]
    assert result["n_control"].tolist() == [200, 200]
    assert result["absolute_lift"].tolist() == pytest.approx([0.1, 0.0])


def test_another_control_name():
    assigned, orders = hand_example()
    renamed = assigned.replace({"variant": {"control": "baseline"}})
    row = ab_test(renamed, orders, by=None, control="baseline").iloc[0]
    assert row["absolute_lift"] == pytest.approx(0.15)


def test_inputs_are_not_modified():
    assigned, orders, segments = segmented_example()
    copies = assigned.copy(), orders.copy(), segments.copy()
    ab_test(assigned, orders, segments=segments)
    for original, copy in zip((assigned, orders, segments), copies, strict=True):
        pd.testing.assert_frame_equal(original, copy)


@pytest.mark.parametrize("engine", ["polars", "polars_lazy", "duckdb"])
def test_engines_agree(engine):
    assigned, orders, segments = segmented_example()
    make = ENGINES[engine]
    result = ab_test(make(assigned), make(orders), segments=make(segments))
    expected = ab_test(assigned, orders, segments=segments)
    pd.testing.assert_frame_equal(result, expected, check_dtype=False)


def test_integer_customer_ids_join_string_ones():
    assigned = assignments({("banner", "control"): 3, ("banner", "treatment"): 3})
    assigned["customer_id"] = range(6)
    orders = orders_for(["0", "4"], [1.0, 2.0])
    row = ab_test(assigned, orders, by=None, min_per_variant=0).iloc[0]
    assert (row["conversions_control"], row["conversions_treatment"]) == (1, 1)


# -- bad input ---------------------------------------------------------------------------


def test_a_customer_assigned_twice_is_a_contract_error_with_example_rows():
    assigned, orders = hand_example()
    twice = pd.concat([assigned, assigned.iloc[[3]].assign(variant="treatment")])
    with pytest.raises(DataContractError, match="assigned at most once") as error:
        ab_test(twice, orders, by=None)
    assert error.value.table == "experiments" and error.value.column == "customer_id"
    assert "1 customers" in str(error.value) and "banner-control-3" in str(error.value)


def test_the_same_customer_in_two_experiments_is_fine():
    assigned, orders = hand_example()
    other = assigned.assign(experiment="email")
    result = ab_test(pd.concat([assigned, other]), orders, by=None)
    assert result["experiment"].tolist() == ["banner", "email"]
    assert result["absolute_lift"].tolist() == pytest.approx([0.15, 0.15])


def test_an_experiment_with_one_variant_is_named():
    assigned, orders = hand_example()
    lonely = assignments({("solo", "control"): 10})
    with pytest.raises(DataContractError, match="experiment 'solo'") as error:
        ab_test(pd.concat([assigned, lonely]), orders, by=None)
    assert "only ['control']" in str(error.value)


def test_an_experiment_without_control_lists_its_variants():
    assigned = assignments({("colors", "blue"): 10, ("colors", "red"): 10})
    with pytest.raises(DataContractError, match=r"'colors'.*variants \['blue', 'red'\]"):
        ab_test(assigned, orders_for([], []), by=None)


@pytest.mark.parametrize(
    ("table", "column"),
    [("experiments", "assigned_ts"), ("experiments", "variant"), ("orders", "revenue")],
)
def test_a_missing_column_is_named(table, column):
    assigned, orders = hand_example()
    tables = {"experiments": assigned, "orders": orders}
    tables[table] = tables[table].drop(columns=column)
    with pytest.raises(DataContractError, match=f"table '{table}', column '{column}'"):
        ab_test(tables["experiments"], tables["orders"], by=None)


def test_a_missing_assignment_time_is_a_contract_error():
    assigned, orders = hand_example()
    assigned.loc[7, "assigned_ts"] = pd.NaT
    with pytest.raises(DataContractError, match="1 rows without one.*banner-control-7"):
        ab_test(assigned, orders, by=None)


def test_segments_must_have_one_row_per_customer():
    assigned, orders, segments = segmented_example()
    with pytest.raises(DataContractError, match="table 'segments', column 'customer_id'"):
        ab_test(assigned, orders, segments=pd.concat([segments, segments.iloc[:2]]))


def test_by_without_segments_says_what_to_pass():
    assigned, orders = hand_example()
    with pytest.raises(ParameterError, match="pass a segments table"):
        ab_test(assigned, orders)


def test_empty_experiments_table():
    assigned, orders = hand_example()
    with pytest.raises(DataContractError, match="at least one assignment"):
        ab_test(assigned.iloc[:0], orders, by=None)


@pytest.mark.parametrize(
    "parameters",
    [
        {"alpha": 0},
        {"alpha": 1.5},
        {"correction": "tukey"},
        {"window_days": 0},
        {"window_days": "30"},
        {"min_per_variant": -1},
        {"min_per_variant": 2.5},
        {"by": "variant"},
    ],
)
def test_bad_parameters(parameters):
    assigned, orders = hand_example()
    with pytest.raises(ParameterError):
        ab_test(assigned, orders, **{"by": None, **parameters})


# -- the demo shop's planted experiments -------------------------------------------------


@pytest.fixture(scope="module", params=[1, 2, 3])
def shop(request):
    """20,000 simulated customers: about 2,000 per variant, so a standard error near 1.1 pp."""
    return simulate(n_customers=20_000, seed=request.param)


def test_planted_rates_and_lifts_are_recovered(shop):
    result = ab_test(shop.experiments, shop.orders, by=None).set_index("experiment")
    truth = shop.truth.experiments.set_index("experiment")
    assert sorted(result.index) == sorted(truth.index)
    for experiment, planted in truth.iterrows():
        row = result.loc[experiment]
        assert row["variant"] == "treatment"
        n_c, n_t = row["n_control"], row["n_treatment"]
        p_c, p_t = planted["control_rate"], planted["treatment_rate"]
        # Each variant's rate within three standard errors of the planted one ...
        assert abs(row["conversion_rate_control"] - p_c) < 3 * math.sqrt(p_c * (1 - p_c) / n_c)
        assert abs(row["conversion_rate_treatment"] - p_t) < 3 * math.sqrt(p_t * (1 - p_t) / n_t)
        # ... and the lift within three standard errors of the difference.
        error = math.sqrt(p_c * (1 - p_c) / n_c + p_t * (1 - p_t) / n_t)
        assert abs(row["absolute_lift"] - planted["absolute_lift"]) < 3 * error
        assert row["absolute_lift_ci_low"] < row["absolute_lift"] < row["absolute_lift_ci_high"]


def test_planted_lifts_lie_in_three_sigma_intervals(shop):
    three_sigma = 2 * stats.norm.sf(3)
    result = ab_test(shop.experiments, shop.orders, by=None, alpha=three_sigma)
    truth = shop.truth.experiments.set_index("experiment")
    for row in result.itertuples():
        planted = truth.loc[row.experiment]
        assert row.absolute_lift_ci_low < planted["absolute_lift"] < row.absolute_lift_ci_high
        assert row.relative_lift_ci_low < planted["relative_lift"] < row.relative_lift_ci_high


def test_the_consent_experiment_measures_consenting_customers(shop):
    """loyalty_email assigns only customers who agreed to marketing: its planted rates
    (and the estimate) are rates among them, not among all customers."""
    consent = shop.customers.drop_duplicates("customer_id").set_index("customer_id")
    consent = consent["consent_marketing"]
    assigned = shop.experiments
    emailed = assigned.loc[assigned["experiment"] == "loyalty_email", "customer_id"]
    banner = assigned.loc[assigned["experiment"] == "free_shipping_banner", "customer_id"]
    assert consent.reindex(emailed).fillna(False).all()
    assert not consent.reindex(banner).fillna(False).all()
    split = pd.DataFrame({"customer_id": consent.index, "consent": np.where(consent, "yes", "no")})
    result = ab_test(assigned, shop.orders, by="consent", segments=split, min_per_variant=0)
    emails = result[result["experiment"] == "loyalty_email"]
    assert emails["consent"].tolist() == ["yes"]
    overall = ab_test(assigned, shop.orders, by=None).set_index("experiment")
    assert emails["absolute_lift"].iloc[0] == pytest.approx(
        overall.loc["loyalty_email", "absolute_lift"]
    )


def test_the_planted_effects_are_significant_on_a_large_shop():
    data = simulate(n_customers=40_000, seed=11)
    result = ab_test(data.experiments, data.orders, by=None)
    assert result["significant"].all()  # about 97% power for each planted lift at this size
    assert not result["warning"].str.contains("fewer than|expected conversions").any()


def test_ab_brief_keeps_the_key_columns_and_the_first_warning_in_brief():
    results = pd.DataFrame(
        {
            "experiment": ["banner", "banner", "mail"],
            "segment": ["A", "B", "A"],
            "variant": ["treatment"] * 3,
            "absolute_lift": [0.05, float("nan"), -0.01],
            "p_adjusted": [0.01, float("nan"), 0.9],
            "warning": [
                "",
                "no customers in treatment",
                "fewer than 100 customers in a variant (control 3, treatment 9); underpowered: x",
            ],
        }
    )
    brief = ab_brief(results)
    assert list(brief.columns) == ["experiment", "segment", "lift", "p adjusted", "note"]
    assert brief["note"].tolist() == [
        "",
        "no customers in treatment",
        "fewer than 100 customers in a variant",
    ]
    assert brief["lift"].tolist()[::2] == [0.05, -0.01]
    with pytest.raises(DataContractError, match="column 'warning'"):
        ab_brief(results.drop(columns="warning"))
