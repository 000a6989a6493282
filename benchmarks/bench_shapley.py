"""Time ``shapley_credits`` on pandas, Polars and DuckDB against plain Python.

Run it with ``python benchmarks/bench_shapley.py [--journeys 1000000] [--channels 12]``
(``--engines`` and ``--variants`` pick a subset). Synthetic journeys (about five steps
each, so ~5M steps for 1M journeys, ``--channels`` channels with skewed popularity,
~8% converting) are built once as an Arrow table and loaded into each engine before
timing: a pandas DataFrame, a Polars DataFrame and a DuckDB relation over the Arrow table.

Each cell is the median wall time of three runs of ``shapley_credits(journeys,
variant=...)`` from the long journeys to the credit table. ``plain-python`` is the
same simplified formula written directly: a loop over the steps building each
journey's ``frozenset`` of channels, a ``dict`` of set -> conversions, and
``conversions(T) / |T|`` added to each channel of ``T``; its input lists are built
outside the timing, while ``+lists`` also times building them from the pandas frame.
Next to each engine's segkit times, ``plain+lists`` is plain Python from that
engine's frame (its three columns as Python lists: pandas ``tolist``, Polars
``to_list``, DuckDB ``fetchnumpy`` then ``tolist``, then the loop) and ``x plain`` segkit's
simplified time over it.

Before timing, segkit's simplified credits on every engine are checked against plain
Python (to 1e-9, relative), and plain Python against the textbook Shapley value:
the game ``v(S)`` = conversions of the journeys whose channels all lie in ``S``,
``phi_i = sum over S without i of |S|! (n - |S| - 1)! / n! (v(S + i) - v(S))`` by
enumerating every coalition. That takes ``n 2**n`` worths, so it runs on the
benchmark journeys when ``--channels`` is at most 8 and otherwise on 100,000
journeys over 8 channels.
"""

from __future__ import annotations

import argparse
import warnings
from itertools import combinations
from math import factorial

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
from _common import timed

from segkit.shapley_attribution import shapley_credits

RUNS = 3
ENGINES = ("pandas", "polars", "duckdb")
VARIANTS = ("simplified", "rate", "ordered")
#: The columns plain Python reads, as lists.
COLUMNS = ("journey_id", "channel", "conversions")
#: Most channels the textbook enumeration of coalitions runs on.
TEXTBOOK_CHANNELS = 8
TEXTBOOK_JOURNEYS = 100_000


def synthetic_journeys(n_journeys: int, n_channels: int, seed: int = 0) -> pa.Table:
    """Long-format journeys: ``journey_id, step, steps, channel, conversions, nulls, revenue``."""
    rng = np.random.default_rng(seed)
    steps = 1 + rng.poisson(4.0, n_journeys)
    popularity = 1.0 / np.arange(1, n_channels + 1) ** 0.8
    channel = rng.choice(n_channels, size=int(steps.sum()), p=popularity / popularity.sum())
    journey = np.repeat(np.arange(n_journeys), steps)
    first = np.cumsum(steps) - steps
    # Later channels (rarer) convert better, so journeys differ in worth.
    lift = np.bincount(journey, weights=channel / n_channels, minlength=n_journeys) / steps
    converted = rng.random(n_journeys) < 0.04 + 0.08 * lift
    revenue = np.where(converted, np.round(rng.lognormal(4.0, 0.6, n_journeys), 2), 0.0)
    names = np.array([f"channel_{c:02d}" for c in range(n_channels)])
    ids = np.char.add("j", np.arange(n_journeys).astype(str))
    return pa.table(
        {
            "journey_id": ids[journey],
            "step": (np.arange(len(journey)) - first[journey] + 1).astype(np.int64),
            "steps": steps[journey].astype(np.int64),
            "channel": names[channel],
            "conversions": converted[journey].astype(np.float64),
            "nulls": (~converted[journey]).astype(np.float64),
            "revenue": revenue[journey],
        }
    )


def channel_sets(journey_ids: list, channels: list, conversions: list) -> dict[frozenset, float]:
    """Conversions per journey channel set (rows grouped by journey, one value per journey)."""
    by_set: dict[frozenset, float] = {}
    current, members, value = None, set(), 0.0
    for journey, channel, converted in zip(journey_ids, channels, conversions, strict=True):
        if journey != current:
            if current is not None:
                key = frozenset(members)
                by_set[key] = by_set.get(key, 0.0) + value
            current, members, value = journey, set(), converted
        members.add(channel)
    key = frozenset(members)
    by_set[key] = by_set.get(key, 0.0) + value
    return by_set


def simplified(by_set: dict[frozenset, float]) -> dict[str, float]:
    """``credit_i = sum over sets T containing i of conversions(T) / |T|``."""
    credits: dict[str, float] = {}
    for channel_set, total in by_set.items():
        for channel in channel_set:
            credits[channel] = credits.get(channel, 0.0) + total / len(channel_set)
    return credits


def plain_python(journey_ids: list, channels: list, conversions: list) -> dict[str, float]:
    """The simplified Shapley formula with a dict of frozensets (rows grouped by journey)."""
    return simplified(channel_sets(journey_ids, channels, conversions))


def textbook(by_set: dict[frozenset, float]) -> dict[str, float]:
    """Shapley values of ``v(S)`` = conversions of the sets inside ``S``, coalition by coalition."""
    players = sorted(set().union(*by_set))
    n = len(players)

    def worth(coalition: frozenset) -> float:
        return sum(total for channel_set, total in by_set.items() if channel_set <= coalition)

    values = {}
    for player in players:
        others = [other for other in players if other != player]
        values[player] = sum(
            factorial(size)
            * factorial(n - size - 1)
            / factorial(n)
            * (worth(frozenset(coalition) | {player}) - worth(frozenset(coalition)))
            for size in range(n)
            for coalition in combinations(others, size)
        )
    return values


def _lists(engine: str, frame) -> list[list]:
    """The journey columns of an engine's frame as Python lists."""
    if engine == "pandas":
        return [frame[column].tolist() for column in COLUMNS]
    if engine == "polars":
        return [frame[column].to_list() for column in COLUMNS]
    return [values.tolist() for values in frame.select(*COLUMNS).fetchnumpy().values()]


def _agree(got: dict[str, float], expected: dict[str, float], label: str) -> None:
    assert got.keys() == expected.keys(), label
    for channel, value in expected.items():
        assert abs(got[channel] - value) <= 1e-9 * max(1.0, abs(value)), (label, channel)


def engines(table: pa.Table) -> dict[str, object]:
    return {
        "pandas": table.to_pandas(),
        "polars": pl.from_arrow(table),
        "duckdb": duckdb.from_arrow(table),
    }


def check(frames: dict[str, object], expected: dict[str, float]) -> None:
    """segkit's simplified credits on every engine, and plain Python from its lists."""
    for engine, frame in frames.items():
        found = shapley_credits(frame)
        got = dict(zip(found["channel"], found["conversions"], strict=True))
        _agree(got, expected, f"segkit-{engine}")
        _agree(plain_python(*_lists(engine, frame)), expected, f"plain-python from {engine}")


def check_textbook(table: pa.Table, n_channels: int) -> str:
    """Plain Python (and segkit) against the coalition enumeration; what was checked."""
    if n_channels > TEXTBOOK_CHANNELS:
        table = synthetic_journeys(TEXTBOOK_JOURNEYS, TEXTBOOK_CHANNELS)
    by_set = channel_sets(*(table[name].to_pylist() for name in COLUMNS))
    expected = textbook(by_set)
    _agree(simplified(by_set), expected, "plain-python vs textbook")
    found = shapley_credits(table.to_pandas())
    _agree(dict(zip(found["channel"], found["conversions"], strict=True)), expected, "textbook")
    journeys = len(set(table["journey_id"].to_pylist()))
    return (
        f"plain Python and segkit equal the textbook coalition enumeration on {journeys:,} "
        f"journeys, {len(expected)} channels, {len(by_set)} channel sets"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--journeys", type=int, default=1_000_000)
    parser.add_argument("--channels", type=int, default=12)
    parser.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    options = parser.parse_args()
    # The rate variant warns when it clips negative values; the timing is what matters here.
    warnings.simplefilter("ignore", UserWarning)
    table = synthetic_journeys(options.journeys, options.channels)
    frames = {name: frame for name, frame in engines(table).items() if name in options.engines}
    columns = [table[name].to_pylist() for name in COLUMNS]
    print(
        f"{options.journeys:,} journeys, {table.num_rows:,} steps, {options.channels} channels; "
        f"median of {RUNS} runs, seconds"
    )
    expected = plain_python(*columns)
    check(frames, expected)
    print(
        f"segkit on {', '.join(frames)} equals plain Python (to 1e-9); "
        + check_textbook(table, options.channels)
    )
    extra = ("plain+lists", "x plain")
    print(f"{'engine':<14}" + "".join(f"{variant:>12}" for variant in (*options.variants, *extra)))
    for engine, frame in frames.items():
        cells = [
            timed(
                lambda frame=frame, variant=variant: shapley_credits(frame, variant=variant), RUNS
            )[0]
            for variant in options.variants
        ]
        plain = timed(lambda engine=engine, frame=frame: plain_python(*_lists(engine, frame)), RUNS)
        cells.append(plain[0])
        line = "".join(f"{cell:>12.2f}" for cell in cells)
        if "simplified" in options.variants:
            line += f"{cells[options.variants.index('simplified')] / plain[0]:>12.2f}"
        print(f"{'segkit-' + engine:<14}" + line)
    pandas = table.to_pandas()
    for name, run in (
        ("plain-python", lambda: plain_python(*columns)),
        ("  +lists", lambda: plain_python(*(pandas[c].tolist() for c in COLUMNS))),
    ):
        plain = timed(run, RUNS)[0]
        cells = [f"{plain:>12.2f}" if v == "simplified" else f"{'-':>12}" for v in options.variants]
        print(f"{name:<14}" + "".join(cells))


if __name__ == "__main__":
    main()
