r"""What a document declares in passing, read as the reader meets it (a mixin of reader.py's _Reader): shapes
(`W_1 \in \mathbb{R}^{h \times d}`, a family `x_1, \dots, x_n \in \mathbb{R}^d`, a size written after a symbol
"\(x\): \(d\times 1\)列向量"), abstract functions (`l(\mathbf{o}, y)`, "let $L$ be any scalar that depends on $z$
only through $a$"), assumptions (`y_t = 1`, `y \in \{0, 1\}`, `\lambda > 0`, `|X| > 0`, `\mathbf{1}^T y = 1`,
`y = [0, …, 1, …, 0]^T`, "one-hot", "symmetric positive definite"). Each is "not a claim", taken, and said.
"""

from __future__ import annotations

import re

from ...language.latex_doc import M
from .model import Function, Model, ShapeClash, Symbol, place, pretty, show_dim
from .statements import Side, Statement, is_letter, parse_side, symbol_head
from .walker import Unread, Walker, key_of

ONEHOT = re.compile(r"one-hot|onehot|独热", re.I)
# not said of it: negated ("not one-hot", "非独热") or supposed ("if y were one-hot", "would be")
NEGATED = re.compile(r"(\b(not|non|no|never|nor|isn't|aren't|neither|without|were|would|could|might)\b[\w\s,-]{0,16}|"
                     r"非|不是|不为|不|并非|无|若是|如果)$", re.I)
OTHER_MATH = re.compile(r"\$|\\\(|\\\[|[.;:](\s|$)|[。；：]")


def said_of(words: str, pattern: re.Pattern, after: bool) -> bool:
    """Whether `words` (the prose right after a span, or right before it) say `pattern` of the span's symbol: in
    its own clause (not past another formula or the end of the sentence), not negated or supposed ("not one-hot",
    "非独热", "if it were one-hot"), and not an adjective of the next formula ("and its one-hot encoding $t$")."""
    cut = OTHER_MATH.search(words) if after else None
    clause = words[:cut.start()] if cut else words
    if not after:           # the prose before the span: its last clause
        clause = re.split(r"[.;:。；：](?:\s|$)|[。；：]", clause)[-1]
    for m in pattern.finditer(clause):
        if NEGATED.search(clause[:m.start()].rstrip(" (-")):
            continue
        between = clause[m.end():]
        joined = re.search(r"\band\b|\bis\b|\bbe\b|,|，|和|与|是", between)
        if after and cut is not None and cut.group(0) in ("$", "\\(", "\\[") and len(between.split()) <= 3 \
                and not joined:
            continue
        if not after and (joined or len(between.split()) > 3):   # "t be one-hot and $y$": said of t
            continue
        return True
    return False
ANY = re.compile(r"\s*(?:be|is|denotes?)\s+(?:any|an arbitrary|some)\s+(?:differentiable\s+|smooth\s+)?"
                 r"(?:scalar|function|loss)\b(?:[^.;$]|\$[^$]*\$)*?\bthrough\s+\$([^$]+)\$|"
                 r"\s*(?:be|is|denotes?)\s+(?:any|an arbitrary|some)\s+(?:differentiable\s+|smooth\s+)?"
                 r"(?:scalar\s+)?(?:function|loss)\s+of\s+\$([^$]+)\$", re.I)


class Declarations:
    def declare_function(self, side: Side, st: Statement):
        t = side.tree
        if t is None or t.kind != "apply" or t.args[0].kind not in ("name", "sub"):
            return
        try:
            ko = key_of(t.args[0])
        except Unread:
            return
        if ko is None or ko[1] or ko[0] in self.model.defs:
            return
        args = t.args[1]
        old = self.model.functions.get(ko[0])
        if old is not None and ko[0] not in self.shadowed:    # l(s) in section 4 after l(o, y): section 4's only
            self.shadowed[ko[0]] = (old, st.span.section_line)
        self.model.functions[ko[0]] = Function(ko[0], len(args), False, st.span.line, args)
        for a in args:
            k = _key(a)
            if k is not None:
                self.model.known.add(k)

    def size_after(self, st: Statement, t: M) -> str | None:
        r""""\(x\): 输入向量，\(d\times 1\)列向量": a size written alone right after a symbol (or a definition) on
        the same line is its shape. The reason to give, when taken."""
        prev = self.previous
        if prev is None or prev.span.cell != st.span.cell or prev.span.line != st.span.line or len(prev.sides) > 2:
            return None
        if len(prev.sides) == 2 and (prev.sides[0].rel != "=" or prev.kind != "definition"):
            return None
        target = prev.sides[0].tree
        key = _key(target) if target is not None and target.kind in ("name", "sub", "layer") else None
        dims = []
        for x in (t.args[0], t.args[1]):
            if x.kind == "num" and x.args[0] == int(x.args[0]) and x.args[0] > 0:
                dims.append(int(x.args[0]))
            elif x.kind == "name":
                dims.append(self.model.dim(x.args[0]))
            else:
                return None
        if key is None:
            return None
        m = self.model
        if key in m.defs:
            shape = m.shapes.get(key)
            trial = m.unifier.copy()
            try:
                trial.unify(shape[0], dims[0], key)
                trial.unify(shape[1], dims[1], key)
            except (ShapeClash, TypeError):
                return f"the size stated is {_show_dims(dims)}, matcalc reads {_pretty(key)} otherwise: not taken"
            m.unifier = trial
        else:
            sym = m.symbols.get(key)
            if sym is None or sym.family is not None:
                m.symbols[key] = Symbol(key, tuple(dims))
            else:
                trial = m.unifier.copy()
                try:
                    trial.unify(sym.shape[0], dims[0], key)
                    trial.unify(sym.shape[1], dims[1], key)
                    m.unifier = trial
                except ShapeClash:
                    m.symbols[key] = Symbol(key, tuple(dims), props=set(sym.props))
            m.known.add(key)
        return f"not a claim: a shape, taken: {_pretty(key)} is {_show_dims(dims)}"

    def declare_any(self, st: Statement):
        r""""let $L$ be any scalar that depends on $\mathbf{z}$ only through $\mathbf{a}$": L is an abstract
        function of a (a random smooth one on each instance), as if written L(a)."""
        t = st.sides[0].tree
        key = _key(t) if t is not None and t.kind in ("name", "sub") else None
        if key is None or key in self.model.defs:
            return
        m = ANY.match(st.span.after)
        if m is None:
            return
        arg = m.group(1) or m.group(2)
        tree, _ = parse_side(arg)
        if tree is None:
            return
        self.model.functions[key] = Function(key, 1, False, st.span.line, (tree,))
        self.model.aliases.pop(key, None)
        k = _key(tree)
        if k is not None:
            self.model.known.add(k)

    def note_prose(self, st: Statement, side: Side | None):
        """Words about the symbols of a span: "one-hot", "symmetric positive definite"."""
        span = st.span
        after, before = span.after[:40].lower(), span.before[-24:].lower()
        tree = st.sides[0].tree
        if tree is None:
            return
        key = None
        if tree.kind in ("name", "sub", "layer"):
            try:
                ko = key_of(tree)
            except Unread:
                ko = None
            key = ko[0] if ko and not ko[1] else None
        if key is None:
            return
        if said_of(after, ONEHOT, True) or said_of(before[-14:], ONEHOT, False):
            sym = self.model.base(key)
            rows = not self.model.unifier.is_one(sym.shape[1]) and not self.model.unifier.maybe_one(sym.shape[1])
            if key in self.model.defs:
                return
            sym.props.add("onehot-rows" if rows else "onehot")
            where = place(span.line, span.cell)
            self.model.said[key] = ("onehot", f"{_pretty(key)} read as one-hot" +
                                    (" (each row)" if rows else "") + f", from {where}")
        if said_of(after, re.compile("symmetric positive|正定"), True):
            self.model.base(key).props.add("spd")
            self.model.said[key] = ("spd", f"{_pretty(key)} read as symmetric positive definite, from "
                                           f"{place(span.line, span.cell)}")

    def membership(self, st, sides, k):
        left, right = sides[k - 1], sides[k]
        if left.tree is None or right.tree is None:
            self.emit(st, k, "UNREAD", (left.error or right.error or "unreadable"), "shape", sides)
            return
        r = right.tree
        if _unit_list(left.tree) and k >= 2 and sides[k - 2].tree is not None:     # e_j = [0,…,1,…,0]^T ∈ ℝ^c
            left = sides[k - 2]
        r = right.tree
        if r.kind == "set":
            items = r.args[0]
            if all(i.kind == "num" for i in items) and {i.args[0] for i in items} <= {0.0, 1.0}:
                ko = _key(left.tree)
                if ko is not None:
                    sym = Symbol(ko, (1, 1), props={"binary"})
                    self.model.symbols[ko] = sym
                    self.model.defs.pop(ko, None)
                    self.emit(st, k, "UNREAD", f"not a claim: an assumption, taken: {_pretty(ko)} is 0 or 1", "assumption",
                              sides)
                    return
            self.emit(st, k, "UNREAD", "membership in a set is not read", "other", sides)
            return
        try:
            dims = _reals(r, self.model)
        except Unread as err:
            self.emit(st, k, "UNREAD", str(err), "shape", sides)
            return
        if dims is None:
            self.emit(st, k, "UNREAD", "a membership that is not a shape (∈ ℝ^{m×n}) is not read", "other", sides)
            return
        self.declare_shape(st, sides, k, left, dims)

    def declare_shape(self, st, sides, k, left, dims):
        m = self.model
        t = left.tree
        targets = t.args[0] if t.kind == "list" else (t,)
        if t.kind == "list" and any(x.kind == "dots" for x in targets):     # x_1, \dots, x_n ∈ ℝ^d: a family
            member = [x for x in targets if x.kind == "sub"]
            keys = {key_of(x.args[0])[0] for x in member if x.args[0].kind == "name"}
            last = member[-1].args[1][0] if member else None
            if len(keys) == 1 and last is not None and last.kind == "name":
                key = keys.pop()
                sym = m.symbols.get(key) or Symbol(key, (m.unifier.fresh(key), m.unifier.fresh(key)))
                sym.family = (m.dim(last.args[0]), dims)
                m.symbols[key] = sym
                m.known.add(key)
                self.emit(st, k, "UNREAD", f"not a claim: a shape, taken: each {_pretty(key)}_i is {_show_dims(dims)}", "shape",
                          sides)
                return
            self.emit(st, k, "UNREAD", "a list of symbols with an ellipsis is not read", "shape", sides)
            return
        declared = []
        for x in targets:
            key = _key(x)
            if key is None:
                self.shape_claim(st, sides, k, x, dims)
                return
            if key in m.defs:
                self.shape_claim(st, sides, k, x, dims)
                return
            sym = m.symbols.get(key)
            m.known.add(key)
            if sym is None:
                m.symbols[key] = Symbol(key, dims)
            else:
                trial = m.unifier.copy()
                try:
                    trial.unify(sym.shape[0], dims[0], key)
                    trial.unify(sym.shape[1], dims[1], key)
                    m.unifier = trial
                except ShapeClash:
                    m.symbols[key] = Symbol(key, dims, props=set(sym.props))   # declared anew: a new meaning
            declared.append(key)
        self.emit(st, k, "UNREAD", "not a claim: a shape, taken: " + ", ".join(f"{_pretty(x)} is {_show_dims(dims)}"
                                                                  for x in declared), "shape", sides)

    def shape_claim(self, st, sides, k, tree, dims):
        """`\\frac{\\partial L}{\\partial W_1} \\in \\mathbb{R}^{h \\times d}`, `H^\\top G \\in ...`: a checkable shape."""
        w = Walker(self.model, "shape", layout=st.layout)
        try:
            s = w.run(tree)
        except Unread as err:
            self.emit(st, k, "UNREAD", str(err), "shape", sides)
            return
        try:
            w.u.unify(s[0], dims[0], "rows")
            w.u.unify(s[1], dims[1], "columns")
        except ShapeClash:
            got = f"{show_dim(w.u.find(s[0]))}×{show_dim(w.u.find(s[1]))}"
            self.emit(st, k, "UNREAD", f"the shape stated is {_show_dims(dims)}, matcalc reads {got}", "shape", sides)
            return
        self.emit(st, k, "CORRECT", f"the shape {_show_dims(dims)} agrees with what the text defines", "shape", sides)

    def order(self, st, sides, k):
        left, right = sides[k - 1], sides[k]
        key = _key(left.tree) if left.tree is not None else None
        if key is not None and right.tree is not None and right.tree.kind == "num" and right.tree.args[0] == 0 \
                and sides[k - 1].rel in (">", "\\ge", "\\geq"):
            self.model.base(key).props.add("positive")
            self.emit(st, k, "UNREAD", f"not a claim: an assumption, taken: {_pretty(key)} > 0", "assumption", sides)
            return
        if left.tree is not None and left.tree.kind == "abs" and right.tree is not None and right.tree.kind == "num":
            inner = _key(left.tree.args[0])
            if inner is not None:
                self.model.base(inner).props.add("posdet")
                self.emit(st, k, "UNREAD", f"not a claim: an assumption, taken: det {_pretty(inner)} > 0", "assumption", sides)
                return
        self.emit(st, k, "UNREAD", "an inequality is not a claim matcalc judges", "other", sides)

    # ------------------------------------------------------------ equalities
    def unit(self, st, sides, group):
        r"""`y = [0, …, 1, …, 0]^T`: a one-hot vector (the 1 somewhere); `\vec{e}_j = [0,…,1,…,0]^T`: the j-th unit
        vector (matcalc's own e_j); a shape after it (`\in \mathbb{R}^{c \times 1}`) is taken too."""
        m = self.model
        key, letters, _ = symbol_head(sides[0].tree)
        if letters:
            if key in m.defs or key in m.symbols:
                self.emit(st, 1, "UNREAD", f"{_pretty(key)} already has a meaning here", "definition", sides)
                return
            self.emit(st, 1, "UNREAD", f"not a claim: a definition, taken: {_pretty(key)}_{''.join(letters)} is the "
                                       f"unit vector with its 1 at {''.join(letters)}", "definition", sides)
            return
        sym = m.base(key)
        sym.props = {p for p in sym.props if not p.startswith("onehot")} | {"onehot"}
        m.defs.pop(key, None)
        self.emit(st, 1, "UNREAD", f"not a claim: an assumption, taken: {_pretty(key)} is one-hot (its 1 anywhere)",
                  "assumption", sides)

    def onehot(self, st, sides):
        h = sides[0].tree
        m = self.model
        if h.kind == "mul":
            key = _key(h.args[1])
            if key is not None:
                sym = m.base(key)
                if not any(p.startswith("onehot") for p in sym.props):
                    sym.props.add("simplex")
                self.emit(st, 1, "UNREAD", f"not a claim: an assumption, taken: the entries of {_pretty(key)} sum to 1",
                          "assumption", sides)
                return
            self.emit(st, 1, "UNREAD", "an assumption about an expression", "assumption", sides)
            return
        ko = key_of(h.args[0])
        if ko is None:
            self.emit(st, 1, "UNREAD", "an assumption about an expression", "assumption", sides)
            return
        key = ko[0]
        items = h.args[1]
        value = sides[1].tree.args[0]
        if value == 1 and len(items) == 1 and is_letter(items[0]):
            letter = items[0].args[0]
            note = ""
            if key in m.defs:          # y_j = softmax(z_j) earlier, the label y now: the earlier y is ŷ
                old = m.defs.pop(key)
                shape = m.shapes.get(key)
                hat = key + "^"
                if hat not in m.defs and hat not in m.symbols:
                    m.defs[hat] = old
                    m.shapes[hat] = shape
                    if key + "[]" in m.shapes:
                        m.shapes[hat + "[]"] = m.shapes[key + "[]"]
                    m.aliases_notes = getattr(m, "aliases_notes", {})
                    note = f"; the {_pretty(key)} defined on {place(old.line, old.cell)} is read as {_pretty(hat)}"
                m.symbols[key] = Symbol(key, shape if shape else m.base(key).shape, props={f"onehot:{letter}"})
            else:
                sym = m.base(key)
                sym.props = {p for p in sym.props if not p.startswith("onehot")} | {f"onehot:{letter}"}
            m.onehot[key] = letter
            self.emit(st, 1, "UNREAD", f"not a claim: an assumption, taken: {_pretty(key)} is one-hot, 1 at {letter}{note}",
                      "assumption", sides)
            return
        if value == 0 and len(items) == 1 and items[0].kind == "rel":
            self.emit(st, 1, "UNREAD", f"not a claim: an assumption, taken: the other entries of {_pretty(key)} are 0",
                      "assumption", sides)
            return
        self.emit(st, 1, "UNREAD", "an assumption about one entry", "assumption", sides)


def _unit_list(t) -> bool:
    """`[0, …, 1, …, 0]` (transposed or not): zeros, dots and a single 1."""
    if t is not None and t.kind == "T":
        t = t.args[0]
    if t is None or t.kind != "list":
        return False
    items = t.args[0]
    ones = [x for x in items if x.kind == "num" and x.args[0] == 1.0]
    return len(ones) == 1 and any(x.kind == "dots" for x in items) and \
        all(x.kind == "dots" or x.kind == "num" and x.args[0] in (0.0, 1.0) for x in items)


def _key(t):
    if t is None:
        return None
    try:
        ko = key_of(t)
    except Unread:
        return None
    return ko[0] if ko and not ko[1] else None


_pretty = pretty


def _show_dims(dims) -> str:
    return "×".join(show_dim(d) for d in dims)


def _reals(r: M, model: Model):
    """The dims of `\\mathbb{R}^{n \\times d}` (a column for ℝ^n, a scalar for ℝ), or None."""
    if r.kind == "reals":
        return (1, 1)
    if r.kind == "pow" and r.args[0].kind == "reals":
        e = r.args[1]
        parts = []

        def flat(n):
            if n.kind == "mul" and n.args[2] in ("times", "dot"):
                flat(n.args[0])
                flat(n.args[1])
            else:
                parts.append(n)
        flat(e)
        dims = []
        for p in parts:
            if p.kind == "num":
                dims.append(int(p.args[0]))
            elif p.kind == "name":
                dims.append(model.dim(p.args[0]))
            else:
                raise Unread("a shape whose size is an expression (a general layer) is not read")
        if len(dims) == 1:
            return (dims[0], 1)
        if len(dims) == 2:
            return tuple(dims)
        raise Unread("a shape with more than two sizes")
    return None


_pretty = pretty

__all__ = ["Declarations", "ONEHOT", "ANY"]
