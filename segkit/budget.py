"""Budget reallocation: move spend from the cells with the lowest ROAS to those with the highest.

A *cell* is one row of an ROI table (:func:`segkit.roi`): a (segment, channel)
pair by default, or any grouping given as ``by``. Only cells with spend
(``cost`` > 0) and a known ``roas`` take part; the others are listed with no
suggestion and a reason. Every cell taking part may move within limits
relative to its own current cost::

    min_cost = cost * max(1 - max_change, min_share)
    max_cost = cost * (1 + max_change)

``max_change`` is the largest relative change of any cell (0.2: no cell grows
or shrinks by more than 20%) and ``min_share`` is a floor as a share of the
current cost (0.5: no cell falls below half its spend; with the defaults the
20% limit binds first, the floor matters when ``max_change`` exceeds
``1 - min_share``). The suggested costs sum to ``total_budget`` (by default
the current spend of the cells taking part), which must lie between the sums of
the limits.

``response="linear"`` assumes each cell's attributed ROAS holds for every
dollar moved (constant marginal ROAS). Revenue is then maximised by a greedy
exchange that gives the same allocation as the linear program *maximise
Σ roas_i·x_i subject to the limits and Σ x_i = total_budget*: extra budget goes
to the highest-ROAS cells first, a smaller budget is cut from the lowest first,
then money moves from the lowest-ROAS cells to the highest-ROAS ones until
either side reaches its limit. Cells with equal ROAS move together, in
proportion to their room, so the result does not depend on row order and equal
ROAS everywhere changes nothing. ``response="diminishing"`` assumes revenue
grows like ``cost ** elasticity`` (each extra dollar buys less than the one
before) and equalises the marginal ROAS ``elasticity · roas · (x / cost) **
(elasticity - 1)`` across the cells not at a limit.

Attribution is not causation: see :data:`CAVEAT`, which every plan carries.

Example
-------
>>> import pandas as pd
>>> roi = pd.DataFrame({"channel": ["display", "email", "search"],
...                     "cost": [100.0, 200.0, 100.0], "roas": [1.0, 2.0, 4.0]})
>>> plan = reallocate_budget(roi, by="channel")
>>> plan.table["suggested_cost"].tolist(), plan.expected_revenue_change
([80.0, 200.0, 120.0], 60.0)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd
from scipy.optimize import brentq

from segkit.errors import DataContractError, ParameterError
from segkit.frames import as_lazy, collect_small, require_columns

TABLE = "ROI table"
RESPONSES = ("linear", "diminishing")
#: What every plan must be read with.
CAVEAT = (
    "Attribution is not causation: the plan assumes each cell's attributed ROAS holds for the "
    "money moved (at the margin), which attribution cannot show. Test it with a holdout or an "
    "experiment before moving large budgets."
)
#: Columns of :attr:`BudgetPlan.table` after the grouping columns.
PLAN_COLUMNS = (
    "cost",
    "share",
    "roas",
    "min_cost",
    "max_cost",
    "suggested_cost",
    "suggested_share",
    "change",
    "change_pct",
    "expected_revenue_change",
    "reason",
)


@dataclass(frozen=True, eq=False)
class BudgetPlan:
    """A suggested budget per cell and what it is expected to bring.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per row of the ROI table, in its order: the grouping columns, then
        :data:`PLAN_COLUMNS`. ``cost`` and ``roas`` as given; ``share`` and
        ``suggested_share`` are shares of the budget of the cells taking part;
        ``min_cost`` and ``max_cost`` the cell's limits; ``change`` =
        suggested − current cost and ``change_pct`` = change / cost;
        ``expected_revenue_change`` under the plan's response; ``reason`` in
        words. Cells not taking part have missing values there and a reason.
    total_budget : float
        What the suggested costs add up to.
    current_budget : float
        The current cost of the cells taking part.
    budget_moved : float
        Sum of the increases minus any added budget: the money taken from some
        cells and given to others.
    expected_revenue_change : float
        Sum of the cells' expected revenue changes (attributed revenue, not causal).
    response : str
        "linear" or "diminishing".
    caveat : str
        :data:`CAVEAT`.
    """

    table: pd.DataFrame
    total_budget: float
    current_budget: float
    budget_moved: float
    expected_revenue_change: float
    response: str
    caveat: str = CAVEAT

    def summary(self) -> str:
        """The plan in two sentences, caveat included."""
        return (
            f"Moves {self.budget_moved:,.2f} of a {self.total_budget:,.2f} budget "
            f"(current {self.current_budget:,.2f}) towards the cells with the highest ROAS; "
            f"expected attributed revenue change {self.expected_revenue_change:+,.2f} "
            f"({self.response} response). {self.caveat}"
        )


def reallocate_budget(
    roi_table: Any,
    total_budget: float | None = None,
    min_share: float = 0.5,
    max_change: float = 0.2,
    by: str | Sequence[str] = ("segment", "channel"),
    response: str = "linear",
    elasticity: float = 0.5,
) -> BudgetPlan:
    """Suggest a cost per cell that moves budget towards the highest ROAS, within limits.

    Parameters
    ----------
    roi_table : frame
        One row per cell with the ``by`` columns, ``cost`` (≥ 0; missing for
        channels without spend) and ``roas`` (revenue / cost; missing when
        unknown), as :func:`segkit.roi` returns it. Any engine; it is small and
        collected.
    total_budget : float, optional
        The budget to spread over the cells taking part; by default their
        current total cost (pure reallocation).
    min_share : float, default 0.5
        Floor of a cell's new cost as a share of its current cost, in [0, 1].
    max_change : float, default 0.2
        Largest relative change of any cell's cost, up or down; ≥ 0.
        A cell's limits are ``cost * max(1 - max_change, min_share)`` and
        ``cost * (1 + max_change)``.
    by : str or sequence of str, default ("segment", "channel")
        The columns naming a cell; each combination appears at most once.
    response : {"linear", "diminishing"}, default "linear"
        How revenue follows cost: constant marginal ROAS, or revenue ∝
        ``cost ** elasticity``.
    elasticity : float, default 0.5
        With ``response="diminishing"``: in (0, 1); 0.5 means doubling a cell's
        cost multiplies its revenue by √2 ≈ 1.41. Ignored for "linear".

    Returns
    -------
    BudgetPlan
        The per-cell table and the totals; read it with :data:`CAVEAT`.

    Raises
    ------
    DataContractError
        If a ``by`` column, ``cost`` or ``roas`` is missing or not numeric, a
        cell appears twice, or a cost is negative or infinite (the message
        names a few offending cells).
    ParameterError
        If a parameter is out of range, or ``total_budget`` lies outside what
        the limits allow (the message gives the feasible range).

    Example
    -------
    >>> import pandas as pd
    >>> roi = pd.DataFrame({"segment": ["A", "A"], "channel": ["search", "social"],
    ...                     "cost": [100.0, 100.0], "roas": [3.0, 1.0]})
    >>> reallocate_budget(roi, max_change=0.5).table["suggested_cost"].tolist()
    [150.0, 50.0]
    """
    keys = [by] if isinstance(by, str) else list(by)
    _check_parameters(total_budget, min_share, max_change, keys, response, elasticity)
    cells = _cells(roi_table, keys)
    cost = cells["cost"].to_numpy()
    roas = cells["roas"].to_numpy()
    takes_part = (cost > 0) & np.isfinite(roas)
    floor = max(1.0 - max_change, min_share)
    lower, upper = cost * floor, cost * (1.0 + max_change)
    current = float(cost[takes_part].sum())
    total = current if total_budget is None else float(total_budget)
    _check_feasible(total, lower[takes_part], upper[takes_part], floor, max_change)

    part = np.flatnonzero(takes_part)
    suggested = np.full(len(cells), np.nan)
    gain = np.full(len(cells), np.nan)
    c, r, lo, hi = cost[part], roas[part], lower[part], upper[part]
    if response == "linear":
        new = _linear(c, r, lo, hi, total)
        gain[part] = r * (new - c)
    else:
        new = _diminishing(c, r, lo, hi, total, elasticity)
        gain[part] = r * c * ((new / c) ** elasticity - 1.0)
    suggested[part] = new

    table = cells[keys].copy()
    table["cost"] = cost
    table["share"] = np.where(takes_part, cost / current if current else np.nan, np.nan)
    table["roas"] = roas
    table["min_cost"] = np.where(takes_part, lower, np.nan)
    table["max_cost"] = np.where(takes_part, upper, np.nan)
    table["suggested_cost"] = suggested
    table["suggested_share"] = suggested / total if total else np.nan
    table["change"] = suggested - np.where(takes_part, cost, np.nan)
    table["change_pct"] = table["change"] / np.where(takes_part, cost, np.nan)
    table["expected_revenue_change"] = gain
    table["reason"] = pd.array(
        [
            _reason(cost[i], roas[i], suggested[i], lower[i], upper[i], max_change, floor)
            for i in range(len(cells))
        ],
        dtype="str",
    )
    increases = float(np.clip(new - c, 0.0, None).sum())
    return BudgetPlan(
        table=table.reset_index(drop=True),
        total_budget=total,
        current_budget=current,
        budget_moved=increases - max(total - current, 0.0),
        expected_revenue_change=float(gain[part].sum()),
        response=response,
    )


def _check_parameters(
    total_budget: Any,
    min_share: Any,
    max_change: Any,
    keys: list[str],
    response: Any,
    elasticity: Any,
) -> None:
    def number(name: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
            raise ParameterError(f"{name} must be a number, got {value!r}")
        return float(value)

    if total_budget is not None and not 0 <= number("total_budget", total_budget) < math.inf:
        raise ParameterError(f"total_budget must be a finite amount ≥ 0, got {total_budget!r}")
    if not 0 <= number("min_share", min_share) <= 1:
        raise ParameterError(f"min_share must lie between 0 and 1, got {min_share!r}")
    if not 0 <= number("max_change", max_change) < math.inf:
        raise ParameterError(f"max_change must be a finite share ≥ 0, got {max_change!r}")
    if not keys or not all(isinstance(key, str) for key in keys):
        raise ParameterError(f"by must name one or more columns, got {keys!r}")
    if response not in RESPONSES:
        raise ParameterError(f"response must be one of {list(RESPONSES)}, got {response!r}")
    if response == "diminishing" and not 0 < number("elasticity", elasticity) < 1:
        raise ParameterError(f"elasticity must lie strictly between 0 and 1, got {elasticity!r}")


def _cells(roi_table: Any, keys: list[str]) -> pd.DataFrame:
    """The ROI table's keys, cost and roas as pandas (a copy), checked."""
    lazy, _ = as_lazy(roi_table, TABLE)
    require_columns(lazy, [*keys, "cost", "roas"], TABLE)
    schema = lazy.collect_schema()
    for column in ("cost", "roas"):
        if not schema[column].is_numeric():
            raise DataContractError(TABLE, column, "a numeric column", f"dtype {schema[column]}")
    cells = collect_small(
        lazy.select(
            *keys,
            nw.col("cost").cast(nw.Float64),
            nw.col("roas").cast(nw.Float64),
        )
    )
    cells["cost"] = cells["cost"].astype("Float64").to_numpy(dtype="float64", na_value=np.nan)
    cells["roas"] = cells["roas"].astype("Float64").to_numpy(dtype="float64", na_value=np.nan)
    repeated = cells.duplicated(keys, keep=False)
    if repeated.any():
        raise DataContractError(
            TABLE,
            ", ".join(keys),
            "one row per cell (one attribution model; every column that tells rows apart in by)",
            f"repeated: {_examples(cells, keys, repeated)}",
        )
    cost = cells["cost"]
    bad = (cost < 0) | np.isinf(cost)
    if bad.any():
        raise DataContractError(
            TABLE,
            "cost",
            "costs ≥ 0 (missing for channels without spend)",
            f"{int(bad.sum())} negative or infinite, e.g. {_examples(cells, keys, bad, 'cost')}",
        )
    return cells


def _examples(cells: pd.DataFrame, keys: list[str], mask: pd.Series, value: str = "") -> str:
    """Up to three cells as ``segment=A, channel=b (cost -1.0)``, for an error message."""
    shown = []
    for _, row in cells.loc[mask].head(3).iterrows():
        name = ", ".join(f"{key}={row[key]}" for key in keys)
        shown.append(f"{name} ({value} {row[value]})" if value else name)
    return "; ".join(shown)


def _check_feasible(
    total: float, lower: np.ndarray, upper: np.ndarray, floor: float, max_change: float
) -> None:
    low, high = float(lower.sum()), float(upper.sum())
    slack = 1e-9 * max(high, 1.0)
    if low - slack <= total <= high + slack:
        return
    if not len(lower):
        raise ParameterError(
            f"total_budget {total:,.2f} cannot be spent: no cell has a cost > 0 and a known ROAS"
        )
    raise ParameterError(
        f"total_budget {total:,.2f} is outside what the limits allow: between {low:,.2f} and "
        f"{high:,.2f} (each cell between {floor:.0%} and {1 + max_change:.0%} of its current "
        f"cost: max(1 - max_change, min_share) and 1 + max_change). Choose a total in that "
        f"range, or widen max_change / lower min_share"
    )


def _linear(
    cost: np.ndarray, roas: np.ndarray, lower: np.ndarray, upper: np.ndarray, total: float
) -> np.ndarray:
    """The revenue-maximising costs under constant ROAS, moving as little as needed."""
    new = cost.copy()
    levels = [np.flatnonzero(roas == level) for level in np.unique(roas)]  # lowest ROAS first
    delta = total - float(cost.sum())
    if delta > 0:
        for cells in reversed(levels):
            delta -= _move(new, cells, upper, delta)
    elif delta < 0:
        for cells in levels:
            delta += _move(new, cells, lower, -delta)
    low, high = 0, len(levels) - 1
    while low < high:
        give = float((new[levels[low]] - lower[levels[low]]).sum())
        take = float((upper[levels[high]] - new[levels[high]]).sum())
        if give <= 0:
            low += 1
        elif take <= 0:
            high -= 1
        else:
            amount = min(give, take)
            _move(new, levels[low], lower, amount)
            _move(new, levels[high], upper, amount)
    return _settle(new, lower, upper, total)


def _move(new: np.ndarray, cells: np.ndarray, target: np.ndarray, amount: float) -> float:
    """Move ``new[cells]`` towards ``target`` by ``amount`` in all (at most their room),
    each cell in proportion to its room; return the amount moved."""
    room = target[cells] - new[cells]
    available = float(np.abs(room).sum())
    if amount >= available:
        new[cells] = target[cells]
        return available
    new[cells] += room * (amount / available)
    return amount


def _settle(new: np.ndarray, lower: np.ndarray, upper: np.ndarray, total: float) -> np.ndarray:
    """Spread the rounding residual (or, with no better rule, the remainder) over the cells'
    room in its direction, so the costs add up to ``total``."""
    residual = total - float(new.sum())
    if residual:
        target = upper if residual > 0 else lower
        _move(new, np.arange(len(new)), target, abs(residual))
    return new


def _diminishing(
    cost: np.ndarray,
    roas: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    total: float,
    elasticity: float,
) -> np.ndarray:
    """Costs at which every cell off its limits has the same marginal ROAS λ.

    Revenue_i(x) = roas_i·cost_i·(x / cost_i)^e has marginal ROAS
    e·roas_i·(x / cost_i)^(e-1) = λ, so x_i(λ) = cost_i·(e·roas_i / λ)^(1/(1-e)),
    clipped to the limits; λ is found by root finding on log λ.
    """
    power = 1.0 / (1.0 - elasticity)
    positive = roas > 0
    with np.errstate(divide="ignore"):
        log_marginal = np.log(elasticity * roas)

    def spend(log_lambda: float) -> np.ndarray:
        with np.errstate(over="ignore"):
            ratio = np.exp(np.minimum((log_marginal - log_lambda) * power, 700.0))
        return np.clip(cost * ratio, lower, upper)

    if not positive.any():
        return _settle(lower.copy(), lower, upper, total)
    top, bottom = float(log_marginal[positive].max()), float(log_marginal[positive].min())
    floor_ratio = max(float((lower / cost).min()), 1e-12)
    start = bottom - math.log(float((upper / cost).max())) / power - 1.0
    stop = top - math.log(floor_ratio) / power + 1.0
    excess = lambda log_lambda: float(spend(log_lambda).sum()) - total  # noqa: E731
    if excess(start) <= 0:
        new = spend(start)
    elif excess(stop) >= 0:
        new = spend(stop)
    else:
        new = spend(brentq(excess, start, stop, xtol=1e-13, maxiter=500))
    return _settle(new, lower, upper, total)


def _reason(
    cost: float,
    roas: float,
    suggested: float,
    lower: float,
    upper: float,
    max_change: float,
    floor: float,
) -> str:
    if math.isnan(cost):
        return "not moved: no spend recorded for this cell"
    if cost == 0:
        return "not moved: no current spend, so nothing to scale from"
    if not math.isfinite(roas):
        return "not moved: ROAS unknown"
    tolerance = 1e-9 * cost
    if suggested > cost + tolerance:
        limit = suggested >= upper - tolerance
        how = f"raised to its upper limit (+{max_change:.0%})" if limit else "raised"
    elif suggested < cost - tolerance:
        limit = suggested <= lower + tolerance
        how = f"cut to its lower limit ({floor:.0%} of current cost)" if limit else "cut"
    else:
        how = "unchanged"
    return f"{how}; ROAS {roas:.2f}"
