"""Time ``customer_view`` on pandas, Polars and DuckDB against hand-written pandas and SQL.

Run it with ``python benchmarks/bench_customer_view.py [--sizes 1000000 10000000]``.
Synthetic orders (about five per customer) are written to Parquet once per
size; every measurement then runs in a fresh subprocess that loads the orders
into its engine and reports the median of three runs. First, every engine's
result is checked against the hand-written pandas one on 20,000 orders. The DuckDB timings include
materialising the result as an Arrow table (``.to_arrow_table()``); the others return
an eager frame anyway.

Peak memory is the subprocess's peak resident set size from
``resource.getrusage`` (``ru_maxrss``): it counts the memory of Arrow, Polars
and DuckDB that tracemalloc misses, and includes the loaded input, reported
separately as ``input MB``.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

SIZES = (1_000_000, 10_000_000)
RUNS = 3
ORDERS_PER_CUSTOMER = 5
ENGINES = ("segkit-pandas", "segkit-polars", "segkit-duckdb", "hand-pandas", "hand-duckdb-sql")
_START = np.datetime64("2024-01-01T00:00:00", "s")
_PERIOD_SECONDS = 730 * 86_400

HAND_SQL = """
with as_of as (select max(order_ts) as ts from orders),
per_customer as (
    select customer_id, min(order_ts) as first_order_ts, max(order_ts) as last_order_ts,
           count(*) as orders, sum(revenue) as revenue, sum(discount) as discount,
           sum(returned::int) as returned, sum(items) as items
    from orders, as_of where order_ts <= as_of.ts group by customer_id
)
select customer_id, first_order_ts, last_order_ts, orders, revenue,
       revenue / orders as avg_order_value,
       epoch(as_of.ts - last_order_ts) / 86400 as recency_days,
       epoch(as_of.ts - first_order_ts) / 86400 as tenure_days,
       case when orders > 1
            then epoch(last_order_ts - first_order_ts) / 86400 / (orders - 1) end
           as days_between_orders,
       case when revenue + discount > 0 then discount / (revenue + discount) end
           as discount_share,
       returned / orders as return_rate, items
from per_customer, as_of order by customer_id
"""


def synthetic_orders(n_orders: int, seed: int = 0) -> pa.Table:
    """Orders of ``n_orders / 5`` customers over two years, built with numpy only."""
    rng = np.random.default_rng(seed)
    n_customers = max(1, n_orders // ORDERS_PER_CUSTOMER)
    customer = rng.integers(1, n_customers + 1, n_orders)
    ids = np.strings.add("C", np.strings.zfill(customer.astype(str), 8))
    gross = np.round(rng.lognormal(np.log(45), 0.6, n_orders), 2)
    discounted = rng.random(n_orders) < 0.2
    discount = np.where(discounted, np.round(gross * rng.uniform(0.05, 0.4, n_orders), 2), 0.0)
    seconds = rng.integers(0, _PERIOD_SECONDS, n_orders)
    return pa.table(
        {
            "customer_id": pa.array(ids, pa.string()),
            "order_ts": pa.array((_START + seconds).astype("datetime64[us]")),
            "revenue": gross - discount,
            "discount": discount,
            "items": 1 + rng.poisson(1.0, n_orders),
            "returned": rng.random(n_orders) < 0.07,
        }
    )


def hand_pandas(orders):
    """The view's order columns with a plain pandas groupby."""
    as_of = orders["order_ts"].max()
    grouped = orders.assign(returned=orders["returned"].astype("int64")).groupby(
        "customer_id", sort=True
    )
    view = grouped.agg(
        first_order_ts=("order_ts", "min"),
        last_order_ts=("order_ts", "max"),
        orders=("revenue", "size"),
        revenue=("revenue", "sum"),
        discount=("discount", "sum"),
        returned=("returned", "sum"),
        items=("items", "sum"),
    ).reset_index()
    day = np.timedelta64(86_400, "s")
    view["avg_order_value"] = view["revenue"] / view["orders"]
    view["recency_days"] = (as_of - view["last_order_ts"]) / day
    view["tenure_days"] = (as_of - view["first_order_ts"]) / day
    span = (view["last_order_ts"] - view["first_order_ts"]) / day
    view["days_between_orders"] = (span / (view["orders"] - 1)).where(view["orders"] > 1)
    view["discount_share"] = view["discount"] / (view["revenue"] + view["discount"])
    view["return_rate"] = view["returned"] / view["orders"]
    return view.drop(columns=["discount", "returned"])


def _load(engine: str, path: str):
    """The orders in the engine's own memory, and a function computing the view from them."""
    if engine in ("segkit-pandas", "hand-pandas"):
        import pandas as pd

        from segkit.customer_view import customer_view

        orders = pd.read_parquet(path)
        return orders, customer_view if engine == "segkit-pandas" else hand_pandas
    if engine == "segkit-polars":
        import polars as pl

        from segkit.customer_view import customer_view

        return pl.read_parquet(path), customer_view
    import duckdb

    from segkit.customer_view import customer_view

    connection = duckdb.connect()
    connection.execute(f"create table orders as select * from read_parquet('{path}')")
    if engine == "segkit-duckdb":
        return connection.table("orders"), lambda orders: customer_view(orders).to_arrow_table()
    return connection, lambda connection: connection.sql(HAND_SQL).to_arrow_table()


def _as_pandas(result):
    import narwhals as nw

    frame = nw.from_native(result)
    frame = frame.collect() if isinstance(frame, nw.LazyFrame) else frame
    return frame.to_pandas().reset_index(drop=True)


def worker(engine: str, path: str) -> dict:
    """Load the orders, then time ``RUNS`` runs; peak RSS in MB before and after."""
    orders, compute = _load(engine, path)
    input_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    seconds = []
    for _ in range(RUNS):
        started = time.perf_counter()
        result = compute(orders)
        seconds.append(time.perf_counter() - started)
    rows = len(_as_pandas(result))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "seconds": statistics.median(seconds),
        "rows": rows,
        "input_mb": input_mb,
        "peak_mb": peak_mb,
    }


def check(path: str) -> None:
    """Every engine's columns equal the hand-written pandas ones on ``path`` (a small file)."""
    import pandas as pd

    expected = hand_pandas(pd.read_parquet(path))
    columns = list(expected.columns)
    for engine in ENGINES:
        orders, compute = _load(engine, path)
        got = _as_pandas(compute(orders))[columns]
        pd.testing.assert_frame_equal(
            got.convert_dtypes(), expected.convert_dtypes(), check_dtype=False
        )


def _run(*arguments: str) -> str:
    """This script in a fresh Python process; its last line of output.

    Generation and checks run in subprocesses too: a child's ``ru_maxrss``
    starts from its parent's peak, so the parent must never hold the orders.
    """
    done = subprocess.run(
        [sys.executable, __file__, *arguments], capture_output=True, text=True, check=True
    )
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES)
    parser.add_argument("--worker", nargs=2, metavar=("ENGINE", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--generate", nargs=2, metavar=("SIZE", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--check", metavar="PATH", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.worker:
        print(json.dumps(worker(*arguments.worker)))
    elif arguments.generate:
        size, path = arguments.generate
        pq.write_table(synthetic_orders(int(size), seed=int(size) % 1000), path)
    elif arguments.check:
        check(arguments.check)
    else:
        benchmark(arguments.sizes, arguments.engines)


def benchmark(sizes: list[int], engines: list[str]) -> None:
    """Check the engines agree on 20,000 orders, then print one row per size and engine."""
    with tempfile.TemporaryDirectory(prefix="segkit-bench-") as folder:
        small = str(Path(folder) / "check.parquet")
        _run("--generate", "20000", small)
        _run("--check", small)
        print("all engines match the hand-written pandas view on 20,000 orders\n")
        print(
            f"{'engine':<16} {'orders':>11} {'customers':>10} {'seconds':>8} "
            f"{'orders/s':>12} {'input MB':>9} {'peak MB':>8}"
        )
        for size in sizes:
            path = str(Path(folder) / f"orders_{size}.parquet")
            _run("--generate", str(size), path)
            for engine in engines:
                row = json.loads(_run("--worker", engine, path))
                print(
                    f"{engine:<16} {size:>11,} {row['rows']:>10,} {row['seconds']:>8.2f} "
                    f"{size / row['seconds']:>12,.0f} {row['input_mb']:>9,.0f} "
                    f"{row['peak_mb']:>8,.0f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
