"""Time the whole demo report (``segkit run``) at 10k, 100k and 1M customers.

Run it with ``python benchmarks/bench_report.py [--sizes 10000 100000] [--runs 1]
[--engine polars]``;
a report of 1M customers takes long, so one run per size is the default. The
issue's target: the full report for 100k customers and 5M touchpoints in under
two minutes. The demo makes about 30 touchpoints per customer (100k customers
give about 2.9M), so the table shows the actual counts and a last line
extrapolates to 5M touchpoints.

For each size and run, a fresh subprocess writes a params file like
``params/demo.yaml`` with ``source: {kind: demo, customers: N, seed: 42}`` and
``run:`` a temporary folder, then calls ``run_report`` on it, which is what
``segkit run --params`` does: the four notebooks run in order with papermill,
each in its own Jupyter kernel, and each is exported to HTML. Columns:

* ``customers``, ``orders``, ``touchpoints``: the rows notebook 01 wrote to the
  run's ``data/`` after validation (rejected rows are not counted);
* ``total s``: wall time of ``run_report``, imports excluded;
* ``01 s`` .. ``04 s``: each notebook's ``duration_seconds`` in ``run.json``:
  kernel start, every cell, kernel shutdown and writing the ``.ipynb``;
  ``other s`` is the rest of the total: the HTML pages, ``index.html`` and
  reading the notebooks' parameters;
* ``touchpoints/s``: touchpoints over ``total s``;
* ``CPU s``: CPU time (user + system) of the subprocess and its kernels: other
  processes sharing the machine inflate the wall time but hardly this;
* ``peak MB``: the larger of two peak resident set sizes (``ru_maxrss``): the
  subprocess's own (papermill, nbconvert and the HTML export) and the largest
  kernel's. The kernels are child processes the subprocess waits for, so
  ``RUSAGE_CHILDREN`` holds the peak of the largest one; it is a single
  kernel's peak, not a sum, and only one kernel runs at a time. ``kernel MB``
  shows that kernel's peak alone.

With ``--runs`` above one, each run is its own subprocess and the row shows
the median times and the highest peak. After the table, one line per pair of
successive sizes gives the growth of touchpoints and of the time, and the
exponent ``log(time ratio) / log(rows ratio)``: 1 is linear. The four kernel
starts cost a few seconds whatever the size, so exponents between small sizes
come out below 1. A last line estimates the time at 5M touchpoints from the
largest size, in proportion (too high when the fixed cost still weighs) and,
with two sizes or more, on the line through the last two.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import resource
import statistics
import tempfile
import time
from pathlib import Path

from _common import report, run_script

from segkit.engines import ENGINES

SIZES = (10_000, 100_000, 1_000_000)
RUNS = 1
SEED = 42
ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ("01_data_collection", "02_segmentation", "03_attribution", "04_analysis")
TABLES = ("customers", "orders", "touchpoints")
TARGET_TOUCHPOINTS = 5_000_000
TARGET_SECONDS = 120
# The slowest cell at 1M customers takes about 3 minutes; a kernel that stops
# answering fails its size after this many seconds instead of holding the suite.
CELL_TIMEOUT = 900


def write_params(customers: int, run: Path, engine: str) -> Path:
    """``params/demo.yaml`` with ``customers`` demo customers, ``run`` as the run folder and
    ``engine`` computing the stages after 01 (the demo source is generated with pandas)."""
    import yaml

    params = yaml.safe_load((ROOT / "params" / "demo.yaml").read_text(encoding="utf-8"))
    params["source"] = {"kind": "demo", "customers": customers, "seed": SEED}
    params["run"] = str(run)
    params["engine"] = engine
    path = run.with_suffix(".yaml")
    path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    return path


def worker(customers: int, run: Path, engine: str) -> dict:
    """Run the report into ``run``; its times, rows and peak memory."""
    import pyarrow.parquet as pq

    from segkit.errors import NotebookFailed
    from segkit.runner import run_report

    params = write_params(customers, run, engine)
    started = time.perf_counter()
    try:
        run_report(
            params, notebooks_dir=ROOT / "notebooks", progress=False, cell_timeout=CELL_TIMEOUT
        )
    except NotebookFailed as error:
        return {"failed": str(error)}
    seconds = time.perf_counter() - started
    record = json.loads((run / "run.json").read_text(encoding="utf-8"))
    own = resource.getrusage(resource.RUSAGE_SELF)
    kernels = resource.getrusage(resource.RUSAGE_CHILDREN)
    data = run / "data"
    return {
        "seconds": seconds,
        "notebooks": {nb["name"]: nb["duration_seconds"] for nb in record["notebooks"]},
        "rows": {name: pq.read_metadata(data / f"{name}.parquet").num_rows for name in TABLES},
        "cpu_seconds": own.ru_utime + own.ru_stime + kernels.ru_utime + kernels.ru_stime,
        "runner_mb": own.ru_maxrss / 1024,
        "kernel_mb": kernels.ru_maxrss / 1024,
        "html_mb": sum(page.stat().st_size for page in run.glob("*.html")) / 2**20,
    }


def measure(customers: int, runs: int, folder: Path, engine: str) -> dict:
    """``runs`` reports of ``customers`` in fresh subprocesses: median times, highest peak."""
    rows = []
    for number in range(runs):
        run = folder / f"report_{engine}_{customers}_{number}"
        try:
            row = json.loads(_run("--worker", str(customers), str(run), engine))
        except RuntimeError as error:  # the kernel died (out of memory?) or the runner broke
            return {"failed": str(error)}
        if "failed" in row:
            return row
        rows.append(row)
    return {
        "seconds": statistics.median(row["seconds"] for row in rows),
        "notebooks": {
            name: statistics.median(row["notebooks"][name] for row in rows) for name in NOTEBOOKS
        },
        "rows": rows[-1]["rows"],
        "cpu_seconds": statistics.median(row["cpu_seconds"] for row in rows),
        "peak_mb": max(max(row["runner_mb"], row["kernel_mb"]) for row in rows),
        "kernel_mb": max(row["kernel_mb"] for row in rows),
        "html_mb": rows[-1]["html_mb"],
    }


HEADER = (
    f"{'customers':>10} {'touchpoints':>12} {'orders':>10} {'total s':>8} "
    + " ".join(f"{name[:2] + ' s':>7}" for name in NOTEBOOKS)
    + f" {'other s':>7} {'touchpoints/s':>13} {'CPU s':>7} {'peak MB':>8} {'kernel MB':>9}"
    f" {'HTML MB':>7}"
)


def _line(row: dict) -> str:
    rows, seconds = row["rows"], row["seconds"]
    other = seconds - sum(row["notebooks"].values())
    return (
        f"{rows['customers']:>10,} {rows['touchpoints']:>12,} {rows['orders']:>10,} "
        f"{seconds:>8.1f} "
        + " ".join(f"{row['notebooks'][name]:>7.1f}" for name in NOTEBOOKS)
        + f" {other:>7.1f} {rows['touchpoints'] / seconds:>13,.0f} {row['cpu_seconds']:>7.1f}"
        f" {row['peak_mb']:>8,.0f} {row['kernel_mb']:>9,.0f} {row['html_mb']:>7.1f}"
    )


def _exponent(time_ratio: float, rows_ratio: float) -> float:
    return math.log(time_ratio) / math.log(rows_ratio) if rows_ratio != 1 else math.nan


def _growth(smaller: dict, larger: dict) -> str:
    """How touchpoints and time (total and per notebook) grew from one size to the next."""
    rows_ratio = larger["rows"]["touchpoints"] / smaller["rows"]["touchpoints"]
    time_ratio = larger["seconds"] / smaller["seconds"]
    per_notebook = ", ".join(
        f"{name[:2]} x{larger['notebooks'][name] / smaller['notebooks'][name]:.1f}"
        for name in NOTEBOOKS
    )
    return (
        f"{smaller['rows']['customers']:,} -> {larger['rows']['customers']:,} customers: "
        f"touchpoints x{rows_ratio:.1f}, time x{time_ratio:.1f} "
        f"(exponent {_exponent(time_ratio, rows_ratio):.2f}; {per_notebook})"
    )


def _target(smaller: dict | None, larger: dict) -> str:
    """The time at the target's touchpoints: the largest size's scaled in proportion and,
    with two sizes, the line through the last two (a fixed cost plus a cost per touchpoint)."""
    touchpoints, seconds = larger["rows"]["touchpoints"], larger["seconds"]
    estimates = [f"in proportion {seconds * TARGET_TOUCHPOINTS / touchpoints:,.0f} s"]
    if smaller is not None and touchpoints != smaller["rows"]["touchpoints"]:
        per_touchpoint = (seconds - smaller["seconds"]) / (
            touchpoints - smaller["rows"]["touchpoints"]
        )
        fixed = seconds - per_touchpoint * touchpoints
        estimates.append(
            f"as {fixed:,.1f} s + {per_touchpoint * 1000:.3f} ms per touchpoint "
            f"{fixed + per_touchpoint * TARGET_TOUCHPOINTS:,.0f} s"
        )
    return (
        f"{TARGET_TOUCHPOINTS:,} touchpoints, from {touchpoints:,}: "
        f"{'; '.join(estimates)} (target {TARGET_SECONDS} s)"
    )


def _run(*arguments: str) -> str:
    """This script in a fresh Python process (see ``_common``); its last line of output."""
    return run_script(__file__, *arguments)


def benchmark(sizes: list[int], runs: int, keep: str | None, engine: str) -> None:
    """A row per size, then the growth between successive sizes and the target estimate."""
    with tempfile.TemporaryDirectory(prefix="segkit-bench-report-") as temporary:
        folder = Path(keep or temporary).resolve()
        folder.mkdir(parents=True, exist_ok=True)
        print(f"engine: {engine}", flush=True)
        print(HEADER, flush=True)
        done = []
        for size in sizes:
            row = measure(size, runs, folder, engine)
            if "failed" in row:
                kept = "" if keep else " (--keep DIR keeps the partial notebooks)"
                print(f"{size:>10,} customers failed{kept}: {row['failed']}", flush=True)
                continue
            done.append(row)
            print(_line(row), flush=True)
    if not done:
        return
    print()
    for smaller, larger in itertools.pairwise(done):
        print(_growth(smaller, larger))
    print(_target(done[-2] if len(done) > 1 else None, done[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="customers")
    parser.add_argument("--runs", type=int, default=RUNS, help="reports per size")
    parser.add_argument(
        "--keep", metavar="DIR", help="write the run folders here and keep them (default: a temp)"
    )
    parser.add_argument(
        "--engine", default="pandas", choices=ENGINES, help="engine of notebooks 02-04"
    )
    parser.add_argument("--worker", nargs=3, metavar=("N", "RUN", "ENGINE"), help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.worker:
        customers, run, engine = arguments.worker
        report(worker(int(customers), Path(run), engine))
    else:
        benchmark(arguments.sizes, arguments.runs, arguments.keep, arguments.engine)


if __name__ == "__main__":
    main()
