"""The demo generator: canonical shape, determinism, and the truth it plants."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segkit.errors import ParameterError
from segkit.schema import DTYPES, TABLE_NAMES, TABLES
from segkit.simulation import (
    _CHANNEL_CODE as CHANNEL_CODE,
)
from segkit.simulation import (
    _incremental_conversions,
    _Journeys,
    promotion_periods,
    simulate,
)

N = 5000
END = pd.Timestamp("2025-12-31") + pd.Timedelta(days=1)  # first instant after the period
BEHAVIOURS = ["vip", "discount_abuser", "cherry_picker", "churned", "charmed"]
PAID = ("paid_search", "display", "paid_social", "email", "affiliate")


@pytest.fixture(scope="module")
def data():
    return simulate(n_customers=N, seed=42)


def clean(data, name: str) -> pd.DataFrame:
    """A table without the rows the truth lists as planted defects."""
    ledger = data.truth.defects
    rows = ledger.loc[ledger["table"] == name, "row"]
    return getattr(data, name).drop(index=rows).reset_index(drop=True)


@pytest.fixture(scope="module")
def orders(data):
    """Clean orders with the planted behaviours of their customer."""
    flags = data.truth.customers.set_index("customer_id")
    return clean(data, "orders").join(flags, on="customer_id")


@pytest.fixture(scope="module")
def revenue(data, orders):
    """Revenue per customer (zero for customers without orders) with behaviour flags."""
    per_customer = orders.groupby("customer_id")["revenue"].sum()
    flags = data.truth.customers.set_index("customer_id")
    return flags.assign(revenue=per_customer.reindex(flags.index, fill_value=0.0))


def in_promotion(ts: pd.Series) -> np.ndarray:
    day = ts.dt.normalize()
    inside = np.zeros(len(ts), bool)
    for sale in promotion_periods("2024-01-01", "2025-12-31").itertuples():
        inside |= ((day >= sale.start) & (day <= sale.end)).to_numpy()
    return inside


def test_same_seed_gives_identical_tables_and_truth():
    first, second = simulate(n_customers=300, seed=3), simulate(n_customers=300, seed=3)
    for name in TABLE_NAMES:
        pd.testing.assert_frame_equal(getattr(first, name), getattr(second, name))
    for part in ("channel_effects", "customers", "experiments", "defects"):
        pd.testing.assert_frame_equal(getattr(first.truth, part), getattr(second.truth, part))


def test_another_seed_gives_other_data():
    first, second = simulate(n_customers=300, seed=3), simulate(n_customers=300, seed=4)
    assert not first.orders.equals(second.orders)
    assert not first.customers["email"].equals(second.customers["email"])


@pytest.mark.parametrize("name", TABLE_NAMES)
def test_tables_have_canonical_columns_and_dtypes(data, name):
    frame, table = getattr(data, name), TABLES[name]
    assert tuple(frame.columns) == table.columns
    for field in table.fields:
        assert frame[field.name].dtype == pd.api.types.pandas_dtype(DTYPES[field.kind]), field.name
    assert len(frame) > 0


def test_truth_layout(data):
    truth = data.truth
    assert list(truth.customers.columns) == ["customer_id", *BEHAVIOURS]
    assert all(truth.customers[flag].dtype == bool for flag in BEHAVIOURS)
    customers = clean(data, "customers")["customer_id"]
    assert truth.customers["customer_id"].tolist() == customers.tolist()
    effects = truth.channel_effects.set_index("channel")["incremental_effect"]
    assert effects.to_dict() == {
        "paid_search": 0.10,
        "display": 0.02,
        "paid_social": 0.05,
        "email": 0.06,
        "affiliate": 0.04,
        "organic_search": 0.07,
        "referral": 0.05,
        "direct": 0.0,
    }
    assert list(truth.experiments.columns) == [
        "experiment",
        "control_rate",
        "treatment_rate",
        "absolute_lift",
        "relative_lift",
        "window_days",
    ]
    lift = truth.experiments["treatment_rate"] - truth.experiments["control_rate"]
    np.testing.assert_allclose(truth.experiments["absolute_lift"], lift)
    np.testing.assert_allclose(
        truth.experiments["relative_lift"], lift / truth.experiments["control_rate"]
    )
    assert list(truth.defects.columns) == ["table", "row", "rule"]


def test_incremental_conversions_of_a_hand_built_journey():
    """Two paid-search clicks and one email open on a journey with a 7% base rate."""
    miss = np.log1p(-np.array([0.10, 0.10, 0.06 * 0.5]))
    chance = 1 - 0.93 * np.exp(miss.sum())
    channel = [CHANNEL_CODE["paid_search"], CHANNEL_CODE["paid_search"], CHANNEL_CODE["email"]]
    built = _Journeys(
        customer=np.array([0, 0]),
        anchor=np.array([100, 200]),
        converted=np.array([True, False]),
        last_touch=np.array([90, 0]),
        touch_journey=np.array([0, 0, 0]),
        touch_second=np.array([10, 20, 30]),
        touch_channel=np.array(channel),
        touch_interaction=np.zeros(3, dtype=int),
        chance=np.array([chance, 0.07]),
        touch_miss=miss,
    )
    lost = _incremental_conversions(built, np.array([True, True]))
    without_search = 1 - 0.93 * (1 - 0.03)
    without_email = 1 - 0.93 * 0.9 * 0.9
    assert lost[CHANNEL_CODE["paid_search"]] == pytest.approx(chance - without_search)
    assert lost[CHANNEL_CODE["email"]] == pytest.approx(chance - without_email)
    assert np.count_nonzero(lost) == 2
    assert not _incremental_conversions(built, np.array([False, True])).any()


def test_incremental_conversions_follow_effect_and_reach(data):
    lost = data.truth.channel_effects.set_index("channel")["incremental_conversions"]
    assert lost["direct"] == 0
    assert (lost.drop("direct") > 0).all()
    # the strongest and most used channel loses the most; the weakest, display, the least
    assert lost.idxmax() == "paid_search"
    assert lost.drop("direct").idxmin() == "display"
    # far fewer than the orders: most would happen anyway (the base rate)
    assert lost.sum() < 0.7 * len(clean(data, "orders"))


def test_ids_are_unique_once_defects_are_removed(data):
    assert clean(data, "customers")["customer_id"].is_unique
    assert clean(data, "orders")["order_id"].is_unique
    assert data.customers["customer_id"].iloc[0] == "C000001"
    ids = clean(data, "orders")["order_id"]
    assert ids.tolist() == [f"O{k:07d}" for k in range(1, len(ids) + 1)]


def test_clean_rows_reference_known_customers(data):
    known = set(clean(data, "customers")["customer_id"])
    for name in ("orders", "touchpoints", "feedback", "experiments"):
        assert set(clean(data, name)["customer_id"]) <= known, name


def test_tables_are_sorted(data):
    orders = clean(data, "orders")
    assert orders["order_ts"].is_monotonic_increasing
    touches = clean(data, "touchpoints")
    assert touches.equals(
        touches.sort_values(["customer_id", "ts"], kind="stable").reset_index(drop=True)
    )


def test_every_planted_defect_breaks_its_rule(data):
    known = set(clean(data, "customers")["customer_id"])
    for table, row, rule in data.truth.defects.itertuples(index=False):
        frame = getattr(data, table)
        record = frame.iloc[row]
        if rule == "duplicate_key":
            key = TABLES[table].key
            assert (frame[key].iloc[:row] == record[key]).sum() == 1, (table, row)
        elif rule == "minimum":
            assert record["revenue"] < 0 or record["items"] < 1, (table, row)
        elif rule == "unknown_customer":
            assert record["customer_id"] not in known, (table, row)
        else:
            assert rule == "future_timestamp"
            ts = record["order_ts" if table == "orders" else "ts"]
            assert ts.year == 2100, (table, row)


def test_defects_are_few_spread_out_and_of_every_kind(data):
    ledger = data.truth.defects
    kinds = ledger.groupby(["table", "rule"]).size()
    assert set(kinds.index) == {
        ("customers", "duplicate_key"),
        ("orders", "duplicate_key"),
        ("orders", "minimum"),
        ("orders", "unknown_customer"),
        ("orders", "future_timestamp"),
        ("touchpoints", "unknown_customer"),
        ("touchpoints", "future_timestamp"),
    }
    assert (kinds >= 2).all()
    order_defects = (ledger["table"] == "orders").sum()
    assert 0.001 < order_defects / len(data.orders) < 0.006
    for table, rows in ledger.groupby("table")["row"]:
        assert rows.min() < len(getattr(data, table)) / 2, table


def test_without_defects_the_tables_are_exactly_the_clean_rows():
    spoiled = simulate(n_customers=300, seed=5)
    pristine = simulate(n_customers=300, seed=5, defects=False)
    assert pristine.truth.defects.empty
    assert list(pristine.truth.defects.columns) == ["table", "row", "rule"]
    for name in TABLE_NAMES:
        pd.testing.assert_frame_equal(clean(spoiled, name), getattr(pristine, name))


def test_nothing_happens_after_the_end_except_planted_future_rows(data):
    start = pd.Timestamp("2024-01-01")
    columns = {
        "orders": "order_ts",
        "touchpoints": "ts",
        "feedback": "ts",
        "experiments": "assigned_ts",
        "spend": "date",
        "customers": "signup_date",
    }
    for name, column in columns.items():
        ts = clean(data, name)[column]
        assert ts.min() >= start and ts.max() < END, name


def test_top_fifth_of_customers_bring_most_revenue(revenue):
    ranked = revenue["revenue"].sort_values(ascending=False)
    top_share = ranked.iloc[: len(ranked) // 5].sum() / ranked.sum()
    assert 0.6 < top_share < 0.9


def test_orders_peak_before_christmas_and_dip_in_summer(orders):
    months = orders["order_ts"].dt.month.value_counts()
    assert months[[11, 12]].sum() > 1.4 * months[[6, 7]].sum()


def test_vips_bring_far_more_revenue(revenue):
    vip = revenue["vip"]
    assert revenue.loc[vip, "revenue"].mean() > 3 * revenue.loc[~vip, "revenue"].mean()


def test_discount_abusers_take_discounts_and_return_orders(orders):
    abuser = orders["discount_abuser"]
    discounted = orders["discount"] > 0
    returned = orders["returned"].astype(bool)
    regular = ~orders[["vip", "discount_abuser", "cherry_picker"]].any(axis=1)
    assert discounted[abuser].mean() > 0.75 and discounted[regular].mean() < 0.3
    assert 0.35 < returned[abuser].mean() < 0.55 and returned[regular].mean() < 0.1


def test_cherry_pickers_buy_only_in_sales_and_with_discounts(orders):
    picker = orders["cherry_picker"].to_numpy()
    sale = in_promotion(orders["order_ts"])
    assert picker.sum() > 50
    assert sale[picker].all()
    assert sale[~picker].mean() < 0.3
    assert (orders.loc[picker, "discount"] > 0).mean() > 0.85


def test_churned_customers_go_quiet_months_before_the_end(data, orders):
    churned = set(data.truth.customers.loc[data.truth.customers["churned"], "customer_id"])
    quiet_from = END - pd.Timedelta(days=90)
    for name, column in (("orders", "order_ts"), ("touchpoints", "ts"), ("feedback", "ts")):
        frame = clean(data, name)
        assert not ((frame[column] >= quiet_from) & frame["customer_id"].isin(churned)).any()
    idle = (END - orders.groupby("customer_id")["order_ts"].max()).dt.days
    is_churned = idle.index.isin(churned)
    assert idle[is_churned].mean() > idle[~is_churned].mean() + 90


def test_charmed_customers_order_again_after_praise(data):
    flags = data.truth.customers.set_index("customer_id")["charmed"]
    praise = data.feedback[data.feedback["score"] >= 9].sort_values("ts")
    orders = clean(data, "orders")[["customer_id", "order_ts"]].sort_values("order_ts")
    following = pd.merge_asof(
        praise,
        orders,
        left_on="ts",
        right_on="order_ts",
        by="customer_id",
        direction="forward",
        allow_exact_matches=False,
    )
    again = (following["order_ts"] - following["ts"]) <= pd.Timedelta(days=10)
    charmed = following["customer_id"].map(flags).to_numpy()
    assert again[charmed].mean() > 0.8
    assert again[~charmed].mean() < 0.35


def test_experiment_conversion_matches_the_planted_rates(data):
    truth = data.truth.experiments.set_index("experiment")
    orders = clean(data, "orders")[["customer_id", "order_ts"]]
    for name, assigned in data.experiments.groupby("experiment"):
        window = pd.Timedelta(days=int(truth.loc[name, "window_days"]))
        joined = assigned.merge(orders, on="customer_id", how="left")
        joined["inside"] = (joined["order_ts"] >= joined["assigned_ts"]) & (
            joined["order_ts"] < joined["assigned_ts"] + window
        )
        per_customer = joined.groupby(["customer_id", "variant"])["inside"].sum()
        assert per_customer.max() == 1
        converted = (per_customer > 0).groupby(level="variant").agg(["mean", "size"])
        for variant in ("control", "treatment"):
            planted = truth.loc[name, f"{variant}_rate"]
            rate, size = converted.loc[variant]
            assert abs(rate - planted) < 4 * np.sqrt(planted * (1 - planted) / size), name


def test_experiments_assign_two_fifths_in_two_separate_windows(data):
    experiments = data.experiments
    assert experiments["experiment"].nunique() == 2
    assert experiments["variant"].value_counts(normalize=True)["treatment"] == pytest.approx(
        0.5, abs=0.05
    )
    spans = experiments.groupby("experiment")["assigned_ts"].agg(["min", "max"])
    assert ((spans["max"] - spans["min"]) < pd.Timedelta(days=14)).all()
    first, second = spans.sort_values("min").itertuples()
    assert second.min > first.max + pd.Timedelta(days=30)
    share = experiments.groupby("experiment").size() / N
    assert ((share > 0.05) & (share < 0.4)).all()


def test_direct_takes_many_last_touches_without_any_effect(data):
    touches = clean(data, "touchpoints")[["customer_id", "ts", "channel"]].sort_values("ts")
    orders = clean(data, "orders").sort_values("order_ts")
    last = pd.merge_asof(
        orders,
        touches,
        left_on="order_ts",
        right_on="ts",
        by="customer_id",
        direction="backward",
        tolerance=pd.Timedelta(days=1),
    )
    tracked = last["channel"].notna()
    assert 0.05 < 1 - tracked.mean() < 0.25  # untracked orders
    shares = last.loc[tracked, "channel"].value_counts(normalize=True)
    assert shares.index[0] == "direct" and shares["direct"] > 0.3


def test_touches_follow_the_funnel_and_the_channel_interactions(data):
    touches = clean(data, "touchpoints")
    allowed = {
        "paid_search": {"click"},
        "display": {"impression", "click"},
        "paid_social": {"impression", "click"},
        "email": {"email_open", "click"},
        "affiliate": {"click"},
        "organic_search": {"visit"},
        "referral": {"visit"},
        "direct": {"visit"},
    }
    seen = touches.groupby("channel")["interaction"].unique()
    assert {channel: set(values) for channel, values in seen.items()} == allowed
    first = touches.groupby("customer_id")["channel"].first().value_counts(normalize=True)
    overall = touches["channel"].value_counts(normalize=True)
    awareness = ["display", "paid_social"]
    assert first[awareness].sum() > 1.3 * overall[awareness].sum()
    assert touches.groupby("campaign")["channel"].nunique().max() == 1
    campaigns = touches.groupby("channel")["campaign"].nunique()
    assert campaigns.between(1, 3).all() and (campaigns[list(PAID)] >= 2).all()


def test_touch_costs_only_for_paid_channels(data):
    touches = clean(data, "touchpoints")
    paid = touches["channel"].isin(PAID)
    assert touches.loc[~paid, "cost"].isna().all()
    assert (touches.loc[paid, "cost"] > 0).all()
    per_click = touches[touches["interaction"] == "click"].groupby("channel")["cost"].mean()
    assert (
        per_click["paid_search"]
        > 10 * touches.loc[touches["interaction"] == "impression", "cost"].mean()
    )


def test_spend_covers_every_day_and_paid_campaign(data):
    spend, touches = data.spend, clean(data, "touchpoints")
    days = pd.date_range("2024-01-01", "2025-12-31")
    assert spend["date"].nunique() == len(days)
    assert set(spend["channel"]) == set(PAID)
    assert len(spend) == len(days) * spend["campaign"].nunique()
    assert (spend["clicks"] <= spend["impressions"]).all()
    assert (spend["cost"] >= 0).all()
    touched = touches.groupby("campaign").size()
    delivered = spend.groupby("campaign")["impressions"].sum()
    assert (delivered > 10 * touched.reindex(delivered.index)).all()


def test_customers_look_real(data):
    customers = clean(data, "customers")
    assert customers["age"].between(18, 85).all()
    assert 0.02 < customers["age"].isna().mean() < 0.06
    assert customers.groupby("city")["country"].nunique().max() == 1
    assert set(customers["country"]) == {"US", "GB", "DE", "FR", "ES", "NL"}
    tags = customers["interests"].str.split("|")
    assert tags.str.len().between(1, 3).all()
    assert (tags.map(lambda t: len(set(t))) == tags.str.len()).all()
    assert 0.65 < customers["consent_marketing"].mean() < 0.75
    assert set(customers["income_band"]) == {"low", "middle", "high", "very_high"}


def test_a_few_emails_are_malformed_and_all_are_fake(data):
    emails = clean(data, "customers")["email"]
    well_formed = emails.str.fullmatch(r"[a-z]+\.[a-z]+\d+@example\.(com|org|net)")
    assert 0.01 < 1 - well_formed.mean() < 0.06
    assert emails.str.contains("example").all()


def test_behaviours_have_their_shares_and_rarely_overlap(data):
    flags = data.truth.customers[BEHAVIOURS]
    shares = flags.mean()
    assert 0.03 < shares["vip"] < 0.07 and 0.03 < shares["discount_abuser"] < 0.07
    assert 0.04 < shares["cherry_picker"] < 0.08 and 0.06 < shares["charmed"] < 0.10
    assert 0.2 < shares["churned"] < 0.3
    assert (flags.drop(columns="churned").sum(axis=1) <= 1).all()


def test_promotion_periods_are_the_yearly_sales():
    periods = promotion_periods("2024-01-01", "2025-12-31")
    assert periods["promotion"].tolist() == ["january_sale", "summer_sale", "black_friday"] * 2
    black_friday = periods.loc[periods["promotion"] == "black_friday", "start"]
    assert black_friday.dt.strftime("%Y-%m-%d").tolist() == ["2024-11-29", "2025-11-28"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"n_customers": 10}, "n_customers"),
        ({"n_customers": 2000.5}, "n_customers"),
        ({"start": "2024-01-01", "end": "2024-03-01"}, "180 days"),
    ],
)
def test_bad_arguments_raise_a_clear_error(arguments, message):
    with pytest.raises(ParameterError, match=message):
        simulate(**arguments)
