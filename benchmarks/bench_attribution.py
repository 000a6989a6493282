"""Time every attribution model from synthetic touchpoints with pandas, Polars, DuckDB and Spark.

Run it with ``python benchmarks/bench_attribution.py`` (``--sizes``,
``--engines``, ``--models``, ``--runs`` to narrow it). The inputs have the
shape of the issue's target: 5M touchpoints in about 1M journeys by default.
Each of 500k customers has two journeys a year apart; a journey has 1-12
touches (about five on average) over a few days, from eight channels with
unequal odds, and a quarter of the journeys end in an order hours after
their last touch.

Each engine runs in a fresh subprocess that loads the Parquet files into the
engine's own memory, times ``journeys`` (median of ``--runs``), keeps one
result in the engine (a Polars or pandas frame, a DuckDB relation over the
Arrow result, a cached Spark frame) and then times ``attribute`` for each
model on it (median of ``--runs``). ``from touchpoints`` is the sum of the two
medians: what a notebook pays for one model. Peak memory is the subprocess's
peak resident set size over all of its work, input included; for Spark
(``local[2]``, see ``_common.SPARK_CONFIG``) the JVM's peak is added. A Spark
``journeys`` run computes every row and writes it nowhere (``noop``); a model's
result is always a small collected pandas frame.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from _common import jvm_peak_mb, jvm_pid, peak_mb, report, run_script, timed
from bench_journeys import CHANNELS, INTERACTIONS, _ids, _load

from segkit.attribution import MODELS

SIZES = (5_000_000,)
ENGINES = ("pandas", "polars", "duckdb", "spark")
RUNS = 3
TOUCHES_PER_JOURNEY = 5
CONVERTING_SHARE = 0.25
_START = np.datetime64("2024-01-01T00:00:00", "s")
_DAY = 86_400
#: Options the models that need them get (``custom`` has no default weights).
OPTIONS = {"custom": {"weights": {"first": 3, "last": 2, "middle": 1}}}


def synthetic(n_touches: int, seed: int = 0) -> tuple[pa.Table, pa.Table]:
    """Touchpoints in journeys of about five touches, and the orders of a quarter of them."""
    rng = np.random.default_rng(seed)
    n_journeys = max(2, n_touches // TOUCHES_PER_JOURNEY)
    size = np.minimum(rng.geometric(1 / TOUCHES_PER_JOURNEY, n_journeys), 12)
    size = size[: np.searchsorted(np.cumsum(size), n_touches) + 1]
    journey = np.repeat(np.arange(len(size)), size)
    customer = journey // 2  # two journeys each, a year apart
    start = rng.integers(0, 300 * _DAY, len(size)) + (np.arange(len(size)) % 2) * 365 * _DAY
    gaps = rng.exponential(_DAY, len(journey))
    first = np.cumsum(size) - size
    offsets = np.cumsum(gaps) - np.repeat(np.cumsum(gaps)[first], size)
    seconds = start[journey] + offsets.astype(np.int64)
    odds = np.array([0.10, 0.12, 0.18, 0.14, 0.12, 0.16, 0.10, 0.08])  # CHANNELS' order
    channel = rng.choice(len(CHANNELS), len(journey), p=odds)
    touches = pa.table(
        {
            "customer_id": _ids("C", customer, 8),
            "ts": pa.array((_START + seconds).astype("datetime64[us]")),
            "channel": pa.array(np.array(CHANNELS)[channel]),
            "campaign": _ids("campaign_", channel * 5 + rng.integers(0, 5, len(journey)), 2),
            "interaction": pa.array(np.array(INTERACTIONS)[rng.integers(0, 4, len(journey))]),
        }
    )
    converting = np.flatnonzero(rng.random(len(size)) < CONVERTING_SHARE)
    last = first + size - 1
    placed = seconds[last[converting]] + rng.integers(600, 6 * 3600, len(converting))
    orders = pa.table(
        {
            "order_id": _ids("O", np.arange(1, len(converting) + 1), 9),
            "customer_id": _ids("C", customer[last[converting]], 8),
            "order_ts": pa.array((_START + placed).astype("datetime64[us]")),
            "revenue": np.round(rng.lognormal(np.log(45), 0.6, len(converting)), 2),
        }
    )
    return touches, orders


def generate(size: int, folder: str) -> None:
    touches, orders = synthetic(size, seed=size % 1000)
    pq.write_table(touches, Path(folder) / "touchpoints.parquet")
    pq.write_table(orders, Path(folder) / "orders.parquet")


def _in_engine(engine: str, result):
    """The journeys kept in the engine: a DuckDB relation reads its own Arrow result, and
    Spark caches them (counted, so the first model does not pay for filling the cache)."""
    if engine == "spark":
        result = result.cache()
        result.count()
        return result
    if engine != "duckdb":
        return result
    import duckdb

    return duckdb.from_arrow(result)


def worker(engine: str, folder: str, runs: int, models: list[str]) -> dict:
    """Load the inputs, time ``journeys``, then each model on one kept result."""
    from segkit.attribution import attribute
    from segkit.journeys import journeys

    (touches, orders), materialise = _load(engine, folder)
    jvm = jvm_pid(touches) if engine == "spark" else None
    seconds, _, built = timed(lambda: materialise(journeys(touches, orders)), runs)
    steps = _in_engine(engine, built)
    frame = _journey_counts(engine, steps)
    row = {"journeys": seconds, "models": {}, "count": frame}
    for model in models:
        options = OPTIONS.get(model, {})
        model_seconds, _, credits = timed(lambda m=model, o=options: attribute(steps, m, **o), runs)
        row["models"][model] = model_seconds
        row.setdefault("conversions", float(credits["conversions"].sum()))
    row["peak_mb"] = peak_mb() + (jvm_peak_mb(jvm) if jvm else 0.0)
    return row


def benchmark(sizes: list[int], engines: list[str], runs: int, models: list[str]) -> None:
    """Print, per size, a row per model: seconds per engine, and from touchpoints."""
    with tempfile.TemporaryDirectory(prefix="segkit-bench-attribution-") as root:
        for size in sizes:
            folder = Path(root) / str(size)
            folder.mkdir()
            run_script(__file__, "--generate", str(size), str(folder))
            rows = {}
            for engine in engines:
                arguments = ("--worker", engine, str(folder), str(runs), *models)
                rows[engine] = json.loads(run_script(__file__, *arguments))
            _print(size, rows, models)


def _print(size: int, rows: dict[str, dict], models: list[str]) -> None:
    engines = list(rows)
    counts = next(iter(rows.values()))["count"]
    print(
        f"\n{size:,} touchpoints in {counts['journeys']:,} journeys ({counts['converting']:,} "
        f"converting); {runs_note(rows)}"
    )
    header = f"{'model':<16}" + "".join(
        f" {engine + ' model':>14} {engine + ' total':>14}" for engine in engines
    )
    print(header)
    print(
        f"{'(journeys)':<16}" + "".join(f" {rows[e]['journeys']:>14.2f} {'':>14}" for e in engines)
    )
    for model in models:
        cells = "".join(
            f" {rows[e]['models'][model]:>14.2f} "
            f"{rows[e]['models'][model] + rows[e]['journeys']:>14.2f}"
            for e in engines
        )
        print(f"{model:<16}{cells}")
    print(f"{'peak MB':<16}" + "".join(f" {rows[e]['peak_mb']:>14,.0f} {'':>14}" for e in engines))


def _journey_counts(engine: str, steps) -> dict[str, int]:
    """How many journeys, and how many of them convert."""
    import narwhals as nw

    ends = nw.from_native(steps).filter(nw.col("step") == 1).select("conversions")
    ends = ends.collect() if isinstance(ends, nw.LazyFrame) else ends
    column = ends["conversions"].to_numpy()
    return {"journeys": int(len(column)), "converting": int((column > 0).sum())}


def runs_note(rows: dict[str, dict]) -> str:
    conversions = {round(row["conversions"], 6) for row in rows.values()}
    return f"conversions credited by every engine: {', '.join(f'{c:,.0f}' for c in conversions)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--generate", nargs=2, metavar=("SIZE", "DIR"), help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.worker:
        engine, folder, runs, *models = arguments.worker
        report(worker(engine, folder, int(runs), models))
    elif arguments.generate:
        generate(int(arguments.generate[0]), arguments.generate[1])
    else:
        benchmark(arguments.sizes, arguments.engines, arguments.runs, arguments.models)


if __name__ == "__main__":
    main()
