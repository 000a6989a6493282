"""Clusters of customers: k-means or a Gaussian mixture on the customer view, with names.

:class:`CustomerClusters` is a scikit-learn style estimator: hyperparameters in
``__init__``, ``fit(view)`` learns and returns ``self``, learned state ends in
``_``. With ``k="auto"`` it picks the number of clusters with the best
silhouette among the k whose smallest cluster still holds ``min_share`` of the
customers, so a handful of outliers cannot become a "segment" of their own.
Each cluster gets a readable name from the marketing vocabulary ("recent, high
value", "lapsed, one-off") describing how it differs from the average customer.

Example
-------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> view = pd.DataFrame({"customer_id": range(200),
...                      "recency_days": np.r_[rng.normal(10, 2, 100), rng.normal(300, 9, 100)],
...                      "orders": np.r_[rng.normal(12, 1, 100), rng.normal(2, 0.3, 100)],
...                      "revenue": np.r_[rng.normal(900, 50, 100), rng.normal(60, 9, 100)]})
>>> clusters = cluster(view, k_range=range(2, 5))
>>> clusters.k_, sorted(clusters.names_.values())
(2, ['lapsed, low value', 'recent, high value'])
>>> clusters.transform(view)["cluster_name"].value_counts().tolist()
[100, 100]
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import narwhals as nw
import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import StandardScaler

from segkit.errors import DataContractError
from segkit.frames import as_lazy, collect_small, require_columns

DEFAULT_FEATURES = ("recency_days", "orders", "revenue")

#: Words for a cluster whose mean of a feature is low / high against all customers.
VOCABULARY: dict[str, tuple[str, str]] = {
    "recency_days": ("recent", "lapsed"),
    "orders": ("one-off", "frequent"),
    "revenue": ("low value", "high value"),
    "avg_order_value": ("small baskets", "big baskets"),
    "tenure_days": ("new", "long-standing"),
    "days_between_orders": ("quick to reorder", "slow to reorder"),
    "discount_share": ("full price", "discount-driven"),
    "return_rate": ("few returns", "many returns"),
    "items": ("few items", "many items"),
    "avg_feedback": ("dissatisfied", "satisfied"),
}

#: A feature describes a cluster when its mean is at least this many standard
#: deviations (of the log-transformed, scaled feature) from the overall mean.
NAME_MIN_Z = 0.5

#: A feature is log1p-transformed before scaling when it is non-negative and
#: its skewness exceeds this (spend and order counts usually do).
SKEW_LIMIT = 1.0

TABLE = "customer view"


class CustomerClusters:
    """Cluster a customer view on a few behavioural features and name the clusters.

    Parameters
    ----------
    features : sequence of str
        Numeric columns of the customer view to cluster on.
    k : int or "auto"
        Number of clusters, or ``"auto"`` to choose one from ``k_range``.
    min_share : float
        With ``k="auto"``, only a k whose smallest cluster holds at least this
        share of customers is eligible (the guard against over-segmentation).
    seed : int
        Seed of the model and of the silhouette sample: same data, same seed,
        same clusters.
    method : {"kmeans", "gmm"}
        k-means (``n_init=10``) or a Gaussian mixture with full covariances.
    k_range : iterable of int
        Candidate numbers of clusters for ``k="auto"``.
    sample_size : int or None
        Customers the silhouette is computed on (a seeded sample, for speed);
        ``None`` uses all of them.

    Attributes
    ----------
    k_ : int
        Number of clusters fitted.
    labels_ : numpy.ndarray
        Cluster of each customer, aligned with ``customer_ids_``.
    customer_ids_ : numpy.ndarray
        Customers clustered, sorted (those with a missing feature are left out).
    n_dropped_ : int
        Customers left out because a feature was missing or infinite.
    log_features_ : list of str
        Features that were log1p-transformed before scaling.
    scores_ : pandas.DataFrame
        Per candidate k: ``k``, ``silhouette``, ``smallest_share``, ``eligible``, ``chosen``.
    profiles_ : pandas.DataFrame
        Per cluster: ``cluster``, ``name``, ``size``, ``share`` and the mean of each feature.
    names_ : dict of int to str
        Readable name of each cluster.
    scaler_ : StandardScaler
        Scaling of the (log-transformed) features the model was fitted on.
    model_ : KMeans or GaussianMixture
        The fitted model, on the transformed and scaled features.

    Example
    -------
    >>> clusters = CustomerClusters(k=4, seed=1)  # doctest: +SKIP
    >>> labelled = clusters.fit(view).transform(view)  # doctest: +SKIP
    """

    def __init__(
        self,
        features: Sequence[str] = DEFAULT_FEATURES,
        k: int | Literal["auto"] = "auto",
        min_share: float = 0.05,
        seed: int = 0,
        method: Literal["kmeans", "gmm"] = "kmeans",
        k_range: Iterable[int] = range(2, 9),
        sample_size: int | None = 5000,
    ):
        self.features = features
        self.k = k
        self.min_share = min_share
        self.seed = seed
        self.method = method
        self.k_range = k_range
        self.sample_size = sample_size

    def __repr__(self) -> str:
        return (
            f"CustomerClusters(features={tuple(self.features)!r}, k={self.k!r}, "
            f"min_share={self.min_share!r}, seed={self.seed!r}, method={self.method!r})"
        )

    def fit(self, view: Any) -> CustomerClusters:
        """Learn the clusters of ``view`` (any supported frame); returns ``self``.

        Only ``customer_id`` and the features are collected into pandas, the one
        per-customer collect of fitting (scikit-learn needs the rows in memory);
        rows are sorted by ``customer_id`` so that every engine gives the same clusters.
        """
        candidates = self._check_params()
        ids, raw, self.n_dropped_ = _collect_features(view, list(self.features))
        _check_enough_rows(raw, candidates)
        self.log_features_ = _skewed(raw)
        self.scaler_ = StandardScaler().fit(_logged(raw, self.log_features_))
        scaled = self.scaler_.transform(_logged(raw, self.log_features_))
        scores, models = _fit_candidates(self, scaled, candidates)
        self.scores_ = _choose(scores, self.min_share, auto=self.k == "auto")
        self.k_ = int(self.scores_.loc[self.scores_["chosen"], "k"].iloc[0])
        self.model_, self.labels_ = models[self.k_]
        self.customer_ids_ = ids
        self.profiles_ = _profiles(raw, scaled, self.labels_, self.k_)
        self.names_ = {int(c): str(n) for c, n in self.profiles_[["cluster", "name"]].to_numpy()}
        return self

    def transform(self, view: Any) -> Any:
        """``view`` (same kind of frame) with ``cluster`` and ``cluster_name`` columns.

        The labels learned in :meth:`fit` are joined on ``customer_id`` in the
        view's engine; customers that were not clustered (a missing feature, or
        absent from the fitted view) get nulls. Existing ``cluster`` and
        ``cluster_name`` columns are replaced. To place the customers of another
        snapshot by their own features, use :meth:`predict`.
        """
        self._check_fitted()
        return self._labelled(view, self.customer_ids_, self.labels_)

    assign = transform

    def fit_transform(self, view: Any) -> Any:
        """``fit(view)`` then ``transform(view)``."""
        return self.fit(view).transform(view)

    def predict(self, view: Any) -> Any:
        """``view`` with the fitted cluster of each customer's *own* features in it.

        Unlike :meth:`transform`, which looks up the labels learned in :meth:`fit`,
        this places every customer of ``view`` (another snapshot, say 90 days
        earlier, for :func:`segkit.migration.migration`) in a fitted cluster. It
        collects ``customer_id`` and the features of ``view``, like :meth:`fit`.

        Example
        -------
        >>> earlier = clusters.predict(view_90_days_ago)  # doctest: +SKIP
        """
        self._check_fitted()
        ids, raw, _ = _collect_features(view, list(self.features))
        values = self.scaler_.transform(_logged(raw, self.log_features_))
        usable = np.isfinite(values).all(axis=1)  # log1p turns a value below -1 into NaN
        labels = self.model_.predict(values[usable]) if usable.any() else np.array([], int)
        return self._labelled(view, ids[usable], labels)

    def _check_fitted(self) -> None:
        if not hasattr(self, "labels_"):
            raise RuntimeError("CustomerClusters is not fitted yet; call fit(view) first")

    def _labelled(self, view: Any, ids: np.ndarray, labels: np.ndarray) -> Any:
        """``view`` with ``cluster`` and ``cluster_name`` joined from (ids, labels)."""
        lazy, back = as_lazy(view, TABLE)
        require_columns(lazy, ["customer_id"], TABLE)
        present = set(lazy.collect_schema().names())
        lazy = lazy.drop(*[c for c in ("cluster", "cluster_name") if c in present])
        table = pd.DataFrame(
            {
                "customer_id": ids,
                "cluster": pd.array(labels, dtype="Int64"),
                "cluster_name": pd.Series([self.names_[label] for label in labels], dtype="str"),
            }
        )
        return back(_attach(lazy, table))

    def _check_params(self) -> list[int]:
        """The candidate k, after checking every hyperparameter."""
        if isinstance(self.features, str) or not self.features:
            raise ValueError(f"features must be a non-empty list of columns, got {self.features!r}")
        if len(set(self.features)) != len(self.features):
            raise ValueError(f"features are listed twice: {list(self.features)}")
        if self.method not in ("kmeans", "gmm"):
            raise ValueError(f"method must be 'kmeans' or 'gmm', got {self.method!r}")
        if not 0 <= self.min_share <= 0.5:
            raise ValueError(f"min_share must be between 0 and 0.5, got {self.min_share!r}")
        if self.sample_size is not None and self.sample_size < 10:
            raise ValueError(f"sample_size must be at least 10 or None, got {self.sample_size!r}")
        candidates = [self.k] if self.k != "auto" else sorted(set(self.k_range))
        if not candidates or any(not _is_int(k) or k < 2 for k in candidates):
            source = "k" if self.k != "auto" else "k_range"
            raise ValueError(f"{source} must give numbers of clusters ≥ 2, got {candidates}")
        return [int(k) for k in candidates]


def cluster(
    view: Any,
    features: Sequence[str] = DEFAULT_FEATURES,
    k: int | Literal["auto"] = "auto",
    min_share: float = 0.05,
    seed: int = 0,
    method: Literal["kmeans", "gmm"] = "kmeans",
    k_range: Iterable[int] = range(2, 9),
) -> CustomerClusters:
    """Cluster the customers of ``view``: a fitted :class:`CustomerClusters`.

    ``.transform(view)`` adds the ``cluster`` and ``cluster_name`` columns to the
    view; ``.profiles_`` describes the clusters and ``.scores_`` shows why this
    number of clusters was chosen.

    Example
    -------
    >>> clusters = cluster(view)  # doctest: +SKIP
    >>> clusters.profiles_[["name", "share", "revenue"]]  # doctest: +SKIP
    >>> segments = clusters.transform(view)  # doctest: +SKIP
    """
    estimator = CustomerClusters(features, k, min_share, seed, method, k_range)
    return estimator.fit(view)


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _collect_features(view: Any, features: list[str]) -> tuple[np.ndarray, pd.DataFrame, int]:
    """Sorted customer ids, their raw features (complete rows only) and how many were dropped."""
    lazy, _ = as_lazy(view, TABLE)
    require_columns(lazy, ["customer_id", *features], TABLE)
    schema = lazy.collect_schema()
    for feature in features:
        if not schema[feature].is_numeric():
            raise DataContractError(TABLE, feature, "a numeric feature", f"dtype {schema[feature]}")
    table = collect_small(lazy.select("customer_id", *features))
    table = table.sort_values("customer_id", kind="stable").reset_index(drop=True)
    if not table["customer_id"].is_unique:
        repeated = table.loc[table["customer_id"].duplicated(), "customer_id"].head(3).tolist()
        raise DataContractError(TABLE, "customer_id", "one row per customer", f"{repeated} twice")
    raw = table[features].astype("float64")
    complete = np.isfinite(raw.to_numpy()).all(axis=1)
    ids = table.loc[complete, "customer_id"].to_numpy()
    return ids, raw[complete].reset_index(drop=True), int((~complete).sum())


def _check_enough_rows(raw: pd.DataFrame, candidates: list[int]) -> None:
    """Refuse data that cannot support the largest candidate k."""
    largest = max(candidates)
    if len(raw) < 2 * largest:
        raise ValueError(
            f"{TABLE}: {len(raw)} customers with complete features; clustering into up to "
            f"{largest} clusters needs at least {2 * largest}. Pass a smaller k or k_range."
        )
    distinct = len(np.unique(raw.to_numpy(), axis=0))
    if distinct < largest:
        what = (
            "all customers have identical features"
            if distinct == 1
            else f"only {distinct} distinct combinations of the features"
        )
        raise ValueError(
            f"{TABLE}: {what}; clustering into up to {largest} clusters needs at least "
            f"{largest} distinct customers. Pass a smaller k or k_range, or other features."
        )


def _skewed(raw: pd.DataFrame) -> list[str]:
    """Non-negative features skewed beyond ``SKEW_LIMIT`` (constant ones are not skewed)."""
    return [
        column
        for column in raw.columns
        if raw[column].min() >= 0 and abs(np.nan_to_num(raw[column].skew())) > SKEW_LIMIT
    ]


def _logged(raw: pd.DataFrame, log_features: list[str]) -> np.ndarray:
    values = raw.copy()
    values[log_features] = np.log1p(values[log_features])
    return values.to_numpy()


def _fit_candidates(
    params: CustomerClusters, scaled: np.ndarray, candidates: list[int]
) -> tuple[pd.DataFrame, dict[int, tuple[Any, np.ndarray]]]:
    """Fit one model per candidate k; their silhouette and smallest cluster share."""
    rows, models = [], {}
    for k in candidates:
        if params.method == "kmeans":
            model = KMeans(n_clusters=k, n_init=10, random_state=params.seed).fit(scaled)
        else:
            model = GaussianMixture(n_components=k, n_init=3, random_state=params.seed)
            model.fit(scaled)
        labels = model.predict(scaled)
        models[k] = (model, labels)
        smallest = np.bincount(labels, minlength=k).min() / len(labels)
        silhouette = _silhouette(scaled, labels, params.sample_size, params.seed)
        rows.append({"k": k, "silhouette": silhouette, "smallest_share": smallest})
    return pd.DataFrame(rows), models


def _silhouette(
    scaled: np.ndarray, labels: np.ndarray, sample_size: int | None, seed: int
) -> float:
    sample = sample_size if sample_size is not None and sample_size < len(labels) else None
    try:
        return float(silhouette_score(scaled, labels, sample_size=sample, random_state=seed))
    except ValueError:  # fewer than two clusters (in the sample): no silhouette
        return float("nan")


def _choose(scores: pd.DataFrame, min_share: float, auto: bool) -> pd.DataFrame:
    """Mark eligible k and the chosen one: best silhouette among eligible, else smallest k."""
    scores = scores.assign(eligible=scores["smallest_share"] >= min_share)
    ranked = scores["silhouette"].where(scores["eligible"])
    chosen = 0
    if auto and ranked.notna().any():
        chosen = int(ranked.idxmax())
    elif auto:
        warnings.warn(
            f"no k in {scores['k'].tolist()} gives every cluster at least {min_share:.1%} of "
            f"customers; falling back to the smallest, k={scores['k'].iloc[0]}",
            UserWarning,
            stacklevel=3,
        )
    return scores.assign(chosen=scores.index == chosen)


def _profiles(raw: pd.DataFrame, scaled: np.ndarray, labels: np.ndarray, k: int) -> pd.DataFrame:
    """Size, share and mean raw features per cluster, named from the scaled means."""
    grouped = raw.groupby(labels)
    profiles = grouped.mean().reindex(range(k))
    sizes = grouped.size().reindex(range(k), fill_value=0)
    z = pd.DataFrame(scaled, columns=raw.columns).groupby(labels).mean().reindex(range(k))
    names = _unique([_describe(z.loc[c]) for c in range(k)])
    profiles.insert(0, "share", sizes / len(labels))
    profiles.insert(0, "size", sizes)
    profiles.insert(0, "name", names)
    profiles.insert(0, "cluster", range(k))
    return profiles.reset_index(drop=True)


def _describe(z: pd.Series) -> str:
    """Words for the (at most two) features furthest from the average, in feature order.

    ``z`` is the cluster's mean of each scaled feature, i.e. how many standard
    deviations it lies from the average customer; "average" when none is ``NAME_MIN_Z`` away.
    """
    distinct = z[z.abs() >= NAME_MIN_Z]
    top = set(distinct.abs().sort_values(ascending=False, kind="stable").index[:2])
    words = []
    for feature in (f for f in z.index if f in top):
        low, high = VOCABULARY.get(feature, (f"low {feature}", f"high {feature}"))
        words.append(high if z[feature] > 0 else low)
    return ", ".join(words) or "average"


def _unique(names: list[str]) -> list[str]:
    """Number repeated names in order: "lapsed", "lapsed (2)", ..."""
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return unique


def _attach(lazy: nw.LazyFrame, labels: pd.DataFrame) -> nw.LazyFrame:
    """Left-join the small ``labels`` table onto ``lazy`` in lazy's engine."""
    small = nw.from_native(labels, eager_only=True)
    implementation = lazy.implementation
    if implementation.is_pandas_like():
        return lazy.join(small.lazy(), on="customer_id", how="left")
    if implementation.is_polars():  # narwhals' join does not keep Polars' row order
        joined = lazy.to_native().join(
            small.to_polars().lazy(), on="customer_id", how="left", maintain_order="left"
        )
        return nw.from_native(joined)
    session = getattr(lazy.to_native(), "sparkSession", None)
    try:
        return lazy.join(
            small.lazy(backend=implementation, session=session), on="customer_id", how="left"
        )
    except Exception as error:
        if "different connections" not in str(error):
            raise
    # A DuckDB relation on its own connection cannot join a table made on the default one;
    # map the ids with an expression instead (slower on very large views).
    ids = labels["customer_id"].tolist()
    return lazy.with_columns(
        cluster=nw.col("customer_id").replace_strict(
            ids, labels["cluster"].tolist(), default=None, return_dtype=nw.Int64()
        ),
        cluster_name=nw.col("customer_id").replace_strict(
            ids, labels["cluster_name"].tolist(), default=None, return_dtype=nw.String()
        ),
    )
