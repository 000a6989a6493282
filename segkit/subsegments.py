"""Behavioural sub-segments: VIPs, discount abusers, cherry pickers, the charmed and churn risks.

Five yes/no flags computed from a customer view
(:func:`segkit.customer_view.customer_view`), each a documented rule with its
thresholds as parameters (defaults in brackets):

``vip``
    Top ``vip_share`` [5%] of buyers by revenue (strictly above the
    ``1 - vip_share`` revenue quantile of buyers) who ordered at least
    ``vip_min_orders`` [3] times: high value and high frequency.
``discount_abuser``
    At least ``min_orders`` [2] orders, at least ``abuser_discount_share``
    [50%] of them with a discount, and at least ``abuser_return_rate`` [25%]
    of them returned: buys mostly on discount and sends much of it back.
``cherry_picker``
    At least ``min_orders`` [2] orders, at least ``cherry_discounted_share``
    [80%] of them discounted, and a return rate below ``abuser_return_rate``:
    buys (almost) only on promotion but keeps what they buy.
``charmed``
    At least ``charm_min_orders`` [1] order placed within ``charm_days`` of a
    positive feedback (``orders_after_positive_feedback``): praise turns into
    another purchase.
``churn_risk``
    A buyer whose ``recency_days`` exceeds ``churn_risk_factor`` [3] times
    their usual gap between orders (``days_between_orders``; for one-time
    buyers the median gap of repeat buyers). A buyer with a Poisson buying
    rhythm orders again within three usual gaps with 95% probability.

A flag whose inputs are missing (no returns recorded, no feedback table, no
orders) is False, never null. The VIP cut point and the median gap are the
only values collected; everything else runs in the caller's engine.
:func:`subsegment_rules` gives the rules in words for a report, and
:func:`truth_check` scores the flags against the simulator's planted truth.

Example
-------
>>> import pandas as pd
>>> view = pd.DataFrame({"customer_id": ["a", "b"], "orders": [4, 2], "revenue": [400.0, 50.0],
...     "recency_days": [10.0, 300.0], "days_between_orders": [30.0, 20.0],
...     "discounted_order_share": [0.0, 1.0], "return_rate": [0.0, 0.5],
...     "orders_after_positive_feedback": [1, 0]})
>>> subsegments(view)[["vip", "discount_abuser", "charmed", "churn_risk"]].values.tolist()
[[True, False, True, False], [False, True, False, True]]
"""

from __future__ import annotations

import inspect
import math
import warnings
from typing import Any

import narwhals as nw
import pandas as pd

from segkit.frames import as_lazy, collect_small, quantiles, require_columns

#: The flags in the order they are added, and the planted truth each is scored against.
FLAGS: dict[str, str] = {
    "vip": "vip",
    "discount_abuser": "discount_abuser",
    "cherry_picker": "cherry_picker",
    "charmed": "charmed",
    "churn_risk": "churned",
}
_INPUTS = (
    "customer_id",
    "orders",
    "revenue",
    "recency_days",
    "days_between_orders",
    "discounted_order_share",
    "return_rate",
    "orders_after_positive_feedback",
)


def subsegments(
    view: Any,
    *,
    vip_share: float = 0.05,
    vip_min_orders: int = 3,
    abuser_discount_share: float = 0.5,
    abuser_return_rate: float = 0.25,
    cherry_discounted_share: float = 0.8,
    charm_min_orders: int = 1,
    churn_risk_factor: float = 3.0,
    min_orders: int = 2,
) -> Any:
    """The customer view with boolean ``vip``, ``discount_abuser``, ``cherry_picker``,
    ``charmed`` and ``churn_risk`` columns (rules in the module docstring).

    Parameters
    ----------
    view : frame
        A customer view, any engine.
    vip_share : float, default 0.05
        Share of buyers, ranked by revenue, who can be VIPs; in (0, 1).
    vip_min_orders : int, default 3
        Orders a VIP placed at least.
    abuser_discount_share : float, default 0.5
        Least share of a discount abuser's orders that carried a discount.
    abuser_return_rate : float, default 0.25
        Least return rate of a discount abuser; cherry pickers stay below it.
    cherry_discounted_share : float, default 0.8
        Least share of a cherry picker's orders that carried a discount.
    charm_min_orders : int, default 1
        Least orders after a positive feedback for ``charmed``.
    churn_risk_factor : float, default 3.0
        How many usual gaps without an order make a churn risk.
    min_orders : int, default 2
        Orders needed before a discount or return pattern counts: one order is
        not a habit.

    Returns
    -------
    frame
        ``view`` (same kind, rows and order) with the five flags appended.

    Warns
    -----
    UserWarning
        When no buyer's revenue lies above the VIP cut point (ties at the top,
        e.g. identical customers): nobody is flagged VIP rather than everybody.

    Example
    -------
    >>> from segkit.customer_view import customer_view
    >>> from segkit.simulation import simulate
    >>> data = simulate(n_customers=1000, seed=1, defects=False)
    >>> flags = subsegments(customer_view(data.orders, feedback=data.feedback), vip_share=0.1)
    >>> int(flags["vip"].sum()), int(flags["charmed"].sum())
    (62, 54)
    """
    _checked(
        vip_share=vip_share,
        vip_min_orders=vip_min_orders,
        abuser_discount_share=abuser_discount_share,
        abuser_return_rate=abuser_return_rate,
        cherry_discounted_share=cherry_discounted_share,
        charm_min_orders=charm_min_orders,
        churn_risk_factor=churn_risk_factor,
        min_orders=min_orders,
    )
    lazy, back = as_lazy(view, "customer view")
    require_columns(lazy, _INPUTS, "customer view")
    orders = nw.col("orders")
    discounted, returns = nw.col("discounted_order_share"), nw.col("return_rate")
    habit = orders >= min_orders
    rules = {
        "vip": _vip_rule(lazy, vip_share, vip_min_orders),
        "discount_abuser": habit
        & (discounted >= abuser_discount_share)
        & (returns >= abuser_return_rate),
        "cherry_picker": habit
        & (discounted >= cherry_discounted_share)
        & (returns < abuser_return_rate),
        "charmed": nw.col("orders_after_positive_feedback") >= charm_min_orders,
        "churn_risk": _churn_rule(lazy, churn_risk_factor),
    }
    flags = {name: rule.fill_null(False).cast(nw.Boolean) for name, rule in rules.items()}
    return back(lazy.with_columns(**flags))


#: Allowed range of each rule parameter; ``vip_share`` excludes its ends.
_RANGES: dict[str, tuple[float, float]] = {
    "vip_share": (0.0, 1.0),
    "vip_min_orders": (1, math.inf),
    "abuser_discount_share": (0.0, 1.0),
    "abuser_return_rate": (0.0, 1.0),
    "cherry_discounted_share": (0.0, 1.0),
    "charm_min_orders": (1, math.inf),
    "churn_risk_factor": (0.0, math.inf),
    "min_orders": (1, math.inf),
}


def _checked(**params: Any) -> dict[str, Any]:
    """``params`` after checking each is a number within its range."""
    for name, value in params.items():
        low, high = _RANGES[name]
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            raise TypeError(f"{name} must be a number, got {value!r}")
        inside = low < value < high if name == "vip_share" else low <= value <= high
        if not inside:
            raise ValueError(f"{name} must lie between {low} and {high}, got {value}")
    return params


def _vip_rule(lazy: nw.LazyFrame, vip_share: float, vip_min_orders: int) -> nw.Expr:
    """Revenue strictly above the buyers' ``1 - vip_share`` quantile, and enough orders."""
    buyers = lazy.filter(nw.col("orders") >= 1)
    cut, top = quantiles(buyers, "revenue", [1 - vip_share, 1.0])
    if math.isnan(cut) or top <= cut:
        if not math.isnan(cut):
            warnings.warn(
                f"no VIP flagged: no buyer's revenue exceeds the top-{vip_share:.0%} cut point "
                f"{cut:g} (buyers tie at the top, or too few buyers)",
                UserWarning,
                stacklevel=3,
            )
        return nw.lit(False)
    return (nw.col("revenue") > cut) & (nw.col("orders") >= vip_min_orders)


def _churn_rule(lazy: nw.LazyFrame, factor: float) -> nw.Expr:
    """Recency beyond ``factor`` usual gaps; one-time buyers get the repeat buyers' median gap."""
    repeat = lazy.filter(~nw.col("days_between_orders").is_null() & (nw.col("orders") >= 2))
    (median_gap,) = quantiles(repeat, "days_between_orders", [0.5])
    gap = nw.col("days_between_orders")
    if not math.isnan(median_gap):
        gap = gap.fill_null(median_gap)
    return (nw.col("orders") >= 1) & (nw.col("recency_days") > factor * gap)


def subsegment_rules(**params: Any) -> pd.DataFrame:
    """The sub-segment rules in words, with the thresholds :func:`subsegments` would use.

    Parameters
    ----------
    **params
        Any keyword arguments of :func:`subsegments` except ``view``.

    Returns
    -------
    pandas.DataFrame
        ``flag`` and ``rule``, one row per flag.

    Example
    -------
    >>> subsegment_rules(vip_share=0.1).loc[0, "rule"]
    'top 10% of buyers by revenue with at least 3 orders'
    """
    unknown = set(params) - set(_RANGES)
    if unknown:
        raise TypeError(f"unknown parameters {sorted(unknown)}; expected some of {list(_RANGES)}")
    p = _checked(**{**_DEFAULTS, **params})
    rules = {
        "vip": f"top {p['vip_share']:.0%} of buyers by revenue with at least "
        f"{p['vip_min_orders']} orders",
        "discount_abuser": f"at least {p['min_orders']} orders, at least "
        f"{p['abuser_discount_share']:.0%} of them discounted and at least "
        f"{p['abuser_return_rate']:.0%} returned",
        "cherry_picker": f"at least {p['min_orders']} orders, at least "
        f"{p['cherry_discounted_share']:.0%} of them discounted and fewer than "
        f"{p['abuser_return_rate']:.0%} returned",
        "charmed": f"at least {p['charm_min_orders']} order(s) soon after giving positive feedback",
        "churn_risk": f"no order for more than {p['churn_risk_factor']:g} times the "
        "customer's usual gap between orders (one-time buyers: the median gap of repeat buyers)",
    }
    return pd.DataFrame(
        {
            "flag": pd.array(list(rules), dtype="str"),
            "rule": pd.array(list(rules.values()), dtype="str"),
        }
    )


_DEFAULTS: dict[str, Any] = {
    name: parameter.default
    for name, parameter in inspect.signature(subsegments).parameters.items()
    if name in _RANGES
}


def truth_check(flags: Any, truth_customers: pd.DataFrame, among: str = "buyers") -> pd.DataFrame:
    """How well each flag finds the behaviour the simulator planted.

    ``churn_risk`` is scored against the planted ``churned``, the others
    against the planted behaviour of the same name. Truth only exists for
    simulated (demo-sized) data, so the flags (``customer_id``, ``orders`` and
    the five flags) are collected to pandas.

    Parameters
    ----------
    flags : frame
        Output of :func:`subsegments`, any engine.
    truth_customers : pandas.DataFrame
        ``Dataset.truth.customers`` of :func:`segkit.simulate`.
    among : {"buyers", "all"}, default "buyers"
        Score among customers with at least one order (the flags can only be
        earned from orders) or among every customer in both tables.

    Returns
    -------
    pandas.DataFrame
        One row per flag: ``flag``, ``customers`` (the population), ``flagged``,
        ``planted``, ``true_positives``, ``precision``, ``recall``,
        ``base_rate`` (share planted: the precision of a random guess) and
        ``lift`` (precision / base rate).

    Example
    -------
    >>> from segkit.customer_view import customer_view
    >>> from segkit.simulation import simulate
    >>> data = simulate(n_customers=1000, seed=1, defects=False)
    >>> flags = subsegments(customer_view(data.orders, feedback=data.feedback))
    >>> scores = truth_check(flags, data.truth.customers).set_index("flag")
    >>> bool((scores["lift"] > 2).all())
    True
    """
    if among not in ("buyers", "all"):
        raise ValueError(f"among must be 'buyers' or 'all', got {among!r}")
    lazy, _ = as_lazy(flags, "flags")
    require_columns(lazy, ["customer_id", "orders", *FLAGS], "flags")
    mine = collect_small(lazy.select("customer_id", "orders", *FLAGS))
    truth = truth_customers[["customer_id", *sorted(set(FLAGS.values()))]]
    both = mine.merge(truth, on="customer_id", suffixes=("", "_truth"))
    if among == "buyers":
        both = both[both["orders"] >= 1]
    rows = []
    for flag, planted_column in FLAGS.items():
        planted_name = planted_column if planted_column != flag else f"{flag}_truth"
        flagged, planted = both[flag].astype(bool), both[planted_name].astype(bool)
        rows.append(_scores(flag, flagged, planted))
    return pd.DataFrame(rows).astype({"flag": "str"})


def _scores(flag: str, flagged: pd.Series, planted: pd.Series) -> dict[str, Any]:
    hits = int((flagged & planted).sum())
    precision = hits / flagged.sum() if flagged.sum() else math.nan
    base_rate = planted.mean() if len(planted) else math.nan
    return {
        "flag": flag,
        "customers": len(planted),
        "flagged": int(flagged.sum()),
        "planted": int(planted.sum()),
        "true_positives": hits,
        "precision": precision,
        "recall": hits / planted.sum() if planted.sum() else math.nan,
        "base_rate": base_rate,
        "lift": precision / base_rate if base_rate else math.nan,
    }
