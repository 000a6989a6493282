"""Customer clusters: the right k on known blobs, the min_share guard, names, engines."""

from __future__ import annotations

import duckdb
import narwhals as nw
import numpy as np
import pandas as pd
import polars as pl
import pytest
from sklearn.metrics import adjusted_rand_score

import segkit as sk
from segkit.clustering import CustomerClusters, _describe, _unique, cluster
from segkit.migration import migration

FEATURES = ["recency_days", "orders", "revenue"]
#: Three well separated groups of customers: n, then (mean, sd) of each feature.
BLOBS = {
    "vip": (300, (15, 4), (10, 1.5), (3000, 200)),
    "lapsed": (500, (330, 20), (1.2, 0.2), (40, 8)),
    "frequent small": (400, (60, 8), (25, 2), (500, 50)),
}
#: A far-away 1% group (of 1212 customers): k=4 isolates it, the guard must refuse that k.
TINY = (12, (5, 2), (80, 4), (40000, 900))


def make_view(seed: int = 0, blobs: dict | None = None) -> pd.DataFrame:
    """A customer view with a ``blob`` column holding the true group, rows shuffled."""
    rng = np.random.default_rng(seed)
    frames = [
        pd.DataFrame(
            {
                feature: rng.normal(mean, sd, n)
                for feature, (mean, sd) in zip(FEATURES, spec, strict=True)
            }
        ).assign(blob=name)
        for name, (n, *spec) in (blobs or BLOBS).items()
    ]
    view = pd.concat(frames, ignore_index=True).sample(frac=1, random_state=seed)
    view.insert(0, "customer_id", [f"c{i:05d}" for i in range(len(view))])
    return view.reset_index(drop=True)


@pytest.fixture(scope="module")
def view() -> pd.DataFrame:
    return make_view()


@pytest.fixture(scope="module")
def fitted(view) -> CustomerClusters:
    return cluster(view)


def to_polars(native) -> pl.DataFrame:
    frame = nw.from_native(native)
    return (frame.collect() if isinstance(frame, nw.LazyFrame) else frame).to_polars()


def truth_of(clusters: CustomerClusters, view: pd.DataFrame) -> pd.Series:
    return view.set_index("customer_id").loc[clusters.customer_ids_, "blob"]


def test_auto_k_finds_the_three_blobs(fitted, view):
    assert fitted.k_ == 3
    assert adjusted_rand_score(truth_of(fitted, view), fitted.labels_) >= 0.95
    scores = fitted.scores_
    assert scores["k"].tolist() == list(range(2, 9))
    assert scores.loc[scores["chosen"], "k"].tolist() == [3]
    assert scores.loc[scores["chosen"], "silhouette"].item() == scores["silhouette"].max()
    assert list(scores.columns) == ["k", "silhouette", "smallest_share", "eligible", "chosen"]


def test_names_are_readable_and_unique(fitted, view):
    # Hand-checked mean z-scores per blob (recency, orders, log1p revenue; scaled), the two
    # largest |z| of at least 0.5 name a cluster, in feature order:
    #   vip             -1.0  -0.1  +1.4  -> recent, high value
    #   lapsed          +1.2  -1.0  -1.1  -> lapsed, low value   (orders is third)
    #   frequent small  -0.7  +1.3  +0.3  -> recent, frequent
    truth = truth_of(fitted, view)
    named = pd.Series(fitted.labels_, index=truth.index).map(fitted.names_)
    by_blob = named.groupby(truth.to_numpy()).agg(lambda names: names.mode().item())
    assert by_blob.to_dict() == {
        "vip": "recent, high value",
        "lapsed": "lapsed, low value",
        "frequent small": "recent, frequent",
    }
    assert sorted(fitted.names_.values()) == sorted(fitted.profiles_["name"])


def test_names_use_marketing_words_a_generic_fallback_and_numbers_for_repeats():
    z = pd.Series({"recency_days": 0.2, "orders": -0.9, "revenue": 0.6, "margin": -2.0})
    assert _describe(z) == "one-off, low margin"
    assert _describe(z * 0.1) == "average"
    assert _unique(["lapsed", "recent", "lapsed", "lapsed"]) == [
        "lapsed",
        "recent",
        "lapsed (2)",
        "lapsed (3)",
    ]


def test_profiles_give_size_share_and_raw_means(fitted, view):
    profiles = fitted.profiles_.set_index("name")
    assert list(fitted.profiles_.columns) == ["cluster", "name", "size", "share", *FEATURES]
    assert profiles["size"].sum() == len(view)
    assert profiles["share"].sum() == pytest.approx(1.0)
    vip = view[view["blob"] == "vip"]
    assert profiles.loc["recent, high value", "size"] == len(vip)
    assert profiles.loc["recent, high value", "revenue"] == pytest.approx(vip["revenue"].mean())
    assert fitted.log_features_ == ["revenue"]
    assert fitted.n_dropped_ == 0


def test_min_share_guard_refuses_the_k_that_isolates_a_tiny_group():
    view = make_view(blobs={**BLOBS, "tiny": TINY})
    guarded = cluster(view, k_range=range(2, 6))
    scores = guarded.scores_.set_index("k")
    assert scores.loc[4, "smallest_share"] == pytest.approx(12 / 1212)
    assert not scores.loc[4, "eligible"]
    assert scores.loc[4, "silhouette"] > scores.loc[3, "silhouette"]
    assert guarded.k_ == 3
    assert cluster(view, min_share=0, k_range=range(2, 6)).k_ == 4


def test_no_eligible_k_falls_back_to_the_smallest_with_a_warning(view):
    with pytest.warns(UserWarning, match="falling back to the smallest, k=3"):
        clusters = cluster(view, k_range=range(3, 6), min_share=0.4)
    assert clusters.k_ == 3
    assert not clusters.scores_["eligible"].any()


def test_same_seed_same_clusters(view):
    first, second = (cluster(view, seed=7, k_range=range(2, 5)) for _ in range(2))
    np.testing.assert_array_equal(first.labels_, second.labels_)
    pd.testing.assert_frame_equal(first.scores_, second.scores_)


def test_fixed_k_fits_that_k_only(view):
    clusters = CustomerClusters(k=2).fit(view)
    assert clusters.k_ == 2
    assert clusters.scores_["k"].tolist() == [2] and clusters.scores_["chosen"].all()


@pytest.mark.parametrize(
    "to_engine",
    [
        pl.from_pandas,
        lambda frame: pl.from_pandas(frame).lazy(),
        duckdb.from_df,
        lambda frame: duckdb.connect().from_df(frame),
    ],
    ids=["polars", "polars-lazy", "duckdb", "duckdb-own-connection"],
)
def test_engines_give_identical_labels_and_keep_their_kind(to_engine, fitted, view):
    native = to_engine(view)
    clusters = cluster(native)
    np.testing.assert_array_equal(clusters.customer_ids_, fitted.customer_ids_)
    np.testing.assert_array_equal(clusters.labels_, fitted.labels_)
    labelled = clusters.transform(native)
    assert type(labelled) is type(native)
    expected = pl.from_pandas(fitted.transform(view))
    assert to_polars(labelled).sort("customer_id").equals(expected.sort("customer_id"))


def test_transform_adds_cluster_and_name_and_nulls_dropped_rows(fitted, view):
    gappy = view.copy()
    gappy.loc[[0, 1], "revenue"] = [np.nan, np.inf]
    clusters = cluster(gappy)
    labelled = clusters.transform(gappy)
    assert clusters.n_dropped_ == 2 and len(clusters.customer_ids_) == len(view) - 2
    assert list(labelled.columns) == [*view.columns, "cluster", "cluster_name"]
    in_polars = clusters.transform(pl.from_pandas(gappy))
    assert in_polars["customer_id"].to_list() == gappy["customer_id"].tolist()  # order kept
    assert str(labelled["cluster"].dtype) == "Int64"
    assert labelled.loc[[0, 1], ["cluster", "cluster_name"]].isna().all().all()
    assert labelled["cluster"].iloc[2:].notna().all()
    pd.testing.assert_frame_equal(labelled[view.columns], gappy)  # input order kept, not mutated
    relabelled = clusters.assign(labelled)
    assert list(relabelled.columns) == list(labelled.columns)


def test_predict_places_another_snapshot_by_its_own_features(fitted, view):
    pd.testing.assert_frame_equal(fitted.predict(view), fitted.transform(view))
    vip = view["blob"] == "vip"
    earlier = view.copy()  # 90 days ago the VIPs looked like the lapsed customers
    earlier.loc[vip, FEATURES] = [330.0, 1.0, 40.0]
    placed = fitted.predict(pl.from_pandas(earlier))
    assert isinstance(placed, pl.DataFrame)
    assert set(placed.filter(pl.Series(vip))["cluster_name"]) == {"lapsed, low value"}
    moves = migration(placed, fitted.transform(pl.from_pandas(view)), segment="cluster_name")
    flows = moves.flows.set_index("segment")
    assert flows.loc["recent, high value", ["before", "after"]].tolist() == [0, vip.sum()]
    assert moves.matrix.loc["lapsed, low value", "recent, high value"] == vip.sum()


def test_gaussian_mixture_finds_the_blobs(view):
    clusters = cluster(view, method="gmm")
    assert clusters.k_ == 3
    assert adjusted_rand_score(truth_of(clusters, view), clusters.labels_) >= 0.95
    assert sorted(clusters.names_.values()) == [
        "lapsed, low value",
        "recent, frequent",
        "recent, high value",
    ]


def test_constant_feature_is_kept_without_dividing_by_zero(view):
    clusters = cluster(view.assign(items=1.0), features=[*FEATURES, "items"])
    assert clusters.k_ == 3
    assert (clusters.profiles_["items"] == 1.0).all()
    assert not any("items" in name for name in clusters.names_.values())


def test_unknown_feature_is_a_data_contract_error(view):
    with pytest.raises(sk.DataContractError, match="column 'margin'"):
        cluster(view, features=["recency_days", "margin"])


def test_text_feature_is_a_data_contract_error(view):
    with pytest.raises(sk.DataContractError, match="column 'blob': expected a numeric feature"):
        cluster(view, features=["recency_days", "blob"])


def test_too_few_customers_for_the_largest_k_is_refused(view):
    with pytest.raises(ValueError, match="10 customers .* up to 8 clusters needs at least 16"):
        cluster(view.head(10))
    assert cluster(view.head(10), k_range=range(2, 4)).k_ in (2, 3)


def test_identical_customers_are_refused(view):
    same = view.assign(recency_days=5.0, orders=2.0, revenue=70.0)
    with pytest.raises(ValueError, match="all customers have identical features"):
        cluster(same)
    three_kinds = view.assign(revenue=view.index % 3, orders=1.0, recency_days=1.0)
    with pytest.raises(ValueError, match="only 3 distinct combinations .* at least 8"):
        cluster(three_kinds)


def test_a_customer_twice_in_the_view_is_refused(view):
    with pytest.raises(sk.DataContractError, match="one row per customer"):
        cluster(pd.concat([view, view.head(2)]))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"method": "dbscan"}, "method must be"),
        ({"k": 1}, "k must give numbers of clusters ≥ 2"),
        ({"k_range": []}, "k_range must give"),
        ({"min_share": 0.6}, "min_share must be between"),
        ({"features": "revenue"}, "features must be a non-empty list"),
    ],
)
def test_bad_hyperparameters_are_named(view, params, message):
    with pytest.raises(ValueError, match=message):
        CustomerClusters(**params).fit(view)


def test_init_only_stores_and_transform_needs_fit(view):
    estimator = CustomerClusters(k=5, method="nonsense")
    assert estimator.k == 5 and estimator.method == "nonsense"
    with pytest.raises(RuntimeError, match="not fitted"):
        CustomerClusters().transform(view)
