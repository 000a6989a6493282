"""Rule segments: the condition grammar, first-match order, nulls, MECE reports, engine parity."""

from __future__ import annotations

import importlib

import duckdb
import narwhals as nw
import numpy as np
import pandas as pd
import polars as pl
import pytest

from segkit.rule_segments import MeceReport, check_mece, rule_segments

# The package exports a function of the same name, which `import segkit.rule_segments as m`
# would return; the module itself is what the test patches.
rule_segments_module = importlib.import_module("segkit.rule_segments")

ENGINES = ["pandas", "polars", "polars_nan", "polars_lazy", "duckdb"]


@pytest.fixture
def people() -> pd.DataFrame:
    """Five customers; c has no age (NaN), d no city, c no interests."""
    return pd.DataFrame(
        {
            "customer_id": ["d", "b", "a", "e", "c"],
            "age": [30.0, 45.0, 25.0, 19.0, np.nan],
            "city": ["", "Paris", "London", "Rome", "Berlin"],
            "interests": ["travelling|art", "book", "travel|books", "art|travel", None],
            "revenue": [0.0, 600.0, 100.0, 500.0, 50.0],
            "orders": [3, 1, 2, 1, 0],
            "consent_marketing": [False, False, True, True, True],
        }
    ).replace({"city": {"": None}})


def engines(frame: pd.DataFrame) -> dict[str, object]:
    df = frame
    return {
        "pandas": df,
        "polars": pl.from_pandas(df),
        "polars_nan": pl.from_pandas(df, nan_to_null=False),  # NaN age, not null
        "polars_lazy": pl.from_pandas(df).lazy(),
        "duckdb": duckdb.sql("select * from df"),
    }


def segments(result, column="segment") -> dict[str, str]:
    frame = nw.from_native(result)
    if isinstance(frame, nw.LazyFrame):
        frame = frame.collect()
    return dict(frame.select("customer_id", column).rows())


def matched(frame, condition: str) -> str:
    """Ids (sorted, as one string) of the rows ``condition`` matches."""
    result = segments(rule_segments(frame, {"X": condition}))
    return "".join(sorted(cid for cid, name in result.items() if name == "X"))


GRAMMAR = [
    ("age < 30", "ae"),
    ("age <= 30", "ade"),
    ("age > 30", "b"),
    ("age >= 30", "bd"),
    ("age == 30", "d"),
    ("age != 30", "abe"),  # unknown age never matches, not even !=
    ("age < 30.5", "ade"),
    ("30 > age", "ae"),
    ("18 <= age < 30", "ae"),
    ("0 < orders < age", "abde"),
    ("revenue > -1", "abcde"),
    ("revenue > orders", "abce"),
    ("city == 'Paris'", "b"),
    ("city in ['London', 'Berlin']", "ac"),
    ("city not in ['London', 'Berlin']", "be"),
    ("city in ('Rome',)", "e"),
    ("city in []", ""),
    ("age is None", "c"),
    ("age is not None", "abde"),
    ("city is None", "d"),
    ("consent_marketing", "ace"),
    ("not consent_marketing", "bd"),
    ("consent_marketing == True", "ace"),
    ("consent_marketing != True", "bd"),
    ("revenue >= 500 and orders == 1", "be"),
    ("revenue >= 500 or age < 20", "be"),
    ("not (age < 30)", "bcd"),  # documented: not negates the false of a null comparison
    ("(age < 30 or city == 'Paris') and orders > 1", "a"),
    ("not (revenue < 100 or orders == 1)", "a"),
    ("has_tag(interests, 'travel')", "ae"),
    ("has_tag(interests, 'book')", "b"),
    ("has_tag(interests, 'books')", "a"),
    ("has_tag(interests, 'art')", "de"),
    ("has_tag(interests, 'trav')", ""),
    ("not has_tag(interests, 'travel')", "bcd"),
    ("True", "abcde"),
    ("False", ""),
    ("  age < 30  ", "ae"),
]


@pytest.mark.parametrize("engine", ["pandas", "polars", "polars_nan", "duckdb"])
@pytest.mark.parametrize(("condition", "expected"), GRAMMAR)
def test_grammar(people, engine, condition, expected):
    assert matched(engines(people)[engine], condition) == expected


@pytest.mark.parametrize(
    ("condition", "part", "why"),
    [
        ("len(city) > 3", "len(city)", "function calls are not allowed, except has_tag"),
        ("__import__('os').system('x')", "__import__('os').system('x')", "only function"),
        ("city.upper() == 'PARIS'", "city.upper()", "function calls are not allowed"),
        ("city.upper == 'PARIS'", "city.upper", "attributes are not allowed"),
        ("interests[0] == 't'", "interests[0]", "subscripts are not allowed"),
        ("age + 1 > 30", "age + 1", "arithmetic is not allowed"),
        ("-age < 3", "-age", "arithmetic is not allowed"),
        ("age if age else 3", "age if age else 3", "not allowed"),
        ("lambda: 1", "lambda: 1", "not allowed"),
        ("[x for x in city]", "[x for x in city]", "not allowed"),
        ("height > 180", "height", "unknown column"),
        ("has_tag(hobbies, 'x')", "hobbies", "unknown column"),
        ("age == None", "None", "is None"),
        ("city in 'London'", "'London'", "list literal"),
        ("city in [town]", "town", "expected a number, a string"),
        ("age is 30", "30", "only compare with None"),
        ("1 < 2", "1", "needs a column"),
        ("age < 'thirty'", "'thirty'", "cannot be compared"),
        ("city == 3", "3", "cannot be compared"),
        ("city in ['Rome', 3]", "3", "cannot be compared"),
        ("revenue", "revenue", "must be boolean"),
        ("has_tag(interests)", "has_tag(interests)", "exactly a column and a tag"),
        ("has_tag(interests, tag='x')", "has_tag(interests, tag='x')", "exactly a column"),
        ("has_tag(interests, 'a|b')", "'a|b'", "without '|'"),
        ("has_tag(interests, '')", "''", "non-empty"),
        ("has_tag(age, 'x')", "age", "text column"),
        ("has_tag('travel', interests)", "'travel'", "expected a column name"),
    ],
)
def test_forbidden_constructs_name_rule_condition_and_part(people, condition, part, why):
    rules = {"Fine": "age > 1", "Bad one": condition}
    with pytest.raises(ValueError, match="rule 'Bad one'") as caught:
        rule_segments(people, rules)
    message = str(caught.value)
    assert repr(condition) in message
    assert why in message
    assert message.endswith(f": {part}")


def test_syntax_error_names_the_rule(people):
    with pytest.raises(ValueError, match=r"rule 'Broken': condition 'age <' is not valid"):
        rule_segments(people, {"Broken": "age <"})


def test_rules_must_be_a_mapping_of_strings(people):
    with pytest.raises(ValueError, match="mapping of segment name to condition"):
        rule_segments(people, ["age < 30"])
    with pytest.raises(
        ValueError, match="rule 'Young': the name and the condition must be strings"
    ):
        rule_segments(people, {"Young": True})


RULES = {
    "Young urban": "age < 30 and city in ['London', 'Berlin', 'Rome']",
    "Travellers": "has_tag(interests, 'travel')",
    "Big spenders": "revenue >= 500",
    "Lapsed": "orders == 0",
}


def test_first_matching_rule_wins_and_default_for_the_rest(people):
    # a is young urban and a traveller; e young urban, traveller and big spender
    assert segments(rule_segments(people, RULES)) == {
        "a": "Young urban",
        "b": "Big spenders",
        "c": "Lapsed",
        "d": "Other",
        "e": "Young urban",
    }
    reordered = {name: RULES[name] for name in ["Big spenders", "Travellers", "Young urban"]}
    result = rule_segments(people, reordered, default="Unsegmented", column="persona")
    assert segments(result, "persona") == {
        "a": "Travellers",
        "b": "Big spenders",
        "c": "Unsegmented",
        "d": "Unsegmented",
        "e": "Big spenders",
    }


@pytest.mark.parametrize("engine", ENGINES)
def test_rule_segments_same_kind_sorted_and_identical_across_engines(people, engine):
    native = engines(people)[engine]
    result = rule_segments(native, RULES)
    assert type(result) is type(native)
    frame = nw.from_native(result)
    frame = frame.collect() if isinstance(frame, nw.LazyFrame) else frame
    assert frame["customer_id"].to_list() == ["a", "b", "c", "d", "e"]
    assert frame["segment"].to_list() == [
        "Young urban",
        "Big spenders",
        "Lapsed",
        "Other",
        "Young urban",
    ]


def test_rule_segments_does_not_mutate_the_input(people):
    before = people.copy()
    rule_segments(people, {**RULES, "segment": "revenue > 0"}, column="city")
    pd.testing.assert_frame_equal(people, before)


def test_empty_frame_and_empty_rules(people):
    empty = rule_segments(people.iloc[0:0], RULES)
    assert len(empty) == 0
    assert list(empty.columns) == [*people.columns, "segment"]
    assert set(rule_segments(people, {})["segment"]) == {"Other"}


OVERLAPPING = {"Young": "age < 30", "Big": "revenue >= 500", "Consent": "consent_marketing"}


@pytest.mark.parametrize("engine", ENGINES)
def test_mece_report_on_overlapping_rules(people, engine):
    # Young {a, e}, Big {b, e}, Consent {a, c, e}; d matches nothing
    report = check_mece(engines(people)[engine], OVERLAPPING)
    assert isinstance(report, MeceReport)
    assert report.rules.to_dict("list") == {
        "rule": ["Young", "Big", "Consent"],
        "rows_matched": [2, 2, 3],
        "rows_only": [0, 1, 1],
    }
    assert report.overlaps.to_dict("records") == [
        {"rule_a": "Young", "rule_b": "Big", "rows": 1},
        {"rule_a": "Young", "rule_b": "Consent", "rows": 2},
        {"rule_a": "Big", "rule_b": "Consent", "rows": 1},
    ]
    assert (report.uncovered, report.total, report.is_mece) == (1, 5, False)


def test_mece_report_on_exclusive_rules_leaving_a_gap(people):
    report = check_mece(people, {"Young": "age < 30", "Older": "age >= 30"})
    assert report.rules["rows_matched"].tolist() == [2, 2]
    assert report.rules["rows_only"].tolist() == [2, 2]
    assert report.overlaps.empty
    assert list(report.overlaps.columns) == ["rule_a", "rule_b", "rows"]
    assert (report.uncovered, report.total, report.is_mece) == (1, 5, False)


def test_mece_report_on_a_partition(people):
    rules = {"Young": "age < 30", "Older": "age >= 30", "Age unknown": "age is None"}
    report = check_mece(engines(people)["duckdb"], rules)
    assert (report.uncovered, report.total, report.is_mece) == (0, 5, True)
    assert report.summary().splitlines()[0] == "3 rules over 5 rows: MECE"


def test_mece_summary_is_readable(people):
    summary = check_mece(people, OVERLAPPING).summary()
    assert summary.splitlines() == [
        "3 rules over 5 rows: not MECE",
        "  overlap: Young & Big: 1 row",
        "  overlap: Young & Consent: 2 rows",
        "  overlap: Big & Consent: 1 row",
        "  uncovered: 1 row",
        "  Young: 2 rows (0 matched by no other rule)",
        "  Big: 2 rows (1 matched by no other rule)",
        "  Consent: 3 rows (1 matched by no other rule)",
    ]


def test_mece_counts_in_one_collect(people, monkeypatch):
    calls = []
    real = rule_segments_module.collect_small

    def counting(lazy):
        calls.append(lazy)
        return real(lazy)

    monkeypatch.setattr(rule_segments_module, "collect_small", counting)
    check_mece(engines(people)["polars_lazy"], RULES)
    assert len(calls) == 1


def test_mece_on_an_empty_frame(people):
    report = check_mece(people.iloc[0:0], OVERLAPPING)
    assert (report.uncovered, report.total, report.is_mece) == (0, 0, True)
    assert report.rules["rows_matched"].tolist() == [0, 0, 0]


def test_mece_rejects_bad_rules_like_rule_segments(people):
    with pytest.raises(ValueError, match="rule 'Big': condition 'revenue.sum\\(\\) > 1'"):
        check_mece(people, {"Young": "age < 30", "Big": "revenue.sum() > 1"})


def test_mece_with_constant_rules_and_with_no_rules(people):
    report = check_mece(engines(people)["duckdb"], {"Everyone": "True", "Nobody": "False"})
    assert report.rules["rows_matched"].tolist() == [5, 0]
    assert (report.uncovered, report.is_mece) == (0, True)
    nothing = check_mece(people, {})
    assert (nothing.uncovered, nothing.total, nothing.is_mece) == (5, 5, False)
    assert nothing.rules.empty
