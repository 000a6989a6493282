"""Shapley attribution: Zhao et al.'s reference numbers, brute force, axioms, engines, bad input."""

from __future__ import annotations

import itertools
import warnings

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pytest

from segkit.errors import DataContractError
from segkit.journeys import journeys_from_paths
from segkit.shapley_attribution import shapley_credits, shapley_ordered_positions

VARIANTS = ("simplified", "rate", "ordered")


def journeys(paths: list[str], conversions, nulls=None, revenue=None) -> pd.DataFrame:
    """Long-format journeys from ``"A > B"`` paths and their counts."""
    table = pd.DataFrame(
        {
            "path": paths,
            "total_conversions": conversions,
            "total_null": nulls if nulls is not None else [0.0] * len(paths),
            "total_conversion_value": revenue if revenue is not None else conversions,
        }
    )
    return journeys_from_paths(table)


def credits(frame, **options) -> dict[str, float]:
    """``{channel: conversions}`` of ``shapley_credits``, warnings about clipping silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        result = shapley_credits(frame, **options)
    return dict(zip(result["channel"], result["conversions"], strict=True))


@pytest.fixture
def reference() -> pd.DataFrame:
    """The example: exact sets {A}: 10, {B}: 5, {A,B}: 6, {B,C}: 4, {A,B,C}: 3 conversions."""
    return journeys(
        ["A", "B", "B > A", "C > B > C", "A > C > B", "C", "D > A"],
        [10, 5, 6, 4, 3, 0, 0],
        nulls=[20, 30, 10, 5, 2, 40, 3],
        revenue=[100.0, 50.0, 60.0, 40.0, 30.0, 0.0, 0.0],
    )


# --- brute force: the Shapley formula over permutations, from a dict of channel sets --------


def exact_sets(frame: pd.DataFrame) -> dict[frozenset, np.ndarray]:
    """``{channel set: [conversions, nulls, revenue]}`` summed over journeys, by plain Python."""
    sets: dict[frozenset, np.ndarray] = {}
    for _, journey in frame.groupby("journey_id"):
        key = frozenset(journey["channel"])
        values = journey[["conversions", "nulls", "revenue"]].iloc[0].to_numpy(dtype=float)
        sets[key] = sets.get(key, np.zeros(3)) + values
    return sets


def brute_shapley(players: list[str], worth) -> dict[str, float]:
    """Average marginal contribution over every order in which the players can arrive."""
    totals = dict.fromkeys(players, 0.0)
    orders = list(itertools.permutations(players))
    for order in orders:
        coalition: frozenset = frozenset()
        for player in order:
            totals[player] += worth(coalition | {player}) - worth(coalition)
            coalition = coalition | {player}
    return {player: total / len(orders) for player, total in totals.items()}


def brute_simplified(frame: pd.DataFrame) -> dict[str, float]:
    sets = exact_sets(frame)
    players = sorted(set().union(*sets))
    return brute_shapley(players, lambda s: sum(v[0] for t, v in sets.items() if t <= s))


def brute_rate(frame: pd.DataFrame) -> dict[str, float]:
    """Rate game v(S) = C(S) / (C(S) + D(S)) over subsets, clipped at 0, scaled to the total."""
    sets = exact_sets(frame)
    players = sorted(set().union(*sets))

    def rate(coalition: frozenset) -> float:
        inside = [v for t, v in sets.items() if t <= coalition]
        converted = sum(v[0] for v in inside)
        trials = converted + sum(v[1] for v in inside)
        return converted / trials if trials > 0 else 0.0

    raw = brute_shapley(players, rate)
    positive = {player: max(value, 0.0) for player, value in raw.items()}
    total = sum(v[0] for v in sets.values())
    scale = total / sum(positive.values()) if total and sum(positive.values()) else 0.0
    return {player: value * scale for player, value in positive.items()}


def random_journeys(seed: int, n_channels: int = 5, n_paths: int = 25) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    names = [f"ch{i}" for i in range(n_channels)]
    paths = [
        " > ".join(rng.choice(names, size=rng.integers(1, 5), replace=True)) for _ in range(n_paths)
    ]
    conversions = np.round(rng.exponential(3.0, n_paths) * (rng.random(n_paths) < 0.7), 2)
    nulls = rng.integers(0, 20, n_paths).astype(float)
    return journeys(paths, conversions, nulls=nulls, revenue=conversions * 11.5)


# --- the reference example and hand-worked values --------------------------------------------


def test_reference_example_is_exact(reference):
    assert credits(reference) == {"A": 14.0, "B": 11.0, "C": 3.0, "D": 0.0}
    result = shapley_credits(reference)
    assert result["revenue"].tolist() == [140.0, 110.0, 30.0, 0.0]
    assert list(result.columns) == ["channel", "conversions", "revenue"]


def test_ordered_sums_to_simplified_on_the_reference(reference):
    assert credits(reference, variant="ordered") == pytest.approx(credits(reference))


def test_rate_by_hand():
    # v(A) = 1/2, v(B) = 0, v(AB) = 3/5: phi_A = (1/2 + 3/5) / 2 = 0.55, phi_B = 0.05,
    # scaled by 3 / v(AB) = 5 to the 3 conversions.
    frame = journeys(["A", "B", "A > B"], [1, 0, 2], nulls=[1, 1, 0], revenue=[10, 0, 20])
    result = shapley_credits(frame, variant="rate")
    assert result["conversions"].tolist() == pytest.approx([2.75, 0.25])
    # revenue per journey: v(A) = 5, v(B) = 0, v(AB) = 6 -> phi = (5.5, 0.5), scaled to 30
    assert result["revenue"].tolist() == pytest.approx([27.5, 2.5])


def test_ordered_positions_split_repeated_touches():
    frame = journeys(["A > B > A", "B"], [6, 1], revenue=[60, 10])
    positions = shapley_ordered_positions(frame)
    assert positions[["channel", "step"]].values.tolist() == [
        ["A", 1],
        ["A", 3],
        ["B", 1],
        ["B", 2],
    ]
    assert positions["conversions"].tolist() == [1.5, 1.5, 1.0, 3.0]
    assert positions["revenue"].tolist() == [15.0, 15.0, 10.0, 30.0]


# --- against brute force ------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_simplified_matches_the_full_shapley_formula(seed):
    frame = random_journeys(seed)
    assert credits(frame) == pytest.approx(brute_simplified(frame))


@pytest.mark.parametrize("seed", range(6))
def test_rate_matches_brute_force(seed):
    frame = random_journeys(seed)
    assert credits(frame, variant="rate") == pytest.approx(brute_rate(frame))


@pytest.mark.parametrize("seed", range(4))
def test_ordered_positions_sum_to_simplified(seed):
    frame = random_journeys(seed)
    positions = shapley_ordered_positions(frame)
    per_channel = positions.groupby("channel")["conversions"].sum().to_dict()
    assert per_channel == pytest.approx(credits(frame))
    assert credits(frame, variant="ordered") == pytest.approx(credits(frame))


def many_channels(n_channels: int) -> pd.DataFrame:
    names = [f"c{i:03d}" for i in range(n_channels)]
    paths = [
        f"{names[i]} > {names[(i * 7) % n_channels]} > {names[n_channels - 1 - i]}"
        for i in range(n_channels)
    ]
    paths.append(" > ".join(names))  # a journey with every bit of every word set
    return journeys(paths, [1.0 + i % 3 for i in range(n_channels + 1)])


@pytest.mark.parametrize("n_channels", [62, 63, 130])
def test_any_number_of_channels(n_channels):
    # <= 62 channels: one int64 bitmask word; more: several words, one per 62 channels.
    frame = many_channels(n_channels)
    assert credits(frame) == pytest.approx(brute_linear(frame))


@pytest.mark.parametrize("engine", ("polars", "duckdb"))
def test_many_channels_agree_across_engines(engine):
    frame = many_channels(70)
    expected = shapley_credits(frame)
    pd.testing.assert_frame_equal(shapley_credits(as_engine(frame, engine)), expected, rtol=1e-12)


def brute_linear(frame: pd.DataFrame) -> dict[str, float]:
    """``sum over sets T containing i of conversions(T) / |T|``, by plain Python."""
    result: dict[str, float] = {}
    for channels, values in exact_sets(frame).items():
        for channel in channels:
            result[channel] = result.get(channel, 0.0) + values[0] / len(channels)
    return result


# --- axioms ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("seed", range(3))
def test_efficiency(variant, seed):
    frame = random_journeys(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        result = shapley_credits(frame, variant=variant)
    per_journey = frame.groupby("journey_id")[["conversions", "revenue"]].first().sum()
    assert result["conversions"].sum() == pytest.approx(per_journey["conversions"])
    assert result["revenue"].sum() == pytest.approx(per_journey["revenue"])
    assert (result[["conversions", "revenue"]] >= 0).all().all()


@pytest.mark.parametrize("variant", VARIANTS)
def test_symmetry_and_dummy(variant):
    # A and B are interchangeable in every journey; D is only in non-converting journeys.
    frame = journeys(
        ["A", "B", "A > B > C", "C > B > A", "A > C", "B > C", "D", "D > C"],
        [3, 3, 2, 2, 4, 4, 0, 0],
        nulls=[5, 5, 1, 1, 2, 2, 9, 4],
    )
    result = credits(frame, variant=variant)
    assert result["A"] == pytest.approx(result["B"])
    assert result["D"] == 0.0
    assert sum(result.values()) == pytest.approx(18.0)


@pytest.mark.parametrize("variant", VARIANTS)
def test_renaming_channels_renames_credits(variant):
    frame = random_journeys(11)
    rename = {f"ch{i}": name for i, name in enumerate(["zeta", "alpha", "mu", "beta", "omega"])}
    renamed = frame.assign(channel=frame["channel"].map(rename))
    original = credits(frame, variant=variant)
    assert credits(renamed, variant=variant) == pytest.approx(
        {rename[channel]: value for channel, value in original.items()}
    )


@pytest.mark.parametrize("variant", ("simplified", "rate"))
def test_repeated_channels_count_once(variant):
    repeated = journeys(["A > A > B", "B > B", "A"], [2, 1, 1], nulls=[1, 3, 2])
    once = journeys(["A > B", "B", "A"], [2, 1, 1], nulls=[1, 3, 2])
    assert credits(repeated, variant=variant) == pytest.approx(credits(once, variant=variant))


@pytest.mark.parametrize("variant", VARIANTS)
def test_fractional_conversions(variant):
    frame = journeys(["A > B", "A", "C > B"], [0.5, 0.25, 1.75], nulls=[1, 1, 1])
    result = credits(frame, variant=variant)
    assert sum(result.values()) == pytest.approx(2.5)
    if variant != "rate":
        assert result == pytest.approx({"A": 0.5, "B": 1.125, "C": 0.875})


def test_negative_rate_values_are_clipped_with_a_warning():
    # C joins only non-converting journeys: its raw rate Shapley value is negative.
    frame = journeys(["A", "A > C", "C"], [4, 0, 0], nulls=[4, 8, 8])
    with pytest.warns(UserWarning, match="negative for C"):
        result = shapley_credits(frame, variant="rate")
    assert result["conversions"].tolist() == [4.0, 0.0]


# --- groups and engines ---------------------------------------------------------------------------


def segmented(seed: int = 3) -> pd.DataFrame:
    frame = random_journeys(seed, n_paths=40)
    number = frame["journey_id"].str[1:].astype(int)
    return frame.assign(segment=np.where(number % 3 == 0, "loyal", "new"), region=number % 2)


@pytest.mark.parametrize("variant", VARIANTS)
def test_by_groups_equal_separate_runs(variant):
    frame = segmented()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        grouped = shapley_credits(frame, by=["segment", "region"], variant=variant)
    assert list(grouped.columns) == ["segment", "region", "channel", "conversions", "revenue"]
    assert grouped.equals(grouped.sort_values(["segment", "region", "channel"]))
    for (segment, region), part in frame.groupby(["segment", "region"]):
        expected = credits(part, variant=variant)
        mask = (grouped["segment"] == segment) & (grouped["region"] == region)
        found = dict(
            zip(grouped.loc[mask, "channel"], grouped.loc[mask, "conversions"], strict=True)
        )
        assert found == pytest.approx(expected)


def as_engine(frame: pd.DataFrame, engine: str):
    if engine == "pandas":
        return frame
    if engine == "polars":
        return pl.from_pandas(frame)
    if engine == "polars-lazy":
        return pl.from_pandas(frame).lazy()
    return duckdb.from_df(frame)


@pytest.mark.parametrize("engine", ("polars", "polars-lazy", "duckdb"))
@pytest.mark.parametrize("variant", VARIANTS)
def test_engines_agree_with_pandas(engine, variant):
    frame = segmented()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        expected = shapley_credits(frame, by="segment", variant=variant)
        found = shapley_credits(as_engine(frame, engine), by="segment", variant=variant)
    pd.testing.assert_frame_equal(found, expected, check_dtype=False, rtol=1e-12)


@pytest.mark.parametrize("engine", ("polars", "duckdb"))
def test_ordered_positions_agree_across_engines(engine):
    frame = segmented()
    expected = shapley_ordered_positions(frame, by="segment")
    found = shapley_ordered_positions(as_engine(frame, engine), by="segment")
    pd.testing.assert_frame_equal(found, expected, check_dtype=False, rtol=1e-12)


def test_input_is_not_mutated():
    frame = segmented()
    before = frame.copy()
    for variant in VARIANTS:
        credits(frame, by="segment", variant=variant)
    pd.testing.assert_frame_equal(frame, before)


# --- edge cases and bad input ---------------------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
def test_single_channel_gets_everything(variant):
    frame = journeys(["email", "email > email"], [3, 2], nulls=[4, 1], revenue=[30, 25])
    result = shapley_credits(frame, variant=variant)
    assert result.to_dict("list") == {"channel": ["email"], "conversions": [5.0], "revenue": [55.0]}


@pytest.mark.parametrize("variant", VARIANTS)
def test_no_conversions_gives_zeros(variant):
    frame = journeys(["A > B", "B", "C"], [0, 0, 0], nulls=[3, 2, 1])
    result = shapley_credits(frame, variant=variant)
    assert result["channel"].tolist() == ["A", "B", "C"]
    assert (result[["conversions", "revenue"]] == 0).all().all()


def test_empty_journeys_give_an_empty_table():
    frame = journeys(["A"], [1]).iloc[:0]
    for variant in VARIANTS:
        result = shapley_credits(frame, by=(), variant=variant)
        assert result.empty
        assert list(result.columns) == ["channel", "conversions", "revenue"]


def test_too_many_channels_for_rate():
    names = [f"c{i:02d}" for i in range(21)]
    frame = journeys([" > ".join(names), "c00"], [1, 1])
    with pytest.raises(ValueError, match=r"21 channels .*max_channels=20"):
        shapley_credits(frame, variant="rate")
    with pytest.raises(ValueError, match=r"segment='s'"):
        shapley_credits(frame.assign(segment="s"), by="segment", variant="rate")
    small = journeys(["A > B > C", "D"], [1, 1])
    with pytest.raises(ValueError, match=r"4 channels is more than max_channels=3"):
        shapley_credits(small, variant="rate", max_channels=3)
    assert sum(credits(small, variant="rate", max_channels=4).values()) == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("variant", "column"),
    [("simplified", "conversions"), ("rate", "nulls"), ("ordered", "step"), ("simplified", "x")],
)
def test_missing_columns(variant, column):
    frame = journeys(["A"], [1])
    if column in frame:
        frame = frame.drop(columns=column)
    with pytest.raises(DataContractError, match=f"column '{column}'"):
        shapley_credits(frame, by="x" if column == "x" else (), variant=variant)


def test_missing_channel_is_a_contract_error():
    frame = journeys(["A > B"], [1])
    frame.loc[1, "channel"] = None
    with pytest.raises(DataContractError, match="channel"):
        shapley_credits(frame)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"variant": "markov"}, "variant must be one of simplified, rate, ordered"),
        ({"variant": "rate", "max_channels": 0}, "max_channels"),
    ],
)
def test_bad_arguments(options, message):
    with pytest.raises(ValueError, match=message):
        shapley_credits(journeys(["A"], [1]), **options)


def test_not_a_frame():
    with pytest.raises(TypeError, match="journeys"):
        shapley_credits([{"channel": "A"}])
