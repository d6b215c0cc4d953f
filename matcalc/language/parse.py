"""Text -> syntax tree. The grammar is `grammar.lark`; this module only builds `Syntax` nodes and turns
lark's errors into messages with a caret under the offending column.

The syntax tree is untyped: whether `*` scales or multiplies matrices, and where a row vector is
broadcast, is decided by shape inference (shapes.py), which needs the whole expression.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import lark
from lark import Lark, Transformer_NonRecursive, v_args

from ..errors import ParseError

MAX_LENGTH = 20_000
CACHED_LENGTH = 400   # texts up to this long share their parsed tree (512 of them at most)
MAX_DEPTH = 200
MAX_NUMBER = 40
MAX_MAGNITUDE = 300  # a literal's size: 1e-300 … 1e300, so that it fits a float when evaluated


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


_LITERAL = re.compile(r"([0-9]+)(?:\.([0-9]+))?(?:[eE]([-+]?[0-9]+))?")


def number_value(literal: str, text: str = "", column: int | None = None) -> Fraction:
    """A literal as an exact fraction, refused up front when out of range: `1e9999999999` would make
    Fraction compute a ten-billion-digit power of ten, and `1e309` is no float when evaluated."""
    m = _LITERAL.fullmatch(literal)
    if m is None:
        raise ParseError(f"not a number: {literal[:MAX_NUMBER]!r}", text, column)
    whole, frac, exp = m.group(1), m.group(2) or "", m.group(3) or "0"
    digits = (whole + frac).lstrip("0")
    if not digits:
        return Fraction(0)
    exp_digits = exp.lstrip("+-").lstrip("0")
    if len(exp_digits) > 5:
        magnitude = MAX_MAGNITUDE + 1
    else:  # the decimal exponent of the leading digit
        magnitude = int(exp) + len(whole + frac) - len(frac) - 1 - (len(whole + frac) - len(digits))
    if abs(magnitude) > MAX_MAGNITUDE:
        raise ParseError(f"the number {literal} is out of range: matcalc takes numbers between "
                         f"1e-{MAX_MAGNITUDE} and 1e{MAX_MAGNITUDE} in size", text, column)
    return Fraction(literal)


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
        return self._node("num", meta, value=number_value(text, self.text, meta.column))

    def name(self, meta, children):
        return self._node("name", meta, value=str(children[0]))

    def call(self, meta, children):
        return self._node("call", meta, children[1:], str(children[0]))

    def primed_call(self, meta, children):
        # f'(z): the derivative of a declared abstract function; the value keeps the primes ("f'")
        return self._node("call", meta, children[1:], str(children[0]))

    def definition(self, meta, children):
        return self._node("define", meta, children[1:], str(children[0]))

    def program(self, meta, children):
        return self._node("program", meta, children)

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
    """Parse an expression; every failure is a ParseError that points at a column.

    The tree of a short text is shared by every caller that parses the same text (a check parses its
    expression, claim and assumptions several times over): it is never modified after it is built. A
    long text is parsed afresh, so that a stream of distinct large inputs cannot fill the memory."""
    if not isinstance(text, str):
        raise ParseError(f"expected an expression as text, got {type(text).__name__}")
    if len(text) <= CACHED_LENGTH:
        return _parse_cached(text)
    return _parse_cached_long(text) if len(text) <= MAX_LENGTH else parse_fresh(text)


@lru_cache(maxsize=512)
def _parse_cached(text: str) -> Syntax:
    return parse_fresh(text)


@lru_cache(maxsize=16)
def _parse_cached_long(text: str) -> Syntax:
    """A long text (a program of definitions that a check parses again for every claim it types): the
    last few are kept, so that a stream of distinct large inputs cannot fill the memory."""
    return parse_fresh(text)


def parse_fresh(text: str) -> Syntax:
    """A tree of its own (not shared): for a caller that keys anything by the identity of its nodes."""
    if not isinstance(text, str):
        raise ParseError(f"expected an expression as text, got {type(text).__name__}")
    if not text.strip():
        raise ParseError("empty expression", text, 1)
    if len(text) > MAX_LENGTH:
        raise ParseError(f"expression longer than {MAX_LENGTH} characters", text[:80] + "…", 81)
    _check_nesting(text)
    lines = statements(text)          # the same length: every column stays where it was
    try:
        tree = _parser().parse(lines)
    except lark.exceptions.UnexpectedCharacters as err:
        raise ParseError(f"unexpected character {text[err.pos_in_stream]!r}", text,
                         err.pos_in_stream + 1) from None
    except lark.exceptions.UnexpectedToken as err:
        if err.token.type == "$END":
            raise _ends_early(text, lines) from None
        if err.token.type == "EQUAL" and not _at_statement_start(lines, err.token.start_pos):
            raise ParseError("unexpected '='; a definition is a name, '=' and its expression, ending with ';' "
                             "or a new line (h = tanh(W*x); sum(h))", text, err.token.start_pos + 1) from None
        expected = _describe(err.expected)
        raise ParseError(f"unexpected {str(err.token)!r}; expected {expected}", text,
                         err.token.start_pos + 1) from None
    except lark.exceptions.UnexpectedEOF:
        raise _ends_early(text, lines) from None
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


def copy_tree(node: Syntax) -> Syntax:
    """A copy of a parsed tree with nodes of its own (what parse_fresh gives, without parsing again: a
    derivation of 10⁵ equal lines types them in linear time). Iterative: a flat chain may be long."""
    done: dict[int, Syntax] = {}
    stack = [node]
    while stack:
        n = stack[-1]
        pending = [a for a in n.args if id(a) not in done]
        if pending:
            stack.extend(pending)
            continue
        stack.pop()
        if id(n) not in done:
            done[id(n)] = Syntax(n.kind, tuple(done[id(a)] for a in n.args), n.value, n.start, n.end, n.text)
    return done[id(node)]


def statements(text: str) -> str:
    """The text with each line break that ends a statement made a ';' (and every other line break a
    space), so that `h = tanh(W*x)` on one line and `sum(h)` on the next are two statements.

    Only a text that defines a name (has an '=') is split; a line break inside parentheses, after an
    operator or before one that cannot start an expression (`+ b`, `* c`, `.^2`) continues the line."""
    if "\n" not in text and "\r" not in text:
        return text
    if "=" not in text:
        return text.replace("\r", " ").replace("\n", " ")
    out = list(text)
    depth = 0
    last = ""                       # the last character of the statement so far that is not a space
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch not in "\r\n":
            if not ch.isspace():
                last = ";" if ch == ";" else ch
            continue
        out[i] = " "
        if depth > 0 or last in ("", ";") or last in "+-*/^=(,.":
            continue
        rest = text[i + 1:].lstrip()
        if rest and rest[0] in "+*/.^')=":
            continue
        out[i] = ";"
        last = ";"
    return "".join(out)


def _at_statement_start(lines: str, pos: int) -> bool:
    """Whether the '=' at pos follows a lone name that starts a statement (`h = ...`)."""
    head = lines[:pos].rstrip()
    start = max(head.rfind(";"), -1) + 1
    return re.fullmatch(r"\s*[A-Za-z_][A-Za-z0-9_]*", head[start:]) is not None


def _ends_early(text: str, lines: str) -> ParseError:
    last = [s for s in lines.split(";") if s.strip()]
    if last and re.match(r"\s*[A-Za-z_][A-Za-z0-9_]*\s*=", last[-1]) and lines.rstrip().endswith(";"):
        name = last[-1].split("=", 1)[0].strip()
        return ParseError(f"the input ends with the definition of {name}; write the expression to differentiate "
                          f"after the definitions (h = tanh(W*x); sum(h))", text, len(text) + 1)
    return ParseError("the expression ends too early", text, len(text) + 1)


_TOKEN_WORDS = {"NAME": "a name", "NUMBER": "a number", "LPAR": "(", "RPAR": ")", "MINUS": "-",
                "PLUS": "+", "STAR": "*", "SLASH": "/", "QUOTE": "'", "SEMICOLON": "';'", "EQUAL": "=",
                "PRIMED": "a derivative f'(…)"}


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


# Operators whose left-nested chains (`a + b - c + …`, `a*b/c*…`) are one level: later passes walk such a
# chain in a loop (see chain()), and the typed constructors flatten it.
CHAIN_FAMILY = {"add": "sum", "sub": "sum", "mul": "product", "div": "product", "had": "hadamard",
                "ediv": "hadamard"}


def chain(node: Syntax) -> list[Syntax]:
    """The left spine of an operator chain, innermost first: for `a + b - c` the nodes `a + b` and
    `(a + b) - c`. Walked in a loop, so a flat sum of 5,000 terms needs no recursion."""
    family = CHAIN_FAMILY.get(node.kind)
    spine = [node]
    while family is not None and CHAIN_FAMILY.get(spine[-1].args[0].kind) == family:
        spine.append(spine[-1].args[0])
    spine.reverse()
    return spine


def _check_depth(root: Syntax, text: str) -> None:
    """Parentheses, calls and mixed operators nest; later passes recurse over that nesting, so bound it.
    A flat chain of one operator family (`x1 + x2 + … + x500`) is one level, however long."""
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ParseError(f"expression nested deeper than {MAX_DEPTH} levels", text, node.start + 1)
        family = CHAIN_FAMILY.get(node.kind)
        for i, child in enumerate(node.args):
            same = i == 0 and family is not None and CHAIN_FAMILY.get(child.kind) == family
            stack.append((child, depth if same else depth + 1))
