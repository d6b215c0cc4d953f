"""The LaTeX commands of document math (`\\frac`, `\\nabla`, `\\partial_x`, styles, environments), read
for latex_doc.py's parser (a mixin of its _Parser)."""

from __future__ import annotations

import re

from ..errors import ParseError


class M:
    """A node of document math: `kind` and `args`; `pos` is a 0-based offset in the text read."""

    __slots__ = ("kind", "args", "pos")

    def __init__(self, kind: str, *args, pos: int = 0):
        self.kind, self.args, self.pos = kind, args, pos

    def __repr__(self) -> str:
        return f"{self.kind}({', '.join(map(repr, self.args))})"

    def key(self) -> tuple:
        """A structural key (positions left out): equal subtrees have equal keys."""
        return (self.kind,) + tuple(_key(a) for a in self.args)


def _key(a):
    if isinstance(a, M):
        return a.key()
    if isinstance(a, (list, tuple)):
        return tuple(_key(x) for x in a)
    return a


GREEK = set("alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi pi rho "
            "sigma tau upsilon phi varphi chi psi omega ell Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi "
            "Omega".split())
FUNCTIONS = {"exp", "log", "ln", "sin", "cos", "tan", "tanh", "sinh", "cosh", "arcsin", "arccos", "arctan", "det",
             "tr", "Tr", "trace", "diag", "softmax", "sigmoid", "relu", "sign", "sgn", "sqrt", "logdet",
             "logsumexp", "max", "min", "abs", "np.dot", "np.sum", "mp.dot", "vec", "erf", "softplus"}
_IGNORED = set("left right middle big Big bigg Bigg bigl bigr Bigl Bigr biggl biggr Biggl Biggr limits nolimits "
               "displaystyle textstyle , ; : ! quad qquad > label nonumber notag mathstrut".split())
_STYLES = {"mathbf": "b:", "boldsymbol": "b:", "bm": "b:", "vec": "b:", "mathcal": "c:", "mathbb": "bb:",
           "mathrm": "", "operatorname": "", "mathit": "", "mathsf": "", "text": "", "textrm": "", "textit": "",
           "mathtt": "", "textbf": ""}
_ACCENTS = {"hat": "^", "widehat": "^", "tilde": "~", "widetilde": "~", "bar": "-", "overline": "-", "dot": "."}
_MULS = {"cdot": "dot", "times": "times", "ast": "dot"}
_HADS = {"odot": "had", "circ": "had", "oslash": "ediv", "otimes": "kron"}
_RELS = {"=": "=", "ne": "!=", "neq": "!=", "le": "<=", "leq": "<=", "ge": ">=", "geq": ">=", "<": "<", ">": ">",
         "in": "in", "lt": "<", "gt": ">"}
_DOTS = {"dots", "cdots", "ldots", "vdots", "ddots"}
_TOKEN = re.compile(r"\\([A-Za-z]+)\*?|\\(.)|([A-Za-z]+)|([0-9]+(?:\.[0-9]+)?)|(\.\.\.)|(\s+)|(.)", re.S)


class Tok:
    __slots__ = ("type", "value", "pos", "space")

    def __init__(self, type_, value, pos, space):
        self.type, self.value, self.pos, self.space = type_, value, pos, space

    def __repr__(self):
        return f"{self.type}:{self.value}"



class Commands:
    def command(self, t: Tok) -> M:
        c = t.value
        if c in _STYLES or c in _ACCENTS:
            return self.styled(t)
        if c in GREEK:
            self.take()
            if c == "sigma" and self.at_op("(") and not self.tok.space:
                return M("name", "sigma", pos=t.pos)
            return M("name", {"varphi": "phi", "varepsilon": "epsilon", "vartheta": "theta"}.get(c, c), pos=t.pos)
        if c in FUNCTIONS:
            self.take()
            return M("func", {"ln": "log", "Tr": "tr", "sgn": "sign"}.get(c, c), pos=t.pos)
        if c in ("frac", "dfrac", "tfrac"):
            return self.frac(t)
        if c == "partial":       # \partial_{o_i} l
            self.take()
            self.expect_op("_", "'_' after \\partial")
            var = self.script_arg()
            f = self.postfix()
            return M("deriv", f, var, "partial", pos=t.pos)
        if c == "nabla":
            self.take()
            order = 1
            var = None
            for _ in range(2):
                if self.at_op("^"):
                    self.take()
                    e = self.script_arg()
                    if not (e.kind == "num" and e.args[0] == 2):
                        self.fail("only ∇ and ∇² are read", t)
                    order = 2
                elif self.at_op("_"):
                    self.take()
                    var = self.script_arg()
            if var is None:
                self.fail("∇ without its variable (∇_x f) is not read", t)
            f = self.postfix()
            return M("deriv", f, var, "nabla2" if order == 2 else "nabla", pos=t.pos)
        if c == "sqrt":
            self.take()
            if self.at_op("["):
                self.fail("\\sqrt[n] is not read")
            return M("call", M("func", "sqrt", pos=t.pos), (self.script_arg(),), pos=t.pos)
        if c == "underbrace" or c == "overbrace":
            self.take()
            inner = self.script_arg()
            if self.at_op("_") or self.at_op("^"):
                self.take()
                self.script_arg()
            return M("group", inner, "{", pos=t.pos)
        if c == "begin":
            return self.environment(t)
        if c == "infty":
            self.fail("∞ is not read", t)
        self.fail(f"the LaTeX command \\{c} is not read here", t)

    def styled(self, t: Tok) -> M:
        c = self.take().value
        if self.at_op("{"):
            self.take()
            save = self.i
            content = self.toks[self.i]
            # a plain run of letters (\mathrm{softmax}, \text{Loss}, \mathbf{x}) or one command (\mathbf{\mu})
            raw = self._raw_until_brace()
            if raw is None:
                self.i = save
                inner = self.expr()
                self.expect_op("}", "'}'")
                return self._style_node(c, inner, t)
            words = raw
        else:
            n = self.take()
            if n.type == "WORD":
                if len(n.value) > 1:
                    self.toks.insert(self.i, Tok("WORD", n.value[1:], n.pos + 1, False))
                words = n.value[0]
            elif n.type == "NUM":
                words = n.value[0]
            elif n.type == "CMD":
                words = "\\" + n.value
            else:
                self.fail(f"\\{c} of {n.value!r}", n)
            content = n
        del content
        return self._style_word(c, words, t)

    def _raw_until_brace(self):
        """The text inside `{...}` when it is letters, digits, '-', '.', blanks or one command; else None."""
        j, parts = self.i, []
        while j < len(self.toks):
            k = self.toks[j]
            if k.type == "OP" and k.value == "}":
                self.i = j + 1
                return "".join(parts).strip()
            if k.type in ("WORD", "NUM") or k.type == "OP" and k.value in "-.":
                parts.append((" " if k.space and parts else "") + k.value)
            elif k.type == "CMD" and not parts and k.value in GREEK:
                parts.append("\\" + k.value)
            elif k.type == "OP" and k.value == "#" or k.type == "CMD" and k.value == "#":
                parts.append("#")
            else:
                return None
            j += 1
        return None

    def _style_word(self, c: str, words: str, t: Tok) -> M:
        word = words.replace(" ", "") if c not in ("text", "textrm", "textit", "textbf") else words.strip()
        if word.startswith("\\"):
            word = word[1:]
            word = {"varphi": "phi", "varepsilon": "epsilon"}.get(word, word)
        if c in _ACCENTS:
            return M("name", word + _ACCENTS[c], pos=t.pos) if len(word) == 1 or word in GREEK else \
                self.fail(f"\\{c}{{{word}}}", t)
        prefix = _STYLES[c]
        if c == "mathbb":
            if word == "I" and self.at("ESC", "{"):
                self.take()
                cond = self.condition()
                if not self.at("ESC", "}"):
                    self.fail("expected \\} closing the indicator")
                self.take()
                return M("indicator", cond, pos=t.pos)
            if word == "R":
                return M("reals", pos=t.pos)
            if word == "I" and self.at_op("("):
                self.take()
                cond = self.condition()
                self.expect_op(")", "')'")
                return M("indicator", cond, pos=t.pos)
            self.fail(f"\\mathbb{{{word}}} is not read", t)
        if word == "1" and prefix == "b:":
            return M("ones", pos=t.pos)
        if word.isdigit():
            return M("num", float(word), pos=t.pos)
        low = word.lower()
        if prefix == "" and (word in FUNCTIONS or low in ("tr", "softmax", "diag", "sign", "exp", "log")):
            return M("func", {"Tr": "tr", "trace": "tr", "sgn": "sign"}.get(word, low if low in FUNCTIONS
                                                                          else word), pos=t.pos)
        if prefix == "" and word.endswith("-"):          # \text{grad-} y_{\text{pred}}: one name
            nxt = self.postfix()
            return M("name", word + _plain(nxt), pos=t.pos)
        if c in ("text", "textrm", "textit", "textbf") and not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", word):
            self.fail(f"text in a formula ({word!r}) is not read", t)
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*|[A-Za-z]+", word):
            self.fail(f"\\{c}{{{word}}} is not read", t)
        return M("name", prefix + word, pos=t.pos)

    def _style_node(self, c: str, inner: M, t: Tok) -> M:
        if c in _ACCENTS and inner.kind == "name":
            return M("name", inner.args[0] + _ACCENTS[c], pos=t.pos)
        if _STYLES.get(c) == "b:" and inner.kind == "name":
            return M("name", "b:" + inner.args[0], pos=t.pos)
        if c in _ACCENTS or _STYLES.get(c) in ("b:", ""):
            if inner.kind in ("name",):
                return inner
        self.fail(f"\\{c}{{...}} of a formula is not read", t)

    def frac(self, t: Tok) -> M:
        self.take()
        if self.at_op("{") and self.peek().type == "CMD" and self.peek().value == "partial":
            self.take()
            self.take()
            order = 1
            if self.at_op("^"):
                self.take()
                e = self.script_arg()
                if not (e.kind == "num" and e.args[0] == 2):
                    self.fail("only first and second derivatives are read", t)
                order = 2
            num = None if self.at_op("}") else self.expr()
            self.expect_op("}", "'}'")
            self.expect_op("{", "'{' for the derivative's denominator")
            if not self.at("CMD", "partial"):
                self.fail("the denominator of ∂a/∂b must start with \\partial")
            self.take()
            den = self.expr()
            if order == 2:
                self.fail("second derivatives ∂²f/∂x² are not read", t)
            self.expect_op("}", "'}'")
            if num is None:
                self.fail("the operator ∂/∂x alone is not a formula", t)
            return M("deriv", num, den, "partial", pos=t.pos)
        a = self.script_arg()
        b = self.script_arg()
        return M("div", a, b, pos=t.pos)

    def environment(self, t: Tok) -> M:
        self.take()
        self.expect_op("{", "'{'")
        name = ""
        while not self.at_op("}"):
            if self.at("END"):
                self.fail("unclosed \\begin{")
            name += self.take().value
        self.take()
        if name not in ("cases", "matrix", "bmatrix", "pmatrix", "aligned", "array"):
            self.fail(f"the environment {name} inside a formula is not read", t)
        if name == "array":
            self.fail("an array inside a formula is not read", t)
        rows = []
        while True:
            row = [self.expr() if not self._row_end() else M("empty")]
            if name == "cases":
                cond = None
                if self.at_op("&"):
                    self.take()
                    cond = self.case_condition()
                rows.append((row[0], cond))
            else:
                while self.at_op("&"):
                    self.take()
                    row.append(self.expr())
                rows.append(tuple(row))
            if self.at("ESC", "\\"):
                self.take()
                if self.at("CMD", "end"):
                    break
                continue
            break
        if not self.at("CMD", "end"):
            self.fail(f"expected \\end{{{name}}}")
        self.take()
        self.expect_op("{", "'{'")
        while not self.at_op("}"):
            if self.at("END"):
                self.fail("unclosed \\end{")
            self.take()
        self.take()
        if name == "cases":
            return M("cases", tuple(rows), pos=t.pos)
        if name == "aligned":
            self.fail("an aligned block inside a formula is not read", t)
        return M("matrix", tuple(rows), pos=t.pos)

    def _row_end(self) -> bool:
        return self.at("ESC", "\\") or self.at("CMD", "end") or self.at("END")

    def case_condition(self) -> M:
        """`\\text{if } i = k`, `\\text{otherwise}`, `\\text{for } i \\ne k`, `, i = k`."""
        if self.at_op(","):
            self.take()
        if self.at("CMD", "text") or self.at("CMD", "mbox") or self.at("CMD", "textrm"):
            self.take()
            self.expect_op("{", "'{'")
            words = ""
            while not self.at_op("}"):
                if self.at("END"):
                    self.fail("unclosed \\text{")
                words += self.take().value + " "
            self.take()
            w = words.strip().rstrip(",.").strip()
            if w in ("otherwise", "else", "其他", "否则"):
                while self.at_op(",", "."):
                    self.take()
                return M("otherwise")
            if w not in ("if", "for", "when", "where", "若", "当"):
                self.fail(f"a case condition {w!r} is not read")
        elif self.at("WORD") and self.tok.value in ("if", "for", "when", "otherwise"):
            if self.take().value == "otherwise":
                return M("otherwise")
        cond = self.condition()
        while self.at_op(",", "."):
            self.take()
        return cond




def _flat_mul(n: M) -> list:
    if n.kind == "mul" and n.args[2] == "imp":
        return _flat_mul(n.args[0]) + _flat_mul(n.args[1])
    return [n]


def _plain(n: M) -> str:
    """The text of a small name-like node (`y_{\\text{pred}}` -> `y_pred`, `z_2` -> `z_2`)."""
    if n.kind == "name":
        return n.args[0]
    if n.kind == "num":
        return str(int(n.args[0])) if n.args[0] == int(n.args[0]) else str(n.args[0])
    if n.kind == "sub":
        return _plain(n.args[0]) + "_" + "".join(_plain(i) if i.kind != "letters" else "".join(i.args[0])
                                                 for i in n.args[1])
    if n.kind == "add":
        return "".join(("+" if s > 0 and k else "-" if s < 0 else "") + _plain(x) for k, (s, x) in
                       enumerate(n.args[0]))
    if n.kind == "letters":
        return "".join(n.args[0])
    if n.kind == "layer":
        return _plain(n.args[0]) + "(" + _plain(n.args[1]) + ")"
    raise ParseError(f"cannot read a name here ({n.kind})", "", 1)



__all__ = ["Commands", "M", "Tok", "GREEK", "FUNCTIONS"]
