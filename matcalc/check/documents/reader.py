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
from .declarations import Declarations, _key, _pretty, _unit_list
from .judge import DIFFER, EQUAL, INSTANCES, Instance, assignments, diagnose, relative
from .model import Definition, Function, Model, ShapeClash, Symbol, place
from .report import DocumentReport, Equation
from .spans import document_spans, line_of, split
from .statements import (ARROWS, ORDER, Side, Statement, einstein, is_derivative, is_letter,
                         mentions, parse_side, symbol_head)
from .walker import Unread, Walker, key_of, stable_seed

NUMERATOR = re.compile(r"numerator[- ]layout|分子布局", re.I)
DENOMINATOR = re.compile(r"denominator[- ]layout|分母布局", re.I)
# the layout a document says it uses from here on ("we use the numerator layout throughout", "以下均采用分子布局")
DOC_LAYOUT = re.compile(r"(?:throughout|we use|we write|always|from now on|in this (?:post|note|document|chapter)|本文|"
                        r"以下|全文|均|统一)[^.。;；]{0,60}?(numerator|denominator|分子|分母)`?[- ]?(?:layout|布局)|"
                        r"(numerator|denominator|分子|分母)`?[- ]?(?:layout|布局)[^.。;；]{0,40}?(?:throughout|always|"
                        r"from now on|below|以下|全文)", re.I)
WHERE = re.compile(r"其中|where|here|with\b", re.I)
# prose that ends the case in force: what follows is said of every index ("in general, for all i, k", "对任意 i")
GENERAL = re.compile(r"\bin general\b|\bgenerally\b|\bfor (?:all|every|any|each)\b|\bwhatever\b|\bregardless\b|"
                     r"\bin (?:all|both|every) cases?\b|一般地|一般来说|总之|对(?:所有|任意|任何|每个|一切)|无论|不论", re.I)
CASE_WORDS = re.compile(r"情况|时|若|当|对于|case|when|if\b|for\b|where|otherwise", re.I)


def check_document(text: str, name: str = "", layout: str | None = None) -> DocumentReport:
    if not isinstance(text, str):
        raise MatcalcError(f"expected the document as text, got {type(text).__name__}")
    with warnings.catch_warnings():     # autograd's "Output seems independent of input" (a 0 is judged, not warned)
        warnings.simplefilter("ignore", UserWarning)
        return _Reader(text, name, layout).run()


class _Reader(Declarations):
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
                for later in self.where_after(st, statements[k + 1:k + 4]):
                    if id(later) not in early:
                        n = len(self.out)
                        self.guarded(later)
                        early[id(later)] = self.out[n:]
                        del self.out[n:]
            self.guarded(st)
        return DocumentReport(self.name, self.out)

    def where_after(self, st, following) -> list:
        r""""… = {err}_i x_j, 其中 ${err}_i = (\hat{y} - y)_i$": a definition right after, introduced by "where"
        (其中, here, with), of a symbol the statement uses and nothing has defined yet, is read first."""
        m, out = self.model, []
        used = {k for side in st.sides if side.tree is not None for k in _base_keys(side.tree)}
        for later in following:
            if later.span.cell != st.span.cell or not WHERE.search(later.span.before[-12:]):
                continue
            head = symbol_head(later.sides[0].tree) if len(later.sides) == 2 and later.sides[0].rel == "=" else None
            if head is not None and head[0] in used and head[0] not in m.defs and head[0] not in m.symbols \
                    and head[0] not in m.functions:
                out.append(later)
        return out

    def guarded(self, st) -> None:
        try:
            self.process(st)
        except Unread as err:
            done = {(e.cell, e.line, e.latex) for e in self.out}
            for k in range(1, len(st.sides)):
                self.emit(st, k, "UNREAD", str(err), "other")
                last = self.out[-1]
                if (last.cell, last.line, last.latex) in done:
                    self.out.pop()

    def collect(self) -> list[Statement]:
        out: list[Statement] = []
        einstein_on = False         # (a notebook's convention holds in the cells after the one that states it)
        said_layout = None          # the layout the text says it uses throughout (None: the document's default)
        for cell, text, spans in document_spans(self.text, self.name):
            for span in spans:
                prose = span.before.lower()
                if span.heading and einstein_on and "einstein" not in prose:
                    einstein_on = False
                if "einstein" in prose or "repeated index" in prose:
                    einstein_on = True
                if "convention is off" in prose:
                    einstein_on = False
                for m in DOC_LAYOUT.finditer(span.before):
                    said_layout = "numerator" if (m.group(1) or m.group(2)).lower() in ("numerator", "分子") else None
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
                    near = span.before[-80:] + " " + span.after[:40]
                    st.layout = "numerator" if NUMERATOR.search(near) else None
                    if st.layout is None and said_layout and not DENOMINATOR.search(near):
                        st.layout = said_layout
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

    def said_notes(self, trees) -> list:
        """What the prose said of the symbols a claim uses, directly or through their definitions, that its verdict
        rests on ("y read as one-hot, from line 3")."""
        m, seen, out = self.model, set(), []
        stack = [t for t in trees if t is not None]
        while stack and len(seen) < 500:
            for k in _base_keys(stack.pop()):
                if k in seen:
                    continue
                seen.add(k)
                prop, note = m.said.get(k, (None, None))
                sym = m.symbols.get(k)
                if note and sym is not None and any(p.startswith(prop) for p in sym.props) and note not in out:
                    out.append(note)
                if k in m.defs:
                    stack.append(m.defs[k].body)
        return out

    def assign_cases(self, statements: list[Statement]) -> None:
        current: list = []
        for k, st in enumerate(statements):
            if st.span.heading or GENERAL.search(st.span.before[-40:]):
                current = []
            cond = _case_of(st)
            if cond is not None:
                st.kind = "case"
                nxt = next((s for s in statements[k + 1:] if len(s.sides) > 1 or s.span.heading), None)
                alone = not re.search(r"\w", st.span.before) and not re.search(r"\w", st.span.after)
                dangling = alone and (nxt is None or nxt.span.heading or _case_of(nxt) is not None)
                prev = statements[k - 1] if k else None
                rest = [c for c in current if {c[1], c[2]} != {cond[1], cond[2]}]
                line_cases = [_case_of(s) for s in statements if s is not st and s.span.cell == st.span.cell
                              and s.span.line == st.span.line]
                if any(c is not None and {c[1], c[2]} == {cond[1], cond[2]} and c[0] != cond[0] for c in line_cases):
                    st.case_scope = "named"
                    continue                # "分 j=y 和 j≠y 两种情况": both cases named, neither one holds yet
                if dangling and prev is not None and _case_of(prev) is None and len(prev.sides) > 1 \
                        and prev.span.order < st.span.order and not prev.span.heading:
                    prev.case = [cond]
                    prev.case_note = f"the case {_cond_text(cond)} written after it, on {place(st.span.line, st.span.cell)}"
                    st.case_scope = "after"
                    current = rest          # it labels the chain before it, and ends the case before that
                    continue
                same_line = [s for s in statements[k + 1:k + 8] if s.span.cell == st.span.cell
                             and s.span.line == st.span.line]
                words = CASE_WORDS.search(st.span.before[-16:] + " " + re.sub(r"\$[^$]*\$", " ", st.span.after)[:16])
                if not words and not st.span.display and any(len(s.sides) > 1 for s in same_line):
                    for s in same_line:          # "$j \neq t$  $\frac{∂L}{∂z_j} = …$": this line's case only
                        s.case = rest + [cond]
                    st.case_scope = "line"
                    continue
                current = rest + [cond]
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
                    sym.line, sym.cell, sym.order = line, st.span.cell, st.span.order

    def _process(self, st: Statement) -> None:
        line = st.span.line
        for key, (old, section) in list(self.shadowed.items()):
            if section != st.span.section_line:
                self.model.functions[key] = old
                del self.shadowed[key]
        for rv in [r for r in self.reverts if r[0] != st.span.order]:
            self.model.symbols[rv[1]].props.discard(rv[2])
            self.reverts.remove(rv)
        if len(st.sides) == 1:
            self.declare_function(st.sides[0], st)
            self.declare_any(st)
            self.note_prose(st, st.sides[0])
            t = st.sides[0].tree
            raw = st.sides[0].text
            why = ("an expression written alone, with no relation sign: not a claim (matcalc does not guess what it "
                   "is said to equal)")
            if t is not None and t.kind == "mul" and t.args[2] == "times":
                why = self.size_after(st, t) or "a size written alone: not a claim"
            elif "\\mathbb{R}" in raw:
                why = "a set of shapes written alone: not a claim"
            if t is None or "\\mathbb{R}" in raw or "np." in raw or t.kind == "mul" and t.args[2] == "times":
                self.out.append(Equation(line=line, latex=st.sides[0].text, verdict="UNREAD", role="shape",
                                         why=why, cell=st.span.cell, span_line=line))
            self.previous = st
            return
        self.note_prose(st, None)
        self.previous = st
        if st.kind == "case":
            where = _cond_text(_case_of(st))
            self.emit(st, 1, "UNREAD", {"block": f"not a claim: a case; what follows is judged where {where}",
                                        "line": f"not a claim: a case; the rest of this line is judged where {where}",
                                        "named": "not a claim: a case named with its complement (both cases), "
                                                 "neither taken",
                                        "after": f"not a claim: a case; the chain before it is judged where {where}"
                                        }[st.case_scope], "assumption")
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
        applied = st.applied_case if st.applied_case is not None else st.case
        case = ", ".join(_cond_text(c) for c in applied) if applied else ""
        self.out.append(Equation(
            line=line_of(text, start), latex=latex, verdict=verdict, why=why, role=role, cell=st.span.cell,
            link=f"{k}/{n}" if n > 1 else None, span_line=st.span.line, kind=kind, case=case,
            assumed=list(notes)))

    # ------------------------------------------------------------ declarations
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
                self.reverts.append((st.span.order, key, "symmetric"))
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
                notes = [f"{_pretty(x)} read anew in this section: the {_pretty(x)} of {place(old.line, old.cell)} does not fit here"
                         for x, old in self.renewed]
                self.emit(st, k, "UNREAD", f"not a claim: a definition, taken: {what} = {' '.join(side.text.split())}", "definition",
                          sides, notes=notes)
                rest = [x for x in links if x > k]
                return rest
            self.emit(st, k, "UNREAD", reason, "definition", sides)
            if k > 1:
                continue
        if key not in m.defs and key not in m.functions:     # (φ = \tanh "for example" leaves φ any function)
            m.failed[key] = f"{_pretty(key)} is defined on {place(st.span.line, st.span.cell)} in a way matcalc could not read"
        return []

    def stale_symbols(self, st, body: M) -> list:
        """The symbols of `body` declared (or first met) before the section the statement is in."""
        m, out = self.model, []
        for x in _base_keys(body):
            sym = m.symbols.get(x)
            if sym is not None and sym.family is None and x not in m.defs and 0 < sym.order < st.span.section_line \
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
                                 layout=st.layout or m.layout, cell=st.span.cell)
        m.shapes[key] = whole
        m.aliases.pop(key, None)
        if key.lower() == "loss" and "L" not in m.defs and "L" not in m.functions and "L" not in m.symbols:
            m.aliases["L"] = (key, f"read L as {key}, defined on {place(st.span.line, st.span.cell)}")
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


__all__ = ["check_document", "stable_seed", "Instance", "assignments", "diagnose", "relative", "EQUAL", "DIFFER",
           "INSTANCES", "np"]
