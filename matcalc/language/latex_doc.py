r"""LaTeX math as people write it in documents, read into a neutral tree (`M`) that keeps what the text says.

Why a reader of its own: `latex.py` translates a formula into matcalc's matrix language, deciding at once
what every name is. A document cannot be read that way: whether `y_i` is an entry, `W_3` a name, `J(\theta)`
a call or `d` a differential depends on the definitions around the formula. So this module only builds the
tree — subscripts kept as written, calls kept as applications, derivatives (`\frac{\partial A}{\partial B}`,
`\partial_{o_i} l`, `\nabla_{\theta_j} J`, primes), differentials (`dX`), sums with their bounds, `cases`,
indicators `\mathbb{I}\{y=j\}`, lists `[y_1, \dots, y_N]` — and check/documents decides what it means.
Nothing is evaluated here; every node is built token by token.

Read: implicit products (`2 (X - A)`, `\hat{y}_t (1 - \hat{y}_t)`, `W_3 a^{(2)}`), `\cdot \times * /`,
`\odot \circ \oslash \otimes` (below the products: `\phi'(W_1x) \odot W_2^\top g` is φ' ⊙ (W_2ᵀ g)), `^T ^\top
^{\mathsf T} ^{-1} ^{-T}`, `^{(2)}` as part of a name, powers, `e^{...}`, `\mathbf \boldsymbol \hat \tilde
\bar \vec \mathcal`, `\operatorname{tr} \mathrm{Tr}`, bare `exp( log( diag( tr(`, `\text{np.dot}`, `\|x\|_2^2`,
`|X|`, `\left( \right) \big( \bigg(`, `\underbrace{..}_{..}`.
"""

from __future__ import annotations

from ..errors import ParseError
from .latex_doc_commands import (_ACCENTS, _DOTS, _HADS, _IGNORED, _MULS, _RELS, _STYLES, _TOKEN,
                                 FUNCTIONS, GREEK, Commands, M, Tok, _flat_mul)

MAX_LENGTH = 20000
MAX_DEPTH = 150


def tokenize(text: str) -> list[Tok]:
    """CMD (a command's name), ESC (\\{ \\} \\| \\\\), WORD (a run of letters), NUM, DOTS, OP; `space` says
    whether blanks (or a spacing command) stood before the token."""
    out: list[Tok] = []
    space = False
    for m in _TOKEN.finditer(text):
        cmd, esc, word, num, dots, blank, op = m.groups()
        pos = m.start()
        if blank is not None:
            space = True
            continue
        if cmd is not None:
            if cmd in _IGNORED:
                space = space or cmd in (",", ";", "quad", "qquad", ":")
                continue
            if cmd in _DOTS:
                out.append(Tok("DOTS", cmd, pos, space))
            else:
                out.append(Tok("CMD", cmd, pos, space))
        elif esc is not None:
            if esc in ",;:! ":
                space = True
                continue
            out.append(Tok("ESC", esc, pos, space))
        elif word is not None:
            out.append(Tok("WORD", word, pos, space))
        elif num is not None:
            out.append(Tok("NUM", num, pos, space))
        elif dots is not None:
            out.append(Tok("DOTS", "dots", pos, space))
        elif op == "~":
            space = True
            continue
        else:
            out.append(Tok("OP", _UNICODE.get(op, op), pos, space))
        space = False
    out.append(Tok("END", "", len(text), space))
    return out


_UNICODE = {"−": "-", "·": "*", "×": "*", "⋅": "*", "≠": "≠", "≤": "≤"}


class _Parser(Commands):
    def __init__(self, text: str):
        if len(text) > MAX_LENGTH:
            raise ParseError(f"a formula longer than {MAX_LENGTH} characters", text[:60] + "…", 61)
        self.src, self.toks, self.i, self.depth = text, tokenize(text), 0, 0
        if "\\begin" not in text:       # alignment marks outside an environment mean nothing
            self.toks = [t for t in self.toks if not (t.type == "OP" and t.value == "&")]
        self._bars = self._norms = 0

    # ---- helpers
    @property
    def tok(self) -> Tok:
        return self.toks[self.i]

    def peek(self, k=1) -> Tok:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def at(self, type_, value=None) -> bool:
        t = self.tok
        return t.type == type_ and (value is None or t.value == value)

    def at_op(self, *values) -> bool:
        return self.tok.type == "OP" and self.tok.value in values

    def take(self) -> Tok:
        t = self.tok
        self.i += 1
        return t

    def fail(self, message, tok=None):
        tok = tok or self.tok
        raise ParseError(message, self.src, tok.pos + 1)

    def expect_op(self, value, what):
        if not self.at_op(value):
            self.fail(f"expected {what}" + (" (the formula ends too early)" if self.at("END") else ""))
        return self.take()

    def enter(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.fail(f"a formula nested deeper than {MAX_DEPTH} levels")

    # ---- grammar
    def parse(self) -> M:
        if self.at("END"):
            raise ParseError("an empty formula", self.src, 1)
        node = self.expr()
        if not self.at("END"):
            t = self.tok
            what = self.src[t.pos:t.pos + 12]
            self.fail(f"cannot read {what!r} here")
        return node

    def expr(self) -> M:
        self.enter()
        pos = self.tok.pos
        terms = [(1, self.had())]
        while self.at_op("+", "-") or self.at("CMD", "pm") or self.at("CMD", "mp"):
            t = self.take()
            sign = {"+": 1, "-": -1, "pm": 0, "mp": 0}[t.value]
            if sign == 0:
                self.fail("± is two formulas at once: write them apart", t)
            terms.append((sign, self.had()))
        self.depth -= 1
        return terms[0][1] if len(terms) == 1 else M("add", tuple(terms), pos=pos)

    def had(self) -> M:
        node = self.product()
        while self.at("CMD") and self.tok.value in _HADS:
            t = self.take()
            node = M(_HADS[t.value], node, self.product(), pos=t.pos)
        return node

    def starts_factor(self) -> bool:
        t = self.tok
        if t.type in ("WORD", "NUM"):
            return True
        if t.type == "CMD":
            return t.value not in _MULS and t.value not in _HADS and t.value not in _RELS and t.value not in (
                "pm", "mp", "end", "to", "rightarrow", "leftarrow", "Rightarrow", "Leftarrow", "mid", "qquad",
                "quad", "leftrightarrow", "iff", "implies", "approx", "equiv", "propto", "sim", "neq")
        if t.type == "ESC":
            return t.value == "{" or t.value == "|" and self._norms == 0
        return t.type == "OP" and t.value in "([{|"

    def product(self) -> M:
        pos = self.tok.pos
        node = self.unary()
        while True:
            if self.at_op("*") or (self.at("CMD") and self.tok.value in _MULS):
                t = self.take()
                node = M("mul", node, self.unary(), _MULS.get(t.value, "dot"), pos=pos)
            elif self.at_op("/"):
                t = self.take()
                node = M("div", node, self.unary(), pos=t.pos)
            elif self.at_op("|") and self._closing_bar():
                return node
            elif self.starts_factor():
                node = M("mul", node, self.unary(), "imp", pos=pos)
            else:
                return node

    def _closing_bar(self) -> bool:
        return self._bars > 0

    def unary(self) -> M:
        if self.at_op("-"):
            t = self.take()
            return M("neg", self.unary(), pos=t.pos)
        if self.at_op("+"):
            self.take()
            return self.unary()
        if self.at("CMD", "sum") or self.at("CMD", "prod"):
            return self.big_sum()
        if self.at("CMD", "partial") and not self.at_op_ahead("_"):
            return self.slash_derivative()
        return self.postfix()

    def at_op_ahead(self, value) -> bool:
        n = self.peek()
        return n.type == "OP" and n.value == value

    def big_sum(self) -> M:
        t = self.take()
        if t.value == "prod":
            self.fail("a product ∏ is not read", t)
        index = lower = upper = None
        if self.at_op("_"):
            self.take()
            index, lower = self.sum_sub()
        if self.at_op("^"):
            self.take()
            upper = self.script_arg()
        if not self.starts_factor() and not self.at_op("-"):
            self.fail("a sum needs a summand", self.tok)
        body = self.product()
        return M("sum", index, lower, upper, body, pos=t.pos)

    def sum_sub(self):
        """`_j`, `_{j=1}`, `_{i,j}`, `_{ij}` -> (letters, lower bound or None)."""
        if self.at_op("{"):
            self.take()
            letters, lower = [], None
            while not self.at_op("}"):
                if self.at("END"):
                    self.fail("unclosed '{' in a sum's index")
                if self.at("WORD"):
                    letters.extend(self.take().value)
                elif self.at("CMD") and self.tok.value in GREEK:
                    letters.append(self.take().value)
                elif self.at_op(","):
                    self.take()
                elif self.at_op("="):
                    self.take()
                    lower = self.expr()
                else:
                    self.fail("expected the sum's index")
            self.take()
            return tuple(letters), lower
        if self.at("WORD"):
            w = self.take()
            if len(w.value) > 1:   # \sum_ij: TeX takes one letter
                self.toks.insert(self.i, Tok("WORD", w.value[1:], w.pos + 1, False))
            return (w.value[0],), None
        if self.at("CMD") and self.tok.value in GREEK:
            return (self.take().value,), None
        self.fail("expected the sum's index after _")

    def slash_derivative(self) -> M:
        """`\\partial z/\\partial \\mathbf{w}` (inline)."""
        t = self.take()
        num = self.postfix()
        if not self.at_op("/"):
            self.fail("\\partial here must be a derivative ∂a/∂b")
        self.take()
        if not self.at("CMD", "partial"):
            self.fail("a derivative's denominator starts with \\partial")
        self.take()
        den = self.postfix()
        return M("deriv", num, den, "partial", pos=t.pos)

    # ---- postfix: scripts, primes, calls
    def postfix(self) -> M:
        node = self.atom()
        while True:
            if self.at_op("_"):
                u = self.take()
                node = self.subscript(node, u)
            elif self.at_op("^"):
                c = self.take()
                node = self.superscript(node, c)
            elif self.at_op("'"):
                t = self.take()
                node = M("prime", node, pos=t.pos)
            elif self.at_op("(") and not self.tok.space and node.kind in ("name", "sub", "prime", "func", "pow"):
                node = self.apply(node)
            elif self.at_op("(") and node.kind == "func":
                node = self.apply(node)
            else:
                break
        if node.kind == "func":
            if self.starts_factor():     # \log x, \tanh^2(z) handled above; \log\det X
                return M("call", node, (self.postfix(),), pos=node.pos)
            self.fail(f"the function {node.args[0]} needs an argument")
        return node

    def apply(self, f: M) -> M:
        o = self.take()
        args = [self.expr()]
        while self.at_op(","):
            self.take()
            args.append(self.expr())
        if self.at_op("|") or self.at_op("="):
            self.fail("a condition inside parentheses (a probability P(Y=i|x)?) is not read")
        self.expect_op(")", "')'")
        return M("call" if f.kind == "func" else "apply", f, tuple(args), pos=o.pos)

    def script_arg(self) -> M:
        """One script argument: a braced group or a single token (one letter or digit)."""
        if self.at_op("{"):
            self.take()
            node = self.expr() if not self.at_op("}") else M("empty")
            self.expect_op("}", "'}'")
            return node
        t = self.tok
        if t.type == "WORD":
            self.take()
            if len(t.value) > 1:
                self.toks.insert(self.i, Tok("WORD", t.value[1:], t.pos + 1, False))
            return M("name", t.value[0], pos=t.pos)
        if t.type == "NUM":
            self.take()
            if len(t.value) > 1 and "." not in t.value:
                self.toks.insert(self.i, Tok("NUM", t.value[1:], t.pos + 1, False))
                return M("num", float(t.value[0]), pos=t.pos)
            return M("num", float(t.value), pos=t.pos)
        if t.type == "CMD" and t.value in ("top", "intercal", "prime"):
            self.take()
            return M("name", "T", pos=t.pos)
        return self.atom()

    def subscript(self, base: M, u: Tok) -> M:
        if base.kind == "sub":
            self.fail("a second subscript", u)
        if self.at_op("{"):
            self.take()
            items = []
            while not self.at_op("}"):
                if self.at("END"):
                    self.fail("unclosed '{' in a subscript")
                if self.at_op(","):
                    self.take()
                    continue
                items.append(self.sub_item())
            self.take()
        else:
            items = [self.sub_item(single=True)]
        if not items:
            self.fail("an empty subscript", u)
        return M("sub", base, tuple(items), pos=base.pos)

    def sub_item(self, single=False) -> M:
        """Index letters, digits, text (`\\text{pred}`), a Greek letter, or an expression (`l+1`, `j \\neq t`)."""
        t = self.tok
        if t.type == "WORD" and single:
            self.take()
            if len(t.value) > 1:
                self.toks.insert(self.i, Tok("WORD", t.value[1:], t.pos + 1, False))
            return M("name", t.value[0], pos=t.pos)
        if t.type == "CMD" and single and t.value in GREEK:
            self.take()
            return M("name", t.value, pos=t.pos)
        if t.type == "NUM" and single:
            self.take()
            if len(t.value) > 1:
                self.toks.insert(self.i, Tok("NUM", t.value[1:], t.pos + 1, False))
            return M("num", float(t.value[0]), pos=t.pos)
        start = self.i
        node = self.expr()
        if self.at("CMD") and self.tok.value in _RELS or self.at_op("=", "<", ">", "≠", "≤"):
            op = self.take()
            rhs = self.expr()
            return M("rel", _RELS.get(op.value, {"≠": "!=", "≤": "<="}.get(op.value, op.value)), node, rhs,
                     pos=t.pos)
        if node.kind == "mul" and all(x.kind == "name" and len(x.args[0]) == 1 for x in _flat_mul(node)):
            return M("letters", tuple(x.args[0] for x in _flat_mul(node)), pos=t.pos)
        del start
        return node

    def superscript(self, base: M, c: Tok) -> M:
        if base.kind == "call" and base.args[0].kind == "func" and base.args[0].args[0] == "exp" \
                and base.pos == base.args[0].pos and self.src[base.pos:base.pos + 1] == "e":
            self.fail("a double superscript e^{a}^b (write braces: {e^{a}}^b or (…)^b)", c)
        if base.kind in ("pow", "T", "inv") and not (self.at_op("{") and self.peek().type == "OP"
                                                     and self.peek().value == "("):
            self.fail("a double superscript (write braces: {x^a}^b)", c)
        t = self.tok
        if t.type == "OP" and t.value == "{":
            nxt, nxt2 = self.peek(), self.peek(2)
            if nxt.type == "OP" and nxt.value == "(" :       # a^{(2)}: a layer index, part of the name
                self.take()
                self.take()
                inner = self.expr()
                self.expect_op(")", "')'")
                self.expect_op("}", "'}'")
                return M("layer", base, inner, pos=base.pos)
            if (nxt.type == "WORD" and nxt.value == "T" or nxt.type == "CMD" and nxt.value in ("top", "intercal")) \
                    and nxt2.type == "OP" and nxt2.value == "}":
                self.take(), self.take(), self.take()
                return M("T", base, pos=base.pos)
            if nxt.type == "CMD" and nxt.value in ("mathsf", "mathrm", "intercal") and nxt2.type in ("WORD", "OP"):
                save = self.i
                self.take()
                self.take()
                if self.at("WORD", "T"):
                    self.take()
                    self.expect_op("}", "'}'")
                    return M("T", base, pos=base.pos)
                if self.at_op("{") and self.peek().type == "WORD" and self.peek().value == "T":
                    self.take(), self.take()
                    self.expect_op("}", "'}'")
                    self.expect_op("}", "'}'")
                    return M("T", base, pos=base.pos)
                self.i = save
            if nxt.type == "OP" and nxt.value == "-" and (nxt2.type == "WORD" and nxt2.value == "T"
                                                        or nxt2.type == "CMD" and nxt2.value == "top"):
                self.take(), self.take(), self.take()
                self.expect_op("}", "'}'")
                return M("T", M("inv", base, pos=base.pos), pos=base.pos)
            if nxt.type == "OP" and nxt.value == "#":
                self.fail("X^{#} (the adjugate) is not read")
        if t.type == "WORD" and t.value[0] == "T" and (len(t.value) == 1 or True):
            self.take()
            if len(t.value) > 1:   # ^Texp(z): TeX takes one letter
                self.toks.insert(self.i, Tok("WORD", t.value[1:], t.pos + 1, False))
            return M("T", base, pos=base.pos)
        if t.type == "CMD" and t.value in ("top", "intercal"):
            self.take()
            return M("T", base, pos=base.pos)
        if t.type == "CMD" and t.value == "prime":
            self.take()
            return M("prime", base, pos=base.pos)
        e = self.script_arg()
        if e.kind == "neg" and e.args[0].kind == "num" and e.args[0].args[0] == 1.0:
            return M("inv", base, pos=base.pos)
        if e.kind == "name" and e.args[0] in ("T",):
            return M("T", base, pos=base.pos)
        if base.kind == "name" and base.args[0] == "e":
            return M("call", M("func", "exp", pos=base.pos), (e,), pos=base.pos)
        return M("pow", base, e, pos=base.pos)

    # ---- atoms
    def atom(self) -> M:
        t = self.tok
        self.enter()
        try:
            return self._atom(t)
        finally:
            self.depth -= 1

    def _atom(self, t: Tok) -> M:
        if t.type == "NUM":
            self.take()
            return M("num", float(t.value), pos=t.pos)
        if t.type == "DOTS":
            self.take()
            return M("dots", pos=t.pos)
        if t.type == "WORD":
            return self.word()
        if t.type == "OP" and t.value in "([":
            return self.group()
        if t.type == "OP" and t.value == "{":
            self.take()
            if self.at("WORD") and self.peek().type == "OP" and self.peek().value == "}":
                w = self.take()
                self.take()
                return M("name", w.value, pos=w.pos)      # {err}_i: one name
            if self.at_op("}"):
                self.fail("empty braces")
            node = self.expr()
            self.expect_op("}", "'}'")
            return M("group", node, "{", pos=t.pos)
        if t.type == "OP" and t.value == "|":
            if self.peek().type == "OP" and self.peek().value == "|" and not self.peek().space:
                self.take()
                return self.norm(t)
            return self.bars(t)
        if t.type == "ESC" and t.value == "|":
            return self.norm(t)
        if t.type == "ESC" and t.value == "{":
            return self.brace_set(t)
        if t.type == "CMD":
            return self.command(t)
        self.fail(f"cannot read {t.value!r} here" if t.type != "END" else "the formula ends too early", t)

    def word(self) -> M:
        t = self.take()
        w = t.value
        if w in FUNCTIONS and (self.at_op("(") or self.at("CMD") and self.tok.value in ("left", "big", "bigg")):
            return M("func", {"ln": "log", "Tr": "tr", "trace": "tr", "sgn": "sign"}.get(w, w), pos=t.pos)
        if w == "np" or w == "mp":
            self.fail("NumPy code inside math is not read", t)
        if len(w) > 1 and self.at_op("(") and not self.tok.space:
            return M("name", w, pos=t.pos)           # CE(z): a multi-letter name called
        if len(w) > 1:
            self.toks.insert(self.i, Tok("WORD", w[1:], t.pos + 1, False))
        if w[0] == "d" and self._differential_follows():
            return M("diff", self.postfix(), pos=t.pos)
        return M("name", w[0], pos=t.pos)

    def _differential_follows(self) -> bool:
        """`dX`, `d\\mathbf{x}`, `d(XY)`, `d|X|`, `d\\sigma(X)`: d touching what follows is a differential."""
        n = self.tok
        if n.space:
            return False
        if n.type == "WORD":
            return True
        if n.type == "CMD":
            return n.value in _STYLES or n.value in _ACCENTS or n.value in GREEK or n.value in (
                "operatorname", "log", "exp", "det", "tr", "sigma")
        return n.type == "OP" and n.value in "(|"

    def group(self) -> M:
        o = self.take()
        close = ")" if o.value == "(" else "]"
        items = [self.item()]
        while self.at_op(","):
            self.take()
            items.append(self.item())
        self.expect_op(close, f"'{close}'")
        if len(items) > 1 or o.value == "[" or any(i.kind == "dots" for i in items):
            return M("list", tuple(items), o.value, pos=o.pos)
        return M("group", items[0], o.value, pos=o.pos)

    def item(self) -> M:
        if self.at("DOTS"):
            return M("dots", pos=self.take().pos)
        return self.expr()

    def norm(self, t) -> M:
        self.take()
        self._norms += 1
        try:
            inner = self.expr()
        finally:
            self._norms -= 1
        if not (self.at("ESC", "|") or self.at_op("|") and self.peek().type == "OP" and self.peek().value == "|"):
            self.fail("unclosed norm ‖…‖", t)
        if self.at("ESC", "|"):
            self.take()
        else:
            self.take(), self.take()
        return M("norm", inner, pos=t.pos)

    def bars(self, t) -> M:
        self.take()
        self._bars += 1
        try:
            inner = self.expr()
        finally:
            self._bars -= 1
        self.expect_op("|", "a closing '|'")
        return M("abs", inner, pos=t.pos)

    def brace_set(self, t) -> M:
        self.take()
        items = [self.item()]
        while self.at_op(","):
            self.take()
            items.append(self.item())
        if not self.at("ESC", "}"):
            self.fail("expected \\}")
        self.take()
        return M("set", tuple(items), pos=t.pos)

    def condition(self) -> M:
        """`y=j`, `i \\ne k`, `|r| \\le \\delta` inside an indicator or a cases row."""
        a = self.expr()
        if self.at("CMD") and self.tok.value in _RELS or self.at_op("=", "<", ">", "≠", "≤"):
            op = self.take().value
            b = self.expr()
            return M("rel", _RELS.get(op, {"≠": "!=", "≤": "<="}.get(op, op)), a, b, pos=a.pos)
        self.fail("expected a condition (a = b, a \\ne b, a \\le b)")


def parse_math(text: str) -> M:
    """The tree of one formula (no relation sign at its top); ParseError with a column on what it cannot read."""
    if not isinstance(text, str):
        raise ParseError(f"expected a formula as text, got {type(text).__name__}")
    try:
        return _Parser(text).parse()
    except RecursionError:
        raise ParseError("a formula nested too deeply", text[:60], 1) from None


def parse_condition(text: str) -> M:
    p = _Parser(text)
    node = p.condition()
    if not p.at("END"):
        p.fail("cannot read the rest of the condition")
    return node


__all__ = ["M", "parse_math", "parse_condition", "tokenize", "GREEK", "FUNCTIONS"]
