"""CLV: summaries by hand and per engine, published CDNOW estimates, model formulas, bad input."""

from __future__ import annotations

import math

import narwhals as nw
import numpy as np
import pandas as pd
import polars as pl
import pytest
from scipy import integrate, stats
from scipy.optimize import check_grad
from scipy.special import beta as beta_function
from scipy.special import gamma as gamma_function
from scipy.special import gammaln

from segkit import clv
from segkit.clv import (
    HISTORICAL_COLUMNS,
    HOLDOUT_COLUMNS,
    SUMMARY_COLUMNS,
    BetaGeo,
    ConvergenceWarning,
    GammaGamma,
    calibration_holdout,
    historical,
    holdout_check,
    per_segment,
    summary,
)
from segkit.datasets import read_cdnow_sample
from segkit.errors import DataContractError
from tests.conftest import ENGINES, NATIVE_TYPES, PROJECT

AS_OF = "2025-01-29"
CDNOW = PROJECT / "data" / "cdnow"
needs_cdnow = pytest.mark.skipif(
    not (CDNOW / "CDNOW_sample.txt").exists(),
    reason="CDNOW sample not fetched; run `make cdnow` (python -m segkit.datasets cdnow)",
)
#: Fader, Hardie & Lee (2005), "Counting your customers the easy way", CDNOW 1/10 sample.
FHL_BETAGEO = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
#: The first customers of lifetimes' cdnow_customers_summary (the papers' rounded data):
#: frequency, recency, T in weeks and mean repeat value.
PUBLISHED_ROWS = pd.DataFrame(
    {
        "customer_id": [1, 2, 3],
        "frequency": [2, 1, 0],
        "recency": [30.43, 1.71, 0.0],
        "T": [38.86, 38.86, 38.86],
        "monetary_value": [22.35, 11.77, 0.0],
    }
)


def to_pandas(result) -> pd.DataFrame:
    frame = nw.from_native(result)
    if isinstance(frame, nw.LazyFrame):
        frame = frame.collect()
    return frame.to_pandas().reset_index(drop=True)


def stamps(*values: str) -> pd.Series:
    return pd.Series(pd.to_datetime(list(values), format="ISO8601")).astype("datetime64[us]")


def hand_orders() -> pd.DataFrame:
    """a: two orders on 1 Jan (one purchase day), then 15 and 29 Jan; b: one order;
    c: two orders on one day; d: only after AS_OF; a also buys after AS_OF."""
    return pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(1, 9)],
            "customer_id": ["a", "a", "a", "a", "b", "c", "c", "d"],
            "order_ts": stamps(
                "2025-01-01 10:00",
                "2025-01-01 15:00",
                "2025-01-15",
                "2025-01-29 12:00",
                "2025-01-08 09:30",
                "2025-01-20 08:00",
                "2025-01-20 20:00",
                "2025-02-03",
            ),
            "revenue": [10.0, 5.0, 30.0, 20.0, 40.0, 7.0, 8.0, 99.0],
        }
    )


def with_late_order(orders: pd.DataFrame) -> pd.DataFrame:
    """``orders`` plus a's purchases on 5 Feb and 10 Feb (two orders)."""
    late = pd.DataFrame(
        {
            "order_id": ["o9", "o10", "o11"],
            "customer_id": ["a", "a", "a"],
            "order_ts": stamps("2025-02-05", "2025-02-10 09:00", "2025-02-10 18:00"),
            "revenue": [1.0, 2.0, 3.0],
        }
    )
    return pd.concat([orders, late], ignore_index=True)


# --- summary -------------------------------------------------------------------------------


def test_summary_hand_computed_in_days():
    result = summary(hand_orders(), AS_OF)
    assert list(result.columns) == list(SUMMARY_COLUMNS)
    assert result.values.tolist() == [
        # same-day orders merged: a bought on 3 days, so 2 repeats worth (30 + 20) / 2
        ["a", 2, 28.0, 28.0, 25.0],
        ["b", 0, 0.0, 21.0, 0.0],  # one purchase: no repeat, monetary_value 0
        ["c", 0, 0.0, 9.0, 0.0],  # two orders on one day are one purchase
    ]
    assert result["frequency"].dtype == "int64"
    assert result.index.tolist() == [0, 1, 2]


def test_summary_in_weeks_is_days_over_seven():
    days, weeks = summary(hand_orders(), AS_OF), summary(hand_orders(), AS_OF, unit="weeks")
    assert weeks["recency"].tolist() == [4.0, 0.0, 0.0]
    assert weeks["T"].tolist() == pytest.approx((days["T"] / 7).tolist())
    pd.testing.assert_series_equal(weeks["monetary_value"], days["monetary_value"])


def test_the_time_of_day_of_as_of_is_ignored():
    # The whole day of as_of counts: a's purchase at 12:00 on the 29th is in.
    pd.testing.assert_frame_equal(
        summary(hand_orders(), "2025-01-29 08:00"), summary(hand_orders(), AS_OF)
    )


@pytest.mark.parametrize("as_of", ["2025-01-10", "2025-01-20", "2025-02-15"])
def test_a_past_summary_equals_the_summary_of_the_orders_known_then(as_of):
    orders = with_late_order(hand_orders())
    known = orders[orders["order_ts"] < pd.Timestamp(as_of) + pd.Timedelta(days=1)]
    pd.testing.assert_frame_equal(summary(orders, as_of), summary(known, as_of))


@pytest.mark.parametrize("engine", ENGINES)
def test_engines_agree_on_the_summary(engine):
    result = summary(ENGINES[engine](with_late_order(hand_orders())), "2025-02-10", unit="weeks")
    assert isinstance(result, NATIVE_TYPES[engine])
    expected = summary(with_late_order(hand_orders()), "2025-02-10", unit="weeks")
    pd.testing.assert_frame_equal(to_pandas(result), expected, check_dtype=False)
    assert to_pandas(result).loc[0].tolist() == pytest.approx(["a", 4, 40 / 7, 40 / 7, 14.0])


def test_dates_and_other_column_names_are_accepted():
    orders = hand_orders().rename(columns={"customer_id": "who", "order_ts": "when"})
    orders = pl.from_pandas(orders).with_columns(pl.col("when").dt.date(), pl.col("revenue") * 1)
    result = summary(orders, AS_OF, customer_id="who", order_ts="when", revenue="revenue")
    assert isinstance(result, pl.DataFrame) and result.columns == list(SUMMARY_COLUMNS)
    pd.testing.assert_frame_equal(to_pandas(result), summary(hand_orders(), AS_OF))


def test_inputs_are_not_mutated():
    orders = hand_orders()
    summary(orders, AS_OF)
    calibration_holdout(orders, "2025-01-15", AS_OF)
    historical(orders, segments=pd.DataFrame({"customer_id": list("abcd"), "segment": "x"}))
    pd.testing.assert_frame_equal(orders, hand_orders())


@pytest.mark.parametrize("engine", ENGINES)
def test_empty_orders_give_an_empty_summary(engine):
    result = to_pandas(summary(ENGINES[engine](hand_orders().iloc[:0]), AS_OF))
    assert list(result.columns) == list(SUMMARY_COLUMNS) and len(result) == 0


@pytest.mark.parametrize("engine", ENGINES)
def test_negative_revenue_is_an_error_naming_column_rule_and_rows(engine):
    orders = hand_orders()
    orders.loc[4, "revenue"] = -40.0
    with pytest.raises(ValueError, match=r"'revenue' has 1 negative.*≥ 0.*customer_id=b"):
        summary(ENGINES[engine](orders), AS_OF)
    orders.loc[4, "order_ts"] = pd.Timestamp("2025-03-01")  # after as_of: ignored
    assert to_pandas(summary(ENGINES[engine](orders), AS_OF))["customer_id"].tolist() == ["a", "c"]


@pytest.mark.parametrize("engine", ENGINES)
def test_nan_revenue_is_an_error(engine):
    orders = hand_orders()
    orders.loc[[0, 2], "revenue"] = np.nan
    with pytest.raises(ValueError, match="'revenue' has 2 null or NaN"):
        summary(ENGINES[engine](orders), AS_OF)


@pytest.mark.parametrize("engine", ENGINES)
def test_as_of_before_every_order_is_an_error(engine):
    with pytest.raises(
        ValueError, match=r"as_of \(2024-12-31.*before the first order \(2025-01-01"
    ):
        summary(ENGINES[engine](hand_orders()), "2024-12-31")
    with pytest.raises(ValueError, match=r"calibration_end \(2024-12-31.*before the first order"):
        calibration_holdout(ENGINES[engine](hand_orders()), "2024-12-31", AS_OF)


def test_other_bad_input():
    with pytest.raises(DataContractError, match="'revenue'"):
        summary(hand_orders().drop(columns="revenue"), AS_OF)
    with pytest.raises(DataContractError, match="'revenue'.*numeric"):
        summary(hand_orders().astype({"revenue": str}), AS_OF)
    with pytest.raises(DataContractError, match="order_ts"):
        summary(hand_orders().astype({"order_ts": str}), AS_OF)
    with pytest.raises(ValueError, match="unit must be 'days' or 'weeks'"):
        summary(hand_orders(), AS_OF, unit="months")
    with pytest.raises(TypeError, match="as_of"):
        summary(hand_orders(), 20250129)


# --- calibration and holdout ---------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_calibration_holdout_hand_computed(engine):
    orders = ENGINES[engine](with_late_order(hand_orders()))
    result = calibration_holdout(orders, AS_OF, "2025-02-12", unit="weeks")
    assert isinstance(result, NATIVE_TYPES[engine])
    result = to_pandas(result)
    assert list(result.columns) == list(HOLDOUT_COLUMNS)
    # d first bought in the holdout period: not in the calibration cohort
    assert result["customer_id"].tolist() == ["a", "b", "c"]
    assert result["frequency_holdout"].tolist() == [2, 0, 0]  # 5 Feb and 10 Feb (twice)
    assert result["duration_holdout"].tolist() == [2.0] * 3
    calibration = summary(with_late_order(hand_orders()), AS_OF, unit="weeks")
    pd.testing.assert_frame_equal(result[list(SUMMARY_COLUMNS)], calibration, check_dtype=False)


def test_holdout_must_end_after_calibration():
    with pytest.raises(ValueError, match="holdout_end .* must be after calibration_end"):
        calibration_holdout(hand_orders(), AS_OF, AS_OF)


def test_holdout_check_groups_and_caps_frequencies():
    cal_hold = pd.DataFrame(
        {
            "customer_id": [1, 2, 3, 4, 5],
            "frequency": [0, 0, 1, 3, 5],
            "recency": [0.0, 0.0, 2.0, 10.0, 19.0],
            "T": [20.0, 10.0, 20.0, 20.0, 20.0],
            "frequency_holdout": [0, 2, 1, 4, 3],
            "duration_holdout": [10.0] * 5,
        }
    )
    model = BetaGeo.from_params(**FHL_BETAGEO)
    check = holdout_check(model, cal_hold, max_frequency=3)
    assert check["frequency"].tolist() == [0, 1, 3]
    assert check["label"].tolist() == ["0", "1", "3+"]
    assert check["customers"].tolist() == [2, 1, 2]
    assert check["actual_holdout"].tolist() == [1.0, 1.0, 3.5]
    predicted = model.expected_purchases(10.0, [3, 5], [10.0, 19.0], [20.0, 20.0])
    assert check["predicted_holdout"].iloc[2] == pytest.approx(predicted.mean())


# --- the published CDNOW estimates ---------------------------------------------------------


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    if not (CDNOW / "CDNOW_sample.txt").exists():
        pytest.skip("CDNOW sample not fetched; run `make cdnow`")
    return read_cdnow_sample(CDNOW)


@pytest.fixture(scope="module")
def cdnow_summary(cdnow) -> pd.DataFrame:
    """The papers' calibration data: 39 weeks, 1 Jan through 30 Sep 1997, T in weeks."""
    return summary(cdnow, "1997-09-30", unit="weeks")


@pytest.fixture(scope="module")
def cdnow_betageo(cdnow_summary) -> BetaGeo:
    return BetaGeo().fit(cdnow_summary)


@needs_cdnow
def test_cdnow_summary_reproduces_the_published_one(cdnow, cdnow_summary):
    assert len(cdnow_summary) == 2_357
    assert cdnow_summary["frequency"].sum() == 2_457
    assert (cdnow_summary["frequency"] > 0).sum() == 946
    # A customer who first bought on 1 Jan has T = 272 days / 7 = 38.86 weeks.
    ids = cdnow.groupby("sample_id")["customer_id"].first()
    first = cdnow_summary.set_index("customer_id").loc[ids.loc[[1, 2, 3]]].reset_index(drop=True)
    published = PUBLISHED_ROWS.drop(columns="customer_id")
    pd.testing.assert_frame_equal(first, published, check_dtype=False, atol=0.0051)  # rounded


@needs_cdnow
def test_cdnow_betageo_reproduces_fader_hardie_lee_2005(cdnow_betageo):
    model = cdnow_betageo
    assert model.converged_ and model.n_customers_ == 2_357
    assert {name: round(value, 3) for name, value in model.params_.items()} == FHL_BETAGEO
    assert round(model.log_likelihood_, 1) == -9582.4


@needs_cdnow
def test_a_fit_in_days_is_the_same_model(cdnow, cdnow_betageo, cdnow_summary):
    days = BetaGeo().fit(summary(cdnow, "1997-09-30", unit="days"))
    weeks = cdnow_betageo.params_
    assert days.params_["alpha"] == pytest.approx(7 * weeks["alpha"], rel=1e-5)
    for name in ("r", "a", "b"):
        assert days.params_[name] == pytest.approx(weeks[name], rel=1e-5)
    # Purchase times are densities: in days each repeat purchase adds -ln 7.
    shift = math.log(7) * cdnow_summary["frequency"].sum()
    assert days.log_likelihood_ == pytest.approx(cdnow_betageo.log_likelihood_ - shift)


@needs_cdnow
@pytest.mark.parametrize("engine", ["polars_lazy", "duckdb"])
def test_fits_agree_across_engines_and_with_weights(cdnow_summary, cdnow_betageo, engine):
    model = BetaGeo().fit(ENGINES[engine](cdnow_summary))
    assert model.params_ == pytest.approx(cdnow_betageo.params_, rel=1e-6)
    grouped = cdnow_summary.groupby(["frequency", "recency", "T"], as_index=False).size()
    weighted = BetaGeo().fit(ENGINES[engine](grouped), weights="size")
    assert len(grouped) < len(cdnow_summary) / 2
    assert weighted.params_ == pytest.approx(cdnow_betageo.params_, rel=1e-6)
    assert weighted.log_likelihood_ == pytest.approx(cdnow_betageo.log_likelihood_)


@needs_cdnow
def test_cdnow_gamma_gamma_reproduces_fader_hardie_2013(cdnow_summary):
    # 946 repeat buyers, mean value of their repeat purchases in the 39 weeks.
    model = GammaGamma().fit(cdnow_summary)
    assert model.converged_ and model.n_customers_ == 946
    assert {name: round(value, 2) for name, value in model.params_.items()} == {
        "p": 6.25,
        "q": 3.74,
        "gamma": 15.44,
    }
    assert model.correlation_ == pytest.approx(0.11, abs=0.01)  # independent enough


@needs_cdnow
def test_holdout_check_on_cdnow(cdnow):
    cal_hold = calibration_holdout(cdnow, "1997-09-30", "1998-06-30", unit="weeks")
    model = BetaGeo().fit(cal_hold)
    check = holdout_check(model, cal_hold)
    assert check["label"].tolist() == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert check["customers"].sum() == 2_357
    actual = (check["customers"] * check["actual_holdout"]).sum()
    assert actual == cal_hold["frequency_holdout"].sum() == 1_882
    predicted = (check["customers"] * check["predicted_holdout"]).sum()
    assert predicted == pytest.approx(actual, rel=0.15)
    assert check["predicted_holdout"].is_monotonic_increasing


# --- the BG/NBD formulas -------------------------------------------------------------------


def fhl_likelihood(r, alpha, a, b, x, t_x, T) -> float:
    """FHL 2005 eq. 6, written out with gamma and beta functions (no logs)."""
    head = gamma_function(r + x) * alpha**r / gamma_function(r)
    alive = beta_function(a, b + x) / beta_function(a, b) * head / (alpha + T) ** (r + x)
    dropped = (
        beta_function(a + 1, b + x - 1) / beta_function(a, b) * head / (alpha + t_x) ** (r + x)
    )
    return alive + (dropped if x > 0 else 0.0)


HISTORIES = [(0, 0.0, 38.86), (1, 1.71, 38.86), (2, 30.43, 38.86), (7, 20.0, 30.0), (3, 5.0, 35.0)]
PARAMS = {"r": 0.7, "alpha": 3.0, "a": 1.4, "b": 2.2}


def test_log_likelihood_matches_the_formula_written_out():
    model = BetaGeo.from_params(**PARAMS)
    x, t_x, T = map(np.array, zip(*HISTORIES, strict=True))
    expected = [math.log(fhl_likelihood(*PARAMS.values(), *history)) for history in HISTORIES]
    assert model.log_likelihood(x, t_x, T) == pytest.approx(expected, rel=1e-12)
    assert model.log_likelihood(2, 30.43, 38.86) == pytest.approx(expected[2], rel=1e-12)


def test_analytic_gradients_match_finite_differences():
    x, t_x, T = map(np.array, zip(*HISTORIES, strict=True))
    objective = clv._mean_objective(
        lambda *p: clv._betageo_log_likelihood(*p, x, t_x, T, gradient=True), np.ones(len(x))
    )
    start = np.log(list(PARAMS.values()))
    assert check_grad(lambda p: objective(p)[0], lambda p: objective(p)[1], start) < 1e-6
    x, m = np.array([1.0, 2, 5]), np.array([10.0, 25, 14])
    objective = clv._mean_objective(
        lambda *p: clv._gammagamma_log_likelihood(*p, x, m, gradient=True), np.ones(3)
    )
    assert (
        check_grad(lambda p: objective(p)[0], lambda p: objective(p)[1], np.log([3, 4, 20])) < 1e-6
    )


def posterior_expectation(params, x, t_x, T, function) -> float:
    """E[alive * function(p, T) | x, t_x, T] by integrating over the dropout probability p.

    Not FHL's eq. 10: the purchase rate is integrated in closed form (the
    gamma-Poisson mixture, ``rate_integral``), the beta prior of p numerically.
    ``function(p, rate_integral)`` gets p and that integral as a function of time.
    """
    r, alpha, a, b = params.values()

    def rate_integral(time):  # E over lambda of lambda ** x * exp(-lambda * time)
        return math.exp(gammaln(r + x) - gammaln(r) + r * math.log(alpha)) / (alpha + time) ** (
            r + x
        )

    def alive(p):
        return stats.beta.pdf(p, a, b) * (1 - p) ** x

    def dropped(p):
        return stats.beta.pdf(p, a, b) * p * (1 - p) ** (x - 1) if x > 0 else 0.0

    def integral(integrand) -> float:
        return integrate.quad(integrand, 0, 1, epsabs=1e-14, epsrel=1e-11, limit=200)[0]

    evidence = integral(lambda p: alive(p) * rate_integral(T) + dropped(p) * rate_integral(t_x))
    return integral(lambda p: alive(p) * function(p, rate_integral)) / evidence


@pytest.mark.parametrize("history", HISTORIES[:4])
def test_expected_purchases_and_probability_alive_match_numerical_integration(history):
    model = BetaGeo.from_params(**PARAMS)
    T = history[2]
    alive = posterior_expectation(PARAMS, *history, lambda p, rate: rate(T))
    assert model.probability_alive(*history) == pytest.approx(alive, rel=1e-7)
    # An alive customer buys (1 - exp(-lambda p t)) / p times in t (FHL 2005): averaged
    # over lambda, exp(-lambda T) (1 - exp(-lambda p t)) is rate(T) - rate(T + p t).
    bought = posterior_expectation(
        PARAMS, *history, lambda p, rate: (rate(T) - rate(T + p * 10)) / p
    )
    assert model.expected_purchases(10, *history) == pytest.approx(bought, rel=1e-7)


def test_expected_purchases_of_a_new_customer():
    model = BetaGeo.from_params(**PARAMS)
    r, alpha, a, b = PARAMS.values()
    # E[X(t)] = E over p of (1 - (alpha / (alpha + p t)) ** r) / p
    expected = integrate.quad(
        lambda p: stats.beta.pdf(p, a, b) * (1 - (alpha / (alpha + p * 20)) ** r) / p,
        0,
        1,
        epsabs=1e-14,
        epsrel=1e-11,
    )[0]
    assert model.expected_purchases_new(20) == pytest.approx(expected, rel=1e-7)
    assert model.expected_purchases_new([20, 40]) == pytest.approx(
        model.expected_purchases([20, 40], 0, 0.0, 0.0)
    )


def test_predictions_at_the_published_estimates():
    model = BetaGeo.from_params(**FHL_BETAGEO)
    # Customer 1 of the papers: 2 repeats, the last at 30.43 weeks, observed for 38.86.
    assert model.expected_purchases(39, 2, 30.43, 38.86) == pytest.approx(1.226, abs=5e-4)
    assert model.probability_alive(0, 0.0, 38.86) == 1.0
    assert model.expected_purchases(0, 2, 30.43, 38.86) == 0.0
    assert isinstance(model.expected_purchases(1, 2, 30.43, 38.86), float)
    assert model.expected_purchases([1, 2], 2, 30.43, 38.86).shape == (2,)


def test_expected_purchases_match_lifetimes_documentation():
    # lifetimes' README: its fit of cdnow_customers_summary, the five customers most
    # likely to buy in the next week. The parameters are that fit's (to 7 digits).
    model = BetaGeo.from_params(r=0.2425929, alpha=4.413532, a=0.7928875, b=2.425759)
    frequency, recency, T = (
        [18, 19, 17, 29, 26],
        [35.14, 34.0, 28.43, 37.71, 30.86],
        [
            35.86,
            34.14,
            28.86,
            38.0,
            31.0,
        ],
    )
    documented = [0.424877, 0.474738, 0.486526, 0.662396, 0.710623]
    assert model.expected_purchases(1, frequency, recency, T) == pytest.approx(documented, rel=1e-5)


@needs_cdnow
def test_predict_gives_a_frame_per_customer(cdnow_betageo, cdnow_summary):
    predicted = cdnow_betageo.predict(pl.from_pandas(cdnow_summary), t=39)
    assert list(predicted.columns) == [
        "customer_id",
        "frequency",
        "recency",
        "T",
        "probability_alive",
        "expected_purchases",
    ]
    assert predicted["customer_id"].tolist() == cdnow_summary["customer_id"].tolist()
    row = predicted.iloc[0]
    expected = cdnow_betageo.expected_purchases(39, row["frequency"], row["recency"], row["T"])
    assert row["expected_purchases"] == pytest.approx(expected)


# --- BG/NBD bad input ----------------------------------------------------------------------


def small_summary() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "frequency": [0, 2, 1, 4],
            "recency": [0.0, 10.0, 3.0, 25.0],
            "T": [30.0, 20.0, 12.0, 30.0],
        }
    )


def test_only_single_purchases_cannot_be_fitted():
    single = summary(hand_orders(), "2025-01-10")
    assert single["frequency"].tolist() == [0, 0]
    with pytest.raises(ValueError, match="'frequency' is 0 for all 2 customers.*cannot be fitted"):
        BetaGeo().fit(single)


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("recency", 40.0, r"'recency': expected values ≤ T.*customer_id=b"),
        ("recency", -1.0, r"'recency': expected values ≥ 0"),
        ("T", np.nan, r"'T': expected no null, NaN"),
        ("frequency", 1.5, r"'frequency': expected whole numbers"),
        ("frequency", -2, r"'frequency': expected values ≥ 0"),
    ],
)
def test_impossible_summaries_are_errors_naming_column_and_rows(column, value, message):
    bad = small_summary().astype({"frequency": float})
    bad.loc[1, column] = value
    with pytest.raises(ValueError, match=message):
        BetaGeo().fit(bad)


def test_recency_without_repeats_and_missing_columns_are_errors():
    bad = small_summary()
    bad.loc[0, "recency"] = 5.0
    with pytest.raises(ValueError, match="'recency': expected 0 for customers with frequency 0"):
        BetaGeo().fit(bad)
    with pytest.raises(DataContractError, match="'T'"):
        BetaGeo().fit(small_summary().drop(columns="T"))
    with pytest.raises(RuntimeError, match="not fitted"):
        BetaGeo().expected_purchases(1, 1, 1, 1)


def test_an_unconverged_fit_warns():
    with pytest.warns(ConvergenceWarning, match="BetaGeo: .* did not converge after 2 iterations"):
        model = BetaGeo(max_iterations=2).fit(small_summary())
    assert model.converged_ is False and set(model.params_) == {"r", "alpha", "a", "b"}


# --- Gamma-Gamma and CLV -------------------------------------------------------------------


def test_gamma_gamma_log_likelihood_matches_numerical_integration():
    # A mean of x gamma(p, nu) values is gamma(p x, x nu); nu is gamma(q, gamma).
    p, q, gamma = 3.0, 4.0, 20.0
    model = GammaGamma.from_params(p, q, gamma)
    for x, m in [(1, 12.0), (4, 30.0)]:
        density = integrate.quad(
            lambda nu, x=x, m=m: (
                stats.gamma.pdf(nu, q, scale=1 / gamma)
                * stats.gamma.pdf(m, p * x, scale=1 / (x * nu))
            ),
            0,
            np.inf,
            epsabs=1e-14,
        )[0]
        assert model.log_likelihood(x, m) == pytest.approx(math.log(density), rel=1e-8)


def test_conditional_expected_value():
    model = GammaGamma.from_params(p=6.25, q=3.74, gamma=15.44)
    population = 6.25 * 15.44 / 2.74
    assert model.conditional_expected_value(0, 0.0) == pytest.approx(population)
    x, m = 3, 50.0
    weight = 6.25 * x / (6.25 * x + 2.74)  # the customer's own mean gets this weight
    expected = (1 - weight) * population + weight * m
    assert model.conditional_expected_value(x, m) == pytest.approx(expected)


def lifetimes_models() -> tuple[BetaGeo, GammaGamma]:
    """lifetimes' fits of its cdnow_customers_summary_with_transactions (to 7 digits)."""
    return (
        BetaGeo.from_params(r=0.2425929, alpha=4.413532, a=0.7928875, b=2.425759),
        GammaGamma.from_params(p=6.248805, q=3.744588, gamma=15.44774),
    )


def test_expected_value_and_clv_match_lifetimes_documentation():
    betageo, gammagamma = lifetimes_models()
    values = gammagamma.conditional_expected_value(
        PUBLISHED_ROWS["frequency"], PUBLISHED_ROWS["monetary_value"]
    )
    assert values == pytest.approx([24.658619, 18.911489, 35.170981], rel=1e-5)
    # lifetimes' docs call customer_lifetime_value(time=12, discount_rate=0.01) with its
    # default freq="D", 30 time units a month, on this summary in weeks: unit="days" here.
    result = gammagamma.clv(betageo, PUBLISHED_ROWS, horizon=12, discount_rate=0.01, unit="days")
    assert list(result.columns) == ["customer_id", "expected_purchases", "expected_value", "clv"]
    assert result["clv"].tolist() == pytest.approx([140.096218, 18.943466, 38.180575], rel=1e-5)


def test_clv_is_the_discounted_sum_of_monthly_purchases():
    betageo, gammagamma = lifetimes_models()
    rows = PUBLISHED_ROWS
    month = 30 / 7
    result = gammagamma.clv(betageo, rows, horizon=3, discount_rate=0.05, unit="weeks")
    history = rows["frequency"], rows["recency"], rows["T"]
    cumulative = [np.zeros(3)] + [
        betageo.expected_purchases(k * month, *history) for k in (1, 2, 3)
    ]
    value = gammagamma.conditional_expected_value(rows["frequency"], rows["monetary_value"])
    expected = sum((cumulative[k] - cumulative[k - 1]) / 1.05**k for k in (1, 2, 3)) * value
    assert result["clv"].tolist() == pytest.approx(expected.tolist())
    assert result["expected_purchases"].tolist() == pytest.approx(cumulative[3].tolist())
    undiscounted = gammagamma.clv(betageo, rows, horizon=3, discount_rate=0.0, unit="weeks")
    assert undiscounted["clv"].tolist() == pytest.approx((cumulative[3] * value).tolist())
    assert (undiscounted["clv"] > result["clv"]).all()


@needs_cdnow
def test_clv_does_not_depend_on_the_unit(cdnow, cdnow_summary, cdnow_betageo):
    gammagamma = GammaGamma().fit(cdnow_summary)
    weeks = gammagamma.clv(cdnow_betageo, cdnow_summary, unit="weeks")
    days_summary = summary(cdnow, "1997-09-30", unit="days")
    days = gammagamma.clv(BetaGeo().fit(days_summary), days_summary, unit="days")
    assert days["clv"].to_numpy() == pytest.approx(weeks["clv"].to_numpy(), rel=1e-4)
    assert 60_000 < weeks["clv"].sum() < 80_000


def test_gamma_gamma_bad_input():
    rows = pd.DataFrame(
        {"customer_id": [1, 2, 3], "frequency": [0, 2, 1], "monetary_value": [0.0, 0.0, 5.0]}
    )
    with pytest.raises(ValueError, match=r"'monetary_value': expected values > 0.*customer_id=2"):
        GammaGamma().fit(rows)
    with pytest.raises(ValueError, match="'frequency' is 0 for every customer"):
        GammaGamma().fit(rows.assign(frequency=0))
    with pytest.raises(RuntimeError, match="not fitted"):
        GammaGamma().clv(BetaGeo.from_params(**FHL_BETAGEO), PUBLISHED_ROWS)
    with pytest.raises(ValueError, match="horizon"):
        lifetimes_models()[1].clv(lifetimes_models()[0], PUBLISHED_ROWS, horizon=0)


def test_correlated_frequency_and_value_warn():
    frequency = np.arange(1, 41)
    rows = pd.DataFrame({"frequency": frequency, "monetary_value": 10.0 + 3 * frequency})
    with pytest.warns(UserWarning, match="correlated .* assumes they are independent"):
        model = GammaGamma().fit(rows)
    assert model.correlation_ == pytest.approx(1.0)


# --- historical value ----------------------------------------------------------------------


def test_historical_per_customer_hand_computed():
    result = historical(hand_orders(), as_of=AS_OF)
    assert list(result.columns) == list(HISTORICAL_COLUMNS)
    assert result["customer_id"].tolist() == ["a", "b", "c"]
    assert result["orders"].tolist() == [3, 1, 2]  # a's order at 12:00 on the 29th is later
    assert result["revenue"].tolist() == [45.0, 40.0, 15.0]
    assert result["avg_order_value"].tolist() == [15.0, 40.0, 7.5]
    assert result["tenure_days"].tolist() == pytest.approx(
        [28 - 10 / 24, 21 - 9.5 / 24, 9 - 8 / 24]
    )
    a = result.iloc[0]
    assert a["revenue_per_year"] == pytest.approx(45.0 / a["tenure_days"] * 365.25)
    last = historical(hand_orders())  # as_of: the last order, d's on 3 Feb
    assert last.set_index("customer_id").loc["d", "tenure_days"] == 0.0
    assert pd.isna(last.set_index("customer_id").loc["d", "revenue_per_year"])


def hand_segments() -> pd.DataFrame:
    """a and c loyal, b and e (no orders) new; d has orders but no segment."""
    return pd.DataFrame(
        {"customer_id": ["a", "b", "c", "e"], "segment": ["loyal", "new", "loyal", "new"]}
    )


@pytest.mark.parametrize("engine", ENGINES)
def test_historical_per_segment(engine):
    make = ENGINES[engine]
    with pytest.warns(UserWarning, match="1 customers with orders are not in segments"):
        result = historical(make(hand_orders()), segments=make(hand_segments()))
    assert isinstance(result, NATIVE_TYPES[engine])
    result = to_pandas(result)
    assert list(result.columns) == [
        "segment",
        "customers",
        "total_revenue",
        "mean_revenue",
        "median_revenue",
    ]
    # As of the last order: a 65, c 15; b 40, e (no orders) 0.
    assert result.values.tolist() == [["loyal", 2, 80.0, 40.0, 40.0], ["new", 2, 40.0, 20.0, 20.0]]


@pytest.mark.parametrize("engine", ENGINES)
def test_per_segment_sums_any_value_and_counts_members_without_one_as_zero(engine):
    make = ENGINES[engine]
    values = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "clv": [30.0, 6.0, 10.0, 99.0]})
    with pytest.warns(UserWarning, match="1 customers with a clv are not in segments"):
        result = per_segment(make(values), make(hand_segments()))
    assert isinstance(result, NATIVE_TYPES[engine])
    # loyal: a 30, c 10; new: b 6, e (no value) 0; d has no segment.
    assert to_pandas(result).values.tolist() == [
        ["loyal", 2, 40.0, 20.0, 20.0],
        ["new", 2, 6.0, 3.0, 3.0],
    ]
    assert list(to_pandas(result).columns)[2:] == ["total_clv", "mean_clv", "median_clv"]


def test_per_segment_names_a_missing_value_column_and_repeated_customers():
    values = pd.DataFrame({"customer_id": ["a"], "clv": [1.0]})
    with pytest.raises(DataContractError, match="column 'value'"):
        per_segment(values, hand_segments(), value="value")
    twice = pd.DataFrame({"customer_id": ["a", "a"], "segment": ["x", "y"]})
    with pytest.raises(DataContractError, match="one row per customer"):
        per_segment(values, twice)


@pytest.mark.parametrize("engine", ENGINES)
def test_historical_per_customer_agrees_across_engines(engine):
    result = historical(ENGINES[engine](hand_orders()), as_of=AS_OF)
    assert isinstance(result, NATIVE_TYPES[engine])
    expected = historical(hand_orders(), as_of=AS_OF)
    pd.testing.assert_frame_equal(to_pandas(result), expected, check_dtype=False)


def test_historical_bad_segments():
    repeated = pd.concat([hand_segments(), hand_segments().iloc[:1]])
    with pytest.raises(DataContractError, match="one row per customer"):
        historical(hand_orders(), segments=repeated)
    with pytest.raises(DataContractError, match="'tier'"):
        historical(hand_orders(), segments=hand_segments(), by="tier")
    with pytest.raises(TypeError, match="same kind of frame"):
        historical(hand_orders(), segments=pl.from_pandas(hand_segments()))
