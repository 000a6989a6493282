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
Before timing, segkit's simplified credits on every engine are checked against plain
Python.
"""

from __future__ import annotations

import argparse
import warnings

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


def plain_python(journey_ids: list, channels: list, conversions: list) -> dict[str, float]:
    """The simplified Shapley formula with a dict of frozensets (rows grouped by journey)."""
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
    credits: dict[str, float] = {}
    for channel_set, total in by_set.items():
        for channel in channel_set:
            credits[channel] = credits.get(channel, 0.0) + total / len(channel_set)
    return credits


def engines(table: pa.Table) -> dict[str, object]:
    return {
        "pandas": table.to_pandas(),
        "polars": pl.from_arrow(table),
        "duckdb": duckdb.from_arrow(table),
    }


def check(frames: dict[str, object], expected: dict[str, float]) -> None:
    for engine, frame in frames.items():
        found = shapley_credits(frame)
        got = dict(zip(found["channel"], found["conversions"], strict=True))
        assert got.keys() == expected.keys(), engine
        for channel, value in expected.items():
            assert abs(got[channel] - value) <= 1e-9 * max(1.0, abs(value)), (engine, channel)


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
    print(f"{'engine':<14}" + "".join(f"{variant:>12}" for variant in options.variants))
    for engine, frame in frames.items():
        cells = [
            timed(
                lambda frame=frame, variant=variant: shapley_credits(frame, variant=variant), RUNS
            )[0]
            for variant in options.variants
        ]
        print(f"{'segkit-' + engine:<14}" + "".join(f"{cell:>12.2f}" for cell in cells))
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
