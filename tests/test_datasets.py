"""CDNOW: the converter on a small fake log, the checksum guard, and the real file if fetched."""

from __future__ import annotations

import hashlib
import io
import subprocess
import zipfile
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

import segkit.datasets as datasets
from segkit.datasets import (
    ChecksumMismatch,
    convert_cdnow,
    fetch_cdnow,
    read_cdnow_sample,
    sha256,
)
from segkit.errors import SegkitError
from tests.conftest import PROJECT

# The layout of CDNOW_master.txt: a header, then right-aligned fields and CRLF line ends.
FAKE_MASTER = (
    " customer_id  date number_of_cds  dollar_value\r\n"
    " 00001 19970101  1   11.77\r\n"
    " 00002 19970112  1   12.00\r\n"
    " 00002 19970112  5   77.00\r\n"
    " 23570 19980630  2    0.00\r\n"
)
EXPECTED_ORDERS = (
    "order_id,customer_id,order_ts,revenue,items\n"
    "cdnow-000001,1,1997-01-01,11.77,1\n"
    "cdnow-000002,2,1997-01-12,12.00,1\n"
    "cdnow-000003,2,1997-01-12,77.00,5\n"
    "cdnow-000004,23570,1998-06-30,0.00,2\n"
)
# CDNOW_sample.txt: no header; master id, sample id, date, CDs, dollars.
FAKE_SAMPLE = " 00002 0001 19970112  1   12.00\r\n 00002 0001 19970112  5   77.00\r\n"
REAL_ORDERS = PROJECT / "data" / "cdnow" / "orders.csv"
REAL_SAMPLE = PROJECT / "data" / "cdnow" / "CDNOW_sample.txt"


def test_converter_writes_canonical_orders(tmp_path):
    master = tmp_path / "CDNOW_master.txt"
    master.write_bytes(FAKE_MASTER.encode("ascii"))
    assert convert_cdnow(master, tmp_path / "orders.csv") == 4
    assert (tmp_path / "orders.csv").read_text() == EXPECTED_ORDERS
    assert sorted(p.name for p in tmp_path.iterdir()) == ["CDNOW_master.txt", "orders.csv"]


def test_converter_names_a_malformed_line_and_leaves_no_file(tmp_path):
    master = tmp_path / "CDNOW_master.txt"
    master.write_text(FAKE_MASTER + " 00003 1997-13-01  1   9.99\r\n")
    with pytest.raises(ValueError, match=r"line 6: expected 'customer YYYYMMDD cds dollars'"):
        convert_cdnow(master, tmp_path / "orders.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["CDNOW_master.txt"]


def fake_wheel() -> bytes:
    """A stand-in lifetimes wheel (the CDNOW file and some code), byte-for-byte repeatable."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as wheel:
        for name, text in [
            (datasets.CDNOW_MEMBER, FAKE_MASTER),
            (datasets.CDNOW_SAMPLE_MEMBER, FAKE_SAMPLE),
            ("lifetimes/__init__.py", "raise SystemExit('never run')\n"),
        ]:
            wheel.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), text)
    return buffer.getvalue()


def fake_pip(monkeypatch, calls: list, returncode: int = 0) -> None:
    """Replace pip download: record the command, write the fake wheel into its -d folder."""

    def run(command, **_):
        calls.append(command)
        folder = Path(command[command.index("-d") + 1])
        (folder / "Lifetimes-0.11.3-py3-none-any.whl").write_bytes(fake_wheel())
        return subprocess.CompletedProcess(command, returncode, "", "ERROR: no network")

    monkeypatch.setattr(datasets.subprocess, "run", run)


def digest(data: str | bytes) -> str:
    return hashlib.sha256(data.encode("ascii") if isinstance(data, str) else data).hexdigest()


def test_wheel_with_another_checksum_is_refused_and_nothing_written(tmp_path, monkeypatch):
    calls = []
    fake_pip(monkeypatch, calls)
    with pytest.raises(ChecksumMismatch, match="is not the expected 261e3dc8"):
        fetch_cdnow(tmp_path / "cdnow")
    assert calls[0][1:5] == ["-m", "pip", "download", "lifetimes==0.11.3"]
    assert {"--no-deps", "--only-binary=:all:"} <= set(calls[0])
    assert list((tmp_path / "cdnow").iterdir()) == []


def fake_checksums(monkeypatch) -> None:
    """Make the fake wheel and its files the expected ones."""
    monkeypatch.setattr(datasets, "LIFETIMES_WHEEL_SHA256", digest(fake_wheel()))
    monkeypatch.setattr(datasets, "CDNOW_MASTER_SHA256", digest(FAKE_MASTER))
    monkeypatch.setattr(datasets, "CDNOW_SAMPLE_SHA256", digest(FAKE_SAMPLE))
    monkeypatch.setattr(datasets, "CDNOW_ORDERS_SHA256", digest(EXPECTED_ORDERS))


def test_fetch_extracts_only_the_data_files_and_is_idempotent(tmp_path, monkeypatch):
    calls = []
    fake_pip(monkeypatch, calls)
    fake_checksums(monkeypatch)
    folder = tmp_path / "cdnow"
    orders = fetch_cdnow(folder)
    assert orders == folder / "orders.csv" and orders.read_text() == EXPECTED_ORDERS
    assert (folder / "CDNOW_sample.txt").read_bytes() == FAKE_SAMPLE.encode()
    assert sorted(p.name for p in folder.iterdir()) == [
        "CDNOW_master.txt",
        "CDNOW_sample.txt",
        "orders.csv",
    ]
    stamp = orders.stat().st_mtime_ns
    assert fetch_cdnow(folder) == orders
    assert len(calls) == 1 and orders.stat().st_mtime_ns == stamp
    orders.write_text("edited by hand\n")
    fetch_cdnow(folder)
    assert len(calls) == 1 and orders.read_text() == EXPECTED_ORDERS


def test_a_missing_sample_is_extracted_without_touching_the_other_files(tmp_path, monkeypatch):
    # A folder fetched before the sample was part of the data set: master and orders only.
    calls = []
    fake_pip(monkeypatch, calls)
    fake_checksums(monkeypatch)
    folder = tmp_path / "cdnow"
    fetch_cdnow(folder)
    (folder / "CDNOW_sample.txt").unlink()
    stamps = {
        name: (folder / name).stat().st_mtime_ns for name in ("CDNOW_master.txt", "orders.csv")
    }
    fetch_cdnow(folder)
    assert len(calls) == 2 and (folder / "CDNOW_sample.txt").read_bytes() == FAKE_SAMPLE.encode()
    assert {name: (folder / name).stat().st_mtime_ns for name in stamps} == stamps
    (folder / "CDNOW_sample.txt").write_text("edited by hand\n")
    fetch_cdnow(folder)
    assert len(calls) == 3 and (folder / "CDNOW_sample.txt").read_bytes() == FAKE_SAMPLE.encode()


def test_a_sample_with_another_checksum_is_refused_and_not_kept(tmp_path, monkeypatch):
    fake_pip(monkeypatch, [])
    fake_checksums(monkeypatch)
    monkeypatch.setattr(datasets, "CDNOW_SAMPLE_SHA256", "0" * 64)
    folder = tmp_path / "cdnow"
    with pytest.raises(ChecksumMismatch, match="CDNOW_sample.txt"):
        fetch_cdnow(folder)
    assert "CDNOW_sample.txt" not in {p.name for p in folder.iterdir()}
    assert not list(folder.glob("*.part"))


def test_read_cdnow_sample_gives_typed_orders(tmp_path):
    (tmp_path / "CDNOW_sample.txt").write_bytes(FAKE_SAMPLE.encode())
    sample = read_cdnow_sample(tmp_path)
    assert list(sample.columns) == ["customer_id", "sample_id", "order_ts", "revenue", "items"]
    assert sample.values.tolist() == [
        [2, 1, pd.Timestamp("1997-01-12"), 12.0, 1],
        [2, 1, pd.Timestamp("1997-01-12"), 77.0, 5],
    ]
    assert sample["order_ts"].dtype == "datetime64[us]"
    with pytest.raises(FileNotFoundError, match="python -m segkit.datasets cdnow"):
        read_cdnow_sample(tmp_path / "nowhere")


def test_failed_download_shows_pips_error(tmp_path, monkeypatch):
    fake_pip(monkeypatch, [], returncode=1)
    with pytest.raises(SegkitError, match=r"(?s)could not download lifetimes==0.11.3.*no network"):
        fetch_cdnow(tmp_path)


def test_command_line_reports_failure_without_traceback(tmp_path, monkeypatch, capsys):
    fake_pip(monkeypatch, [])
    assert datasets.main(["cdnow", "--out", str(tmp_path)]) == 1
    assert capsys.readouterr().err.startswith("segkit.datasets: Lifetimes-0.11.3")


@pytest.mark.skipif(
    not REAL_ORDERS.exists(), reason="CDNOW not fetched; run `make cdnow` to test the real file"
)
def test_real_cdnow_orders():
    orders = pd.read_csv(REAL_ORDERS, dtype=str)
    assert len(orders) == 69_659
    assert orders["customer_id"].nunique() == 23_570
    assert orders["order_id"].is_unique and orders["order_id"].iloc[-1] == "cdnow-069659"
    assert (orders["order_ts"].min(), orders["order_ts"].max()) == ("1997-01-01", "1998-06-30")
    # Summed exactly (Decimal) once from CDNOW_master.txt of the lifetimes 0.11.3 wheel.
    assert sum(map(Decimal, orders["revenue"])) == Decimal("2500315.63")
    assert sha256(REAL_ORDERS) == datasets.CDNOW_ORDERS_SHA256


@pytest.mark.skipif(
    not REAL_SAMPLE.exists(), reason="CDNOW sample not fetched; run `make cdnow` to test it"
)
def test_real_cdnow_sample_is_the_master_rows_of_2357_customers():
    assert sha256(REAL_SAMPLE) == datasets.CDNOW_SAMPLE_SHA256
    sample = read_cdnow_sample(REAL_SAMPLE.parent)
    assert len(sample) == 6_919
    assert sample["customer_id"].nunique() == sample["sample_id"].nunique() == 2_357
    assert (sample.groupby("sample_id")["customer_id"].nunique() == 1).all()
    master = pd.read_csv(
        REAL_SAMPLE.parent / "CDNOW_master.txt",
        sep=r"\s+",
        skiprows=1,
        names=["customer_id", "day", "items", "revenue"],
        dtype={"day": str},
    )
    chosen = master[master["customer_id"].isin(sample["customer_id"])]
    columns = ["customer_id", "day", "items", "revenue"]
    rows = sample.assign(day=sample["order_ts"].dt.strftime("%Y%m%d"))[columns]
    pd.testing.assert_frame_equal(
        chosen.sort_values(columns, ignore_index=True), rows.sort_values(columns, ignore_index=True)
    )
