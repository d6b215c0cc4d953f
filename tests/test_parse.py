"""The language: every operator and function parses; bad text fails with a caret, never a traceback."""

import pytest

from matcalc.errors import ParseError
from matcalc.language.parse import MAX_DEPTH, parse
from matcalc.language.printing import to_text
from matcalc.tables import known_function_names
from matcalc.language.shapes import elaborate

ROUND_TRIP = [
    "-y'*log(softmax(W*x + b))",
    "x'*A*x",
    "tr(inv(X)*A)",
    "norm2(A*x - b)^2",
    "a .* b ./ c",
    "X.^2",
    "(1/m)*X",
    "exp(x) + log(x) + sin(x) + cos(x) + tan(x) + tanh(x) + sigmoid(x) + relu(x) + step(x) + sqrt(x) + abs(x) + sign(x)",
    "arcsin(x) + arccos(x) + arctan(x)",
    "sum(X) + tr(A) + det(A) + logdet(A) + norm1(X) + norm2(X) + logsumexp(x)",
    "diag(x)*diag(A)",
    "softmax(z)",
    "sum(softmax_rows(Z)) + sum(logsumexp_rows(Z))",
    "ones(n)'*x",
    "I*x",
    "X*W + b'",
]


@pytest.mark.parametrize("text", ROUND_TRIP)
def test_printed_form_parses_back_to_the_same_tree(text):
    typed = elaborate(text)
    again = elaborate(to_text(typed.root))
    assert again.root is typed.root


def test_precedence_is_matlab_like():
    assert to_text(elaborate("-alpha^2").root) == "-alpha^2"
    assert elaborate("a .* b*c'").root.op == "mul"  # (a .* b)*c': one precedence, left to right
    assert elaborate("2*x'").root.shape == (1, "p")


@pytest.mark.parametrize("text,column,message", [
    ("W*x +", 6, "ends too early"),
    ("a+*b", 3, "unexpected '*'"),
    ("f(x", 2, "unclosed '('"),
    ("x)", 2, "unmatched ')'"),
    ("a $ b", 3, "unexpected character '$'"),
    ("", 1, "empty"),
])
def test_parse_errors_point_at_the_column(text, column, message):
    with pytest.raises(ParseError) as info:
        parse(text)
    assert info.value.column == column
    assert message in str(info.value)
    if text:
        caret_line = str(info.value).splitlines()[-1]
        assert caret_line.index("^") - 2 == column - 1


def test_unknown_function_names_itself_and_lists_the_known_ones():
    with pytest.raises(ParseError) as info:
        elaborate("foo(x) + 1")
    text = str(info.value)
    assert "'foo'" in text and "softmax" in text and "logdet" in text
    assert info.value.column == 1
    assert set(known_function_names()) >= {"exp", "log", "sum", "tr", "det", "inv", "diag", "ones", "I"}


def test_five_thousand_parentheses_fail_cleanly():
    with pytest.raises(ParseError, match="nested deeper"):
        parse("(" * 5000 + "x" + ")" * 5000)


def test_a_flat_operator_chain_is_one_level_but_real_nesting_is_bounded():
    # issue 13: a flat sum of 250 terms is not "nested deeper than 200 levels"; depth counts real nesting
    parse("+".join(["x"] * (MAX_DEPTH + 50)))
    parse("*".join(["x"] * (MAX_DEPTH + 50)))
    with pytest.raises(ParseError, match="nested deeper"):
        parse("x" + "'" * (MAX_DEPTH + 50))
    with pytest.raises(ParseError, match="nested deeper"):
        parse("-" * (MAX_DEPTH + 50) + "x")


def test_huge_input_fails_cleanly():
    with pytest.raises(ParseError, match="longer than"):
        parse("x+" * 20000 + "x")


def test_long_caret_lines_are_windowed():
    with pytest.raises(ParseError) as info:
        parse("x + " * 100 + "$")
    lines = str(info.value).splitlines()
    assert len(lines[1]) < 100 and lines[2].rstrip().endswith("^")


def test_non_text_input():
    with pytest.raises(ParseError):
        parse(42)  # type: ignore[arg-type]


def test_a_huge_number_fails_cleanly():
    with pytest.raises(ParseError, match="number longer than"):
        parse("9" * 5000 + "*x")
