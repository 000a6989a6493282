"""Time data collection — CSV load, validation and audit — at 2k, 20k and 100k customers.

Run it with ``python benchmarks/bench_collection.py`` (or ``make bench``). The demo
data is written once per size as CSV, then each step is timed (median of three
runs) and peak Python memory of validation is reported (tracemalloc).
"""

from __future__ import annotations

import tempfile
import tracemalloc
from pathlib import Path

from _common import timed

import segkit as sk

SIZES = (2_000, 20_000, 100_000)
RUNS = 3


def measure(n_customers: int, folder: Path) -> dict[str, float]:
    sk.simulate(n_customers=n_customers, seed=42).write(folder, format="csv")
    load_s, _, raw = timed(lambda: sk.load_source({"kind": "csv", "path": str(folder)}), RUNS)
    validate_s, _, validation = timed(lambda: sk.validate(raw, as_of="2026-01-01"), RUNS)
    audit_s, _, _ = timed(lambda: sk.audit(raw, validation), RUNS)
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
