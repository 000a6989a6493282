"""Validation: the data contract, the rejects ledger and its balance."""

from __future__ import annotations

import json
from collections import Counter

import pandas as pd
import polars as pl
import pytest

import segkit as sk
from segkit.engines import to_pandas
from segkit.schema import DTYPES, TABLES
from segkit.validation import LEDGER_COLUMNS
from tests.conftest import ENGINES, NATIVE_TYPES

AS_OF = "2025-12-31"


def _bad_orders(small_dataset: sk.Dataset) -> sk.Dataset:
    bad = pd.DataFrame(
        {
            "order_id": ["o1", "o6", "o7", "o8", "o9", "o10"],
            "customer_id": ["c1", "c1", "ghost", "c2", "c2", "c3"],
            "order_ts": [
                "2024-06-01",
                "2024-06-02",
                "2024-06-03",
                "2100-01-01",
                "not a date",
                "2024-06-05",
            ],
            "revenue": ["5", "-3", "4", "4", "4", "12abc"],
            "discount": ["0"] * 6,
            "items": ["1", "1", "1", "1", "1", "1"],
            "returned": ["false"] * 6,
        }
    )
    return small_dataset.replace(orders=pd.concat([small_dataset.orders, bad], ignore_index=True))


def test_clean_input_keeps_every_row_with_canonical_dtypes(small_dataset):
    result = sk.validate(small_dataset, as_of="2025-01-01")
    assert result.rejects.empty
    assert result.counts.set_index("table")["kept"].to_dict() == {"customers": 3, "orders": 5}
    orders = result.clean.orders
    for spec in TABLES["orders"].fields:
        assert str(orders[spec.name].dtype) == DTYPES[spec.kind], spec.name
    assert orders["revenue"].tolist() == [10.5, 20.0, 7.25, 100.0, 0.0]
    assert orders["returned"].tolist() == [False, False, True, False, False]
    assert orders["order_ts"].iloc[1] == pd.Timestamp("2024-02-01 10:30")
    assert result.clean.customers["consent_marketing"].tolist() == [True, False, True]


def test_each_bad_row_is_rejected_with_the_rule_it_broke(small_dataset):
    result = sk.validate(_bad_orders(small_dataset), as_of="2025-01-01")
    ledger = result.rejects[result.rejects.table == "orders"].set_index("row")
    assert ledger["rule"].to_dict() == {
        5: "duplicate_key",  # o1 again
        6: "minimum",  # revenue -3
        7: "unknown_customer",  # ghost
        8: "future_timestamp",
        9: "type",  # not a date
        10: "type",  # 12abc
    }
    assert ledger.loc[9, "column"] == "order_ts" and ledger.loc[10, "column"] == "revenue"
    assert json.loads(ledger.loc[7, "record"])["customer_id"] == "ghost"
    assert set(result.clean.orders["order_id"]) == {"o1", "o2", "o3", "o4", "o5"}


def test_counts_in_equal_kept_plus_rejected(small_dataset):
    result = sk.validate(_bad_orders(small_dataset), as_of="2025-01-01")
    counts = result.counts.set_index("table")
    assert counts.loc["orders", ["rows_in", "kept", "rejected"]].tolist() == [11, 5, 6]
    assert (counts["rows_in"] == counts["kept"] + counts["rejected"]).all()


def test_invalid_customer_attribute_is_cleared_not_rejected(small_dataset):
    customers = small_dataset.customers.assign(age=["34", "two hundred", "250"])
    result = sk.validate(small_dataset.replace(customers=customers), as_of="2025-01-01")
    assert len(result.clean.customers) == 3 and len(result.clean.orders) == 5
    cleared = result.rejects.set_index("row")
    assert cleared.loc[1, ["rule", "action"]].tolist() == ["type", "cleared"]
    assert cleared.loc[2, ["rule", "action"]].tolist() == ["maximum", "cleared"]
    assert result.clean.customers["age"].isna().tolist() == [False, True, True]
    assert result.counts.set_index("table").loc["customers", "values_cleared"] == 2


def test_duplicate_customers_reject_the_second_copy_only(small_dataset):
    customers = pd.concat([small_dataset.customers, small_dataset.customers.iloc[[1]]])
    result = sk.validate(small_dataset.replace(customers=customers), as_of="2025-01-01")
    assert result.rejects[["table", "row", "rule"]].values.tolist() == [
        ["customers", 3, "duplicate_key"]
    ]
    assert len(result.clean.orders) == 5


def test_missing_optional_columns_get_defaults_and_a_note(small_dataset):
    orders = small_dataset.orders.drop(columns=["discount", "items", "returned"])
    result = sk.validate(sk.Dataset(orders=orders), as_of="2025-01-01")
    assert result.clean.orders["discount"].tolist() == [0.0] * 5
    assert result.clean.orders["items"].tolist() == [1] * 5
    assert any("'returned' absent" in note for note in result.notes)


def test_missing_required_column_names_table_column_and_expectation(small_dataset):
    orders = small_dataset.orders.drop(columns="revenue")
    with pytest.raises(sk.DataContractError) as error:
        sk.validate(small_dataset.replace(orders=orders))
    message = str(error.value)
    assert "table 'orders'" in message and "column 'revenue'" in message and "float" in message
    assert error.value.table == "orders" and error.value.column == "revenue"


def test_missing_orders_table_stops_the_run(small_dataset):
    with pytest.raises(sk.DataContractError, match="orders"):
        sk.validate(sk.Dataset(customers=small_dataset.customers))


def test_spend_with_more_clicks_than_impressions_is_rejected():
    spend = pd.DataFrame(
        {
            "date": ["2024-01-01", "2024-01-02"],
            "channel": ["display"] * 2,
            "cost": [10.0, 12.0],
            "impressions": [1000, 10],
            "clicks": [5, 50],
        }
    )
    orders = pd.DataFrame(
        {"order_id": ["o"], "customer_id": ["c"], "order_ts": ["2024-01-01"], "revenue": [1.0]}
    )
    result = sk.validate(sk.Dataset(orders=orders, spend=spend), as_of="2025-01-01")
    assert result.rejects[["table", "row", "rule"]].values.tolist() == [
        ["spend", 1, "clicks_exceed_impressions"]
    ]


def test_inputs_are_not_mutated(small_dataset):
    bad = _bad_orders(small_dataset)
    before = bad.orders.copy(), bad.customers.copy()
    sk.validate(bad, as_of="2025-01-01")
    pd.testing.assert_frame_equal(bad.orders, before[0])
    pd.testing.assert_frame_equal(bad.customers, before[1])


def test_timezone_aware_timestamps_become_utc():
    orders = pd.DataFrame(
        {
            "order_id": ["o"],
            "customer_id": ["c"],
            "order_ts": ["2024-01-01T12:00:00+02:00"],
            "revenue": [1.0],
        }
    )
    result = sk.validate(sk.Dataset(orders=orders), as_of="2025-01-01")
    assert result.clean.orders["order_ts"].iloc[0] == pd.Timestamp("2024-01-01 10:00")


def test_preview_masks_emails_and_leaves_out_full_records(small_dataset):
    customers = small_dataset.customers.assign(age=["34", "51", "300"])
    customers = pd.concat([customers, customers.iloc[[0]]], ignore_index=True)
    result = sk.validate(small_dataset.replace(customers=customers), as_of="2025-01-01")
    preview = result.rejects_preview()
    assert "record" not in preview.columns
    assert "ann@example.com" not in preview.to_string()
    assert result.rule_counts().values.tolist() == [
        ["customers", "duplicate_key", "rejected", 1],
        ["customers", "maximum", "cleared", 1],
    ]


# typed frames of another engine, validated in that engine ---------------------------------


@pytest.fixture(scope="module")
def shop() -> tuple[sk.Dataset, sk.validation.Validation]:
    """Simulated data (typed pandas frames with planted defects) and its pandas validation."""
    data = sk.simulate(n_customers=300, seed=3)
    return data, sk.validate(data, as_of=AS_OF)


@pytest.fixture
def typed(small_dataset) -> sk.Dataset:
    """The small dataset with canonical dtypes, as a typed source would give it."""
    return sk.validate(small_dataset, as_of=AS_OF).clean


def in_engine(data: sk.Dataset, make) -> sk.Dataset:
    return data.replace(**{name: make(frame) for name, frame in data.tables().items()})


def ledger_rules(ledger) -> Counter:
    return Counter(map(tuple, ledger[["table", "rule", "column", "action"]].values.tolist()))


def assert_same_validation(result: sk.validation.Validation, expected) -> None:
    """Same counts, notes, kept rows (sorted, dtypes aside) and (table, rule, column, action)."""
    pd.testing.assert_frame_equal(result.counts, expected.counts)
    assert result.notes == expected.notes
    for name, kept in expected.clean.tables().items():
        order = [TABLES[name].key or TABLES[name].columns[0], *kept.columns]
        pd.testing.assert_frame_equal(
            to_pandas(result.clean.tables()[name]).sort_values(order, ignore_index=True),
            kept.sort_values(order, ignore_index=True),
            check_dtype=False,
        )
    ledger = to_pandas(result.rejects)
    assert list(ledger.columns) == LEDGER_COLUMNS
    assert ledger_rules(ledger) == ledger_rules(expected.rejects)


@pytest.mark.parametrize("engine", ["polars_lazy", "duckdb"])
def test_engine_path_matches_the_pandas_path(engine, shop):
    data, expected = shop
    assert sum(ledger_rules(expected.rejects).values()) > 20  # the planted defects
    result = sk.validate(in_engine(data, ENGINES[engine]), as_of=AS_OF)
    assert all(isinstance(t, NATIVE_TYPES[engine]) for t in result.clean.tables().values())
    assert_same_validation(result, expected)


@pytest.mark.parametrize("engine", ["polars_lazy", "duckdb"])
def test_engine_ledger_stays_in_the_engine(engine, shop):
    data, expected = shop
    result = sk.validate(in_engine(data, ENGINES[engine]), as_of=AS_OF)
    assert isinstance(result.rejects, NATIVE_TYPES[engine])
    pd.testing.assert_frame_equal(result.rule_counts(), expected.rule_counts())
    preview = result.rejects_preview(1)
    assert list(preview.columns) == LEDGER_COLUMNS[:-1]
    assert preview.groupby(["table", "rule"]).size().eq(1).all()
    assert len(preview) == len(expected.rule_counts())


@pytest.fixture(scope="module")
def on_spark(spark, shop) -> sk.validation.Validation:
    data, _ = shop
    return sk.validate(in_engine(data, spark.createDataFrame), as_of=AS_OF)


# PySpark 4.3 warns on each pandas conversion that it does not fully support pandas 3 yet,
# and passes a keyword pandas 3 deprecates.
@pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")
@pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")
def test_spark_path_matches_the_pandas_path(shop, on_spark):
    _, expected = shop
    from pyspark.sql import DataFrame

    assert all(isinstance(t, DataFrame) for t in on_spark.clean.tables().values())
    assert_same_validation(on_spark, expected)


@pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")
@pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")
def test_spark_ledger_stays_in_spark(shop, on_spark):
    _, expected = shop
    from pyspark.sql import DataFrame

    assert isinstance(on_spark.rejects, DataFrame)
    pd.testing.assert_frame_equal(on_spark.rule_counts(), expected.rule_counts())
    preview = on_spark.rejects_preview(1)
    assert "record" not in preview.columns and len(preview) == len(expected.rule_counts())


def test_engine_column_without_its_type_names_table_and_column(typed):
    orders = pl.from_pandas(typed.orders).with_columns(pl.col("revenue").cast(pl.String))
    with pytest.raises(sk.DataContractError) as error:
        sk.validate(sk.Dataset(orders=orders), as_of=AS_OF)
    assert error.value.table == "orders" and error.value.column == "revenue"
    assert "already have their type" in str(error.value) and "String" in str(error.value)
    with pytest.raises(sk.DataContractError, match="column 'revenue'.*float"):
        sk.validate(sk.Dataset(orders=orders.drop("revenue")), as_of=AS_OF)


@pytest.mark.parametrize("engine", ["polars", "polars_lazy", "duckdb"])
def test_engine_clears_an_invalid_attribute_in_the_engine(engine, typed):
    customers = typed.customers.assign(age=pd.array([34, 200, None], dtype="Int64"))
    data = in_engine(typed.replace(customers=customers), ENGINES[engine])
    result = sk.validate(data, as_of=AS_OF)
    assert isinstance(result.clean.customers, NATIVE_TYPES[engine])
    ages = to_pandas(result.clean.customers).sort_values("customer_id")["age"]
    assert ages.iloc[0] == 34 and ages.isna().tolist() == [False, True, True]
    ledger = to_pandas(result.rejects)
    assert ledger[["table", "rule", "column", "value", "action"]].values.tolist() == [
        ["customers", "maximum", "age", "200", "cleared"]
    ]
    assert json.loads(ledger["record"].iloc[0])["email"] == "bob@example.org"
    counts = result.counts.set_index("table")
    assert counts.loc["customers", ["kept", "values_cleared"]].tolist() == [3, 1]
    assert counts.loc["orders", "kept"] == 5


@pytest.mark.parametrize("engine", ["polars_lazy", "duckdb"])
def test_engine_keeps_the_earliest_duplicate_and_fills_absent_columns(engine, typed):
    orders = typed.orders.drop(columns=["discount", "items", "returned"])
    late_copy = orders.iloc[[1]].assign(order_ts=pd.Timestamp("2024-04-01"), revenue=99.0)
    orders = pd.concat([late_copy, orders], ignore_index=True)
    result = sk.validate(sk.Dataset(orders=ENGINES[engine](orders)), as_of=AS_OF)
    kept = to_pandas(result.clean.orders).sort_values("order_id", ignore_index=True)
    assert kept["revenue"].tolist() == [10.5, 20.0, 7.25, 100.0, 0.0]
    assert kept["items"].tolist() == [1] * 5 and kept["returned"].tolist() == [False] * 5
    assert any("'returned' absent" in note for note in result.notes)
    ledger = to_pandas(result.rejects)
    assert ledger[["rule", "value", "message"]].values.tolist() == [
        ["duplicate_key", "o2", "order_id seen in an earlier row"]
    ]
    assert json.loads(ledger["record"].iloc[0])["revenue"] == "99.0"


def test_tables_of_different_engines_raise_type_error(typed):
    data = typed.replace(
        orders=ENGINES["polars_lazy"](typed.orders), customers=ENGINES["duckdb"](typed.customers)
    )
    with pytest.raises(TypeError, match="orders: a polars frame, but customers is a duckdb"):
        sk.validate(data, as_of=AS_OF)
