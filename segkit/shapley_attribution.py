"""Shapley-value attribution of conversions to channels, exact from coalition counts.

Channels are the players of a cooperative game; a journey's *coalition* is the set of
distinct channels it touched (repeats count once, order is ignored except in the
``ordered`` variant). The heavy work runs in the caller's engine: every journey becomes
an integer bitmask of its channels, and only the coalition table
``[*by, bitmask, conversions, nulls, revenue]`` (at most one row per channel set and
group) is collected; the Shapley values are computed from it with numpy. Nothing is
sampled. Notation: ``R(T)``, ``U(T)`` and ``M(T)`` are the conversions, non-conversions
(``nulls``) and revenue of the journeys whose channel set is exactly ``T``; ``N`` is
the set of the group's channels and ``n = |N|``.

``simplified`` (Zhao, Mahboobi & Bagheri 2018, "Shapley Value Methods for Attribution
Modeling in Online Advertising", arXiv:1804.05327, the simplified Shapley value)
    The worth of a coalition is the conversions it could have produced on its own,
    ``v(S) = sum over T subset of S of R(T)``. The Shapley value
    ``phi_i = sum over S in N minus {i} of |S|! (n-|S|-1)! / n! * (v(S + {i}) - v(S))``
    then reduces exactly to ``phi_i = sum over T containing i of R(T) / |T|``: each
    channel set's conversions are shared equally by its channels. No enumeration of
    subsets is needed, so any number of channels works. Revenue the same way with ``M``.

``rate``
    The worth is the conversion rate of the journeys that used only channels of ``S``,
    Zhao et al.'s subset definition applied to rates:
    ``v(S) = C(S) / (C(S) + D(S))`` with ``C(S) = sum over T subset of S of R(T)`` and
    ``D(S)`` the same sum of ``U(T)``; ``v(S) = 0`` when no journey used only channels
    of ``S`` (including ``v({}) = 0``). The full Shapley formula is evaluated over all
    ``2**n`` subsets, so ``n`` is limited by ``max_channels``. The values sum to
    ``v(N)``, the overall rate; they are rescaled to sum to the group's conversions.
    Revenue uses the revenue per journey, ``sum of M(T) / (C(S) + D(S))``, rescaled to
    the group's revenue. A rate can fall when a channel joins (channels seen mostly in
    non-converting journeys), so a Shapley value can be negative. The contract is
    non-negative credits that sum to the total, so negative values are set to 0 and the
    positive ones rescaled to the total (clip and renormalise); a ``UserWarning`` names
    the clipped channels and their raw values, so this is never silent.

``ordered`` (Zhao et al.'s ordered Shapley value, touch position matters)
    The simplified share ``R(T) / |T|`` of channel ``i`` is assigned to the touch
    points where ``i`` occurs. The credit of channel ``i`` at position (``step``) ``k``
    is ``phi_i^k = sum over T containing i of r_i^k(T) / |T|``, with ``r_i^k(T)`` the
    conversions of the journeys with channel set ``T`` whose ``k``-th touch is ``i``.
    A channel touched ``m`` times in a journey has its share split equally over those
    ``m`` touches, so that ``sum over k of phi_i^k = phi_i`` (the simplified value)
    and efficiency holds (counting each touch fully would credit repeats twice).
    :func:`shapley_ordered_positions` gives the per-position credits;
    ``shapley_credits(..., variant="ordered")`` sums them per channel.

Every variant is efficient (credits sum to the group's conversions and revenue), gives
equal credit to interchangeable channels and 0 to a channel in no converting journey.

Example
-------
>>> import pandas as pd
>>> from segkit.journeys import journeys_from_paths
>>> paths = pd.DataFrame({"path": ["A", "A > B"], "total_conversions": [2, 2],
...                       "total_conversion_value": [20.0, 10.0], "total_null": [0, 0]})
>>> shapley_credits(journeys_from_paths(paths))
  channel  conversions  revenue
0       A          3.0     25.0
1       B          1.0      5.0
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from math import comb
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd

from segkit.errors import DataContractError
from segkit.frames import as_lazy, collect_small, require_columns

VARIANTS = ("simplified", "rate", "ordered")
#: Channels per int64 bitmask word: 62 keeps every sum of distinct powers of two positive.
BITS_PER_WORD = 62
TABLE = "journeys"
#: The journey values credited to channels.
CREDITED = ("conversions", "revenue")


def shapley_credits(
    journeys: Any,
    by: str | Sequence[str] = (),
    variant: str = "simplified",
    max_channels: int = 20,
) -> pd.DataFrame:
    """Conversions and revenue credited to each channel by Shapley values, per group.

    Parameters
    ----------
    journeys : pandas, Polars, DuckDB or PySpark frame
        Journeys in the long format of :mod:`segkit.journeys` (``journey_id``,
        ``channel``, ``conversions``, ``revenue``; ``nulls`` for ``rate``, ``step``
        for ``ordered``).
    by : str or sequence of str
        Columns to attribute within (e.g. ``"segment"``); constant within a journey.
    variant : {"simplified", "rate", "ordered"}
        The characteristic function; see the module docstring for each formula.
    max_channels : int
        Largest number of channels per group for ``rate``, which enumerates ``2**n``
        coalitions (20 channels: about a million).

    Returns
    -------
    pandas DataFrame
        ``[*by, channel, conversions, revenue]`` sorted by ``*by, channel``: one row per
        channel seen in the group; credits are non-negative and sum to the group's totals.

    Example
    -------
    >>> import pandas as pd
    >>> from segkit.journeys import journeys_from_paths
    >>> paths = pd.DataFrame({"path": ["A", "B > A"], "total_conversions": [3, 2]})
    >>> shapley_credits(journeys_from_paths(paths, value=None, nulls=None))["conversions"].tolist()
    [4.0, 1.0]
    """
    by = _as_tuple(by)
    _check_arguments(variant, max_channels)
    if variant == "ordered":
        positions = shapley_ordered_positions(journeys, by)
        keys = [*by, "channel"]
        credits = positions.groupby(keys, dropna=False, sort=False)[["conversions", "revenue"]]
        return _sorted(credits.sum().reset_index(), by)
    values = ["conversions", "nulls", "revenue"] if variant == "rate" else list(CREDITED)
    lazy, _ = as_lazy(journeys, TABLE)
    require_columns(lazy, ["journey_id", "channel", *values, *by], TABLE)
    table, channels = _coalitions(lazy, by, values)
    clipped: list[str] = []
    rows = [
        _group_credits(group, key, by, channels, variant, max_channels, clipped)
        for key, group in _groups(table, by)
    ]
    for note in clipped:
        warnings.warn(note, UserWarning, stacklevel=2)
    if not rows:
        return pd.DataFrame(columns=[*by, "channel", "conversions", "revenue"])
    return _sorted(pd.concat(rows, ignore_index=True), by)


def shapley_ordered_positions(journeys: Any, by: str | Sequence[str] = ()) -> pd.DataFrame:
    """Zhao et al.'s ordered Shapley values: credit per channel and touch position.

    ``phi_i^k = sum over channel sets T containing i of r_i^k(T) / |T|``, where
    ``r_i^k(T)`` is the conversions of journeys with set ``T`` whose touch ``k`` is
    channel ``i``, each divided by the number of touches of ``i`` in that journey. Summed
    over ``k`` it is the simplified Shapley value. Computed in the caller's engine.

    Parameters
    ----------
    journeys : pandas, Polars, DuckDB or PySpark frame
        Journeys in the long format of :mod:`segkit.journeys` (``journey_id``, ``step``,
        ``channel``, ``conversions``, ``revenue``).
    by : str or sequence of str
        Columns to attribute within; constant within a journey.

    Returns
    -------
    pandas DataFrame
        ``[*by, channel, step, conversions, revenue]`` sorted by ``*by, channel, step``.

    Example
    -------
    >>> import pandas as pd
    >>> from segkit.journeys import journeys_from_paths
    >>> paths = pd.DataFrame({"path": ["A > B > A"], "total_conversions": [4]})
    >>> journeys = journeys_from_paths(paths, value=None, nulls=None)
    >>> shapley_ordered_positions(journeys)[["channel", "step", "conversions"]].values.tolist()
    [['A', 1, 1.0], ['A', 3, 1.0], ['B', 2, 2.0]]
    """
    by = _as_tuple(by)
    lazy, _ = as_lazy(journeys, TABLE)
    require_columns(lazy, ["journey_id", "step", "channel", "conversions", "revenue", *by], TABLE)
    _channel_list(lazy)
    pairs = lazy.group_by(*by, "journey_id", "channel").agg(
        nw.len().alias("_touches"), nw.col("conversions").max(), nw.col("revenue").max()
    )
    sizes = pairs.group_by("journey_id").agg(nw.len().alias("_size"))
    share = 1.0 / (nw.col("_touches") * nw.col("_size"))
    weights = pairs.join(sizes, on="journey_id", how="inner").select(
        *by,
        "journey_id",
        "channel",
        conversions=nw.col("conversions") * share,
        revenue=nw.col("revenue") * share,
    )
    steps = lazy.select("journey_id", "channel", "step")
    credited = steps.join(weights, on=["journey_id", "channel"], how="inner")
    positions = credited.group_by(*by, "channel", "step").agg(
        nw.col("conversions").sum(), nw.col("revenue").sum()
    )
    result = collect_small(positions)
    return _sorted(result[[*by, "channel", "step", "conversions", "revenue"]], by, "step")


def _as_tuple(by: str | Sequence[str]) -> tuple[str, ...]:
    return (by,) if isinstance(by, str) else tuple(by)


def _check_arguments(variant: str, max_channels: int) -> None:
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}; got {variant!r}")
    if isinstance(max_channels, bool) or not isinstance(max_channels, int) or max_channels < 1:
        raise ValueError(f"max_channels must be a positive integer, got {max_channels!r}")


def _sorted(frame: pd.DataFrame, by: tuple[str, ...], *extra: str) -> pd.DataFrame:
    frame = frame.sort_values([*by, "channel", *extra], kind="stable", na_position="last")
    frame = frame.astype({"conversions": "float64", "revenue": "float64"})
    return frame.reset_index(drop=True)


def _channel_list(lazy: nw.LazyFrame) -> list[str]:
    """The distinct channels, sorted; a missing channel is a contract error."""
    names = collect_small(lazy.select("channel").unique())["channel"]
    if names.isna().any():
        raise DataContractError(TABLE, "channel", "a channel name on every step", "missing names")
    return sorted(names.astype("str").tolist())


def _coalitions(
    lazy: nw.LazyFrame, by: tuple[str, ...], values: list[str]
) -> tuple[pd.DataFrame, list[str]]:
    """The collected coalition table ``[*by, _word0.., *values]`` and the channel names.

    Channel ``c`` (its index in the sorted names) is bit ``c % 62`` of the int64 word
    ``_word{c // 62}``; a journey's words hold the bits of its distinct channels, so they
    are a set key of any size. Per journey each value is its ``max`` (it repeats on every
    step); the table sums the journeys of each (group, set).
    """
    channels = _channel_list(lazy)
    if not channels:
        return pd.DataFrame(columns=[*by, *values]), channels
    journey = [*by, "journey_id"]
    steps = lazy.select(*journey, "channel", *values)
    if len(channels) <= BITS_PER_WORD:
        keyed = _one_word_keys(steps, journey, channels, values)
    else:
        keyed = _many_word_keys(steps, journey, channels, values)
    words = [column for column in keyed.collect_schema().names() if column.startswith("_word")]
    table = keyed.group_by(*by, *words).agg(*(nw.col(value).sum() for value in values))
    return collect_small(table), channels


def _one_word_keys(
    steps: nw.LazyFrame, journey: list[str], channels: list[str], values: list[str]
) -> nw.LazyFrame:
    """One row per journey with ``_word0``: a 0/1 flag per channel, its max per journey.

    One group-by on the journey (the fastest way in every engine, 2-3x faster than
    de-duplicating (journey, channel) pairs first).
    """
    flags = {
        f"_has{i}": (nw.col("channel") == name).cast(nw.Int8()) for i, name in enumerate(channels)
    }
    per_journey = (
        steps.with_columns(**flags)
        .group_by(*journey)
        .agg(*(nw.col(flag).max() for flag in flags), *(nw.col(value).max() for value in values))
    )
    word = nw.sum_horizontal(
        *(nw.col(flag).cast(nw.Int64()) * (1 << bit) for bit, flag in enumerate(flags))
    )
    return per_journey.select(*journey, *values, _word0=word)


def _many_word_keys(
    steps: nw.LazyFrame, journey: list[str], channels: list[str], values: list[str]
) -> nw.LazyFrame:
    """One row per journey with ``_word0, _word1, ...``: the distinct (journey, channel)
    pairs first, then the sum of their bits (a flag column per channel would not scale)."""
    words = {
        f"_word{w}": nw.col("channel").replace_strict(
            names, [1 << bit for bit in range(len(names))], default=0, return_dtype=nw.Int64()
        )
        for w, names in enumerate(_chunks(channels, BITS_PER_WORD))
    }
    per_journey = [nw.col(value).max() for value in values]
    pairs = steps.group_by(*journey, "channel").agg(*per_journey).with_columns(**words)
    return (
        pairs.group_by(*journey)
        .agg(*(nw.col(word).sum() for word in words), *per_journey)
        .with_columns(*(nw.col(word).cast(nw.Int64()) for word in words))
    )


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def _groups(table: pd.DataFrame, by: tuple[str, ...]) -> Iterable[tuple[tuple, pd.DataFrame]]:
    if not by:
        return [((), table)] if len(table) else []
    return table.groupby(list(by), dropna=False, sort=False)


def _membership(table: pd.DataFrame, n_channels: int) -> np.ndarray:
    """Boolean (coalitions x channels) matrix decoded from the bitmask words."""
    words = table[[c for c in table if c.startswith("_word")]].to_numpy(dtype=np.int64)
    bits = (words[:, :, None] >> np.arange(BITS_PER_WORD, dtype=np.int64)) & 1
    return bits.reshape(len(words), -1)[:, :n_channels].astype(bool)


def _group_credits(
    group: pd.DataFrame,
    key: tuple,
    by: tuple[str, ...],
    channels: list[str],
    variant: str,
    max_channels: int,
    clipped: list[str],
) -> pd.DataFrame:
    members = _membership(group, len(channels))
    present = members.any(axis=0)
    members = members[:, present]
    names = [name for name, seen in zip(channels, present, strict=True) if seen]
    label = ", ".join(f"{column}={value!r}" for column, value in zip(by, key, strict=True))
    if variant == "simplified":
        credits = {
            value: _simplified(members, group[value]) for value in ("conversions", "revenue")
        }
    else:
        credits = _rate(members, group, names, max_channels, label, clipped)
    frame = pd.DataFrame({"channel": names, **credits})
    for position, (column, value) in enumerate(zip(by, key, strict=True)):
        frame.insert(position, column, value)
    return frame


def _simplified(members: np.ndarray, value: pd.Series) -> np.ndarray:
    """``phi_i = sum over sets T containing i of value(T) / |T|``."""
    per_member = value.to_numpy(dtype="float64") / members.sum(axis=1)
    return per_member @ members


def _rate(
    members: np.ndarray,
    group: pd.DataFrame,
    names: list[str],
    max_channels: int,
    label: str,
    clipped: list[str],
) -> dict[str, np.ndarray]:
    """Exact Shapley values of the conversion-rate game, scaled to the group's totals.

    A note for each clipped negative value is appended to ``clipped``.
    """
    n = members.shape[1]
    if n > max_channels:
        where = f" in group {label}" if label else ""
        raise ValueError(
            f"variant='rate' enumerates 2**n channel subsets: {n} channels{where} is more "
            f"than max_channels={max_channels}; raise max_channels (2**{n} subsets) "
            "or use variant='simplified'"
        )
    index = members.astype(np.int64) @ (np.int64(1) << np.arange(n, dtype=np.int64))

    def subset_sums(value: pd.Series | np.ndarray) -> np.ndarray:
        exact = np.bincount(index, weights=np.asarray(value, dtype="float64"), minlength=1 << n)
        return _sum_over_subsets(exact, n)

    conversions = subset_sums(group["conversions"])
    trials = subset_sums(group["conversions"] + group["nulls"])
    revenue = subset_sums(group["revenue"])
    credits = {}
    for column, worth in (("conversions", conversions), ("revenue", revenue)):
        rate = np.divide(worth, trials, out=np.zeros_like(worth), where=trials > 0)
        raw = _shapley(rate, n)
        note = _negative_note(raw, names, column, label)
        if note:
            clipped.append(note)
        credits[column] = _scale(raw, float(group[column].sum()))
    return credits


def _sum_over_subsets(exact: np.ndarray, n: int) -> np.ndarray:
    """``out[S] = sum over T subset of S of exact[T]`` (zeta transform, O(n 2**n))."""
    out = exact.copy()
    for bit in range(n):
        halves = out.reshape(-1, 2, 1 << bit)
        halves[:, 1, :] += halves[:, 0, :]
    return out


def _shapley(worth: np.ndarray, n: int) -> np.ndarray:
    """Exact Shapley values of the game ``worth[S]`` (``S`` a bitmask over ``n`` players).

    ``phi_i = sum over S without i of |S|! (n-|S|-1)! / n! * (worth[S + i] - worth[S])``;
    the weight is ``1 / (n * C(n-1, |S|))``.
    """
    sizes = np.bitwise_count(np.arange(1 << n, dtype=np.int64))
    weight = np.array([1.0 / (n * comb(n - 1, size)) for size in range(n)] + [0.0])[sizes]
    values = np.empty(n)
    for i in range(n):
        halves = worth.reshape(-1, 2, 1 << i)
        weights = weight.reshape(-1, 2, 1 << i)[:, 0, :]
        values[i] = np.sum(weights * (halves[:, 1, :] - halves[:, 0, :]))
    return values


def _negative_note(raw: np.ndarray, names: list[str], column: str, label: str) -> str | None:
    """Why ``raw`` will be clipped, or None when no value is negative beyond rounding."""
    negative = raw < -1e-12 * max(1.0, float(np.abs(raw).max()))
    if not negative.any():
        return None
    shown = ", ".join(
        f"{name}={value:.4g}"
        for name, value, below in zip(names, raw, negative, strict=True)
        if below
    )
    where = f" in group {label}" if label else ""
    return (
        f"rate Shapley values for {column}{where} are negative for {shown}: those channels "
        "lower the rate of the coalitions they join; their credit is set to 0 and the others' "
        "rescaled to the total"
    )


def _scale(raw: np.ndarray, total: float) -> np.ndarray:
    """``raw`` clipped at 0 and rescaled to sum to ``total`` (zeros when nothing is positive)."""
    positive = np.clip(raw, 0.0, None)
    if total == 0 or positive.sum() <= 0:
        return np.zeros_like(raw)
    return positive / positive.sum() * total
