"""Audit and privacy helpers; the audit of every engine's tables."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pandas as pd
import polars as pl
import pytest

import segkit as sk
from segkit.audit import (
    EMAIL_PATTERN,
    Audit,
    _duplicates,
    _emails,
    _missing,
    _orphans,
    _outliers,
)
from segkit.frames import as_lazy, quantiles_of
from tests.conftest import ENGINES

AS_OF = "2026-01-01"
#: Emails each engine's regex could read differently from Python's: every character Python's
#: ``\s`` matches inside and at the end, line breaks at the end, doubled or missing parts.
SPACES = [c for c in map(chr, range(0x3001)) if re.match(r"\s", c)]
TRICKY_EMAILS = [
    "ann@shop.de",
    "ann@shop.de\n",
    "ann@shop.de\n\n",
    "ann@shop.de\r\n",
    "ann@shop.de\r",
    "ann@shop.de\u2028",
    "\nann@shop.de",
    "ann@shop.de\nbob@shop.de",
    "ann@@shop.de",
    "ann@shop@web.de",
    "@shop.de",
    "ann@.de",
    "ann@shop.",
    "ann.lee@shop",
    "ann@mail.shop.de",
    "ännä@shöp.de",
    "💌@shop.de",
    "",
    *(f"an{space}n@shop.de" for space in SPACES),
    *(f"ann@shop.de{space}" for space in SPACES),
]


def test_mask_email_keeps_no_personal_part():
    assert sk.mask_email("anna.smith@example.com") == "a***@e***.com"
    assert sk.mask_email("broken.example.com") == "b***"
    assert sk.mask_email(None) is None


def test_redact_masks_only_personal_columns():
    frame = pd.DataFrame({"customer_id": ["c1"], "email": ["zoe@shop.de"]})
    assert sk.redact(frame, "customers").values.tolist() == [["c1", "z***@s***.de"]]
    assert frame["email"].iloc[0] == "zoe@shop.de"


def test_audit_counts_each_kind_of_problem(small_dataset):
    customers = small_dataset.customers.assign(
        email=["ann@example.com", "bob at example.org", None]
    )
    orders = pd.concat(
        [
            small_dataset.orders,
            small_dataset.orders.iloc[[0]],  # exact duplicate row, duplicate order_id
            small_dataset.orders.iloc[[1]].assign(order_id="o9", customer_id="ghost"),
        ],
        ignore_index=True,
    )
    raw = small_dataset.replace(customers=customers, orders=orders)
    quality = sk.audit(raw, sk.validate(raw, as_of="2025-01-01"))
    assert quality.emails[["rows", "of"]].values.tolist() == [[1, 2]]
    assert quality.emails["examples"].iloc[0] == "b***"
    duplicates = quality.duplicates.set_index(["table", "kind"])["rows"]
    assert duplicates[("orders", "row")] == 1 and duplicates[("orders", "order_id")] == 1
    assert quality.orphans.values.tolist() == [["orders", 1, "ghost"]]
    missing = quality.missing.set_index(["table", "column"])["rows"]
    assert missing[("customers", "email")] == 1
    checks = set(quality.summary["check"])
    assert {"malformed email", "unknown customer", "duplicate order_id"} <= checks


def test_outliers_use_fences_of_the_clean_column():
    orders = pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(9)],
            "customer_id": ["c"] * 9,
            "order_ts": ["2024-01-01"] * 9,
            "revenue": [10.0, 11, 12, 10, 11, 12, 10, 11, 500],
        }
    )
    raw = sk.Dataset(orders=orders)
    outliers = sk.audit(raw, sk.validate(raw, as_of="2025-01-01")).outliers.set_index("column")
    # Q1 = 10, Q3 = 12 -> upper fence 12 + 3 × 2 = 18: only 500 is out.
    assert outliers.loc["revenue", ["rows", "upper_fence", "max"]].tolist() == [1, 18.0, 500.0]


# every engine ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shop() -> tuple[sk.Dataset, sk.validation.Validation, Audit]:
    """Simulated data with its planted defects, its validation and the pandas audit."""
    data = sk.simulate(n_customers=300, seed=3)
    validation = sk.validate(data, as_of=AS_OF)
    return data, validation, sk.audit(data, validation)


def in_engine(data: sk.Dataset, engine: str) -> sk.Dataset:
    return data.replace(**{name: ENGINES[engine](frame) for name, frame in data.tables().items()})


def assert_same_audit(result: Audit, expected: Audit) -> None:
    for name in ("missing", "duplicates", "emails", "orphans", "summary"):
        pd.testing.assert_frame_equal(
            getattr(result, name), getattr(expected, name), check_exact=True
        )
    # DuckDB's quartiles may differ from numpy's in the last bit (see the test below)
    pd.testing.assert_frame_equal(result.outliers, expected.outliers, check_exact=False, rtol=1e-12)


def test_audit_of_simulated_data_finds_the_planted_defects(shop):
    data, _, expected = shop
    planted = data.truth.defects.query("rule == 'unknown_customer'").groupby("table").size()
    assert expected.orphans[["table", "rows"]].values.tolist() == [
        [table, rows] for table, rows in planted.items()
    ]
    assert expected.orphans["example_ids"].tolist() == ["C999999X1, C999999X2"] * 2
    duplicates = expected.duplicates.set_index(["table", "kind"])["rows"]
    assert duplicates[("orders", "order_id")] == 2 and duplicates[("touchpoints", "row")] == 0
    assert expected.emails["rows"].iloc[0] == sum(
        not EMAIL_PATTERN.match(email) for email in data.customers["email"].dropna()
    )


@pytest.mark.parametrize("engine", ENGINES)
def test_audit_same_in_every_engine(engine, shop):
    data, validation, expected = shop
    checked = dataclasses.replace(validation, clean=in_engine(validation.clean, engine))
    assert_same_audit(sk.audit(in_engine(data, engine), checked), expected)


@pytest.mark.parametrize("engine", ["polars_lazy", "duckdb"])
def test_audit_reads_a_ledger_of_the_engine(engine, shop):
    data, validation, expected = shop
    checked = dataclasses.replace(
        validation,
        clean=in_engine(validation.clean, engine),
        rejects=ENGINES[engine](validation.rejects),
    )
    assert_same_audit(sk.audit(in_engine(data, engine), checked), expected)


def test_orphan_examples_first_seen_in_memory_smallest_when_lazy():
    ids = ["d", "b", "d", "a", "e", "c"]
    ledger = pd.DataFrame(
        {
            "table": ["orders"] * 6 + ["feedback"],
            "rule": ["unknown_customer"] * 6 + ["missing_value"],
            "value": [*ids, "z"],
        }
    )
    for engine, examples in [
        ("pandas", "d, b, a"),
        ("polars", "d, b, a"),
        ("polars_lazy", "a, b, c"),
        ("duckdb", "a, b, c"),
    ]:
        assert _orphans(ENGINES[engine](ledger)).values.tolist() == [["orders", 6, examples]]


@pytest.mark.parametrize("engine", ENGINES)
def test_emails_read_alike_in_every_engine(engine):
    customers = pd.DataFrame({"customer_id": "c", "email": [*TRICKY_EMAILS, None]})
    malformed = [email for email in TRICKY_EMAILS if not EMAIL_PATTERN.match(email)]
    # Python's $ also matches before a final newline: "ann@shop.de\n" (listed twice) passes
    assert [email for email in TRICKY_EMAILS if email not in malformed] == [
        "ann@shop.de",
        "ann@shop.de\n",
        "ann@mail.shop.de",
        "ännä@shöp.de",
        "💌@shop.de",
        "ann@shop.de\n",
    ]
    examples = ", ".join(sk.mask_email(email) for email in malformed[:3])
    result = _emails(ENGINES[engine](customers))
    assert result.values.tolist() == [
        [len(malformed), len(TRICKY_EMAILS), len(malformed) / len(TRICKY_EMAILS), examples]
    ]


@pytest.mark.parametrize("engine", ENGINES)
def test_missing_and_duplicates_hand_checked(engine):
    orders = pd.DataFrame(
        {
            "order_id": ["o1", "o1", None, None, "o2", "o3"],
            "customer_id": ["a", "a", "b", "b", "c", None],
            "revenue": [1.0, 1.0, np.nan, np.nan, 2.0, 3.0],
        }
    )
    raw = in_engine(sk.Dataset(orders=orders), engine)
    # rows 0-1 and 2-3 repeat: 2 duplicate rows; o1 repeats, missing keys are no repeats
    assert _duplicates(raw).values.tolist() == [["orders", "row", 2], ["orders", "order_id", 1]]
    assert _missing(raw)[["column", "rows", "of"]].values.tolist() == [
        ["order_id", 2, 6],
        ["customer_id", 1, 6],
        ["revenue", 2, 6],
    ]


def test_missing_counts_nan_as_pandas_does():
    """A Polars NaN is not null, but pandas (where the audit began) reads it as missing."""
    orders = pl.DataFrame({"order_id": ["o1", "o2", "o3"], "revenue": [1.0, float("nan"), None]})
    assert _missing(sk.Dataset(orders=orders))[["column", "rows"]].values.tolist() == [
        ["revenue", 2]
    ]


@pytest.mark.parametrize("engine", ENGINES)
def test_outliers_skip_columns_with_fewer_than_four_values(engine):
    orders = pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(5)],
            "revenue": [10.0, 11.0, 12.0, 13.0, 100.0],
            "discount": [1.0, None, None, 2.0, 3.0],
            "items": pd.array([None] * 5, dtype="Int64"),
        }
    )
    outliers = _outliers(in_engine(sk.Dataset(orders=orders), engine), 3.0)
    # Q1 = 11, Q3 = 13: the fences are 11 - 3 × 2 = 5 and 13 + 3 × 2 = 19
    assert outliers.values.tolist() == [["orders", "revenue", 1, 5.0, 19.0, 100.0]]


@pytest.mark.parametrize("engine", ENGINES)
def test_quartiles_interpolate_like_pandas(engine):
    """frames.quantiles_of (the outlier fences) against pandas' linear quantile; DuckDB's
    quantile_cont rounds a few results differently in the last bit."""
    rng = np.random.default_rng(0)
    for n in range(4, 40):
        values = pd.DataFrame({"v": rng.lognormal(3, 1, n).round(2)})
        lazy, _ = as_lazy(ENGINES[engine](values))
        quartiles = quantiles_of(lazy, ["v"], (0.25, 0.75))["v"]
        assert quartiles == pytest.approx(values["v"].quantile([0.25, 0.75]).tolist(), rel=1e-15)


@pytest.mark.parametrize("engine", ENGINES)
def test_quantiles_skip_nulls_and_nan_like_pandas(engine):
    """Every engine's quantiles_of skips nulls (and NaN in floats) as pandas does, at
    the ends and between order statistics, for floats and integers; a column with no
    values gets NaN. Polars and DuckDB take their one-sort paths here."""
    rng = np.random.default_rng(1)
    probabilities = [0.0, 0.1, 0.2, 0.25, 0.5, 0.6, 0.8, 0.99, 1.0]
    for n in (1, 2, 3, 7, 50):
        money = rng.lognormal(3, 1, n).round(2)
        money[rng.random(n) < 0.2] = np.nan
        values = pd.DataFrame(
            {
                "money": money,
                "count": pd.array(rng.integers(0, 9, n), dtype="Int64"),
                "nothing": np.full(n, np.nan),
            }
        )
        values.loc[0, "count"] = pd.NA
        lazy, _ = as_lazy(ENGINES[engine](values))
        found = quantiles_of(lazy, ["money", "count", "nothing"], probabilities)
        for column in ("money", "count"):
            expected = values[column].astype(float).quantile(probabilities).tolist()
            assert found[column] == pytest.approx(expected, rel=1e-15, nan_ok=True), column
        assert np.isnan(found["nothing"]).all()


@pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")
@pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")
def test_audit_on_spark(spark, shop):
    data, validation, expected = shop

    def on_spark(tables: sk.Dataset) -> sk.Dataset:
        return tables.replace(
            **{name: spark.createDataFrame(frame) for name, frame in tables.tables().items()}
        )

    checked = dataclasses.replace(
        validation,
        clean=on_spark(validation.clean),
        rejects=spark.createDataFrame(validation.rejects),
    )
    assert_same_audit(sk.audit(on_spark(data), checked), expected)
    # Java's regex reads \s and $ its own way too
    customers = pd.DataFrame({"customer_id": "c", "email": TRICKY_EMAILS})
    pd.testing.assert_frame_equal(
        _emails(spark.createDataFrame(customers)), _emails(customers), check_exact=True
    )
