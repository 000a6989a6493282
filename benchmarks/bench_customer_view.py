"""Time ``customer_view`` and RFM on pandas, Polars and DuckDB against hand-written code.

Run it with ``python benchmarks/bench_customer_view.py [--sizes 1000000 10000000]``
(``--steps`` and ``--engines`` pick a subset). Synthetic orders (about five per
customer) are written to Parquet once per size. Two steps are measured:

* ``view``: ``customer_view(orders)``;
* ``view+rfm``: ``rfm(customer_view(orders), bins=5)``, segkit's scores and
  segments.

Next to segkit's pandas, Polars and DuckDB engines run two hand-written
baselines: a plain pandas groupby and one DuckDB SQL query. Their ``view+rfm``
computes the three scores the same way (quantile cut points of the buyers,
rounded to 10 significant digits, repeated cuts and cuts at the maximum
dropped, a value equal to a cut in the lower interval, the intervals' scores
spread over 1..5) but not ``rfm_score`` or the segment names. Before timing,
every engine's result on 20,000 orders is checked against the hand-written
pandas one: the view's columns for ``view``, those and the three scores for
``view+rfm``.

Every measurement (size, step, engine) runs in a fresh subprocess that loads
the orders into its engine and reports the median of three runs (``--runs``).
DuckDB results are materialised as Arrow tables (``.to_arrow_table()``) inside
the timing; the others return an eager frame anyway. Peak memory is the
subprocess's peak resident set size (``ru_maxrss``): it counts the memory of
Arrow, Polars and DuckDB that tracemalloc misses, and includes the loaded
input, shown as ``input MB``. ``CPU s`` is the median CPU time (user + system,
all threads) of a run: other processes sharing the machine inflate the wall
time but hardly the work done. A last line per size gives segkit's DuckDB and
Polars times as multiples of the hand-written SQL.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from _common import measure, run_script

SIZES = (1_000_000, 10_000_000)
RUNS = 3
CHECK_ORDERS = 20_000
ORDERS_PER_CUSTOMER = 5
BINS = 5
STEPS = ("view", "view+rfm")
ENGINES = ("segkit-pandas", "segkit-polars", "segkit-duckdb", "hand-pandas", "hand-duckdb-sql")
#: Score column, view column, and whether the lowest values score highest.
SCORED = (
    ("r_score", "recency_days", True),
    ("f_score", "orders", False),
    ("m_score", "revenue", False),
)
#: segkit's cut-point quantiles: bins - 1 cuts, then the maximum.
PROBABILITIES = [i / BINS for i in range(1, BINS)] + [1.0]
_START = np.datetime64("2024-01-01T00:00:00", "s")
_PERIOD_SECONDS = 730 * 86_400

VIEW_SQL = """
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
from per_customer, as_of
"""
HAND_SQL = VIEW_SQL + "order by customer_id"

#: The three scores after the view, written out for BINS = 5. ``quantiles``: each
#: metric's quantiles of the buyers, rounded to 10 significant digits like segkit's;
#: ``cuts``: a cut equal to the previous one or not below the maximum becomes +inf and
#: counts nothing, ``*_cuts`` counts the others; a score is the number of cuts below
#: the value (from the top for recency) spread over 1..5 like segkit's ``_spread``.
#: The hand-written view holds buyers only, so there is no prospect branch.
HAND_RFM_SQL = """
with customers as materialized ({view}),
quantiles as (
    select {quantiles}
    from customers where orders > 0 and recency_days is not null
),
cuts as (
    select{cuts}
    from quantiles
)
select customers.*,{scores}
from customers, cuts order by customer_id
"""
_QUANTILES = (
    "list_transform(quantile_cont({column}, [0.2, 0.4, 0.6, 0.8, 1.0]),\n"
    "                   lambda q: format('{{:.10g}}', q)::double) as {p}"
)
_CUTS = """
    case when {p}[1] < {p}[5] then {p}[1] else 'inf' end as {p}1,
    case when {p}[2] < {p}[5] and {p}[2] > {p}[1] then {p}[2] else 'inf' end as {p}2,
    case when {p}[3] < {p}[5] and {p}[3] > {p}[2] then {p}[3] else 'inf' end as {p}3,
    case when {p}[4] < {p}[5] and {p}[4] > {p}[3] then {p}[4] else 'inf' end as {p}4,
    ({p}1 < 'inf')::int + ({p}2 < 'inf')::int + ({p}3 < 'inf')::int + ({p}4 < 'inf')::int
        as {p}_cuts"""
_BELOW = (
    "({column} > {p}1)::int + ({column} > {p}2)::int"
    " + ({column} > {p}3)::int + ({column} > {p}4)::int"
)
_SCORE = """
    case when {p}_cuts = 0 then 3
         else 1 + floor(4 * ({interval}) / {p}_cuts + 0.5)::int end as {score}"""


def hand_rfm_sql() -> str:
    """HAND_RFM_SQL filled in for recency, frequency and monetary."""
    quantiles, cuts, scores = [], [], []
    for score, column, lowest_best in SCORED:
        p = score[0]
        quantiles.append(_QUANTILES.format(column=column, p=p))
        cuts.append(_CUTS.format(p=p))
        below = _BELOW.format(column=column, p=p)
        interval = f"{p}_cuts - ({below})" if lowest_best else below
        scores.append(_SCORE.format(p=p, interval=interval, score=score))
    return HAND_RFM_SQL.format(
        view=VIEW_SQL,
        quantiles=",\n           ".join(quantiles),
        cuts=",".join(cuts),
        scores=",".join(scores),
    )


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


def hand_pandas_rfm(orders):
    """The hand-written view plus the three scores (its customers are all buyers)."""
    view = hand_pandas(orders)
    for score, column, lowest_best in SCORED:
        values = view[column].to_numpy()
        *cuts, top = (float(f"{q:.10g}") for q in np.quantile(values, PROBABILITIES))
        cuts = np.unique([cut for cut in cuts if cut < top])
        below = np.searchsorted(cuts, values, side="left")  # cuts < value: equal falls lower
        interval = len(cuts) - below if lowest_best else below
        if len(cuts) == 0:
            view[score] = (BINS + 1) // 2
        else:
            view[score] = 1 + np.floor((BINS - 1) * interval / len(cuts) + 0.5).astype("int64")
    return view


def _segkit(step: str, materialise=lambda result: result):
    """``customer_view``, then for ``view+rfm`` ``rfm(view, bins=BINS)``; materialised."""
    from segkit import customer_view, rfm

    def compute(orders):
        view = customer_view(orders)
        return materialise(rfm(view, bins=BINS) if step == "view+rfm" else view)

    return compute


def _load(engine: str, step: str, path: str):
    """The orders in the engine's own memory, and a function computing ``step`` from them."""
    if engine in ("segkit-pandas", "hand-pandas"):
        import pandas as pd

        hand = hand_pandas_rfm if step == "view+rfm" else hand_pandas
        return pd.read_parquet(path), _segkit(step) if engine == "segkit-pandas" else hand
    if engine == "segkit-polars":
        import polars as pl

        return pl.read_parquet(path), _segkit(step)
    import duckdb

    connection = duckdb.connect()
    connection.execute(f"create table orders as select * from read_parquet('{path}')")
    if engine == "segkit-duckdb":
        return connection.table("orders"), _segkit(step, lambda result: result.to_arrow_table())
    sql = hand_rfm_sql() if step == "view+rfm" else HAND_SQL
    return connection, lambda connection: connection.sql(sql).to_arrow_table()


def _as_pandas(result):
    import narwhals as nw

    frame = nw.from_native(result)
    frame = frame.collect() if isinstance(frame, nw.LazyFrame) else frame
    return frame.to_pandas().reset_index(drop=True)


def worker(engine: str, step: str, path: str, runs: int = RUNS) -> dict:
    """Load the orders, then time ``runs`` runs (wall and CPU); peak RSS in MB before and after."""
    orders, compute = _load(engine, step, path)
    timing, result = measure(lambda: compute(orders), runs)
    return {**timing, "rows": len(_as_pandas(result))}


def check(path: str) -> None:
    """Every engine's view (and scores) equal the hand-written pandas ones on ``path``."""
    import pandas as pd

    expected = hand_pandas_rfm(pd.read_parquet(path))
    scores = [score for score, _, _ in SCORED]
    assert expected[scores].nunique().min() > 1, "every customer has the same score"
    for step in STEPS:
        columns = [name for name in expected.columns if step == "view+rfm" or name not in scores]
        for engine in ENGINES:
            orders, compute = _load(engine, step, path)
            got = _as_pandas(compute(orders))
            missing = set(columns) - set(got.columns)
            assert not missing, f"{step} {engine}: no columns {sorted(missing)}"
            pd.testing.assert_frame_equal(
                got[columns].convert_dtypes(),
                expected[columns].convert_dtypes(),
                check_dtype=False,
                obj=f"{step} {engine}",
            )


def _run(*arguments: str) -> str:
    """This script in a fresh Python process (see ``_common``); its last line of output."""
    return run_script(__file__, *arguments)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--steps", nargs="+", default=list(STEPS), choices=STEPS)
    parser.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES)
    parser.add_argument("--runs", type=int, default=RUNS, help="timed runs per measurement")
    parser.add_argument(
        "--worker", nargs=3, metavar=("ENGINE", "STEP", "PATH"), help=argparse.SUPPRESS
    )
    parser.add_argument("--generate", nargs=2, metavar=("SIZE", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--check", metavar="PATH", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.worker:
        print(json.dumps(worker(*arguments.worker, runs=arguments.runs)))
    elif arguments.generate:
        size, path = arguments.generate
        pq.write_table(synthetic_orders(int(size), seed=int(size) % 1000), path)
    elif arguments.check:
        check(arguments.check)
    else:
        benchmark(arguments.sizes, arguments.steps, arguments.engines, arguments.runs)


HEADER = (
    f"{'step':<9} {'engine':<16} {'orders':>11} {'customers':>10} {'seconds':>8} "
    f"{'orders/s':>12} {'peak MB':>8} {'input MB':>9} {'CPU s':>6}"
)


def _line(step: str, engine: str, size: int, row: dict) -> str:
    return (
        f"{step:<9} {engine:<16} {size:>11,} {row['rows']:>10,} {row['seconds']:>8.2f} "
        f"{size / row['seconds']:>12,.0f} {row['peak_mb']:>8,.0f} {row['input_mb']:>9,.0f} "
        f"{row['cpu_seconds']:>6.2f}"
    )


def _ratios(size: int, seconds: dict[tuple[str, str], float]) -> str:
    """segkit's DuckDB and Polars times over the hand-written SQL's, per step."""
    parts = []
    for step in STEPS:
        sql = seconds.get((step, "hand-duckdb-sql"))
        for engine in ("segkit-duckdb", "segkit-polars"):
            if sql and (step, engine) in seconds:
                parts.append(
                    f"{step} {engine} / hand-duckdb-sql = {seconds[step, engine] / sql:.2f}"
                )
    return f"ratios at {size:,} orders: " + ("; ".join(parts) or "(need hand-duckdb-sql)")


def benchmark(sizes: list[int], steps: list[str], engines: list[str], runs: int) -> None:
    """Check the engines agree on a small input, then print a row per size, step and engine."""
    with tempfile.TemporaryDirectory(prefix="segkit-bench-") as folder:
        small = str(Path(folder) / "check.parquet")
        _run("--generate", str(CHECK_ORDERS), small)
        _run("--check", small)
        print(
            f"all engines match the hand-written pandas view and scores on {CHECK_ORDERS:,} orders"
        )
        print()
        print(HEADER)
        for size in sizes:
            path = str(Path(folder) / f"orders_{size}.parquet")
            _run("--generate", str(size), path)
            seconds = {}
            for step in steps:
                for engine in engines:
                    row = json.loads(_run("--worker", engine, step, path, "--runs", str(runs)))
                    seconds[step, engine] = row["seconds"]
                    print(_line(step, engine, size, row), flush=True)
            print(_ratios(size, seconds) + "\n", flush=True)


if __name__ == "__main__":
    main()
