"""Text -> syntax tree. The grammar is `grammar.lark`; this module only builds `Syntax` nodes and turns
lark's errors into messages with a caret under the offending column.

The syntax tree is untyped: whether `*` scales or multiplies matrices, and where a row vector is
broadcast, is decided by shape inference (shapes.py), which needs the whole expression.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import lark
from lark import Lark, Transformer_NonRecursive, v_args

from .errors import ParseError

MAX_LENGTH = 20_000
MAX_DEPTH = 200
MAX_NUMBER = 40


@dataclass(eq=False)
class Syntax:
    """A node of the untyped tree: `kind` is the grammar rule, `value` a name or number."""

    kind: str
    args: tuple["Syntax", ...] = ()
    value: object = None
    start: int = 0
    end: int = 0
    text: str = field(default="", repr=False)

    @property
    def source(self) -> str:
        return self.text[self.start:self.end]


@lru_cache(maxsize=1)
def _parser() -> Lark:
    grammar = (Path(__file__).with_name("grammar.lark")).read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=False)


@v_args(meta=True)
class _Build(Transformer_NonRecursive):
    def __init__(self, text: str):
        super().__init__()
        self.text = text

    def _node(self, kind, meta, args=(), value=None):
        return Syntax(kind, tuple(args), value, meta.start_pos, meta.end_pos, self.text)

    def number(self, meta, children):
        text = str(children[0])
        if len(text) > MAX_NUMBER:
            raise ParseError(f"a number longer than {MAX_NUMBER} characters", self.text, meta.column)
        return self._node("num", meta, value=Fraction(text))

    def name(self, meta, children):
        return self._node("name", meta, value=str(children[0]))

    def call(self, meta, children):
        return self._node("call", meta, children[1:], str(children[0]))

    def transpose(self, meta, children):
        return self._node("T", meta, children[:1])

    def _binary(kind):
        def build(self, meta, children):
            return self._node(kind, meta, children)

        return build

    add = _binary("add")
    sub = _binary("sub")
    mul = _binary("mul")
    had = _binary("had")
    ediv = _binary("ediv")
    div = _binary("div")
    pow = _binary("pow")
    epow = _binary("epow")

    def neg(self, meta, children):
        return self._node("neg", meta, children)


def parse(text: str) -> Syntax:
    """Parse an expression; every failure is a ParseError that points at a column."""
    if not isinstance(text, str):
        raise ParseError(f"expected an expression as text, got {type(text).__name__}")
    if not text.strip():
        raise ParseError("empty expression", text, 1)
    if len(text) > MAX_LENGTH:
        raise ParseError(f"expression longer than {MAX_LENGTH} characters", text[:80] + "…", 81)
    _check_nesting(text)
    try:
        tree = _parser().parse(text)
    except lark.exceptions.UnexpectedCharacters as err:
        raise ParseError(f"unexpected character {text[err.pos_in_stream]!r}", text, err.column) from None
    except lark.exceptions.UnexpectedToken as err:
        if err.token.type == "$END":
            raise ParseError("the expression ends too early", text, len(text) + 1) from None
        expected = _describe(err.expected)
        raise ParseError(f"unexpected {str(err.token)!r}; expected {expected}", text, err.column) from None
    except lark.exceptions.UnexpectedEOF:
        raise ParseError("the expression ends too early", text, len(text) + 1) from None
    try:
        syntax = _Build(text).transform(tree)
    except lark.exceptions.VisitError as err:  # our own error, raised while building a node
        if isinstance(err.orig_exc, ParseError):
            raise err.orig_exc from None
        raise
    if not isinstance(syntax, Syntax):  # a bare token, e.g. a lone name without a rule
        raise ParseError("not an expression", text, 1)
    _check_depth(syntax, text)
    return syntax


_TOKEN_WORDS = {"NAME": "a name", "NUMBER": "a number", "LPAR": "(", "RPAR": ")", "MINUS": "-",
                "PLUS": "+", "STAR": "*", "SLASH": "/", "QUOTE": "'"}


def _describe(expected) -> str:
    words = sorted({_TOKEN_WORDS.get(e, e.lower()) for e in expected})
    if len(words) > 6:
        return "an operand or an operator"
    return ", ".join(words)


def _check_nesting(text: str) -> None:
    depth = 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
            if depth > MAX_DEPTH:
                raise ParseError(f"parentheses nested deeper than {MAX_DEPTH} levels", text, i + 1)
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise ParseError("unmatched ')'", text, i + 1)
    if depth > 0:
        raise ParseError("unclosed '('", text, text.rindex("(") + 1)


def _check_depth(root: Syntax, text: str) -> None:
    """Long operator chains nest as deeply as parentheses; later passes recurse, so bound both."""
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ParseError(f"expression nested deeper than {MAX_DEPTH} levels", text, node.start + 1)
        stack.extend((child, depth + 1) for child in node.args)
