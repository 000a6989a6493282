"""Rule-based attribution: hand-computed shares for every model, options, engines, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segkit.errors import DataContractError
from segkit.heuristic_attribution import HEURISTIC_MODELS, heuristic_credits
from segkit.journeys import journeys_from_paths
from tests.conftest import ENGINES


def journey(
    channels: list[str],
    days: list[float] | None = None,
    conversions: float = 1.0,
    revenue: float = 100.0,
    journey_id: str = "j1",
    **extra: object,
) -> pd.DataFrame:
    """One journey in the long format; ``days`` before conversion per step (NaN when None)."""
    steps = len(channels)
    return pd.DataFrame(
        {
            "journey_id": journey_id,
            "customer_id": "c-" + journey_id,
            "step": np.arange(1, steps + 1),
            "steps": steps,
            "channel": channels,
            "days_before_conversion": np.nan if days is None else np.asarray(days, "float64"),
            "conversions": conversions,
            "nulls": 0.0 if conversions > 0 else 1.0,
            "revenue": revenue,
            **extra,
        }
    )


def step_shares(model: str, steps: int, **options: object) -> list[float]:
    """Each step's share of one conversion, read through one distinct channel per step."""
    channels = [f"c{i}" for i in range(1, steps + 1)]
    credits = heuristic_credits(journey(channels, days=options.pop("days", None)), model, **options)
    return credits.set_index("channel").loc[channels, "conversions"].tolist()


@pytest.mark.parametrize(
    ("model", "steps", "expected"),
    [
        ("first_touch", 3, [1, 0, 0]),
        ("last_touch", 3, [0, 0, 1]),
        ("linear", 4, [0.25] * 4),
        ("position_based", 5, [0.4, 0.2 / 3, 0.2 / 3, 0.2 / 3, 0.4]),
        ("position_based", 3, [0.4, 0.2, 0.4]),
        ("position_based", 2, [0.5, 0.5]),
        ("position_based", 1, [1.0]),
        ("j_shaped", 4, [0.2, 0.1, 0.1, 0.6]),
        ("j_shaped", 2, [0.25, 0.75]),
        ("inverse_j", 3, [0.6, 0.2, 0.2]),
        ("inverse_j", 2, [0.75, 0.25]),
        ("w_shaped", 5, [0.3, 0.05, 0.3, 0.05, 0.3]),
        ("w_shaped", 4, [0.3, 0.1, 0.3, 0.3]),  # lead: the later middle touch, step 3
        ("w_shaped", 6, [0.3, 1 / 30, 1 / 30, 0.3, 1 / 30, 0.3]),
        ("w_shaped", 3, [1 / 3] * 3),  # nothing left for "the others": 90 % renormalised
        ("w_shaped", 2, [0.5, 0.5]),
        ("w_shaped", 1, [1.0]),
    ],
)
def test_positional_models_give_hand_computed_shares(model, steps, expected):
    assert step_shares(model, steps) == pytest.approx(expected)


def test_position_based_five_touches_rounded_like_a_report():
    assert [round(s, 4) for s in step_shares("position_based", 5)] == [
        0.4,
        0.0667,
        0.0667,
        0.0667,
        0.4,
    ]


def test_w_shaped_lead_step_by_position_and_by_flag_column():
    assert step_shares("w_shaped", 5, lead_step=2) == pytest.approx([0.3, 0.3, 0.05, 0.05, 0.3])
    # a lead outside the middle is kept strictly between first and last
    assert step_shares("w_shaped", 4, lead_step=9) == pytest.approx([0.3, 0.1, 0.3, 0.3])
    flagged = journey(["a", "b", "c", "d", "e"], lead=[False, False, False, True, True])
    credits = heuristic_credits(flagged, "w_shaped", lead_step="lead").set_index("channel")
    assert credits["conversions"].tolist() == pytest.approx([0.3, 0.05, 0.05, 0.3, 0.3])
    unflagged = journey(["a", "b", "c", "d", "e"], lead=[False] * 5)
    credits = heuristic_credits(unflagged, "w_shaped", lead_step="lead")
    assert credits["conversions"].tolist() == pytest.approx([0.3, 0.05, 0.3, 0.05, 0.3])


def test_time_decay_halves_credit_every_half_life():
    # weights 2^-2, 2^-1, 2^0 = 1/4, 1/2, 1 over 7/4
    assert step_shares("time_decay", 3, days=[14, 7, 0]) == pytest.approx([1 / 7, 2 / 7, 4 / 7])
    weights = np.array([2 ** (-10 / 14), 2 ** (-3 / 14), 1.0])
    shares = step_shares("time_decay", 3, days=[10, 3, 0], half_life_days=14)
    assert shares == pytest.approx(weights / weights.sum())
    # only relative times matter, and very old touches do not underflow to 0 / 0
    assert step_shares("time_decay", 2, days=[5007, 5000]) == pytest.approx([1 / 3, 2 / 3])


def test_time_decay_without_times_is_a_clear_error():
    paths = pd.DataFrame({"path": ["a > b"], "total_conversions": [1], "total_null": [0]})
    journeys = journeys_from_paths(paths, value=None)
    with pytest.raises(ValueError, match="days_before_conversion.*aggregated paths"):
        heuristic_credits(journeys, "time_decay")
    with pytest.raises(ValueError, match="days_before_conversion"):
        heuristic_credits(journey(["a", "b"], days=[3, -1]), "time_decay")


def test_time_decay_ignores_missing_times_of_non_converting_journeys():
    journeys = pd.concat(
        [journey(["a", "b"], days=[7, 0]), journey(["c"], conversions=0, journey_id="j2")]
    )
    credits = heuristic_credits(journeys, "time_decay").set_index("channel")["conversions"]
    assert credits.to_dict() == pytest.approx({"a": 1 / 3, "b": 2 / 3, "c": 0.0})


def test_last_non_direct_skips_direct_touches():
    credits = heuristic_credits(journey(["email", "search", "direct", "direct"]), "last_non_direct")
    assert credits.set_index("channel")["conversions"].to_dict() == {
        "direct": 0.0,
        "email": 0.0,
        "search": 1.0,
    }


def test_last_non_direct_all_direct_journey_credits_its_last_step():
    only_direct = journey(["direct", "brand"])
    credits = heuristic_credits(only_direct, "last_non_direct", direct_channels=["direct", "brand"])
    assert credits.set_index("channel")["conversions"].to_dict() == {"brand": 1.0, "direct": 0.0}
    credits = heuristic_credits(journey(["direct"]), "last_non_direct")
    assert credits["conversions"].tolist() == [1.0]


def test_last_non_direct_direct_channels_is_configurable():
    journeys = journey(["search", "email", "direct"])
    credits = heuristic_credits(journeys, "last_non_direct", direct_channels="email")
    assert credits.set_index("channel")["conversions"].to_dict() == {
        "direct": 1.0,
        "email": 0.0,
        "search": 0.0,
    }


def test_custom_weights_by_first_last_middle_and_by_position():
    weights = {"first": 2, "last": 1, "middle": 1}
    assert step_shares("custom", 4, weights=weights) == pytest.approx([0.5, 0.125, 0.125, 0.25])
    assert step_shares("custom", 2, weights=weights) == pytest.approx([2 / 3, 1 / 3])
    assert step_shares("custom", 3, weights={"last": 1}) == pytest.approx([0, 0, 1])
    assert step_shares("custom", 3, weights=[1, 2, 1]) == pytest.approx([0.25, 0.5, 0.25])
    numpy_weights = np.array([1.0, 3.0])
    assert step_shares("custom", 2, weights=numpy_weights) == pytest.approx([0.25, 0.75])
    numpy_scalars = {"first": np.int64(1), "last": np.float32(1)}
    assert step_shares("custom", 2, weights=numpy_scalars) == pytest.approx([0.5, 0.5])


def test_custom_position_weights_need_journeys_of_that_length():
    with pytest.raises(ValueError, match="exactly 3 touches"):
        heuristic_credits(journey(["a", "b"]), "custom", weights=[1, 2, 1])
    # non-converting journeys of another length get no credit anyway
    journeys = pd.concat([journey(["a", "b", "c"]), journey(["d"], conversions=0, journey_id="x")])
    assert heuristic_credits(journeys, "custom", weights=[1, 2, 1])["conversions"].sum() == 1.0


@pytest.mark.parametrize(
    "weights",
    [
        None,
        {"first": 0, "last": 0, "middle": 1},
        {"frist": 1},
        [0, 0],
        [1, -1],
        "ab",
        [],
        [1, None],
    ],
)
def test_custom_rejects_unusable_weights(weights):
    with pytest.raises(ValueError, match="custom"):
        heuristic_credits(journey(["a", "b"]), "custom", weights=weights)


def test_credit_multiplies_conversions_and_revenue_and_keeps_fractions():
    credits = heuristic_credits(
        journey(["a", "b", "a"], conversions=0.5, revenue=30.0), "linear"
    ).set_index("channel")
    # a repeated channel gets one share per touch
    assert credits.loc["a"].tolist() == pytest.approx([1 / 3, 20.0])
    assert credits.loc["b"].tolist() == pytest.approx([1 / 6, 10.0])


def test_groups_by_columns_and_sorts():
    journeys = pd.concat(
        [
            journey(["b", "a"], journey_id="j1", segment="Y"),
            journey(["a"], journey_id="j2", segment="X", conversions=2.0),
        ]
    )
    credits = heuristic_credits(journeys, "first_touch", by=["segment"])
    assert credits.values.tolist() == [
        ["X", "a", 2.0, 100.0],
        ["Y", "a", 0.0, 0.0],
        ["Y", "b", 1.0, 100.0],
    ]
    assert heuristic_credits(journeys, "first_touch", by="segment").equals(credits)


def test_no_conversions_at_all_gives_every_channel_zero():
    journeys = pd.concat(
        [journey(["a", "b"], conversions=0), journey(["c"], conversions=0, journey_id="j2")]
    )
    for model in ("first_touch", "linear", "time_decay", "w_shaped"):
        credits = heuristic_credits(journeys, model)
        assert credits["channel"].tolist() == ["a", "b", "c"]
        assert credits[["conversions", "revenue"]].to_numpy().tolist() == [[0.0, 0.0]] * 3


@pytest.mark.parametrize("model", [m for m in HEURISTIC_MODELS if m != "custom"])
def test_a_single_channel_gets_everything(model):
    journeys = pd.concat(
        [
            journey(["email"] * 3, days=[5, 2, 0], revenue=10.0),
            journey(["email"], days=[0], journey_id="j2", revenue=5.0),
        ]
    )
    credits = heuristic_credits(journeys, model)
    assert credits["channel"].tolist() == ["email"]
    assert credits[["conversions", "revenue"]].iloc[0].tolist() == pytest.approx([2.0, 15.0])


def random_journeys(n: int = 60, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    channels = ["direct", "email", "search", "social"]
    parts = []
    for i in range(n):
        steps = int(rng.integers(1, 6))
        days = np.sort(rng.uniform(0, 30, steps))[::-1]
        converted = rng.random() < 0.6
        parts.append(
            journey(
                list(rng.choice(channels, steps)),
                days=days if converted else None,
                conversions=float(rng.choice([1.0, 0.5, 2.0])) if converted else 0.0,
                revenue=float(rng.uniform(10, 100)) if converted else 0.0,
                journey_id=f"j{i:03d}",
                segment=str(rng.choice(["A", "B"])),
                lead=rng.random(steps) < 0.3,
            )
        )
    return pd.concat(parts, ignore_index=True)


OTHER_ENGINES = {name: build for name, build in ENGINES.items() if name != "pandas"}
MODEL_OPTIONS = {
    "custom": {"weights": {"first": 3, "last": 2, "middle": 1}},
    "w_shaped": {"lead_step": "lead"},
    "time_decay": {"half_life_days": 3},
}


@pytest.fixture(scope="module")
def mixed() -> pd.DataFrame:
    return random_journeys()


@pytest.fixture(scope="module")
def pandas_credits(mixed) -> dict[str, pd.DataFrame]:
    """Every heuristic model's credits per segment, computed once with pandas."""
    return {
        model: heuristic_credits(mixed, model, by="segment", **MODEL_OPTIONS.get(model, {}))
        for model in HEURISTIC_MODELS
    }


@pytest.mark.parametrize("model", HEURISTIC_MODELS)
def test_credits_add_up_to_each_segments_conversions_and_revenue(model, mixed, pandas_credits):
    journeys = mixed.drop_duplicates("journey_id").groupby("segment")
    credits = pandas_credits[model].groupby("segment")
    assert (pandas_credits[model][["conversions", "revenue"]] >= 0).all().all()
    assert credits["conversions"].sum().to_numpy() == pytest.approx(journeys["conversions"].sum())
    assert credits["revenue"].sum().to_numpy() == pytest.approx(journeys["revenue"].sum())


@pytest.mark.parametrize("engine", OTHER_ENGINES)
@pytest.mark.parametrize("model", HEURISTIC_MODELS)
def test_engines_give_the_same_credits(model, engine, mixed, pandas_credits):
    native = OTHER_ENGINES[engine](mixed)
    result = heuristic_credits(native, model, by="segment", **MODEL_OPTIONS.get(model, {}))
    pd.testing.assert_frame_equal(result, pandas_credits[model], check_dtype=False, rtol=1e-12)


def test_unknown_model_and_option_list_the_valid_ones():
    with pytest.raises(ValueError, match="first_touch, last_touch, last_non_direct"):
        heuristic_credits(journey(["a"]), "u_shaped")
    with pytest.raises(TypeError, match="valid options: half_life_days"):
        heuristic_credits(journey(["a"], days=[0]), "time_decay", half_life=3)
    with pytest.raises(TypeError, match="valid options: none"):
        heuristic_credits(journey(["a"]), "linear", weights=[1])
    with pytest.raises(ValueError, match="half_life_days must be a positive"):
        heuristic_credits(journey(["a"], days=[0]), "time_decay", half_life_days=0)
    with pytest.raises(ValueError, match="lead_step"):
        heuristic_credits(journey(["a"]), "w_shaped", lead_step=0)


def test_missing_column_names_it():
    with pytest.raises(DataContractError, match="column 'revenue'"):
        heuristic_credits(journey(["a"]).drop(columns="revenue"), "linear")
    with pytest.raises(DataContractError, match="column 'segment'"):
        heuristic_credits(journey(["a"]), "linear", by="segment")


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("conversions", -1.0, "conversions ≥ 0"),
        ("conversions", np.nan, "conversions ≥ 0"),
        ("revenue", -5.0, "revenue ≥ 0"),
        ("step", 7, "1 ≤ step ≤ steps"),
        ("channel", None, "a channel on every step"),
    ],
)
def test_bad_rows_are_errors_naming_column_and_rows(column, value, message):
    journeys = journey(["a", "b"])
    journeys.loc[1, column] = value
    with pytest.raises(ValueError, match=message) as error:
        heuristic_credits(journeys, "linear")
    assert f"column '{column}'" in str(error.value) and "j1" in str(error.value)


def test_input_is_not_mutated():
    journeys = random_journeys(10)
    before = journeys.copy()
    heuristic_credits(journeys, "time_decay", by="segment")
    pd.testing.assert_frame_equal(journeys, before)
