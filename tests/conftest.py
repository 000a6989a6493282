"""Shared fixtures. Every run of the suite writes its outputs to a temporary folder,
removed when the run ends.

``SEGKIT_OUTPUTS`` is set before any notebook kernel starts (kernels inherit the
environment), so nbval's runs of ``notebooks/`` never touch the project's outputs/.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import duckdb
import nbformat
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from segkit.dataset import Dataset

os.environ["SEGKIT_OUTPUTS"] = tempfile.mkdtemp(prefix="segkit-test-outputs-")
atexit.register(shutil.rmtree, os.environ["SEGKIT_OUTPUTS"], ignore_errors=True)
os.environ.setdefault("MPLBACKEND", "Agg")

PROJECT = Path(__file__).resolve().parents[1]


def _duckdb(frame: pd.DataFrame) -> duckdb.DuckDBPyRelation:
    return duckdb.from_arrow(pa.Table.from_pandas(frame, preserve_index=False))


#: How each engine's frame is built from a pandas one, for engine-parity tests.
ENGINES = {
    "pandas": lambda frame: frame.copy(),
    "polars": pl.from_pandas,
    "polars_lazy": lambda frame: pl.from_pandas(frame).lazy(),
    "duckdb": _duckdb,
}
NATIVE_TYPES = {
    "pandas": pd.DataFrame,
    "polars": pl.DataFrame,
    "polars_lazy": pl.LazyFrame,
    "duckdb": duckdb.DuckDBPyRelation,
}


def write_notebook(folder: Path, name: str, *cells: str) -> Path:
    """``folder/name.ipynb``: a markdown title, a parameters cell, then ``cells`` as code."""
    parameters = nbformat.v4.new_code_cell('run = "x"\nthreshold = 1\nsource = {"kind": "demo"}')
    parameters.metadata["tags"] = ["parameters"]
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell(f"# {name}"),
            parameters,
            *(nbformat.v4.new_code_cell(source) for source in cells),
        ],
        metadata={
            "kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"},
            "language_info": {"name": "python"},
        },
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.ipynb"
    nbformat.write(notebook, path)
    return path


@pytest.fixture(scope="session")
def spark():
    """One local Spark (two cores, four shuffle partitions) for every test that asks for it."""
    pytest.importorskip("pyspark")
    from segkit.engines import spark_session

    session = spark_session({"spark.master": "local[2]", "spark.sql.shuffle.partitions": "4"})
    yield session
    session.stop()


@pytest.fixture
def small_dataset() -> Dataset:
    """Three customers and five valid orders, as strings like a CSV gives them."""
    customers = pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3"],
            "email": ["ann@example.com", "bob@example.org", "cy@example.net"],
            "age": ["34", "51", "27"],
            "consent_marketing": ["true", "false", "yes"],
        }
    )
    orders = pd.DataFrame(
        {
            "order_id": ["o1", "o2", "o3", "o4", "o5"],
            "customer_id": ["c1", "c1", "c2", "c3", "c3"],
            "order_ts": [
                "2024-01-05",
                "2024-02-01 10:30",
                "2024-03-03",
                "2024-03-04",
                "2024-05-06",
            ],
            "revenue": ["10.5", "20", "7.25", "100", "0"],
            "discount": ["0", "5", "0", "0", "0"],
            "items": ["1", "2", "1", "3", "1"],
            "returned": ["false", "false", "true", "0", "no"],
        }
    )
    return Dataset(orders=orders, customers=customers)
