"""Time every attribution model from synthetic touchpoints with pandas, Polars and DuckDB.

Run it with ``python benchmarks/bench_attribution.py`` (``--sizes``,
``--engines``, ``--models``, ``--runs`` to narrow it). The inputs are those of
``bench_journeys.py``: 5M touchpoints by default (1M customers, eight
channels) and one order per twenty touches, which gives about a million
journeys.

Each engine runs in a fresh subprocess that loads the Parquet files into the
engine's own memory, times ``journeys`` (median of ``--runs``), keeps one
result in the engine (a Polars or pandas frame, a DuckDB relation over the
Arrow result) and then times ``attribute`` for each model on it (median of
``--runs``). ``from touchpoints`` is the sum of the two medians: what a
notebook pays for one model. Peak memory is the subprocess's peak resident
set size over all of its work, input included.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from _common import peak_mb, report, run_script, timed
from bench_journeys import _load, generate

from segkit.attribution import MODELS

SIZES = (5_000_000,)
ENGINES = ("pandas", "polars", "duckdb")
RUNS = 3
#: Options the models that need them get (``custom`` has no default weights).
OPTIONS = {"custom": {"weights": {"first": 3, "last": 2, "middle": 1}}}


def _in_engine(engine: str, result):
    """The journeys kept in the engine: a DuckDB relation reads its own Arrow result."""
    if engine != "duckdb":
        return result
    import duckdb

    return duckdb.from_arrow(result)


def worker(engine: str, folder: str, runs: int, models: list[str]) -> dict:
    """Load the inputs, time ``journeys``, then each model on one kept result."""
    from segkit.attribution import attribute
    from segkit.journeys import journeys

    (touches, orders), materialise = _load(engine, folder)
    seconds, _, built = timed(lambda: materialise(journeys(touches, orders)), runs)
    steps = _in_engine(engine, built)
    row = {"journeys": seconds, "models": {}}
    for model in models:
        options = OPTIONS.get(model, {})
        model_seconds, _, credits = timed(lambda m=model, o=options: attribute(steps, m, **o), runs)
        row["models"][model] = model_seconds
        row.setdefault("conversions", float(credits["conversions"].sum()))
    row["peak_mb"] = peak_mb()
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
    print(f"\n{size:,} touchpoints, {runs_note(rows)}")
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
