"""Load the canonical tables from a declared source: demo generator, CSV, Parquet or SQL.

A source is a mapping, usually the ``source:`` block of a params file::

    source:
      kind: csv                     # demo | csv | parquet | sql
      path: data/shop               # folder of <table>.csv files (relative to the project)
      tables: {orders: sales.csv}   # optional: file per table
      columns:                      # optional: source column -> canonical column
        orders: {OrderID: order_id, Amount: revenue}

SQL sources give a URL and a query per table; DuckDB and SQLite need no
server (``duckdb:///data/shop.duckdb``, ``sqlite:///data/shop.db``; three
slashes for a path relative to the project, four for an absolute one)::

    source:
      kind: sql
      url: duckdb:///data/shop.duckdb
      queries: {orders: "SELECT * FROM sales WHERE ts >= '2024-01-01'"}

With ``engine="spark"`` a sql source without a URL runs each query with
``spark.sql`` over the session's catalog (``SELECT * FROM lake.orders``).

Example
-------
>>> from segkit.sources import load_source
>>> load_source({"kind": "demo", "customers": 300, "seed": 7}).orders.shape[1]
7
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.csv as pacsv

from segkit.dataset import Dataset
from segkit.engines import check_engine, read_parquet, spark_session
from segkit.errors import DataContractError, ParameterError
from segkit.frames import as_lazy, columns_of
from segkit.paths import project_root
from segkit.schema import TABLE_NAMES

_DEMO_OPTIONS = {"customers", "seed", "start", "end", "defects"}
_OPTIONS = {
    "demo": _DEMO_OPTIONS,
    "csv": {"path", "tables"},
    "parquet": {"path", "tables"},
    "sql": {"url", "queries"},
}


def load_source(
    source: Mapping[str, Any], engine: str = "pandas", spark_conf: Mapping[str, Any] | None = None
) -> Dataset:
    """Load every table a source declares, renamed onto the canonical columns.

    Parameters
    ----------
    source : mapping
        ``kind`` (demo | csv | parquet | sql), the options of that kind, and an
        optional ``columns`` mapping ``{table: {source_column: canonical_column}}``.
    engine : str, default "pandas"
        Which engine reads typed sources (:data:`segkit.engines.ENGINES`): Parquet
        files become lazy frames of that engine (nothing is read until a query runs),
        and with ``"spark"`` a sql source without ``url`` runs its queries with
        ``spark.sql``. Text, demo and database-URL sources are read with pandas
        whatever the engine: validation parses their values in pandas, and the
        stages after notebook 01 read the clean Parquet files with the engine.
    spark_conf : mapping, optional
        Settings of the Spark session built for ``engine="spark"``
        (:func:`segkit.engines.spark_session`).

    Returns
    -------
    Dataset
        The tables as read (not yet validated); lines of a CSV file that could
        not be parsed are in ``Dataset.unreadable``.
    """
    check_engine(engine)
    if not isinstance(source, Mapping) or "kind" not in source:
        raise ParameterError(f"source must be a mapping with a 'kind'; got {source!r}")
    kind = source["kind"]
    if kind not in _OPTIONS:
        raise ParameterError(f"source kind {kind!r} is not one of {sorted(_OPTIONS)}")
    unknown = set(source) - _OPTIONS[kind] - {"kind", "columns"}
    if unknown:
        raise ParameterError(
            f"unknown option(s) {sorted(unknown)} for a {kind} source; "
            f"known: {sorted(_OPTIONS[kind] | {'columns'})}"
        )
    if kind == "parquet" and engine != "pandas":
        data = _load_files(source, lambda path: read_parquet(path, engine, spark_conf))
    elif kind == "sql" and engine == "spark" and not source.get("url"):
        data = _load_spark_sql(source, spark_session(spark_conf))
    else:
        loaders: dict[str, Callable[[Mapping[str, Any]], Dataset]] = {
            "demo": _load_demo,
            "csv": _load_files,
            "parquet": _load_files,
            "sql": _load_sql,
        }
        data = loaders[kind](source)
    return rename_columns(data, source.get("columns") or {})


def rename_columns(data: Dataset, columns: Mapping[str, Mapping[str, str]]) -> Dataset:
    """Apply a ``{table: {source_column: canonical_column}}`` mapping to a Dataset.

    A mapping that names a table or a column the source lacks is an error, so
    that a typo cannot silently leave a required column missing.
    """
    renamed = {}
    for table, mapping in columns.items():
        if table not in TABLE_NAMES:
            raise ParameterError(f"columns: unknown table {table!r}; tables are {TABLE_NAMES}")
        frame = getattr(data, table)
        if frame is None:
            raise DataContractError(table, None, "a table to rename columns of", "no such table")
        lazy, back = as_lazy(frame, table)
        present = columns_of(lazy)
        missing = [c for c in mapping if c not in present]
        if missing:
            raise DataContractError(
                table, missing[0], "the source column named in columns:", f"{present}"
            )
        renamed[table] = back(lazy.rename(dict(mapping)))
    return data.replace(**renamed)


def resolve_path(path: str | Path) -> Path:
    """An absolute path; relative ones are taken from the project root."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else project_root() / path


def _load_demo(source: Mapping[str, Any]) -> Dataset:
    from segkit.simulation import simulate

    options = {k: v for k, v in source.items() if k in _DEMO_OPTIONS}
    if "customers" in options:
        options["n_customers"] = options.pop("customers")
    return simulate(**options)


def _load_files(
    source: Mapping[str, Any], read_parquet_file: Callable[[Path], Any] = pd.read_parquet
) -> Dataset:
    kind = source["kind"]
    folder = resolve_path(source.get("path", "."))
    if not folder.is_dir():
        raise ParameterError(f"{kind} source: folder {folder} does not exist")
    files = {name: f"{name}.{kind}" for name in TABLE_NAMES}
    files.update(source.get("tables") or {})
    tables, unreadable = {}, []
    for name, filename in files.items():
        if name not in TABLE_NAMES:
            raise ParameterError(f"tables: unknown table {name!r}; tables are {TABLE_NAMES}")
        path = folder / filename
        if not path.exists():
            continue
        if kind == "csv":
            tables[name], bad = read_csv(path)
            unreadable.append(bad.assign(table=name))
        else:
            tables[name] = read_parquet_file(path)
    unreadable_lines = pd.concat(unreadable, ignore_index=True) if unreadable else None
    return Dataset(**tables, unreadable=unreadable_lines)


def read_csv(path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read a CSV file, keeping the lines that cannot be parsed instead of failing.

    Returns the parsed rows and a frame of unreadable lines (``line``, ``text``,
    ``error``), e.g. a line with more fields than the header.
    """
    bad = []

    def keep_invalid(row: pacsv.InvalidRow) -> str:
        bad.append(
            (row.text, f"expected {row.expected_columns} fields, found {row.actual_columns}")
        )
        return "skip"

    options = pacsv.ParseOptions(invalid_row_handler=keep_invalid)
    frame = pacsv.read_csv(path, parse_options=options).to_pandas()
    lines = _line_numbers(Path(path), [text for text, _ in bad]) if bad else []
    unreadable = pd.DataFrame(
        {
            "line": pd.array(lines, dtype="Int64"),
            "text": [text for text, _ in bad],
            "error": [error for _, error in bad],
        }
    )
    return frame, unreadable


def _line_numbers(path: Path, texts: list[str]) -> list[int]:
    """1-based line numbers of ``texts`` in the file, matched in order."""
    numbers, wanted = [], iter(texts)
    target = next(wanted)
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if line.rstrip("\r\n") == target:
                numbers.append(number)
                target = next(wanted, None)
                if target is None:
                    break
    return numbers + [None] * (len(texts) - len(numbers))


def _load_sql(source: Mapping[str, Any]) -> Dataset:
    url = source.get("url")
    if not url:
        raise ParameterError(
            "a sql source needs a 'url' (only engine 'spark' runs queries without one)"
        )
    return Dataset(**{table: read_sql(url, query) for table, query in _queries(source).items()})


def _load_spark_sql(source: Mapping[str, Any], spark: Any) -> Dataset:
    """Each query run lazily by ``spark.sql`` over the session's catalog."""
    return Dataset(**{table: spark.sql(query) for table, query in _queries(source).items()})


def _queries(source: Mapping[str, Any]) -> dict[str, str]:
    queries = source.get("queries") or {}
    if not queries:
        raise ParameterError("a sql source needs a 'queries' mapping {table: SQL}")
    unknown = set(queries) - set(TABLE_NAMES)
    if unknown:
        raise ParameterError(
            f"queries: unknown table(s) {sorted(unknown)}; tables are {TABLE_NAMES}"
        )
    return dict(queries)


def read_sql(url: str, query: str) -> pd.DataFrame:
    """Run ``query`` against the database at ``url`` and return the result.

    ``duckdb:///path`` and ``sqlite:///path`` are built in; any other URL is
    handed to SQLAlchemy when it is installed.
    """
    scheme, _, rest = url.partition("://")
    if scheme in {"duckdb", "sqlite"}:
        if not rest.startswith("/"):
            raise ParameterError(f"database URL {url!r}: expected {scheme}:///<path>")
        path = resolve_path(rest[1:])
        if not path.exists():
            raise ParameterError(f"database file {path} (from {url!r}) does not exist")
        if scheme == "duckdb":
            import duckdb

            with duckdb.connect(str(path), read_only=True) as connection:
                return connection.execute(query).df()
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
            return pd.read_sql_query(query, connection)
    try:
        import sqlalchemy
    except ImportError:
        raise ParameterError(
            f"database URL scheme {scheme!r} needs SQLAlchemy and its driver "
            "(pip install sqlalchemy ...); duckdb:// and sqlite:// work without"
        ) from None
    with sqlalchemy.create_engine(url).connect() as connection:
        return pd.read_sql_query(sqlalchemy.text(query), connection)
