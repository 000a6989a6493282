"""Public data sets for trying segkit on real customers: the CDNOW purchase log.

CDNOW is the purchase history of 23,570 customers of an online CD store who
made their first purchase in the first quarter of 1997, followed to the end of
June 1998: 69,659 purchases with date, number of CDs and dollar value. It is
the classic test data of customer-base analysis (Fader, Hardie & Lee 2005). A
copy ships inside the MIT-licensed ``lifetimes`` wheel on PyPI; segkit
downloads that wheel with pip, checks its SHA-256, reads the two data files out
of it (lifetimes is never installed or imported) and writes the canonical
``orders.csv`` beside them, ready for a ``{kind: csv, path: data/cdnow}`` source.

The second file, ``CDNOW_sample.txt``, holds all 6,919 purchases of the 1/10
sample of 2,357 customers that the papers fit their models on (the published
BG/NBD and Gamma-Gamma estimates are for it); :func:`read_cdnow_sample` reads it.
Its rows are exactly the master file's rows of those customers, but which
customers were drawn is only recorded in this file.

Example
-------
From a shell (or ``make data/cdnow/orders.csv``)::

    python -m segkit.datasets cdnow --out data/cdnow

>>> from segkit.datasets import fetch_cdnow
>>> fetch_cdnow("data/cdnow")  # doctest: +SKIP
PosixPath('.../data/cdnow/orders.csv')
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import pandas as pd

from segkit.errors import SegkitError
from segkit.sources import resolve_path

LIFETIMES_REQUIREMENT = "lifetimes==0.11.3"
#: SHA-256 of Lifetimes-0.11.3-py3-none-any.whl as published on PyPI.
LIFETIMES_WHEEL_SHA256 = "261e3dc89977c2b60767ca6728aaa29d429de0c814635070a749c36555895da8"
CDNOW_MEMBER = "lifetimes/datasets/CDNOW_master.txt"
#: SHA-256 of CDNOW_master.txt inside that wheel (1,950,500 bytes, 69,659 purchases).
CDNOW_MASTER_SHA256 = "eff6889ed364c5199d6eacbbeb7a6d559971df4406ac876f322c373f00a072ef"
CDNOW_SAMPLE_MEMBER = "lifetimes/datasets/CDNOW_sample.txt"
#: SHA-256 of CDNOW_sample.txt inside that wheel (228,327 bytes, 6,919 purchases of the
#: 2,357 sampled customers: master id, sample id 1-2357, YYYYMMDD, CDs, dollars).
CDNOW_SAMPLE_SHA256 = "6fae10155c0b0ba363c2c386e30f77990d22328220efd862a5edd1443420d94a"
#: SHA-256 of the orders.csv :func:`convert_cdnow` writes from it; another value means an
#: older conversion (or an edited file), which is converted again.
CDNOW_ORDERS_SHA256 = "fec0066cd356786126b570242507c1e01d6bbfe0ea56ab15770131bd9326eb67"
ORDERS_COLUMNS = ("order_id", "customer_id", "order_ts", "revenue", "items")


class ChecksumMismatch(SegkitError, ValueError):
    """A downloaded or extracted file is not byte-for-byte the one segkit expects."""


def fetch_cdnow(folder: str | Path = "data/cdnow") -> Path:
    """Download CDNOW into ``folder`` and convert it to the canonical ``orders.csv``.

    Parameters
    ----------
    folder : str or Path
        Where ``CDNOW_master.txt``, ``CDNOW_sample.txt`` and ``orders.csv`` are
        written; a relative path is taken from the project folder (as a params
        file's ``path:`` is).

    Returns
    -------
    Path
        The ``orders.csv`` file. The wheel is downloaded (once) only when a data
        file is missing or has another checksum, and only those files are
        extracted; ``orders.csv`` is rewritten only when it does not match the
        master file's conversion.

    Example
    -------
    >>> fetch_cdnow()  # doctest: +SKIP
    PosixPath('/home/me/segkit/data/cdnow/orders.csv')
    """
    folder = resolve_path(folder)
    master, sample, orders = (
        folder / "CDNOW_master.txt",
        folder / "CDNOW_sample.txt",
        folder / "orders.csv",
    )
    wanted = [
        (CDNOW_MEMBER, master, CDNOW_MASTER_SHA256),
        (CDNOW_SAMPLE_MEMBER, sample, CDNOW_SAMPLE_SHA256),
    ]
    missing = [entry for entry in wanted if not _verified(entry[1], entry[2])]
    orders_ok = _verified(orders, CDNOW_ORDERS_SHA256)
    if not missing and orders_ok:
        return orders
    folder.mkdir(parents=True, exist_ok=True)
    if missing:
        with tempfile.TemporaryDirectory(prefix="segkit-cdnow-") as tmp:
            wheel = download_wheel(Path(tmp))
            for member, target, expected in missing:
                extract_member(wheel, member, target, expected)
    if not orders_ok or any(target == master for _, target, _ in missing):
        convert_cdnow(master, orders)
    return orders


def _verified(path: Path, expected_sha256: str) -> bool:
    return path.is_file() and sha256(path) == expected_sha256


def read_cdnow_sample(folder: str | Path = "data/cdnow") -> pd.DataFrame:
    """The purchases of the CDNOW sample (2,357 customers) as a pandas orders table.

    Parameters
    ----------
    folder : str or Path
        Where :func:`fetch_cdnow` wrote ``CDNOW_sample.txt``.

    Returns
    -------
    pandas.DataFrame
        One row per purchase, in file order: ``customer_id`` (the master file's
        id, as in ``orders.csv``), ``sample_id`` (1-2357, the ID of the papers'
        and lifetimes' per-customer tables), ``order_ts`` (the date, at
        midnight), ``revenue`` (dollars) and ``items`` (CDs).

    Example
    -------
    >>> read_cdnow_sample()["customer_id"].nunique()  # doctest: +SKIP
    2357
    """
    path = resolve_path(folder) / "CDNOW_sample.txt"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing; fetch it with `python -m segkit.datasets cdnow --out {folder}`"
        )
    raw = pd.read_csv(
        path,
        sep=r"\s+",
        header=None,
        names=["customer_id", "sample_id", "day", "items", "revenue"],
        dtype={"customer_id": "int64", "sample_id": "int64", "day": "str", "items": "int64"},
    )
    order_ts = pd.to_datetime(raw["day"], format="%Y%m%d").astype("datetime64[us]")
    return raw.assign(order_ts=order_ts)[
        ["customer_id", "sample_id", "order_ts", "revenue", "items"]
    ]


def download_wheel(into: Path) -> Path:
    """The lifetimes wheel, downloaded by pip into ``into`` and checked against its SHA-256.

    Only the file is fetched (``--no-deps --only-binary=:all:``): nothing is installed.
    """
    command = [
        sys.executable,
        *("-m", "pip", "download", LIFETIMES_REQUIREMENT),
        *("--no-deps", "--only-binary=:all:", "--disable-pip-version-check", "-d", str(into)),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SegkitError(
            f"could not download {LIFETIMES_REQUIREMENT} (needed for the CDNOW data): "
            f"pip exited with {done.returncode}\n{done.stderr.strip()[-2000:]}"
        )
    wheels = sorted(into.glob("*.whl"))
    if len(wheels) != 1:
        raise SegkitError(f"pip download left {len(wheels)} wheels in {into}, expected one")
    found = sha256(wheels[0])
    if found != LIFETIMES_WHEEL_SHA256:
        raise ChecksumMismatch(
            f"{wheels[0].name}: SHA-256 {found} is not the expected {LIFETIMES_WHEEL_SHA256}; "
            "the download was corrupted or the package changed, so it is not used"
        )
    return wheels[0]


def extract_member(archive: Path, member: str, target: Path, expected_sha256: str) -> Path:
    """Copy the single file ``member`` of a zip archive to ``target``, checking its SHA-256.

    The file is written under a temporary name and renamed only once its checksum
    matches, so ``target`` is either complete and verified or absent.
    """
    partial = target.with_name(target.name + ".part")
    with zipfile.ZipFile(archive) as wheel, wheel.open(member) as source:
        partial.write_bytes(source.read())
    found = sha256(partial)
    if found != expected_sha256:
        partial.unlink()
        raise ChecksumMismatch(
            f"{member} in {archive.name}: SHA-256 {found} is not the expected {expected_sha256}"
        )
    os.replace(partial, target)
    return target


def convert_cdnow(master: Path, orders: Path) -> int:
    """Write CDNOW's whitespace-separated purchase log as the canonical ``orders.csv``.

    Each purchase becomes an order ``cdnow-000001``, ``cdnow-000002``, ... in file
    order, with ``customer_id`` (the file's number without its zero padding, so that
    every CSV reader gives the same id), ``order_ts`` as an ISO date,
    ``revenue`` (the dollar value, unchanged) and ``items`` (the number of CDs).
    Discount and returns are not recorded in CDNOW; validation fills their defaults.
    Values are not range-checked here: validation rejects what breaks a rule, with a reason.

    Returns
    -------
    int
        Number of orders written.

    Example
    -------
    >>> convert_cdnow(Path("CDNOW_master.txt"), Path("orders.csv"))  # doctest: +SKIP
    69659
    """
    partial = orders.with_name(orders.name + ".part")
    count = 0
    try:
        with master.open(encoding="ascii") as lines, partial.open("w", newline="") as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(ORDERS_COLUMNS)
            for number, line in enumerate(lines, start=1):
                fields = line.split()
                if not fields or (number == 1 and fields[0] == "customer_id"):
                    continue
                count += 1
                writer.writerow(_order_row(fields, count, master, number))
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, orders)
    return count


def _order_row(fields: list[str], count: int, master: Path, number: int) -> list[str]:
    """One CDNOW line (customer, YYYYMMDD, CDs, dollars) as an ``orders.csv`` row."""
    try:
        customer, day, cds, dollars = fields
        order_ts = datetime.strptime(day, "%Y%m%d").date().isoformat()
        customer_id, items, _ = int(customer), int(cds), float(dollars)
    except ValueError as error:
        raise ValueError(
            f"{master}, line {number}: expected 'customer YYYYMMDD cds dollars', "
            f"got {' '.join(fields)!r} ({error})"
        ) from None
    return [f"cdnow-{count:06d}", str(customer_id), order_ts, dollars, str(items)]


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m segkit.datasets cdnow [--out data/cdnow]``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m segkit.datasets", description="Fetch a public data set for segkit."
    )
    parser.add_argument("dataset", choices=["cdnow"], help="the data set to fetch")
    parser.add_argument(
        "--out", default="data/cdnow", help="folder, relative to the project (default: data/cdnow)"
    )
    args = parser.parse_args(argv)
    try:
        orders = fetch_cdnow(args.out)
    except (SegkitError, ValueError) as error:
        print(f"segkit.datasets: {error}", file=sys.stderr)
        return 1
    print(f"CDNOW orders ready: {orders}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
