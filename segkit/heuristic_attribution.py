"""Rule-based (heuristic) attribution: first and last touch, linear, time decay, U, J, W shapes.

Every model gives each step of a converting journey a *share* of the journey's
conversions and revenue (the shares of a journey add up to 1); a channel's
credit is the sum of its steps' shares times the journeys' ``conversions`` and
``revenue``. Shares are narwhals expressions on ``step``, ``steps``,
``channel`` and ``days_before_conversion`` of the journey long format (see
:mod:`segkit.journeys`), so pandas, Polars, DuckDB and PySpark give the same
numbers; only the (*by, channel) totals are collected.

==================  ==================================================================
``first_touch``     all credit to step 1
``last_touch``      all credit to the last step
``last_non_direct`` all credit to the last step whose channel is not direct; a journey
                    of direct touches only credits its last (direct) step, as GA4 does
``linear``          1 / steps to every step (a channel touched twice gets two shares)
``time_decay``      ∝ 2^(−t / half_life_days), t = ``days_before_conversion``
``position_based``  U-shaped: 40 % first, 40 % last, 20 % spread over the middle
``j_shaped``        20 % first, 60 % last, 20 % middle
``inverse_j``       60 % first, 20 % last, 20 % middle
``w_shaped``        30 % each to first, lead and last; 10 % spread over the others
``custom``          your weights, normalised per journey
==================  ==================================================================

Journeys of one touch give it everything. Journeys of two touches split the
first and last weights in proportion (U-shaped: 50/50; J-shaped: 25/75).

Example
-------
>>> import pandas as pd
>>> journeys = pd.DataFrame({"journey_id": ["j1"] * 3, "step": [1, 2, 3], "steps": 3,
...                          "channel": ["display", "email", "search"],
...                          "conversions": 1.0, "revenue": 90.0})
>>> heuristic_credits(journeys, "position_based")[["channel", "conversions"]].values.tolist()
[['display', 0.4], ['email', 0.2], ['search', 0.4]]
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import narwhals as nw
import pandas as pd

from segkit.frames import as_lazy, collect_small, count_true, require_columns

#: The heuristic models, by their public names.
HEURISTIC_MODELS: tuple[str, ...] = (
    "first_touch",
    "last_touch",
    "last_non_direct",
    "linear",
    "time_decay",
    "position_based",
    "j_shaped",
    "inverse_j",
    "w_shaped",
    "custom",
)
#: The options each model accepts, with their defaults; other models take none.
MODEL_OPTIONS: dict[str, dict[str, Any]] = {
    "last_non_direct": {"direct_channels": ("direct",)},
    "time_decay": {"half_life_days": 7.0},
    "w_shaped": {"lead_step": None},
    "custom": {"weights": None},
}
#: (first, last, middle) weights of the models that favour the ends of a journey.
ANCHOR_WEIGHTS: dict[str, tuple[float, float, float]] = {
    "position_based": (0.4, 0.4, 0.2),
    "j_shaped": (0.2, 0.6, 0.2),
    "inverse_j": (0.6, 0.2, 0.2),
}
#: W-shaped: the share of each of the three anchor touches (first, lead, last) and of the rest.
W_ANCHOR_SHARE, W_OTHERS_SHARE = 0.3, 0.1
JOURNEY_COLUMNS_USED = ("journey_id", "step", "steps", "channel", "conversions", "revenue")
_TABLE = "journeys"
_SHARE = "_segkit_share"
_HELPER = "_segkit_helper"


def heuristic_credits(
    journeys: Any, model: str, by: str | Sequence[str] = (), **options: Any
) -> pd.DataFrame:
    """Conversions and revenue credited to each channel by a rule-based model.

    Parameters
    ----------
    journeys : frame
        Journeys in the long format of :mod:`segkit.journeys` (pandas, Polars,
        DuckDB or PySpark): ``journey_id``, ``step``, ``steps``, ``channel``,
        ``conversions``, ``revenue``, and ``days_before_conversion`` for
        ``time_decay``.
    model : str
        One of :data:`HEURISTIC_MODELS`.
    by : str or sequence of str
        Columns to attribute within (a ``segment``, a ``month``).
    **options
        ``last_non_direct``: ``direct_channels`` (default ``("direct",)``).
        ``time_decay``: ``half_life_days`` (default 7, Adobe Analytics' default).
        ``w_shaped``: ``lead_step``: ``None`` for the middle touch
        ``steps // 2 + 1`` (the later of the two middle touches when even), a
        position such as ``2``, or the name of a boolean column flagging the
        lead-creating touch (the journey's first flagged step; the middle when
        none is flagged). The lead is kept strictly between first and last.
        ``custom``: ``weights``, either ``{"first": a, "last": b, "middle": c}``
        (missing keys are 0; the middle weight is spread evenly over the middle
        touches; ``a + b`` must be positive) or a list of one weight per
        position, first to last, for journeys of exactly that many touches
        (filter the journeys to that length first). Weights are normalised
        per journey.

    Returns
    -------
    pandas DataFrame
        ``*by``, ``channel``, ``conversions``, ``revenue`` (float, fractional,
        never rounded), sorted by (*by, channel). Every channel touched in the
        group's journeys is listed; only converting journeys (``conversions > 0``)
        give credit, so journeys without conversions give all channels 0.

    Raises
    ------
    ValueError
        Unknown model or invalid option value; negative or missing
        ``conversions``; negative or missing ``revenue`` or (``time_decay``)
        missing ``days_before_conversion`` in a converting journey; a step
        outside 1..steps; a ``custom`` list of another length than a converting
        journey. The message names the column and a few offending rows.
    TypeError
        An option the model does not take.
    DataContractError
        A required column is missing.

    Example
    -------
    >>> import pandas as pd
    >>> journeys = pd.DataFrame({"journey_id": ["j1", "j1"], "step": [1, 2], "steps": 2,
    ...                          "channel": ["email", "direct"], "conversions": 1.0,
    ...                          "revenue": 40.0})
    >>> heuristic_credits(journeys, "last_non_direct")["conversions"].tolist()
    [0.0, 1.0]
    """
    settings = _settings(model, options)
    groups = _as_tuple(by)
    lazy, _ = as_lazy(journeys, _TABLE)
    needed = [*JOURNEY_COLUMNS_USED, *groups]
    if model == "time_decay":
        needed.append("days_before_conversion")
    if isinstance(settings.get("lead_step"), str):
        needed.append(settings["lead_step"])
    require_columns(lazy, needed, _TABLE)
    lazy = lazy.with_columns(
        nw.col("conversions").cast(nw.Float64), nw.col("revenue").cast(nw.Float64)
    )
    _check_rows(lazy, _row_rules(model, settings))
    return _credited(_with_share(lazy, model, settings), groups)


def _as_tuple(by: str | Sequence[str] | None) -> tuple[str, ...]:
    if by is None:
        return ()
    groups = (by,) if isinstance(by, str) else tuple(by)
    if "channel" in groups:
        raise ValueError("by: 'channel' is always a result column; group by other columns")
    return groups


def _settings(model: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The model's options with defaults filled in, checked."""
    if model not in HEURISTIC_MODELS:
        raise ValueError(
            f"unknown heuristic model {model!r}; expected one of {', '.join(HEURISTIC_MODELS)}"
        )
    defaults = MODEL_OPTIONS.get(model, {})
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        valid = ", ".join(defaults) or "none"
        raise TypeError(f"{model}: unknown option(s) {unknown}; valid options: {valid}")
    settings = {**defaults, **options}
    if model == "last_non_direct":
        direct = settings["direct_channels"]
        settings["direct_channels"] = [direct] if isinstance(direct, str) else list(direct)
    if model == "time_decay":
        half_life = settings["half_life_days"]
        if (
            isinstance(half_life, bool)
            or not isinstance(half_life, numbers.Real)
            or not half_life > 0
        ):
            raise ValueError(
                f"time_decay: half_life_days must be a positive number, got {half_life!r}"
            )
    if model == "w_shaped":
        _check_lead_step(settings["lead_step"])
    if model == "custom":
        settings["weights"] = _custom_weights(settings["weights"])
    return settings


def _check_lead_step(lead_step: Any) -> None:
    if lead_step is None or isinstance(lead_step, str):
        return
    if isinstance(lead_step, bool) or not isinstance(lead_step, numbers.Integral) or lead_step < 1:
        raise ValueError(
            "w_shaped: lead_step must be None (the middle touch), a position ≥ 1 or the name "
            f"of a boolean column flagging the lead touch, got {lead_step!r}"
        )


def _custom_weights(weights: Any) -> tuple[str, tuple[float, ...]]:
    """``("anchored", (first, last, middle))`` or ``("positions", (w1, …, wk))``, checked."""
    if isinstance(weights, Mapping):
        unknown = sorted(set(weights) - {"first", "last", "middle"})
        if unknown:
            raise ValueError(f"custom: unknown weights {unknown}; use first, last and middle")
        values = tuple(_weight(weights.get(key, 0.0)) for key in ("first", "last", "middle"))
        if values[0] + values[1] <= 0:
            raise ValueError("custom: the first and last weights must not both be 0")
        return "anchored", values
    if isinstance(weights, Iterable) and not isinstance(weights, str):
        values = tuple(_weight(w) for w in weights)
        if sum(values) <= 0:
            raise ValueError("custom: the weights must not all be 0")
        return "positions", values
    raise ValueError(
        "custom: weights must be {'first': .., 'last': .., 'middle': ..} or a list of one "
        f"weight per position, first to last; got {weights!r}"
    )


def _weight(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
        raise ValueError(f"custom: weights must be numbers ≥ 0, got {value!r}")
    if math.isinf(value):
        raise ValueError("custom: weights must be finite")
    return float(value)


def _missing(column: str) -> nw.Expr:
    return nw.col(column).is_null() | nw.col(column).is_nan()


def _row_rules(model: str, settings: Mapping[str, Any]) -> list[tuple[str, str, nw.Expr]]:
    """(column, rule, mask of offending rows) for the checks the model needs."""
    converting = nw.col("conversions") > 0
    step, steps = nw.col("step"), nw.col("steps")
    rules = [
        ("conversions", "conversions ≥ 0", _missing("conversions") | (nw.col("conversions") < 0)),
        (
            "revenue",
            "revenue ≥ 0 in converting journeys",
            converting & (_missing("revenue") | (nw.col("revenue") < 0)),
        ),
        ("channel", "a channel on every step", nw.col("channel").is_null()),
        (
            "step",
            "1 ≤ step ≤ steps",
            step.is_null() | steps.is_null() | (step < 1) | (step > steps),
        ),
    ]
    if model == "time_decay":
        days = nw.col("days_before_conversion").cast(nw.Float64)
        rules.append(
            (
                "days_before_conversion",
                "time_decay needs days_before_conversion ≥ 0 on every step of a converting "
                "journey (journeys built from aggregated paths have no times)",
                converting & (days.is_null() | days.is_nan() | (days < 0)),
            )
        )
    kind, weights = settings.get("weights") or (None, ())
    if kind == "positions":
        rules.append(
            (
                "steps",
                f"converting journeys of exactly {len(weights)} touches, one per custom weight "
                "(filter the journeys to that length, or give first/last/middle weights)",
                converting & (steps != len(weights)),
            )
        )
    return rules


def _check_rows(lazy: nw.LazyFrame, rules: list[tuple[str, str, nw.Expr]]) -> None:
    """Count every rule's offending rows in one pass; raise naming the first broken rule."""
    counts = collect_small(
        lazy.select(*(count_true(mask).alias(f"rule{i}") for i, (_, _, mask) in enumerate(rules)))
    ).iloc[0]
    for i, (column, rule, mask) in enumerate(rules):
        if counts[f"rule{i}"] > 0:
            shown = ["journey_id", "step", "channel", column]
            examples = collect_small(lazy.filter(mask).select(*dict.fromkeys(shown)).head(3))
            raise ValueError(
                f"table '{_TABLE}', column '{column}': expected {rule}; "
                f"{int(counts[f'rule{i}'])} rows break it, e.g.\n{examples.to_string(index=False)}"
            )


def _with_share(lazy: nw.LazyFrame, model: str, settings: Mapping[str, Any]) -> nw.LazyFrame:
    """``lazy`` with each step's share of its journey's credit in the column ``_SHARE``."""
    step, steps = nw.col("step"), nw.col("steps")
    if model == "first_touch":
        return lazy.with_columns((step == 1).cast(nw.Float64).alias(_SHARE))
    if model == "last_touch":
        return lazy.with_columns((step == steps).cast(nw.Float64).alias(_SHARE))
    if model == "linear":
        return lazy.with_columns((1.0 / steps.cast(nw.Float64)).alias(_SHARE))
    if model in ANCHOR_WEIGHTS:
        return lazy.with_columns(anchored_shares(*ANCHOR_WEIGHTS[model]).alias(_SHARE))
    if model == "custom":
        kind, weights = settings["weights"]
        share = anchored_shares(*weights) if kind == "anchored" else _position_shares(weights)
        return lazy.with_columns(share.alias(_SHARE))
    if model == "w_shaped":
        return _with_w_shares(lazy, settings["lead_step"])
    if model == "last_non_direct":
        return _with_last_non_direct(lazy, settings["direct_channels"])
    return _with_time_decay(lazy, float(settings["half_life_days"]))


def anchored_shares(first: float, last: float, middle: float) -> nw.Expr:
    """Shares from weights of the first touch, the last touch and all middle touches together.

    One touch gets 1; two touches split ``first : last``; longer journeys get
    ``first``, ``last`` and ``middle / (steps - 2)`` each, over ``first + last + middle``.
    ``anchored_shares(0.4, 0.4, 0.2)`` is U-shaped (position based).
    """
    step, steps = nw.col("step"), nw.col("steps")
    total = first + last + middle
    ends = first + last
    return (
        nw.when(steps == 1)
        .then(nw.lit(1.0))
        .when(steps == 2)
        .then(nw.when(step == 1).then(nw.lit(first / ends)).otherwise(nw.lit(last / ends)))
        .when(step == 1)
        .then(nw.lit(first / total))
        .when(step == steps)
        .then(nw.lit(last / total))
        .otherwise(middle / total / (steps.cast(nw.Float64) - 2.0))
    )


def _position_shares(weights: Sequence[float]) -> nw.Expr:
    """One weight per position (journeys of exactly ``len(weights)`` touches), normalised."""
    total = sum(weights)
    share = nw.when(nw.col("step") == 1).then(nw.lit(weights[0] / total))
    for position, weight in enumerate(weights[1:], start=2):
        share = share.when(nw.col("step") == position).then(nw.lit(weight / total))
    return share.otherwise(nw.lit(0.0))


def _with_w_shares(lazy: nw.LazyFrame, lead_step: int | str | None) -> nw.LazyFrame:
    """W-shaped: 30 % each to first, lead and last, 10 % over the others.

    With three touches nothing remains for "the others", so the 90 % is
    renormalised to 1/3 each; two touches split 50/50.
    """
    step, steps = nw.col("step"), nw.col("steps")
    middle = steps // 2 + 1
    if isinstance(lead_step, str):
        flagged = nw.when(nw.col(lead_step).fill_null(False)).then(step)
        lazy = lazy.with_columns(flagged.alias(_HELPER))
        lazy = lazy.with_columns(nw.col(_HELPER).min().over("journey_id"))
        lead = nw.when(nw.col(_HELPER).is_null()).then(middle).otherwise(nw.col(_HELPER))
    else:
        lead = middle if lead_step is None else nw.lit(int(lead_step))
    lead = nw.when(lead < 2).then(nw.lit(2)).when(lead > steps - 1).then(steps - 1).otherwise(lead)
    others = W_OTHERS_SHARE / (steps.cast(nw.Float64) - 3.0)
    share = (
        nw.when(steps <= 3)
        .then(1.0 / steps.cast(nw.Float64))
        .when((step == 1) | (step == steps) | (step == lead))
        .then(nw.lit(W_ANCHOR_SHARE))
        .otherwise(others)
    )
    return lazy.with_columns(share.alias(_SHARE))


def _with_last_non_direct(lazy: nw.LazyFrame, direct: Sequence[str]) -> nw.LazyFrame:
    """All credit to the journey's last non-direct step, or its last step if all are direct."""
    non_direct = nw.when(~nw.col("channel").is_in(list(direct))).then(nw.col("step"))
    lazy = lazy.with_columns(non_direct.alias(_HELPER))
    lazy = lazy.with_columns(nw.col(_HELPER).max().over("journey_id"))
    credited = nw.when(nw.col(_HELPER).is_null()).then(nw.col("steps")).otherwise(nw.col(_HELPER))
    return lazy.with_columns((nw.col("step") == credited).cast(nw.Float64).alias(_SHARE))


def _with_time_decay(lazy: nw.LazyFrame, half_life_days: float) -> nw.LazyFrame:
    """Shares ∝ 2^(−t / half_life), t = days before conversion.

    Weights are taken relative to the journey's latest touch (2^(−(t − t_min) / h)),
    which leaves the shares unchanged and keeps old touches from underflowing to 0.
    """
    days = nw.col("days_before_conversion").cast(nw.Float64)
    lazy = lazy.with_columns(days.alias(_HELPER))
    lazy = lazy.with_columns(
        (nw.col(_HELPER) - nw.col(_HELPER).min().over("journey_id")).alias(_HELPER)
    )
    lazy = lazy.with_columns(
        (-math.log(2.0) / half_life_days * nw.col(_HELPER)).exp().alias(_HELPER)
    )
    return lazy.with_columns(
        (nw.col(_HELPER) / nw.col(_HELPER).sum().over("journey_id")).alias(_SHARE)
    )


def _credited(lazy: nw.LazyFrame, groups: tuple[str, ...]) -> pd.DataFrame:
    """Shares × the journeys' conversions and revenue, summed per (*groups, channel)."""
    converting = nw.col("conversions") > 0

    def credit(column: str) -> nw.Expr:
        credited = nw.col(_SHARE) * nw.col(column)
        return nw.when(converting).then(credited).otherwise(nw.lit(0.0)).alias(column)

    table = (
        lazy.with_columns(credit("conversions"), credit("revenue"))
        .group_by(*groups, "channel")
        .agg(nw.col("conversions").sum(), nw.col("revenue").sum())
    )
    return tidy_credits(collect_small(table), groups)


def tidy_credits(credits: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """``*by, channel, conversions, revenue`` as float, sorted by (*by, channel), index 0..n-1."""
    columns = [*by, "channel", "conversions", "revenue"]
    table = credits[columns].astype({"conversions": "float64", "revenue": "float64"})
    table["channel"] = table["channel"].astype("str")
    return table.sort_values([*by, "channel"], kind="stable").reset_index(drop=True)
