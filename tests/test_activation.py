"""Audience exports: consent, pseudonymous ids, emails only on request, manifest, file names."""

from __future__ import annotations

import hashlib
import hmac
import json
import re

import pandas as pd
import pytest

from segkit.activation import (
    MANIFEST_COLUMNS,
    MANIFEST_FILE,
    SALT_ENVIRONMENT_VARIABLE,
    export_audiences,
    salt_fingerprint,
)
from segkit.errors import DataContractError, ParameterError
from segkit.simulation import simulate
from segkit.validation import validate
from tests.conftest import ENGINES

SALT = "test-salt-0123456789abcdef"
OTHER_SALT = "another-salt-fedcba9876543210"


@pytest.fixture(autouse=True)
def no_salt_in_the_environment(monkeypatch):
    monkeypatch.delenv(SALT_ENVIRONMENT_VARIABLE, raising=False)


def customers() -> pd.DataFrame:
    """c1, c4, c5, c7 agreed; c2 refused; c3 and c6 have no answer (NA)."""
    return pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3", "c4", "c5", "c6", "c7"],
            "email": [f"person{i}@example.com" for i in range(1, 8)],
            "country": ["DE", "FR", "GB", "US", "DE", "NL", "ES"],
            "consent_marketing": pd.array([True, False, None, True, True, None, True], "boolean"),
        }
    )


def segments() -> pd.DataFrame:
    """Odd names, a customer in two segments, an unknown customer (x9), a segment nobody
    may be mailed in (Refusers), a repeated row and a customer without a label."""
    rows = [
        ("c1", "At Risk / VIP"),
        ("c2", "At Risk / VIP"),
        ("c3", "At Risk / VIP"),
        ("c4", "Käufer ✓"),
        ("c5", "Käufer ✓"),
        ("c5", "Käufer ✓"),
        ("c5", "顧客"),
        ("x9", "顧客"),
        ("c2", "Refusers"),
        ("c6", "Refusers"),
        ("c7", None),
    ]
    return pd.DataFrame(rows, columns=["customer_id", "segment"])


def pseudonym(customer_id: str, salt: str = SALT) -> str:
    return hmac.new(salt.encode(), customer_id.encode(), hashlib.sha256).hexdigest()


def read_files(folder, manifest) -> dict[str, pd.DataFrame]:
    return {
        row.segment: pd.read_csv(folder / row.file, dtype=str, keep_default_na=False)
        for row in manifest.itertuples()
    }


def exported_customers(files: dict[str, pd.DataFrame], salt: str = SALT) -> dict[str, set[str]]:
    """Per segment, the customer ids behind the pseudonymous ids (by trying every id)."""
    everyone = set(customers()["customer_id"]) | set(segments()["customer_id"])
    back = {pseudonym(c, salt): c for c in everyone}
    return {name: {back[i] for i in frame["pseudonymous_id"]} for name, frame in files.items()}


def test_only_consenting_customers_are_exported(tmp_path):
    out = export_audiences(segments(), customers(), tmp_path, salt=SALT)
    people = customers().set_index("customer_id")["consent_marketing"]
    agreed = set(people[people.fillna(False)].index)
    members = segments().fillna({"segment": "Unsegmented"})
    found = exported_customers(read_files(tmp_path, out.manifest))
    for name, exported in found.items():
        in_segment = set(members.loc[members["segment"] == name, "customer_id"])
        assert exported == in_segment & agreed
    assert found == {
        "At Risk / VIP": {"c1"},
        "Käufer ✓": {"c4", "c5"},
        "Refusers": set(),
        "Unsegmented": {"c7"},
        "顧客": {"c5"},
    }


def test_manifest_counts_add_up(tmp_path):
    out = export_audiences(segments(), customers(), tmp_path, salt=SALT)
    manifest = out.manifest.set_index("segment")
    assert list(out.manifest.columns) == list(MANIFEST_COLUMNS)
    assert (manifest["exported"] + manifest["excluded_for_consent"] == manifest["total"]).all()
    assert manifest.loc[
        "At Risk / VIP", ["total", "exported", "excluded_for_consent"]
    ].tolist() == [
        3,
        1,
        2,
    ]
    assert manifest.loc["Käufer ✓", "total"] == 2  # the repeated row counts once
    assert manifest.loc["顧客", ["exported", "unknown_customers"]].tolist() == [1, 1]
    assert manifest["unknown_customers"].sum() == 1
    assert out.exported == 5
    files = read_files(tmp_path, out.manifest)
    assert {name: len(frame) for name, frame in files.items()} == manifest["exported"].to_dict()


def test_a_segment_without_consent_gets_a_header_only_file(tmp_path):
    out = export_audiences(segments(), customers(), tmp_path, salt=SALT)
    row = out.manifest.set_index("segment").loc["Refusers"]
    assert (row["total"], row["exported"], row["excluded_for_consent"]) == (2, 0, 2)
    assert (tmp_path / row["file"]).read_text(encoding="utf-8") == "pseudonymous_id,segment\n"


def test_email_only_when_asked(tmp_path):
    plain = export_audiences(segments(), customers(), tmp_path / "plain", salt=SALT)
    for frame in read_files(tmp_path / "plain", plain.manifest).values():
        assert list(frame.columns) == ["pseudonymous_id", "segment"]
    for path in (tmp_path / "plain").iterdir():
        assert "@" not in path.read_text(encoding="utf-8")

    mailed = export_audiences(
        segments(), customers(), tmp_path / "mailed", salt=SALT, include_email=True
    )
    files = read_files(tmp_path / "mailed", mailed.manifest)
    emails = customers().set_index("customer_id")["email"]
    for name, ids in exported_customers(files).items():
        assert list(files[name].columns) == ["pseudonymous_id", "segment", "email"]
        assert set(files[name]["email"]) == set(emails[list(ids)])
    assert mailed.parameters["include_email"] is True


def test_pseudonymous_ids_are_keyed_hashes_stable_for_a_salt(tmp_path):
    first = export_audiences(segments(), customers(), tmp_path / "a", salt=SALT)
    again = export_audiences(segments(), customers(), tmp_path / "b", salt=SALT)
    other = export_audiences(segments(), customers(), tmp_path / "c", salt=OTHER_SALT)
    for row in first.manifest.itertuples():
        content = (tmp_path / "a" / row.file).read_bytes()
        assert content == (tmp_path / "b" / row.file).read_bytes()
    ids = {
        folder: set(
            pd.concat(read_files(tmp_path / folder, first.manifest).values())["pseudonymous_id"]
        )
        for folder in ("a", "c")
    }
    assert ids["a"] == {pseudonym(c) for c in ("c1", "c4", "c5", "c7")}
    assert ids["c"] == {pseudonym(c, OTHER_SALT) for c in ("c1", "c4", "c5", "c7")}
    assert not ids["a"] & ids["c"]
    assert all(re.fullmatch("[0-9a-f]{64}", i) for i in ids["a"])
    assert first.parameters["salt_fingerprint"] == again.parameters["salt_fingerprint"]
    assert first.parameters["salt_fingerprint"] != other.parameters["salt_fingerprint"]


def test_the_salt_is_never_written(tmp_path):
    out = export_audiences(segments(), customers(), tmp_path, salt=SALT)
    for path in tmp_path.iterdir():
        assert SALT not in path.read_text(encoding="utf-8")
    assert out.parameters["salt_fingerprint"] == salt_fingerprint(SALT)
    assert out.parameters["salt_source"] == "parameter"


def test_the_salt_can_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(SALT_ENVIRONMENT_VARIABLE, OTHER_SALT)
    out = export_audiences(segments(), customers(), tmp_path, segments_to_export=["At Risk / VIP"])
    frame = pd.read_csv(tmp_path / out.manifest["file"].iloc[0], dtype=str)
    assert frame["pseudonymous_id"].tolist() == [pseudonym("c1", OTHER_SALT)]
    assert out.parameters["salt_source"] == "environment"


def test_without_a_salt_a_random_one_is_used_and_only_its_fingerprint_kept(tmp_path, monkeypatch):
    generated = "f" * 64
    monkeypatch.setattr("segkit.activation.secrets.token_hex", lambda size: generated)
    out = export_audiences(segments(), customers(), tmp_path)
    assert out.parameters["salt_source"] == "generated"
    assert out.parameters["salt_fingerprint"] == salt_fingerprint(generated)
    for path in tmp_path.iterdir():
        assert generated not in path.read_text(encoding="utf-8")
    files = read_files(tmp_path, out.manifest)
    assert exported_customers(files, generated)["Käufer ✓"] == {"c4", "c5"}


def test_two_exports_without_a_salt_cannot_be_linked(tmp_path):
    first = export_audiences(segments(), customers(), tmp_path / "a")
    second = export_audiences(segments(), customers(), tmp_path / "b")
    assert first.parameters["salt_fingerprint"] != second.parameters["salt_fingerprint"]


def test_file_names_are_safe_and_distinct(tmp_path):
    odd = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(1, 8)],
            "segment": [
                "At Risk / VIP",
                "at-risk vip",
                "Käufer ✓",
                "顧客",
                "../../etc",
                "CON",
                ".",
            ],
        }
    )
    people = customers()
    out = export_audiences(odd, people, tmp_path, salt=SALT)
    files = out.manifest.set_index("segment")["file"]
    assert files["At Risk / VIP"] == "at_risk_vip.csv"
    assert files["Käufer ✓"] == "kaufer.csv"
    assert files["../../etc"] == "etc.csv"
    assert re.fullmatch(r"at_risk_vip_[0-9a-f]{8}\.csv", files["at-risk vip"])
    assert re.fullmatch(r"segment_[0-9a-f]{8}\.csv", files["顧客"])
    assert re.fullmatch(r"segment_[0-9a-f]{8}\.csv", files["."])
    assert re.fullmatch(r"con_[0-9a-f]{8}\.csv", files["CON"])
    assert files.is_unique
    assert all(re.fullmatch(r"[a-z0-9_]+\.csv", name) for name in files)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*files, MANIFEST_FILE])
    again = export_audiences(odd, people, tmp_path / "again", salt=SALT)
    assert again.manifest["file"].tolist() == out.manifest["file"].tolist()


def test_manifest_json_records_parameters_and_rows(tmp_path):
    out = export_audiences(segments(), customers(), tmp_path, salt=SALT)
    document = json.loads((tmp_path / MANIFEST_FILE).read_text(encoding="utf-8"))
    parameters = document["parameters"]
    assert parameters["include_email"] is False
    assert parameters["salt_fingerprint"] == salt_fingerprint(SALT)
    assert parameters["segkit_version"]
    assert pd.Timestamp(parameters["created_at"]).tzinfo is not None
    assert parameters == out.parameters
    assert pd.DataFrame(document["segments"]).equals(out.manifest)
    assert document["totals"]["total"] == out.manifest["total"].sum()
    assert out.manifest_path == tmp_path / MANIFEST_FILE


def test_only_the_segments_asked_for(tmp_path):
    out = export_audiences(
        segments(), customers(), tmp_path, salt=SALT, segments_to_export=["顧客", "Refusers"]
    )
    assert out.manifest["segment"].tolist() == ["Refusers", "顧客"]
    assert len(list(tmp_path.glob("*.csv"))) == 2
    with pytest.raises(ParameterError, match=r"\['Nobody'\]; segments are"):
        export_audiences(
            segments(), customers(), tmp_path, salt=SALT, segments_to_export=["Nobody"]
        )


def test_another_segment_column_and_id_column(tmp_path):
    labelled = segments().rename(columns={"segment": "rfm_segment"})
    out = export_audiences(
        labelled, customers(), tmp_path, segment="rfm_segment", id_column="hashed_id", salt=SALT
    )
    frame = pd.read_csv(tmp_path / out.manifest["file"].iloc[0], dtype=str)
    assert list(frame.columns) == ["hashed_id", "segment"]


def test_inputs_are_not_modified(tmp_path):
    members, people = segments(), customers()
    export_audiences(members, people, tmp_path, include_email=True, salt=SALT)
    pd.testing.assert_frame_equal(members, segments())
    pd.testing.assert_frame_equal(people, customers())


@pytest.mark.parametrize("engine", ["polars", "polars_lazy", "duckdb"])
def test_engines_write_the_same_files(tmp_path, engine):
    make = ENGINES[engine]
    expected = export_audiences(segments(), customers(), tmp_path / "pandas", salt=SALT)
    out = export_audiences(make(segments()), make(customers()), tmp_path / engine, salt=SALT)
    pd.testing.assert_frame_equal(out.manifest, expected.manifest)
    for name in expected.manifest["file"]:
        assert (tmp_path / engine / name).read_bytes() == (tmp_path / "pandas" / name).read_bytes()


def test_text_consent_must_be_validated_first(tmp_path, small_dataset):
    members = pd.DataFrame({"customer_id": ["c1", "c2", "c3"], "segment": "All"})
    with pytest.raises(DataContractError, match="'consent_marketing'.*boolean"):
        export_audiences(members, small_dataset.customers, tmp_path, salt=SALT)
    clean = validate(small_dataset).clean.customers
    out = export_audiences(members, clean, tmp_path, salt=SALT)
    files = read_files(tmp_path, out.manifest)
    assert set(files["All"]["pseudonymous_id"]) == {pseudonym("c1"), pseudonym("c3")}


def test_a_repeated_customer_is_a_contract_error(tmp_path):
    people = pd.concat([customers(), customers().iloc[[1]].assign(consent_marketing=True)])
    with pytest.raises(DataContractError, match="1 customers in more than one row.*c2"):
        export_audiences(segments(), people, tmp_path, salt=SALT)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("table", "column"),
    [("segments", "segment"), ("customers", "consent_marketing"), ("customers", "email")],
)
def test_a_missing_column_is_named(tmp_path, table, column):
    tables = {"segments": segments(), "customers": customers()}
    tables[table] = tables[table].drop(columns=column)
    with pytest.raises(DataContractError, match=f"table '{table}', column '{column}'"):
        export_audiences(
            tables["segments"], tables["customers"], tmp_path, include_email=True, salt=SALT
        )


def test_a_segment_row_without_customer_id(tmp_path):
    members = pd.concat([segments(), pd.DataFrame({"customer_id": [None], "segment": ["X"]})])
    with pytest.raises(DataContractError, match="1 rows without one"):
        export_audiences(members, customers(), tmp_path, salt=SALT)


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"salt": "short"}, "at least 16 characters"),
        ({"salt": b"0123456789abcdefg"}, "salt must be a string"),
        ({"include_email": "yes"}, "include_email"),
        ({"id_column": "email"}, "id_column"),
        ({"segment": ""}, "segment"),
        ({"segments_to_export": [1]}, "segments_to_export"),
    ],
)
def test_bad_parameters(tmp_path, parameters, message):
    with pytest.raises(ParameterError, match=message):
        export_audiences(segments(), customers(), tmp_path, **{"salt": SALT, **parameters})


def test_a_short_salt_in_the_environment_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv(SALT_ENVIRONMENT_VARIABLE, "short")
    with pytest.raises(ParameterError, match=SALT_ENVIRONMENT_VARIABLE):
        export_audiences(segments(), customers(), tmp_path)


def test_an_empty_segments_table_writes_only_the_manifest(tmp_path):
    out = export_audiences(segments().iloc[:0], customers(), tmp_path, salt=SALT)
    assert out.manifest.empty and list(out.manifest.columns) == list(MANIFEST_COLUMNS)
    assert [p.name for p in tmp_path.iterdir()] == [MANIFEST_FILE]
    document = json.loads(out.manifest_path.read_text(encoding="utf-8"))
    assert document["totals"] == {
        "total": 0,
        "exported": 0,
        "excluded_for_consent": 0,
        "unknown_customers": 0,
    }


def test_demo_shop_exports_exactly_the_consenting_customers(tmp_path):
    data = simulate(n_customers=600, seed=4, defects=False)
    people = data.customers
    members = pd.DataFrame(
        {"customer_id": people["customer_id"], "segment": people["country"].fillna("none")}
    )
    out = export_audiences(members, people, tmp_path, salt=SALT, include_email=True)
    written = pd.concat(read_files(tmp_path, out.manifest).values())
    agreed = people[people["consent_marketing"].fillna(False)]
    assert sorted(written["pseudonymous_id"]) == sorted(pseudonym(c) for c in agreed["customer_id"])
    assert set(written["email"]) <= set(agreed["email"].fillna(""))
    assert out.manifest["total"].sum() == len(people)
    assert out.manifest["excluded_for_consent"].sum() == (~people["consent_marketing"]).sum()
