"""Where a run's reports and data live, so notebooks never hard-code paths.

A run is a folder under ``outputs/`` (or any absolute path): the executed
notebooks and their HTML at its top, the data each stage wrote in ``data/``.
``SEGKIT_OUTPUTS`` moves the outputs folder (the tests use it).

Example
-------
>>> from segkit.paths import run_paths
>>> run_paths("/tmp/weekly").data
PosixPath('/tmp/weekly/data')
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from segkit.dataset import Dataset, Truth
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
    """The folders and files of one run."""

    root: Path

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

    def read(self, name: str) -> pd.DataFrame:
        """Read a table an earlier stage wrote, or say which notebook to run first."""
        path = self.stage_file(name)
        if not path.exists():
            writer = STAGE_WRITERS.get(name, "the stage that writes it")
            raise StageOutputMissing(
                f"{path} does not exist: run {writer} for run '{self.name}' first "
                f"(segkit run --params params/<run>.yaml --out {self.root} --only {writer})"
            )
        return pd.read_parquet(path)

    def write(self, name: str, frame: pd.DataFrame) -> Path:
        """Write a stage table as Parquet under ``data/``; returns its path."""
        self.data.mkdir(parents=True, exist_ok=True)
        path = self.stage_file(name)
        frame.to_parquet(path, index=False)
        return path

    def write_dataset(self, data: Dataset) -> pd.DataFrame:
        """Write every table (and a simulation's truth as ``truth_*``); a file/rows table."""
        frames = dict(data.tables())
        if data.truth is not None:
            frames |= {f"truth_{part}": getattr(data.truth, part) for part in TRUTH_PARTS}
        written = [(self.write(name, frame).name, len(frame)) for name, frame in frames.items()]
        return pd.DataFrame(written, columns=["file", "rows"])

    def read_dataset(self) -> Dataset:
        """The clean tables stage 01 wrote (absent optional tables are ``None``)."""
        if not self.has("orders"):
            self.read("orders")  # raises the error that says which notebook to run
        tables = {name: self.read(name) for name in TABLE_NAMES if self.has(name)}
        truth = None
        if all(self.has(f"truth_{part}") for part in TRUTH_PARTS):
            truth = Truth(*(self.read(f"truth_{part}") for part in TRUTH_PARTS))
        return Dataset(**tables, truth=truth)


def run_paths(run: str | Path) -> RunPaths:
    """The paths of run ``run``: a name under :func:`outputs_root`, or an absolute path."""
    run = Path(run)
    return RunPaths(run if run.is_absolute() else outputs_root() / run)
