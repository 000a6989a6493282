"""Marketing attribution: which channels get the credit for the conversions, by any model.

:func:`attribute` is the one entry point: journeys in the long format of
:mod:`segkit.journeys` (pandas, Polars, DuckDB or PySpark) and a model name
from :data:`MODELS` in, a small pandas table of credited conversions and
revenue per channel (and per ``by`` group) out. The work runs in the journeys'
engine; only that per-channel aggregate is collected.

- Rule-based models (:mod:`segkit.heuristic_attribution`): ``first_touch``,
  ``last_touch``, ``last_non_direct``, ``linear``, ``time_decay``,
  ``position_based``, ``j_shaped``, ``inverse_j``, ``w_shaped``, ``custom``.
- ``markov`` (:mod:`segkit.markov_attribution`): removal effects of a Markov
  chain of the given ``order`` (default 1), computed exactly.
- ``shapley`` and ``shapley_ordered`` (:mod:`segkit.shapley_attribution`):
  Shapley values of the channel coalitions; ``shapley`` takes
  ``variant="simplified"`` (default) or ``"rate"``, ``shapley_ordered`` is the
  order-aware variant.

:func:`compare_models` and :func:`compare_models_long` put several models side
by side, :func:`attribute_paths` reads ChannelAttribution's aggregated path
table, and :func:`attribution_truth_check` scores models against the channel
effects planted in simulated data.

Example
-------
>>> import pandas as pd
>>> paths = pd.DataFrame({"path": ["email > search", "search"], "total_conversions": [1, 2],
...                       "total_conversion_value": [50.0, 80.0], "total_null": [3, 0]})
>>> attribute_paths(paths, "first_touch")[["channel", "conversions"]].values.tolist()
[['email', 1.0], ['search', 2.0]]
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from segkit.errors import DataContractError
from segkit.heuristic_attribution import HEURISTIC_MODELS, heuristic_credits, tidy_credits
from segkit.journeys import drop_direct, journeys_from_paths

#: The models that learn from converting and non-converting journeys.
DATA_DRIVEN_MODELS: tuple[str, ...] = ("markov", "shapley", "shapley_ordered")
#: Every model :func:`attribute` knows, by its public name.
MODELS: tuple[str, ...] = (*HEURISTIC_MODELS, *DATA_DRIVEN_MODELS)
#: The nine models :func:`compare_models` runs by default.
DEFAULT_MODELS: tuple[str, ...] = (
    "first_touch",
    "last_touch",
    "last_non_direct",
    "linear",
    "time_decay",
    "position_based",
    "w_shaped",
    "markov",
    "shapley",
)
#: The variants the ``shapley`` model takes (``shapley_ordered`` is its own model).
SHAPLEY_VARIANTS: tuple[str, ...] = ("simplified", "rate")
#: What :func:`compare_models` can put in its model columns.
COMPARE_VALUES: tuple[str, ...] = ("conversions", "revenue", "share")


def attribute(
    journeys: Any, model: str, by: str | Sequence[str] | None = None, **options: Any
) -> pd.DataFrame:
    """Conversions and revenue credited to each channel by one attribution model.

    Parameters
    ----------
    journeys : frame
        Journeys in the long format of :mod:`segkit.journeys`, any supported engine.
    model : str
        One of :data:`MODELS`.
    by : str or list of str, optional
        Columns to attribute within, such as ``"segment"``.
    **options
        The model's options: see :func:`segkit.heuristic_attribution.heuristic_credits`
        for the rule-based models; ``order`` and ``collapse_repeats`` for
        ``markov``; ``variant`` (``"simplified"`` or ``"rate"``) and
        ``max_channels`` for ``shapley``; ``max_channels`` for ``shapley_ordered``.
        ``markov``, ``shapley`` and ``shapley_ordered`` also take
        ``direct_channels``: set those channels' steps aside first, except in
        journeys made only of them (:func:`segkit.journeys.drop_direct`, the
        rule ``last_non_direct`` applies), so navigational direct visits
        right before an order do not take the credit. By default they count
        like any channel, as in the ChannelAttribution package.

    Returns
    -------
    pandas DataFrame
        ``*by``, ``channel``, ``conversions``, ``revenue``, sorted by
        (*by, channel): a small collected aggregate, whatever the engine of
        ``journeys``. Credits are fractional and never rounded.

    Raises
    ------
    ValueError
        An unknown model or ``shapley`` variant, or journeys the model cannot use.
    TypeError
        An option the model does not take.

    Example
    -------
    >>> import pandas as pd
    >>> journeys = pd.DataFrame({"journey_id": ["j1", "j1"], "step": [1, 2], "steps": 2,
    ...                          "channel": ["email", "search"], "conversions": 1.0,
    ...                          "revenue": 40.0, "segment": "Champions"})
    >>> attribute(journeys, "linear", by="segment")["revenue"].tolist()
    [20.0, 20.0]
    """
    groups = _as_groups(by)
    if model in DATA_DRIVEN_MODELS and "direct_channels" in options:
        options = dict(options)
        direct = options.pop("direct_channels")
        if direct is not None:
            journeys = drop_direct(journeys, direct)
    if model in HEURISTIC_MODELS:
        credits = heuristic_credits(journeys, model, by=groups, **options)
    elif model == "markov":
        from segkit.markov_attribution import markov_credits

        credits = markov_credits(journeys, by=groups, **options)
    elif model in ("shapley", "shapley_ordered"):
        from segkit.shapley_attribution import shapley_credits

        credits = shapley_credits(journeys, by=groups, **_shapley_options(model, options))
    else:
        raise ValueError(
            f"unknown attribution model {model!r}; expected one of {', '.join(MODELS)}"
        )
    return tidy_credits(credits, groups)


def _as_groups(by: str | Sequence[str] | None) -> tuple[str, ...]:
    if by is None:
        return ()
    groups = (by,) if isinstance(by, str) else tuple(by)
    if "channel" in groups or "model" in groups:
        raise ValueError("by: 'channel' and 'model' are result columns; group by other columns")
    return groups


def _shapley_options(model: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """``shapley``'s variant checked (default simplified); ``shapley_ordered`` fixes its own."""
    options = dict(options)
    if model == "shapley_ordered":
        if "variant" in options:
            raise TypeError("shapley_ordered: takes no variant (it is the 'ordered' variant)")
        return {**options, "variant": "ordered"}
    variant = options.setdefault("variant", "simplified")
    if variant not in SHAPLEY_VARIANTS:
        hint = "; use the model 'shapley_ordered'" if variant == "ordered" else ""
        raise ValueError(
            f"shapley: unknown variant {variant!r}; expected one of "
            f"{', '.join(SHAPLEY_VARIANTS)}{hint}"
        )
    return options


def compare_models_long(
    journeys: Any,
    models: Sequence[str] | None = None,
    by: str | Sequence[str] | None = None,
    **options: Mapping[str, Any],
) -> pd.DataFrame:
    """Several models' credits in one tidy table, one row per (model, *by, channel).

    Parameters
    ----------
    journeys : frame
        Journeys in the long format of :mod:`segkit.journeys`, any supported engine.
    models : sequence of str, optional
        Models from :data:`MODELS`, in the order wanted; by default :data:`DEFAULT_MODELS`
        (which includes ``time_decay``, so journeys need ``days_before_conversion``).
    by : str or list of str, optional
        Columns to attribute within.
    **options : dict
        Options per model, keyed by model name:
        ``time_decay={"half_life_days": 3}, markov={"order": 2}``.

    Returns
    -------
    pandas DataFrame
        ``*by``, ``model``, ``channel``, ``conversions``, ``revenue`` and ``share``
        (the channel's share of the group's conversions under that model; NaN
        in a group without conversions). Ready for
        ``seaborn.barplot(data=..., x="channel", y="share", hue="model")``.

    Example
    -------
    >>> import pandas as pd
    >>> journeys = pd.DataFrame({"journey_id": ["j1", "j1"], "step": [1, 2], "steps": 2,
    ...                          "channel": ["email", "search"], "conversions": 1.0,
    ...                          "revenue": 40.0})
    >>> long = compare_models_long(journeys, ["first_touch", "linear"])
    >>> long["share"].tolist()
    [1.0, 0.0, 0.5, 0.5]
    """
    chosen, per_model = _models_and_options(models, options)
    groups = _as_groups(by)
    frames = []
    asides: dict[tuple[str, ...], Any] = {}  # journeys without some direct channels, shared
    for model in chosen:
        option = per_model.get(model, {})
        direct = option.get("direct_channels") if model in DATA_DRIVEN_MODELS else None
        if direct is None:
            credits = attribute(journeys, model, by=groups, **option)
        else:
            key = (direct,) if isinstance(direct, str) else tuple(direct)
            if key not in asides:
                asides[key] = drop_direct(journeys, key)
            option = {**option, "direct_channels": None}
            credits = attribute(asides[key], model, by=groups, **option)
        credits.insert(len(groups), "model", model)
        frames.append(credits)
    long = pd.concat(frames, ignore_index=True)
    totals = long.groupby(["model", *groups], sort=False, dropna=False)["conversions"]
    long["share"] = long["conversions"] / totals.transform("sum").replace(0.0, np.nan)
    return long


def _models_and_options(
    models: Sequence[str] | None, options: Mapping[str, Any]
) -> tuple[tuple[str, ...], dict[str, dict[str, Any]]]:
    if models is None:
        models = DEFAULT_MODELS
    chosen = tuple(dict.fromkeys([models] if isinstance(models, str) else models))
    unknown = [model for model in chosen if model not in MODELS]
    if unknown or not chosen:
        raise ValueError(
            f"models: unknown {unknown or 'none given'}; expected some of {', '.join(MODELS)}"
        )
    for model, settings in options.items():
        if model not in chosen:
            raise TypeError(
                f"options given for {model!r}, which is not among the models {list(chosen)}"
            )
        if not isinstance(settings, Mapping):
            raise TypeError(
                f"{model}: options must be a dict such as {{'order': 2}}, got {settings!r}"
            )
    return chosen, {model: dict(settings) for model, settings in options.items()}


def compare_models(
    journeys: Any,
    models: Sequence[str] | None = None,
    by: str | Sequence[str] | None = None,
    value: str = "conversions",
    **options: Mapping[str, Any],
) -> pd.DataFrame:
    """Several models side by side: one row per (*by, channel), one column per model.

    Parameters
    ----------
    journeys, models, by, **options
        As for :func:`compare_models_long`.
    value : {"conversions", "revenue", "share"}
        What the model columns hold: credited conversions, credited revenue,
        or the channel's share of its group's conversions.

    Returns
    -------
    pandas DataFrame
        ``*by``, ``channel``, then one column per model in the order of
        ``models``; a channel a model does not list gets 0. For a grouped bar
        chart, melt it or use :func:`compare_models_long`.

    Example
    -------
    >>> import pandas as pd
    >>> journeys = pd.DataFrame({"journey_id": ["j1", "j1"], "step": [1, 2], "steps": 2,
    ...                          "channel": ["email", "search"], "conversions": 1.0,
    ...                          "revenue": 40.0})
    >>> compare_models(journeys, ["first_touch", "linear"]).values.tolist()
    [['email', 1.0, 0.5], ['search', 0.0, 0.5]]
    """
    _check_value(value)
    return side_by_side(compare_models_long(journeys, models, by, **options), value)


def _check_value(value: str) -> None:
    if value not in COMPARE_VALUES:
        raise ValueError(f"value: expected one of {', '.join(COMPARE_VALUES)}, got {value!r}")


def side_by_side(long: pd.DataFrame, value: str = "conversions") -> pd.DataFrame:
    """A :func:`compare_models_long` result with one column per model, as
    :func:`compare_models` gives it, without computing the models again.

    Example
    -------
    >>> import pandas as pd
    >>> long = pd.DataFrame({"model": ["a", "b", "a"], "channel": ["x", "x", "y"],
    ...                      "conversions": [1.0, 2.0, 3.0], "revenue": 0.0, "share": 0.5})
    >>> side_by_side(long).values.tolist()
    [['x', 1.0, 2.0], ['y', 3.0, 0.0]]
    """
    _check_value(value)
    groups = [
        column for column in long.columns if column not in ("model", "channel", *COMPARE_VALUES)
    ]
    chosen = list(dict.fromkeys(long["model"]))
    wide = long.set_index([*groups, "channel", "model"])[value].unstack("model", fill_value=0.0)
    wide = wide.reindex(columns=chosen).reset_index()
    wide.columns.name = None
    return wide


def attribute_paths(
    paths: pd.DataFrame,
    model: str,
    path: str = "path",
    conversions: str = "total_conversions",
    value: str | None = "total_conversion_value",
    nulls: str | None = "total_null",
    sep: str = ">",
    **options: Any,
) -> pd.DataFrame:
    """Attribution on aggregated paths, the input of the ChannelAttribution package.

    ``first_touch``, ``last_touch`` and ``linear`` give the numbers of
    ChannelAttribution's ``heuristic_models``: its linear touch divides a
    path's conversions by the path length counting repeated channels, so
    ``"a > b > a"`` gives ``a`` 2/3 and ``b`` 1/3. Channels of paths without
    conversions are listed with 0, as there. Paths carry no times, so
    ``time_decay`` cannot be used.

    Parameters
    ----------
    paths : pandas DataFrame
        One row per distinct path such as ``"email > search"``.
    model : str
        One of :data:`MODELS`.
    path, conversions, value, nulls, sep
        As for :func:`segkit.journeys.journeys_from_paths` (``value`` and
        ``nulls`` may be ``None`` when the table has no such column).
    **options
        The model's options, as for :func:`attribute`.

    Example
    -------
    >>> import pandas as pd
    >>> paths = pd.DataFrame({"path": ["a > b > a"], "total_conversions": [3]})
    >>> attribute_paths(paths, "linear", value=None, nulls=None)["conversions"].tolist()
    [2.0, 1.0]
    """
    journeys = journeys_from_paths(paths, path, conversions, value, nulls, sep)
    return attribute(journeys, model, **options)


def attribution_truth_check(
    credits: pd.DataFrame, truth_effects: pd.DataFrame, column: str = "incremental_conversions"
) -> pd.DataFrame:
    """How well each model's credit follows the channel effects planted in simulated data.

    Parameters
    ----------
    credits : pandas DataFrame
        ``channel`` and ``conversions`` from :func:`attribute`, or several
        models' from :func:`compare_models_long` (a ``model`` column); ``by``
        groups are summed per channel.
    truth_effects : pandas DataFrame
        ``channel`` and ``column`` (one row per channel), such as
        ``simulate(...).truth.channel_effects``.
    column : str, default "incremental_conversions"
        The true value of each channel. The default, the conversions the
        tracked journeys would lose without the channel, is in the units of
        the credits: a channel's truth grows with both its effect per touch
        and its number of touches. ``"incremental_effect"`` (the effect of
        one touch) ranks channels by strength alone.

    Returns
    -------
    pandas DataFrame
        One row per model (``model`` only when ``credits`` has it):
        ``channels`` compared (the union of both tables; a channel missing
        from one side counts 0 there), ``spearman`` (rank correlation of
        credited conversions with the truth; NaN when either side is
        constant), ``top_channels`` (how many of the truly strongest channels
        the model ranks in the right order before its first mistake) and
        ``share_error`` (½ Σ |credit share − true share|, the total variation
        distance: 0 is a perfect split, 1 credits only channels without
        effect). Negative truths count as 0 in the shares.

    Example
    -------
    >>> import pandas as pd
    >>> credits = pd.DataFrame({"channel": ["email", "search"], "conversions": [1.0, 3.0]})
    >>> truth = pd.DataFrame({"channel": ["email", "search"], "incremental_conversions": [3, 1]})
    >>> attribution_truth_check(credits, truth)[["share_error", "top_channels"]].values.tolist()
    [[0.5, 0.0]]
    """
    _require(credits, ("channel", "conversions"), "credits")
    _require(truth_effects, ("channel", column), "truth_effects")
    if truth_effects["channel"].duplicated().any():
        raise ValueError("truth_effects: expected one row per channel")
    effects = truth_effects.set_index("channel")[column].astype("float64")
    if "model" not in credits:
        return pd.DataFrame([_agreement(credits, effects)])
    rows = [
        {"model": model, **_agreement(part, effects)}
        for model, part in credits.groupby("model", sort=False)
    ]
    return pd.DataFrame(rows)


def _require(table: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    for column in columns:
        if column not in table:
            raise DataContractError(name, column, "a column of that name", f"{list(table)}")


def _agreement(credits: pd.DataFrame, effects: pd.Series) -> dict[str, float]:
    credited = credits.groupby("channel")["conversions"].sum()
    channels = credited.index.union(effects.index)
    credit = credited.reindex(channels, fill_value=0.0).to_numpy(dtype="float64")
    effect = effects.reindex(channels, fill_value=0.0).to_numpy(dtype="float64")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        rho = stats.spearmanr(credit, effect).statistic if len(channels) > 1 else np.nan
    positive = np.clip(effect, 0.0, None)
    if credit.sum() > 0 and positive.sum() > 0:
        error = 0.5 * np.abs(credit / credit.sum() - positive / positive.sum()).sum()
    else:
        error = np.nan
    return {
        "channels": len(channels),
        "spearman": float(rho),
        "top_channels": _ordered_prefix(credit, effect),
        "share_error": float(error),
    }


def _ordered_prefix(credit: np.ndarray, effect: np.ndarray) -> int:
    """How many of the strongest channels by ``effect`` ``credit`` ranks first, in order.

    Channels tied in truth may come in either order; the count stops at the
    first truly strongest channel the credits do not put next.
    """
    truth_order = np.argsort(-effect, kind="stable")
    credit_order = np.argsort(-credit, kind="stable")
    matched = 0
    for position, channel in enumerate(truth_order):
        if effect[channel] <= 0:
            break
        tied = np.flatnonzero(effect == effect[channel])
        if credit_order[position] not in tied or credit[credit_order[position]] <= 0:
            break
        matched += 1
    return matched
