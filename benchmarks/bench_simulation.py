"""Time the demo generator at 2k, 20k and 100k customers (median of three runs).

Run it with ``python benchmarks/bench_simulation.py``; it prints one row per size:
customers, orders, touchpoints, seconds and touchpoints generated per second.
"""

from __future__ import annotations

from _common import timed

from segkit.simulation import simulate

SIZES = (2_000, 20_000, 100_000)
RUNS = 3


def measure(n_customers: int) -> dict[str, float]:
    """Rows produced and the median wall time of ``RUNS`` runs of ``simulate``."""
    median, _, data = timed(lambda: simulate(n_customers=n_customers, seed=42), RUNS)
    return {
        "customers": n_customers,
        "orders": len(data.orders),
        "touchpoints": len(data.touchpoints),
        "seconds": median,
        "touchpoints_per_second": len(data.touchpoints) / median,
    }


def main() -> None:
    print(
        f"{'customers':>10} {'orders':>10} {'touchpoints':>12} {'seconds':>8} {'touchpoints/s':>14}"
    )
    for size in SIZES:
        row = measure(size)
        print(
            f"{row['customers']:>10,} {row['orders']:>10,} {row['touchpoints']:>12,} "
            f"{row['seconds']:>8.2f} {row['touchpoints_per_second']:>14,.0f}"
        )


if __name__ == "__main__":
    main()
