"""Markov attribution: a published example, a brute-force chain, invariants, engines, bad input."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd
import pytest

import segkit.markov_attribution as markov
from segkit.errors import DataContractError
from segkit.journeys import journeys_from_paths
from segkit.markov_attribution import MarkovAttribution, markov_credits
from tests.conftest import ENGINES

#: Serhii Puzyrov, "Markov Chain Attribution – Simple Explanation Of Removal Effect" (2019),
#: serhiipuzyrov.com: removal effects 0.75 and 0.5, so 2.4 and 1.6 conversions.
REFERENCE = pd.DataFrame(
    {
        "path": ["google_ads", "mailing", "google_ads > mailing"],
        "total_conversions": [2, 1, 1],
        "total_conversion_value": [20.0, 10.0, 10.0],
        "total_null": [1, 0, 0],
    }
)


def paths_frame(paths: list[tuple[str, float, float]], value: float = 10.0) -> pd.DataFrame:
    """Aggregated paths from ``(path, conversions, nulls)``; revenue is ``value`` per conversion."""
    frame = pd.DataFrame(paths, columns=["path", "total_conversions", "total_null"])
    frame["total_conversion_value"] = frame["total_conversions"] * value
    return frame


def random_paths(seed: int, channels: int = 4, count: int = 25) -> list[tuple[str, float, float]]:
    rng = np.random.default_rng(seed)
    names = [f"c{i}" for i in range(channels)]
    paths = []
    for _ in range(count):
        path = " > ".join(rng.choice(names, size=rng.integers(1, 7)))
        conversions = float(rng.choice([0.0, 1.0, 2.5, rng.random()]))
        paths.append((path, conversions, float(rng.choice([0.0, 1.0, 3.0, rng.random()]))))
    return paths


def brute_force_removal_effects(
    paths: list[tuple[str, float, float]], order: int, collapse: bool = True
) -> dict[str, float]:
    """Removal effects from a dense solve of each modified chain, built with plain dicts."""
    counts: dict[tuple, float] = defaultdict(float)
    for path, conversions, nulls in paths:
        channels = [name.strip() for name in path.split(">")]
        if collapse:
            channels = [c for i, c in enumerate(channels) if i == 0 or c != channels[i - 1]]
        previous: object = "start"
        for i in range(len(channels)):
            state = tuple(channels[max(0, i - order + 1) : i + 1])
            counts[previous, state] += conversions + nulls
            previous = state
        counts[previous, "conversion"] += conversions
        counts[previous, "null"] += nulls

    def conversion_probability(removed: str | None) -> float:
        transient = sorted(
            {key for pair in counts for key in pair} - {"conversion", "null"}, key=str
        )
        index = {state: i for i, state in enumerate(transient)}
        moves = np.zeros((len(transient), len(transient)))
        converts = np.zeros(len(transient))
        for (origin, target), weight in counts.items():
            if isinstance(target, tuple) and removed in target:
                target = "null"
            if target == "conversion":
                converts[index[origin]] += weight
            elif target != "null":
                moves[index[origin], index[target]] += weight
        totals = np.zeros(len(transient))
        for (origin, _), weight in counts.items():
            totals[index[origin]] += weight
        scale = np.divide(1.0, totals, out=np.zeros_like(totals), where=totals > 0)
        system = np.eye(len(transient)) - moves * scale[:, None]
        return float(np.linalg.solve(system, converts * scale)[index["start"]])

    names = {c.strip() for path, _, _ in paths for c in path.split(">")}
    probability = conversion_probability(None)
    return {c: 1 - conversion_probability(c) / probability for c in sorted(names)}


def effects(model: MarkovAttribution) -> dict[str, float]:
    frame = model.removal_effects_
    return dict(zip(frame["channel"], frame["removal_effect"], strict=True))


# -- the published example -------------------------------------------------------------------


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_reference_example_is_exact(order: int) -> None:
    model = MarkovAttribution(order=order).fit(journeys_from_paths(REFERENCE))
    frame = model.removal_effects_
    assert frame["channel"].tolist() == ["google_ads", "mailing"]
    assert frame["removal_effect"].tolist() == pytest.approx([0.75, 0.5], abs=1e-15)
    credits = model.credits_
    assert credits["conversions"].tolist() == pytest.approx([2.4, 1.6], abs=1e-14)
    assert credits["revenue"].tolist() == pytest.approx([24.0, 16.0], abs=1e-13)
    assert model.conversion_probability_ == pytest.approx(0.8)


def test_reference_transition_matrix_matches_the_published_table() -> None:
    matrix = MarkovAttribution().fit(journeys_from_paths(REFERENCE)).transition_matrix_
    assert list(matrix.index) == ["(start)", "google_ads", "mailing"]
    assert list(matrix.columns) == ["google_ads", "mailing", "(conversion)", "(null)"]
    expected = [[0.8, 0.2, 0.0, 0.0], [0.0, 0.25, 0.5, 0.25], [0.0, 0.0, 1.0, 0.0]]
    np.testing.assert_allclose(matrix.to_numpy(), expected)


def test_markov_credits_is_sorted_by_group_then_channel() -> None:
    journeys = journeys_from_paths(paths_frame([("b > a", 1, 0), ("a", 1, 1), ("c", 0, 1)]))
    journeys["segment"] = journeys["journey_id"].map({"p0": "y", "p1": "x", "p2": "y"})
    credits = markov_credits(journeys, by="segment")
    assert list(credits.columns) == ["segment", "channel", "conversions", "revenue"]
    assert credits[["segment", "channel"]].values.tolist() == [
        ["x", "a"],
        ["y", "a"],
        ["y", "b"],
        ["y", "c"],
    ]


# -- exactness against a brute-force chain ---------------------------------------------------


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("collapse", [True, False])
def test_removal_effects_match_a_dense_solve_of_each_modified_chain(
    order: int, seed: int, collapse: bool
) -> None:
    paths = random_paths(seed)
    journeys = journeys_from_paths(paths_frame(paths))
    model = MarkovAttribution(order=order, collapse_repeats=collapse).fit(journeys)
    expected = brute_force_removal_effects(paths, order, collapse)
    assert effects(model) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("order", [1, 2, 3])
def test_iterative_solver_for_large_chains_agrees(monkeypatch, order: int) -> None:
    paths = random_paths(7, channels=5, count=60)
    journeys = journeys_from_paths(paths_frame(paths))
    monkeypatch.setattr(markov, "DENSE_STATES", 0)
    monkeypatch.setattr(markov, "DIRECT_STATES", 0)
    model = MarkovAttribution(order=order).fit(journeys)
    assert effects(model) == pytest.approx(brute_force_removal_effects(paths, order), abs=1e-11)


def test_an_iterative_solution_missing_its_error_bound_is_redone_by_lu(monkeypatch) -> None:
    paths = random_paths(12, channels=5, count=40)
    monkeypatch.setattr(markov, "DIRECT_STATES", 0)
    monkeypatch.setattr(markov, "TOLERANCE", -1.0)
    model = MarkovAttribution(order=2).fit(journeys_from_paths(paths_frame(paths)))
    assert effects(model) == pytest.approx(brute_force_removal_effects(paths, 2), abs=1e-12)


@pytest.mark.parametrize("collapse", [True, False])
def test_order_one_closed_form_equals_per_channel_solves(monkeypatch, collapse: bool) -> None:
    journeys = journeys_from_paths(paths_frame(random_paths(3, channels=6, count=80)))
    closed_form = MarkovAttribution(collapse_repeats=collapse).fit(journeys)
    monkeypatch.setattr(markov, "DENSE_STATES", 0)
    per_channel = MarkovAttribution(collapse_repeats=collapse).fit(journeys)
    assert effects(closed_form) == pytest.approx(effects(per_channel), abs=1e-13)


# -- invariants ------------------------------------------------------------------------------


@pytest.mark.parametrize("order", [1, 2, 3])
def test_credits_are_non_negative_and_add_up_per_group(order: int) -> None:
    frames = []
    for segment, seed in (("A", 4), ("B", 5), ("C", 6)):
        frame = journeys_from_paths(paths_frame(random_paths(seed), value=7.5))
        frame["journey_id"] = segment + frame["journey_id"]
        frame["segment"] = segment
        frames.append(frame)
    journeys = pd.concat(frames, ignore_index=True)
    credits = markov_credits(journeys, by=["segment"], order=order)
    assert (credits[["conversions", "revenue"]] >= 0).all().all()
    totals = journeys[journeys["step"] == journeys["steps"]].groupby("segment")
    per_group = credits.groupby("segment")[["conversions", "revenue"]].sum()
    np.testing.assert_allclose(per_group["conversions"], totals["conversions"].sum())
    np.testing.assert_allclose(per_group["revenue"], totals["revenue"].sum())


def test_by_groups_give_per_group_attributes() -> None:
    journeys = journeys_from_paths(REFERENCE)
    journeys = pd.concat([journeys.assign(segment="A"), journeys.assign(segment="B")])
    journeys["journey_id"] = journeys["segment"] + journeys["journey_id"]
    model = MarkovAttribution().fit(journeys, by="segment")
    assert model.conversion_probability_ == pytest.approx({"A": 0.8, "B": 0.8})
    assert set(model.transition_matrix_) == {"A", "B"}
    assert model.states_["A"] == ["(start)", "google_ads", "mailing"]
    assert model.removal_effects_["segment"].tolist() == ["A", "A", "B", "B"]
    assert model.transitions_.groupby("segment").size().tolist() == [6, 6]


def test_renaming_channels_moves_the_credits_with_them() -> None:
    paths = random_paths(8)
    renamed = [(p.replace("c", "zz_"), w, n) for p, w, n in paths]
    original = markov_credits(journeys_from_paths(paths_frame(paths)), order=2)
    moved = markov_credits(journeys_from_paths(paths_frame(renamed)), order=2)
    moved["channel"] = moved["channel"].str.replace("zz_", "c")
    moved = moved.sort_values("channel", ignore_index=True)
    pd.testing.assert_frame_equal(original, moved, rtol=1e-12)


def test_fractional_weights_scale_the_credits_not_the_effects() -> None:
    paths = random_paths(9)
    scaled = [(p, w * 0.37, n * 0.37) for p, w, n in paths]
    base = MarkovAttribution(order=2).fit(journeys_from_paths(paths_frame(paths)))
    small = MarkovAttribution(order=2).fit(journeys_from_paths(paths_frame(scaled)))
    assert effects(small) == pytest.approx(effects(base), abs=1e-12)
    np.testing.assert_allclose(small.credits_["conversions"], 0.37 * base.credits_["conversions"])


def test_row_order_does_not_matter() -> None:
    journeys = journeys_from_paths(paths_frame(random_paths(10)))
    shuffled = journeys.sample(frac=1.0, random_state=0)
    expected = MarkovAttribution(order=3).fit(journeys)
    result = MarkovAttribution(order=3).fit(shuffled)
    pd.testing.assert_frame_equal(result.transitions_, expected.transitions_)
    pd.testing.assert_frame_equal(result.credits_, expected.credits_)


def test_collapse_repeats_drops_self_loops_and_repeated_states() -> None:
    paths = [("a > a > b", 2, 0), ("a > b > b", 0, 1), ("b > a", 1, 1), ("a", 0, 2)]
    journeys = journeys_from_paths(paths_frame(paths))
    collapsed = MarkovAttribution(order=2).fit(journeys)
    kept = MarkovAttribution(order=2, collapse_repeats=False).fit(journeys)
    assert collapsed.states_ == ["(start)", "a", "b", "a > b", "b > a"]
    assert kept.states_ == ["(start)", "a", "b", "a > a", "a > b", "b > a", "b > b"]
    loops = collapsed.transitions_["from_state"] == collapsed.transitions_["to_state"]
    assert not loops.any()
    assert effects(kept) == pytest.approx(brute_force_removal_effects(paths, 2, collapse=False))
    repeating = journeys_from_paths(paths_frame(random_paths(0)))
    with_repeats = MarkovAttribution(order=2, collapse_repeats=False).fit(repeating)
    assert effects(with_repeats) != pytest.approx(
        effects(MarkovAttribution(order=2).fit(repeating))
    )


def test_repeats_do_not_change_order_one_removal_effects() -> None:
    # A self-loop only delays a walk: the exits from the state keep their proportions.
    journeys = journeys_from_paths(paths_frame([("a > a > b", 2, 0), ("b > b > a", 1, 3)]))
    collapsed = MarkovAttribution().fit(journeys)
    kept = MarkovAttribution(collapse_repeats=False).fit(journeys)
    assert effects(kept) == pytest.approx(effects(collapsed), abs=1e-14)
    pairs = kept.transitions_[["from_state", "to_state"]].values.tolist()
    assert ["a", "a"] in pairs


# -- engines ---------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["polars", "polars_lazy", "duckdb"])
@pytest.mark.parametrize("order", [1, 3])
def test_engines_give_identical_counts_and_credits(engine: str, order: int) -> None:
    journeys = journeys_from_paths(paths_frame(random_paths(11)))
    journeys["segment"] = np.where(journeys["journey_id"].str[-1].isin(list("0123")), "A", "B")
    expected = MarkovAttribution(order=order).fit(journeys, by="segment")
    result = MarkovAttribution(order=order).fit(ENGINES[engine](journeys), by="segment")
    pd.testing.assert_frame_equal(result.transitions_, expected.transitions_)
    pd.testing.assert_frame_equal(result.credits_, expected.credits_)


# -- edge cases and bad input ----------------------------------------------------------------


def test_a_single_channel_gets_everything() -> None:
    journeys = journeys_from_paths(paths_frame([("tv > tv", 3, 1), ("tv", 1.5, 4)]))
    credits = markov_credits(journeys, order=2)
    assert credits.values.tolist() == [["tv", 4.5, 45.0]]


def test_no_conversions_gives_zero_credits() -> None:
    journeys = journeys_from_paths(paths_frame([("a > b", 0, 3), ("b", 0, 1)]))
    model = MarkovAttribution().fit(journeys)
    assert model.conversion_probability_ == 0.0
    assert model.removal_effects_[["removal_effect", "share"]].to_numpy().tolist() == [[0, 0]] * 2
    assert model.credits_[["conversions", "revenue"]].to_numpy().tolist() == [[0, 0]] * 2


def test_a_zero_weight_journey_lists_its_channel_with_no_credit() -> None:
    journeys = journeys_from_paths(paths_frame([("a", 2, 1), ("a > ghost", 0, 0)]))
    model = MarkovAttribution().fit(journeys)
    assert model.states_ == ["(start)", "a"]
    assert model.credits_.values.tolist() == [["a", 2.0, 20.0], ["ghost", 0.0, 0.0]]


@pytest.mark.parametrize("order", [0, 5, 1.5, True, "2"])
def test_order_outside_one_to_four_is_refused(order) -> None:
    with pytest.raises(ValueError, match="order must be one of"):
        markov_credits(journeys_from_paths(REFERENCE), order=order)


@pytest.mark.parametrize("column", ["journey_id", "step", "channel", "nulls", "revenue"])
def test_missing_columns_are_named(column: str) -> None:
    journeys = journeys_from_paths(REFERENCE).drop(columns=column)
    with pytest.raises(DataContractError, match=column):
        markov_credits(journeys)


def test_missing_by_column_is_named() -> None:
    with pytest.raises(DataContractError, match="segment"):
        markov_credits(journeys_from_paths(REFERENCE), by="segment")


def test_negative_conversions_are_refused() -> None:
    journeys = journeys_from_paths(REFERENCE)
    journeys["conversions"] = -journeys["conversions"]
    with pytest.raises(DataContractError, match="conversions"):
        markov_credits(journeys)


def test_a_missing_channel_is_refused() -> None:
    journeys = journeys_from_paths(REFERENCE)
    journeys.loc[1, "channel"] = None
    with pytest.raises(DataContractError, match="channel"):
        markov_credits(journeys)


def test_fit_leaves_the_input_alone_and_init_only_stores() -> None:
    journeys = journeys_from_paths(REFERENCE)
    before = journeys.copy()
    model = MarkovAttribution(order=9)
    assert model.order == 9 and model.collapse_repeats is True
    MarkovAttribution(order=2).fit(journeys)
    pd.testing.assert_frame_equal(journeys, before)
    with pytest.raises(AttributeError, match="fit"):
        MarkovAttribution().transition_matrix_  # noqa: B018
