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
from segkit.datasets import ChecksumMismatch, convert_cdnow, fetch_cdnow, sha256
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
REAL_ORDERS = PROJECT / "data" / "cdnow" / "orders.csv"


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


def test_fetch_extracts_only_the_data_file_and_is_idempotent(tmp_path, monkeypatch):
    calls = []
    fake_pip(monkeypatch, calls)
    monkeypatch.setattr(datasets, "LIFETIMES_WHEEL_SHA256", digest(fake_wheel()))
    monkeypatch.setattr(datasets, "CDNOW_MASTER_SHA256", digest(FAKE_MASTER))
    monkeypatch.setattr(datasets, "CDNOW_ORDERS_SHA256", digest(EXPECTED_ORDERS))
    folder = tmp_path / "cdnow"
    orders = fetch_cdnow(folder)
    assert orders == folder / "orders.csv" and orders.read_text() == EXPECTED_ORDERS
    assert sorted(p.name for p in folder.iterdir()) == ["CDNOW_master.txt", "orders.csv"]
    stamp = orders.stat().st_mtime_ns
    assert fetch_cdnow(folder) == orders
    assert len(calls) == 1 and orders.stat().st_mtime_ns == stamp
    orders.write_text("edited by hand\n")
    fetch_cdnow(folder)
    assert len(calls) == 1 and orders.read_text() == EXPECTED_ORDERS


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
