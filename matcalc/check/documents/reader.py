r"""Reading a whole document: every stating span, in order, with what was said before it.

Definitions, shapes and assumptions change the model as they are met (`令 S = \sum_j e^{d_j}`, `\eta_j =
\theta_j^T x`, `W_3 \in \mathbb{R}^{64 \times 10}`, `y_t = 1`, "one-hot"); a case (`i=k`, `j \ne y`, a heading
"Case 1") holds for what follows until the next case, heading or rule — a case label standing alone after a
chain, with no equation of its own before the next case, labels that chain; every derivative claim and
every link of a chain is judged (judge.py) under its case; what could not be read is UNREAD with its reason.
"""

from __future__ import annotations

import re
import warnings

import numpy as np

from ...errors import MatcalcError
from ...language.latex_doc import M
from .judge import DIFFER, EQUAL, INSTANCES, Instance, assignments, diagnose, relative
from .model import Definition, Function, Model, ShapeClash, Symbol, pretty, show_dim
from .report import DocumentReport, Equation
from .spans import cells_of, find_spans, line_of, split
from .statements import (ARROWS, ORDER, Side, Statement, einstein, is_derivative, is_letter,
                         mentions, parse_side, symbol_head)
from .walker import Unread, Walker, key_of, stable_seed

NUMERATOR = re.compile(r"numerator[- ]layout|分子布局", re.I)
ONEHOT = re.compile(r"one-hot|onehot|独热", re.I)
ANY = re.compile(r"\s*(?:be|is|denotes?)\s+(?:any|an arbitrary|some)\s+(?:differentiable\s+|smooth\s+)?"
                 r"(?:scalar|function|loss)\b(?:[^.;$]|\$[^$]*\$)*?\bthrough\s+\$([^$]+)\$|"
                 r"\s*(?:be|is|denotes?)\s+(?:any|an arbitrary|some)\s+(?:differentiable\s+|smooth\s+)?"
                 r"(?:scalar\s+)?(?:function|loss)\s+of\s+\$([^$]+)\$", re.I)


def check_document(text: str, name: str = "", layout: str | None = None) -> DocumentReport:
    if not isinstance(text, str):
        raise MatcalcError(f"expected the document as text, got {type(text).__name__}")
    with warnings.catch_warnings():     # autograd's "Output seems independent of input" (a 0 is judged, not warned)
        warnings.simplefilter("ignore", UserWarning)
        return _Reader(text, name, layout).run()


class _Reader:
    def __init__(self, text: str, name: str, layout: str | None):
        self.text, self.name = text, name
        self.model = Model(layout=layout or "denominator")
        self.out: list[Equation] = []
        self.reverts: list = []
        self.renewed: list = []
        self.renewed_claim: list = []
        self.shadowed: dict = {}
        self.previous: Statement | None = None

    # ------------------------------------------------------------ collecting
    def run(self) -> DocumentReport:
        statements = self.collect()
        self.families(statements)
        self.assign_cases(statements)
        early: dict = {}        # a shape declared later on the line of a definition ("f = tr(AXB), where A ∈ ℝ^{p×m}")
        for k, st in enumerate(statements):
            if id(st) in early:
                self.out.extend(early.pop(id(st)))
                continue
            if not _is_declaration(st):
                for later in statements[k + 1:]:
                    if later.span.cell != st.span.cell or later.span.line != st.span.line:
                        break
                    if _is_declaration(later) and id(later) not in early:
                        n = len(self.out)
                        self.guarded(later)
                        early[id(later)] = self.out[n:]
                        del self.out[n:]
            self.guarded(st)
        return DocumentReport(self.name, self.out)

    def guarded(self, st) -> None:
        try:
            self.process(st)
        except Unread as err:
            done = {(e.line, e.latex) for e in self.out}
            for k in range(1, len(st.sides)):
                self.emit(st, k, "UNREAD", str(err), "other")
                last = self.out[-1]
                if (last.line, last.latex) in done:
                    self.out.pop()

    def collect(self) -> list[Statement]:
        out: list[Statement] = []
        for cell, text, tex in cells_of(self.text, self.name):
            einstein_on = False
            for span in find_spans(text, tex, cell):
                prose = span.before.lower()
                if span.heading and einstein_on and "einstein" not in prose:
                    einstein_on = False
                if "einstein" in prose or "repeated index" in prose:
                    einstein_on = True
                if "convention is off" in prose:
                    einstein_on = False
                chains = split(text, span.start, span.end)
                for ch in chains:
                    sides = []
                    for p in ch.pieces:
                        raw = text[p.start:p.end]
                        tree, err = parse_side(raw) if p.end > p.start else (None, "empty")
                        if tree is not None and einstein_on:
                            tree = einstein(tree)
                        sides.append(Side(raw, p.start, p.end, tree, err, p.rel))
                    st = Statement(span, sides)
                    st.layout = "numerator" if NUMERATOR.search(span.before[-80:] + " " + span.after[:40]) else None
                    st.einstein = einstein_on
                    if ch.continues and out and out[-1].span.cell == cell and len(sides) > 1:
                        st.continues = out[-1]
                    out.append(st)
        return out

    def families(self, statements) -> None:
        """`\theta_j^T x`: a transposed entry is a vector, so θ is a family of vectors θ_1, θ_2, ..."""
        seen = []
        for st in statements:
            for side in st.sides:
                stack = [side.tree] if side.tree is not None else []
                while stack:
                    n = stack.pop()
                    if n.kind == "T" and n.args[0].kind == "sub" and n.args[0].args[0].kind == "name":
                        items = n.args[0].args[1]
                        if len(items) == 1 and is_letter(items[0]):
                            key = n.args[0].args[0].args[0]
                            if key not in seen:
                                seen.append(key)
                    for a in n.args:
                        if isinstance(a, M):
                            stack.append(a)
                        elif isinstance(a, tuple):
                            stack.extend(x for x in a if isinstance(x, M))
                            for x in a:
                                if isinstance(x, tuple):
                                    stack.extend(y for y in x if isinstance(y, M))
        u = self.model.unifier
        for key in seen:
            self.model.symbols[key] = Symbol(key, (u.fresh(key), u.fresh(key)),
                                             family=(u.fresh("range:" + key), (u.fresh(key), 1)))

    def assign_cases(self, statements: list[Statement]) -> None:
        current: list = []
        for k, st in enumerate(statements):
            if st.span.heading:
                current = []
            cond = _case_of(st)
            if cond is not None:
                st.kind = "case"
                nxt = next((s for s in statements[k + 1:] if len(s.sides) > 1 or s.span.heading), None)
                alone = not re.search(r"\w", st.span.before) and not re.search(r"\w", st.span.after)
                dangling = alone and (nxt is None or nxt.span.heading or _case_of(nxt) is not None)
                prev = statements[k - 1] if k else None
                if dangling and prev is not None and _case_of(prev) is None and len(prev.sides) > 1 \
                        and prev.span.line < st.span.line and not prev.span.heading:
                    prev.case = [cond]
                    prev.case_note = f"the case {_cond_text(cond)} written after it, on line {st.span.line}"
                current = [c for c in current if {c[1], c[2]} != {cond[1], cond[2]}] + [cond]
                continue
            if not st.case:
                st.case = list(current)

    # ------------------------------------------------------------ one statement
    def process(self, st: Statement) -> None:
        line = st.span.line
        try:
            self._process(st)
        finally:
            for sym in self.model.symbols.values():
                if not sym.line:
                    sym.line = line

    def _process(self, st: Statement) -> None:
        line = st.span.line
        for key, (old, section) in list(self.shadowed.items()):
            if section != st.span.section_line:
                self.model.functions[key] = old
                del self.shadowed[key]
        for rv in [r for r in self.reverts if r[0] != line]:
            self.model.symbols[rv[1]].props.discard(rv[2])
            self.reverts.remove(rv)
        if len(st.sides) == 1:
            self.declare_function(st.sides[0], st)
            self.declare_any(st)
            self.note_prose(st, st.sides[0])
            t = st.sides[0].tree
            raw = st.sides[0].text
            why = "no relation in the formula (a size, a shape or code written alone): not a claim"
            if t is not None and t.kind == "mul" and t.args[2] == "times":
                why = self.size_after(st, t) or why
            if t is None or "\\mathbb{R}" in raw or "np." in raw or t.kind == "mul" and t.args[2] == "times":
                self.out.append(Equation(line=line, latex=st.sides[0].text, verdict="UNREAD", role="shape",
                                         why=why, cell=st.span.cell, span_line=line))
            self.previous = st
            return
        self.note_prose(st, None)
        self.previous = st
        if st.kind == "case":
            self.emit(st, 1, "UNREAD", f"not a claim: a case; what follows is judged where {_cond_text(_case_of(st))}",
                      "assumption")
            return
        segment = []
        sides = st.sides
        if st.continues is not None and sides[0].tree is None and sides[0].start == sides[0].end:
            prev = st.continues
            head = prev.head or prev.sides[0]
            sides = [prev.sides[-1]] + sides[1:]
            st.head = head
            st.kind = prev.kind or "derivative"
        k = 1
        while k < len(sides):
            rel = sides[k - 1].rel
            if rel in ARROWS:
                self.flush(st, sides, segment)
                segment = []
                self.emit(st, k, "UNREAD", "an arrow (⇒, ←, →): an update or an implication, not an equation",
                          "other", sides)
            elif rel == "\\in":
                self.flush(st, sides, segment)
                segment = []
                self.membership(st, sides, k)
            elif rel in ORDER:
                self.flush(st, sides, segment)
                segment = []
                self.order(st, sides, k)
            elif rel in ("\\ne", "\\neq"):
                self.flush(st, sides, segment)
                segment = []
                self.emit(st, k, "UNREAD", "an inequation ≠ between expressions is not a claim matcalc judges",
                          "other", sides)
            else:
                segment.append(k)
            k += 1
        self.flush(st, sides, segment)

    def flush(self, st, sides, links):
        if not links:
            return
        first = links[0]
        group = [first - 1] + links
        head = sides[first - 1]
        if st.head is not None and first == 1:
            head = st.head
        self.equality(st, sides, group, head)

    def emit(self, st, k, verdict, why, role, sides=None, kind=None, notes=()):
        sides = sides or st.sides
        left, right = sides[k - 1], sides[k]
        text = st.span.text
        if left.start >= left.end or left is not st.sides[k - 1] and k == 1 and st.continues is not None:
            start = text.rfind("=", st.span.start, right.start)
            start = right.start if start < 0 else start
        else:
            start = left.start
        latex = text[start:right.end]
        n = len(sides) - 1
        case = ", ".join(_cond_text(c) for c in st.case) if st.case else ""
        self.out.append(Equation(
            line=line_of(text, start), latex=latex, verdict=verdict, why=why, role=role, cell=st.span.cell,
            link=f"{k}/{n}" if n > 1 else None, span_line=st.span.line, kind=kind, case=case,
            assumed=list(notes)))

    # ------------------------------------------------------------ declarations
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
        if ONEHOT.search(after) or ONEHOT.search(before[-14:]):
            sym = self.model.base(key)
            rows = not self.model.unifier.is_one(sym.shape[1]) and not self.model.unifier.maybe_one(sym.shape[1])
            if key in self.model.defs:
                return
            sym.props.add("onehot-rows" if rows else "onehot")
        if "symmetric positive" in after or "正定" in after:
            self.model.base(key).props.add("spd")

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
    def equality(self, st: Statement, sides: list, group: list, head: Side):
        from .links import judge_links

        first = group[0]
        h = sides[first].tree
        m = self.model
        if st.kind == "" and first == 0:
            st.kind = self.kind_of(st, sides)
        if st.kind in ("onehot", "symmetric", "range", "unit"):
            if st.kind == "onehot":
                self.onehot(st, sides)
            elif st.kind == "unit":
                self.unit(st, sides, group)
            elif st.kind == "symmetric":
                key = _key(h)
                m.base(key).props.add("symmetric")
                self.reverts.append((st.span.line, key, "symmetric"))
                self.emit(st, 1, "UNREAD", f"not a claim: an assumption, taken: {_pretty(key)} is symmetric",
                          "assumption", sides)
            else:
                self.emit(st, 1, "UNREAD", "the range of an index, not a claim", "other", sides)
            for k in group[2:]:       # never a silent skip: what follows in the chain is said UNREAD
                self.emit(st, k, "UNREAD", "it continues an assumption or a range, which is not a claim", "other",
                          sides)
            return
        links = group[1:]
        if st.kind == "definition" and first == 0:
            links = self.define(st, sides, links)
        if links:
            judge_links(self, st, sides, links, head)

    def kind_of(self, st, sides) -> str:
        h = sides[0].tree
        rest = [s.tree for s in sides[1:]]
        if h is None:
            return "identity"
        if is_derivative(h):
            return "derivative"
        if h.kind == "sub" and rest and rest[0] is not None and rest[0].kind == "num" and rest[0].args[0] in (0, 1):
            items = h.args[1]
            ko = None
            if h.args[0].kind == "name":
                ko = key_of(h.args[0]) if any(i.kind == "rel" for i in items) else key_of(h)
            if ko is not None and (ko[1] or any(i.kind == "rel" for i in items)):
                return "onehot"
        if h.kind == "mul" and h.args[0].kind == "T" and h.args[0].args[0].kind == "ones" and rest and \
                rest[0] is not None and rest[0].kind == "num":
            return "onehot"
        if rest and _unit_list(rest[0]) and symbol_head(h) is not None and not symbol_head(h)[2]:
            return "unit"
        if is_letter(h) and rest and all(x is not None and x.kind in ("num", "list") for x in rest[:1]) \
                and any(s.tree is not None and s.tree.kind == "list" for s in sides[1:]):
            return "range"
        sh = symbol_head(h)
        if sh is not None and rest and rest[0] is None:
            return "definition"
        if sh is not None and rest and rest[0] is not None:
            key = sh[0]
            if rest[0].kind == "T" and _key(rest[0].args[0]) == key and not sh[1]:
                return "symmetric"
            if not mentions(rest[0], key) or sh[2]:
                return "definition"
        return "identity"

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
                    note = f"; the {_pretty(key)} defined on line {old.line} is read as {_pretty(hat)}"
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

    def define(self, st: Statement, sides: list, links: list) -> list:
        """Take the definition `head = side_1` (or the first readable side); return the links left to judge."""
        m = self.model
        h = sides[0].tree
        head = symbol_head(h)
        if head is None:
            return links
        key, indices, params = head
        same = m.entry_key(key) if indices else m.whole_key(key)
        if same != key and same in m.defs:      # a_i = φ(z_i) after a = φ(z): the same quantity, entry by entry
            return links
        if key in m.defs and not params and not indices or key in m.defs and (indices or params):
            from .links import agrees

            verdict = agrees(self, st, sides)
            if verdict is not None:
                return links            # the same quantity again: every link is a claim
        for k in links:
            side = sides[k]
            if side.tree is None:
                self.emit(st, k, "UNREAD", side.error, "definition", sides)
                continue
            if k > 1 and sides[k - 1].tree is None:
                pass
            self.renewed = []
            reason = self.take_definition(st, key, indices, params, side)
            if reason is None:
                what = f"{_pretty(key)}" + (f"_{''.join(indices)}" if indices else "") + \
                       (f"({', '.join(_pretty(p) for p in params)})" if params else "")
                notes = [f"{_pretty(x)} read anew in this section: the {_pretty(x)} of line {old.line} does not fit here"
                         for x, old in self.renewed]
                self.emit(st, k, "UNREAD", f"not a claim: a definition, taken: {what} = {' '.join(side.text.split())}", "definition",
                          sides, notes=notes)
                rest = [x for x in links if x > k]
                return rest
            self.emit(st, k, "UNREAD", reason, "definition", sides)
            if k > 1:
                continue
        if key not in m.defs and key not in m.functions:     # (φ = \tanh "for example" leaves φ any function)
            m.failed[key] = f"{_pretty(key)} is defined on line {st.span.line} in a way matcalc could not read"
        return []

    def stale_symbols(self, st, body: M) -> list:
        """The symbols of `body` declared (or first met) before the section the statement is in."""
        m, out = self.model, []
        for x in _base_keys(body):
            sym = m.symbols.get(x)
            if sym is not None and sym.family is None and x not in m.defs and 0 < sym.line < st.span.section_line \
                    and x not in out:
                out.append(x)
        return out

    def take_definition(self, st, key, indices, params, side, renew=False) -> str | None:
        """Type the definition and keep it; the reason it cannot be read otherwise. A parameter named like a
        quantity defined before (ρ_δ(r) after r_i = y_i − x_i^T β) is the function's own variable."""
        m, hidden = self.model, {}
        for p in params:              # (CE(z) = -y^T log ŷ, z only through ŷ: the z defined before, not hidden)
            if p in m.defs and p != key and mentions(side.tree, p):
                hidden[p] = (m.defs.pop(p), m.shapes.pop(p, None), m.shapes.pop(p + "[]", None), m.symbols.pop(p, None))
        try:
            return self._take_definition(st, key, indices, params, side, renew)
        finally:
            for p, (d, shape, entry_shape, sym) in hidden.items():
                m.defs[p] = d
                for k, v in ((p, shape), (p + "[]", entry_shape)):
                    if v is not None:
                        m.shapes[k] = v
                if sym is not None:
                    m.symbols[p] = sym
                else:
                    m.symbols.pop(p, None)

    def _take_definition(self, st, key, indices, params, side, renew=False) -> str | None:
        m = self.model
        body = side.tree
        elementwise = len(params) == 1 and params[0] not in m.symbols and params[0] not in m.defs
        trial = m.unifier.copy()
        w = Walker(m, "shape", unifier=trial, layout=st.layout)
        saved_symbols = dict(m.symbols)
        if elementwise:
            p = params[0]
            m.symbols[p] = Symbol(p, (trial.fresh(p, "1"), trial.fresh(p, "1")))
        if len(params) > 1 or params and not elementwise:
            for p in params:
                if p not in m.symbols and p not in m.defs:
                    m.base(p)
        self.abstract_calls(body)
        try:
            shape = w.run(body)
        except Unread as err:
            m.symbols.clear()
            m.symbols.update(saved_symbols)
            stale = self.stale_symbols(st, body) if "do not conform" in str(err) and not renew else []
            if stale:           # a name of an earlier section with a new meaning here (y, now of length c)
                for x in stale:
                    del m.symbols[x]
                if self._take_definition(st, key, indices, params, side, renew=True) is None:
                    self.renewed = [(x, saved_symbols[x]) for x in stale]
                    return None
                m.symbols.clear()
                m.symbols.update(saved_symbols)
            return str(err)
        ranges = tuple(w.ranges.get(i) or trial.fresh("range:" + i) for i in indices)
        if indices:
            whole = (ranges[0], 1) if len(ranges) == 1 else (ranges[0], ranges[1])
        else:
            whole = shape
        if key in m.symbols and key not in params:
            try:
                trial.unify(m.symbols[key].shape[0], whole[0], key)
                trial.unify(m.symbols[key].shape[1], whole[1], key)
            except ShapeClash:
                pass
        m.unifier = trial
        m.sumr.update(w.sumr)
        m.known |= w.used | set(params) | {key}
        m.failed.pop(key, None)
        m.defs[key] = Definition(key, body, st.span.line, tuple(indices), tuple(params), side.text, ranges,
                                 layout=st.layout or m.layout)
        m.shapes[key] = whole
        m.aliases.pop(key, None)
        if key.lower() == "loss" and "L" not in m.defs and "L" not in m.functions and "L" not in m.symbols:
            m.aliases["L"] = (key, f"read L as {key}, defined on line {st.span.line}")
        if indices:
            m.shapes[key + "[]"] = shape
        if elementwise and all(trial.maybe_one(x) for x in m.symbols[params[0]].shape):
            m.elementwise_defs.add(key)
        return None

    def abstract_calls(self, body: M):
        """`\\phi(\\mathbf{z})` in a definition, φ never defined: an abstract function (any φ)."""
        stack = [body]
        while stack:
            n = stack.pop()
            if not isinstance(n, M):
                continue
            if n.kind == "apply" and n.args[0].kind == "name":
                key = n.args[0].args[0]
                m = self.model
                if key not in m.defs and key not in m.functions and key not in m.symbols and len(n.args[1]) == 1:
                    m.functions[key] = Function(key, 1, True)
            for a in n.args:
                if isinstance(a, M):
                    stack.append(a)
                elif isinstance(a, tuple):
                    stack.extend(x for x in a if isinstance(x, M))


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


def _is_declaration(st: Statement) -> bool:
    r"""`X \in \mathbb{R}^{m \times n}` (one or several symbols, nothing else in the chain)."""
    if len(st.sides) != 2 or st.sides[0].rel != "\\in" or st.sides[1].tree is None or st.sides[0].tree is None:
        return False
    r, t = st.sides[1].tree, st.sides[0].tree
    reals = r.kind == "reals" or r.kind == "pow" and r.args[0].kind == "reals"
    return reals and (t.kind in ("name", "sub") or t.kind == "list" and all(x.kind in ("name", "sub") for x in t.args[0]))


def _base_keys(tree: M) -> list:
    """The symbol keys a tree writes (not those of the definitions it uses), in order."""
    out, stack = [], [tree]
    while stack:
        n = stack.pop()
        if not isinstance(n, M):
            continue
        if n.kind in ("name", "sub", "layer"):
            k = _key(n) if n.kind != "sub" else None
            if n.kind == "sub":
                try:
                    ko = key_of(n)
                except Unread:
                    ko = None
                k = ko[0] if ko else None
            if k is not None and k not in out:
                out.append(k)
        for a in n.args:
            if isinstance(a, M):
                stack.append(a)
            elif isinstance(a, tuple):
                stack.extend(x for x in a if isinstance(x, M))
                for x in a:
                    if isinstance(x, tuple):
                        stack.extend(y for y in x if isinstance(y, M))
    return out


def _case_of(st: Statement):
    if len(st.sides) != 2:
        return None
    a, b = st.sides[0].tree, st.sides[1].tree
    rel = st.sides[0].rel
    if is_letter(a) and is_letter(b) and rel in ("=", "\\ne", "\\neq"):
        return ("=" if rel == "=" else "!=", a.args[0], b.args[0])
    return None


def _cond_text(c) -> str:
    return f"{c[1]} {'=' if c[0] == '=' else '≠'} {c[2]}"


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


__all__ = ["check_document", "stable_seed", "Instance", "assignments", "diagnose", "relative", "EQUAL", "DIFFER",
           "INSTANCES", "np"]
