"""Time ``segkit.journeys`` on synthetic touchpoints with pandas, Polars and DuckDB.

Run it with ``python benchmarks/bench_journeys.py`` (``--sizes``, ``--engines``,
``--runs`` to narrow it). Touchpoints: 1M and 5M rows by default, five per
customer on average (200k and 1M customers), over two years, eight channels,
forty campaigns, four interaction types. Orders: one per twenty touches, each
placed 0-10 days after a random touch of its customer, so most have a journey.

Before timing, the three engines' journeys of 20,000 touches are checked to be
identical. Every measurement (size, engine) then runs in a fresh subprocess
that loads the Parquet files into the engine's own memory and reports the
median of ``--runs`` runs of ``journeys`` with default parameters; DuckDB's
result is materialised as an Arrow table inside the timing, the others are
eager anyway. Peak memory is the subprocess's peak resident set size
(``ru_maxrss``), which includes the loaded input (``input MB``).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from _common import measure, noop_write, report, run_script, spark_session

SIZES = (1_000_000, 5_000_000)
ENGINES = ("pandas", "polars", "duckdb")
RUNS = 3
CHECK_TOUCHES = 20_000
TOUCHES_PER_CUSTOMER = 5
TOUCHES_PER_ORDER = 20
CHANNELS = (
    "affiliate",
    "direct",
    "display",
    "email",
    "organic_search",
    "paid_search",
    "paid_social",
    "referral",
)
INTERACTIONS = ("click", "email_open", "impression", "visit")
_START = np.datetime64("2024-01-01T00:00:00", "s")
_PERIOD_SECONDS = 730 * 86_400


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    return pa.array(np.strings.add(prefix, np.strings.zfill(numbers.astype(str), width)))


def synthetic(n_touches: int, seed: int = 0) -> tuple[pa.Table, pa.Table]:
    """Touchpoints and orders as Arrow tables, built with numpy only."""
    rng = np.random.default_rng(seed)
    customer = rng.integers(1, max(1, n_touches // TOUCHES_PER_CUSTOMER) + 1, n_touches)
    seconds = rng.integers(0, _PERIOD_SECONDS, n_touches)
    channel = rng.integers(0, len(CHANNELS), n_touches)
    touches = pa.table(
        {
            "customer_id": _ids("C", customer, 8),
            "ts": pa.array((_START + seconds).astype("datetime64[us]")),
            "channel": pa.array(np.array(CHANNELS)[channel]),
            "campaign": _ids("campaign_", channel * 5 + rng.integers(0, 5, n_touches), 2),
            "interaction": pa.array(np.array(INTERACTIONS)[rng.integers(0, 4, n_touches)]),
        }
    )
    n_orders = max(1, n_touches // TOUCHES_PER_ORDER)
    after = rng.choice(n_touches, n_orders, replace=False)
    placed = seconds[after] + rng.integers(0, 10 * 86_400, n_orders)
    orders = pa.table(
        {
            "order_id": _ids("O", np.arange(1, n_orders + 1), 9),
            "customer_id": _ids("C", customer[after], 8),
            "order_ts": pa.array((_START + placed).astype("datetime64[us]")),
            "revenue": np.round(rng.lognormal(np.log(45), 0.6, n_orders), 2),
        }
    )
    return touches, orders


def _load(engine: str, folder: str):
    """Touchpoints and orders in the engine's own memory, and how to materialise a result.

    Spark caches its inputs in a local JVM (:func:`_common.spark_session`) and
    materialises a result by computing every row and writing it nowhere.
    """
    paths = [str(Path(folder) / name) for name in ("touchpoints.parquet", "orders.parquet")]
    if engine == "pandas":
        import pandas as pd

        return [pd.read_parquet(path) for path in paths], lambda result: result
    if engine == "polars":
        import polars as pl

        return [pl.read_parquet(path) for path in paths], lambda result: result
    if engine == "spark":
        session = spark_session()
        tables = [session.read.parquet(path).cache() for path in paths]
        for table in tables:
            table.count()
        return tables, noop_write
    import duckdb

    connection = duckdb.connect()
    for name, path in zip(("touchpoints", "orders"), paths, strict=True):
        connection.execute(f"create table {name} as select * from read_parquet('{path}')")
    tables = [connection.table("touchpoints"), connection.table("orders")]
    return tables, lambda result: result.to_arrow_table()


def _as_pandas(result):
    import narwhals as nw

    frame = nw.from_native(result, eager_only=True).to_pandas()
    return frame.sort_values(["journey_id", "step"], ignore_index=True)


def worker(engine: str, folder: str, runs: int) -> dict:
    """Load the inputs, then time ``runs`` runs of ``journeys``."""
    from segkit.journeys import journeys

    (touches, orders), materialise = _load(engine, folder)
    timing, result = measure(lambda: materialise(journeys(touches, orders)), runs)
    frame = _as_pandas(result)
    journeys_count = int((frame["step"] == 1).sum())
    conversions = float(frame.loc[frame["step"] == 1, "conversions"].sum())
    return {**timing, "rows": len(frame), "journeys": journeys_count, "conversions": conversions}


def check(folder: str) -> None:
    """The three engines' journeys of the same inputs are identical."""
    import pandas as pd

    results = {}
    for engine in ENGINES:
        (touches, orders), materialise = _load(engine, folder)
        from segkit.journeys import journeys

        results[engine] = _as_pandas(materialise(journeys(touches, orders))).convert_dtypes()
    for engine in ENGINES[1:]:
        pd.testing.assert_frame_equal(results[engine], results["pandas"], obj=engine)
    assert results["pandas"]["conversions"].sum() > 0, "no journey converts"


def generate(size: int, folder: str) -> None:
    touches, orders = synthetic(size, seed=size % 1000)
    pq.write_table(touches, Path(folder) / "touchpoints.parquet")
    pq.write_table(orders, Path(folder) / "orders.parquet")


HEADER = (
    f"{'engine':<8} {'touchpoints':>12} {'orders':>9} {'journeys':>10} {'seconds':>8} "
    f"{'touches/s':>11} {'peak MB':>8} {'input MB':>9}"
)


def _line(engine: str, size: int, row: dict) -> str:
    return (
        f"{engine:<8} {size:>12,} {size // TOUCHES_PER_ORDER:>9,} {row['journeys']:>10,} "
        f"{row['seconds']:>8.2f} {size / row['seconds']:>11,.0f} {row['peak_mb']:>8,.0f} "
        f"{row['input_mb']:>9,.0f}"
    )


def benchmark(sizes: list[int], engines: list[str], runs: int) -> None:
    """Check the engines agree on a small input, then print a row per size and engine."""
    with tempfile.TemporaryDirectory(prefix="segkit-bench-journeys-") as root:
        small = Path(root) / "check"
        small.mkdir()
        run_script(__file__, "--generate", str(CHECK_TOUCHES), str(small))
        run_script(__file__, "--check", str(small))
        print(f"pandas, Polars and DuckDB give identical journeys of {CHECK_TOUCHES:,} touches\n")
        print(HEADER)
        for size in sizes:
            folder = Path(root) / str(size)
            folder.mkdir()
            run_script(__file__, "--generate", str(size), str(folder))
            for engine in engines:
                row = json.loads(run_script(__file__, "--worker", engine, str(folder), str(runs)))
                print(_line(engine, size, row), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES)
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument(
        "--worker", nargs=3, metavar=("ENGINE", "DIR", "RUNS"), help=argparse.SUPPRESS
    )
    parser.add_argument("--generate", nargs=2, metavar=("SIZE", "DIR"), help=argparse.SUPPRESS)
    parser.add_argument("--check", metavar="DIR", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.worker:
        engine, folder, runs = arguments.worker
        report(worker(engine, folder, int(runs)))
    elif arguments.generate:
        generate(int(arguments.generate[0]), arguments.generate[1])
    elif arguments.check:
        check(arguments.check)
    else:
        benchmark(arguments.sizes, arguments.engines, arguments.runs)


if __name__ == "__main__":
    main()
