"""The canonical tables (the data contract) every segkit stage reads and writes.

Each table is a list of :class:`Field`; sources are renamed onto these names
with a ``columns:`` mapping in the parameters, never by editing code. Only
``orders`` is required; every other table is optional.

Example
-------
>>> from segkit.schema import TABLES
>>> TABLES["orders"].required_columns
('order_id', 'customer_id', 'order_ts', 'revenue')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["id", "string", "timestamp", "date", "float", "int", "bool"]

#: pandas dtype each kind of column is stored as once validated.
DTYPES: dict[str, str] = {
    "id": "str",
    "string": "str",
    "timestamp": "datetime64[us]",
    "date": "datetime64[us]",
    "float": "float64",
    "int": "Int64",
    "bool": "boolean",
}


@dataclass(frozen=True)
class Field:
    """One canonical column: its kind, whether a source must provide it, and its rules.

    ``default`` fills an optional column the source lacks (``None`` leaves it
    missing); ``minimum``/``maximum`` bound numbers; ``pii`` marks personal data
    that reports must never print. ``on_error`` says what an invalid value
    costs: ``reject`` sends the row to the rejects ledger, ``clear`` keeps the
    row with the value replaced by ``default`` (or missing) and records it in the
    ledger, so a bad age does not cost a customer and all their orders.
    """

    name: str
    kind: Kind
    description: str
    required: bool = False
    nullable: bool = True
    minimum: float | None = None
    maximum: float | None = None
    not_future: bool = False
    default: Any = None
    pii: bool = False
    on_error: Literal["reject", "clear"] = "reject"


@dataclass(frozen=True)
class Table:
    """A canonical table: its fields, its unique key and whether a run needs it."""

    name: str
    description: str
    fields: tuple[Field, ...]
    required: bool = False
    key: str | None = None
    references_customers: bool = field(default=True)

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.required)

    @property
    def pii_columns(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.pii)

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)


def _req(name: str, kind: Kind, description: str, **rules: Any) -> Field:
    return Field(name, kind, description, required=True, nullable=False, **rules)


def _attr(name: str, kind: Kind, description: str, **rules: Any) -> Field:
    """An optional descriptive attribute: an invalid value is cleared, not the row."""
    return Field(name, kind, description, on_error="clear", **rules)


CUSTOMERS = Table(
    "customers",
    "One row per customer with demographic, geographic and psychographic attributes.",
    (
        _req("customer_id", "id", "Customer identifier, unique."),
        _attr("signup_date", "date", "Day the customer registered.", not_future=True),
        _attr("email", "string", "Email address (personal data).", pii=True),
        _attr("country", "string", "Country code, e.g. DE."),
        _attr("region", "string", "Region within the country."),
        _attr("city", "string", "City."),
        _attr("age", "int", "Age in years.", minimum=0, maximum=120),
        _attr("gender", "string", "Self-declared gender."),
        _attr("income_band", "string", "Income band, e.g. low | middle | high."),
        _attr("interests", "string", "Psychographic interest tags separated by '|'."),
        _attr("preferred_device", "string", "mobile | desktop | tablet."),
        _attr(
            "consent_marketing",
            "bool",
            "True only when the customer agreed to marketing; absent means no consent.",
            default=False,
            nullable=False,
        ),
    ),
    key="customer_id",
    references_customers=False,
)

ORDERS = Table(
    "orders",
    "One row per order (a conversion).",
    (
        _req("order_id", "id", "Order identifier, unique."),
        _req("customer_id", "id", "Customer who placed the order."),
        _req("order_ts", "timestamp", "When the order was placed.", not_future=True),
        _req("revenue", "float", "Amount paid after discount.", minimum=0),
        Field("discount", "float", "Discount granted.", minimum=0, default=0.0, nullable=False),
        Field("items", "int", "Number of items.", minimum=1, default=1, nullable=False),
        Field("returned", "bool", "Whether the order was returned.", default=False, nullable=False),
    ),
    required=True,
    key="order_id",
)

TOUCHPOINTS = Table(
    "touchpoints",
    "One row per marketing interaction of a customer.",
    (
        _req("customer_id", "id", "Customer who was touched."),
        _req("ts", "timestamp", "When the interaction happened.", not_future=True),
        _req("channel", "string", "Marketing channel, e.g. paid_search, email, direct."),
        _attr("campaign", "string", "Campaign within the channel."),
        _attr("interaction", "string", "impression | click | visit | email_open | ..."),
        _attr("cost", "float", "Cost of this interaction, when known.", minimum=0),
    ),
)

SPEND = Table(
    "spend",
    "Daily cost and delivery per channel and campaign.",
    (
        _req("date", "date", "Day of the spend.", not_future=True),
        _req("channel", "string", "Marketing channel."),
        Field("campaign", "string", "Campaign within the channel."),
        _req("cost", "float", "Money spent.", minimum=0),
        Field("impressions", "int", "Impressions delivered.", minimum=0),
        Field("clicks", "int", "Clicks received.", minimum=0),
    ),
    references_customers=False,
)

FEEDBACK = Table(
    "feedback",
    "Survey answers, reviews and support ratings.",
    (
        _req("customer_id", "id", "Customer who gave the feedback."),
        _req("ts", "timestamp", "When it was given.", not_future=True),
        _req("score", "float", "Score, 0 (worst) to 10 (best).", minimum=0, maximum=10),
        _attr("source", "string", "survey | review | support."),
    ),
)

EXPERIMENTS = Table(
    "experiments",
    "Assignments of customers to experiment variants.",
    (
        _req("customer_id", "id", "Assigned customer."),
        _req("experiment", "string", "Experiment name."),
        _req("variant", "string", "Variant name, e.g. control | treatment."),
        Field("assigned_ts", "timestamp", "When the customer was assigned.", not_future=True),
    ),
)

#: The canonical tables in the order stages process them.
TABLES: dict[str, Table] = {
    t.name: t for t in (CUSTOMERS, ORDERS, TOUCHPOINTS, SPEND, FEEDBACK, EXPERIMENTS)
}
TABLE_NAMES: tuple[str, ...] = tuple(TABLES)


def table(name: str) -> Table:
    """The canonical table called ``name``; a clear error for an unknown name."""
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"unknown table '{name}'; canonical tables are {list(TABLES)}") from None
