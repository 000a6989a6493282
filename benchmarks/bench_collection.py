"""Time data collection — CSV load, validation and audit — at 2k, 20k and 100k customers.

Run it with ``python benchmarks/bench_collection.py`` (or ``make bench``). The demo
data is written once per size as CSV, then each step is timed (median of three
runs) and peak Python memory of validation is reported (tracemalloc).
"""

from __future__ import annotations

import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

import segkit as sk

SIZES = (2_000, 20_000, 100_000)
RUNS = 3


def median_seconds(step, *args, **kwargs):
    """Median wall time of ``RUNS`` calls, and the last result."""
    seconds = []
    for _ in range(RUNS):
        started = time.perf_counter()
        result = step(*args, **kwargs)
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result


def measure(n_customers: int, folder: Path) -> dict[str, float]:
    sk.simulate(n_customers=n_customers, seed=42).write(folder, format="csv")
    load_s, raw = median_seconds(sk.load_source, {"kind": "csv", "path": str(folder)})
    validate_s, validation = median_seconds(sk.validate, raw, as_of="2026-01-01")
    audit_s, _ = median_seconds(sk.audit, raw, validation)
    tracemalloc.start()
    sk.validate(raw, as_of="2026-01-01")
    peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    rows = int(raw.row_counts()["rows"].sum())
    return {
        "customers": n_customers,
        "rows": rows,
        "load_s": load_s,
        "validate_s": validate_s,
        "audit_s": audit_s,
        "rows_per_s": rows / (load_s + validate_s + audit_s),
        "peak_mb": peak_mb,
    }


def main() -> None:
    header = ["customers", "rows", "load_s", "validate_s", "audit_s", "rows_per_s", "peak_mb"]
    print(" ".join(f"{h:>12}" for h in header))
    for size in SIZES:
        with tempfile.TemporaryDirectory() as folder:
            row = measure(size, Path(folder))
        print(
            f"{row['customers']:>12,} {row['rows']:>12,} {row['load_s']:>12.2f} "
            f"{row['validate_s']:>12.2f} {row['audit_s']:>12.2f} {row['rows_per_s']:>12,.0f} "
            f"{row['peak_mb']:>12.0f}"
        )


if __name__ == "__main__":
    main()
