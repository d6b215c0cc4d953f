r"""Index notation, as people write it, read into a small tree (`IX`) of our own.

Why a parser of its own: index notation is not matcalc's matrix language.  `W_ij` is an entry, not a
name; `sum_k` binds an index; `delta_ik` and `e_i` are the Kronecker delta and a unit vector; and
LaTeX (`\sum_{i,j} W_{ij} x_j`, `\frac{\partial s_i}{\partial z_k}`) is read by the same rules.
Matrix-form pieces inside an entry (`softmax(W*x + b)_i`, `(W*x + b)_i`) are kept as matcalc text,
typed later by matcalc's own parser (shapes.elaborate_many) — so there is still one parser of the
matrix language.  Nothing here evaluates or sympifies user text: every tree is built token by token.

Notation read (ASCII and LaTeX, mixed freely):
  * entries `s_i`, `W_ij`, `W_{ij}`, `W_{i,j}`, `W[i,j]`; in ASCII `_ij` is two indices, in LaTeX
    (a backslash in the text) `_ij` is `_i` times `j`, as TeX renders it;
    an all-digit subscript is part of a name (`W_1`, `W1`);
  * entries of an expression: `softmax(z)_i`, `(W*x + b)_i`, `\mathrm{softmax}(z)_i`, `inv(X)_ji`;
  * `delta_ik` / `\delta_{ik}` (Kronecker), `e_i` / `\mathbf{e}_i` (unit vector), `e^{x}` (exp);
  * sums `sum_k ...`, `sum_{i,j} ...`, `\sum_k ...`, `\sum_{k=1}^{n} ...` over a whole product;
  * numbers, + - * / (and .* ./ which mean * / between entries), ^, unary minus, parentheses,
    implicit products (`s_i(delta_ik - s_k)`, `W_{ij} x_j`), `\frac{a}{b}`, `\cdot`, `\left(`;
  * elementwise functions of rules/functions.toml applied to entries (`exp(z_i)`, `\tanh(a_i)`);
  * names without indices: matcalc expressions (scalars such as `alpha`, `sum(y)`, `y'*s`; a vector
    such as `s` in `s_k*(e_k - s)` stands for its entries along a hidden row axis).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from ..errors import ParseError

MAX_LENGTH = 5000
MAX_DEPTH = 100
HIDDEN = ("ρ", "κ")  # the row and column axes of an unindexed vector / unit vector (never user letters)


class IX:
    """A node: kind in num entry mexpr delta unit add mul div pow neg fn sum; `pos` is a 0-based offset.

    num(Fraction) · entry(name, indices) · mexpr(ascii matcalc text, indices) · delta(a, b) ·
    unit(i) · add(*terms) · mul(*factors) · div(a, b) · pow(base, Fraction) · neg(a) ·
    fn(name, arg) · sum(indices, body)."""

    __slots__ = ("kind", "args", "pos")

    def __init__(self, kind: str, *args, pos: int = 0):
        self.kind, self.args, self.pos = kind, args, pos

    def __repr__(self) -> str:
        return f"IX({self.kind}, {', '.join(map(repr, self.args))})"


@dataclass(frozen=True)
class Tok:
    type: str  # NAME NUM CMD OP SUB (subscript text) END
    value: str
    pos: int
    end: int


_UNICODE = {"−": "-", "·": "*", "×": "*", "∑": " sum", "δ": " delta", "∂": " d", "ŷ": " yhat",
            "ᵀ": "'", "⋅": "*"}
_IGNORED_CMDS = {"left", "right", "big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr", "limits",
                 "nolimits", "displaystyle", "textstyle", ",", ";", ":", "!", "quad", "qquad", " "}
_STYLE = re.compile(r"\\(mathrm|operatorname|text|textrm|mathit|mathsf|mathtt|mathbf|boldsymbol|bm|vec|hat|widehat"
                    r"|tilde|widetilde|bar|overline)\*?\s*(?:\{\s*(\\?[A-Za-z0-9]+)\s*\}|(\\[A-Za-z]+)|([A-Za-z0-9]))")
_ACCENT = {"hat": "hat", "widehat": "hat", "tilde": "tilde", "widetilde": "tilde", "bar": "bar", "overline": "bar"}
_LATEX_FUNCS = {"exp", "log", "ln", "sin", "cos", "tan", "tanh", "arcsin", "arccos", "arctan", "det", "tr", "sqrt"}
_GREEK_LATEX = {"lambda": "lam"}


def _greek() -> set[str]:
    from .latex import _GREEK

    return set(_GREEK)


def _function_names() -> set[str]:
    from ..tables import known_function_names

    return set(known_function_names()) | _abstract_names()


def _elementwise_names() -> set[str]:
    from ..tables import functions

    return {r.printed for r in functions().values() if r.kind == "elementwise" and r.arity == 1} | _abstract_names()


def _abstract_names() -> set[str]:
    """The declared abstract functions and their derivatives: f, f', f'', … (entrywise like tanh)."""
    from .functions import declared_functions

    return {f + "'" * k for f in declared_functions() for k in range(7)}


def is_latex(text: str) -> bool:
    """LaTeX conventions apply (single-character unbraced subscripts) when the text has a backslash."""
    return "\\" in text


def _normalize_unicode(text: str) -> str:
    return "".join(_UNICODE.get(ch, ch) for ch in text)


def tokenize(text: str) -> list[Tok]:
    """Cut `text` into tokens; names and commands keep their offsets for carets."""
    funcs = _function_names()
    out: list[Tok] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in " \t\r\n~":
            i += 1
            continue
        if ch == "\\":
            m = _STYLE.match(text, i)
            if m:
                cmd, inner = m.group(1), m.group(2) or m.group(3) or m.group(4)
                inner = inner.lstrip("\\")
                inner = _GREEK_LATEX.get(inner, inner)
                if cmd in _ACCENT:
                    out.append(Tok("NAME", inner + _ACCENT[cmd], i, m.end()))
                elif inner.lower() in funcs or inner in ("ln", "trace"):
                    out.append(Tok("FUNC", {"ln": "log", "trace": "tr"}.get(inner, inner.lower()), i, m.end()))
                else:
                    out.append(Tok("NAME", inner, i, m.end()))
                i = m.end()
                continue
            m = re.compile(r"\\([A-Za-z]+|[^A-Za-z])").match(text, i)
            if not m:
                raise ParseError("lone backslash", text, i + 1)
            cmd = m.group(1)
            i = m.end()
            if cmd in _IGNORED_CMDS:
                continue
            if cmd in ("cdot", "times", "ast"):
                out.append(Tok("OP", "*", m.start(), i))
            elif cmd in ("sum", "frac", "dfrac", "tfrac", "partial", "delta", "sigma"):
                out.append(Tok("CMD", {"dfrac": "frac", "tfrac": "frac"}.get(cmd, cmd), m.start(), i))
            elif cmd in _LATEX_FUNCS:
                out.append(Tok("FUNC", {"ln": "log"}.get(cmd, cmd), m.start(), i))
            elif cmd in _greek():
                out.append(Tok("NAME", _GREEK_LATEX.get(cmd, cmd), m.start(), i))
            else:
                raise ParseError(f"unsupported LaTeX command \\{cmd}", text, m.start() + 1)
            continue
        if ch.isalpha():
            j = i
            while j < n and (text[j].isalnum() and text[j].isascii()):
                j += 1
            # ASCII function names with an underscore (softmax_rows) stay one word
            m = re.compile(r"[A-Za-z][A-Za-z0-9_]*").match(text, i)
            word = m.group(0) if m else text[i:j]
            if word != text[i:j] and word in funcs and text[m.end():m.end() + 1] == "(":
                j = m.end()
            primes = re.compile(r"'+\(").match(text, j)
            if primes and text[i:j] + "'" in funcs:         # f'(z) of a declared function: one name
                out.append(Tok("NAME", text[i:primes.end() - 1], i, primes.end() - 1))
                i = primes.end() - 1
                continue
            if j == i:
                raise ParseError(f"unexpected character {ch!r}", text, i + 1)
            out.append(Tok("NAME", text[i:j], i, j))
            i = j
            continue
        if "0" <= ch <= "9":          # not isdigit(): '²' is a digit to it, and no number to the pattern
            m = re.compile(r"[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?").match(text, i)
            out.append(Tok("NUM", m.group(0), i, m.end()))
            i = m.end()
            continue
        if text.startswith((".*", "./", ".^"), i):
            out.append(Tok("OP", text[i + 1], i, i + 2))
            i += 2
            continue
        if ch in "+-*/^_()[]{},'=":
            out.append(Tok("OP", ch, i, i + 1))
            i += 1
            continue
        raise ParseError(f"unexpected character {ch!r}", text, i + 1)
    out.append(Tok("END", "", n, n))
    return out


class _Parser:
    def __init__(self, text: str):
        if len(text) > MAX_LENGTH:
            raise ParseError(f"index expression longer than {MAX_LENGTH} characters", text[:80] + "…", 81)
        self.src = text
        self.latex = is_latex(text)
        self.toks = tokenize(text)
        self.i = 0
        self.depth = 0
        self.funcs = _function_names()

    # ---- token helpers
    @property
    def tok(self) -> Tok:
        return self.toks[self.i]

    def peek(self, k: int = 1) -> Tok:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def at(self, type_: str, value: str | None = None) -> bool:
        t = self.tok
        return t.type == type_ and (value is None or t.value == value)

    def take(self) -> Tok:
        t = self.tok
        self.i += 1
        return t

    def expect(self, value: str, what: str) -> Tok:
        if not self.at("OP", value):
            self.fail(f"expected {what}", self.tok)
        return self.take()

    def fail(self, message: str, tok: Tok | None = None):
        tok = tok or self.tok
        if tok.type == "END":
            raise ParseError(message + " (the expression ends too early)", self.src, len(self.src) + 1)
        raise ParseError(message, self.src, tok.pos + 1)

    def deeper(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.fail(f"index expression nested deeper than {MAX_DEPTH} levels")

    # ---- grammar
    def parse(self) -> IX:
        if self.at("END"):
            raise ParseError("empty index expression", self.src, 1)
        node = self.expr()
        if not self.at("END"):
            self.fail(f"unexpected {self.src[self.tok.pos:self.tok.end]!r}")
        if _pure(node) and node.kind not in ("mexpr", "num"):  # all matrix form: one matcalc expression
            return IX("mexpr", self._ascii(0, len(self.src), self.toks[0]), (), pos=0)
        return node

    def expr(self) -> IX:
        self.deeper()
        pos = self.tok.pos
        terms = [self.term()]
        while self.at("OP", "+") or self.at("OP", "-"):
            op = self.take()
            t = self.term()
            terms.append(t if op.value == "+" else IX("neg", t, pos=op.pos))
        self.depth -= 1
        return terms[0] if len(terms) == 1 else IX("add", *terms, pos=pos)

    def _starts_factor(self) -> bool:
        t = self.tok
        if t.type in ("NAME", "NUM", "FUNC"):
            return True
        if t.type == "CMD" and t.value in ("sum", "frac", "delta", "sigma"):
            return True
        return t.type == "OP" and t.value in "({"

    def term(self) -> IX:
        pos = self.tok.pos
        node = self.unary()
        while True:
            if self.at("OP", "*"):
                self.take()
                node = _mul(node, self.unary(), pos)
            elif self.at("OP", "/"):
                op = self.take()
                node = IX("div", node, self.unary(), pos=op.pos)
            elif self._starts_factor():  # implicit product: s_i(delta_ik - s_k), W_{ij} x_j
                node = _mul(node, self.unary(), pos)
            else:
                return node

    def unary(self) -> IX:
        if self.at("OP", "-"):
            op = self.take()
            return IX("neg", self.unary(), pos=op.pos)
        if self.at("OP", "+"):
            self.take()
            return self.unary()
        if (self.at("CMD", "sum") or (self.at("NAME", "sum") and self.peek().type == "OP"
                                      and self.peek().value == "_")):
            return self.big_sum()
        return self.power()

    def big_sum(self) -> IX:
        tok = self.take()
        if not self.at("OP", "_"):
            self.fail("a sum needs its index: sum_k (...) or \\sum_{k} ...", tok)
        self.take()
        indices = self.index_list(bounds=True)
        if self.at("OP", "^"):  # an upper bound: the index runs over its whole range anyway
            self.take()
            self._skip_group()
        if self.at("END") or (self.at("OP") and self.tok.value in "+-)}],=*/"):
            self.fail("a sum needs a summand", self.tok)
        body = self.term()
        return IX("sum", tuple(indices), body, pos=tok.pos)

    def _skip_group(self):
        if self.at("OP", "{"):
            depth = 0
            while not self.at("END"):
                t = self.take()
                if t.type == "OP" and t.value == "{":
                    depth += 1
                elif t.type == "OP" and t.value == "}":
                    depth -= 1
                    if depth == 0:
                        return
            self.fail("unclosed '{'")
        if self.tok.type in ("NAME", "NUM"):
            t = self.take()
            if self.latex and len(t.value) > 1:
                self.fail("an unbraced bound takes one character: use braces", t)
            return
        self.fail("expected the sum's upper bound")

    def index_list(self, bounds: bool = False) -> list[str]:
        """The letters after `_`: `k`, `ij`, `{i,j}`, `{ij}`, `{k=1}` (a lower bound is skipped)."""
        t = self.tok
        if self.at("OP", "{"):
            self.take()
            letters: list[str] = []
            while not self.at("OP", "}"):
                if self.at("NAME"):
                    letters.extend(self._letters(self.take()))
                elif self.at("OP", ","):
                    self.take()
                elif bounds and self.at("OP", "="):
                    self.take()
                    while not (self.at("OP", "}") or self.at("END")):
                        self.take()
                else:
                    self.fail("expected index letters", self.tok)
            self.take()
            if not letters:
                self.fail("no index letter", t)
            return letters
        if self.at("NAME"):
            tok = self.take()
            if self.latex and len(tok.value) > 1:  # TeX: _ij is _i times j; give the rest back
                self.toks[self.i - 1: self.i] = [Tok("NAME", tok.value[0], tok.pos, tok.pos + 1),
                                                 Tok("NAME", tok.value[1:], tok.pos + 1, tok.end)]
                return [tok.value[0]]
            return self._letters(tok)
        self.fail("expected an index letter after '_'", t)

    def _letters(self, tok: Tok) -> list[str]:
        if not tok.value.isalpha():
            self.fail(f"an index is a letter, got {tok.value!r}", tok)
        return list(tok.value)

    def power(self) -> IX:
        base = self.postfix()
        while self.at("OP", "^"):
            op = self.take()
            estart = self.tok.pos
            if self.at("OP", "{"):
                self.take()
                e = self.expr()
                self.expect("}", "'}'")
            elif self.at("OP", "-"):
                m = self.take()
                e = IX("neg", self.postfix(), pos=m.pos)
            else:
                e = self.postfix()
            if base.kind == "mexpr" and base.args == ("e", ()) and not _pure(e):  # e^{x_i} is exp(x_i)
                base = IX("fn", "exp", e, pos=base.pos)
                continue
            if e.kind == "mexpr" and e.args in (("T", ()), ("top", ())) and base.kind == "mexpr":
                if base.args[1]:
                    self.fail("a transpose of an entry: an entry is a number", op)
                base = IX("mexpr", _wrap(base.args[0]) + "'", (), pos=base.pos)
                continue
            p = _constant(e)
            if p is None:
                base = self._symbolic_power(base, e, op, estart)
                continue
            base = IX("pow", base, p, pos=base.pos)
        return base

    def _symbolic_power(self, base: IX, e: IX, op: Tok, estart: int) -> IX:
        """x.^p, x_i^p, (abs(x).^(p - 1))_i: a scalar symbol as exponent, written in matrix form (an entry
        of x.^p is x_i^p), for matcalc's own parser."""
        if not _pure(e):
            raise ParseError("an exponent must be a number or a scalar expression without indices", self.src,
                             op.pos + 2)
        exponent = self._ascii(estart, self.tok.pos, op)
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", exponent):
            exponent = f"({exponent})"
        if _pure(base):
            return IX("mexpr", self._ascii(base.pos, self.tok.pos, op) if not self.latex else
                      f"{_wrap(base.args[0]) if base.kind == 'mexpr' else base.args[0]}.^{exponent}", (),
                      pos=base.pos)
        if base.kind in ("entry", "mexpr") and base.args[1]:
            return IX("mexpr", f"{_wrap(base.args[0])}.^{exponent}", base.args[1], pos=base.pos)
        raise ParseError("an exponent must be a number (a symbol may be the exponent of an entry, x_i^p)",
                         self.src, op.pos + 2)

    def postfix(self) -> IX:
        t = self.tok
        start = t.pos
        node, matrix_text = self.atom()
        while self.at("OP", "'"):
            if matrix_text is None:
                self.fail("a transpose inside index notation: write the entry with its indices swapped "
                          "(A'_ij is A_ji)")
            self.take()
            matrix_text += "'"
            node = None
        if self.at("OP", "_") or self.at("OP", "["):
            if matrix_text is None:
                self.fail("a subscript is supported on a name, a function call or a parenthesized matrix "
                          "expression, not on an index expression")
            indices = self.subscript()
            return self._entry(matrix_text, indices, start)
        if node is None:
            return IX("mexpr", matrix_text, (), pos=start)
        return node

    def subscript(self) -> tuple[str, ...]:
        if self.at("OP", "["):
            self.take()
            letters = []
            while True:
                tok = self.tok
                if not self.at("NAME"):
                    self.fail("expected an index name in [...]")
                self.take()
                if not tok.value.isalpha():
                    self.fail(f"an index is a letter, got {tok.value!r}", tok)
                letters.append(tok.value)
                if self.at("OP", ","):
                    self.take()
                    continue
                self.expect("]", "']' or ','")
                return tuple(letters)
        self.take()
        return tuple(self.index_list())

    def _entry(self, text: str, indices: tuple[str, ...], pos: int) -> IX:
        if text == "delta":
            if len(indices) != 2:
                raise ParseError(f"the Kronecker delta takes two indices, got {len(indices)}", self.src, pos + 1)
            return IX("delta", indices[0], indices[1], pos=pos)
        if text == "e" and len(indices) == 1:
            return IX("unit", indices[0], pos=pos)
        if len(indices) > 2:
            raise ParseError(f"{len(indices)} indices on {text}: entries of vectors and matrices take one or two",
                             self.src, pos + 1)
        if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", text):
            return IX("entry", text, indices, pos=pos)
        return IX("mexpr", text, indices, pos=pos)

    def atom(self) -> tuple[IX | None, str | None]:
        """The node, and the matcalc text it stands for if it could take a subscript."""
        t = self.tok
        if t.type == "NUM":
            self.take()
            return IX("num", Fraction(t.value), pos=t.pos), None
        if t.type == "CMD" and t.value == "frac":
            self.take()
            a = self.frac_arg()
            b = self.frac_arg()
            return IX("div", a, b, pos=t.pos), None
        if t.type == "CMD" and t.value == "delta":
            self.take()
            return None, "delta"
        if t.type == "CMD" and t.value == "sigma":
            self.take()
            if self.at("OP", "("):
                return self.call("sigmoid", t)
            return None, "sigma"
        if t.type == "FUNC" or (t.type == "NAME" and t.value in self.funcs and self.peek().type == "OP"
                                and self.peek().value == "("):
            self.take()
            return self.call(t.value, t)
        if t.type == "NAME":
            self.take()
            name = t.value
            if self.at("OP", "_") and self.peek().type == "NUM":  # W_1, W_{1}: part of the name
                self.take()
                name += ("_" if not self.latex else "") + self.take().value
            elif self.at("OP", "_") and self.peek().type == "OP" and self.peek().value == "{" \
                    and self.peek(2).type == "NUM" and self.peek(3).type == "OP" and self.peek(3).value == "}":
                self.take(), self.take()
                name += self.take().value
                self.take()
            if name[0].isdigit():
                self.fail("a name starts with a letter", t)
            return None, name
        if t.type == "OP" and t.value in "({":
            self.take()
            close = ")" if t.value == "(" else "}"
            inner_start = self.tok.pos
            node = self.expr()
            inner_end = self.tok.pos
            self.expect(close, f"'{close}'")
            if _pure(node):  # a matrix-form piece: (W*x + b)_i, (y'*s)
                return None, self._matrix_text(inner_start, inner_end, t)
            return node, None
        self.fail("expected a name, a number or '('" if t.type != "END" else "an operand is missing")

    def call(self, name: str, tok: Tok) -> tuple[IX | None, str | None]:
        if not self.at("OP", "("):
            if self.latex and name in _LATEX_FUNCS | {"exp", "log"}:  # \\log x_i: the next factor
                arg = self.power()
                if _pure(arg):
                    self.fail(f"write \\{name}(...) with parentheses around a matrix-form argument", tok)
                return self._fn(name, arg, tok), None
            self.fail(f"expected '(' after {name}")
        self.take()
        inner_start = self.tok.pos
        arg = self.expr()
        inner_end = self.tok.pos
        self.expect(")", "')'")
        if not _pure(arg):
            if name in _elementwise_names() and not (self.at("OP", "_") or self.at("OP", "[")):
                return self._fn(name, arg, tok), None
            raise ParseError(f"{name}(...) of index entries: write {name} of a matrix expression and take its "
                             f"entry, e.g. {name}(z)_i", self.src, tok.pos + 1)
        return None, f"{name}({self._ascii(inner_start, inner_end, tok)})"

    def _fn(self, name: str, arg: IX, tok: Tok) -> IX:
        if name not in _elementwise_names():
            raise ParseError(f"{name} is not an elementwise function: write {name}(matrix expression) "
                             f"or an entry {name}(...)_i", self.src, tok.pos + 1)
        return IX("fn", name, arg, pos=tok.pos)

    def frac_arg(self) -> IX:
        if self.at("OP", "{"):
            self.take()
            e = self.expr()
            self.expect("}", "'}'")
            return e
        t = self.tok
        if t.type in ("NAME", "NUM") and len(t.value) > 1:
            self.fail("an unbraced \\frac argument takes one character: use braces", t)
        return self.power()

    def _matrix_text(self, start: int, end: int, tok: Tok) -> str:
        return f"({self._ascii(start, end, tok)})"

    def _ascii(self, start: int, end: int, tok: Tok) -> str:
        """The matcalc text of a matrix-form piece (LaTeX pieces go through latex_to_ascii)."""
        piece = _normalize_unicode(self.src[start:end]).strip()
        if not piece:
            raise ParseError("empty parentheses", self.src, tok.pos + 1)
        from .latex import latex_to_ascii, looks_like_latex

        if self.latex or looks_like_latex(piece):
            try:
                return latex_to_ascii(piece)
            except ParseError as e:
                raise ParseError(e.message, self.src, start + (e.column or 1)) from None
        return piece


def _wrap(text: str) -> str:
    return text if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*|\(.*\)", text) else f"({text})"


def _mul(a: IX, b: IX, pos: int) -> IX:
    fa = a.args if a.kind == "mul" else (a,)
    return IX("mul", *fa, b, pos=pos)


def _constant(e: IX) -> Fraction | None:
    if e.kind == "num":
        return e.args[0]
    if e.kind == "neg":
        v = _constant(e.args[0])
        return None if v is None else -v
    if e.kind == "div":
        a, b = _constant(e.args[0]), _constant(e.args[1])
        return None if a is None or b is None or b == 0 else a / b
    return None


def _pure(node: IX) -> bool:
    """No index construct inside: the piece is matrix-form text for matcalc's own parser."""
    if node.kind in ("mexpr", "num"):
        return node.kind == "num" or not node.args[1]
    if node.kind in ("add", "mul", "neg"):
        return all(_pure(a) for a in node.args)
    if node.kind in ("div", "pow"):
        return _pure(node.args[0]) and (node.kind == "pow" or _pure(node.args[1]))
    return False


def parse_index(text: str) -> IX:
    """Parse an index expression (ASCII or LaTeX); ParseError with a caret on bad text."""
    if not isinstance(text, str):
        raise ParseError(f"expected an index expression as text, got {type(text).__name__}")
    text = _normalize_unicode(text)
    return _Parser(text).parse()


# ---------------------------------------------------------------- derivative left sides

_ASCII_D = re.compile(r"\s*(?:d|∂|\\partial\s*)")


def parse_index_derivative(lhs_text: str) -> tuple[str, tuple[str, ...], str, tuple[str, ...]]:
    r"""`dL/dW_ij`, `ds_i/dz_k`, `dz/dW_ij`, `\frac{\partial s_i}{\partial z_k}`, `∂L/∂W_{ij}` ->
    (numerator name, its indices, denominator name, its indices), e.g. ('s', ('i',), 'z', ('k',)).

    Names follow the LaTeX reading of latex.py (`\hat{y}` -> `yhat`, `W_1` -> `W1`); an ASCII name
    after `d` is the rest of the word (`dCE` -> `CE`)."""
    if not isinstance(lhs_text, str):
        raise ParseError(f"expected a derivative as text, got {type(lhs_text).__name__}")
    text = _normalize_unicode(lhs_text)
    p = _Parser(text)
    if p.at("CMD", "frac"):
        p.take()
        p.expect("{", "'{' after \\frac")
        num = _d_part(p, "}")
        p.expect("}", "'}'")
        p.expect("{", "'{' for the denominator")
        den = _d_part(p, "}")
        p.expect("}", "'}'")
    else:
        num = _d_part(p, "/")
        p.expect("/", "'/' between numerator and denominator (dL/dW_ij)")
        den = _d_part(p, None)
    if not p.at("END"):
        p.fail(f"unexpected {text[p.tok.pos:p.tok.end]!r} after the derivative")
    return num[0], num[1], den[0], den[1]


def _d_part(p: _Parser, stop: str | None) -> tuple[str, tuple[str, ...]]:
    t = p.tok
    if p.at("CMD", "partial"):
        p.take()
        if not p.at("NAME"):
            p.fail("expected a name after \\partial")
        tok = p.take()
        name = tok.value
    elif p.at("NAME") and p.tok.value[0] == "d" and len(p.tok.value) > 1:
        tok = p.take()
        name = tok.value[1:]
    elif p.at("NAME", "d"):
        p.take()
        if not p.at("NAME"):
            p.fail("expected a name after d")
        tok = p.take()
        name = tok.value
    else:
        p.fail("expected a derivative: dL/dW_ij, ds_i/dz_k or \\frac{\\partial s_i}{\\partial z_k}", t)
    indices: tuple[str, ...] = ()
    if p.at("OP", "_") and p.peek().type == "NUM":
        p.take()
        name += ("_" if not p.latex else "") + p.take().value
    if p.at("OP", "_") or p.at("OP", "["):
        indices = p.subscript()
        if len(indices) > 2:
            p.fail(f"{len(indices)} indices on {name}: one or two", tok)
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
        p.fail(f"{name!r} is not a name", tok)
    return name, indices


def atomic_text(text: str) -> bool:
    """Whether a matrix-form text needs no parentheses before a subscript or a transpose."""
    if text.isidentifier():
        return True
    if text.startswith("(") and text.endswith(")"):
        depth = 0
        for n, ch in enumerate(text):
            depth += ch == "("
            depth -= ch == ")"
            if depth == 0 and n < len(text) - 1:
                return False
        return True
    return bool(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*\(.*\)'*", text)) and atomic_text(text[text.index("("):].rstrip("'"))


def rename_indices(n: IX, m: dict) -> IX:
    """The same index expression with its indices renamed by `m` (bound ones included)."""
    k, a = n.kind, n.args
    r = lambda i: m.get(i, i)  # noqa: E731
    if k in ("entry", "mexpr"):
        return IX(k, a[0], tuple(r(i) for i in a[1]), pos=n.pos)
    if k == "delta":
        return IX(k, r(a[0]), r(a[1]), pos=n.pos)
    if k == "unit":
        return IX(k, r(a[0]), pos=n.pos)
    if k == "sum":
        return IX(k, tuple(r(i) for i in a[0]), rename_indices(a[1], m), pos=n.pos)
    if k in ("add", "mul", "neg", "div"):
        return IX(k, *[rename_indices(c, m) for c in a], pos=n.pos)
    if k == "pow":
        return IX(k, rename_indices(a[0], m), a[1], pos=n.pos)
    if k == "fn":
        return IX(k, a[0], rename_indices(a[1], m), pos=n.pos)
    return n
