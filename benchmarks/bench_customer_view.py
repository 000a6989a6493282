"""Time ``customer_view``, RFM and the CLV summary on segkit's engines against peers.

Run it with ``python benchmarks/bench_customer_view.py [--sizes 1000000 10000000]``
(``--steps`` and ``--engines`` pick a subset; ``--engines ... segkit-spark`` adds
Spark, ``--lifetimes PYTHON`` the lifetimes package). Synthetic orders (about five
per customer) are written to Parquet once per size. Three steps are measured:

* ``view``: ``customer_view(orders)``;
* ``view+rfm``: ``rfm(customer_view(orders), bins=5)``, segkit's scores and
  segments;
* ``clv-summary``: ``segkit.clv.summary(orders, "2025-12-31")``, the BG/NBD
  ``frequency, recency, T, monetary_value`` per customer in days (every order is
  before that day), on segkit's engines only, and with ``--lifetimes PYTHON``
  ``lifetimes.utils.summary_data_from_transaction_data(orders, "customer_id",
  "order_ts", "revenue", observation_period_end="2025-12-31", freq="D")`` on the
  same orders read into pandas.

``segkit-spark`` (opt-in: not in the default ``--engines``) runs segkit on a local
Spark in the worker process: ``master("local[2]")``, ``spark.sql.session.timeZone``
UTC, 8 shuffle partitions, no UI, 4 GB driver memory. It reads the same Parquet with
``spark.read.parquet``, caches it and counts it before timing (the other engines'
inputs are in memory too), and a run is the segkit call plus
``result.write.format("noop").mode("overwrite").save()``, which computes every row of
the result and writes it nowhere (nothing is collected to Python). Its peak and
input MB add the JVM's peak resident set (``VmHWM`` of the JVM process) to Python's,
its CPU s the JVM's CPU time per run (the mean over the runs, not the median).
The first run in a fresh JVM pays Spark's warm-up (query compilation, JIT), so keep
``--runs`` at 3 or more for Spark: at 100,000 orders its ``view`` took 12.7 s with
``--runs 1`` and 4.4 s as the median of 3.

lifetimes 0.11.3 needs old pandas, NumPy, SciPy and autograd, and must stay out of
the project's environment; give another Python that has it. This script's worker
runs in that interpreter too, so it also needs pyarrow (for the Parquet input).
``make bench`` builds one (``make .bench-peers/lifetimes/bin/python`` alone)::

    make .bench-peers/lifetimes/bin/python
    python benchmarks/bench_customer_view.py --lifetimes .bench-peers/lifetimes/bin/python

(tested with Python 3.11: pandas 1.5.3, NumPy 1.24.4, SciPy 1.11.4, autograd 1.6.2,
pyarrow 14.0.2). Before timing, lifetimes' summary of the 20,000 check orders must
equal segkit's pandas one, and that one every other selected segkit engine's:
``frequency``, ``recency`` and ``T`` exactly, ``monetary_value`` to 1e-9.

Next to segkit's pandas, Polars and DuckDB engines run two hand-written
baselines: a plain pandas groupby and one DuckDB SQL query. Their ``view+rfm``
computes the three scores the same way (quantile cut points of the buyers,
rounded to 10 significant digits, repeated cuts and cuts at the maximum
dropped, a value equal to a cut in the lower interval, the intervals' scores
spread over 1..5), and ``rfm_score`` and ``rfm_segment`` by a join with a table
of the 125 score combinations and their names (segkit's default segments).
Before timing, every engine's result on 20,000 orders is checked against the
hand-written pandas one: the view's columns for ``view``, those, the three
scores and the names for ``view+rfm``; every segkit engine's CLV summary is
checked against segkit's pandas one (and against lifetimes' when given).

Every measurement (size, step, engine) runs in a fresh subprocess that loads
the orders into its engine and reports the median of three runs (``--runs``).
DuckDB results are materialised as Arrow tables (``.to_arrow_table()``) inside
the timing, Spark ones with the ``noop`` write; the others return an eager frame
anyway. Peak memory is the subprocess's peak resident set size (``ru_maxrss``):
it counts the memory of Arrow, Polars and DuckDB that tracemalloc misses, and
includes the loaded input, shown as ``input MB``. ``CPU s`` is the median CPU time (user + system,
all threads) of a run: other processes sharing the machine inflate the wall
time but hardly the work done. A last line per size gives segkit's DuckDB and
Polars times as multiples of the hand-written SQL, and of lifetimes for the CLV
summary.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from _common import (
    jvm_cpu_seconds,
    jvm_peak_mb,
    jvm_pid,
    measure,
    noop_write,
    run_script,
    spark_session,
)

SIZES = (1_000_000, 10_000_000)
RUNS = 3
CHECK_ORDERS = 20_000
ORDERS_PER_CUSTOMER = 5
BINS = 5
STEPS = ("view", "view+rfm", "clv-summary")
SEGKIT = ("segkit-pandas", "segkit-polars", "segkit-duckdb", "segkit-spark")
HAND = ("hand-pandas", "hand-duckdb-sql")
#: What ``--engines`` offers; Spark is opt-in (a JVM, seconds per query at any size).
ENGINES = (*SEGKIT, *HAND)
DEFAULT_ENGINES = tuple(engine for engine in ENGINES if engine != "segkit-spark")
#: The engines each step runs on (``lifetimes`` only with ``--lifetimes PYTHON``).
STEP_ENGINES = {"view": ENGINES, "view+rfm": ENGINES, "clv-summary": (*SEGKIT, "lifetimes")}
#: The CLV summary's ``as_of`` / ``observation_period_end``: the day after the last order.
CLV_AS_OF = "2025-12-31"
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
#: The segment names come from a join with ``segment_map`` (r, f, m scores ->
#: ``rfm_score``, ``rfm_segment``: segkit's default table, see :func:`segment_map`).
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
),
scored as (
    select customers.*,{scores}
    from customers, cuts
)
select scored.*, segment_map.rfm_score, segment_map.rfm_segment
from scored join segment_map using (r_score, f_score, m_score)
order by customer_id
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


def segment_map():
    """The score combinations and their names, as an analyst would keep them in a table:
    segkit's default RFM segments (``rfm_segment_table()``)."""
    from segkit import rfm_segment_table

    names = ["r_score", "f_score", "m_score", "rfm_score", "rfm_segment"]
    return rfm_segment_table()[names]


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
    """The hand-written view plus the three scores (its customers are all buyers) and their
    names from :func:`segment_map`."""
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
    return view.merge(segment_map(), on=[score for score, _, _ in SCORED], how="left")


def _segkit(step: str, materialise=lambda result: result):
    """``customer_view``, then for ``view+rfm`` ``rfm(view, bins=BINS)``, or for
    ``clv-summary`` ``clv.summary(orders, CLV_AS_OF)``; materialised."""
    from segkit import clv, customer_view, rfm

    def compute(orders):
        if step == "clv-summary":
            return materialise(clv.summary(orders, CLV_AS_OF))
        view = customer_view(orders)
        return materialise(rfm(view, bins=BINS) if step == "view+rfm" else view)

    return compute


def _load(engine: str, step: str, path: str):
    """The orders in the engine's own memory, and a function computing ``step`` from them."""
    if engine == "lifetimes":
        import pandas as pd
        from lifetimes.utils import summary_data_from_transaction_data

        compute = partial(
            summary_data_from_transaction_data,
            customer_id_col="customer_id",
            datetime_col="order_ts",
            monetary_value_col="revenue",
            observation_period_end=CLV_AS_OF,
            freq="D",
        )
        return pd.read_parquet(path), compute
    if engine in ("segkit-pandas", "hand-pandas"):
        import pandas as pd

        hand = hand_pandas_rfm if step == "view+rfm" else hand_pandas
        return pd.read_parquet(path), _segkit(step) if engine == "segkit-pandas" else hand
    if engine == "segkit-polars":
        import polars as pl

        return pl.read_parquet(path), _segkit(step)
    if engine == "segkit-spark":
        orders = spark_session().read.parquet(path).cache()
        orders.count()
        return orders, _segkit(step, noop_write)
    import duckdb

    connection = duckdb.connect()
    connection.execute(f"create table orders as select * from read_parquet('{path}')")
    connection.register("names", segment_map())
    connection.execute("create table segment_map as select * from names")
    if engine == "segkit-duckdb":
        return connection.table("orders"), _segkit(step, lambda result: result.to_arrow_table())
    sql = hand_rfm_sql() if step == "view+rfm" else HAND_SQL
    return connection, lambda connection: connection.sql(sql).to_arrow_table()


def _as_pandas(result):
    import narwhals as nw

    frame = nw.from_native(result)
    frame = frame.collect() if isinstance(frame, nw.LazyFrame) else frame
    return frame.to_pandas().reset_index(drop=True)


def _rows(result) -> int:
    """The rows of a result (a Spark frame has no length: it is counted)."""
    return result.count() if hasattr(result, "sparkSession") else len(result)


def worker(engine: str, step: str, path: str, runs: int = RUNS) -> dict:
    """Load the orders, then time ``runs`` runs (wall and CPU); peak RSS in MB before and after.

    For Spark the JVM's peak RSS is added to both.
    """
    orders, compute = _load(engine, step, path)
    if engine != "segkit-spark":
        timing, result = measure(lambda: compute(orders), runs)
        return {**timing, "rows": _rows(result)}
    pid = jvm_pid(orders)
    jvm_input_mb, jvm_cpu = jvm_peak_mb(pid), jvm_cpu_seconds(pid)
    timing, result = measure(lambda: compute(orders), runs)
    timing["cpu_seconds"] += (jvm_cpu_seconds(pid) - jvm_cpu) / runs
    timing["input_mb"] += jvm_input_mb
    timing["peak_mb"] += jvm_peak_mb(pid)
    return {**timing, "rows": _rows(result)}


def lifetimes_summary(path: str, out: str) -> None:
    """lifetimes' summary of the orders at ``path``, written to ``out`` (its interpreter)."""
    orders, compute = _load("lifetimes", "clv-summary", path)
    compute(orders).reset_index().to_parquet(out, index=False)


def _same_summary(got, expected, label: str) -> float:
    """Raise unless the two CLV summaries agree (see the module docstring); the largest
    relative ``monetary_value`` difference."""
    import numpy as np

    got = got.sort_values("customer_id", ignore_index=True)
    expected = expected.sort_values("customer_id", ignore_index=True)
    assert got["customer_id"].astype(str).tolist() == expected["customer_id"].astype(str).tolist()
    for column in ("frequency", "recency", "T"):
        a, b = got[column].to_numpy(float), expected[column].to_numpy(float)
        differ = np.flatnonzero(a != b)
        assert not len(differ), f"{label}: {column} differs for {len(differ)} customers"
    a, b = got["monetary_value"].to_numpy(float), expected["monetary_value"].to_numpy(float)
    relative = float(np.max(np.abs(a - b) / np.maximum(1.0, np.abs(b))))
    assert relative <= 1e-9, f"{label}: monetary_value differs by {relative:.3g} (relative)"
    return relative


def check(path: str, engines: list[str], lifetimes_result: str | None = None) -> str:
    """The engines' views (and scores) equal the hand-written pandas ones on ``path``, and
    their CLV summaries segkit's pandas one (and lifetimes' at ``lifetimes_result``)."""
    import pandas as pd

    from segkit import clv

    expected = hand_pandas_rfm(pd.read_parquet(path))
    scores = [score for score, _, _ in SCORED]
    assert expected[scores].nunique().min() > 1, "every customer has the same score"
    assert expected["rfm_segment"].nunique() > 5, "too few segments to check"
    rfm_columns = [*scores, "rfm_score", "rfm_segment"]
    for step in ("view", "view+rfm"):
        columns = [n for n in expected.columns if step == "view+rfm" or n not in rfm_columns]
        for engine in engines:
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
    summary = clv.summary(pd.read_parquet(path), CLV_AS_OF)
    assert summary["frequency"].gt(0).mean() > 0.5, "too few repeat buyers to check"
    for engine in engines:
        if engine in STEP_ENGINES["clv-summary"]:
            orders, compute = _load(engine, "clv-summary", path)
            _same_summary(_as_pandas(compute(orders)), summary, f"clv-summary {engine}")
    checked = f"views, scores and segments of {', '.join(engines)} equal hand-pandas'"
    if lifetimes_result:
        theirs = pd.read_parquet(lifetimes_result)
        relative = _same_summary(summary, theirs, "segkit-pandas vs lifetimes")
        checked += (
            f"; segkit's CLV summary equals lifetimes' for {len(theirs):,} customers "
            f"(frequency, recency, T exactly; monetary_value to {relative:.1e} relative)"
        )
    return checked


def _run(*arguments: str, python: str = sys.executable) -> str:
    """This script in a fresh Python process (see ``_common``); its last line of output."""
    return run_script(__file__, *arguments, python=python)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--steps", nargs="+", default=list(STEPS), choices=STEPS)
    parser.add_argument("--engines", nargs="+", default=list(DEFAULT_ENGINES), choices=ENGINES)
    parser.add_argument("--runs", type=int, default=RUNS, help="timed runs per measurement")
    parser.add_argument(
        "--lifetimes", metavar="PYTHON", help="a Python with lifetimes 0.11.3 (see above)"
    )
    parser.add_argument(
        "--worker", nargs=3, metavar=("ENGINE", "STEP", "PATH"), help=argparse.SUPPRESS
    )
    parser.add_argument("--generate", nargs=2, metavar=("SIZE", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--check", metavar="PATH", help=argparse.SUPPRESS)
    parser.add_argument("--lifetimes-result", metavar="PATH", help=argparse.SUPPRESS)
    parser.add_argument(
        "--lifetimes-summary", nargs=2, metavar=("PATH", "OUT"), help=argparse.SUPPRESS
    )
    arguments = parser.parse_args()
    if arguments.worker:
        print(json.dumps(worker(*arguments.worker, runs=arguments.runs)))
    elif arguments.generate:
        size, path = arguments.generate
        pq.write_table(synthetic_orders(int(size), seed=int(size) % 1000), path)
        os.sync()  # written back now, not while the first engine is being timed
    elif arguments.check:
        print(check(arguments.check, arguments.engines, arguments.lifetimes_result))
    elif arguments.lifetimes_summary:
        lifetimes_summary(*arguments.lifetimes_summary)
    else:
        benchmark(
            arguments.sizes, arguments.steps, arguments.engines, arguments.runs, arguments.lifetimes
        )


HEADER = (
    f"{'step':<11} {'engine':<16} {'orders':>11} {'customers':>10} {'seconds':>8} "
    f"{'orders/s':>12} {'peak MB':>8} {'input MB':>9} {'CPU s':>6}"
)


def _line(step: str, engine: str, size: int, row: dict) -> str:
    return (
        f"{step:<11} {engine:<16} {size:>11,} {row['rows']:>10,} {row['seconds']:>8.2f} "
        f"{size / row['seconds']:>12,.0f} {row['peak_mb']:>8,.0f} {row['input_mb']:>9,.0f} "
        f"{row['cpu_seconds']:>6.2f}"
    )


def _ratios(size: int, seconds: dict[tuple[str, str], float]) -> str:
    """segkit's times over the hand-written SQL's (view steps) and lifetimes' (CLV summary)."""
    parts = []
    for step in STEPS:
        peer = "lifetimes" if step == "clv-summary" else "hand-duckdb-sql"
        engines = SEGKIT if step == "clv-summary" else ("segkit-duckdb", "segkit-polars")
        for engine in engines:
            if seconds.get((step, peer)) and (step, engine) in seconds:
                ratio = seconds[step, engine] / seconds[step, peer]
                parts.append(f"{step} {engine} / {peer} = {ratio:.2f}")
    return f"ratios at {size:,} orders: " + ("; ".join(parts) or "(need hand-duckdb-sql)")


def benchmark(
    sizes: list[int], steps: list[str], engines: list[str], runs: int, lifetimes: str | None
) -> None:
    """Check the engines agree on a small input, then print a row per size, step and engine.

    ``lifetimes``: a Python with lifetimes, which then runs the CLV summary too.
    """
    with tempfile.TemporaryDirectory(prefix="segkit-bench-") as folder:
        small = str(Path(folder) / "check.parquet")
        _run("--generate", str(CHECK_ORDERS), small)
        checking = ["--check", small, "--engines", *engines]
        if lifetimes and "clv-summary" in steps:
            theirs = str(Path(folder) / "lifetimes_check.parquet")
            _run("--lifetimes-summary", small, theirs, python=lifetimes)
            checking += ["--lifetimes-result", theirs]
        print(f"on {CHECK_ORDERS:,} orders: " + _run(*checking))
        print()
        print(HEADER)
        peers = ["lifetimes"] if lifetimes else []
        for size in sizes:
            path = str(Path(folder) / f"orders_{size}.parquet")
            _run("--generate", str(size), path)
            seconds = {}
            for step in steps:
                for engine in [*engines, *peers]:
                    if engine not in STEP_ENGINES[step]:
                        continue
                    python = lifetimes if engine == "lifetimes" else sys.executable
                    row = json.loads(
                        _run("--worker", engine, step, path, "--runs", str(runs), python=python)
                    )
                    seconds[step, engine] = row["seconds"]
                    print(_line(step, engine, size, row), flush=True)
            print(_ratios(size, seconds) + "\n", flush=True)


if __name__ == "__main__":
    main()
