"""Rule-based segments: named conditions, written in the parameters, evaluated in the engine.

A rule set is an ordered mapping of segment name to condition, as a params YAML
gives it::

    rules:
      Young urban: "age < 30 and city in ['London', 'Berlin']"
      Travellers: "has_tag(interests, 'travel')"
      Big spenders: "revenue >= 500"
      Lapsed: "recency_days > 365 or orders == 0"

Conditions are parsed with :mod:`ast` into narwhals expressions, never
evaluated as Python. The grammar is small: column names, numbers, strings,
True/False/None, comparisons (``<  <=  >  >=  ==  !=``, chained as in
``18 <= age < 30``), ``in`` / ``not in`` a list literal, ``is None`` /
``is not None``, ``and`` / ``or`` / ``not``, parentheses, a bare boolean column,
and ``has_tag(column, 'tag')``, true when the '|'-separated tags of ``column``
include exactly ``tag`` ('book' does not match 'books'; tags are case-sensitive).

A comparison with a missing value (null, or NaN in a float column) is false,
``!=`` and ``not in`` included; ``not`` negates that false, so ``not age < 30``
matches customers of unknown age while ``age >= 30`` does not.

Example
-------
>>> import pandas as pd
>>> frame = pd.DataFrame({"customer_id": ["a", "b"], "revenue": [900.0, 20.0]})
>>> rule_segments(frame, {"Big spenders": "revenue >= 500"})["segment"].tolist()
['Big spenders', 'Other']
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass
from functools import reduce
from itertools import combinations
from typing import Any, NoReturn

import narwhals as nw
import pandas as pd

from segkit.frames import as_lazy, collect_small
from segkit.schema import CUSTOMERS

TAG_SEPARATOR = "|"
_COMPARISONS = {
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
}


def rule_segments(
    frame: Any, rules: Mapping[str, str], default: str = "Other", column: str = "segment"
) -> Any:
    """``frame`` (same kind) plus ``column``: the first rule that holds, else ``default``.

    Parameters
    ----------
    frame : pandas, Polars, DuckDB or PySpark frame
        One row per customer (a customer view) or any table the conditions refer to.
    rules : mapping of str to str
        Segment name -> condition, in priority order (see the module docstring).
    default : str
        Segment of rows no rule matches.
    column : str
        Name of the added column (replaced if the frame has it).

    Returns
    -------
    The same kind of frame, sorted by customer_id when it has one.

    Example
    -------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"customer_id": ["a", "b", "c"], "age": [25, 40, 50],
    ...                       "interests": ["books", "travel|books", "travelling"]})
    >>> rules = {"Young": "age < 30", "Travellers": "has_tag(interests, 'travel')"}
    >>> rule_segments(frame, rules)["segment"].tolist()
    ['Young', 'Travellers', 'Other']
    """
    lazy, back = as_lazy(frame)
    schema = lazy.collect_schema()
    conditions = compile_rules(rules, schema)
    segment = nw.lit(default)
    for name, condition in reversed(list(conditions.items())):
        segment = nw.when(condition).then(nw.lit(name)).otherwise(segment)
    result = lazy.with_columns(segment.alias(column))
    if "customer_id" in schema:
        result = result.sort("customer_id")
    return back(result)


@dataclass(frozen=True)
class MeceReport:
    """Whether a rule set is mutually exclusive and collectively exhaustive on a frame.

    Attributes
    ----------
    rules : pandas.DataFrame
        rule, rows_matched, rows_only (matched by no other rule).
    overlaps : pandas.DataFrame
        rule_a, rule_b, rows: every pair of rules matching some row together.
    uncovered : int
        Rows no rule matches.
    total : int
        Rows of the frame.
    is_mece : bool
        No overlaps and nothing uncovered.
    """

    rules: pd.DataFrame
    overlaps: pd.DataFrame
    uncovered: int
    total: int
    is_mece: bool

    def summary(self) -> str:
        """A few readable lines: the verdict, then overlaps and gaps, then every rule."""
        verdict = "MECE" if self.is_mece else "not MECE"
        lines = [f"{len(self.rules)} rules over {self.total} rows: {verdict}"]
        lines += [
            f"  overlap: {row.rule_a} & {row.rule_b}: {_rows(row.rows)}"
            for row in self.overlaps.itertuples()
        ]
        lines.append(f"  uncovered: {_rows(self.uncovered)}")
        lines += [
            f"  {row.rule}: {_rows(row.rows_matched)} ({row.rows_only} matched by no other rule)"
            for row in self.rules.itertuples()
        ]
        return "\n".join(lines)


def _rows(count: int) -> str:
    return f"{count} row" if count == 1 else f"{count} rows"


def check_mece(frame: Any, rules: Mapping[str, str]) -> MeceReport:
    """Evaluate every rule independently and count overlaps and uncovered rows in the engine.

    Parameters
    ----------
    frame : pandas, Polars, DuckDB or PySpark frame
        The rows the rules segment.
    rules : mapping of str to str
        Segment name -> condition, as for :func:`rule_segments` (order does not matter).

    Returns
    -------
    MeceReport
        Counts per rule, overlapping pairs, uncovered and total rows, ``is_mece``.
        One single-row aggregate is collected, whatever the size of ``frame``.

    Example
    -------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"age": [25.0, 40.0, None]})
    >>> check_mece(frame, {"Young": "age < 30", "Older": "age >= 30"}).uncovered
    1
    """
    lazy, _ = as_lazy(frame)
    schema = lazy.collect_schema()
    conditions = list(compile_rules(rules, schema).items())

    def count(expr: nw.Expr) -> nw.Expr:
        return expr.cast(nw.Int64).sum()

    anything = reduce(lambda a, b: a | b, (c for _, c in conditions), _row_constant(False, schema))
    pairs = list(combinations(range(len(conditions)), 2))
    aggregates = [nw.len().alias("total"), count(~anything).alias("uncovered")]
    for i, (_, condition) in enumerate(conditions):
        others = [c for j, (_, c) in enumerate(conditions) if j != i]
        alone = reduce(lambda a, b: a & ~b, others, condition)
        aggregates += [count(condition).alias(f"matched{i}"), count(alone).alias(f"only{i}")]
    aggregates += [
        count(conditions[i][1] & conditions[j][1]).alias(f"both{i}_{j}") for i, j in pairs
    ]
    counts = collect_small(lazy.select(*aggregates)).iloc[0].astype(int)
    return _mece_report([name for name, _ in conditions], pairs, counts)


def _mece_report(names: list[str], pairs: list[tuple[int, int]], counts: pd.Series) -> MeceReport:
    per_rule = pd.DataFrame(
        {
            "rule": names,
            "rows_matched": [counts[f"matched{i}"] for i in range(len(names))],
            "rows_only": [counts[f"only{i}"] for i in range(len(names))],
        }
    )
    overlaps = pd.DataFrame(
        [
            {"rule_a": names[i], "rule_b": names[j], "rows": counts[f"both{i}_{j}"]}
            for i, j in pairs
            if counts[f"both{i}_{j}"] > 0
        ],
        columns=["rule_a", "rule_b", "rows"],
    ).astype({"rows": "int64"})
    uncovered, total = int(counts["uncovered"]), int(counts["total"])
    is_mece = overlaps.empty and uncovered == 0
    return MeceReport(per_rule, overlaps, uncovered, total, is_mece)


def _row_constant(value: bool, schema: Mapping[str, Any]) -> nw.Expr:
    """True or False for every row: a literal would be a scalar, which cannot be counted."""
    never = nw.col(next(iter(schema))).is_null().is_null()
    return ~never if value else never


def _unsupported(node: ast.AST) -> str:
    """Why ``node`` is outside the condition grammar, in the user's terms."""
    if isinstance(node, ast.Call):
        return "function calls are not allowed, except has_tag(column, 'tag') as a condition"
    if isinstance(node, ast.BinOp | ast.UnaryOp):
        return "arithmetic is not allowed; compare a column with a number"
    kinds = {ast.Attribute: "attributes are", ast.Subscript: "subscripts are"}
    kind = next((name for cls, name in kinds.items() if isinstance(node, cls)), "this is")
    return f"{kind} not allowed in a condition"


def compile_rules(rules: Mapping[str, str], schema: Mapping[str, Any]) -> dict[str, nw.Expr]:
    """Rule name -> boolean narwhals expression (never null), checked against ``schema``.

    Raises ``ValueError`` naming the rule, its condition and the offending part.
    """
    if not isinstance(rules, Mapping):
        raise ValueError(
            f"rules must be a mapping of segment name to condition, got {type(rules).__name__}"
        )
    compiled = {}
    for name, condition in rules.items():
        if not isinstance(name, str) or not isinstance(condition, str):
            raise ValueError(
                f"rule {name!r}: the name and the condition must be strings, got {condition!r}"
            )
        compiled[name] = _Compiler(name, condition, schema).compile()
    return compiled


class _Compiler:
    """Translates one condition's syntax tree; anything outside the grammar is an error."""

    def __init__(self, rule: str, condition: str, schema: Mapping[str, Any]):
        self.rule, self.text, self.schema = rule, condition, dict(schema)

    def compile(self) -> nw.Expr:
        try:
            tree = ast.parse(self.text.strip(), mode="eval")
        except SyntaxError as error:
            raise ValueError(
                f"rule '{self.rule}': condition {self.text!r} is not valid: {error.msg}"
            ) from None
        return self.condition(tree.body)

    def fail(self, node: ast.AST, why: str) -> NoReturn:
        part = ast.get_source_segment(self.text.strip(), node) or ast.unparse(node)
        raise ValueError(f"rule '{self.rule}': condition {self.text!r}: {why}: {part}")

    def condition(self, node: ast.AST) -> nw.Expr:
        if isinstance(node, ast.BoolOp):
            parts = [self.condition(value) for value in node.values]
            if isinstance(node.op, ast.And):
                return reduce(lambda a, b: a & b, parts)
            return reduce(lambda a, b: a | b, parts)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return ~self.condition(node.operand)
        if isinstance(node, ast.Compare):
            lefts = [node.left, *node.comparators[:-1]]
            steps = zip(lefts, node.ops, node.comparators, strict=True)
            tests = [self.compare(left, op, right) for left, op, right in steps]
            return reduce(lambda a, b: a & b, tests)
        if isinstance(node, ast.Call):
            return self.has_tag(node)
        if isinstance(node, ast.Name):
            column = self.column(node)
            if self.schema[node.id] != nw.Boolean:
                self.fail(
                    node,
                    f"a column on its own must be boolean, {node.id} is {self.schema[node.id]}",
                )
            return self.present(node.id) & column
        if isinstance(node, ast.Constant) and isinstance(node.value, bool):
            return _row_constant(node.value, self.schema)
        self.fail(node, _unsupported(node))

    def compare(self, left: ast.AST, op: ast.cmpop, right: ast.AST) -> nw.Expr:
        if isinstance(op, ast.In | ast.NotIn):
            return self.membership(left, op, right)
        if isinstance(op, ast.Is | ast.IsNot):
            if not (isinstance(right, ast.Constant) and right.value is None):
                self.fail(right, "'is' and 'is not' only compare with None")
            missing = self.missing(self.column_name(left))
            return missing if isinstance(op, ast.Is) else ~missing
        test = _COMPARISONS[type(op)](self.operand(left), self.operand(right))
        names = [n.id for n in (left, right) if isinstance(n, ast.Name)]
        if not names:
            self.fail(left, "a comparison needs a column on one side")
        for node, other in ((left, right), (right, left)):
            if isinstance(other, ast.Name) and not isinstance(node, ast.Name):
                self.check_type(other.id, self.constant(node), node)
        return reduce(lambda a, b: a & b, [self.present(n) for n in names], test)

    def membership(self, left: ast.AST, op: ast.cmpop, right: ast.AST) -> nw.Expr:
        name = self.column_name(left)
        if not isinstance(right, ast.List | ast.Tuple | ast.Set):
            self.fail(right, "'in' needs a list literal such as ['a', 'b']")
        values = [self.constant(element) for element in right.elts]
        for value, element in zip(values, right.elts, strict=True):
            self.check_type(name, value, element)
        found = nw.col(name).is_in(values) if values else nw.lit(False)
        return self.present(name) & (found if isinstance(op, ast.In) else ~found)

    def has_tag(self, node: ast.Call) -> nw.Expr:
        if not (isinstance(node.func, ast.Name) and node.func.id == "has_tag"):
            self.fail(node, "the only function allowed is has_tag(column, 'tag')")
        if node.keywords or len(node.args) != 2:
            self.fail(node, "has_tag takes exactly a column and a tag: has_tag(column, 'tag')")
        name, tag = self.column_name(node.args[0]), self.constant(node.args[1])
        if not isinstance(tag, str) or not tag or TAG_SEPARATOR in tag:
            self.fail(node.args[1], f"the tag must be a non-empty string without '{TAG_SEPARATOR}'")
        if self.schema[name].is_numeric() or self.schema[name] == nw.Boolean:
            self.fail(node.args[0], f"has_tag needs a text column, {name} is {self.schema[name]}")
        wrapped = nw.concat_str([nw.lit(TAG_SEPARATOR), nw.col(name), nw.lit(TAG_SEPARATOR)])
        found = wrapped.str.contains(f"{TAG_SEPARATOR}{tag}{TAG_SEPARATOR}", literal=True)
        return self.present(name) & found

    def operand(self, node: ast.AST) -> nw.Expr:
        if isinstance(node, ast.Name):
            return self.column(node)
        value = self.constant(node)
        if value is None:
            self.fail(node, "compare with None using 'is None' or 'is not None'")
        return nw.lit(value)

    def constant(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float | str | None):
            return node.value
        signed = isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd)
        if signed and isinstance(node.operand, ast.Constant):
            value = node.operand.value
            if isinstance(value, int | float) and not isinstance(value, bool):
                return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.Name | ast.Constant):
            self.fail(node, "expected a number, a string, True, False or None")
        self.fail(node, _unsupported(node))

    def column_name(self, node: ast.AST) -> str:
        if not isinstance(node, ast.Name):
            self.fail(node, "expected a column name")
        self.column(node)
        return node.id

    def column(self, node: ast.Name) -> nw.Expr:
        if node.id not in self.schema:
            self.fail(node, f"unknown column (columns are {list(self.schema)})")
        return nw.col(node.id)

    def check_type(self, name: str, value: Any, node: ast.AST) -> None:
        dtype = self.schema[name]
        text = isinstance(value, str)
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if (text and dtype.is_numeric()) or (number and dtype == nw.String):
            self.fail(node, f"column {name} is {dtype}, which cannot be compared with {value!r}")

    def present(self, name: str) -> nw.Expr:
        return ~self.missing(name)

    def missing(self, name: str) -> nw.Expr:
        expr = nw.col(name).is_null()
        return expr | nw.col(name).is_nan() if self.schema[name].is_float() else expr


def referenced_columns(rules: Mapping[str, str]) -> set[str]:
    """The column names the conditions of a rule set refer to."""
    names = set()
    for condition in rules.values():
        tree = ast.parse(condition, mode="eval")
        calls = {
            node.func.id
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        }
        names |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - calls
    return names


@dataclass(frozen=True)
class RuleSets:
    """Several rule sets applied to one frame: the labelled frame, a MECE report per
    applied set, and the sets skipped with the reason."""

    frame: Any
    reports: dict[str, MeceReport]
    skipped: dict[str, str]


def apply_rule_sets(
    frame: Any, rule_sets: Mapping[str, Mapping[str, str]], default: str = "Other"
) -> RuleSets:
    """Apply each named rule set as a ``<name>_segment`` column, with its MECE check.

    A set whose conditions need customer attributes (country, age, interests, ...)
    that the frame lacks, as on a transactions-only source, is skipped and said
    so; any other unknown column is an error, so a typo is never silent.

    Example
    -------
    >>> import pandas as pd
    >>> view = pd.DataFrame({"customer_id": ["a", "b"], "orders": [1, 4]})
    >>> sets = {"behavioral": {"Repeat": "orders >= 2", "One-time": "orders == 1"},
    ...         "geographic": {"Europe": "country in ['DE', 'FR']"}}
    >>> result = apply_rule_sets(view, sets)
    >>> result.frame["behavioral_segment"].tolist(), list(result.skipped)
    (['One-time', 'Repeat'], ['geographic'])
    """
    schema = as_lazy(frame)[0].collect_schema()
    attributes = set(CUSTOMERS.columns)
    reports, skipped = {}, {}
    for name, rules in rule_sets.items():
        missing = referenced_columns(rules) - set(schema)
        if missing and missing <= attributes:
            skipped[name] = f"needs customer attributes {sorted(missing)}, absent from this data"
            continue
        frame = rule_segments(frame, rules, default=default, column=f"{name}_segment")
        reports[name] = check_mece(frame, rules)
    return RuleSets(frame, reports, skipped)
