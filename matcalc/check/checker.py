"""One claim against one expression: the claim typed over the expression's shapes, instances drawn, the
true derivative measured at each, and the claim's values judged against it.

The claim is typed with the derivative's shape as its target, so a bare `I`, `ones(p)` or `0` takes its
size from the expected derivative (the way it does in an expression), and the dimension names matcalc
itself inferred (p, q) may appear in it: every answer matcalc prints can be pasted back as a claim.

Judging is done in denominator layout: a claim laid out the other way is transposed first. Each
instance carries its own reference and tolerance (matcalc/truth.py). When the claim and matcalc's answer
have different normal forms, the claim gets more scrutiny (`scrutinize`): candidate instances at 0.1×–10×
the usual spread, both signs of every kink, ranked by how far the claim and matcalc's answer differ
there, and the truth measured at the most suspicious ones.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from ..budget import BudgetExceeded
from ..compile.codegen import compile_nodes
from ..engine.derive import derive as derive_expression
from ..engine.derive import kind_of, prepare
from ..engine.simplify import Simplifier, canonical, table_rules
from ..errors import MatcalcError, ParseError, ShapeError, UnsupportedError
from ..language import expr as E
from ..language.expr import Node
from ..language.parse import parse
from ..language.printing import to_text_bounded as to_text   # a large claim in its named form, never inlined
from ..language.shapes import elaborate_many
from .instances import FAR_SCALES, SCALES, Instance, Sampler, dimension_sizes
from .sizes import rename_sizes, renamed_sizes, small_shapes  # noqa: F401  (re-exported)
from .kinks import movable as _movable
from .kinks import place, place_informative, saturating_arguments
from .scrutiny import CANDIDATES, PLACED, SEED, SUSPECTS, Case, Scrutiny  # noqa: F401  (re-exported)
from .truth import LOOSE, Witness

INSTANCES = 3             # instances every claim is judged on, each with different dimension sizes
BORDERLINE = 1e-3         # loose errors between the tolerance and this are re-measured with other steps h
NEAR_ONE = (1e-5, 1e-4, 1e-3, 1e-2)
OTHER_LAYOUT = {"denominator": "numerator", "numerator": "denominator"}


# ================================================================ small helpers


def spec(shape) -> tuple:
    """A resolved (rows, cols) shape as the spec elaborate_many takes: () scalar, (n,) vector."""
    r, c = shape
    if r == 1 and c == 1:
        return ()
    return (r,) if c == 1 else (r, c)


def specs(names: dict[str, Node]) -> dict[str, tuple]:
    """Every name's resolved shape, to type a claim over exactly the expression's shapes."""
    return {n: spec(node.shape) for n, node in names.items()}


def shape_phrase(shape) -> str:
    """`a p×q matrix`, `a p×1 column vector`, `a 1×p row vector`, `a scalar`: shapes in words."""
    r, c = shape
    if r == 1 and c == 1:
        return "a scalar"
    if c == 1:
        return f"a {r}×1 column vector"
    if r == 1:
        return f"a 1×{c} row vector"
    return f"a {r}×{c} matrix"


def transposed(shape) -> tuple:
    return (shape[1], shape[0])


def finite(a) -> bool:
    return bool(np.all(np.isfinite(np.asarray(a, dtype=float))))


def to_den(value, transpose: bool):
    """A value laid out as the claim is, turned to denominator layout (vectors are 1-D: unchanged)."""
    arr = np.asarray(value, dtype=float)
    return arr.T if transpose and arr.ndim == 2 else arr


def syntax_names(text: str) -> set[str]:
    """The names a text mentions (dimension arguments of ones(n) and I(n) included), for a clear
    "your claim uses a name the expression does not have" error."""
    nodes = _syntax_walk(parse(text))
    names = {n.value for n in nodes if n.kind == "name" and n.value != "I"}
    return names - {n.value for n in nodes if n.kind == "define"}


def _syntax_walk(node):
    """Every node of a parsed text, by a loop (any depth of nesting)."""
    stack, out = [node], []
    while stack:
        n = stack.pop()
        out.append(n)
        stack.extend(n.args)
    return out


def expression_dims(typed) -> set[str]:
    """Every dimension name of a typed expression: its names' and those written only inside it
    (`alpha*sum(softmax(ones(m)))` has m, which no name's shape shows)."""
    out = {d for node in typed.names.values() for d in E.dimension_names(node.shape)}
    for node in E.walk(typed.root):
        out.update(E.dimension_names(node.shape))
    return out


def text_edits(text: str, limit: int = 60):
    """One-character-class edits of a claim's text: each `*` made `.*` and back, a transpose added
    after a name or removed — with a phrase saying what changed."""
    root = parse(text)
    stack = [root]
    edits = []
    while stack:
        node = stack.pop()
        stack.extend(node.args)
        if node.kind in ("mul", "had") and len(node.args) == 2:
            gap_start, gap_end = node.args[0].end, node.args[1].start
            gap = text[gap_start:gap_end]
            op = ".*" if node.kind == "had" else "*"
            at = gap.find(op)
            if at >= 0:
                i = gap_start + at
                new = "*" if op == ".*" else ".*"
                edits.append((node.start, text[:i] + new + text[i + len(op):],
                              f"with {new} in place of {op} in {node.source}"))
        elif node.kind == "name" and node.value != "I":
            edits.append((node.start, text[:node.end] + "'" + text[node.end:],
                          f"with {node.value}' in place of {node.value}"))
        elif node.kind == "T" and text[node.end - 1:node.end] == "'":
            inner = text[node.args[0].start:node.args[0].end]
            edits.append((node.start, text[:node.end - 1] + text[node.end:],
                          f"without the transpose on {inner}"))
    edits.sort(key=lambda e: e[0])
    return [(t, what) for _, t, what in edits[:limit]]


def number_text(k: float) -> str:
    """2, 1/2, -3, 0.37: a factor as a person writes it."""
    f = Fraction(k).limit_denominator(64)
    if abs(float(f) - k) <= 1e-6 * max(1.0, abs(k)):
        return str(f.numerator) if f.denominator == 1 else f"{f.numerator}/{f.denominator}"
    return f"{k:.3g}"


def factor_words(k: float) -> str:
    """'twice', 'half', '3 times': how much too large or small the claim is."""
    a = abs(k)
    if abs(a - 2) < 1e-9:
        return "twice"
    if abs(a - 0.5) < 1e-9:
        return "half"
    return f"{number_text(a)} times"


class Unmeasurable(MatcalcError):
    """Instances were drawn where the expression is defined, but the derivative could not be measured on
    any: the verdict is undecided, with this reason (never 'not defined')."""


def place_movable(sampler: Sampler) -> list[str]:
    """The names a small random move may change without breaking an assumption (additively moved ones)."""
    return [n for n, how in _movable(sampler).items() if how == "add"]


# ================================================================ the instances of one check


class Checker(Scrutiny):
    """Everything one verify needs: the expression, matcalc's derivation, the claim, the instances."""

    def __init__(self, expression: str, wrt: str, claim_text: str, shapes, assume, layout: str, order: int = 1):
        """Derive (errors say "in the expression"), then type the claim (errors say "in the claim")."""
        self.expression = expression
        self.wrt = wrt
        self.claim_text = claim_text
        self._unmeasured: list = []          # instances drawn (defined there), measurable or not
        self.layout = layout
        self.order = order
        self.user_shapes = shapes
        self.assume = list(assume or ())
        self.derivation = None
        try:
            parse(expression)
        except ParseError as err:
            raise ParseError(f"in the expression: {err.message}", err.text, err.column) from None
        try:
            self.derivation = derive_expression(expression, wrt=wrt, shapes=shapes, assume=self.assume,
                                                layout=layout, order=order)
            self.typed, self.assumptions = self.derivation.typed, self.derivation.assumptions
        except ShapeError as err:
            raise ShapeError(f"in the expression: {err}") from None
        except UnsupportedError:
            # matcalc cannot derive it; the numbers alone can still judge the claim
            self.typed, self.assumptions = prepare(expression, shapes, self.assume)
            if wrt not in self.typed.names:
                raise
        self.root = self.typed.root
        self.x = self.typed.names[wrt]
        self.den_shape = self._den_shape()
        self.simplifier = Simplifier(tuple(self.assumptions.rules) + table_rules())
        self._plans: dict = {}
        self._samplers: dict = {}
        self.claim = self._type_claim(claim_text)
        self.dim_scalars = set(self.typed.dims) | {
            n.attr for n in E.walk(self.claim) if n.op == "sym" and n.attr not in self.typed.names}
        self.witness = Witness(self.root, wrt, self.typed.dims, order)
        self.parts = self._claim_parts(claim_text)

    # ------------------------------------------------------------ typing

    def _claim_parts(self, text: str) -> list[tuple[str, Node]]:
        """Every function call written in the claim, typed on its own: `0*log(x)` folds to 0 when typed,
        but a claim that writes log(x) is undefined wherever x < 0, and must not pass there."""
        parts = []
        tree = parse(text)
        definitions = [n for n in tree.args if n.kind == "define"] if tree.kind == "program" else []
        defined = {n.value for n in definitions}
        # a part that names what the claim defines (z6 = ...) is typed after those definitions
        prelude = " ".join(text[n.start:n.end] for n in definitions)
        stack = [tree]
        while stack:
            node = stack.pop()
            stack.extend(node.args)
            if node.kind == "call" and node.value not in ("ones", "I") and len(parts) < 20:
                source = text[node.start:node.end]
                uses = defined and any(n.kind == "name" and n.value in defined for n in _syntax_walk(node))
                try:
                    _, (typed,) = elaborate_many(self.expression, specs(self.typed.names),
                                                 (f"{prelude} {source}" if uses else source,))
                except MatcalcError:
                    continue
                known = expression_dims(self.typed) | set(self.typed.dims)
                if any(d not in known for n in E.walk(typed) for d in E.dimension_names(n.shape)):
                    continue        # typed on its own it has a size of its own (an unsized I): no value
                if not any(typed is n for n in E.walk(self.claim)):
                    parts.append((source, typed))
        return parts

    def undefined_part(self, cases) -> str | None:
        """A function call of the claim that is not finite on an instance where the derivative is."""
        for source, node in self.parts:
            for value in self.values(node, cases):
                if not finite(value):
                    return source
        return None

    def _den_shape(self) -> tuple:
        """The denominator-layout shape of the derivative: the variable's for a scalar function."""
        if self.derivation is not None:
            return self.derivation.denominator.shape
        f, x = self.root, self.x
        if f.is_scalar:
            return x.shape
        if f.shape[1] != 1 or not (x.is_scalar or x.is_vector):
            raise UnsupportedError(f"matcalc checks derivatives of scalars (any variable) and of vectors "
                                   f"(with respect to a vector or scalar); this is {kind_of(f, x)}")
        return (1, f.shape[0]) if x.is_scalar else (x.shape[0], f.shape[0])

    def _type_claim(self, text: str) -> Node:
        """Type the claim over the expression's resolved shapes, sized by the derivative's shape in the
        requested layout (else the other layout's, else none); every error says it is in the claim."""
        try:
            names = syntax_names(text)
        except ParseError as err:
            raise ParseError(f"in the claim: {err.message}", err.text, err.column) from None
        dims = expression_dims(self.typed)
        unknown = sorted(names - set(self.typed.names) - set(self.typed.definitions) - dims - self.user_dims())
        if unknown:
            known = ", ".join(sorted(self.typed.names)) or "none"
            hint = (" (a dimension such as m must be declared in a shape, e.g. --shape X=m,d)"
                    if any(len(n) == 1 and n.islower() for n in unknown) else "")
            raise MatcalcError(f"in the claim: {', '.join(repr(n) for n in unknown)} "
                               f"{'does' if len(unknown) == 1 else 'do'} not appear in the expression "
                               f"{self.expression!r} (its names: {known}){hint}")
        first_error = None
        for target in (self._wanted_shape(), self._wanted_shape(OTHER_LAYOUT[self.layout]), None):
            try:
                _, (claim,) = elaborate_many(self.expression, specs(self.typed.names), (text,),
                                             targets=None if target is None else (target,))
                break
            except ParseError as err:
                raise ParseError(f"in the claim: {err.message}", err.text, err.column) from None
            except ShapeError as err:
                first_error = first_error or err
            except MatcalcError as err:
                raise type(err)(f"in the claim: {err}") from None
        else:
            shapes = ", ".join(f"{n} {E.shape_text(node.shape)}" for n, node in sorted(self.typed.names.items())
                               if n not in self.typed.dims)
            raise ShapeError(f"in the claim: {first_error} (the shapes are the expression's: {shapes})"
                             + self._repair(text)) from None
        if E.is_zero(claim) and claim.is_scalar and self.den_shape != E.SCALAR:
            claim = E.zero(self._wanted_shape())   # a bare 0 stands for the zero matrix
        return claim

    def _repair(self, text: str) -> str:
        """For a claim that does not type: one edit (`*` for `.*`, a transpose added or removed) that
        makes it right, offered as a hint — the usual reasons a hand-derived gradient does not type."""
        self._plans = {}
        self.dim_scalars = set(self.typed.dims)
        self.witness = Witness(self.root, self.wrt, self.typed.dims, self.order)
        for edited, what in text_edits(text):
            try:
                _, (node,) = elaborate_many(self.expression, specs(self.typed.names), (edited,),
                                            targets=(self._wanted_shape(),))
            except MatcalcError:
                continue
            self.claim = node
            self.dim_scalars = set(self.typed.dims) | {
                n.attr for n in E.walk(node) if n.op == "sym" and n.attr not in self.typed.names}
            try:
                if self.matches(node, self.layout, self.cases(count=2)):
                    return f"\nhint: {what}, your claim is right: {edited}"
            except MatcalcError:
                continue
        return ""

    def _wanted_shape(self, layout: str | None = None) -> tuple:
        """The derivative's shape in a layout (the requested one by default)."""
        layout = layout or self.layout
        return self.den_shape if layout == "denominator" else transposed(self.den_shape)

    def claim_layout(self, node: Node | None = None) -> str | None:
        """The layout the claim's shape is in: the requested one if it fits, else the other, else None."""
        shape = (node or self.claim).shape
        if shape == self._wanted_shape():
            return self.layout
        if shape == self._wanted_shape(OTHER_LAYOUT[self.layout]):
            return OTHER_LAYOUT[self.layout]
        return None

    # ------------------------------------------------------------ instances

    def sampler(self, assumptions=None) -> Sampler:
        a = assumptions if assumptions is not None else self.assumptions
        found = self._samplers.get(id(a))
        if found is None:
            found = self._samplers[id(a)] = (a, Sampler([self.root], self.typed.names, a, self.typed.dims,
                                                        self._equations(a), watch=[self.claim]))
        return found[1]

    def _equations(self, a) -> list:
        """The stated equations typed over the expression's names, for the sampler to honour."""
        if not a.equations:
            return []
        try:
            _, nodes = elaborate_many(self.expression, specs(self.typed.names), a.expressions())
        except MatcalcError:
            return []
        return [(f"{lhs} = {rhs}", nodes[2 * i], nodes[2 * i + 1]) for i, (lhs, rhs) in enumerate(a.equations)]

    def draw_case(self, sampler: Sampler, rng, start: int, scale: float = 1.0, near_one=None) -> Case | None:
        sizes = dimension_sizes([self.root, self.claim, *self.typed.names.values()], start=start)
        inst = sampler.draw(rng, sizes, scale, near_one=near_one)
        if inst is None:
            return None
        self._unmeasured.append(inst)
        return self.case_at(inst)

    def case_at(self, inst: Instance) -> Case | None:
        """The truth at an instance, as a Case (None where it cannot be measured)."""
        ref = self.witness.reference(inst.arrays)
        if ref is None:
            return None
        return Case(inst.arrays, inst.dims, ref, inst)

    def cases(self, assumptions=None, count: int = INSTANCES, seed: int = SEED) -> list[Case]:
        """Random instances (dimension sizes shifted each time) with the true derivative at each. Where
        the truth is not finite (overflow, outside the domain) the instance is redrawn, smaller."""
        sampler = self.sampler(assumptions)
        out: list[Case] = []
        attempt, scale = 0, 1.0
        self._unmeasured = []
        while len(out) < count and attempt < count + 8:
            rng = np.random.default_rng(seed + 7919 * attempt)
            attempt += 1
            case = self.draw_case(sampler, rng, start=attempt - 1, scale=scale)
            if case is None:
                scale *= 0.5
                continue
            out.append(case)
        if len(out) < count and self._unmeasured:
            # defined, but not measurable: a saturated tanh or sigmoid (tanh(norm2(x + 2)^2)) is moved
            # to where it is informative (kinks.place_informative)
            drawn = [inst for inst in self._unmeasured if not any(c.inst is inst for c in out)]
            for inst in place_informative(sampler, drawn, saturating_arguments([self.root]), count=count - len(out)):
                case = self.case_at(inst)
                if case is not None:
                    out.append(case)
            if not out:
                raise Unmeasurable(
                    "the expression is defined on the random instances drawn, but its derivative could not "
                    "be measured on any of them (autograd and finite differences disagree: it is below what "
                    "float64 resolves, e.g. a saturated tanh or sigmoid)")
            if len(out) < count:
                out += self._informative_more(sampler, out[0].inst, count - len(out))
        if not out:
            if sampler.ties:
                from ..language.printing import to_text

                raise MatcalcError(f"could not find random values at which the expression is defined and "
                                   f"differentiable (a draw must keep the two largest entries of "
                                   f"{to_text(sampler.ties[0])} apart, and the two smallest: max and min have no "
                                   f"derivative at a tie); state its domain with an assumption such as 'x > 0'")
            raise MatcalcError("could not find random values at which the expression is defined; "
                               "state its domain with an assumption such as 'x > 0'")
        return out

    def _informative_more(self, sampler: Sampler, base: Instance, count: int) -> list[Case]:
        """More instances near one where a saturating function is informative: small moves of it."""
        out = []
        for k in range(3 * count):
            if len(out) >= count:
                break
            rng = np.random.default_rng(SEED + 313 * k)
            arrays = dict(base.arrays)
            for name in place_movable(sampler):
                v = np.asarray(arrays[name], dtype=float)
                moved = v + 0.05 * rng.standard_normal(v.shape)
                arrays[name] = float(moved) if moved.ndim == 0 else moved
            case = self.case_at(Instance(arrays, dict(base.dims), base.scale))
            if case is not None:
                out.append(case)
        return out

    def informative(self, cases: list[Case]) -> list[Case]:
        """Instances that can tell claims apart: a derivative that is exactly zero everywhere on an
        instance (x.^1000000 underflowing) passes `0` and much else, unless the derivative is zero."""
        if self.derivation is not None and E.is_zero(self.derivation.denominator):
            return cases
        return [c for c in cases if not c.ref.zero]

    def more_informative(self, count: int = INSTANCES) -> list[Case]:
        """Instances with a nonzero derivative, searched at other scales and near ±1."""
        sampler = self.sampler()
        found: list[Case] = []
        trials = [(s, None) for s in SCALES if s != 1.0] + [(1.0, d) for d in NEAR_ONE]
        for k, (scale, near) in enumerate(trials):
            rng = np.random.default_rng(SEED + 31 * k + 5)
            case = self.draw_case(sampler, rng, start=k, scale=scale, near_one=near)
            if case is not None and not case.ref.zero:
                found.append(case)
                if len(found) >= count:
                    break
        if len(found) < count and sampler.watched:
            # a derivative that is nonzero only between two kinks (relu(x) - relu(x - 0.001)): look there
            drawn = [c.inst for c in self.cases(count=2)] if not self._unmeasured else self._unmeasured[:3]
            for inst, _ in place(sampler, drawn, SEED + 11):
                case = self.case_at(inst)
                if case is not None and not case.ref.zero:
                    found.append(case)
                    if len(found) >= count:
                        break
        return found

    def far_informative(self, count: int = INSTANCES) -> list[Case]:
        """Instances with a nonzero derivative at the far spreads (1e-6× … 1e8×), for a derivative that is
        zero wherever the usual spreads and ±1 put the names (exp(-1e6*x.^2) away from 0)."""
        sampler = self.sampler()
        found: list[Case] = []
        for k, scale in enumerate(FAR_SCALES):
            case = self.draw_case(sampler, np.random.default_rng(SEED + 37 * k + 3), start=k, scale=scale)
            if case is not None and not case.ref.zero:
                found.append(case)
                if len(found) >= count:
                    break
        return found

    # ------------------------------------------------------------ values and errors

    def plan(self, node: Node):
        plan = self._plans.get(node)
        if plan is None:
            plan = self._plans[node] = compile_nodes({"v": node}, self.dim_scalars)
        return plan

    def values(self, node: Node, cases) -> list:
        """The node's value on each instance (NaN where it cannot be evaluated)."""
        plan = self.plan(node)
        out = []
        with np.errstate(all="ignore"):
            for c in cases:
                arrays = c.arrays if isinstance(c, (Case, Instance)) else c
                try:
                    out.append(plan(**arrays)["v"])
                except BudgetExceeded:
                    raise                  # a limit the user set: said, never read as 'undefined here'
                except Exception:  # noqa: BLE001 — a value that cannot be computed never "matches"
                    out.append(np.nan)
        return out

    def den_values(self, node: Node, cases, layout: str) -> list:
        """Values of a claim-like node laid out in `layout`, turned to denominator layout."""
        return [to_den(v, layout == "numerator") for v in self.values(node, cases)]

    def errors(self, values: list, cases: list[Case]) -> list[float]:
        """Each value's error against its instance's truth, in units of that instance's tolerance
        (so < 1 means equal, whichever witness measured the truth)."""
        return [c.ref.error(v) / c.ref.tol for v, c in zip(values, cases)]

    def measured(self, node: Node, layout: str, cases: list[Case]) -> list[float]:
        """Errors (in tolerance units) of a node laid out in `layout`; borderline finite-difference
        errors are re-measured with other steps h."""
        values = self.den_values(node, cases, layout)
        errs = self.errors(values, cases)
        for i, (c, e) in enumerate(zip(cases, errs)):
            if c.ref.tol >= LOOSE and 1 <= e < BORDERLINE / c.ref.tol:
                errs[i] = self.witness.refined_error(values[i], c.arrays, e * c.ref.tol) / c.ref.tol
        return errs

    def matches(self, node: Node, layout: str, cases: list[Case]) -> bool:
        """Whether a claim-like node equals the derivative on every instance."""
        return bool(cases) and max(self.measured(node, layout, cases)) < 1

    # ------------------------------------------------------------ scrutiny

    # ------------------------------------------------------------ printing

    def in_layout(self, den: Node, layout: str | None = None) -> Node:
        """A denominator-layout node shown in a layout (transposed and simplified for numerator)."""
        layout = layout or self.layout
        return den if layout == "denominator" else self.simplifier(E.transpose(den))

    def expected_text(self, layout: str | None = None) -> str | None:
        """matcalc's own answer, printed in a layout (None when the engine could not derive it)."""
        if self.derivation is None:
            return None
        layout = layout or self.layout
        if layout == self.layout:
            return str(self.derivation)
        return to_text(self.in_layout(self.derivation.denominator, layout))

    def describe_shape(self, layout: str) -> str:
        return shape_phrase(self._wanted_shape(layout))

    def dim_phrase(self, d: str) -> str:
        """What a dimension letter means to the user: `m, the number of rows of X` (a name whose shape
        the user declared first, then the variable)."""
        declared = set(self.user_shapes or {})
        order = sorted(self.typed.names.items(), key=lambda kv: (kv[0] not in declared, kv[0] != self.wrt, kv[0]))
        for name, node in order:
            r, c = node.shape
            if r == d and c == 1:
                return f"{d}, the length of {name}"
            if r == d:
                return f"{d}, the number of rows of {name}"
            if c == d:
                return f"{d}, the number of columns of {name}"
        return d

    def user_dims(self) -> set[str]:
        """Dimension names the user declared (m in X=m,d)."""
        out = set()
        for value in (self.user_shapes or {}).values():
            parts = value.split(",") if isinstance(value, str) else list(value)
            out |= {p.strip() for p in parts if isinstance(p, str) and p.strip()}
        return out

    def symbolic_match(self, layout: str) -> bool | None:
        """Whether the claim and matcalc's answer have the same normal form (None: no answer to compare)."""
        if self.derivation is None:
            return None
        claim_den = self.claim if layout == "denominator" else E.transpose(self.claim)
        try:
            if canonical(self.simplifier(claim_den)) is canonical(self.simplifier(self.derivation.denominator)):
                return True
            # in the claim's own layout too: matcalc's printed numerator-layout answer, pasted back, is its
            # result as printed, whose transpose may simplify to another normal form than the denominator's
            return layout == self.derivation.layout and \
                canonical(self.simplifier(self.claim)) is canonical(self.simplifier(self.derivation.result))
        except (MatcalcError, RecursionError):
            return False


__all__ = ["Checker", "Case", "specs", "spec", "shape_phrase", "transposed", "finite", "to_den", "number_text",
           "factor_words", "small_shapes", "Unmeasurable", "expression_dims", "renamed_sizes", "rename_sizes", "INSTANCES", "SEED", "OTHER_LAYOUT"]
