"""Audit and privacy helpers."""

from __future__ import annotations

import pandas as pd

import segkit as sk


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
