"""A/B tests: conversion and revenue of each variant against control, overall or per segment.

A customer assigned to a variant at ``assigned_ts`` *converts* when they place
at least one order in the window ``[assigned_ts, assigned_ts + window_days)``:
the assignment time itself counts, orders before it do not, nor do orders at or
after the end of the window. Every assigned customer counts in the denominator
whether they ordered or not (intention to treat), so a test that only assigns
consenting customers measures the rates *among consenting customers*.

Per (experiment, segment, variant) the conversions, customers and the mean and
spread of window revenue are computed in the caller's engine; only that small
table is collected. The statistics, one row per variant against control:

=====================  ==================================================================
conversion p-value     pooled two-proportion z-test (``proportions_ztest``), the same as
                       a chi-square test of the 2×2 table without continuity correction
absolute lift CI       Newcombe's hybrid score interval (``confint_proportions_2indep``,
                       ``method="newcomb"``), sound for small counts
relative lift CI       the log (Katz) interval of the rate ratio, minus 1
revenue difference     Welch's t-test and its Welch–Satterthwaite interval on revenue
                       per assigned customer (zero for those who did not order)
``p_adjusted``         the conversion p-values corrected for multiple comparisons over
                       every row of the result (all experiments, segments and variants);
                       ``revenue_p_adjusted`` likewise for the revenue p-values
=====================  ==================================================================

Confidence intervals have level ``1 - alpha`` and are not adjusted for multiplicity.

Example
-------
>>> import pandas as pd
>>> assigned = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "experiment": "banner",
...     "variant": ["control", "control", "treatment", "treatment"],
...     "assigned_ts": pd.Timestamp("2024-03-01")})
>>> orders = pd.DataFrame({"order_id": ["o1", "o2"], "customer_id": ["c", "a"],
...     "order_ts": pd.to_datetime(["2024-03-05", "2024-02-20"]), "revenue": [40.0, 10.0]})
>>> rates = ["conversion_rate_control", "conversion_rate_treatment", "absolute_lift"]
>>> ab_test(assigned, orders, by=None)[rates].values.tolist()
[[0.0, 0.5, 0.5]]
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import narwhals as nw
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from segkit.errors import DataContractError, ParameterError
from segkit.frames import (
    as_lazy,
    collect_small,
    count_true,
    require_columns,
    same_engine,
    timestamp_column,
)
from segkit.journeys import UNSEGMENTED

_ASSIGNMENT_COLUMNS = ("customer_id", "experiment", "variant", "assigned_ts")
_ORDER_COLUMNS = ("customer_id", "order_ts", "revenue")
#: Names ``correction`` accepts, and the ``multipletests`` method each stands for.
CORRECTIONS: dict[str, str | None] = {
    "holm": "holm",
    "bonferroni": "bonferroni",
    "bh": "fdr_bh",
    "fdr_bh": "fdr_bh",
    "none": None,
}
#: The power at which ``minimum_detectable_lift`` is computed.
POWER = 0.8
#: Below this expected count of conversions (or non-conversions) the z-test is unreliable.
_SMALLEST_EXPECTED_COUNT = 5
_EXAMPLE_ROWS = 3
#: The columns of :func:`ab_test` after ``experiment`` and the ``by`` columns.
RESULT_COLUMNS: tuple[str, ...] = (
    "variant",
    "n_control",
    "n_treatment",
    "conversions_control",
    "conversions_treatment",
    "conversion_rate_control",
    "conversion_rate_treatment",
    "absolute_lift",
    "absolute_lift_ci_low",
    "absolute_lift_ci_high",
    "relative_lift",
    "relative_lift_ci_low",
    "relative_lift_ci_high",
    "p_value",
    "p_adjusted",
    "significant",
    "minimum_detectable_lift",
    "revenue_per_customer_control",
    "revenue_per_customer_treatment",
    "revenue_difference",
    "revenue_difference_ci_low",
    "revenue_difference_ci_high",
    "revenue_p_value",
    "revenue_p_adjusted",
    "warning",
)


def ab_test(
    experiments: Any,
    orders: Any,
    by: str | Sequence[str] | None = "segment",
    segments: Any = None,
    window_days: float = 30,
    control: str = "control",
    alpha: float = 0.05,
    correction: str | None = "holm",
    min_per_variant: int = 100,
) -> pd.DataFrame:
    """Compare each variant of each experiment with its control, overall or per segment.

    Parameters
    ----------
    experiments : frame
        The canonical ``experiments`` table (``customer_id``, ``experiment``,
        ``variant``, ``assigned_ts``), any supported engine; at most one row per
        customer and experiment, no missing values.
    orders : frame
        Orders (``customer_id``, ``order_ts``, ``revenue``), the same kind of frame.
    by : str, sequence of str or None, default "segment"
        Columns to test within, taken from ``segments`` (or from ``experiments``
        when ``segments`` is None). ``None`` tests each experiment overall.
    segments : frame, optional
        One row per customer: ``customer_id`` and the ``by`` columns (e.g.
        segments.parquet), the same kind of frame. Assigned customers missing
        from it, or with a missing text label, are counted in ``"Unsegmented"``.
        Ignored when ``by`` is None.
    window_days : float, default 30
        Length of the conversion window after assignment, in days.
    control : str, default "control"
        The variant every other variant is compared with; each experiment needs it.
    alpha : float, default 0.05
        Significance level after correction, and ``1 - alpha`` is the level of the intervals.
    correction : {"holm", "bonferroni", "bh", "fdr_bh", "none"} or None, default "holm"
        Multiple-comparison correction over all rows (``multipletests``): Holm
        controls the family-wise error rate; "bh" (Benjamini–Hochberg) the false
        discovery rate; None or "none" leaves ``p_adjusted`` equal to ``p_value``.
    min_per_variant : int, default 100
        Fewer customers than this in a variant puts a warning on the row.

    Returns
    -------
    pandas.DataFrame
        One row per (experiment, ``by`` values, variant other than control),
        sorted in that order: ``experiment``, the ``by`` columns, then
        :data:`RESULT_COLUMNS`. ``absolute_lift`` is the treatment rate minus the
        control rate, ``relative_lift`` the treatment rate over the control rate
        minus 1; revenue is per assigned customer. ``minimum_detectable_lift`` is
        the absolute lift over the control rate that a two-sided test at
        ``alpha`` detects with 80% power at these sample sizes (statsmodels
        ``NormalIndPower`` on Cohen's h; NaN when no rise is detectable).
        ``warning`` is "" or "; "-joined notes: a variant with no or fewer than
        ``min_per_variant`` customers, an expected count below 5, no variation,
        an observed lift smaller than the minimum detectable lift. Statistics
        that are undefined (an empty variant, no conversions at all) are NaN and
        never significant.

    Raises
    ------
    DataContractError
        If a column is missing or has missing values, a customer is assigned
        twice to one experiment (with example rows), an experiment has only one
        variant or no ``control`` (listing its variants), or ``segments``
        repeats a customer.
    ParameterError
        If a parameter is out of range or a ``by`` column cannot be found.

    Example
    -------
    >>> import pandas as pd
    >>> assigned = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "experiment": "banner",
    ...     "variant": ["control", "treatment"] * 2, "assigned_ts": pd.Timestamp("2024-03-01")})
    >>> orders = pd.DataFrame({"customer_id": ["b"], "order_ts": pd.Timestamp("2024-03-02"),
    ...                        "revenue": [25.0]})
    >>> segments = pd.DataFrame({"customer_id": ["a", "b"], "segment": ["VIP", "VIP"]})
    >>> ab_test(assigned, orders, segments=segments)[["segment", "absolute_lift"]].values.tolist()
    [['Unsegmented', 0.0], ['VIP', 1.0]]
    """
    keys = _by_columns(by)
    window = _positive_number(window_days, "window_days")
    method = _correction_method(correction)
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0 < alpha < 1:
        raise ParameterError(f"alpha must be a number between 0 and 1, got {alpha!r}")
    if isinstance(min_per_variant, bool) or not isinstance(min_per_variant, numbers.Integral):
        raise ParameterError(f"min_per_variant must be an integer, got {min_per_variant!r}")
    if min_per_variant < 0:
        raise ParameterError(f"min_per_variant must not be negative, got {min_per_variant}")

    assigned = _assignments(experiments, keys if segments is None else [])
    variants = _variants(assigned, control)
    if keys and segments is not None:
        assigned = _with_segments(assigned, segments, keys)
    per_customer = _window_outcomes(assigned, orders, window)
    groups = ["experiment", *keys, "variant"]
    arms = collect_small(
        per_customer.group_by(*groups).agg(
            nw.len().alias("customers"),
            nw.col("converted").sum().alias("conversions"),
            nw.col("window_revenue").mean().alias("revenue_mean"),
            nw.col("window_revenue").std(ddof=1).alias("revenue_sd"),
        )
    )
    rows = _comparisons(arms, variants, keys, control, float(alpha), int(min_per_variant))
    result = pd.DataFrame(rows, columns=["experiment", *keys, *RESULT_COLUMNS])
    result["p_adjusted"] = _adjusted(result["p_value"], method)
    result["revenue_p_adjusted"] = _adjusted(result["revenue_p_value"], method)
    result["significant"] = (result["p_adjusted"] < alpha).astype(bool)
    result = result.astype(
        {
            **{c: "int64" for c in RESULT_COLUMNS if c.startswith(("n_", "conversions_"))},
            "experiment": "str",
            "variant": "str",
            "warning": "str",
        }
    )
    return result.sort_values(["experiment", *keys, "variant"], kind="stable").reset_index(
        drop=True
    )


#: The columns :func:`ab_brief` keeps, under the short names it gives them.
BRIEF_COLUMNS: dict[str, str] = {
    "experiment": "experiment",
    "segment": "segment",
    "n_control": "n control",
    "n_treatment": "n treatment",
    "conversion_rate_control": "rate control",
    "conversion_rate_treatment": "rate treatment",
    "absolute_lift": "lift",
    "absolute_lift_ci_low": "lift low",
    "absolute_lift_ci_high": "lift high",
    "p_adjusted": "p adjusted",
    "significant": "significant",
}


def ab_brief(results: pd.DataFrame) -> pd.DataFrame:
    """:func:`ab_test`'s key columns under short names, for a report a manager reads.

    ``note`` is the first warning without its details (e.g. "fewer than 100
    customers in a variant"); the full warnings stay in ``results``. A
    ``segment`` column (or other ``by`` column) is kept only when present.

    Example
    -------
    >>> results = pd.DataFrame({"experiment": ["banner"], "absolute_lift": [0.05],
    ...     "warning": ["underpowered: the observed lift (+5.0 pp) is small; other"]})
    >>> ab_brief(results).values.tolist()
    [['banner', 0.05, 'underpowered']]
    """
    if "warning" not in results:
        raise DataContractError("A/B results", "warning", "ab_test's columns", f"{list(results)}")
    columns = {name: label for name, label in BRIEF_COLUMNS.items() if name in results}
    first = results["warning"].fillna("").str.split(";").str[0]
    note = first.str.split(r" \(|:", regex=True).str[0].str.strip()
    return results[list(columns)].rename(columns=columns).assign(note=note)


def _by_columns(by: Any) -> list[str]:
    keys = [] if by is None else [by] if isinstance(by, str) else list(by)
    if not all(isinstance(key, str) for key in keys):
        raise ParameterError(f"by must be a column name, a list of them or None, got {by!r}")
    clashes = sorted(set(keys) & {*_ASSIGNMENT_COLUMNS, "converted", "window_revenue"})
    if clashes:
        raise ParameterError(f"by cannot use the column(s) {clashes}: ab_test computes with them")
    if len(set(keys)) != len(keys):
        raise ParameterError(f"by names a column twice: {keys}")
    return keys


def _positive_number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ParameterError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ParameterError(f"{name} must be positive, got {value!r}")
    return float(value)


def _correction_method(correction: Any) -> str | None:
    key = "none" if correction is None else correction
    if not isinstance(key, str) or key.lower() not in CORRECTIONS:
        raise ParameterError(
            f"correction must be one of {sorted(CORRECTIONS)} or None, got {correction!r}"
        )
    return CORRECTIONS[key.lower()]


def _examples(lazy: nw.LazyFrame) -> str:
    rows = collect_small(lazy.head(_EXAMPLE_ROWS))
    return "; ".join(str(record) for record in rows.astype(str).to_dict("records"))


def _assignments(experiments: Any, extra: list[str]) -> nw.LazyFrame:
    """The assignments, checked: ids, names and variants as text, one row per customer."""
    lazy, _ = as_lazy(experiments, "experiments")
    require_columns(lazy, _ASSIGNMENT_COLUMNS, "experiments")
    missing_keys = [key for key in extra if key not in lazy.collect_schema().names()]
    if missing_keys:
        raise ParameterError(
            f"by={missing_keys} are not columns of experiments; pass a segments table "
            "(customer_id and the by columns) or by=None for the overall test"
        )
    assigned = lazy.select(
        nw.col("customer_id", "experiment", "variant").cast(nw.String),
        timestamp_column(lazy, "assigned_ts", "experiments").alias("assigned_ts"),
        *(nw.col(key) for key in extra),
    )
    missing = count_true(nw.col(*_ASSIGNMENT_COLUMNS).is_null())
    nulls = collect_small(assigned.select(missing)).iloc[0]
    for column in _ASSIGNMENT_COLUMNS:
        if nulls[column]:
            raise DataContractError(
                "experiments",
                column,
                "a value in every row",
                f"{int(nulls[column])} rows without one, e.g. "
                + _examples(assigned.filter(nw.col(column).is_null())),
            )
    repeated = assigned.group_by("experiment", "customer_id").agg(nw.len().alias("times"))
    repeated = repeated.filter(nw.col("times") > 1)
    count = int(collect_small(repeated.select(nw.len().alias("n")))["n"].iloc[0])
    if count:
        shown = repeated.sort("experiment", "customer_id").head(_EXAMPLE_ROWS)
        rows = assigned.join(
            shown.select("experiment", "customer_id"), on=["experiment", "customer_id"]
        )
        raise DataContractError(
            "experiments",
            "customer_id",
            "each customer assigned at most once per experiment",
            f"{count} customers assigned more than once, e.g. "
            + _examples(rows.sort("experiment", "customer_id", "assigned_ts")),
        )
    return _unsegmented_for_missing(assigned, extra)


def _variants(assigned: nw.LazyFrame, control: str) -> dict[str, list[str]]:
    """Every experiment's variants other than control; an error for a test that has no contrast."""
    table = collect_small(assigned.select("experiment", "variant").unique())
    if table.empty:
        raise DataContractError("experiments", None, "at least one assignment", "no rows")
    treatments = {}
    for experiment, names in table.groupby("experiment")["variant"]:
        variants = sorted(names)
        if control not in variants:
            raise DataContractError(
                "experiments",
                "variant",
                f"a control variant named {control!r} in experiment {experiment!r} "
                "(pass control=... to name another)",
                f"variants {variants}",
            )
        if len(variants) < 2:
            raise DataContractError(
                "experiments",
                "variant",
                f"at least one variant besides {control!r} in experiment {experiment!r}",
                f"only {variants}",
            )
        treatments[str(experiment)] = [v for v in variants if v != control]
    return treatments


def _with_segments(assigned: nw.LazyFrame, segments: Any, keys: list[str]) -> nw.LazyFrame:
    """The assignments with the customers' ``keys`` labels; ``Unsegmented`` for unknown ones."""
    labels = same_engine(assigned, segments, "segments", "experiments")
    require_columns(labels, ["customer_id", *keys], "segments")
    labels = labels.select(nw.col("customer_id").cast(nw.String), *keys).filter(
        ~nw.col("customer_id").is_null()
    )
    repeated = labels.group_by("customer_id").agg(nw.len().alias("times"))
    repeated = repeated.filter(nw.col("times") > 1)
    count = int(collect_small(repeated.select(nw.len().alias("n")))["n"].iloc[0])
    if count:
        shown = repeated.sort("customer_id").head(_EXAMPLE_ROWS).select("customer_id")
        raise DataContractError(
            "segments",
            "customer_id",
            "one row per customer",
            f"{count} customers in more than one row, e.g. "
            + _examples(labels.join(shown, on="customer_id").sort("customer_id")),
        )
    return _unsegmented_for_missing(assigned.join(labels, on="customer_id", how="left"), keys)


def _unsegmented_for_missing(labelled: nw.LazyFrame, keys: list[str]) -> nw.LazyFrame:
    """Text labels as strings with :data:`UNSEGMENTED` for missing ones; others unchanged."""
    schema = labelled.collect_schema()
    texts = [key for key in keys if schema[key] in (nw.String, nw.Categorical, nw.Enum)]
    if not texts:
        return labelled
    return labelled.with_columns(
        nw.col(key).cast(nw.String).fill_null(UNSEGMENTED) for key in texts
    )


def _window_outcomes(assigned: nw.LazyFrame, orders: Any, window: float) -> nw.LazyFrame:
    """Per assignment: ``converted`` (0 or 1) and ``window_revenue`` in the window after it."""
    bought = same_engine(assigned, orders, "orders", "experiments")
    require_columns(bought, _ORDER_COLUMNS, "orders")
    bought = bought.select(
        nw.col("customer_id").cast(nw.String),
        timestamp_column(bought, "order_ts", "orders").alias("order_ts"),
        nw.col("revenue").cast(nw.Float64),
    )
    end = nw.col("assigned_ts") + nw.lit(timedelta(microseconds=round(window * 86_400e6)))
    in_window = (
        assigned.select("experiment", "customer_id", "assigned_ts")
        .join(bought, on="customer_id", how="inner")
        .filter((nw.col("order_ts") >= nw.col("assigned_ts")) & (nw.col("order_ts") < end))
        .group_by("experiment", "customer_id")
        .agg(nw.len().alias("window_orders"), nw.col("revenue").sum().alias("window_revenue"))
    )
    outcomes = assigned.join(in_window, on=["experiment", "customer_id"], how="left")
    return outcomes.with_columns(
        converted=(nw.col("window_orders").fill_null(0) > 0).cast(nw.Int64),
        window_revenue=nw.col("window_revenue").fill_null(0.0),
    )


@dataclass(frozen=True)
class _Arm:
    """One variant's customers, conversions and window revenue (mean and sample SD)."""

    customers: int = 0
    conversions: int = 0
    revenue_mean: float = math.nan
    revenue_sd: float = math.nan

    @property
    def rate(self) -> float:
        return self.conversions / self.customers if self.customers else math.nan


def _comparisons(arms, variants, keys, control, alpha, min_per_variant) -> list[dict]:
    """One dict per (experiment, ``keys`` values, treatment variant)."""
    arms = arms.astype({"customers": "int64", "conversions": "int64"})
    rows = []
    for experiment, treatments in variants.items():
        mine = arms[arms["experiment"] == experiment]
        strata = mine[keys].drop_duplicates() if keys else pd.DataFrame(index=[0])
        for stratum in strata.to_dict("records"):
            inside = mine
            for key, value in stratum.items():
                inside = inside[inside[key].isna() if pd.isna(value) else inside[key] == value]
            found = {
                record["variant"]: _Arm(
                    int(record["customers"]),
                    int(record["conversions"]),
                    float(record["revenue_mean"]),
                    float(record["revenue_sd"]) if pd.notna(record["revenue_sd"]) else math.nan,
                )
                for record in inside.to_dict("records")
            }
            base = found.get(control, _Arm())
            for variant in treatments:
                compared = _compare(base, found.get(variant, _Arm()), alpha, min_per_variant)
                rows.append({"experiment": experiment, **stratum, "variant": variant, **compared})
    return rows


def _compare(base: _Arm, test: _Arm, alpha: float, min_per_variant: int) -> dict:
    """The statistics of one treatment arm against its control arm."""
    row = dict.fromkeys(RESULT_COLUMNS[1:], math.nan)
    row |= {
        "n_control": base.customers,
        "n_treatment": test.customers,
        "conversions_control": base.conversions,
        "conversions_treatment": test.conversions,
        "conversion_rate_control": base.rate,
        "conversion_rate_treatment": test.rate,
        "revenue_per_customer_control": base.revenue_mean,
        "revenue_per_customer_treatment": test.revenue_mean,
        "significant": False,
    }
    notes = []
    if not (base.customers and test.customers):
        empty = [
            name for name, arm in (("control", base), ("treatment", test)) if not arm.customers
        ]
        row["warning"] = f"no customers in {' and '.join(empty)}"
        return row
    if min(base.customers, test.customers) < min_per_variant:
        notes.append(
            f"fewer than {min_per_variant} customers in a variant "
            f"(control {base.customers}, treatment {test.customers})"
        )
    row |= _conversion_statistics(base, test, alpha, notes)
    row |= _revenue_statistics(base, test, alpha)
    row["warning"] = "; ".join(notes)
    return row


def _conversion_statistics(base: _Arm, test: _Arm, alpha: float, notes: list[str]) -> dict:
    lift = test.rate - base.rate
    row = {"absolute_lift": lift}
    counts = (test.conversions, test.customers, base.conversions, base.customers)
    row["absolute_lift_ci_low"], row["absolute_lift_ci_high"] = map(
        float, confint_proportions_2indep(*counts, method="newcomb", compare="diff", alpha=alpha)
    )
    if base.conversions:
        row["relative_lift"] = test.rate / base.rate - 1
    if base.conversions and test.conversions:
        low, high = confint_proportions_2indep(*counts, method="log", compare="ratio", alpha=alpha)
        row["relative_lift_ci_low"], row["relative_lift_ci_high"] = low - 1, high - 1
    pooled = (test.conversions + base.conversions) / (test.customers + base.customers)
    if min(pooled, 1 - pooled) * min(test.customers, base.customers) < _SMALLEST_EXPECTED_COUNT:
        notes.append(
            f"expected conversions or non-conversions below {_SMALLEST_EXPECTED_COUNT} in a "
            "variant: the z-test is unreliable"
        )
    if 0 < pooled < 1:
        _, p_value = proportions_ztest([test.conversions, base.conversions], counts[1::2])
        row["p_value"] = float(p_value)
    else:
        notes.append("no variation: every customer converted or none did")
    detectable = _minimum_detectable_lift(base, test, alpha)
    row["minimum_detectable_lift"] = detectable
    if math.isnan(detectable):
        notes.append(
            f"underpowered: no rise over the control rate is detectable with {POWER:.0%} power"
        )
    elif abs(lift) < detectable:
        notes.append(
            f"underpowered: the observed lift ({100 * lift:+.1f} pp) is smaller than the lift "
            f"detectable with {POWER:.0%} power ({100 * detectable:.1f} pp)"
        )
    return row


def _minimum_detectable_lift(base: _Arm, test: _Arm, alpha: float) -> float:
    """The rise over the control rate a two-sided test at ``alpha`` detects with 80% power.

    NaN when even a rate of 1 would not be detected.
    """
    effect = NormalIndPower().solve_power(
        effect_size=None,
        nobs1=test.customers,
        alpha=alpha,
        power=POWER,
        ratio=base.customers / test.customers,
    )
    angle = 2 * math.asin(math.sqrt(base.rate)) + float(effect)  # Cohen's h is a difference
    return math.sin(angle / 2) ** 2 - base.rate if angle <= math.pi else math.nan


def _revenue_statistics(base: _Arm, test: _Arm, alpha: float) -> dict:
    difference = test.revenue_mean - base.revenue_mean
    row = {"revenue_difference": difference}
    if min(base.customers, test.customers) < 2:
        return row
    share_test = test.revenue_sd**2 / test.customers
    share_base = base.revenue_sd**2 / base.customers
    error = math.sqrt(share_test + share_base)
    if not error > 0:
        return row
    freedom = error**4 / (
        share_test**2 / (test.customers - 1) + share_base**2 / (base.customers - 1)
    )
    margin = stats.t.ppf(1 - alpha / 2, freedom) * error
    row["revenue_difference_ci_low"] = difference - margin
    row["revenue_difference_ci_high"] = difference + margin
    row["revenue_p_value"] = float(2 * stats.t.sf(abs(difference) / error, freedom))
    return row


def _adjusted(p_values: pd.Series, method: str | None) -> pd.Series:
    """``p_values`` corrected together with ``multipletests``; NaN stays NaN."""
    adjusted = p_values.astype("float64").copy()
    known = adjusted.notna().to_numpy()
    if method is not None and known.any():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            adjusted[known] = multipletests(adjusted[known].to_numpy(), method=method)[1]
    return adjusted.astype("float64")
