"""RFM scoring: recency, frequency and monetary scores and the classic named segments.

Every customer of a customer view who has ordered gets three scores from 1 to
``bins``: ``r_score`` from ``recency_days`` (the most recent score highest),
``f_score`` from ``orders`` and ``m_score`` from ``revenue`` (the most and the
biggest score highest). ``rfm_score`` writes the three as digits ("545") and
``rfm_segment`` names the customer from a rule table. Prospects (no orders, or
no recency) get no scores and the segment "Prospect".

Cut points are learned from quantiles of the customers with orders (or given
explicitly); a value equal to a cut point falls in the lower interval, so equal
values always share a score. When ties leave fewer than ``bins`` intervals (in
transactions-only data most customers buy once), the intervals' scores are
spread evenly over 1..``bins``: three intervals score 1, 3 and 5, so one-time
buyers still score below repeat buyers and the best interval still scores
``bins``. With a single interval (all customers alike) everyone gets the middle
score (rounded down for an even ``bins``).

A missing (null or NaN) ``orders`` or ``recency_days`` makes a prospect; a
customer with orders but a missing ``revenue`` is an error
(:class:`~segkit.errors.DataContractError` with the count and a few ids), never
a silent score. Fitting needs at least one customer with orders; transforming an
empty view gives an empty frame with the score columns.

Segment rules are written on the classic 1-5 scale whatever ``bins`` is: each
score is rescaled to 1-5 (``1 + 4 * (score - 1) / (bins - 1)``), ``fm`` is the
mean of the rescaled F and M, and ``r``, ``f``, ``m`` and ``fm`` are rounded half
up to whole numbers. A rule gives inclusive ``[low, high]`` ranges for any of
``r``, ``f``, ``m`` and ``fm``; a missing range matches everything. The default
:data:`RFM_SEGMENTS` is the common R x FM grid::

    r \\ fm  1               2                   3                   4          5
    5       New             Potential Loyalist  Potential Loyalist  Champions  Champions
    4       Promising       Potential Loyalist  Potential Loyalist  Loyal      Loyal
    3       About to Sleep  About to Sleep      Need Attention      Loyal      Loyal
    2       Hibernating     Hibernating         At Risk             At Risk    Can't Lose Them
    1       Lost            Lost                At Risk             At Risk    Can't Lose Them

With ``bins=3`` the rescaled r is 1, 3 or 5, so Promising and Hibernating
never occur.

Example
-------
>>> import pandas as pd
>>> view = pd.DataFrame({"customer_id": ["a", "b", "c"], "recency_days": [5.0, 90.0, None],
...                      "orders": [6, 1, 0], "revenue": [600.0, 20.0, 0.0]})
>>> rfm(view, bins=3)["rfm_segment"].tolist()
['Champions', 'Lost', 'Prospect']
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from fractions import Fraction
from itertools import product
from typing import Any

import narwhals as nw
import pandas as pd

from segkit.engines import persist
from segkit.errors import DataContractError, ParameterError
from segkit.frames import as_lazy, collect_small, quantiles_of, require_columns

TABLE = "customer view"
#: The view's column behind each metric.
METRICS: dict[str, str] = {"recency": "recency_days", "frequency": "orders", "monetary": "revenue"}
#: The score column each metric adds.
SCORES: dict[str, str] = {"recency": "r_score", "frequency": "f_score", "monetary": "m_score"}
METHODS = ("quantile", "thresholds")
MIN_BINS, MAX_BINS = 2, 9
PROSPECT = "Prospect"
RULE_SCALE = 5
RANGE_KEYS = ("r", "f", "m", "fm")
#: Cut points are rounded to this many significant digits so every engine agrees.
CUT_DIGITS = 10

#: The default rule table: the common R x average(F, M) grid on the 1-5 scale.
RFM_SEGMENTS: list[dict[str, Any]] = [
    {"segment": "Champions", "r": [5, 5], "fm": [4, 5]},
    {"segment": "Loyal", "r": [3, 4], "fm": [4, 5]},
    {"segment": "Potential Loyalist", "r": [4, 5], "fm": [2, 3]},
    {"segment": "New", "r": [5, 5], "fm": [1, 1]},
    {"segment": "Promising", "r": [4, 4], "fm": [1, 1]},
    {"segment": "Need Attention", "r": [3, 3], "fm": [3, 3]},
    {"segment": "About to Sleep", "r": [3, 3], "fm": [1, 2]},
    {"segment": "At Risk", "r": [1, 2], "fm": [3, 4]},
    {"segment": "Can't Lose Them", "r": [1, 2], "fm": [5, 5]},
    {"segment": "Hibernating", "r": [2, 2], "fm": [1, 2]},
    {"segment": "Lost", "r": [1, 1], "fm": [1, 2]},
]


class RFM:
    """RFM scores and segments, fitted like a scikit-learn estimator.

    Parameters
    ----------
    bins : int
        Number of score classes per metric, 2 to 9 (scores are single digits).
    method : {"quantile", "thresholds"}
        Learn cut points from quantiles of the fitted view, or take ``thresholds``.
    thresholds : dict, optional
        With ``method="thresholds"``: ``bins - 1`` increasing cut points for each of
        "recency", "frequency" and "monetary"; a value equal to a cut point falls in
        the lower interval (for recency the lowest interval scores highest).
    segments : list of dict or pandas.DataFrame, optional
        Rule table (see the module docstring); defaults to :data:`RFM_SEGMENTS`.

    Attributes
    ----------
    cut_points_ : pandas.DataFrame
        metric, score, lower, upper: a value v scores ``score`` when lower < v <= upper.
    segment_table_ : pandas.DataFrame
        Every score combination and its segment (:func:`rfm_segment_table`).

    Examples
    --------
    >>> import pandas as pd
    >>> view = pd.DataFrame({"customer_id": ["a", "b"], "recency_days": [10.0, 200.0],
    ...                      "orders": [5, 1], "revenue": [300.0, 40.0]})
    >>> cuts = {"recency": [30, 180], "frequency": [1, 3], "monetary": [50, 200]}
    >>> model = RFM(bins=3, method="thresholds", thresholds=cuts).fit(view)
    >>> model.transform(view)["rfm_score"].tolist()
    ['333', '111']
    """

    def __init__(
        self,
        bins: int = 5,
        method: str = "quantile",
        thresholds: Mapping[str, Sequence[float]] | None = None,
        segments: Sequence[Mapping[str, Any]] | pd.DataFrame | None = None,
    ):
        self.bins = bins
        self.method = method
        self.thresholds = thresholds
        self.segments = segments

    def __repr__(self) -> str:
        given = {"thresholds": self.thresholds, "segments": self.segments}
        extra = "".join(f", {name}=..." for name, value in given.items() if value is not None)
        return f"RFM(bins={self.bins!r}, method={self.method!r}{extra})"

    def fit(self, view: Any) -> RFM:
        """Learn the cut points from ``view`` (customers with orders only); returns self."""
        _check_parameters(self.bins, self.method, self.thresholds)
        segment_table = rfm_segment_table(self.segments, self.bins)
        lazy, _ = as_lazy(view, TABLE)
        require_columns(lazy, METRICS.values(), TABLE)
        schema = dict(lazy.collect_schema())
        buyers = _check_values(lazy, schema)
        if self.method == "thresholds":
            cuts = _threshold_cuts(self.thresholds, self.bins)
        elif buyers == 0:
            raise DataContractError(
                TABLE, None, "at least one customer with orders to learn RFM cut points from"
            )
        else:
            cuts = _quantile_cuts(lazy.filter(~_is_prospect(schema)), self.bins)
        self.cut_points_ = _cut_point_table(cuts, self.bins)
        self.segment_table_ = segment_table
        return self

    def transform(self, view: Any) -> Any:
        """``view`` (same kind of frame) plus r/f/m scores, ``rfm_score`` and ``rfm_segment``."""
        return self._scored(view, check=True)

    def fit_transform(self, view: Any) -> Any:
        """``fit(view).transform(view)``, checking the values once rather than twice.

        Fitting reads the view twice (the checks, the quantiles) and scoring once more; a
        lazy view (a customer view from Polars, DuckDB or Spark orders) is therefore
        computed once and kept by its engine (:func:`segkit.engines.persist`) instead of
        being rebuilt from the orders three times.
        """
        view = persist(view)
        return self.fit(view)._scored(view, check=False)

    def _scored(self, view: Any, check: bool) -> Any:
        if not hasattr(self, "cut_points_"):
            raise RuntimeError("this RFM is not fitted yet: call fit(view) first")
        lazy, back = as_lazy(view, TABLE)
        require_columns(lazy, METRICS.values(), TABLE)
        schema = dict(lazy.collect_schema())
        if check:
            _check_values(lazy, schema)
        # whether a row is a buyer and every score once as columns, then the labels from
        # those: a SQL engine would otherwise evaluate them again for every label rule
        temporary = {metric: f"__rfm_{metric}" for metric in (*METRICS, "buyer")}
        scored = lazy.with_columns(
            **{temporary[m]: _score_expr(self.cut_points_, m) for m in METRICS},
            **{temporary["buyer"]: ~_is_prospect(schema)},
        )
        raw = {metric: nw.col(name) for metric, name in temporary.items()}
        buyer = raw.pop("buyer")
        # one digit per score (bins <= 9), so the key's digits are the RFM score
        key = raw["recency"] * 100 + raw["frequency"] * 10 + raw["monetary"]
        result = scored.with_columns(
            **{SCORES[metric]: nw.when(buyer).then(expr) for metric, expr in raw.items()},
            rfm_score=nw.when(buyer).then(key.cast(nw.String)),
            rfm_segment=_segment_expr(self.segment_table_, key, buyer),
        ).drop(*temporary.values())
        if "customer_id" in schema:
            result = result.sort("customer_id")
        return _nullable_ints(back(result), list(SCORES.values()))


def rfm(
    view: Any,
    bins: int = 5,
    method: str = "quantile",
    thresholds: Mapping[str, Sequence[float]] | None = None,
    segments: Sequence[Mapping[str, Any]] | pd.DataFrame | None = None,
) -> Any:
    """Score a customer view: ``RFM(bins, method, thresholds, segments).fit(view).transform(view)``.

    Parameters are those of :class:`RFM`; returns ``view``'s kind of frame with
    ``r_score``, ``f_score``, ``m_score`` (null for prospects), ``rfm_score`` and
    ``rfm_segment`` ("Prospect" for customers without orders), sorted by customer_id.

    Example
    -------
    >>> import pandas as pd
    >>> view = pd.DataFrame({"customer_id": ["a", "b"], "recency_days": [3.0, 300.0],
    ...                      "orders": [8, 1], "revenue": [900.0, 15.0]})
    >>> rfm(view)["rfm_segment"].tolist()
    ['Champions', 'Lost']
    """
    return RFM(bins, method, thresholds, segments).fit_transform(view)


def rfm_segment_table(
    segments: Sequence[Mapping[str, Any]] | pd.DataFrame | None = None, bins: int = 5
) -> pd.DataFrame:
    """Every score combination for ``bins`` and the segment the rule table gives it.

    Columns: r_score, f_score, m_score, rfm_score, the rescaled r, f, m, fm (1-5)
    the rules compare, and rfm_segment. Raises :class:`ParameterError` listing
    example combinations when the rules leave one without a segment or give it several.

    Example
    -------
    >>> table = rfm_segment_table(bins=3)
    >>> table.loc[table["rfm_score"] == "333", "rfm_segment"].item()
    'Champions'
    """
    _check_bins(bins)
    rules = _segment_rules(RFM_SEGMENTS if segments is None else segments)
    rows = [_combination(r, f, m, bins) for r, f, m in product(range(1, bins + 1), repeat=3)]
    matches = [sorted({name for name, ranges in rules if _matches(ranges, row)}) for row in rows]
    _check_one_name_each(rows, matches, bins)
    return pd.DataFrame(rows).assign(rfm_segment=[names[0] for names in matches])


def _check_bins(bins: Any) -> None:
    if isinstance(bins, bool) or not isinstance(bins, int) or not MIN_BINS <= bins <= MAX_BINS:
        raise ParameterError(
            f"bins must be a whole number from {MIN_BINS} to {MAX_BINS}, got {bins!r}"
        )


def _check_parameters(bins: Any, method: Any, thresholds: Any) -> None:
    _check_bins(bins)
    if method not in METHODS:
        raise ParameterError(f"method must be one of {list(METHODS)}, got {method!r}")
    if method == "thresholds" and thresholds is None:
        raise ParameterError('method="thresholds" needs thresholds={"recency": [...], ...}')
    if method == "quantile" and thresholds is not None:
        raise ParameterError('thresholds are only used with method="thresholds"')


def _missing(column: str, schema: Mapping[str, Any]) -> nw.Expr:
    """Null, or NaN in a float column (pandas treats NaN as null; make every engine agree)."""
    expr = nw.col(column).is_null()
    return expr | nw.col(column).is_nan() if schema[column].is_float() else expr


def _is_prospect(schema: Mapping[str, Any]) -> nw.Expr:
    no_orders = _missing("orders", schema) | (nw.col("orders") == 0)
    return no_orders | _missing("recency_days", schema)


def _check_values(lazy: nw.LazyFrame, schema: Mapping[str, Any]) -> int:
    """Numeric metric columns and a revenue for every customer with orders; returns their count."""
    for column in METRICS.values():
        if not schema[column].is_numeric():
            raise DataContractError(TABLE, column, "a numeric column", str(schema[column]))
    buyer = ~_is_prospect(schema)
    no_revenue = buyer & _missing("revenue", schema)
    counts = collect_small(
        lazy.select(buyers=buyer.cast(nw.Int64).sum(), bad=no_revenue.cast(nw.Int64).sum())
    ).iloc[0]
    if counts["bad"] > 0:
        examples = ""
        if "customer_id" in schema:
            first = lazy.filter(no_revenue).select("customer_id").sort("customer_id").head(3)
            examples = (
                f", e.g. customer_id {', '.join(map(str, collect_small(first)['customer_id']))}"
            )
        raise DataContractError(
            TABLE,
            "revenue",
            "a revenue for every customer with orders",
            f"{int(counts['bad'])} missing (null or NaN){examples}",
        )
    return int(counts["buyers"])


def _quantile_cuts(buyers: nw.LazyFrame, bins: int) -> dict[str, list[float]]:
    """Quantile cut points per metric, in one query, de-duplicated; cuts at the maximum
    would leave the top class empty."""
    probabilities = [i / bins for i in range(1, bins)] + [1.0]
    found = quantiles_of(buyers, list(METRICS.values()), probabilities)
    cuts = {}
    for metric, column in METRICS.items():
        *inner, maximum = (float(f"{q:.{CUT_DIGITS}g}") for q in found[column])
        cuts[metric] = sorted({cut for cut in inner if cut < maximum})
    return cuts


def _threshold_cuts(thresholds: Any, bins: int) -> dict[str, list[float]]:
    if not isinstance(thresholds, Mapping) or set(thresholds) != set(METRICS):
        found = sorted(thresholds) if isinstance(thresholds, Mapping) else type(thresholds).__name__
        raise ParameterError(f"thresholds must give cut points for {list(METRICS)}, got {found}")
    cuts = {}
    for metric in METRICS:
        values = thresholds[metric]
        numbers = isinstance(values, Sequence) and all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            for v in values
        )
        if not numbers or len(values) != bins - 1:
            raise ParameterError(
                f"thresholds['{metric}'] must be {bins - 1} numbers for bins={bins}, got {values!r}"
            )
        if any(low >= high for low, high in zip(values, values[1:], strict=False)):
            raise ParameterError(
                f"thresholds['{metric}'] must be strictly increasing, got {values!r}"
            )
        cuts[metric] = [float(v) for v in values]
    return cuts


def _spread(classes: int, bins: int) -> list[int]:
    """Scores of ``classes`` intervals spread evenly over 1..bins (rounded half up)."""
    if classes == 1:
        return [(bins + 1) // 2]
    return [1 + int(Fraction((bins - 1) * i, classes - 1) + Fraction(1, 2)) for i in range(classes)]


def _cut_point_table(cuts: Mapping[str, list[float]], bins: int) -> pd.DataFrame:
    rows = []
    for metric, metric_cuts in cuts.items():
        scores = _spread(len(metric_cuts) + 1, bins)
        if metric == "recency":
            scores.reverse()
        bounds = [-math.inf, *metric_cuts, math.inf]
        rows += [
            {"metric": metric, "score": score, "lower": lower, "upper": upper}
            for score, lower, upper in zip(scores, bounds[:-1], bounds[1:], strict=True)
        ]
    return pd.DataFrame(rows)


def _score_expr(cut_points: pd.DataFrame, metric: str) -> nw.Expr:
    """The score of every row by comparison with the cut points (Int64, never null)."""
    column = nw.col(METRICS[metric])
    *bounded, last = cut_points[cut_points["metric"] == metric].itertuples()
    if not bounded:
        return nw.lit(int(last.score)).cast(nw.Int64)
    expr = nw.when(column <= bounded[0].upper).then(nw.lit(int(bounded[0].score)))
    for row in bounded[1:]:
        expr = expr.when(column <= row.upper).then(nw.lit(int(row.score)))
    return expr.otherwise(nw.lit(int(last.score))).cast(nw.Int64)


def _segment_expr(segment_table: pd.DataFrame, key: nw.Expr, buyer: nw.Expr) -> nw.Expr:
    """The segment of every row: its r*100 + f*10 + m key looked up in the table."""
    keys = segment_table["r_score"] * 100 + segment_table["f_score"] * 10 + segment_table["m_score"]
    by_name = keys.groupby(segment_table["rfm_segment"], sort=False).apply(list)
    expr = nw.when(~buyer).then(nw.lit(PROSPECT))
    for name, name_keys in list(by_name.items())[:-1]:
        expr = expr.when(key.is_in([int(k) for k in name_keys])).then(nw.lit(name))
    return expr.otherwise(nw.lit(by_name.index[-1]))


def _nullable_ints(result: Any, columns: list[str]) -> Any:
    """pandas keeps integer scores with missing values only in its nullable Int64 dtype."""
    if isinstance(result, pd.DataFrame):
        return result.astype(dict.fromkeys(columns, "Int64"))
    return result


def _segment_rules(segments: Any) -> list[tuple[str, dict[str, tuple[float, float]]]]:
    if isinstance(segments, pd.DataFrame):
        segments = segments.to_dict("records")
    if isinstance(segments, str | Mapping) or not isinstance(segments, Sequence) or not segments:
        raise ParameterError(
            "segments must be a non-empty list of rules such as "
            f'{{"segment": "Champions", "r": [5, 5], "fm": [4, 5]}}, got {segments!r}'
        )
    return [_segment_rule(rule, i) for i, rule in enumerate(segments)]


def _segment_rule(rule: Any, index: int) -> tuple[str, dict[str, tuple[float, float]]]:
    where = f"segments[{index}]"
    if not isinstance(rule, Mapping) or not isinstance(rule.get("segment"), str):
        raise ParameterError(f"{where} must be a mapping with a 'segment' name, got {rule!r}")
    unknown = sorted(set(rule) - {"segment", *RANGE_KEYS})
    if unknown:
        raise ParameterError(
            f"{where} ({rule['segment']}): unknown keys {unknown}; use {RANGE_KEYS}"
        )
    ranges = {}
    for key in RANGE_KEYS:
        value = rule.get(key)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        pair = [value, value] if not isinstance(value, Sequence | str) else value
        if not _is_range(pair):
            raise ParameterError(
                f"{where} ({rule['segment']}): {key} must be [low, high] with low <= high "
                f"on the 1-5 scale, got {value!r}"
            )
        ranges[key] = (pair[0], pair[1])
    return rule["segment"], ranges


def _is_range(pair: Any) -> bool:
    if isinstance(pair, str) or not isinstance(pair, Sequence) or len(pair) != 2:
        return False
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in pair)
    return numbers and pair[0] <= pair[1]


def _on_rule_scale(score: int, bins: int) -> Fraction:
    return 1 + Fraction((RULE_SCALE - 1) * (score - 1), bins - 1)


def _half_up(value: Fraction) -> int:
    return int(value + Fraction(1, 2))


def _combination(r: int, f: int, m: int, bins: int) -> dict[str, Any]:
    f_scaled, m_scaled = _on_rule_scale(f, bins), _on_rule_scale(m, bins)
    return {
        "r_score": r,
        "f_score": f,
        "m_score": m,
        "rfm_score": f"{r}{f}{m}",
        "r": _half_up(_on_rule_scale(r, bins)),
        "f": _half_up(f_scaled),
        "m": _half_up(m_scaled),
        "fm": _half_up((f_scaled + m_scaled) / 2),
    }


def _matches(ranges: Mapping[str, tuple[float, float]], row: Mapping[str, Any]) -> bool:
    return all(low <= row[key] <= high for key, (low, high) in ranges.items())


def _check_one_name_each(rows: list[dict[str, Any]], matches: list[list[str]], bins: int) -> None:
    def examples(found: list[tuple[dict[str, Any], list[str]]]) -> str:
        shown = [
            f"{row['rfm_score']} (r={row['r']}, f={row['f']}, m={row['m']}, fm={row['fm']})"
            + (f": {', '.join(names)}" if names else "")
            for row, names in found[:3]
        ]
        return "; ".join(shown)

    gaps = [(row, names) for row, names in zip(rows, matches, strict=True) if not names]
    overlaps = [(row, names) for row, names in zip(rows, matches, strict=True) if len(names) > 1]
    problems = []
    if gaps:
        problems.append(f"{len(gaps)} match no segment, e.g. {examples(gaps)}")
    if overlaps:
        problems.append(f"{len(overlaps)} match several segments, e.g. {examples(overlaps)}")
    if problems:
        raise ParameterError(
            f"RFM segment rules must give every score combination (bins={bins}) exactly one "
            f"segment, but of {len(rows)} combinations " + " and ".join(problems)
        )
