"""Audience exports: one CSV per segment of the customers who agreed to marketing.

:func:`export_audiences` is the one place segkit writes customer-level files for
use outside the report (an ad platform, an email tool). It honours
``consent_marketing``: a customer is exported only when the customers table says
``True``; ``False``, a missing value, or no row in the customers table at all
means no consent, and the customer is only counted in the manifest.

Customers are identified by a pseudonymous id, the HMAC-SHA256 of their
``customer_id`` keyed with a secret salt (a salted SHA-256), as 64 hex digits.
The salt comes from the ``salt`` parameter, else from the environment variable
``SEGKIT_EXPORT_SALT``, else a random one is generated for this export and
discarded. The salt is never written anywhere: the manifest records only its
fingerprint, so two exports can be recognised as sharing a salt. Ids are stable
across exports only with the same salt; with a generated one they cannot be
linked to any other export, nor recomputed.

Example
-------
>>> import pandas as pd, tempfile
>>> segments = pd.DataFrame({"customer_id": ["a", "b"], "segment": ["VIP", "VIP"]})
>>> customers = pd.DataFrame({"customer_id": ["a", "b"], "consent_marketing": [True, False]})
>>> out = export_audiences(segments, customers, tempfile.mkdtemp(), salt="a-secret-of-16+chars")
>>> out.manifest[["segment", "file", "exported", "excluded_for_consent"]].values.tolist()
[['VIP', 'vip.csv', 1, 1]]
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import narwhals as nw
import pandas as pd

from segkit.errors import DataContractError, ParameterError
from segkit.frames import as_lazy, collect_small, count_true, require_columns, same_engine
from segkit.journeys import UNSEGMENTED

#: The environment variable read when no ``salt`` is passed.
SALT_ENVIRONMENT_VARIABLE = "SEGKIT_EXPORT_SALT"
#: Shorter salts could be guessed from their fingerprint in the manifest.
MIN_SALT_LENGTH = 16
MANIFEST_FILE = "manifest.json"
#: One row per exported segment in :attr:`AudienceExport.manifest`.
MANIFEST_COLUMNS: tuple[str, ...] = (
    "segment",
    "file",
    "total",
    "exported",
    "excluded_for_consent",
    "unknown_customers",
)
_PSEUDONYMIZATION = "HMAC-SHA256(key=salt, message=customer_id as text), hex"
_FILE_STEM_LENGTH = 60
_RESERVED_STEMS = {"con", "prn", "aux", "nul"} | {
    f"{p}{i}" for p in ("com", "lpt") for i in range(10)
}


@dataclass(frozen=True)
class AudienceExport:
    """What :func:`export_audiences` wrote.

    Attributes
    ----------
    out_dir : Path
        The folder holding the CSV files and ``manifest.json``.
    manifest : pandas.DataFrame
        One row per segment: :data:`MANIFEST_COLUMNS`. ``total`` counts the
        segment's distinct customers, ``exported`` those written to ``file``,
        ``excluded_for_consent`` the others (no consent, missing consent, or no
        customer record) and ``unknown_customers`` those of them missing from
        the customers table; ``exported + excluded_for_consent == total``.
    parameters : dict
        ``segment_column``, ``id_column``, ``include_email``,
        ``segments_to_export``, ``pseudonymization``, ``salt_fingerprint``,
        ``salt_source`` (parameter | environment | generated), ``created_at``
        (UTC, ISO 8601) and ``segkit_version``, as in the manifest.
    """

    out_dir: Path
    manifest: pd.DataFrame
    parameters: dict = field(default_factory=dict)

    @property
    def manifest_path(self) -> Path:
        return self.out_dir / MANIFEST_FILE

    @property
    def exported(self) -> int:
        """Rows written over all files (a customer in two segments is in two files)."""
        return int(self.manifest["exported"].sum())


def export_audiences(
    segments: Any,
    customers: Any,
    out_dir: str | os.PathLike,
    segment: str = "segment",
    include_email: bool = False,
    salt: str | None = None,
    segments_to_export: Iterable[str] | None = None,
    id_column: str = "pseudonymous_id",
) -> AudienceExport:
    """Write one CSV per segment with the consenting customers, and a manifest.

    Parameters
    ----------
    segments : frame
        ``customer_id`` and the ``segment`` column (e.g. segments.parquet), any
        supported engine. A customer may be in several segments (one row each);
        a repeated (customer, segment) row counts once; a missing segment label
        is ``"Unsegmented"``.
    customers : frame
        The customers table, the same kind of frame, one row per
        ``customer_id``, with a boolean ``consent_marketing`` (missing = no
        consent) and, for ``include_email``, ``email``.
    out_dir : str or path
        Folder to write to, created if needed; files of the same names are replaced.
    segment : str, default "segment"
        The column of ``segments`` that names each customer's audience.
    include_email : bool, default False
        Add the ``email`` column (personal data) to the files. Off by default:
        the pseudonymous id is enough to join back in a system that holds the salt.
    salt : str, optional
        Secret key of the pseudonymous ids, at least 16 characters; default the
        environment variable ``SEGKIT_EXPORT_SALT``, else a random salt used
        for this export only. Never written to disk.
    segments_to_export : iterable of str, optional
        Export only these segments (each must occur in ``segments``); default all.
    id_column : str, default "pseudonymous_id"
        Name of the id column in the files.

    Returns
    -------
    AudienceExport
        The folder, the manifest as a table and the recorded parameters. Each
        file ``<slug>.csv`` (a lowercase ASCII slug of the segment name, made
        unique with a short hash when two names share a slug or a name has no
        ASCII letters) has the columns ``id_column``, ``segment`` and, if asked,
        ``email``, sorted by id; a segment without consenting customers gets a
        header-only file. ``manifest.json`` holds the parameters, the per-segment
        rows and their totals.

    Raises
    ------
    DataContractError
        If a column is missing, ``consent_marketing`` is not boolean (validate
        the customers table first), ``customers`` repeats a customer, or a
        ``segments`` row has no ``customer_id``.
    ParameterError
        If the salt is too short, a segment to export does not exist, or a
        parameter has the wrong type.

    Example
    -------
    >>> import pandas as pd, tempfile
    >>> segments = pd.DataFrame({"customer_id": ["a", "b", "c"], "segment": ["At Risk / VIP"] * 3})
    >>> customers = pd.DataFrame({"customer_id": ["a", "b"],
    ...                           "consent_marketing": pd.array([True, None], "boolean")})
    >>> out = export_audiences(segments, customers, tempfile.mkdtemp(), salt="x" * 16)
    >>> out.manifest[["file", "total", "exported", "unknown_customers"]].values.tolist()
    [['at_risk_vip.csv', 3, 1, 1]]
    """
    _check_names(segment=segment, id_column=id_column)
    if id_column in {"segment", "email"}:
        raise ParameterError(f"id_column cannot be {id_column!r}: the files use that column")
    if not isinstance(include_email, bool):
        raise ParameterError(f"include_email must be True or False, got {include_email!r}")
    key, salt_source = _salt(salt)
    wanted = _wanted(segments_to_export)

    members, people = _tables(segments, customers, segment, include_email)
    joined = _with_consent(members, people, include_email)
    counts = _counts(joined)
    names = sorted(counts["segment"])
    if wanted is not None:
        unknown = sorted(set(wanted) - set(names))
        if unknown:
            raise ParameterError(
                f"segments_to_export names segments that are not in the '{segment}' column: "
                f"{unknown}; segments are {names}"
            )
        names = sorted(set(wanted))
    # Customer-level rows leave the engine here, and only the consenting ones: they are
    # the files' content.
    chosen = joined.filter(nw.col("_consent") & nw.col("segment").is_in(names))
    rows = chosen.select("customer_id", "segment", *(["email"] if include_email else []))
    rows = rows.collect().to_pandas()
    expected = int(counts.loc[counts["segment"].isin(names), "exported"].sum())
    if len(rows) != expected:  # the files and the manifest must tell the same story
        raise RuntimeError(f"export of {len(rows)} rows disagrees with the count {expected}")

    files = _file_names(names)
    target = Path(out_dir)
    target.mkdir(parents=True, exist_ok=True)
    columns = [id_column, "segment", *(["email"] if include_email else [])]
    for name in names:
        audience = rows[rows["segment"] == name]
        table = pd.DataFrame(
            {
                id_column: [_pseudonym(key, c) for c in audience["customer_id"]],
                "segment": [name] * len(audience),
                **({"email": audience["email"].to_list()} if include_email else {}),
            },
            columns=columns,
        )
        table = table.sort_values(id_column, kind="stable")
        table.to_csv(target / files[name], index=False, lineterminator="\n", encoding="utf-8")

    manifest = counts.set_index("segment").loc[names].reset_index()
    manifest["file"] = [files[name] for name in names]
    manifest["excluded_for_consent"] = manifest["total"] - manifest["exported"]
    manifest = manifest[list(MANIFEST_COLUMNS)]
    parameters = {
        "segment_column": segment,
        "id_column": id_column,
        "include_email": include_email,
        "segments_to_export": None if wanted is None else names,
        "pseudonymization": _PSEUDONYMIZATION,
        "salt_fingerprint": salt_fingerprint(key),
        "salt_source": salt_source,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "segkit_version": _segkit_version(),
    }
    _write_manifest(target / MANIFEST_FILE, parameters, manifest)
    return AudienceExport(target, manifest, parameters)


def salt_fingerprint(salt: str) -> str:
    """A short public digest of a salt: equal for equal salts, useless to recover it.

    Example
    -------
    >>> salt_fingerprint("correct horse battery staple")
    'sha256:33acad44260cdb6a'
    """
    digest = hashlib.sha256(b"segkit salt fingerprint\x00" + salt.encode("utf-8")).hexdigest()
    return f"sha256:{digest[:16]}"


def _check_names(**names: Any) -> None:
    for parameter, value in names.items():
        if not isinstance(value, str) or not value:
            raise ParameterError(f"{parameter} must be a column name, got {value!r}")


def _salt(salt: Any) -> tuple[str, str]:
    """The key of the pseudonymous ids, and where it came from."""
    source = "parameter"
    if salt is None and os.environ.get(SALT_ENVIRONMENT_VARIABLE):
        salt, source = os.environ[SALT_ENVIRONMENT_VARIABLE], "environment"
    if salt is None:
        return secrets.token_hex(32), "generated"
    if not isinstance(salt, str):
        raise ParameterError(f"salt must be a string, got {type(salt).__name__}")
    if len(salt) < MIN_SALT_LENGTH:
        where = "salt" if source == "parameter" else SALT_ENVIRONMENT_VARIABLE
        raise ParameterError(
            f"{where} must be at least {MIN_SALT_LENGTH} characters (got {len(salt)}): a short "
            "salt can be guessed from its fingerprint, and with it every customer's id"
        )
    return salt, source


def _wanted(segments_to_export: Any) -> list[str] | None:
    if segments_to_export is None:
        return None
    if isinstance(segments_to_export, str):
        return [segments_to_export]
    wanted = list(segments_to_export)
    if not all(isinstance(name, str) for name in wanted):
        raise ParameterError(f"segments_to_export must be segment names, got {wanted!r}")
    return wanted


def _tables(segments, customers, segment: str, include_email: bool):
    """Memberships (``customer_id``, ``segment`` as text, distinct) and the checked customers."""
    members, _ = as_lazy(segments, "segments")
    require_columns(members, ["customer_id", segment], "segments")
    people = same_engine(members, customers, "customers", "segments")
    require_columns(
        people,
        ["customer_id", "consent_marketing", *(["email"] if include_email else [])],
        "customers",
    )
    consent = people.collect_schema()["consent_marketing"]
    if consent != nw.Boolean:
        raise DataContractError(
            "customers",
            "consent_marketing",
            "a boolean column (True = agreed, missing = no consent); run segkit.validate or "
            "cast it, e.g. .astype('boolean')",
            f"dtype {consent}",
        )
    members = members.select(
        nw.col("customer_id").cast(nw.String),
        nw.col(segment).cast(nw.String).fill_null(UNSEGMENTED).alias("segment"),
    )
    without_id = int(
        collect_small(members.select(count_true(nw.col("customer_id").is_null()).alias("n")))[
            "n"
        ].iloc[0]
    )
    if without_id:
        raise DataContractError(
            "segments",
            "customer_id",
            "a customer id in every row",
            f"{without_id} rows without one",
        )
    people = people.with_columns(nw.col("customer_id").cast(nw.String)).filter(
        ~nw.col("customer_id").is_null()
    )
    repeated = people.group_by("customer_id").agg(nw.len().alias("rows")).filter(nw.col("rows") > 1)
    found = collect_small(repeated.sort("customer_id"))
    if len(found):
        shown = found.head(3).to_dict("records")
        raise DataContractError(
            "customers",
            "customer_id",
            "one row per customer (consent must be unambiguous)",
            f"{len(found)} customers in more than one row, e.g. {shown}",
        )
    return members.unique(["customer_id", "segment"]), people


def _with_consent(members: nw.LazyFrame, people: nw.LazyFrame, include_email: bool):
    """Memberships with ``_consent`` (True only for a recorded yes) and ``_known`` (a
    customers row exists), plus ``email`` when asked."""
    known = people.select(
        "customer_id",
        nw.col("consent_marketing").fill_null(False).alias("_consent"),
        *(["email"] if include_email else []),
        nw.lit(True).alias("_known"),
    )
    return members.join(known, on="customer_id", how="left").with_columns(
        nw.col("_consent").fill_null(False).cast(nw.Boolean),
        nw.col("_known").fill_null(False).cast(nw.Boolean),
    )


def _counts(joined: nw.LazyFrame) -> pd.DataFrame:
    """Per segment: ``total``, ``exported`` and ``unknown_customers`` (a small table)."""
    counts = collect_small(
        joined.with_columns(
            _exported=nw.col("_consent").cast(nw.Int64),
            _unknown=1 - nw.col("_known").cast(nw.Int64),
        )
        .group_by("segment")
        .agg(
            nw.len().alias("total"),
            nw.col("_exported").sum().alias("exported"),
            nw.col("_unknown").sum().alias("unknown_customers"),
        )
    )
    return counts.astype(
        {"segment": "str", "total": "int64", "exported": "int64", "unknown_customers": "int64"}
    )


def _pseudonym(key: str, customer_id: str) -> str:
    return hmac.new(key.encode("utf-8"), customer_id.encode("utf-8"), hashlib.sha256).hexdigest()


def _slug(name: str) -> str:
    """Lowercase ASCII letters, digits and underscores; accents dropped, the rest to ``_``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "_", ascii_name.lower()).strip("_")
    return slug[:_FILE_STEM_LENGTH].rstrip("_")


def _file_names(names: list[str]) -> dict[str, str]:
    """A distinct, portable ``<slug>.csv`` per segment name, in a stable way."""
    files, used = {}, set()
    for name in sorted(names):
        stem = _slug(name)
        if not stem or stem in used or stem in _RESERVED_STEMS:
            tag = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
            stem = f"{stem or 'segment'}_{tag}"
        base, count = stem, 1
        while stem in used:
            count += 1
            stem = f"{base}_{count}"
        used.add(stem)
        files[name] = f"{stem}.csv"
    return files


def _segkit_version() -> str:
    try:
        return version("segkit")
    except PackageNotFoundError:  # a source tree that was never installed
        return "0+unknown"


def _write_manifest(path: Path, parameters: dict, manifest: pd.DataFrame) -> None:
    counted = MANIFEST_COLUMNS[2:]
    segments = [
        {"segment": row["segment"], "file": row["file"], **{c: int(row[c]) for c in counted}}
        for row in manifest.to_dict("records")
    ]
    document = {
        "parameters": parameters,
        "consent_rule": "exported only when consent_marketing is True; False, missing, or no "
        "customer record means excluded",
        "segments": segments,
        "totals": {column: int(manifest[column].sum()) for column in counted},
    }
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
