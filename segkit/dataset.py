"""`Dataset`: the canonical tables of one source, plus the truth of simulated data."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from segkit.engines import engine_of, row_count, to_pandas, write_parquet
from segkit.schema import TABLE_NAMES


@dataclass
class Truth:
    """What the demo generator planted, so analyses can be checked against it.

    Attributes
    ----------
    channel_effects : DataFrame
        ``channel``, ``incremental_effect``: the increase in a journey's
        conversion probability from one touch of the channel (direct is 0),
        and ``incremental_conversions``: the expected conversions of the
        tracked journeys that would be lost without the channel, the truth
        attribution models estimate.
    customers : DataFrame
        ``customer_id`` and one boolean column per planted behaviour:
        ``vip``, ``discount_abuser``, ``cherry_picker``, ``churned``, ``charmed``.
    experiments : DataFrame
        ``experiment``, ``control_rate``, ``treatment_rate``, ``absolute_lift``,
        ``relative_lift``, ``window_days``: the planted conversion rates within
        the window after assignment.
    defects : DataFrame
        ``table``, ``row``, ``rule``: rows deliberately made invalid, which
        validation must send to the rejects ledger.
    """

    channel_effects: pd.DataFrame
    customers: pd.DataFrame
    experiments: pd.DataFrame
    defects: pd.DataFrame


@dataclass
class Dataset:
    """One data source in canonical form: a frame (or ``None``) per table.

    Example
    -------
    >>> import segkit as sk
    >>> data = sk.simulate(n_customers=200, seed=1)
    >>> sorted(data.tables())[:2]
    ['customers', 'experiments']
    """

    orders: Any = None
    customers: Any = None
    touchpoints: Any = None
    spend: Any = None
    feedback: Any = None
    experiments: Any = None
    truth: Truth | None = field(default=None, repr=False)
    #: Source lines that could not be parsed at all (``table``, ``line``, ``text``,
    #: ``error``); validation sends them to the rejects ledger.
    unreadable: pd.DataFrame | None = field(default=None, repr=False)

    def tables(self) -> dict[str, Any]:
        """The tables present, by canonical name, in canonical order."""
        return {
            name: getattr(self, name) for name in TABLE_NAMES if getattr(self, name) is not None
        }

    def row_counts(self) -> pd.DataFrame:
        """A small ``table``/``rows``/``engine`` frame of the tables present, each counted
        by the engine that holds it."""
        tables = self.tables()
        return pd.DataFrame(
            {
                "table": list(tables),
                "rows": [row_count(t) for t in tables.values()],
                "engine": [engine_of(t) for t in tables.values()],
            }
        )

    def replace(self, **tables: Any) -> Dataset:
        """A copy with some tables replaced (truth and unreadable lines are kept)."""
        current = {f.name: getattr(self, f.name) for f in fields(self)}
        return Dataset(**{**current, **tables})

    def write(
        self, directory: str | Path, format: Literal["parquet", "csv"] = "parquet"
    ) -> dict[str, Path]:
        """Write each table as ``<directory>/<table>.<format>``; returns the paths.

        Parquet is written by the table's engine (a folder of part files for Spark).
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        written = {}
        for name, frame in self.tables().items():
            path = directory / f"{name}.{format}"
            if format == "parquet":
                write_parquet(frame, path)
            elif format == "csv":
                to_pandas(frame).to_csv(path, index=False)
            else:
                raise ValueError(f"format must be 'parquet' or 'csv', not {format!r}")
            written[name] = path
        return written

    def __repr__(self) -> str:
        counts = ", ".join(f"{name}={_size(t)}" for name, t in self.tables().items())
        return f"Dataset({counts}{', with truth' if self.truth is not None else ''})"


def _size(frame: Any) -> str:
    """A pandas table's row count; the engine of any other (counting would run a query)."""
    return f"{len(frame):,}" if isinstance(frame, pd.DataFrame) else f"<{engine_of(frame)}>"
