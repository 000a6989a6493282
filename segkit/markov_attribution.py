"""Markov-chain attribution: removal effects computed exactly from the absorbing chain.

A journey is a walk through *states*, the last ``order`` channels it touched (the
tuple ``("email", "search")`` is written ``"email > search"``; near a journey's
start a state holds the fewer channels seen so far), from ``(start)`` to one of
two absorbing states, ``(conversion)`` and ``(null)``. Consecutive repeats of a
channel are collapsed first (``email > email > search`` is ``email > search``),
as ChannelAttribution does at order 1 (``collapse_repeats=False`` keeps them). A
journey with ``conversions`` w and ``nulls`` n adds w + n to each of its transitions
between states, w to its last state → ``(conversion)`` and n to its last state →
``(null)``; each state's outgoing weights, normalised, are its transition probabilities.

*Removing* a channel sends every transition into a state that contains it to
``(null)``. Its removal effect is the share of the conversion probability P (of
reaching ``(conversion)`` from ``(start)``) that is lost:
``removal_effect = 1 - P_without / P``. A group's conversions and revenue are shared
among its channels in proportion to their removal effects.

The probabilities are solved from the chain, never simulated. With Q the transitions
among transient states and r the one-step conversion probabilities, the conversion
probabilities x solve (I - Q) x = r, and P is x at ``(start)``. Removing a channel
makes the states that contain it worth 0, i.e. drops them from the system. At order 1
one inverse gives every channel at once (see :func:`_order_one_removals`); at higher
orders a channel lives in many states and each removal is its own sparse solve: sparse
LU for small chains, BiCGSTAB with a guaranteed error bound (1e-12 on each
probability) for large ones, whose LU fills in (see :class:`_Solver`).

On paths without repeated channels the chain and its removal effects are those of
ChannelAttribution's ``markov_model`` (which estimates them by simulation): its states
are sliding windows of ``order`` channels, and segkit's first ``order - 1`` states (the
journey's opening channels) form a tree that reproduces the distribution of the
windows a journey starts with. On paths with repeats the two differ from order 2 on:
ChannelAttribution keeps repeated channels inside a window (``"a > a"``) and only drops
a window that repeats right after itself.

Transition counts are computed in the caller's engine (pandas, Polars, DuckDB,
PySpark) with window expressions; only the table of distinct transitions is
collected, and the algebra runs on scipy sparse matrices.

Example
-------
>>> import pandas as pd
>>> from segkit.journeys import journeys_from_paths
>>> paths = pd.DataFrame({"path": ["google_ads", "mailing", "google_ads > mailing"],
...                       "total_conversions": [2, 1, 1], "total_null": [1, 0, 0],
...                       "total_conversion_value": [20.0, 10.0, 10.0]})
>>> markov_credits(journeys_from_paths(paths)).round(6).values.tolist()
[['google_ads', 2.4, 24.0], ['mailing', 1.6, 16.0]]
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Sequence
from functools import partial
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd
import scipy.linalg
import scipy.sparse as sparse
import scipy.sparse.linalg as sparse_linalg
from threadpoolctl import threadpool_limits

from segkit.errors import DataContractError
from segkit.frames import (
    as_lazy,
    collect_small,
    require_columns,
    scans_by_row,
    scans_in_order,
    sort_rows,
    with_row_scans,
)

START, CONVERSION, NULL = "(start)", "(conversion)", "(null)"
STATE_SEPARATOR = " > "
ORDERS = (1, 2, 3, 4)
#: Above this many states the order-1 shortcut would need a dense inverse too large to be
#: worth it; the per-channel sparse solves (as for higher orders) are used instead.
DENSE_STATES = 2_000
#: Chains (and sub-chains) up to this many states are solved by sparse LU, larger ones by
#: BiCGSTAB with an error bound of ``TOLERANCE`` on every conversion probability.
DIRECT_STATES = 1_000
TOLERANCE = 1e-12
JOURNEY_INPUT = ("journey_id", "step", "channel", "conversions", "nulls", "revenue")
_WEIGHTS = ("weight", "conversions", "nulls", "revenue")
_ENDS = ("conversions", "nulls")


class MarkovAttribution:
    """Order-``k`` Markov-chain attribution with exact removal effects.

    Parameters
    ----------
    order : int, 1..4
        How many of the last channels make a state.
    collapse_repeats : bool
        Collapse consecutive touches of the same channel into one before counting.

    Attributes
    ----------
    states_ : list of str, or dict
        The transient states, ``(start)`` first, then the observed states (shorter
        states first, then alphabetically).
    transitions_ : pandas DataFrame
        ``*by, from_state, to_state, weight, probability``: every observed transition
        with its summed weight, including those into ``(conversion)`` and ``(null)``.
    transition_matrix_ : pandas DataFrame, or dict
        Probabilities, rows from-state (``states_``) × columns to-state (the observed
        states, ``(conversion)``, ``(null)``), zero where no transition was seen. Built
        from ``transitions_`` when first read: it is dense, so for hundreds of channels at
        order 2 or more prefer ``transitions_``.
    conversion_probability_ : float, or dict
        Probability of reaching ``(conversion)`` from ``(start)``.
    removal_effects_ : pandas DataFrame
        ``*by, channel, removal_effect, share`` (shares sum to 1 in a group that converts).
    credits_ : pandas DataFrame
        ``*by, channel, conversions, revenue``, sorted by ``(*by, channel)``.

    Notes
    -----
    Fitted with ``by`` columns, ``states_``, ``transition_matrix_`` and
    ``conversion_probability_`` are dicts keyed by group (the value itself for one ``by``
    column, a tuple of values for several) and the tidy frames carry the ``by`` columns.

    A group without conversions has a conversion probability of 0, every removal effect
    0 and zero credits, revenue included (there is nothing to share). Removal effects are
    never all 0 in a group that converts: the last channel of a converting journey loses
    at least that journey's conversions when removed. If rounding ever made them so, the
    group's conversions would be lost, and ``fit`` raises instead.

    Examples
    --------
    >>> import pandas as pd
    >>> from segkit.journeys import journeys_from_paths
    >>> paths = pd.DataFrame({"path": ["a", "b", "a > b"], "total_conversions": [2, 1, 1],
    ...                       "total_null": [1, 0, 0], "total_conversion_value": [0, 0, 0]})
    >>> model = MarkovAttribution(order=1).fit(journeys_from_paths(paths))
    >>> model.removal_effects_["removal_effect"].round(6).tolist()
    [0.75, 0.5]
    """

    def __init__(self, order: int = 1, collapse_repeats: bool = True) -> None:
        self.order = order
        self.collapse_repeats = collapse_repeats

    def fit(self, journeys: Any, by: str | Sequence[str] | None = None) -> MarkovAttribution:
        """Count the transitions of ``journeys`` (the journey long format) and solve the chain.

        Parameters
        ----------
        journeys : pandas, Polars, DuckDB or PySpark frame
            Journeys in the format of :mod:`segkit.journeys` (``journey_id``, ``step``,
            ``channel``, ``conversions``, ``nulls``, ``revenue``, and the ``by`` columns).
        by : str or sequence of str, optional
            Columns that split the journeys into groups (a segment), one chain per group.

        Returns
        -------
        MarkovAttribution
            ``self``, fitted.
        """
        by = _as_columns(by)
        counts = transition_counts(journeys, by, self.order, self.collapse_repeats)
        chains = [
            (key, _Chain.from_counts(group, self.order)) for key, group in _groups(counts, by)
        ]
        self.by_ = by
        self._chains = chains
        self.states_ = self._per_group(lambda chain: chain.state_names())
        self.conversion_probability_ = self._per_group(lambda chain: chain.conversion_probability)
        self.transitions_ = self._tidy(lambda chain: chain.transitions())
        self.removal_effects_ = self._tidy(lambda chain: chain.removal_frame())
        self.credits_ = self._tidy(lambda chain: chain.credit_frame())
        return self

    @property
    def transition_matrix_(self) -> pd.DataFrame | dict[Hashable, pd.DataFrame]:
        if not hasattr(self, "_chains"):
            raise AttributeError("transition_matrix_ is set by fit(); call fit first")
        return self._per_group(lambda chain: chain.wide_matrix())

    def _per_group(self, value):
        if not self.by_:
            return value(self._chains[0][1])
        return {key if len(self.by_) > 1 else key[0]: value(chain) for key, chain in self._chains}

    def _tidy(self, frame) -> pd.DataFrame:
        parts = []
        for key, chain in self._chains:
            part = frame(chain)
            for column, value in reversed(list(zip(self.by_, key, strict=True))):
                part.insert(0, column, value)
            parts.append(part)
        return pd.concat(parts, ignore_index=True)


def markov_credits(
    journeys: Any,
    by: str | Sequence[str] = (),
    order: int = 1,
    collapse_repeats: bool = True,
) -> pd.DataFrame:
    """Conversions and revenue credited to each channel by an order-``order`` Markov chain.

    The function behind ``segkit.attribution.attribute(..., model="markov", order=k)``;
    see :class:`MarkovAttribution` for the model and its fitted details.

    Parameters
    ----------
    journeys : pandas, Polars, DuckDB or PySpark frame
        Journeys in the format of :mod:`segkit.journeys`.
    by : str or sequence of str
        Columns that split the journeys into groups, each attributed separately.
    order : int, 1..4
        How many of the last channels make a state.
    collapse_repeats : bool
        Collapse consecutive touches of the same channel before counting.

    Returns
    -------
    pandas DataFrame
        ``*by, channel, conversions, revenue`` sorted by ``(*by, channel)``; per group the
        credits sum to the group's conversions and revenue.

    Examples
    --------
    >>> import pandas as pd
    >>> from segkit.journeys import journeys_from_paths
    >>> paths = pd.DataFrame({"path": ["a > b", "b"], "total_conversions": [1, 1],
    ...                       "total_conversion_value": [10.0, 30.0], "total_null": [0, 2]})
    >>> markov_credits(journeys_from_paths(paths))["conversions"].round(4).tolist()
    [0.4, 1.6]
    """
    model = MarkovAttribution(order=order, collapse_repeats=collapse_repeats)
    return model.fit(journeys, by=by).credits_


def transition_counts(
    journeys: Any, by: Sequence[str], order: int, collapse_repeats: bool
) -> pd.DataFrame:
    """Summed weights of every distinct (``order`` + 1)-gram of channels, counted in the engine.

    One row per ``*by``, ``lag_order`` … ``lag_1``, ``channel`` and ``last`` (whether the
    step ends its journey): ``lag_j`` is the channel ``j`` (kept) steps earlier, null
    before the journey's start. ``weight`` sums conversions + nulls; ``conversions``,
    ``nulls`` and ``revenue`` are the sums that matter on the ``last`` rows. The row's
    transition runs from the state ``lag_order … lag_1`` (``(start)`` when ``lag_1`` is
    null) to the state ``lag_order-1 … lag_1, channel``.
    """
    _check_order(order)
    lazy, _ = as_lazy(journeys, "journeys")
    require_columns(lazy, [*JOURNEY_INPUT, *by], "journeys")

    lazy, lag, with_lags = _lag_along(lazy.select(*dict.fromkeys([*by, *JOURNEY_INPUT])))
    if lazy.implementation.is_pandas_like():
        # pandas shifts and writes back category codes several times faster than strings.
        lazy = lazy.with_columns(nw.col("channel").cast(nw.Categorical))
    lazy = with_lags(lazy, lag(1).alias("lag_1"))
    if collapse_repeats:
        # The touch before a kept one has the kept predecessor's channel (a dropped repeat
        # carries the channel of its run), so lag_1 stays right; deeper lags come after.
        previous = nw.col("lag_1")
        lazy = lazy.filter(previous.is_null() | (previous != nw.col("channel")))
    lags = [f"lag_{j}" for j in range(order, 0, -1)]
    deeper = [lag(j).alias(f"lag_{j}") for j in range(2, order + 1)]
    lagged = with_lags(lazy, *deeper) if deeper else lazy
    counted = (
        lagged.with_columns(
            last=nw.col("step") == nw.col("step").max().over("journey_id"),
            weight=nw.col("conversions") + nw.col("nulls"),
        )
        .group_by(*by, *lags, "channel", "last")
        .agg(*(nw.col(column).sum() for column in _WEIGHTS))
    )
    return collect_small(counted)


def _lag_along(
    lazy: nw.LazyFrame,
) -> tuple[nw.LazyFrame, Callable[[int], nw.Expr], Callable[..., nw.LazyFrame]]:
    """``lazy`` ready for ``lag(j)``, the channel ``j`` steps earlier in the journey or
    null, and the ``with_columns`` to add lags with.

    Where :func:`~segkit.frames.scans_in_order` (Polars, pandas), the rows are
    numbered by journey and step with one sort, the frame ordered by that
    number and shifted along, guarded by the journey id: a window per journey
    costs several times more with millions of journeys. On pandas
    (:func:`~segkit.frames.scans_by_row`) the shifts are plain scans of the
    sorted rows. SQL engines run a window per journey, in parallel.
    """
    if not scans_in_order(lazy):
        return (
            lazy,
            lambda steps: nw.col("channel").shift(steps).over("journey_id", order_by="step"),
            nw.LazyFrame.with_columns,
        )
    if scans_by_row(lazy):
        return sort_rows(lazy, "journey_id", "step"), partial(_lag, along=None), with_row_scans
    row = nw.col("_one").cum_sum().over(order_by=["journey_id", "step"]).alias("_row")
    lazy = lazy.with_columns(_one=nw.lit(1, nw.Int64)).with_columns(row).drop("_one").sort("_row")
    return lazy, partial(_lag, along="_row"), nw.LazyFrame.with_columns


def _lag(steps: int, along: str | None) -> nw.Expr:
    """The channel ``steps`` rows earlier when that row is in the same journey; the rows
    ordered by ``along`` (``None``: as they are)."""

    def shifted(name: str) -> nw.Expr:
        expr = nw.col(name).shift(steps)
        return expr if along is None else expr.over(order_by=along)

    return nw.when(shifted("journey_id") == nw.col("journey_id")).then(shifted("channel"))


def _check_order(order: int) -> None:
    if isinstance(order, bool) or order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS} (channels per state), got {order!r}")


def _as_columns(by: str | Sequence[str] | None) -> list[str]:
    if by is None:
        return []
    return [by] if isinstance(by, str) else list(by)


def _groups(counts: pd.DataFrame, by: list[str]) -> Iterator[tuple[tuple, pd.DataFrame]]:
    if not by:
        yield (), counts
        return
    yield from counts.groupby(by, sort=True, dropna=False)


class _Chain:
    """One group's absorbing chain. Transient states: 0 is ``(start)``, 1..S the observed
    states (rows of ``codes``, channel indices with -1 padding on the left); ``rates``
    holds each transient state's probabilities into ``(conversion)`` and ``(null)``."""

    def __init__(
        self,
        channels: list[str],
        codes: np.ndarray,
        internal: tuple[np.ndarray, np.ndarray, np.ndarray],
        terminal: tuple[np.ndarray, ...],
        totals: dict[str, float],
    ) -> None:
        self.channels, self.codes, self.totals = channels, codes, totals
        size = len(codes) + 1
        origin, target, weight = internal
        self.counts = sparse.coo_matrix((weight, (origin, target)), shape=(size, size)).tocsr()
        self.counts.sum_duplicates()
        self.ends = np.column_stack(
            [np.bincount(terminal[0], weights=column, minlength=size) for column in terminal[1:]]
        )
        outgoing = np.asarray(self.counts.sum(axis=1)).ravel() + self.ends.sum(axis=1)
        self.scale = np.divide(1.0, outgoing, out=np.zeros(size), where=outgoing > 0)
        self.transient = sparse.diags(self.scale) @ self.counts
        self.rates = self.ends * self.scale[:, None]
        self.conversion_probability, self.without = self._solve()

    @classmethod
    def from_counts(cls, counts: pd.DataFrame, order: int) -> _Chain:
        """The chain of one group's rows of :func:`transition_counts`."""
        grams, channels = _channel_codes(counts, order)
        totals = _totals(counts)
        moved = counts["weight"].to_numpy(dtype="float64") > 0
        counts, grams = counts[moved], grams[moved]
        from_start = grams[:, -2] < 0
        # States are the distinct targets (and, to be safe, sources) of weighted moves.
        codes, index = _unique_rows(np.vstack([grams[:, 1:], grams[~from_start, :-1]]))
        into = index[: len(grams)] + 1
        came_from = np.zeros(len(grams), dtype=np.int64)
        came_from[~from_start] = index[len(grams) :] + 1
        last = counts["last"].to_numpy(dtype=bool)
        terminal = (into[last], *(counts[c].to_numpy("float64")[last] for c in _ENDS))
        internal = (came_from, into, counts["weight"].to_numpy("float64"))
        return cls(channels, codes, internal, terminal, totals)

    def _solve(self) -> tuple[float, np.ndarray]:
        """``P(conversion)`` and, per channel, the same probability with the channel removed."""
        size = self.transient.shape[0]
        system = (sparse.identity(size, format="csr") - self.transient).tocsr()
        conversion = self.rates[:, 0]
        if not conversion.any():
            return 0.0, np.zeros(len(self.channels))
        # The vectors are small: threaded BLAS only adds contention (x50 slower when loaded).
        with threadpool_limits(limits=1, user_api="blas"):
            if self.codes.shape[1] == 1 and size <= DENSE_STATES:
                dense = system.toarray()
                return _order_one_removals(dense, conversion, self.codes[:, 0], self.channels)
            solver = _Solver(system)
            probability = float(solver.solve(system, conversion)[0])
            without = [
                self._without_channel(solver, system, conversion, channel, probability)
                for channel in range(len(self.channels))
            ]
        return probability, np.array(without)

    def _without_channel(
        self,
        solver: _Solver,
        system: sparse.csr_matrix,
        conversion: np.ndarray,
        channel: int,
        probability: float,
    ) -> float:
        """Redirecting every transition into a state that holds ``channel`` to ``(null)`` is
        the same as dropping those states from the system (their conversion probability is 0)."""
        keep = np.flatnonzero(np.concatenate([[True], ~(self.codes == channel).any(axis=1)]))
        if len(keep) == system.shape[0]:
            return probability
        return float(solver.solve(system[keep][:, keep], conversion[keep])[0])

    def removal_effects(self) -> np.ndarray:
        if self.conversion_probability <= 0:
            return np.zeros(len(self.channels))
        return np.clip(1.0 - self.without / self.conversion_probability, 0.0, 1.0)

    def shares(self) -> np.ndarray:
        effects = self.removal_effects()
        total = effects.sum()
        if self.conversion_probability > 0 and total <= 0:
            raise RuntimeError(
                "every removal effect is 0 although the journeys convert; "
                "the conversions cannot be shared (please report this data)"
            )
        return effects / total if total > 0 else effects

    def state_names(self) -> list[str]:
        return [START, *_state_names(self.codes, self.channels)]

    def removal_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "channel": self.channels,
                "removal_effect": self.removal_effects(),
                "share": self.shares(),
            }
        )

    def credit_frame(self) -> pd.DataFrame:
        shares = self.shares()
        return pd.DataFrame(
            {
                "channel": self.channels,
                "conversions": shares * self.totals["conversions"],
                "revenue": shares * self.totals["revenue"],
            }
        )

    def transitions(self) -> pd.DataFrame:
        """Tidy transitions, ordered by from-state then to-state (absorbing states last)."""
        counts = self.counts.tocoo()
        ends = np.nonzero(self.ends)
        size = self.counts.shape[0]
        names = np.array([*self.state_names(), CONVERSION, NULL], dtype=object)
        frame = pd.DataFrame(
            {
                "from": np.concatenate([counts.row, ends[0]]),
                "to": np.concatenate([counts.col, size + ends[1]]),
                "weight": np.concatenate([counts.data, self.ends[ends]]),
                "probability": np.concatenate(
                    [counts.data * self.scale[counts.row], self.rates[ends]]
                ),
            }
        ).sort_values(["from", "to"], ignore_index=True)
        return pd.DataFrame(
            {
                "from_state": names[frame["from"]],
                "to_state": names[frame["to"]],
                "weight": frame["weight"],
                "probability": frame["probability"],
            }
        )

    def wide_matrix(self) -> pd.DataFrame:
        tidy = self.transitions()
        states = self.state_names()
        wide = tidy.pivot(index="from_state", columns="to_state", values="probability")
        wide = wide.reindex(index=states, columns=[*states[1:], CONVERSION, NULL], fill_value=0.0)
        return wide.fillna(0.0).rename_axis(index="from_state", columns="to_state")


def _order_one_removals(
    system: np.ndarray, conversion: np.ndarray, state_channel: np.ndarray, channels: list[str]
) -> tuple[float, np.ndarray]:
    """Every channel's removal at once from the fundamental matrix of an order-1 chain.

    With N = (I - Q)^-1 (N[i, j]: expected visits to j starting from i) and B = N · R
    (B[j]: probability of converting from j), a walk from (start) either converts
    without ever entering state j, or enters j and then, by the strong Markov property,
    converts from there with probability B[j]. It enters j with probability
    h = N[start, j] / N[j, j]: every visit to j comes after the first one, from which
    N[j, j] visits are expected, so N[start, j] = h · N[j, j]. Removing j kills exactly
    the walks that enter it, so P_without_j = P - N[start, j] / N[j, j] · B[j]. At order 1
    the state j is the channel.
    """
    fundamental = scipy.linalg.inv(system)
    absorbed = fundamental @ conversion
    probability = float(absorbed[0])
    reach = fundamental[0, 1:] / np.diag(fundamental)[1:]
    without = np.full(len(channels), probability)
    without[state_channel] = probability - reach * absorbed[1:]
    return probability, without


class _Solver:
    """Solves ``(I - Q) x = b`` for a chain's transient matrix and its sub-chains, exactly.

    Small systems are factorised (sparse LU). An order-k chain is a de Bruijn-like graph
    whose LU fills in (one factorisation of 40,000 states did not finish in two minutes),
    so larger systems use BiCGSTAB run to machine precision and accept its answer only
    when the error bound ``max expected steps to absorption × max |residual|`` (the norm
    of (I - Q)^-1 times the residual; removing states only shortens walks, so the full
    chain's steps bound every sub-chain's) is below ``TOLERANCE``; otherwise LU again.
    """

    def __init__(self, system: sparse.csr_matrix) -> None:
        self.steps = np.inf
        if system.shape[0] > DIRECT_STATES:
            # t = (I - Q)^-1 1 is the expected steps to absorption; with T = max t and an
            # approximate t whose residual is rho, T <= max(approximate t) / (1 - rho).
            steps, residual = self._iterate(system, np.ones(system.shape[0]))
            if residual < 1:
                self.steps = float(steps.max()) / (1 - residual)

    def solve(self, system: sparse.csr_matrix, rhs: np.ndarray) -> np.ndarray:
        if system.shape[0] > DIRECT_STATES:
            solution, residual = self._iterate(system, rhs)
            if self.steps * residual <= TOLERANCE:
                return solution
        return sparse_linalg.splu(system.tocsc()).solve(rhs)

    @staticmethod
    def _iterate(system: sparse.csr_matrix, rhs: np.ndarray) -> tuple[np.ndarray, float]:
        solution, _ = sparse_linalg.bicgstab(system, rhs, rtol=1e-15, atol=0.0, maxiter=500)
        return solution, float(np.abs(system @ solution - rhs).max())


def _totals(counts: pd.DataFrame) -> dict[str, float]:
    ends = counts[counts["last"].to_numpy(dtype=bool)]
    return {column: float(ends[column].sum()) for column in ("conversions", "revenue")}


def _channel_codes(counts: pd.DataFrame, order: int) -> tuple[np.ndarray, list[str]]:
    """The (order + 1)-grams as channel indices (-1 before a journey's start) and the sorted
    channel names."""
    missing = counts["channel"].isna()
    if missing.any():
        raise DataContractError(
            "journeys", "channel", "a channel on every step", f"{int(missing.sum())} missing"
        )
    for column in ("conversions", "nulls", "revenue"):
        if (counts[column] < 0).any():
            raise DataContractError("journeys", column, "values >= 0", "negative values")
    columns = [f"lag_{j}" for j in range(order, 0, -1)] + ["channel"]
    channels = sorted(pd.unique(counts["channel"]).tolist())
    index = pd.Index(channels)
    grams = np.column_stack([index.get_indexer(counts[column]) for column in columns])
    return grams.astype(np.int64).reshape(len(counts), order + 1), channels


def _unique_rows(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of small non-negative-or--1 integer codes (sorted) and each row's index."""
    base = int(codes.max(initial=-1)) + 2
    width = codes.shape[1]
    if base**width < 2**62:
        keys = (codes + 1) @ (base ** np.arange(width - 1, -1, -1, dtype=np.int64))
        _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        return codes[first], inverse
    return np.unique(codes, axis=0, return_inverse=True)


def _state_names(codes: np.ndarray, channels: list[str]) -> list[str]:
    return [STATE_SEPARATOR.join(channels[c] for c in row if c >= 0) for row in codes.tolist()]
