"""Policy expressions: parsed whole into a tree, every problem said at once with its column, and a tree
that says which labels match and why. A property test holds the parser, the printer and the evaluator to
Python's own `and`, `or` and `not`."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.governance import (
    CORE_ACTIONS,
    CORE_LABELS,
    LABEL_NAME,
    And,
    Expression,
    LabelRef,
    Not,
    Or,
    PolicyExpressionError,
    matches,
    parse_policy_expression,
    reasons,
    to_text,
)

KNOWN = set(CORE_LABELS) | {"myLabel"}


def test_the_core_vocabulary_is_the_reference_products() -> None:
    assert [n for n in CORE_LABELS if n.startswith("C")] == [f"C{n}" for n in range(1, 13)]
    assert {n for n in CORE_LABELS if not n.startswith("C")} == {"I1", "I2", "S1", "S2", "S3"}
    assert {label.category for label in CORE_LABELS.values()} == {"contract", "identity", "sensitive"}
    assert all(LABEL_NAME.fullmatch(name) and label.description for name, label in CORE_LABELS.items())
    titles = {action.title for action in CORE_ACTIONS.values()}
    assert {"Email Targeting", "Export to Third Party", "Onsite Advertising", "Cross-Site Targeting", "Data Science",
            "Combine with PII", "Segment Match"} <= titles  # fmt: skip


def test_and_binds_tighter_than_or_and_words_are_case_insensitive() -> None:
    tree = parse_policy_expression("C4 OR (C5 and I1)", KNOWN)
    assert tree == Or((LabelRef("C4", 1), And((LabelRef("C5", 8), LabelRef("I1", 15)))))
    looser = parse_policy_expression("C4 or C5 AND I1", KNOWN)
    assert looser == Or((LabelRef("C4", 1), And((LabelRef("C5", 7), LabelRef("I1", 14)))))
    assert parse_policy_expression("not not C2", KNOWN) == Not(Not(LabelRef("C2", 9)))
    assert parse_policy_expression("  myLabel  ", KNOWN) == LabelRef("myLabel", 3)


def test_what_matches_and_why() -> None:
    tree = parse_policy_expression("C4 OR (C5 AND I1)", KNOWN)
    assert matches(tree, {"C4"}) and reasons(tree, {"C4", "C9"}) == {"C4"}
    assert matches(tree, {"C5", "I1"}) and reasons(tree, {"C5", "I1", "S1"}) == {"C5", "I1"}
    assert not matches(tree, {"C5"}) and reasons(tree, {"C5"}) == set()
    assert not matches(tree, set())
    negated = parse_policy_expression("C2 AND NOT I1", KNOWN)
    assert matches(negated, {"C2"}) and reasons(negated, {"C2"}) == {"C2"} and not matches(negated, {"C2", "I1"})


@pytest.mark.parametrize(
    ("text", "columns", "said"),
    [
        ("", [1], "an expression of labels is needed"),
        ("   ", [1], "an expression of labels is needed"),
        ("C4 OR", [6], "found the end"),
        ("C4 C5", [4], "`AND`, `OR` or the end expected, found `C5`"),
        ("(C4 OR C5", [10], "`)` expected to close the `(` at column 1"),
        ("C4)", [3], "found `)`"),
        ("AND C4", [1], "found `AND`"),
        ("C4 & C5", [4], "found `&`"),
        ("c4 OR C13 OR Nope", [1, 7, 14], "no label 'c4'; did you mean C4"),
        ("(" * 60 + "C1" + ")" * 60, [52], "nested more than 50 deep"),
        ("C1 OR " * 700 + "C1", [4001], "longer than 4,000 characters"),
    ],
)
def test_a_wrong_expression_is_said_whole_with_columns(text: str, columns: list[int], said: str) -> None:
    with pytest.raises(PolicyExpressionError) as refused:
        parse_policy_expression(text, KNOWN)
    assert [p["column"] for p in refused.value.problems] == columns
    assert said in refused.value.message and refused.value.code == "POLICY-0400-400"
    assert refused.value.to_dict()["details"]["problems"] == refused.value.problems


def test_names_that_are_not_text_are_refused_clearly() -> None:
    for wrong in (None, 3, ["C1"]):
        with pytest.raises(PolicyExpressionError, match="an expression of labels is needed"):
            parse_policy_expression(wrong, KNOWN)  # type: ignore[arg-type]


NAMES = ["C1", "C2", "I1", "S3"]


def trees() -> st.SearchStrategy[Expression]:
    leaves = st.sampled_from(NAMES).map(LabelRef)
    return st.recursive(leaves, lambda inner: st.one_of(
        inner.map(Not),
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: And(tuple(xs))),
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: Or(tuple(xs)))), max_leaves=12)  # fmt: skip


def python(tree: Expression, labels: set[str]) -> str:
    """The same formula in Python's words, to evaluate with `eval`."""
    if isinstance(tree, LabelRef):
        return str(tree.name in labels)
    if isinstance(tree, Not):
        return f"(not {python(tree.operand, labels)})"
    word = " and " if isinstance(tree, And) else " or "
    return "(" + word.join(python(o, labels) for o in tree.operands) + ")"


def without_columns(tree: Expression) -> Expression:
    if isinstance(tree, LabelRef):
        return LabelRef(tree.name)
    if isinstance(tree, Not):
        return Not(without_columns(tree.operand))
    return type(tree)(tuple(without_columns(o) for o in tree.operands))


@settings(max_examples=300, deadline=None)
@given(tree=trees(), labels=st.sets(st.sampled_from(NAMES)))
def test_written_back_read_again_and_evaluated_as_python_would(tree: Expression, labels: set[str]) -> None:
    again = parse_policy_expression(to_text(tree), KNOWN)
    assert without_columns(again) == tree
    assert matches(tree, labels) == eval(python(tree, labels))  # our own text of True and False
    found = reasons(tree, labels)
    assert found <= labels and (not found or matches(tree, labels))
