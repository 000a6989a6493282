"""The ``segkit`` command: run a report, write demo data.

Example
-------
::

    segkit run --params params/demo.yaml            # all four notebooks → outputs/demo/
    segkit run --params params/demo.yaml --only 02_segmentation --with-code
    segkit run --params params/big.yaml --cell-timeout 7200   # a cell may take 2 hours
    segkit demo-data --customers 2000 --seed 42 --out data/demo --format csv
    segkit --version
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from segkit import __version__
from segkit.errors import NotebookFailed, ParameterError, SegkitError
from segkit.runner import CELL_TIMEOUT, NOTEBOOKS, checked_cell_timeout, run_report


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``segkit`` command line; returns the exit status.

    Expected failures (a notebook cell raising, bad parameters) are reported
    in one paragraph on stderr with status 1, without a Python traceback.

    Example
    -------
    >>> main(["run", "--params", "params/demo.yaml", "--quiet"])  # doctest: +SKIP
    0
    """
    args = _parser().parse_args(argv)
    try:
        return args.command(args)
    except NotebookFailed as error:
        index = Path(error.output).parent / "index.html"
        print(f"segkit: {error}\n  report so far: {index}", file=sys.stderr)
    except SegkitError as error:
        print(f"segkit: {error}", file=sys.stderr)
    return 1


def _run(args: argparse.Namespace) -> int:
    result = run_report(
        args.params,
        out=args.out,
        only=args.only,
        with_code=args.with_code,
        progress=not args.quiet,
        cell_timeout=args.cell_timeout,
    )
    print(f"report written to {result.index}")
    return 0


def _demo_data(args: argparse.Namespace) -> int:
    from segkit.simulation import simulate  # the generator is only needed here

    data = simulate(n_customers=args.customers, seed=args.seed)
    tables = data.tables()
    written = data.write(args.out, args.format)
    width = max(len(str(path)) for path in written.values())
    for name, path in written.items():
        print(f"{str(path):<{width}}  {len(tables[name]):>9,} rows")
    return 0


def _positive_int(text: str) -> int:
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def _seconds(text: str) -> float | None:
    try:
        return checked_cell_timeout(text)
    except ParameterError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="segkit", description="Customer segmentation and attribution reports."
    )
    parser.add_argument("--version", action="version", version=f"segkit {__version__}")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="execute the report notebooks into a run folder",
        description="Execute the report notebooks with papermill; write HTML and index.html.",
    )
    run.add_argument("--params", required=True, help="YAML file of notebook parameters")
    run.add_argument("--out", help="run folder (default: outputs/<params file name>)")
    run.add_argument(
        "--only",
        nargs="+",
        action="extend",
        metavar="NAME",
        help=f"run only these notebooks, in report order ({', '.join(NOTEBOOKS)})",
    )
    run.add_argument("--with-code", action="store_true", help="show code cells in the HTML")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    run.add_argument(
        "--cell-timeout",
        type=_seconds,
        default=CELL_TIMEOUT,
        metavar="SECONDS",
        help=f"fail a notebook whose cell runs longer (default {CELL_TIMEOUT}; 0: no limit)",
    )
    run.set_defaults(command=_run)

    demo = commands.add_parser(
        "demo-data",
        help="write simulated demo tables",
        description="Write the six canonical tables of simulated customers.",
    )
    demo.add_argument("--customers", type=_positive_int, required=True, metavar="N")
    demo.add_argument("--seed", type=int, default=42, metavar="S")
    demo.add_argument("--out", required=True, metavar="DIR", help="folder to write the tables to")
    demo.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    demo.set_defaults(command=_demo_data)
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
