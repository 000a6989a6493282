"""Keep personal data out of reports: mask emails, redact personal-data columns.

Example
-------
>>> mask_email("anna.smith@example.com")
'a***@e***.com'
"""

from __future__ import annotations

import pandas as pd

from segkit.schema import TABLES


def mask_email(email: object) -> object:
    """Keep the first letter of the name and of the domain, and the top-level domain."""
    if not isinstance(email, str) or not email:
        return email
    name, at, domain = email.partition("@")
    if not at:
        return name[:1] + "***"
    top_level = domain.rsplit(".", 1)[1] if "." in domain else ""
    return f"{name[:1]}***@{domain[:1]}***" + (f".{top_level}" if top_level else "")


def redact(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """A copy of ``frame`` with the table's personal-data columns masked."""
    masked = {c: frame[c].map(mask_email) for c in TABLES[table].pii_columns if c in frame}
    return frame.assign(**masked)
