"""segkit.engines: frames move between engines unchanged; stage files are written and read
by the run's engine (Spark writes folders of part files)."""

from __future__ import annotations

import duckdb
import narwhals as nw
import numpy as np
import pandas as pd
import polars as pl
import pytest

import segkit as sk
from segkit.engines import SPARK_DEFAULTS, engine_of, read_parquet, row_count, write_parquet
from segkit.frames import sort_rows

#: The native type each engine's frames have after ``to_engine`` or ``read_parquet``.
NATIVE = {"pandas": pd.DataFrame, "polars": pl.LazyFrame, "duckdb": duckdb.DuckDBPyRelation}


@pytest.fixture
def table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3"],
            "order_ts": pd.to_datetime(
                ["2025-01-01 10:00", "2025-02-01 00:00", "2025-03-01 00:00"]
            ).astype("datetime64[us]"),
            "revenue": [10.5, 0.0, 7.25],
        }
    )


@pytest.mark.parametrize("engine", list(NATIVE))
def test_to_engine_and_back_keeps_every_value(table, engine):
    moved = sk.to_engine(table, engine)
    assert isinstance(moved, NATIVE[engine])
    assert engine_of(moved) == engine
    assert row_count(moved) == 3
    pd.testing.assert_frame_equal(sk.to_pandas(moved), table)


def test_an_eager_polars_frame_becomes_lazy_and_a_lazy_one_is_kept(table):
    lazy = pl.from_pandas(table).lazy()
    assert sk.to_engine(lazy, "polars") is lazy
    assert isinstance(sk.to_engine(pl.from_pandas(table), "polars"), pl.LazyFrame)


@pytest.mark.parametrize("engine", list(NATIVE))
def test_parquet_written_by_one_engine_is_read_by_every_other(tmp_path, table, engine):
    path = write_parquet(sk.to_engine(table, engine), tmp_path / "orders.parquet")
    for reader in NATIVE:
        read = read_parquet(path, reader)
        assert isinstance(read, NATIVE[reader])
        pd.testing.assert_frame_equal(sk.to_pandas(read), table)


def test_spark_writes_a_folder_that_every_engine_reads_and_replaces_a_file(tmp_path, table, spark):
    path = tmp_path / "orders.parquet"
    write_parquet(table, path)  # a file from pandas, then Spark replaces it with a folder
    write_parquet(sk.to_engine(table, "spark"), path)
    assert path.is_dir()
    for reader in (*NATIVE, "spark"):
        read = sk.to_pandas(read_parquet(path, reader)).sort_values("customer_id")
        assert read["order_ts"].dt.tz is not None  # Spark writes instants; segkit reads UTC
        read["order_ts"] = read["order_ts"].dt.tz_convert("UTC").dt.tz_localize(None)
        pd.testing.assert_frame_equal(read.reset_index(drop=True), table)
    write_parquet(table, path)  # and pandas replaces the folder with a file again
    assert path.is_file()


def test_run_paths_read_stage_tables_with_the_run_engine(tmp_path, table):
    sk.run_paths(tmp_path / "run").write("orders", table)
    paths = sk.run_paths(tmp_path / "run", engine="duckdb")
    assert isinstance(paths.read("orders"), duckdb.DuckDBPyRelation)
    assert isinstance(paths.read("orders", engine="pandas"), pd.DataFrame)
    assert paths.rows("orders") == 3


def test_spark_session_defaults_and_the_time_zone_segkit_needs(spark):
    assert sk.spark_session() is spark  # the active session is reused
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert SPARK_DEFAULTS["spark.sql.session.timeZone"] == "UTC"


def test_unknown_engines_are_parameter_errors(tmp_path, table):
    with pytest.raises(sk.ParameterError, match="engine must be one of pandas, polars, duckdb"):
        sk.run_paths(tmp_path, engine="Spark")
    with pytest.raises(sk.ParameterError, match="engine must be one of"):
        sk.to_engine(table, "arrow")


@pytest.mark.parametrize("engine", list(NATIVE))
def test_persist_computes_a_query_once_and_keeps_its_rows(table, engine):
    query = sk.to_engine(table, engine)
    kept = sk.persist(query)
    assert isinstance(kept, NATIVE[engine])
    pd.testing.assert_frame_equal(sk.to_pandas(kept), table)
    if engine == "polars":  # the plan is a scan of the collected rows, not the query
        assert "WITH_COLUMNS" not in sk.persist(query.with_columns(x=pl.lit(1))).explain()


def test_persist_keeps_duckdb_rows_on_the_relations_own_connection():
    con = duckdb.connect()
    con.execute("create table t as select range as x from range(4)")
    kept = sk.persist(con.table("t").filter("x % 2 = 0"))
    con.execute("delete from t")  # computed once: the kept rows no longer read the table
    assert sorted(kept.fetchall()) == [(0,), (2,)]
    assert kept.join(con.sql("select 2 as x"), "x").fetchall() == [(2,)]


def test_persist_caches_a_spark_frame(table, spark):
    kept = sk.persist(sk.to_engine(table, "spark"))
    assert kept.is_cached
    assert row_count(kept) == 3
    kept.unpersist()


@pytest.mark.parametrize("nulls_last", [False, True])
def test_sort_rows_orders_pandas_as_polars_does(nulls_last):
    rng = np.random.default_rng(5)
    n = 5_000
    text = rng.choice(["", "a", "ab", "b", "é", "Z", None], n)
    frame = pd.DataFrame(
        {
            "text": pd.array(text, dtype="str"),
            "ts": pd.to_datetime(rng.integers(0, 50, n), unit="D").astype("datetime64[us]"),
            "number": rng.integers(-3, 3, n),
            "flag": rng.integers(0, 2, n).astype(bool),
            "row": np.arange(n),
        }
    )
    frame.loc[rng.choice(n, 300), "ts"] = pd.NaT
    for keys in (["text"], ["ts", "text"], ["flag", "number", "text"], ["text", "ts", "number"]):
        sorted_rows = sort_rows(nw.from_native(frame).lazy(), *keys, nulls_last=nulls_last)
        expected = pl.from_pandas(frame).sort(keys, nulls_last=nulls_last, maintain_order=True)
        assert sorted_rows.collect()["row"].to_list() == expected["row"].to_list()
    pd.testing.assert_series_equal(frame["row"], pd.Series(np.arange(n), name="row"))


def test_sort_rows_keeps_a_sorted_frame_and_leaves_other_keys_to_narwhals():
    frame = pd.DataFrame({"k": ["a", "b", "c"], "x": [2.0, float("nan"), 1.0]}, index=[7, 8, 9])
    kept = sort_rows(nw.from_native(frame).lazy(), "k").collect().to_native()
    assert kept.index.tolist() == [0, 1, 2] and kept["k"].tolist() == ["a", "b", "c"]
    by_float = sort_rows(nw.from_native(frame).lazy(), "x").collect().to_native()
    assert np.isnan(by_float["x"].iloc[0]) and by_float["x"].tolist()[1:] == [1.0, 2.0]
