"""Segment migration between two snapshots: exact counts, flows, sentences, engines."""

from __future__ import annotations

import duckdb
import pandas as pd
import polars as pl
import pytest

import segkit as sk
from segkit.migration import Migration, migration

# Ten customers 90 days ago, nine today; the comments in AFTER say what each customer did.
BEFORE = pd.DataFrame(
    {
        "customer_id": list("abcdefghij"),
        "segment": ["Champions"] * 4 + ["At risk"] * 4 + ["New"] * 2,
    }
)
AFTER = pd.DataFrame(
    {
        "customer_id": list("abcdfgikl"),
        "segment": [
            "Champions",  # a stays
            "Champions",  # b stays
            "At risk",  # c Champions -> At risk
            "Champions",  # d stays
            "At risk",  # f stays (e, h gone)
            "Lost",  # g At risk -> Lost
            "Champions",  # i New -> Champions (j gone)
            "Champions",  # k new customer
            "New",  # l new customer
        ],
    }
)
EXPECTED_TRANSITIONS = [
    ("At risk", "At risk", 1, 0.25),
    ("At risk", "Lost", 1, 0.25),
    ("At risk", "(gone)", 2, 0.5),
    ("Champions", "At risk", 1, 0.25),
    ("Champions", "Champions", 3, 0.75),
    ("New", "Champions", 1, 0.5),
    ("New", "(gone)", 1, 0.5),
    ("(new)", "Champions", 1, 0.5),
    ("(new)", "New", 1, 0.5),
]


@pytest.fixture(scope="module")
def moves() -> Migration:
    return migration(BEFORE, AFTER)


def test_transitions_count_every_customer_once(moves):
    rows = list(moves.transitions.itertuples(index=False, name=None))
    assert rows == EXPECTED_TRANSITIONS
    assert moves.transitions["customers"].sum() == len(
        set(BEFORE.customer_id) | set(AFTER.customer_id)
    )
    assert moves.transitions.dtypes.astype(str).tolist() == ["str", "str", "int64", "float64"]


def test_matrix_is_from_by_to_with_zeros(moves):
    expected = pd.DataFrame(
        [[1, 0, 1, 0, 2], [1, 3, 0, 0, 0], [0, 1, 0, 0, 1], [0, 1, 0, 1, 0]],
        index=pd.Index(["At risk", "Champions", "New", "(new)"], name="from_segment"),
        columns=pd.Index(["At risk", "Champions", "Lost", "New", "(gone)"], name="to_segment"),
    )
    pd.testing.assert_frame_equal(moves.matrix, expected)


def test_flows_per_segment_sorted_by_net_change(moves):
    expected = pd.DataFrame(
        {
            "segment": ["Champions", "Lost", "New", "At risk"],
            "before": [4, 0, 2, 4],
            "after": [5, 1, 1, 2],
            "stayed": [3, 0, 0, 1],
            "inflow": [2, 1, 1, 1],
            "outflow": [1, 0, 2, 3],
            "net_change": [1, 1, -1, -2],
            "growth": [0.25, float("nan"), -0.5, -0.5],
        }
    ).astype({"segment": "str"})
    pd.testing.assert_frame_equal(moves.flows, expected)


def test_summary_says_who_grows_and_where_the_leaks_go(moves):
    assert moves.summary().splitlines() == [
        "Champions is growing, 4 → 5 customers (+25%): 2 came in, 1 of them from New; "
        "1 left, all to At risk.",
        "Lost is new with 1 customer: 1 came in, all from At risk.",
        "New is leaking, 2 → 1 customer (-50%): 2 left, 1 of them to Champions; "
        "1 came in, all from (new).",
        "At risk is leaking, 4 → 2 customers (-50%): 3 left, 2 of them to (gone); "
        "1 came in, all from Champions.",
    ]


@pytest.mark.parametrize(
    "to_engine",
    [pl.from_pandas, lambda frame: pl.from_pandas(frame).lazy(), duckdb.from_df],
    ids=["polars", "polars-lazy", "duckdb"],
)
def test_engines_give_the_same_migration(to_engine, moves):
    other = migration(to_engine(BEFORE), to_engine(AFTER))
    pd.testing.assert_frame_equal(other.transitions, moves.transitions)
    pd.testing.assert_frame_equal(other.matrix, moves.matrix)
    pd.testing.assert_frame_equal(other.flows, moves.flows)


def test_identical_snapshots_everyone_stays():
    same = migration(BEFORE, BEFORE.copy())
    assert (same.transitions["from_segment"] == same.transitions["to_segment"]).all()
    assert same.transitions["share_of_from"].eq(1.0).all()
    assert (same.flows[["inflow", "outflow", "net_change"]] == 0).all().all()
    assert same.flows["growth"].eq(0.0).all()
    assert same.summary().splitlines()[0] == "At risk is steady at 4 customers: all stayed."


def test_disjoint_snapshots_everyone_is_gone_or_new():
    later = BEFORE.assign(customer_id=BEFORE["customer_id"].str.upper())
    moves = migration(BEFORE, later)
    gone = moves.transitions[moves.transitions["to_segment"] == "(gone)"]
    new = moves.transitions[moves.transitions["from_segment"] == "(new)"]
    assert gone["customers"].sum() == new["customers"].sum() == len(BEFORE)
    assert len(gone) + len(new) == len(moves.transitions)
    assert (moves.flows["stayed"] == 0).all() and (moves.flows["net_change"] == 0).all()
    assert moves.summary().splitlines()[0] == (
        "At risk is steady at 4 customers: 4 left, all to (gone); 4 came in, all from (new)."
    )


def test_empty_snapshots_give_empty_tables():
    empty = migration(BEFORE.head(0), AFTER.head(0))
    assert empty.transitions.empty and empty.matrix.empty and empty.flows.empty
    assert list(empty.transitions.columns) == [
        "from_segment",
        "to_segment",
        "customers",
        "share_of_from",
    ]
    assert empty.summary() == "No customers in either snapshot."
    only_new = migration(BEFORE.head(0), AFTER)
    assert set(only_new.transitions["from_segment"]) == {"(new)"}
    assert only_new.flows["before"].eq(0).all()


def test_numeric_and_missing_segments_become_text():
    before = pd.DataFrame({"id": [1, 2, 3], "cluster": pd.array([0, 1, None], dtype="Int64")})
    after = pd.DataFrame({"id": [1, 2, 3], "cluster": pd.array([1, 1, 0], dtype="Int64")})
    moves = migration(before, after, segment="cluster", customer="id")
    assert list(moves.transitions.itertuples(index=False, name=None)) == [
        ("0", "1", 1, 1.0),
        ("1", "1", 1, 1.0),
        ("(no segment)", "0", 1, 1.0),
    ]


def test_inputs_are_not_mutated():
    before, after = BEFORE.copy(), AFTER.copy()
    migration(before, after)
    pd.testing.assert_frame_equal(before, BEFORE)
    pd.testing.assert_frame_equal(after, AFTER)


def test_missing_column_names_the_snapshot_and_column():
    with pytest.raises(sk.DataContractError, match="table 'after', column 'segment'"):
        migration(BEFORE, AFTER.rename(columns={"segment": "tier"}))
    with pytest.raises(sk.DataContractError, match="table 'before', column 'customer_id'"):
        migration(BEFORE.rename(columns={"customer_id": "id"}), AFTER)


def test_snapshots_of_different_engines_are_refused():
    with pytest.raises(TypeError, match="same engine.*got polars and pandas"):
        migration(pl.from_pandas(BEFORE), AFTER)


def test_a_customer_twice_in_a_snapshot_is_refused():
    doubled = pd.concat([BEFORE, BEFORE.head(1)])
    with pytest.raises(sk.DataContractError, match="one row per customer; found 11 rows for 10"):
        migration(doubled, AFTER)
    missing = AFTER.assign(customer_id=AFTER["customer_id"].where(AFTER.index > 0))
    with pytest.raises(sk.DataContractError, match="no missing ids; found 1 missing"):
        migration(BEFORE, missing)
