"""Time ``markov_credits`` on a million synthetic journeys, and compare with ChannelAttribution.

Run it with ``python benchmarks/bench_markov.py`` (``--help`` for the options). Three
measurements, each the median of ``--runs`` runs:

* 1,000,000 journeys aggregated into about 160,000 distinct paths over 12 channels
  (``journeys_from_paths`` turns them into about 1,020,000 journey rows, not timed):
  exact Markov credits at orders 1, 2 and 3 with pandas, Polars and DuckDB input
  (target: under 2 s each);
* a million journeys over 200 channels at order 2 (about 410,000 paths and 40,000
  states; target: under 20 s);
* optionally ChannelAttribution's ``markov_model`` (random-walk simulation, its default
  settings) on the same paths, run by another Python that has it installed
  (``--channelattribution PYTHON``), with its removal effects compared to the exact ones.

The paths are simulated: journey lengths 1..10 with P(length = l) ∝ 0.66^(l-1) (a third
of the journeys have a single touch, the mean is 2.8), channels drawn from a Zipf-like
popularity with a 15 % chance of repeating the previous channel, and a conversion
probability (about 9 %) that depends on the channels touched and the length.

ChannelAttribution needs a C++ build and matplotlib; it stays out of the project's
environment. ``make bench`` builds its own (Cython, NumPy, pandas, matplotlib and
setuptools 77 or newer first, then ChannelAttribution without build isolation)::

    make .bench-peers/channelattribution/bin/python
    python benchmarks/bench_markov.py \
        --channelattribution .bench-peers/channelattribution/bin/python

ChannelAttribution collapses repeated *states* (for order 1, repeated channels) and
builds order-k states as sliding windows, so the comparison uses the paths with repeated
channels collapsed (then re-aggregated): on those both models define the same chain and
the same removal effects (segkit's first k - 1 states, the journey's opening channels,
form a tree that reproduces the distribution of the windows a journey starts with).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
from _common import timed

from segkit.journeys import journeys_from_paths
from segkit.markov_attribution import MarkovAttribution, markov_credits

JOURNEYS = 1_000_000
CHANNELS = 12
MANY_CHANNELS = 200
MAX_LENGTH = 10
LENGTH_DECAY = 0.66
REPEAT = 0.15
ORDERS = (1, 2, 3)
ENGINES: dict[str, Callable[[pd.DataFrame], object]] = {
    "pandas": lambda frame: frame,
    "polars": pl.from_pandas,
    "duckdb": lambda frame: duckdb.from_arrow(pa.Table.from_pandas(frame, preserve_index=False)),
}
TARGETS = {"few": 2.0, "many": 20.0}

#: Run in ChannelAttribution's Python: times ``markov_model`` per order (its defaults:
#: nsim_start=1e5, conv_par=0.05, max_step = the longest path) and prints JSON.
CHANNEL_ATTRIBUTION = """
import json, sys, time
import pandas as pd
from ChannelAttribution import markov_model
paths = pd.read_csv(sys.argv[1])
out = {}
for order in map(int, sys.argv[2].split(",")):
    start = time.perf_counter()
    result = markov_model(paths, "path", "total_conversions", var_value="total_conversion_value",
                          var_null="total_null", order=order, out_more=True, verbose=False,
                          flg_pro=False)
    seconds = time.perf_counter() - start
    effects = result["removal_effects"]
    out[order] = {"seconds": seconds, "effects": dict(zip(effects["channel_name"],
                  effects["removal_effects_conversion"]))}
print(json.dumps(out))
"""


def synthetic_paths(
    journeys: int = JOURNEYS, channels: int = CHANNELS, seed: int = 0
) -> pd.DataFrame:
    """Aggregated paths (``path``, ``total_conversions``, ``total_conversion_value``,
    ``total_null``) of ``journeys`` simulated journeys."""
    rng = np.random.default_rng(seed)
    codes, lengths = _touches(rng, journeys, channels)
    lift = np.concatenate([[0.0], rng.normal(0.0, 0.6, channels)])
    score = -3.0 + 0.25 * lengths + lift[codes].sum(axis=1) / np.sqrt(lengths)
    converted = rng.random(journeys) < 1.0 / (1.0 + np.exp(-score))
    value = np.where(converted, rng.gamma(2.0, 40.0, journeys), 0.0)
    return _aggregate(codes, converted, value, channels)


def _touches(rng: np.random.Generator, journeys: int, channels: int):
    """Channel codes (1..channels, 0 after the journey's end) and lengths."""
    popularity = 1.0 / np.arange(1, channels + 1) ** 0.8
    popularity /= popularity.sum()
    length_p = LENGTH_DECAY ** np.arange(MAX_LENGTH)
    lengths = rng.choice(np.arange(1, MAX_LENGTH + 1), size=journeys, p=length_p / length_p.sum())
    codes = np.zeros((journeys, MAX_LENGTH), dtype=np.int64)
    current = rng.choice(channels, size=journeys, p=popularity)
    for step in range(MAX_LENGTH):
        if step:
            fresh = rng.choice(channels, size=journeys, p=popularity)
            current = np.where(rng.random(journeys) < REPEAT, current, fresh)
        codes[:, step] = np.where(lengths > step, current + 1, 0)
    return codes, lengths


def _aggregate(codes: np.ndarray, converted, value, channels: int) -> pd.DataFrame:
    """One row per distinct path: the codes packed into two integer keys, then grouped."""
    bits = int(np.ceil(np.log2(channels + 1)))
    half = MAX_LENGTH // 2
    shifts = np.left_shift(1, bits * np.arange(half, dtype=np.int64))
    keyed = pd.DataFrame(
        {
            "low": codes[:, :half] @ shifts,
            "high": codes[:, half:] @ shifts[: MAX_LENGTH - half],
            "row": np.arange(len(codes)),
            "conversions": converted.astype("float64"),
            "value": value,
            "journeys": 1.0,
        }
    )
    table = keyed.groupby(["low", "high"], sort=True).agg(
        row=("row", "first"),
        conversions=("conversions", "sum"),
        value=("value", "sum"),
        journeys=("journeys", "sum"),
    )
    names = np.array([f"ch{i:03d}" for i in range(channels)], dtype=object)
    rows = codes[table["row"].to_numpy()]
    return pd.DataFrame(
        {
            "path": [" > ".join(names[row[row > 0] - 1]) for row in rows],
            "total_conversions": table["conversions"].to_numpy(),
            "total_conversion_value": table["value"].round(2).to_numpy(),
            "total_null": (table["journeys"] - table["conversions"]).to_numpy(),
        }
    )


def collapsed_paths(paths: pd.DataFrame) -> pd.DataFrame:
    """``paths`` with consecutive repeats of a channel collapsed, then re-aggregated."""

    def collapse(path: str) -> str:
        channels = path.split(" > ")
        kept = [c for i, c in enumerate(channels) if i == 0 or c != channels[i - 1]]
        return " > ".join(kept)

    columns = ["total_conversions", "total_conversion_value", "total_null"]
    table = paths.assign(path=paths["path"].map(collapse))
    return table.groupby("path", as_index=False, sort=True)[columns].sum()


def time_engines(paths: pd.DataFrame, orders, engines, runs: int, case: str) -> list[dict]:
    journeys = journeys_from_paths(paths)
    rows = []
    for order in orders:
        states = len(MarkovAttribution(order=order).fit(journeys).states_)
        for engine in engines:
            frame = ENGINES[engine](journeys)
            seconds = timed(lambda f=frame, k=order: markov_credits(f, order=k), runs)[0]
            rows.append(
                {
                    "case": case,
                    "engine": engine,
                    "order": order,
                    "channels": paths["path"].str.split(" > ").explode().nunique(),
                    "paths": len(paths),
                    "states": states,
                    "median_s": round(seconds, 2),
                    "target_s": TARGETS[case],
                }
            )
            print(rows[-1], flush=True)
    return rows


def compare_channel_attribution(python: str, paths: pd.DataFrame, orders) -> pd.DataFrame:
    """ChannelAttribution's time and removal effects against the exact ones, per order.

    segkit is timed from pandas journeys (``segkit_exact_s``) and from Polars ones.
    """
    paths = collapsed_paths(paths)
    with tempfile.TemporaryDirectory() as folder:
        csv = Path(folder) / "paths.csv"
        paths.to_csv(csv, index=False)
        order_list = ",".join(map(str, orders))
        command = [python, "-c", CHANNEL_ATTRIBUTION, str(csv), order_list]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
    simulated = json.loads(done.stdout.strip().splitlines()[-1])
    journeys = journeys_from_paths(paths)
    in_polars = ENGINES["polars"](journeys)
    rows = []
    for order in orders:
        exact_seconds = timed(lambda k=order: markov_credits(journeys, order=k), 3)[0]
        polars_seconds = timed(lambda k=order: markov_credits(in_polars, order=k), 3)[0]
        model = MarkovAttribution(order=order).fit(journeys)
        exact = model.removal_effects_.set_index("channel")["removal_effect"]
        theirs = pd.Series(simulated[str(order)]["effects"]).reindex(exact.index)
        percent = 100.0 * (theirs - exact) / exact
        rows.append(
            {
                "order": order,
                "paths": len(paths),
                "ChannelAttribution_s": round(simulated[str(order)]["seconds"], 2),
                "segkit_exact_s": round(exact_seconds, 2),
                "segkit_exact_polars_s": round(polars_seconds, 2),
                "mean_abs_diff_%": round(float(percent.abs().mean()), 2),
                "max_abs_diff_%": round(float(percent.abs().max()), 2),
                "worst_channel": str(percent.abs().idxmax()),
            }
        )
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--journeys", type=int, default=JOURNEYS)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--orders", default=",".join(map(str, ORDERS)))
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--skip-many", action="store_true", help="skip the 200-channel case")
    parser.add_argument("--channelattribution", metavar="PYTHON", help="a Python with it")
    args = parser.parse_args(argv)
    orders = [int(order) for order in args.orders.split(",")]
    engines = args.engines.split(",")

    paths = synthetic_paths(args.journeys, CHANNELS)
    rows = time_engines(paths, orders, engines, args.runs, "few")
    if not args.skip_many:
        many = synthetic_paths(args.journeys, MANY_CHANNELS)
        rows += time_engines(many, [2], ["pandas"], args.runs, "many")
    pd.set_option("display.width", 160)
    print(f"\nmarkov_credits on {args.journeys:,} journeys (median of {args.runs} runs)")
    print(pd.DataFrame(rows).to_string(index=False))
    if args.channelattribution:
        table = compare_channel_attribution(args.channelattribution, paths, orders)
        print("\nChannelAttribution markov_model (simulation, defaults) vs exact removal effects")
        print(table.to_string(index=False))


if __name__ == "__main__":
    sys.exit(main())
