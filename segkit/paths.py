"""Where a run's reports and data live, so notebooks never hard-code paths.

A run is a folder under ``outputs/`` (or any absolute path): the executed
notebooks and their HTML at its top, the data each stage wrote in ``data/``.
``SEGKIT_OUTPUTS`` moves the outputs folder (the tests use it). A run's
``engine`` (:mod:`segkit.engines`) reads and writes the stage tables: pandas
frames by default, Polars lazy frames, DuckDB relations or Spark DataFrames.

Example
-------
>>> from segkit.paths import run_paths
>>> run_paths("/tmp/weekly").data
PosixPath('/tmp/weekly/data')
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from pyarrow.dataset import dataset as parquet_dataset

from segkit.dataset import Dataset, Truth
from segkit.engines import check_engine, read_parquet, write_parquet
from segkit.errors import StageOutputMissing
from segkit.schema import TABLE_NAMES

TRUTH_PARTS = ("channel_effects", "customers", "experiments", "defects")

#: Which notebook writes each stage file, for the error that names what to run first.
STAGE_WRITERS = {
    "customers": "01_data_collection",
    "orders": "01_data_collection",
    "touchpoints": "01_data_collection",
    "spend": "01_data_collection",
    "feedback": "01_data_collection",
    "experiments": "01_data_collection",
    "rejects": "01_data_collection",
    "segments": "02_segmentation",
    "attribution": "03_attribution",
    "channel_reach": "03_attribution",
    "journeys": "03_attribution",
}


def project_root(start: str | Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: the working directory)
    holding both ``notebooks/`` and ``params/``; the working directory if none does."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "notebooks").is_dir() and (folder / "params").is_dir():
            return folder
    return here


def outputs_root() -> Path:
    """``$SEGKIT_OUTPUTS`` when set, else ``<project root>/outputs``."""
    override = os.environ.get("SEGKIT_OUTPUTS")
    return Path(override).resolve() if override else project_root() / "outputs"


@dataclass(frozen=True)
class RunPaths:
    """The folders and files of one run, and the engine its stage tables are read with."""

    root: Path
    engine: str = "pandas"
    spark_conf: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.root.name

    @property
    def data(self) -> Path:
        return self.root / "data"

    def stage_file(self, name: str) -> Path:
        return self.data / f"{name}.parquet"

    def has(self, name: str) -> bool:
        """Whether an earlier stage wrote ``name``."""
        return self.stage_file(name).exists()

    def read(self, name: str, engine: str | None = None) -> Any:
        """Read a table an earlier stage wrote, or say which notebook to run first.

        The result is a frame of ``engine`` (default: the run's engine); small tables
        that feed plots or scikit-learn can be read with ``engine="pandas"``.
        """
        path = self.stage_file(name)
        if not path.exists():
            writer = STAGE_WRITERS.get(name, "the stage that writes it")
            raise StageOutputMissing(
                f"{path} does not exist: run {writer} for run '{self.name}' first "
                f"(segkit run --params params/<run>.yaml --out {self.root} --only {writer})"
            )
        return read_parquet(path, engine or self.engine, self.spark_conf)

    def write(self, name: str, frame: Any) -> Path:
        """Write a stage table (a frame of any engine, written by that engine) as Parquet
        under ``data/``; returns its path (a folder of part files for Spark)."""
        return write_parquet(frame, self.stage_file(name))

    def write_dataset(self, data: Dataset) -> pd.DataFrame:
        """Write every table (and a simulation's truth as ``truth_*``); a file/rows table.

        The rows are counted from the written files' footers.
        """
        frames = dict(data.tables())
        if data.truth is not None:
            frames |= {f"truth_{part}": getattr(data.truth, part) for part in TRUTH_PARTS}
        written = {name: self.write(name, frame).name for name, frame in frames.items()}
        rows = [self.rows(name) for name in written]
        return pd.DataFrame({"file": list(written.values()), "rows": rows})

    def rows(self, name: str) -> int:
        """The rows of a stage table, counted from its Parquet footers (no data is read)."""
        return parquet_dataset(self.stage_file(name)).count_rows()

    def read_dataset(self) -> Dataset:
        """The clean tables stage 01 wrote, as frames of the run's engine (absent optional
        tables are ``None``); a simulation's truth is small and stays pandas."""
        if not self.has("orders"):
            self.read("orders")  # raises the error that says which notebook to run
        tables = {name: self.read(name) for name in TABLE_NAMES if self.has(name)}
        truth = None
        if all(self.has(f"truth_{part}") for part in TRUTH_PARTS):
            truth = Truth(*(self.read(f"truth_{part}", "pandas") for part in TRUTH_PARTS))
        return Dataset(**tables, truth=truth)


def run_paths(
    run: str | Path, engine: str = "pandas", spark_conf: Mapping[str, Any] | None = None
) -> RunPaths:
    """The paths of run ``run``: a name under :func:`outputs_root`, or an absolute path.

    ``engine`` (one of :data:`segkit.engines.ENGINES`) reads the run's stage tables;
    ``spark_conf`` configures the Spark session it builds for ``engine="spark"``.
    """
    run = Path(run)
    root = run if run.is_absolute() else outputs_root() / run
    return RunPaths(root, check_engine(engine), dict(spark_conf or {}))
