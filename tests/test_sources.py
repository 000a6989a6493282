"""Loading sources: CSV (with malformed lines), Parquet, DuckDB, SQLite, column mapping."""

from __future__ import annotations

import sqlite3

import duckdb
import pandas as pd
import polars as pl
import pytest

import segkit as sk
from segkit.sources import read_csv

ORDERS_CSV = """OrderID,Customer,When,Amount
o1,c1,2024-01-01,10.5
o2,c1,2024-01-02,20
o3,c2,2024-01-03,7,unexpected,fields
o4,c2,2024-01-04,8
"""
MAPPING = {
    "orders": {
        "OrderID": "order_id",
        "Customer": "customer_id",
        "When": "order_ts",
        "Amount": "revenue",
    }
}


@pytest.fixture
def csv_folder(tmp_path):
    (tmp_path / "orders.csv").write_text(ORDERS_CSV)
    pd.DataFrame({"customer_id": ["c1", "c2"], "country": ["DE", "FR"]}).to_csv(
        tmp_path / "clients.csv", index=False
    )
    return tmp_path


def test_csv_keeps_malformed_lines_with_their_line_number(csv_folder):
    frame, unreadable = read_csv(csv_folder / "orders.csv")
    assert frame["OrderID"].tolist() == ["o1", "o2", "o4"]
    assert unreadable[["line", "text"]].values.tolist() == [
        [4, "o3,c2,2024-01-03,7,unexpected,fields"]
    ]
    assert "expected 4 fields, found 6" in unreadable["error"].iloc[0]


def test_csv_source_maps_columns_and_ledgers_the_malformed_line(csv_folder):
    source = {
        "kind": "csv",
        "path": str(csv_folder),
        "tables": {"customers": "clients.csv"},
        "columns": MAPPING,
    }
    raw = sk.load_source(source)
    assert list(raw.tables()) == ["customers", "orders"]
    assert list(raw.orders.columns) == ["order_id", "customer_id", "order_ts", "revenue"]
    result = sk.validate(raw, as_of="2025-01-01")
    counts = result.counts.set_index("table").loc["orders"]
    assert counts[["rows_in", "kept", "rejected"]].tolist() == [4, 3, 1]
    line = result.rejects[result.rejects.rule == "malformed_line"]
    assert line[["table", "line"]].values.tolist() == [["orders", 4]]


def test_parquet_source(tmp_path, small_dataset):
    small_dataset.write(tmp_path, format="parquet")
    raw = sk.load_source({"kind": "parquet", "path": str(tmp_path)})
    pd.testing.assert_frame_equal(raw.orders, small_dataset.orders)


@pytest.mark.parametrize(
    ("engine", "native"),
    [("polars", pl.LazyFrame), ("duckdb", duckdb.DuckDBPyRelation)],
)
def test_parquet_source_is_read_lazily_by_the_engine_with_columns_mapped(
    tmp_path, small_dataset, engine, native
):
    renamed = small_dataset.orders.rename(columns={"revenue": "Amount"})
    small_dataset.replace(orders=renamed).write(tmp_path, format="parquet")
    source = {
        "kind": "parquet",
        "path": str(tmp_path),
        "columns": {"orders": {"Amount": "revenue"}},
    }
    raw = sk.load_source(source, engine=engine)
    assert isinstance(raw.orders, native)
    pd.testing.assert_frame_equal(sk.to_pandas(raw.orders), small_dataset.orders)
    assert raw.row_counts()["rows"].tolist() == [3, 5]


def test_spark_engine_reads_parquet_folders_and_runs_sql_sources(tmp_path, small_dataset, spark):
    from pyspark.sql import DataFrame as SparkFrame

    sk.to_engine(small_dataset.orders, "spark").write.parquet(str(tmp_path / "orders.parquet"))
    raw = sk.load_source({"kind": "parquet", "path": str(tmp_path)}, engine="spark")
    assert isinstance(raw.orders, SparkFrame)
    raw.orders.createOrReplaceTempView("shop_orders")
    query = "SELECT order_id, revenue FROM shop_orders WHERE customer_id = 'c1'"
    queried = sk.load_source({"kind": "sql", "queries": {"orders": query}}, engine="spark")
    assert isinstance(queried.orders, SparkFrame)
    expected = small_dataset.orders.query("customer_id == 'c1'")[["order_id", "revenue"]]
    assert sorted(map(tuple, sk.to_pandas(queried.orders).values.tolist())) == sorted(
        map(tuple, expected.values.tolist())
    )


def test_unknown_engine_is_a_parameter_error():
    with pytest.raises(sk.ParameterError, match="engine must be one of pandas, polars"):
        sk.load_source({"kind": "demo"}, engine="dask")


def test_duckdb_and_sqlite_sources_give_the_same_tables(tmp_path, small_dataset):
    orders = small_dataset.orders
    with duckdb.connect(str(tmp_path / "shop.duckdb")) as con:
        con.register("src", orders)
        con.execute("CREATE TABLE sales AS SELECT * FROM src")
    with sqlite3.connect(tmp_path / "shop.db") as con:
        orders.to_sql("sales", con, index=False)
    query = {"orders": "SELECT * FROM sales ORDER BY order_id"}
    from_duckdb = sk.load_source(
        {"kind": "sql", "url": f"duckdb:///{tmp_path}/shop.duckdb", "queries": query}
    )
    from_sqlite = sk.load_source(
        {"kind": "sql", "url": f"sqlite:///{tmp_path}/shop.db", "queries": query}
    )
    clean = [sk.validate(d, as_of="2025-01-01").clean.orders for d in (from_duckdb, from_sqlite)]
    pd.testing.assert_frame_equal(clean[0], clean[1])
    assert clean[0]["revenue"].sum() == pytest.approx(137.75)


def test_mapping_a_column_the_source_lacks_is_an_error(csv_folder):
    source = {"kind": "csv", "path": str(csv_folder), "columns": {"orders": {"Amout": "revenue"}}}
    with pytest.raises(sk.DataContractError, match="'Amout'"):
        sk.load_source(source)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"kind": "excel"}, "not one of"),
        ({"kind": "csv", "path": "/no/such/folder"}, "does not exist"),
        ({"kind": "csv", "path": ".", "delimiter": ";"}, "unknown option"),
        (
            {"kind": "sql", "url": "duckdb:///nope.duckdb", "queries": {"orders": "x"}},
            "does not exist",
        ),
        ({"kind": "sql", "url": "duckdb:///x.duckdb", "queries": {"sales": "x"}}, "unknown table"),
        ({"kind": "sql", "url": "duckdb:///x.duckdb"}, "needs a 'queries' mapping"),
        ({"kind": "sql", "queries": {"orders": "x"}}, "only engine 'spark' runs queries"),
    ],
)
def test_bad_source_declarations_are_parameter_errors(source, message):
    with pytest.raises(sk.ParameterError, match=message):
        sk.load_source(source)
