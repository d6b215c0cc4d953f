"""Printing in the input language (so a result can be pasted back in) and in LaTeX.

Parenthesise by precedence, except that a Hadamard product inside a matrix product (and the reverse)
is always bracketed: `(W'*g) .* step(z)` reads unambiguously even to someone who does not know that
MATLAB gives `*` and `.*` one precedence.
"""

from __future__ import annotations

from fractions import Fraction

from ..tables import functions as functions_table
from .functions import row as function_row
from .expr import Node

ADD, MUL, UNARY, POSTFIX, ATOM = 1, 2, 3, 4, 5


def _fraction(value: Fraction) -> tuple[str, int]:
    if value.denominator == 1:
        text = str(value.numerator)
        return (text, UNARY if value < 0 else ATOM)
    text = f"{abs(value.numerator)}/{value.denominator}"
    return ("-" + text if value < 0 else text, UNARY if value < 0 else MUL)


def constant_value(node: Node):
    """The number c if node is c times a ones vector or matrix (printed as c inside a sum), else None."""
    from .expr import is_ones_matrix

    if is_ones_matrix(node):
        return Fraction(1)
    if node.op == "mul" and node.args[0].op == "num":
        rest = node.args[1:]
        inner = rest[0] if len(rest) == 1 else Node("mul", rest, None, node.shape)
        if is_ones_matrix(inner):
            return node.args[0].attr
    return None


def _order_terms(args):
    """Lead with a term that carries no minus sign: `s - y` rather than `-y + s`."""
    for i, t in enumerate(args):
        if not _is_negative(t):
            return (t,) + args[:i] + args[i + 1:]
    return args


def _is_negative(node: Node) -> bool:
    if node.op == "num":
        return node.attr < 0
    return node.op == "mul" and node.args[0].op == "num" and node.args[0].attr < 0


def _negated_text(node: Node, printer) -> tuple[str, int]:
    if node.op == "num":
        return printer(Node("num", (), -node.attr))
    coef = -node.args[0].attr
    rest = node.args[1:]
    if coef == 1:
        if len(rest) == 1:
            return printer(rest[0])
        return printer(Node("mul", rest, None, node.shape))
    return printer(Node("mul", (Node("num", (), coef),) + rest, None, node.shape))


class TextPrinter:
    def __init__(self):
        self.memo: dict[Node, tuple[str, int]] = {}  # by node, not id(): a temporary's address is reused

    def __call__(self, node: Node) -> tuple[str, int]:
        found = self.memo.get(node)
        if found is None:
            found = self.memo[node] = self.render(node)
        return found

    def wrap(self, node: Node, need: int) -> str:
        text, prec = self(node)
        return f"({text})" if prec < need else text

    def render(self, node: Node) -> tuple[str, int]:
        op = node.op
        if op == "sym":
            return node.attr, ATOM
        if op == "num":
            return _fraction(node.attr)
        if op == "ones":
            return f"ones({node.shape[0]})", ATOM
        if op == "eye":
            return "I", ATOM
        if op == "zero":  # shaped, so that softmax(zeros(n)) does not read back as softmax of a scalar
            r, c = node.shape
            if c == 1:
                return f"zeros({r})", ATOM
            return f"zeros({r}, {c})", ATOM
        if op == "bcast":
            return self(node.args[0])
        if op == "fn":
            row = function_row(node.attr)
            args = [self._argument(a) if row.arity > 1 else self(a)[0] for a in node.args]
            args += [str(row.axis)] if row.axis else []
            return f"{row.printed}({', '.join(args)})", ATOM
        if op == "vpow":
            base, p = node.args
            power = "^" if node.is_scalar else ".^"
            return f"{self.wrap(base, ATOM)}{power}{self.wrap(p, ATOM)}", POSTFIX
        if op == "vec":
            return f"vec({self._kron_operand(node.args[0])})", ATOM
        if op == "unvec":
            m, n = node.attr
            return f"unvec({self(node.args[0])[0]}, {m}, {n})", ATOM
        if op == "kron":
            return f"kron({self._kron_operand(node.args[0])}, {self._kron_operand(node.args[1])})", ATOM
        if op == "comm":
            m, n = node.attr
            return f"K({m}, {n})", ATOM
        if op == "T":
            return self.wrap(node.args[0], POSTFIX) + "'", POSTFIX
        if op == "pow":
            p = node.attr
            if p < 0:
                inner = node.args[0] if p == -1 else Node("pow", node.args, -p)
                return "1/" + self.wrap(inner, POSTFIX), MUL
            return f"{self.wrap(node.args[0], ATOM)}^{_exponent(p)}", POSTFIX
        if op == "epow":
            if node.attr < 0:
                inner = node.args[0] if node.attr == -1 else Node("epow", node.args, -node.attr, node.shape)
                return "1 ./ " + self._had_factor(inner), MUL
            return f"{self.wrap(node.args[0], ATOM)}.^{_exponent(node.attr)}", POSTFIX
        if op == "add":
            args = tuple(_as_number(t.args[0] if t.op == "bcast" else t) for t in node.args)
            args = _order_terms(args)
            parts = [self(args[0])[0] if not _is_negative(args[0]) else "-" + _wrap_text(
                _negated_text(args[0], self), MUL)]
            for t in args[1:]:
                if _is_negative(t):
                    parts.append(" - " + _wrap_text(_negated_text(t, self), MUL))
                else:
                    parts.append(" + " + self(t)[0])
            return "".join(parts), ADD
        if op == "mul":
            if _is_negative(node):
                return "-" + _wrap_text(_negated_text(node, self), MUL), UNARY
            # a compound divisor reads best after the product: x/norm2(x); a name before it: (1/m)*X
            divisors = [f for f in node.args if f.op == "pow" and f.attr < 0 and f.args[0].op != "sym"]
            parts = []
            args = node.args
            if len(args) > 1 and args[0].op == "num" and args[0].attr.denominator == 1 and args[0].attr > 1 \
                    and args[1].op == "pow" and args[1].attr == -1 and args[1].args[0].op == "sym":
                parts.append(f"({args[0].attr}/{args[1].args[0].attr})")   # (2/m)*X, not 2*(1/m)*X
                args = args[2:]
            for f in args:
                if any(f is d for d in divisors):
                    continue
                text, prec = self(f)
                bracket = prec < MUL or f.op in ("had",) or (f.op == "mul") or (
                    f.op == "num" and f.attr.denominator != 1) or (f.op == "pow" and f.attr < 0) or (
                    f.op == "epow" and f.attr < 0)
                parts.append(f"({text})" if bracket else text)
            text = "*".join(parts) if parts else "1"
            for d in divisors:
                inner = d.args[0] if d.attr == -1 else Node("pow", d.args, -d.attr)
                text += "/" + self.wrap(inner, POSTFIX)
            return text, MUL
        if op == "had":
            num = [f for f in node.args if not (f.op == "epow" and f.attr < 0)]
            den = [f for f in node.args if f.op == "epow" and f.attr < 0]
            text = " .* ".join(self._had_factor(f) for f in num) if num else "1"
            for f in den:
                base = f.args[0] if f.attr == -1 else Node("epow", f.args, -f.attr, f.shape)
                text += " ./ " + self._had_factor(base)
            return text, MUL
        raise ValueError(f"cannot print node {op}")

    def _had_factor(self, f: Node) -> str:
        text, prec = self(f)
        return f"({text})" if prec <= MUL else text

    def _argument(self, a: Node) -> str:
        """An argument of max(u, 0): a constant array (broadcast by the call) as its number."""
        if a.op == "zero":
            return "0"
        value = constant_value(a)
        return self(Node("num", (), value) if value is not None else a)[0]

    def _kron_operand(self, f: Node) -> str:
        """An identity inside a Kronecker product carries its size: kron(x', I(m))."""
        return f"I({f.shape[0]})" if f.op == "eye" else self(f)[0]


def _as_number(term: Node) -> Node:
    """Inside a sum a constant array prints as its number: `1 - s`, not `ones(n) - s`."""
    value = constant_value(term)
    return Node("num", (), value) if value is not None else term


def _wrap_text(pair: tuple[str, int], need: int) -> str:
    text, prec = pair
    return f"({text})" if prec < need else text


def _exponent(p: Fraction) -> str:
    if p.denominator == 1:
        return str(p.numerator)
    return f"({p.numerator}/{p.denominator})"


class _CachedTextPrinter(TextPrinter):
    """Printed text is a property of the node: keep it on the node, so steps never re-render a tree."""

    def __call__(self, node: Node) -> tuple[str, int]:
        found = node._text
        if found is None:
            found = node._text = self.render(node)
        return found


_PRINTER = _CachedTextPrinter()


MAX_INLINE = 20_000      # characters: above this, results and steps are shown in the named form
MAX_TEXT = 5_000_000     # characters: no inlined text longer than this is ever built


def inline_size(root: Node) -> int:
    """About how many characters `to_text(root)` would print, computed on the shared DAG without
    printing: each node's size is its own few characters plus its children's. k layers of shared
    activations give a DAG of O(k) nodes but an inlined text of O(2^k) characters."""
    if root._size is not None:
        return root._size
    from .expr import walk

    for n in walk(root):
        if n._size is None:
            own = len(str(n.attr)) + 6 if n.op in ("sym", "num", "fn") else 8
            n._size = own + sum(a._size for a in n.args)
    return root._size


def to_text(node: Node) -> str:
    """The expression inlined, in the input language. Refuses (a MatcalcError) a text that would pass
    MAX_TEXT characters: callers that may meet a large result use to_text_bounded."""
    if node._text is None and inline_size(node) > MAX_TEXT:
        from ..budget import BudgetExceeded

        raise BudgetExceeded(f"the expression printed inline would be about {inline_size(node):,} characters "
                             f"(the limit is {MAX_TEXT:,}); it is shown with repeated subexpressions named instead")
    return _PRINTER(node)[0]


def to_text_bounded(node: Node, taken: set[str] = frozenset(), limit: int = MAX_INLINE) -> str:
    """Inline when short; otherwise the named form, as an input that reads back: `z1 = …; z2 = …; body`."""
    if inline_size(node) <= limit:
        return to_text(node)
    text, defs = to_text_shared(node, taken)
    return "; ".join([f"{n} = {d}" for n, d in defs] + [text])


# ---------------------------------------------------------------- LaTeX

_LATEX_FUNCS = {
    "exp": r"\exp", "log": r"\log", "sin": r"\sin", "cos": r"\cos", "tan": r"\tan", "tanh": r"\tanh",
    "arcsin": r"\arcsin", "arccos": r"\arccos", "arctan": r"\arctan", "det": r"\det",
    "sigmoid": r"\sigma", "tr": r"\operatorname{tr}", "diag": r"\operatorname{diag}",
    "diagvec": r"\operatorname{diag}", "logdet": r"\log\det", "sum": r"\operatorname{sum}",
    "softmax": r"\operatorname{softmax}", "logsumexp": r"\operatorname{logsumexp}",
    "softmax_rows": r"\operatorname{softmax}_{\text{rows}}",
    "logsumexp_rows": r"\operatorname{logsumexp}_{\text{rows}}",
    "relu": r"\operatorname{relu}", "step": r"\operatorname{step}", "sign": r"\operatorname{sign}",
}


class LatexPrinter(TextPrinter):
    def render(self, node: Node) -> tuple[str, int]:
        op = node.op
        if op == "sym":
            return _latex_name(node.attr), ATOM
        if op == "num":
            v = node.attr
            if v.denominator == 1:
                return str(v.numerator), UNARY if v < 0 else ATOM
            sign = "-" if v < 0 else ""
            return f"{sign}\\frac{{{abs(v.numerator)}}}{{{v.denominator}}}", UNARY if v < 0 else ATOM
        if op == "ones":
            return (f"\\mathbf{{1}}_{{{_latex_dim(node.shape[0])}}}" if self._sized else r"\mathbf{1}"), ATOM
        if op == "eye":
            return (f"I_{{{_latex_dim(node.shape[0])}}}" if self._sized else "I"), ATOM
        if op == "zero":
            r, c = node.shape
            return f"\\mathbf{{0}}_{{{_latex_dim(r)}}}" if c == 1 else \
                f"\\mathbf{{0}}_{{{_latex_dim(r)},{_latex_dim(c)}}}", ATOM
        if op == "bcast":
            return self(node.args[0])
        if op == "vpow":
            base, p = node.args
            ring = "" if node.is_scalar else "\\circ "
            return f"{self.wrap(base, ATOM)}^{{{ring}{self(p)[0]}}}", POSTFIX
        if op == "fn" and (len(node.args) > 1 or function_row(node.attr).axis):
            row = function_row(node.attr)
            args = [self._argument(a) if row.arity > 1 else self(a)[0] for a in node.args]
            args += [str(row.axis)] if row.axis else []
            return f"{row.latex or row.printed}\\left({', '.join(args)}\\right)", ATOM
        if op == "fn":
            name = node.attr
            arg = self(node.args[0])[0]
            if name == "sqrt":
                return f"\\sqrt{{{arg}}}", ATOM
            if name == "abs":
                return f"\\left|{arg}\\right|", ATOM
            if name == "norm2":
                return f"\\left\\|{arg}\\right\\|_2", ATOM
            if name == "norm1":
                return f"\\left\\|{arg}\\right\\|_1", ATOM
            if name == "inv":
                return f"{self.wrap(node.args[0], ATOM)}^{{-1}}", POSTFIX
            head = function_row(name).latex or _LATEX_FUNCS.get(name)
            if head is None:     # a declared abstract function: \sigma'(z), f''(z)
                base = name.rstrip("'")
                head = _latex_name(base) + name[len(base):] if base != name or name not in functions_table() else name
            return f"{head}\\left({arg}\\right)", ATOM
        if op == "vec":
            return f"\\operatorname{{vec}}\\left({self._latex_kron_operand(node.args[0], bare=True)}\\right)", ATOM
        if op == "unvec":
            m, n = node.attr
            return (f"\\operatorname{{vec}}^{{-1}}_{{{_latex_dim(m)},{_latex_dim(n)}}}"
                    f"\\left({self(node.args[0])[0]}\\right)"), ATOM
        if op == "kron":
            a, b = (self._latex_kron_operand(f) for f in node.args)
            return f"{a} \\otimes {b}", MUL
        if op == "comm":
            m, n = node.attr
            return f"K_{{{_latex_dim(m)},{_latex_dim(n)}}}", ATOM
        if op == "T":
            inner = node.args[0]
            if inner.op == "fn" and inner.attr == "inv":
                return f"{self.wrap(inner.args[0], ATOM)}^{{-\\top}}", POSTFIX
            return f"{self.wrap(inner, ATOM)}^\\top", POSTFIX
        if op == "pow":
            p = node.attr
            if p < 0:
                inner = node.args[0] if p == -1 else Node("pow", node.args, -p)
                return f"\\frac{{1}}{{{self(inner)[0]}}}", ATOM
            return f"{self.wrap(node.args[0], ATOM)}^{{{_latex_exp(p)}}}", POSTFIX
        if op == "epow":
            return f"{self.wrap(node.args[0], ATOM)}^{{\\circ {_latex_exp(node.attr)}}}", POSTFIX
        if op == "mul":
            if _is_negative(node):
                return "-" + _wrap_text(_negated_text(node, self), MUL), UNARY
            parts = []
            args = node.args
            if len(args) > 1 and args[0].op == "num" and args[0].attr.denominator == 1 and args[0].attr > 1 \
                    and args[1].op == "pow" and args[1].attr == -1 and args[1].args[0].op == "sym":
                parts.append(f"\\frac{{{args[0].attr}}}{{{self(args[1].args[0])[0]}}}")
                args = args[2:]
            for f in args:
                text, prec = self(f)
                parts.append(f"\\left({text}\\right)" if prec < MUL or f.op in ("had", "mul", "kron") else text)
            return " ".join(parts), MUL
        if op == "had":
            num = [f for f in node.args if not (f.op == "epow" and f.attr < 0)]
            den = [f for f in node.args if f.op == "epow" and f.attr < 0]
            text = r" \odot ".join(self._had_factor(f) for f in num) if num else "1"
            for f in den:
                base = f.args[0] if f.attr == -1 else Node("epow", f.args, -f.attr, f.shape)
                text += r" \oslash " + self._had_factor(base)
            return text, MUL
        if op == "add":
            text, prec = super().render(node)
            return text, prec
        raise ValueError(op)

    def _had_factor(self, f: Node) -> str:
        text, prec = self(f)
        return f"\\left({text}\\right)" if prec <= MUL else text

    _sized = 0   # > 0 inside vec/kron: an identity or ones vector shows its size (nothing else gives it)

    def _latex_kron_operand(self, f: Node, bare: bool = False) -> str:
        self._sized += 1
        try:
            text, prec = self(f)
        finally:
            self._sized -= 1
        return f"\\left({text}\\right)" if prec <= MUL and not bare else text


def _latex_dim(d) -> str:
    return str(d).replace("*", " ")


def _latex_exp(p: Fraction) -> str:
    return str(p.numerator) if p.denominator == 1 else f"{p.numerator}/{p.denominator}"


_GREEK_LATEX = {"lam": r"\lambda", "eps": r"\epsilon"}


def _latex_name(name: str) -> str:
    from .shapes import GREEK

    if name in _GREEK_LATEX:
        return _GREEK_LATEX[name]
    if name in GREEK:
        return "\\" + name
    head = name.rstrip("0123456789")
    if head and head != name:
        return f"{head}_{{{name[len(head):]}}}"
    if len(name) > 1:
        return f"\\mathit{{{name}}}"
    return name


def to_latex(node: Node) -> str:
    return LatexPrinter()(node)[0]


# ---------------------------------------------------------------- shared subexpressions named

_NAME_STEMS = {"softmax": "s", "softmax_rows": "S", "relu": "a", "sigmoid": "h", "tanh": "h", "exp": "e",
               "inv": "Xi", "logsumexp": "l"}


def to_text_shared(node: Node, taken: set[str] = frozenset(), min_length: int = 12):
    """The result with each repeated subexpression printed once under a name: `(s - y)*x'` where
    `s = softmax(W*x + b)`. Inline printing repeats every forward activation inside each step(...),
    which grows quadratically with depth; this form grows linearly. Returns (text, [(name, text)])."""
    root, defs = named_form(node, taken, min_length)
    return to_text(root), [(name, to_text(d)) for name, d in defs]


def named_form(node: Node, taken: set[str] = frozenset(), min_length: int = 12):
    """(root, [(name, definition node)]): the DAG with each repeated subexpression replaced by a name
    symbol, in one pass over the shared nodes (never over the inlined tree)."""
    from ..budget import check
    from .expr import rebuild, sym, walk

    order = walk(node)
    uses: dict[Node, int] = {}
    for n in order:
        for a in n.args:
            uses[a] = uses.get(a, 0) + 1
    counters: dict[str, int] = {}
    named: dict[Node, Node] = {}  # each node with the names of its repeated parts put in
    defs: list[tuple[str, Node]] = []

    def fresh(n: Node) -> str:
        stem = _NAME_STEMS.get(n.attr, "f") if n.op == "fn" else ("z" if n.shape[1] == 1 else "Z")
        while True:
            counters[stem] = counters.get(stem, 0) + 1
            name = f"{stem}{counters[stem]}"
            if name not in taken:
                return name

    for n in order:
        check("naming repeated subexpressions")
        args = tuple(named[a] for a in n.args)
        shown = n if all(a is b for a, b in zip(args, n.args)) else rebuild(n, args)
        named[n] = shown
        if n is node or uses.get(n, 0) < 2 or n.op in ("sym", "num", "ones", "eye", "zero", "T", "bcast"):
            continue
        if inline_size(shown) < min_length or len(to_text(shown)) < min_length:
            continue
        named[n] = sym(fresh(n), n.shape)
        defs.append((named[n].attr, shown))
    return named[node], defs


def to_latex_bounded(node: Node, taken: set[str] = frozenset(), limit: int = MAX_INLINE) -> str:
    """LaTeX inline when short; otherwise the named form: `body, \\quad z_1 = …`."""
    if inline_size(node) <= limit:
        return to_latex(node)
    root, defs = named_form(node, taken)
    return ",\\quad ".join([to_latex(root)] + [f"{_latex_name(n)} = {to_latex(d)}" for n, d in defs])


def abbreviations(root: Node, taken: set[str]) -> tuple[dict[Node, Node], list[tuple[str, str]]]:
    """Short names for the forward pass, as a hand derivation writes them: z = W*x + b, s = softmax(z),
    a1 = relu(z1), ... Returns (node -> name symbol, [(name, definition)]) in the order computed."""
    from .expr import substitute, sym, walk

    wanted: list[tuple[Node, str]] = []
    for n in walk(root):
        if n.op == "fn" and n.attr in _NAME_STEMS and not n.is_scalar:
            arg = n.args[0]
            if arg.op in ("add", "mul", "had") and all(arg is not w for w, _ in wanted):
                wanted.append((arg, "Z" if arg.shape[1] != 1 else "z"))
            wanted.append((n, _NAME_STEMS[n.attr]))
    counts: dict[str, int] = {}
    for _, stem in wanted:
        counts[stem] = counts.get(stem, 0) + 1
    seen: dict[str, int] = {}
    mapping: dict[Node, Node] = {}
    defs: list[tuple[str, str]] = []
    for node, stem in wanted:
        seen[stem] = seen.get(stem, 0) + 1
        name = stem if counts[stem] == 1 else f"{stem}{seen[stem]}"
        while name in taken:
            name += "_"
        defs.append((name, to_text(substitute(node, mapping) if mapping else node)))
        mapping[node] = sym(name, node.shape)
    return mapping, defs
