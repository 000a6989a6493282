"""The demo generator: a synthetic online shop whose planted truth analyses must recover.

:func:`simulate` builds all six canonical tables for a fictional shop selling in
six countries: journeys of marketing touches that convert with a known
incremental effect per channel, heavy-tailed and seasonal orders, feedback, two
A/B tests with known conversion rates, and a handful of deliberately invalid
rows. Everything planted is returned as :class:`segkit.dataset.Truth`.

A journey of a customer with base conversion probability ``b`` converts with
probability ``1 - (1 - b) * prod(1 - effect[channel] * weight)`` over its
touches, where an impression weighs 0.5 and any other interaction 1. Direct
visits have no effect but often close a converting journey minutes before the
order, so last-touch attribution over-credits them.

Everything is vectorised with numpy: 100,000 customers (about three million
touchpoints) take seconds.

Example
-------
>>> from segkit.simulation import simulate
>>> data = simulate(n_customers=300, seed=7)
>>> data.truth.channel_effects.set_index("channel").loc["direct", "incremental_effect"]
np.float64(0.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd

from segkit.dataset import Dataset, Truth
from segkit.errors import ParameterError
from segkit.schema import DTYPES, TABLES

_DAY = 86_400  # event times are whole seconds since midnight of the first day
_YEAR_DAYS = 365.25
_SHORTEST_PERIOD_DAYS = 180
_JOURNEYS_PER_YEAR = 8.5  # for an average customer in an average season
_RATE_SHAPE = 0.8  # gamma shape of customers' journey rates: lower is more unequal
_MEAN_TOUCH_GAP_DAYS = 1.5
_MAX_TOUCHES = 12
_UNTRACKED_SHARE = 0.08  # journeys whose touches were never tracked (the order still is)
_DIRECT_CLOSER_SHARE = 0.35  # converting journeys that end with a direct visit
_QUIET_DAYS_AFTER_CHURN = 90  # churn happens at least this long before the end

_CHANNELS = pd.DataFrame(
    {
        "channel": [
            "paid_search",
            "display",
            "paid_social",
            "email",
            "affiliate",
            "organic_search",
            "referral",
            "direct",
        ],
        "incremental_effect": [0.10, 0.02, 0.05, 0.06, 0.04, 0.07, 0.05, 0.0],
        "first_touch_share": [0.12, 0.26, 0.22, 0.06, 0.07, 0.11, 0.06, 0.10],
        "later_touch_share": [0.22, 0.07, 0.09, 0.18, 0.08, 0.16, 0.07, 0.13],
        "view": [
            "impression",
            "impression",
            "impression",
            "email_open",
            "click",
            "visit",
            "visit",
            "visit",
        ],
        "view_share": [0.0, 0.85, 0.6, 0.7, 0.0, 0.0, 0.0, 0.0],
        "action": ["click", "click", "click", "click", "click", "visit", "visit", "visit"],
        "cpm": [0.0, 4.0, 6.0, 1.0, 0.0, np.nan, np.nan, np.nan],
        "cpc": [1.2, 0.6, 0.8, 0.001, 0.9, np.nan, np.nan, np.nan],
        "ctr": [0.05, 0.002, 0.008, 0.03, 0.01, np.nan, np.nan, np.nan],
        "daily_reach": [0.3, 3.0, 2.0, 0.3, 0.5, np.nan, np.nan, np.nan],
    }
)
_CHANNEL_CODE = {name: code for code, name in enumerate(_CHANNELS["channel"])}
_INTERACTIONS = ("impression", "click", "visit", "email_open")
_CAMPAIGNS = {
    "paid_search": ("paid_search_brand", "paid_search_generic"),
    "display": ("display_prospecting", "display_retargeting"),
    "paid_social": ("paid_social_prospecting", "paid_social_retargeting", "paid_social_video"),
    "email": ("email_newsletter", "email_promotion", "email_winback"),
    "affiliate": ("affiliate_coupon", "affiliate_content"),
    "organic_search": ("organic",),
    "referral": ("referral_partner", "referral_friend"),
    "direct": ("none",),
}
_CAMPAIGN_NAMES = tuple(name for names in _CAMPAIGNS.values() for name in names)
_CAMPAIGN_CHANNEL = np.repeat(np.arange(len(_CAMPAIGNS)), [len(n) for n in _CAMPAIGNS.values()])
_CAMPAIGN_COUNT = np.array([len(names) for names in _CAMPAIGNS.values()])
_FIRST_CAMPAIGN = np.cumsum(_CAMPAIGN_COUNT) - _CAMPAIGN_COUNT

_BEHAVIOURS = pd.DataFrame(
    {
        "share": [0.76, 0.05, 0.05, 0.06, 0.08],
        "journey_rate": [1.0, 2.5, 1.5, 1.0, 1.3],
        "base_conversion": [0.07, 0.25, 0.12, 0.15, 0.08],
        "order_value": [1.0, 2.2, 0.9, 0.9, 1.0],
        "discount_usual": [0.12, 0.08, 0.85, 0.90, 0.12],
        "discount_promotion": [0.45, 0.30, 0.90, 0.95, 0.45],
        "discount_low": [0.05, 0.05, 0.30, 0.20, 0.05],
        "discount_high": [0.25, 0.20, 0.60, 0.40, 0.25],
        "return_rate": [0.06, 0.05, 0.45, 0.08, 0.04],
    },
    index=["regular", "vip", "discount_abuser", "cherry_picker", "charmed"],
)
_CHURNED_SHARE = 0.25
_CHARMED_FOLLOW_UP_SHARE = 0.5  # orders of a charmed customer followed by praise and a new order
_FEEDBACK_SHARE = 0.12  # orders followed by an ordinary survey, review or support rating
_SCORE_SHARE = [0.03, 0.02, 0.02, 0.03, 0.04, 0.08, 0.08, 0.14, 0.20, 0.18, 0.18]
_FEEDBACK_SOURCES = ("survey", "review", "support")

_EXPERIMENTS = pd.DataFrame(
    {
        "experiment": ["free_shipping_banner", "loyalty_email"],
        "control_rate": [0.12, 0.10],
        "treatment_rate": [0.16, 0.13],
        "starts_at": [0.35, 0.70],  # share of the period elapsed when assignment begins
        "needs_consent": [False, True],
    }
)
_EXPERIMENT_WINDOW_DAYS = 30
_ASSIGNMENT_DAYS = 14
_ASSIGNED_SHARE = 0.4

_PLACES = (  # country, region, city, share of all customers
    ("US", "California", "Los Angeles", 0.10),
    ("US", "California", "San Francisco", 0.06),
    ("US", "New York", "New York", 0.09),
    ("US", "Texas", "Houston", 0.05),
    ("US", "Illinois", "Chicago", 0.05),
    ("GB", "England", "London", 0.09),
    ("GB", "England", "Manchester", 0.04),
    ("GB", "Scotland", "Edinburgh", 0.03),
    ("GB", "Wales", "Cardiff", 0.02),
    ("DE", "Berlin", "Berlin", 0.05),
    ("DE", "Bavaria", "Munich", 0.05),
    ("DE", "Hamburg", "Hamburg", 0.03),
    ("DE", "North Rhine-Westphalia", "Cologne", 0.04),
    ("FR", "Île-de-France", "Paris", 0.06),
    ("FR", "Auvergne-Rhône-Alpes", "Lyon", 0.03),
    ("FR", "Provence-Alpes-Côte d'Azur", "Marseille", 0.03),
    ("ES", "Community of Madrid", "Madrid", 0.04),
    ("ES", "Catalonia", "Barcelona", 0.03),
    ("ES", "Andalusia", "Seville", 0.02),
    ("NL", "North Holland", "Amsterdam", 0.04),
    ("NL", "South Holland", "Rotterdam", 0.03),
    ("NL", "Utrecht", "Utrecht", 0.02),
)
_GENDERS = ("female", "male", "non_binary", "undisclosed")
_GENDER_SHARE = [0.49, 0.47, 0.02, 0.02]
_INCOME_BANDS = ("low", "middle", "high", "very_high")
_INCOME_SHARE = [0.25, 0.45, 0.22, 0.08]
_DEVICES = ("mobile", "desktop", "tablet")
_DEVICE_SHARE = [0.58, 0.34, 0.08]
_INTERESTS = (
    "sports",
    "travel",
    "tech",
    "fashion",
    "home",
    "beauty",
    "books",
    "outdoors",
    "gaming",
    "food",
)
_FIRST_NAMES = (
    "anna",
    "ben",
    "carla",
    "david",
    "emma",
    "felix",
    "grace",
    "hugo",
    "ines",
    "jack",
    "lena",
    "liam",
    "maria",
    "noah",
    "olivia",
    "paul",
    "sofia",
    "tom",
    "yara",
    "zoe",
)
_LAST_NAMES = (
    "smith",
    "jones",
    "muller",
    "schmidt",
    "martin",
    "bernard",
    "garcia",
    "lopez",
    "devries",
    "jansen",
    "brown",
    "taylor",
    "wilson",
    "fischer",
    "weber",
    "dubois",
    "moreau",
    "sanchez",
    "bakker",
    "visser",
)
_EMAIL_DOMAINS = ("example.com", "example.org", "example.net")
_MALFORMED_EMAIL_SHARE = 0.03

_DEFECT_SHARE = {"customers": 0.001, "orders": 0.0006, "touchpoints": 0.00005}  # per kind


def promotion_periods(
    start: str | pd.Timestamp = "2024-01-01", end: str | pd.Timestamp = "2025-12-31"
) -> pd.DataFrame:
    """The demo shop's sales between ``start`` and ``end``: when cherry pickers buy.

    Every year has a January sale (2–15 January), a summer sale (1–14 July) and
    Black Friday through the Friday of Cyber week.

    Parameters
    ----------
    start, end : str or Timestamp
        First and last day of the period.

    Returns
    -------
    DataFrame
        ``promotion``, ``start``, ``end``: first and last day (inclusive) of each
        sale, clipped to the period, in time order.

    Example
    -------
    >>> promotion_periods("2024-01-01", "2024-12-31")["promotion"].tolist()
    ['january_sale', 'summer_sale', 'black_friday']
    """
    first, last = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    rows = []
    for year in range(first.year, last.year + 1):
        november = pd.Timestamp(year, 11, 1)
        black_friday = november + pd.Timedelta(days=(3 - november.weekday()) % 7 + 22)
        rows += [
            ("january_sale", pd.Timestamp(year, 1, 2), pd.Timestamp(year, 1, 15)),
            ("summer_sale", pd.Timestamp(year, 7, 1), pd.Timestamp(year, 7, 14)),
            ("black_friday", black_friday, black_friday + pd.Timedelta(days=7)),
        ]
    periods = pd.DataFrame(rows, columns=["promotion", "start", "end"])
    periods["start"] = periods["start"].clip(lower=first).astype("datetime64[us]")
    periods["end"] = periods["end"].clip(upper=last).astype("datetime64[us]")
    return periods[periods["start"] <= periods["end"]].reset_index(drop=True)


@dataclass(frozen=True)
class _Calendar:
    """The days of the period with their promotions and relative shopping activity."""

    dates: pd.DatetimeIndex
    promotion: np.ndarray  # bool per day
    season: np.ndarray  # relative activity per day, 1 on average
    cumulative: np.ndarray  # (2, days + 1) activity integrated: everyone, promotion-only shoppers

    @property
    def horizon(self) -> int:
        """The first second after the period."""
        return len(self.dates) * _DAY

    def activity(self, promotion_only: np.ndarray, begin: np.ndarray, stop: np.ndarray):
        """Activity-weighted days between two times in seconds, per row."""
        grid = np.arange(len(self.dates) + 1)

        def between(curve: np.ndarray) -> np.ndarray:
            return np.interp(stop / _DAY, grid, curve) - np.interp(begin / _DAY, grid, curve)

        return np.where(promotion_only, between(self.cumulative[1]), between(self.cumulative[0]))

    def sample(self, promotion_only, begin, stop, rng) -> np.ndarray:
        """A time in seconds in ``[begin, stop)`` per row, by the inverse CDF of daily activity."""
        grid, share = np.arange(len(self.dates) + 1), rng.random(len(begin))

        def draw(curve: np.ndarray) -> np.ndarray:
            low, high = np.interp(begin / _DAY, grid, curve), np.interp(stop / _DAY, grid, curve)
            return np.interp(low + share * (high - low), curve, grid)

        days = np.where(promotion_only, draw(self.cumulative[1]), draw(self.cumulative[0]))
        return np.clip(np.floor(days * _DAY).astype(np.int64), begin, stop - 1)

    def timestamps(self, seconds: np.ndarray) -> np.ndarray:
        """Seconds since the first midnight as ``datetime64[us]``."""
        return self.dates[0].to_datetime64() + np.asarray(seconds).astype("timedelta64[s]")


def _calendar(start, end) -> _Calendar:
    dates = pd.date_range(
        pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize(), freq="D", unit="us"
    )
    if len(dates) < _SHORTEST_PERIOD_DAYS:
        raise ParameterError(
            f"simulate needs start..end to span at least {_SHORTEST_PERIOD_DAYS} days; "
            f"got {start} to {end} ({len(dates)} days)"
        )
    promotion = np.zeros(len(dates), bool)
    for sale in promotion_periods(dates[0], dates[-1]).itertuples():
        promotion |= (dates >= sale.start) & (dates <= sale.end)
    year_angle = 2 * np.pi * (dates.day_of_year.to_numpy() - 350) / _YEAR_DAYS
    season = 1 + 0.3 * np.cos(year_angle) + 0.6 * promotion
    season /= season.mean()
    promotion_only = 8.0 * promotion + 1e-6
    cumulative = np.zeros((2, len(dates) + 1))
    cumulative[:, 1:] = np.cumsum([season, promotion_only], axis=1)
    return _Calendar(dates, promotion, season, cumulative)


@dataclass(frozen=True)
class _Population:
    """The hidden traits of every customer, indexed by position."""

    ids: pd.api.extensions.ExtensionArray
    behaviour: np.ndarray  # position in _BEHAVIOURS
    churned: np.ndarray
    consent: np.ndarray
    signup: np.ndarray  # second of registration (midnight of signup_date)
    leaves: np.ndarray  # first second without any activity: churn, or the end of the period
    journey_rate: np.ndarray  # journeys per year in an average season
    order_value: np.ndarray  # typical gross value of an order

    def has(self, behaviour: str) -> np.ndarray:
        return self.behaviour == _BEHAVIOURS.index.get_loc(behaviour)

    def trait(self, name: str, customer: np.ndarray) -> np.ndarray:
        """The behaviour parameter ``name`` for each customer position in ``customer``."""
        return _trait(name, self.behaviour[customer])


def _trait(name: str, behaviour: np.ndarray) -> np.ndarray:
    return _BEHAVIOURS[name].to_numpy()[behaviour]


def _population(n: int, calendar: _Calendar, rng: np.random.Generator) -> _Population:
    days = len(calendar.dates)
    behaviour = rng.choice(len(_BEHAVIOURS), size=n, p=_BEHAVIOURS["share"].to_numpy())
    signup = np.floor(rng.beta(0.8, 1.6, n) * days) * _DAY
    last_churn = (days - _QUIET_DAYS_AFTER_CHURN) * _DAY
    can_churn = signup <= last_churn - 60 * _DAY
    churn_chance = min(1.0, _CHURNED_SHARE * n / max(can_churn.sum(), 1))
    churned = can_churn & (rng.random(n) < churn_chance)
    churn = signup + 30 * _DAY + np.floor(rng.random(n) * (last_churn - signup - 30 * _DAY))
    return _Population(
        ids=_ids("C", np.arange(1, n + 1), width=max(6, len(str(n)))),
        behaviour=behaviour,
        churned=churned,
        consent=rng.random(n) < 0.7,
        signup=signup.astype(np.int64),
        leaves=np.where(churned, churn, calendar.horizon).astype(np.int64),
        journey_rate=_JOURNEYS_PER_YEAR
        * rng.gamma(_RATE_SHAPE, 1 / _RATE_SHAPE, n)
        * _trait("journey_rate", behaviour),
        order_value=rng.lognormal(np.log(45), 0.5, n) * _trait("order_value", behaviour),
    )


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pd.api.extensions.ExtensionArray:
    """Identifiers such as ``C000042``: a prefix and a zero-padded number."""
    return pd.array(
        np.strings.add(prefix, np.strings.zfill(numbers.astype(str), width)), dtype="str"
    )


def _labels(names, codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """String column of ``names[code]`` per row, without a Python object per row."""
    return pd.array(list(names), dtype="str").take(codes)


def _frame(name: str, columns: dict) -> pd.DataFrame:
    """A canonical table from its columns, in canonical order and stored dtypes."""
    table = TABLES[name]
    frame = pd.DataFrame({column: columns[column] for column in table.columns})
    return frame.astype({f.name: DTYPES[f.kind] for f in table.fields})


def _customer_table(people: _Population, calendar: _Calendar, rng) -> pd.DataFrame:
    n = len(people.behaviour)
    place = rng.choice(len(_PLACES), n, p=[share for *_, share in _PLACES])
    age = np.clip(np.rint(rng.normal(41, 13, n)), 18, 85)
    age[rng.random(n) < 0.04] = np.nan
    return _frame(
        "customers",
        {
            "customer_id": people.ids,
            "signup_date": calendar.timestamps(people.signup),
            "email": _emails(n, rng),
            "country": _labels([p[0] for p in _PLACES], place),
            "region": _labels([p[1] for p in _PLACES], place),
            "city": _labels([p[2] for p in _PLACES], place),
            "age": age,
            "gender": _labels(_GENDERS, rng.choice(len(_GENDERS), n, p=_GENDER_SHARE)),
            "income_band": _labels(_INCOME_BANDS, rng.choice(4, n, p=_INCOME_SHARE)),
            "interests": _interests(n, rng),
            "preferred_device": _labels(_DEVICES, rng.choice(3, n, p=_DEVICE_SHARE)),
            "consent_marketing": people.consent,
        },
    )


def _emails(n: int, rng: np.random.Generator) -> pd.api.extensions.ExtensionArray:
    """``first.last123@example.com``; a few malformed: no @, @@, a space, no dot in the domain."""
    flaw = np.where(rng.random(n) < _MALFORMED_EMAIL_SHARE, rng.integers(1, 5, n), 0)
    first = np.array(_FIRST_NAMES)[rng.integers(len(_FIRST_NAMES), size=n)]
    last = np.array(_LAST_NAMES)[rng.integers(len(_LAST_NAMES), size=n)]
    number = rng.integers(1, 1000, n).astype(str)
    domain = np.array(_EMAIL_DOMAINS)[rng.integers(len(_EMAIL_DOMAINS), size=n)]
    at = np.select([flaw == 1, flaw == 2], ["", "@@"], "@")
    dot = np.where(flaw == 3, " ", ".")
    domain = np.where(flaw == 4, np.strings.replace(domain, ".", ""), domain)
    return pd.array(first + dot + last + number + at + domain, dtype="str")


def _interests(n: int, rng: np.random.Generator) -> pd.api.extensions.ExtensionArray:
    """One to three distinct interest tags per customer, joined with '|'."""
    count = rng.choice([1, 2, 3], n, p=[0.45, 0.35, 0.2])
    rank = rng.random((n, len(_INTERESTS))).argsort(axis=1).argsort(axis=1)
    mask = (rank < count[:, None]) @ (1 << np.arange(len(_INTERESTS)))
    tag_sets = [
        "|".join(tag for bit, tag in enumerate(_INTERESTS) if subset >> bit & 1)
        for subset in range(1 << len(_INTERESTS))
    ]
    return _labels(tag_sets, mask)


def _assign_experiments(people: _Population, calendar: _Calendar, rng) -> pd.DataFrame:
    """Assignments: ``customer`` (position), ``experiment``, ``treated`` and ``assigned`` second.

    Only customers active over the whole test take part; cherry pickers never do,
    because an order the test plants outside a sale would break their pattern.
    """
    n, parts = len(people.behaviour), []
    span = (_ASSIGNMENT_DAYS + _EXPERIMENT_WINDOW_DAYS) * _DAY
    for code, spec in enumerate(_EXPERIMENTS.itertuples()):
        opens = int(spec.starts_at * len(calendar.dates)) * _DAY
        eligible = (people.signup <= opens) & (people.leaves >= opens + span)
        eligible &= ~people.has("cherry_picker") & (people.consent | (not spec.needs_consent))
        chosen = np.flatnonzero(eligible & (rng.random(n) < _ASSIGNED_SHARE))
        parts.append(
            pd.DataFrame(
                {
                    "customer": chosen,
                    "experiment": code,
                    "treated": rng.random(len(chosen)) < 0.5,
                    "assigned": opens + rng.integers(0, _ASSIGNMENT_DAYS * _DAY, len(chosen)),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _in_experiment(assigned: pd.DataFrame, customer: np.ndarray, second: np.ndarray, n: int):
    """Whether each event falls in its customer's window of an experiment."""
    inside = np.zeros(len(customer), bool)
    for _, rows in assigned.groupby("experiment"):
        opens = np.full(n, -np.inf)
        opens[rows["customer"].to_numpy()] = rows["assigned"].to_numpy()
        since = second - opens[customer]
        inside |= (since >= 0) & (since < _EXPERIMENT_WINDOW_DAYS * _DAY)
    return inside


def _experiment_orders(assigned: pd.DataFrame, rng) -> tuple[np.ndarray, np.ndarray]:
    """The one order (or none) each assigned customer places in the window, at the planted rate."""
    spec = _EXPERIMENTS.iloc[assigned["experiment"].to_numpy()]
    rate = np.where(assigned["treated"], spec["treatment_rate"], spec["control_rate"])
    buys = rng.random(len(assigned)) < rate
    second = assigned["assigned"].to_numpy() + rng.integers(
        0, _EXPERIMENT_WINDOW_DAYS * _DAY, len(assigned)
    )
    return assigned["customer"].to_numpy()[buys], second[buys]


def _experiment_table(people: _Population, assigned: pd.DataFrame, calendar) -> pd.DataFrame:
    return _frame(
        "experiments",
        {
            "customer_id": people.ids.take(assigned["customer"].to_numpy()),
            "experiment": _labels(_EXPERIMENTS["experiment"], assigned["experiment"].to_numpy()),
            "variant": _labels(("control", "treatment"), assigned["treated"].to_numpy(int)),
            "assigned_ts": calendar.timestamps(assigned["assigned"].to_numpy()),
        },
    )


@dataclass(frozen=True)
class _Journeys:
    """Journeys and their touches, as parallel arrays; ``touch_journey`` links the two."""

    customer: np.ndarray
    anchor: np.ndarray  # second the journey ends: its order, when it converts
    converted: np.ndarray
    last_touch: np.ndarray  # second of each journey's last touch
    touch_journey: np.ndarray
    touch_second: np.ndarray
    touch_channel: np.ndarray
    touch_interaction: np.ndarray
    chance: np.ndarray  # each journey's conversion probability
    touch_miss: np.ndarray  # log(1 - effect) of each touch: its share of the odds of no sale


def _journeys(people: _Population, calendar: _Calendar, rng) -> _Journeys:
    """Journeys at a seasonal, customer-specific rate, each with 1-12 touches and an outcome."""
    cherry = people.has("cherry_picker")
    expected = (
        people.journey_rate / _YEAR_DAYS * calendar.activity(cherry, people.signup, people.leaves)
    )
    customer = np.repeat(np.arange(len(expected)), rng.poisson(expected))
    anchor = calendar.sample(
        cherry[customer], people.signup[customer], people.leaves[customer], rng
    )
    size = np.minimum(rng.geometric(1 / 3, len(anchor)), _MAX_TOUCHES)
    journey = np.repeat(np.arange(len(anchor)), size)
    last = np.cumsum(size) - 1
    first = last - size + 1
    channel = _touch_channels(
        np.arange(len(journey)) == first[journey], people.consent[customer[journey]], rng
    )
    interaction = _touch_interactions(channel, rng)
    offset = _touch_offsets(journey, first, last, anchor - people.signup[customer], rng)
    miss = np.log1p(
        -_CHANNELS["incremental_effect"].to_numpy()[channel]
        * np.where(interaction == _INTERACTIONS.index("impression"), 0.5, 1.0)
    )
    base = people.trait("base_conversion", customer)
    converts = 1 - (1 - base) * np.exp(np.bincount(journey, miss, minlength=len(anchor)))
    converted = rng.random(len(anchor)) < converts
    return _Journeys(
        customer,
        anchor,
        converted,
        anchor - offset[last],
        journey,
        anchor[journey] - offset,
        channel,
        interaction,
        converts,
        miss,
    )


def _incremental_conversions(journeys: _Journeys, counted: np.ndarray) -> np.ndarray:
    """Expected conversions of the ``counted`` journeys lost without each channel.

    Switching channel c off multiplies a journey's odds of no sale, 1 - p, by
    exp(-Σ log(1 - effect)) over its touches of c, so the journey loses
    (1 - p) · (exp(-m_c) - 1) conversions in expectation.
    """
    touched = counted[journeys.touch_journey]
    journey = journeys.touch_journey[touched]
    channels = len(_CHANNELS)
    miss = np.bincount(
        journey * channels + journeys.touch_channel[touched],
        journeys.touch_miss[touched],
        minlength=len(journeys.anchor) * channels,
    ).reshape(-1, channels)
    keep = (1 - journeys.chance)[:, None]
    return (keep * np.expm1(-miss))[counted].sum(axis=0)


def _touch_channels(is_first: np.ndarray, consent: np.ndarray, rng) -> np.ndarray:
    """Awareness channels open journeys, search and email follow; email needs consent."""
    share = rng.random(len(is_first))
    first = np.searchsorted(np.cumsum(_CHANNELS["first_touch_share"]), share, side="right")
    later = np.searchsorted(np.cumsum(_CHANNELS["later_touch_share"]), share, side="right")
    channel = np.minimum(np.where(is_first, first, later), len(_CHANNELS) - 1)
    unconsented_email = (channel == _CHANNEL_CODE["email"]) & ~consent
    return np.where(unconsented_email, _CHANNEL_CODE["organic_search"], channel)


def _touch_interactions(channel: np.ndarray, rng) -> np.ndarray:
    codes = {name: _INTERACTIONS.index(name) for name in _INTERACTIONS}
    view = _CHANNELS["view"].map(codes).to_numpy()
    action = _CHANNELS["action"].map(codes).to_numpy()
    viewed = rng.random(len(channel)) < _CHANNELS["view_share"].to_numpy()[channel]
    return np.where(viewed, view[channel], action[channel])


def _touch_offsets(journey, first, last, room: np.ndarray, rng) -> np.ndarray:
    """Seconds from each touch to its journey's end: days apart, the last one hours before.

    A journey that would start before signup is squeezed to start at a random
    time between signup and its end.
    """
    gap = rng.exponential(_MEAN_TOUCH_GAP_DAYS * _DAY, len(journey))
    gap[last] = (0.5 + rng.exponential(6.0, len(last))) * 3600
    total = np.cumsum(gap)
    offset = total[last][journey] - total + gap
    fits = offset[first] <= room
    squeeze = np.where(fits, 1.0, room * rng.uniform(0.2, 1.0, len(first)) / offset[first])
    return np.floor(offset * squeeze[journey]).astype(np.int64)


def _touches(journeys: _Journeys, tracked: np.ndarray, rng) -> dict[str, np.ndarray]:
    """Touches of the tracked journeys plus direct visits that close some converting ones.

    Returns parallel arrays sorted by customer and time: ``customer``, ``second``,
    ``channel``, ``campaign``, ``interaction`` (codes) and ``cost``.
    """
    closes = np.flatnonzero(
        tracked & journeys.converted & (rng.random(len(tracked)) < _DIRECT_CLOSER_SHARE)
    )
    lead = np.minimum(
        rng.integers(120, 1800, len(closes)), (journeys.anchor - journeys.last_touch)[closes] // 2
    )
    shown = tracked[journeys.touch_journey]
    customer = np.concatenate(
        [journeys.customer[journeys.touch_journey[shown]], journeys.customer[closes]]
    )
    second = np.concatenate([journeys.touch_second[shown], journeys.anchor[closes] - lead])
    channel = np.concatenate(
        [journeys.touch_channel[shown], np.full(len(closes), _CHANNEL_CODE["direct"])]
    )
    interaction = np.concatenate(
        [journeys.touch_interaction[shown], np.full(len(closes), _INTERACTIONS.index("visit"))]
    )
    order = _sort_order(customer, second, int(second.max(initial=0)) + 1)
    channel, interaction = channel[order], interaction[order]
    return {
        "customer": customer[order],
        "second": second[order],
        "channel": channel,
        "campaign": _campaigns(channel, rng),
        "interaction": interaction,
        "cost": _touch_costs(channel, interaction, rng),
    }


def _touch_table(people: _Population, calendar: _Calendar, touches: dict) -> pd.DataFrame:
    return _frame(
        "touchpoints",
        {
            "customer_id": people.ids.take(touches["customer"]),
            "ts": calendar.timestamps(touches["second"]),
            "channel": _labels(_CHANNELS["channel"], touches["channel"]),
            "campaign": _labels(_CAMPAIGN_NAMES, touches["campaign"]),
            "interaction": _labels(_INTERACTIONS, touches["interaction"]),
            "cost": touches["cost"],
        },
    )


def _sort_order(major: np.ndarray, minor: np.ndarray, minor_count: int) -> np.ndarray:
    """Positions that sort rows by ``major``, then ``minor`` (integers in ``[0, minor_count)``)."""
    return np.argsort(major.astype(np.int64) * minor_count + minor, kind="stable")


def _campaigns(channel: np.ndarray, rng) -> np.ndarray:
    pick = np.floor(rng.random(len(channel)) * _CAMPAIGN_COUNT[channel]).astype(np.int64)
    return _FIRST_CAMPAIGN[channel] + pick


def _touch_costs(channel: np.ndarray, interaction: np.ndarray, rng) -> np.ndarray:
    """CPM for views, CPC for clicks, with auction noise; NaN for unpaid channels."""
    viewed = np.isin(
        interaction, [_INTERACTIONS.index("impression"), _INTERACTIONS.index("email_open")]
    )
    price = np.where(
        viewed, _CHANNELS["cpm"].to_numpy()[channel] / 1000, _CHANNELS["cpc"].to_numpy()[channel]
    )
    return np.round(price * rng.lognormal(0.0, 0.2, len(channel)), 4)


def _purchases(
    people: _Population, journeys: _Journeys, outside: np.ndarray, assigned: pd.DataFrame, rng
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Every order as (customer, second), sorted by time then customer, and the praise feedback.

    Orders come from converting journeys outside experiment windows, from the
    experiments themselves, and from charmed customers ordering again after praising.
    """
    tested_customer, tested_second = _experiment_orders(assigned, rng)
    bought = journeys.converted & outside
    customer = np.concatenate([journeys.customer[bought], tested_customer])
    second = np.concatenate([journeys.anchor[bought], tested_second])
    praise, again = _charmed_follow_ups(people, assigned, customer, second, rng)
    customer = np.concatenate([customer, praise["customer"]])
    second = np.concatenate([second, again])
    order = _sort_order(second, customer, len(people.behaviour))
    return customer[order], second[order], praise


def _charmed_follow_ups(people: _Population, assigned: pd.DataFrame, customer, second, rng):
    """Praise (9 or 10) within two days of some charmed orders, then a new order 2-10 days later.

    Returns the praise as feedback arrays and the second of each follow-up order
    (placed by the same customers, in the same order).
    """
    picked = np.flatnonzero(
        people.has("charmed")[customer] & (rng.random(len(customer)) < _CHARMED_FOLLOW_UP_SHARE)
    )
    who = customer[picked]
    praised = second[picked] + rng.integers(2 * 3600, 2 * _DAY, len(picked))
    again = praised + rng.integers(2 * _DAY, 10 * _DAY, len(picked))
    score = rng.integers(9, 11, len(picked)).astype(float)
    source = rng.integers(0, 2, len(picked))  # survey or review
    n = len(people.behaviour)
    kept = (again < people.leaves[who]) & ~_in_experiment(assigned, who, again, n)
    praise = {
        "customer": who[kept],
        "second": praised[kept],
        "score": score[kept],
        "source": source[kept],
    }
    return praise, again[kept]


def _order_table(people: _Population, calendar: _Calendar, customer, second, rng):
    """Orders with values, discounts and returns that follow each customer's behaviour."""
    count = len(customer)
    trait = partial(people.trait, customer=customer)
    in_sale = calendar.promotion[second // _DAY]
    gross = np.maximum(
        np.round(people.order_value[customer] * rng.lognormal(-0.045, 0.3, count), 2), 3.0
    )
    discounted = rng.random(count) < np.where(
        in_sale, trait("discount_promotion"), trait("discount_usual")
    )
    rate = rng.uniform(trait("discount_low"), trait("discount_high"))
    discount = np.where(discounted, np.round(gross * rate, 2), 0.0)
    return _frame(
        "orders",
        {
            "order_id": _order_ids(np.arange(1, count + 1), count),
            "customer_id": people.ids.take(customer),
            "order_ts": calendar.timestamps(second),
            "revenue": np.round(gross - discount, 2),
            "discount": discount,
            "items": 1 + rng.poisson(gross / 50),
            "returned": rng.random(count) < trait("return_rate"),
        },
    )


def _order_ids(numbers: np.ndarray, clean_orders: int) -> pd.api.extensions.ExtensionArray:
    """``O0000001``-style ids, wide enough for the clean orders and any planted defects."""
    kinds = len(_DEFECT_KINDS["orders"])
    width = max(7, len(str(clean_orders + kinds * _per_kind("orders", clean_orders))))
    return _ids("O", numbers, width)


def _ratings(people: _Population, customer, second, returned, rng) -> dict:
    """Ordinary surveys, reviews and support ratings after some orders, before customers leave."""
    rated = np.flatnonzero(rng.random(len(customer)) < _FEEDBACK_SHARE)
    who = customer[rated]
    when = second[rated] + rng.integers(_DAY // 2, 20 * _DAY, len(rated))
    source = rng.choice(len(_FEEDBACK_SOURCES), len(rated), p=[0.5, 0.3, 0.2])
    score = rng.choice(len(_SCORE_SHARE), len(rated), p=_SCORE_SHARE)
    unhappy = returned[rated] | (source == _FEEDBACK_SOURCES.index("support"))
    score = np.where(unhappy, np.maximum(score - 3, 0), score).astype(float)
    kept = when < people.leaves[who]
    return {
        "customer": who[kept],
        "second": when[kept],
        "score": score[kept],
        "source": source[kept],
    }


def _feedback_table(people: _Population, calendar: _Calendar, *parts: dict) -> pd.DataFrame:
    columns = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
    order = _sort_order(columns["second"], columns["customer"], len(people.behaviour))
    return _frame(
        "feedback",
        {
            "customer_id": people.ids.take(columns["customer"][order]),
            "ts": calendar.timestamps(columns["second"][order]),
            "score": columns["score"][order],
            "source": _labels(_FEEDBACK_SOURCES, columns["source"][order]),
        },
    )


def _spend_table(touches: dict, calendar: _Calendar, n_customers: int, rng) -> pd.DataFrame:
    """Daily delivery and cost per paid campaign: the customers' touches and reach beyond them."""
    days, campaigns = len(calendar.dates), len(_CAMPAIGN_NAMES)
    paid = np.flatnonzero(_CHANNELS["cpc"].notna().to_numpy()[_CAMPAIGN_CHANNEL])
    channel = _CAMPAIGN_CHANNEL[paid]
    cell = touches["second"] // _DAY * campaigns + touches["campaign"]
    touched = np.bincount(cell, minlength=days * campaigns).reshape(days, campaigns)[:, paid]
    rate = {name: _CHANNELS[name].to_numpy()[channel] for name in ("cpm", "cpc", "ctr")}
    reach = n_customers * _CHANNELS["daily_reach"].to_numpy()[channel] / _CAMPAIGN_COUNT[channel]
    impressions = rng.poisson(touched * 50 + reach * calendar.season[:, None])
    clicks = rng.binomial(impressions, rate["ctr"])
    cost = np.round(rate["cpm"] * impressions / 1000 + rate["cpc"] * clicks, 2)
    return _frame(
        "spend",
        {
            "date": np.repeat(calendar.dates.to_numpy(), len(paid)),
            "channel": _labels(_CHANNELS["channel"], np.tile(channel, days)),
            "campaign": _labels(_CAMPAIGN_NAMES, np.tile(paid, days)),
            "cost": cost.ravel(),
            "impressions": impressions.ravel(),
            "clicks": clicks.ravel(),
        },
    )


def _unchanged(rows: pd.DataFrame) -> pd.DataFrame:
    return rows


def _refund(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.assign(revenue=-rows["revenue"])


def _no_items(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.assign(items=0)


def _stranger(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.assign(customer_id=[f"C999999X{k}" for k in range(1, len(rows) + 1)])


def _in_2100(rows: pd.DataFrame, column: str) -> pd.DataFrame:
    clock = rows[column] - rows[column].dt.normalize()
    return rows.assign(**{column: pd.Timestamp("2100-01-01") + clock})


#: Planted invalid rows per table: (rule the row breaks, how a valid copy is spoiled).
_DEFECT_KINDS = {
    "customers": (("duplicate_key", _unchanged),),
    "orders": (
        ("duplicate_key", _unchanged),
        ("minimum", _refund),
        ("minimum", _no_items),
        ("unknown_customer", _stranger),
        ("future_timestamp", partial(_in_2100, column="order_ts")),
    ),
    "touchpoints": (
        ("unknown_customer", _stranger),
        ("future_timestamp", partial(_in_2100, column="ts")),
    ),
}


def _per_kind(name: str, rows: int) -> int:
    return max(2, round(_DEFECT_SHARE[name] * rows))


def _insert_defects(name: str, frame: pd.DataFrame, rng, new_keys=None):
    """``frame`` with spoiled copies of some rows inserted at random places, and their ledger.

    A copy always lands after the row it copies, so a duplicate is the second
    occurrence. ``new_keys(k)`` gives the copies that are not duplicates fresh keys.
    """
    kinds = _DEFECT_KINDS[name]
    kind = rng.permutation(np.repeat(np.arange(len(kinds)), _per_kind(name, len(frame))))
    total = len(frame) + len(kind)
    position = np.sort(1 + rng.choice(total - 1, len(kind), replace=False))
    before = position - np.arange(len(kind))  # clean rows placed before each defect
    rows = frame.iloc[np.floor(rng.random(len(kind)) * before).astype(np.int64)]
    rows = rows.reset_index(drop=True)
    rows = pd.concat([spoil(rows[kind == k]) for k, (_, spoil) in enumerate(kinds)])
    rows = rows.sort_index()
    rule = np.array([rule for rule, _ in kinds])[kind]
    if new_keys is not None:
        fresh = rule != "duplicate_key"
        rows.loc[fresh, TABLES[name].key] = new_keys(np.arange(fresh.sum()))
    layout = np.insert(np.arange(len(frame)), before, len(frame) + np.arange(len(kind)))
    spoiled = pd.concat([frame, rows], ignore_index=True).take(layout).reset_index(drop=True)
    return _frame(name, spoiled), pd.DataFrame({"table": name, "row": position, "rule": rule})


def _with_defects(data: Dataset, rng) -> tuple[Dataset, pd.DataFrame]:
    clean_orders = len(data.orders)
    customers, customer_ledger = _insert_defects("customers", data.customers, rng)
    orders, order_ledger = _insert_defects(
        "orders",
        data.orders,
        rng,
        new_keys=lambda k: _order_ids(clean_orders + 1 + k, clean_orders),
    )
    touchpoints, touch_ledger = _insert_defects("touchpoints", data.touchpoints, rng)
    ledger = pd.concat([customer_ledger, order_ledger, touch_ledger], ignore_index=True)
    return data.replace(customers=customers, orders=orders, touchpoints=touchpoints), ledger


def _truth(people: _Population, ledger: pd.DataFrame, incremental: np.ndarray) -> Truth:
    customers = pd.DataFrame(
        {
            "customer_id": people.ids,
            "vip": people.has("vip"),
            "discount_abuser": people.has("discount_abuser"),
            "cherry_picker": people.has("cherry_picker"),
            "churned": people.churned,
            "charmed": people.has("charmed"),
        }
    )
    control, treatment = _EXPERIMENTS["control_rate"], _EXPERIMENTS["treatment_rate"]
    experiments = pd.DataFrame(
        {
            "experiment": _EXPERIMENTS["experiment"].astype("str"),
            "control_rate": control,
            "treatment_rate": treatment,
            "absolute_lift": np.round(treatment - control, 10),
            "relative_lift": np.round((treatment - control) / control, 10),
            "window_days": _EXPERIMENT_WINDOW_DAYS,
        }
    )
    effects = _CHANNELS[["channel", "incremental_effect"]].astype({"channel": "str"})
    effects["incremental_conversions"] = incremental
    return Truth(effects, customers, experiments, ledger.astype({"row": "int64"}))


def _customer_count(n_customers) -> int:
    if isinstance(n_customers, bool) or not isinstance(n_customers, int | np.integer):
        raise ParameterError(f"n_customers must be an integer; got {n_customers!r}")
    if n_customers < 50:
        raise ParameterError(f"n_customers must be at least 50; got {n_customers}")
    return int(n_customers)


def simulate(
    n_customers: int = 2000,
    seed: int = 42,
    start: str = "2024-01-01",
    end: str = "2025-12-31",
    defects: bool = True,
) -> Dataset:
    """Simulate the demo shop: all six canonical tables and the truth planted in them.

    Customers sign up during the period (more early on); about a quarter churn.
    Their marketing journeys convert with a known incremental effect per channel
    (``truth.channel_effects``); orders are heavy-tailed (about 20% of customers
    bring most revenue), seasonal (busier in November and December, quieter in
    summer) and peak in sales (:func:`promotion_periods`). Planted behaviours
    (``truth.customers``): VIPs (~5%), discount abusers (~5%, large discounts,
    ~45% returned), cherry pickers (~6%, buy only in sales), churned (~25%, no
    activity after a churn date at least 90 days before ``end``) and charmed
    (~8%, praise an order with 9-10 within two days, then order again 2-10 days
    later). Two A/B tests (``truth.experiments``) give each assigned customer
    exactly one order or none within 30 days of assignment, at the variant's rate.

    Parameters
    ----------
    n_customers : int, default 2000
        Number of customers, at least 50. Touchpoints grow to about 30 per customer.
    seed : int, default 42
        Seed of the single random generator: the same seed gives identical tables.
    start, end : str, default "2024-01-01", "2025-12-31"
        First and last day of the period (at least 180 days); nothing happens after ``end``.
    defects : bool, default True
        Append a few invalid rows (duplicate keys, negative revenue, zero items,
        unknown customers, timestamps in 2100) to customers, orders and
        touchpoints at random places, listed in ``truth.defects``. The other rows
        are exactly the clean data. Malformed emails (~3%) are kept either way.

    Returns
    -------
    Dataset
        ``customers``, ``orders`` (by ``order_ts``), ``touchpoints`` (by customer
        and ``ts``), ``spend`` (day by paid campaign), ``feedback`` and
        ``experiments``, in canonical columns and dtypes, with ``truth`` set.

    Raises
    ------
    ParameterError
        If ``n_customers`` is not an integer of at least 50, or the period is too short.

    Example
    -------
    >>> data = simulate(n_customers=500, seed=1)
    >>> list(data.tables())
    ['customers', 'orders', 'touchpoints', 'spend', 'feedback', 'experiments']
    >>> sorted(data.truth.defects["rule"].unique())
    ['duplicate_key', 'future_timestamp', 'minimum', 'unknown_customer']
    """
    n = _customer_count(n_customers)
    calendar = _calendar(start, end)
    rng = np.random.default_rng(seed)
    people = _population(n, calendar, rng)
    customers = _customer_table(people, calendar, rng)
    assigned = _assign_experiments(people, calendar, rng)
    journeys = _journeys(people, calendar, rng)
    outside = ~_in_experiment(assigned, journeys.customer, journeys.anchor, n)
    tracked = outside & (rng.random(len(outside)) >= _UNTRACKED_SHARE)
    touches = _touches(journeys, tracked, rng)
    customer, second, praise = _purchases(people, journeys, outside, assigned, rng)
    orders = _order_table(people, calendar, customer, second, rng)
    ratings = _ratings(people, customer, second, orders["returned"].to_numpy(bool), rng)
    data = Dataset(
        orders=orders,
        customers=customers,
        touchpoints=_touch_table(people, calendar, touches),
        spend=_spend_table(touches, calendar, n, rng),
        feedback=_feedback_table(people, calendar, praise, ratings),
        experiments=_experiment_table(people, assigned, calendar),
    )
    ledger = pd.DataFrame(
        {
            "table": pd.Series(dtype="str"),
            "row": pd.Series(dtype="int64"),
            "rule": pd.Series(dtype="str"),
        }
    )
    if defects:
        data, ledger = _with_defects(data, rng)
    data.truth = _truth(people, ledger, _incremental_conversions(journeys, tracked))
    return data
