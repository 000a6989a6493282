"""Return on marketing spend and the funnel from impression to conversion, per segment × channel.

:func:`roi` joins attributed conversions and revenue (the tidy output of
:func:`segkit.attribution.attribute` or :func:`segkit.attribution.compare_models_long`)
with the spend table: cost, ROI, ROAS and CPA per segment and channel, the
spend of each channel allocated to segments by their share of its touches.
:func:`roi_totals` sums that back to one row per channel for an executive summary.
:func:`funnel` counts impressions, clicks, visits and journeys per segment × channel.

A ratio whose denominator is zero or unknown is missing (NaN, shown as not
available), never inf. Channels without spend (organic search, direct,
referral) have no cost: it is missing, not zero.

Example
-------
>>> import pandas as pd
>>> credits = pd.DataFrame({"channel": ["email", "direct"], "conversions": [4.0, 6.0],
...                         "revenue": [200.0, 300.0]})
>>> spend = pd.DataFrame({"channel": ["email"], "cost": [100.0]})
>>> roi(credits, spend, by=None)[["channel", "roi", "cpa"]].values.tolist()
[['direct', nan, nan], ['email', 1.0, 25.0]]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import narwhals as nw
import pandas as pd

from segkit.errors import DataContractError
from segkit.frames import as_lazy, collect_small, count_true, require_columns, same_engine
from segkit.journeys import UNSEGMENTED

#: The by-group that keeps the spend of a channel no segment was seen touched by.
UNALLOCATED = "Unallocated"
#: A missing campaign, as web analytics tools show it.
NOT_SET = "(not set)"
#: What :func:`funnel` counts of each interaction type (``opens`` are part of ``impressions``).
FUNNEL_INTERACTIONS: dict[str, tuple[str, ...]] = {
    "impressions": ("impression", "email_open"),
    "opens": ("email_open",),
    "clicks": ("click",),
    "visits": ("visit",),
}
#: Names :func:`roi`'s ``by`` may not use: they are its keys and its results.
ROI_COLUMNS = ("channel", "campaign", "model", "cost", "spend_share", "conversions", "revenue")
_EXAMPLE_ROWS = 3
_JOURNEY_COLUMNS = ("journeys", "converting_journeys", "conversion_rate")


def roi(
    attribution: Any,
    spend: Any,
    by: str | Sequence[str] | None = "segment",
    touches: Any = None,
    model: str | None = None,
    campaign: bool = False,
) -> pd.DataFrame:
    """Cost, attributed conversions and revenue, ROI, ROAS and CPA per (*by, channel).

    Allocation rule: a channel's spend (over the whole ``spend`` table, so
    filter it to the period first) is split between the ``by`` groups in
    proportion to their touches of that channel, ``cost[group, channel] =
    spend[channel] × touches[group, channel] / Σ_groups touches[group, channel]``.
    A group that never touched the channel gets 0. A spend channel nobody was
    seen touched by keeps its whole cost in a row whose ``by`` columns read
    ``"Unallocated"``, so the ``cost`` column always adds up to the spend.
    With ``campaign=True`` the same happens per (channel, campaign).

    Parameters
    ----------
    attribution : frame
        Credits per channel: ``*by``, ``channel``, ``conversions``, ``revenue``
        (``campaign`` too when ``campaign=True``), such as the output of
        :func:`segkit.attribution.attribute` or the long table of
        :func:`segkit.attribution.compare_models_long`. Other grouping columns
        are summed over. A small table of any supported engine.
    spend : frame
        The canonical spend table (``channel``, ``cost``; ``campaign`` when
        ``campaign=True``), any supported engine; summed per channel in it.
    by : str or sequence of str or None, default "segment"
        The groups to split spend between; ``None`` or ``()`` gives one row per channel.
    touches : frame, optional
        Required when ``by`` is given: ``*by``, ``channel`` (``campaign`` when
        ``campaign=True``) and ``touches``, such as
        :func:`segkit.reach.channel_reach`'s output; rows repeating a key are summed.
    model : str, optional
        The model whose credits to use when ``attribution`` has a ``model``
        column; may be left out when that column holds a single model.
    campaign : bool, default False
        One row per (*by, channel, campaign) instead of per (*by, channel).

    Returns
    -------
    pandas DataFrame
        One row per (*by, channel[, campaign]) of the credits, of the
        allocation and of the unallocated spend, sorted by those columns (the
        ``"Unallocated"`` rows last):

        - ``cost``: spend allocated to the row; NaN for a channel absent from ``spend``.
        - ``spend_share``: the share of the channel's spend the row got (its
          share of the channel's touches; 1 for ``"Unallocated"`` and for every
          channel when ``by`` is None); it adds up to 1 per spend channel, NaN otherwise.
        - ``conversions``, ``revenue``: attributed (0 when nothing was credited).
        - ``roi`` = (revenue − cost) / cost and ``roas`` = revenue / cost:
          NaN when cost is 0 or missing.
        - ``cpa`` = cost / conversions: NaN without conversions or cost.

    Raises
    ------
    DataContractError
        A required column is missing, a spend row has no channel or a
        negative or missing cost, touches are negative, or ``model`` is
        given for credits without a ``model`` column.
    ValueError
        ``attribution`` holds several models and ``model`` is not one of
        them, ``by`` is given without ``touches``, or ``by`` names a result column.

    Example
    -------
    >>> credits = pd.DataFrame({"segment": ["A", "B"], "channel": "email",
    ...                         "conversions": [3.0, 1.0], "revenue": [90.0, 10.0]})
    >>> reach = pd.DataFrame({"segment": ["A", "B"], "channel": "email", "touches": [3, 1]})
    >>> spend = pd.DataFrame({"channel": ["email"], "cost": [40.0]})
    >>> roi(credits, spend, touches=reach)[["segment", "cost", "roas"]].values.tolist()
    [['A', 30.0, 3.0], ['B', 10.0, 1.0]]
    """
    groups = _roi_groups(by)
    keys = ["channel", "campaign"] if campaign else ["channel"]
    credits = _credits(attribution, groups, keys, model)
    costs = _spend_totals(spend, keys)
    if groups:
        if touches is None:
            raise ValueError(
                f"roi by {list(groups)} needs touches to split spend between groups; "
                "pass e.g. touches=sk.channel_reach(touchpoints, segments), or by=None"
            )
        allocated = _allocated(costs, _touch_totals(touches, groups, keys), groups, keys)
    else:
        allocated = costs.assign(spend_share=1.0)
    rows = [*groups, *keys]
    table = credits.merge(allocated, on=rows, how="outer")
    paid = table.set_index(keys).index.isin(costs.set_index(keys).index)
    for column in ("cost", "spend_share"):
        table[column] = table[column].fillna(0.0).where(paid)
    table[["conversions", "revenue"]] = table[["conversions", "revenue"]].fillna(0.0)
    table = _sorted(table, groups, keys)
    return _with_ratios(table[[*rows, "cost", "spend_share", "conversions", "revenue"]])


def roi_totals(table: pd.DataFrame) -> pd.DataFrame:
    """One row per channel (and campaign) of a :func:`roi` table, ratios from the sums.

    ``cost``, ``conversions`` and ``revenue`` are summed over the groups
    (``"Unallocated"`` included, so the cost is the channel's spend); ``roi``,
    ``roas`` and ``cpa`` are recomputed from those sums, never averaged.

    Parameters
    ----------
    table : pandas DataFrame
        The output of :func:`roi`.

    Returns
    -------
    pandas DataFrame
        ``channel``, [``campaign``], ``cost`` (NaN for channels without
        spend), ``conversions``, ``revenue``, ``roi``, ``roas``, ``cpa``, sorted by channel.

    Example
    -------
    >>> table = pd.DataFrame({"segment": ["A", "B"], "channel": "email", "cost": [30.0, 10.0],
    ...                       "conversions": [3.0, 1.0], "revenue": [90.0, 10.0]})
    >>> roi_totals(table)[["channel", "roas", "cpa"]].values.tolist()
    [['email', 2.5, 10.0]]
    """
    keys = ["channel", "campaign"] if "campaign" in table else ["channel"]
    _require(table, [*keys, "cost", "conversions", "revenue"], "roi")
    grouped = table.groupby(keys, sort=True)
    sums = grouped[["conversions", "revenue"]].sum()
    sums.insert(0, "cost", grouped["cost"].sum(min_count=1))
    return _with_ratios(sums.reset_index())


def funnel(
    touchpoints: Any,
    journeys: Any = None,
    spend: Any = None,
    segments: Any = None,
    by: str | Sequence[str] = ("segment", "channel"),
) -> pd.DataFrame:
    """Impressions, clicks, visits, CTR and journey conversion per segment × channel.

    Touchpoints are counted by ``interaction``: an opened email is the email
    channel's impression, so ``email_open`` counts in ``impressions`` and,
    separately, in ``opens``; other interaction types count only in
    ``touches``. A journey counts once for every channel it contains. The
    counting runs in the engine of the inputs; only the counts are collected.

    Parameters
    ----------
    touchpoints : frame
        Canonical touchpoints: ``customer_id``, ``channel``, ``interaction``
        and the ``by`` columns not taken from ``segments``. Any supported engine.
    journeys : frame, optional
        Journeys in the format of :mod:`segkit.journeys` (``journey_id``,
        ``customer_id``, ``channel``, ``conversions``, possibly already
        labelled with a ``segment``); a path table's rows count one journey each.
    spend : frame, optional
        The canonical spend table (``channel``, ``impressions``, ``clicks``).
    segments : frame, optional
        One row per customer: ``customer_id`` and the ``by`` columns the
        other tables lack, the same kind of frame. Customers without one are
        counted under ``"Unsegmented"``, like :func:`segkit.reach.channel_reach`.
    by : str or sequence of str, default ("segment", "channel")
        The rows of the result; must include ``"channel"`` (add ``"campaign"``
        for campaigns). A missing campaign reads ``"(not set)"``.

    Returns
    -------
    pandas DataFrame
        One row per ``by`` value seen in the touchpoints (or the journeys), sorted:
        ``touches`` (all interactions), ``impressions``, ``opens``, ``clicks``,
        ``visits``, ``ctr`` = clicks / impressions (NaN without impressions);
        with ``journeys``: ``journeys`` containing the channel,
        ``converting_journeys`` (conversions > 0) and ``conversion_rate`` =
        converting_journeys / journeys; with ``spend``: ``spend_ctr``, the
        channel's clicks / impressions in the spend table (NaN for a channel
        without spend or impressions; a spend channel without touchpoints has
        no row, see :func:`segkit.delivery.delivery`).

    Raises
    ------
    DataContractError
        A required column is missing (a ``by`` column from both the table and
        ``segments``), a row has no channel, or ``segments`` repeats a customer.
    ValueError
        ``by`` does not include ``"channel"``.

    Example
    -------
    >>> touches = pd.DataFrame({"customer_id": ["a", "a", "b"], "channel": "display",
    ...                         "interaction": ["impression", "click", "impression"]})
    >>> segments = pd.DataFrame({"customer_id": ["a"], "segment": ["VIP"]})
    >>> funnel(touches, segments=segments)[["segment", "impressions", "ctr"]].values.tolist()
    [['Unsegmented', 1, 0.0], ['VIP', 1, 1.0]]
    """
    keys = list(_as_groups(by))
    if "channel" not in keys:
        raise ValueError(f"by must include 'channel', got {keys}")
    touched = _labelled(touchpoints, "touchpoints", segments, keys)
    require_columns(touched, ["interaction"], "touchpoints")
    table = _interaction_counts(touched, keys)
    if journeys is not None:
        paths = _labelled(journeys, "journeys", segments, keys)
        table = table.merge(_journey_counts(paths, keys), on=keys, how="outer")
    counts = [column for column in table if column not in keys]
    table[counts] = table[counts].fillna(0).astype("int64")
    table["ctr"] = _ratio(table["clicks"], table["impressions"])
    if journeys is not None:
        table["conversion_rate"] = _ratio(table["converting_journeys"], table["journeys"])
    if spend is not None:
        table = table.merge(_spend_ctr(spend), on="channel", how="left")
    order = ["touches", *FUNNEL_INTERACTIONS, "ctr", *_JOURNEY_COLUMNS, "spend_ctr"]
    return table.sort_values(keys, ignore_index=True)[[*keys, *(c for c in order if c in table)]]


def _as_groups(by: str | Sequence[str] | None) -> tuple[str, ...]:
    if by is None:
        return ()
    groups = (by,) if isinstance(by, str) else tuple(by)
    if len(set(groups)) != len(groups):
        raise ValueError(f"by repeats a column: {list(groups)}")
    return groups


def _roi_groups(by: str | Sequence[str] | None) -> tuple[str, ...]:
    groups = _as_groups(by)
    taken = [name for name in groups if name in ROI_COLUMNS]
    if taken:
        raise ValueError(f"by: {taken} are result columns of roi; group by other columns")
    return groups


def _require(table: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    for column in columns:
        if column not in table:
            raise DataContractError(name, column, "a column of that name", f"columns {list(table)}")


def _small(native: Any, table: str) -> pd.DataFrame:
    """A small aggregate table (credits, touch counts) of any engine, as pandas."""
    lazy, _ = as_lazy(native, table)
    return collect_small(lazy)


def _not_set(frame: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    return frame.fillna({"campaign": NOT_SET}) if "campaign" in keys else frame


def _credits(
    attribution: Any, groups: Sequence[str], keys: Sequence[str], model: str | None
) -> pd.DataFrame:
    """Conversions and revenue per (*groups, *keys) of one model."""
    credits = _small(attribution, "attribution")
    if "model" in credits:
        credits = credits[credits["model"] == _chosen_model(credits["model"], model)]
    elif model is not None:
        raise DataContractError(
            "attribution", "model", f"a model column to pick {model!r} from", "none"
        )
    rows = [*groups, *keys]
    _require(credits, [*rows, "conversions", "revenue"], "attribution")
    credits = _not_set(credits, keys)
    return credits.groupby(rows, as_index=False, sort=True, dropna=False)[
        ["conversions", "revenue"]
    ].sum()


def _chosen_model(models: pd.Series, model: str | None) -> str:
    available = sorted(models.dropna().unique())
    if model is None and len(available) == 1:
        return available[0]
    if model is None or model not in available:
        given = "no model given" if model is None else f"model {model!r} is not among them"
        raise ValueError(
            f"attribution holds the models {available}; {given}: pass model= one of them"
        )
    return model


def _spend_totals(spend: Any, keys: Sequence[str]) -> pd.DataFrame:
    """Cost per (*keys) from the spend table, checked and summed in its engine."""
    lazy, _ = as_lazy(spend, "spend")
    require_columns(lazy, [*keys, "cost"], "spend")
    cost = nw.col("cost").cast(nw.Float64)
    _check_rows(lazy, "channel", nw.col("channel").is_null(), "a channel on every row")
    _check_rows(lazy, "cost", cost.is_null() | cost.is_nan(), "a cost on every row (required)")
    _check_rows(lazy, "cost", cost < 0, "cost >= 0 (rule: minimum)")
    totals = collect_small(lazy.with_columns(cost=cost).group_by(*keys).agg(nw.col("cost").sum()))
    totals = _not_set(totals, keys)
    return totals.groupby(list(keys), as_index=False, sort=True)["cost"].sum()


def _check_rows(lazy: nw.LazyFrame, column: str, bad: nw.Expr, rule: str) -> None:
    """A :class:`DataContractError` naming the spend rows that break ``rule``, with examples."""
    flagged = lazy.filter(bad)
    count = int(collect_small(flagged.select(rows=nw.len()))["rows"].iloc[0])
    if count:
        examples = collect_small(flagged.head(_EXAMPLE_ROWS))
        raise DataContractError("spend", column, rule, _rows_such_as(count, examples))


def _rows_such_as(count: int, examples: pd.DataFrame) -> str:
    """``"2 rows such as: channel=email, cost=-5.0; ..."``: a count and a few offending rows."""
    shown = "; ".join(
        ", ".join(f"{name}={value}" for name, value in row.items())
        for row in examples.head(_EXAMPLE_ROWS).to_dict("records")
    )
    return f"{count} rows such as: {shown}"


def _touch_totals(touches: Any, groups: Sequence[str], keys: Sequence[str]) -> pd.DataFrame:
    table = _small(touches, "touches")
    rows = [*groups, *keys]
    _require(table, [*rows, "touches"], "touches")
    negative = table["touches"] < 0
    if negative.any():
        found = _rows_such_as(int(negative.sum()), table.loc[negative, [*rows, "touches"]])
        raise DataContractError("touches", "touches", "counts >= 0", found)
    table = _not_set(table, keys)
    return table.groupby(rows, as_index=False, sort=True, dropna=False)["touches"].sum()


def _allocated(
    costs: pd.DataFrame, counts: pd.DataFrame, groups: Sequence[str], keys: Sequence[str]
) -> pd.DataFrame:
    """Each channel's cost split by the groups' touch shares; untouched channels unallocated."""
    counts = counts.merge(costs[list(keys)], on=list(keys), how="inner")
    channel_touches = counts.groupby(list(keys))["touches"].transform("sum")
    shared = counts[channel_touches > 0].assign(
        spend_share=lambda t: t["touches"] / channel_touches[channel_touches > 0]
    )
    shared = shared.merge(costs, on=list(keys)).assign(cost=lambda t: t["cost"] * t["spend_share"])
    seen = shared.set_index(list(keys)).index
    unseen = costs[~costs.set_index(list(keys)).index.isin(seen)]
    unallocated = unseen.assign(**dict.fromkeys(groups, UNALLOCATED), spend_share=1.0)
    columns = [*groups, *keys, "cost", "spend_share"]
    parts = [part[columns] for part in (shared, unallocated) if len(part)]
    if not parts:
        return pd.DataFrame(columns=columns).astype({"cost": "float64", "spend_share": "float64"})
    return pd.concat(parts, ignore_index=True)


def _sorted(table: pd.DataFrame, groups: Sequence[str], keys: Sequence[str]) -> pd.DataFrame:
    """Sorted by groups and keys, the unallocated spend last (its label may not compare with
    the groups', such as cluster numbers)."""
    spare = (table[list(groups)] == UNALLOCATED).all(axis=1) if groups else table.index < 0
    parts = [table[~spare].sort_values([*groups, *keys]), table[spare].sort_values(list(keys))]
    return pd.concat(parts, ignore_index=True)


def _ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """``numerator / denominator``, NaN where the denominator is 0 or missing."""
    denominator = denominator.astype("float64")
    return (numerator.astype("float64") / denominator.where(denominator > 0)).astype("float64")


def _with_ratios(table: pd.DataFrame) -> pd.DataFrame:
    return table.assign(
        roi=_ratio(table["revenue"] - table["cost"], table["cost"]),
        roas=_ratio(table["revenue"], table["cost"]),
        cpa=_ratio(table["cost"], table["conversions"]),
    )


def _labelled(native: Any, table: str, segments: Any, keys: Sequence[str]) -> nw.LazyFrame:
    """``native`` with the ``keys`` columns it lacks joined from ``segments`` by customer."""
    lazy, _ = as_lazy(native, table)
    require_columns(lazy, ["channel"], table)
    present = lazy.collect_schema().names()
    missing = [key for key in keys if key not in present]
    if missing and segments is not None:
        labels = same_engine(lazy, segments, "segments", table)
        given = [name for name in missing if name in labels.collect_schema().names()]
        if given:
            require_columns(lazy, ["customer_id"], table)
            lazy = _joined(lazy, labels, given)
        missing = [key for key in missing if key not in given]
    if missing:
        raise DataContractError(
            table,
            missing[0],
            "a column of that name, or segments= giving it per customer_id",
            f"columns {present}",
        )
    counted = lazy.select(rows=count_true(nw.col("channel").is_null()))
    nulls = int(collect_small(counted)["rows"].iloc[0])
    if nulls:
        raise DataContractError(table, "channel", "a channel on every row", f"{nulls} without")
    if "campaign" in keys:
        lazy = lazy.with_columns(nw.col("campaign").cast(nw.String).fill_null(NOT_SET))
    return lazy


def _joined(lazy: nw.LazyFrame, labels: nw.LazyFrame, names: Sequence[str]) -> nw.LazyFrame:
    """A left join on ``customer_id``; string labels of unlabelled customers read Unsegmented."""
    require_columns(labels, ["customer_id"], "segments")
    labels = labels.select("customer_id", *names).filter(~nw.col("customer_id").is_null())
    counts = collect_small(labels.select(rows=nw.len(), ids=nw.col("customer_id").n_unique()))
    repeats = int(counts["rows"].iloc[0] - counts["ids"].iloc[0])
    if repeats:
        raise DataContractError(
            "segments", "customer_id", "one row per customer", f"{repeats} repeats"
        )
    key = lazy.collect_schema()["customer_id"]
    if labels.collect_schema()["customer_id"] != key:
        labels = labels.with_columns(nw.col("customer_id").cast(key))
    schema = labels.collect_schema()
    texts = [n for n in names if schema[n] in (nw.String, nw.Categorical, nw.Enum)]
    return lazy.join(labels, on="customer_id", how="left").with_columns(
        nw.col(name).cast(nw.String).fill_null(UNSEGMENTED) for name in texts
    )


def _interaction_counts(lazy: nw.LazyFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Touches per ``keys`` value, and those of each interaction type of the funnel."""
    kind = nw.col("interaction")
    flags = {
        name: nw.when(kind.is_in(list(kinds))).then(1).otherwise(0)
        for name, kinds in FUNNEL_INTERACTIONS.items()
    }
    flagged = lazy.select(*keys, **flags)
    return collect_small(
        flagged.group_by(*keys).agg(nw.len().alias("touches"), nw.col(*flags).sum())
    )


def _journey_counts(lazy: nw.LazyFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Journeys containing each ``keys`` value, and how many of them converted."""
    require_columns(lazy, ["journey_id", "conversions"], "journeys")
    per_journey = lazy.group_by(*keys, "journey_id").agg(nw.col("conversions").max())
    converted = nw.when(nw.col("conversions") > 0).then(1).otherwise(0)
    flagged = per_journey.select(*keys, converting_journeys=converted)
    return collect_small(
        flagged.group_by(*keys).agg(nw.len().alias("journeys"), nw.col("converting_journeys").sum())
    )


def _spend_ctr(spend: Any) -> pd.DataFrame:
    lazy, _ = as_lazy(spend, "spend")
    require_columns(lazy, ["channel", "impressions", "clicks"], "spend")
    delivered = lazy.select("channel", nw.col("impressions", "clicks").cast(nw.Float64))
    totals = collect_small(delivered.group_by("channel").agg(nw.col("impressions", "clicks").sum()))
    ctr = _ratio(totals["clicks"], totals["impressions"])
    return pd.DataFrame({"channel": totals["channel"], "spend_ctr": ctr})
