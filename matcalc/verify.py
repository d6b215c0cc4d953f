"""Checking a derivative someone worked out by hand: right, or wrong and why.

The numbers decide. A claim is right when, on several random instances (each dimension a different
size, values drawn to respect the assumptions and the functions' domains), its value agrees with
central finite differences of the ORIGINAL expression — not with matcalc's own derivation, so a bug
in the engine cannot make a wrong claim pass. The engine's result is compared with the same finite
differences, and a disagreement is reported, never hidden. The symbolic normal form (engine result
against claim) is recorded as a second opinion only: the simplifier is not complete.

When the claim is wrong, the diagnosis tries the usual mistakes in turn, each a relation between the
claim's values and the true derivative's: the other layout (a transpose), a sign, a constant or
dimension factor (2, 1/2, m, 1/m), a missing or an extra term, `*` written for `.*` or the reverse,
a transpose inside, and finally an assumption the user did not state (symmetric A, sum(y) = 1),
found by re-testing the claim on instances where a candidate assumption holds.

`verify_steps` applies the same ideas to a whole derivation, one expression a line, each claimed equal
to the line before.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from . import expr as E
from . import numeric
from .codegen import compile_nodes
from .derive import check_layout, kind_of, prepare, read_input
from .derive import derive as derive_expression
from .errors import MatcalcError, ParseError, ShapeError, UnsupportedError
from .expr import Node
from .parse import parse
from .printing import to_text
from .shapes import elaborate_many
from .simplify import Simplifier, table_rules

TOLERANCE = 1e-6          # relative error below which two values are "equal"
INSTANCES = 3             # random instances, each with different dimension sizes
SEED = 20240611
BORDERLINE = 1e-3         # errors between TOLERANCE and this are re-measured with other steps h

CORRECT = "correct"
ASSUMPTION = "correct only under an assumption"
WRONG = "wrong"
SHAPE = "shape mismatch"
STATUSES = (CORRECT, ASSUMPTION, WRONG, SHAPE)
KINDS = ("transpose", "sign", "factor", "missing term", "extra term", "missing factor", "hadamard", "assumption",
         "shape")

OTHER_LAYOUT = {"denominator": "numerator", "numerator": "denominator"}
ENGINE_NOTE = ("matcalc's own derivation disagrees with finite differences (largest relative error "
               "{err:.2g}); matcalc's printed answer is not trustworthy here — please report it")


# ================================================================ the verdict


@dataclass
class Verdict:
    """The answer to "is my derivative right?": a status, a sentence saying why, and the evidence."""

    ok: bool
    status: str
    diagnosis: str
    expected: str | None
    max_relative_error: float
    counterexample: dict | None
    kind: str | None
    instances: int
    expression: str = ""
    wrt: str = ""
    claim: str = ""
    layout: str = "denominator"
    assumptions: list[str] = field(default_factory=list)
    rescue: str | None = None          # the assumption under which the claim would be right
    symbolic_match: bool | None = None  # engine normal form == claim normal form (None: not tried)
    engine_agrees: bool | None = None   # matcalc's own result agrees with finite differences
    notes: list[str] = field(default_factory=list)
    claim_shape: str = ""
    expected_shape: str = ""
    sizes: list[dict] = field(default_factory=list)   # the dimension sizes of each instance

    def __bool__(self) -> bool:
        return self.ok

    def as_dict(self) -> dict:
        """JSON-ready: arrays become lists, an infinite error becomes null."""
        err = self.max_relative_error
        return {
            "ok": self.ok,
            "status": self.status,
            "kind": self.kind,
            "diagnosis": self.diagnosis,
            "expression": self.expression,
            "wrt": self.wrt,
            "claim": self.claim,
            "layout": self.layout,
            "assumptions": list(self.assumptions),
            "expected": self.expected,
            "expected_shape": self.expected_shape,
            "claim_shape": self.claim_shape,
            "rescue": self.rescue,
            "instances": self.instances,
            "sizes": self.sizes,
            "max_relative_error": err if math.isfinite(err) else None,
            "symbolic_match": self.symbolic_match,
            "engine_agrees": self.engine_agrees,
            "notes": list(self.notes),
            "counterexample": None if self.counterexample is None else
            {k: np.asarray(v).tolist() for k, v in self.counterexample.items()},
        }

    def __str__(self) -> str:
        return render_verdict(self)

    def _repr_markdown_(self) -> str:
        mark = "✅" if self.ok else "❌"
        rows = [f"**{mark} {self.status}**" + (f" ({self.kind})" if self.kind else ""), "",
                f"{self.diagnosis}", "",
                "| | |", "|---|---|",
                f"| expression | `{self.expression}` |",
                f"| with respect to | `{self.wrt}` ({self.layout} layout) |",
                f"| your answer | `{self.claim}` |",
                f"| matcalc's answer | `{self.expected}` |" if self.expected else "| matcalc's answer | — |",
                f"| evidence | {_evidence_text(self)} |"]
        if self.assumptions:
            rows.append(f"| assuming | {'; '.join(self.assumptions)} |")
        for note in self.notes:
            rows.append(f"| note | {note} |")
        return "\n".join(rows)


def _evidence_text(v: Verdict) -> str:
    """One line on what was measured, so a reader can judge the verdict."""
    if not v.instances:
        return "decided by the shapes alone"
    err = v.max_relative_error
    shown = f"{err:.2g}" if math.isfinite(err) else "∞ (not a number or a shape clash)"
    sizes = "; ".join(", ".join(f"{k}={n}" for k, n in s.items()) for s in v.sizes if s)
    text = (f"{v.instances} random instances" + (f" (sizes {sizes})" if sizes else "")
            + f" against finite differences of the expression: largest relative error {shown}"
            + f" (equal means < {TOLERANCE:g})")
    if v.symbolic_match is not None:
        text += "; symbolic normal forms " + ("agree" if v.symbolic_match else "differ")
    return text


def render_verdict(v: Verdict) -> str:
    """The text the CLI prints: verdict, diagnosis, matcalc's answer, evidence."""
    head = "CORRECT" if v.ok else v.status.upper()
    if v.kind and not v.ok:
        head += f" ({v.kind})"
    lines = [f"verdict:   {head}",
             f"           ∂/∂{v.wrt} of {v.expression}   ({v.layout} layout)",
             f"your answer:      {v.claim}",
             f"matcalc's answer: {v.expected if v.expected is not None else '(matcalc could not derive it)'}"]
    if v.assumptions:
        lines.append(f"assuming:  {'; '.join(v.assumptions)}")
    lines.append(f"why:       {v.diagnosis}")
    lines.append(f"evidence:  {_evidence_text(v)}")
    for note in v.notes:
        lines.append(f"note:      {note}")
    return "\n".join(lines)


# ================================================================ small helpers


def _spec(shape) -> tuple:
    """A resolved (rows, cols) shape as the spec elaborate_many takes: () scalar, (n,) vector."""
    r, c = shape
    if r == 1 and c == 1:
        return ()
    return (r,) if c == 1 else (r, c)


def _specs(names: dict[str, Node]) -> dict[str, tuple]:
    """Every name's resolved shape, to type a claim over exactly the expression's shapes."""
    return {n: _spec(node.shape) for n, node in names.items()}


def _shape_phrase(shape) -> str:
    """`a p×q matrix`, `a p-vector`, `a 1×p row vector`, `a scalar`: shapes in words."""
    r, c = shape
    if r == 1 and c == 1:
        return "a scalar"
    if c == 1:
        return f"a {r}×1 column vector"
    if r == 1:
        return f"a 1×{c} row vector"
    return f"a {r}×{c} matrix"


def _transposed(shape) -> tuple:
    return (shape[1], shape[0])


def _finite(a) -> bool:
    return bool(np.all(np.isfinite(np.asarray(a, dtype=float))))


def _error(a, b) -> float:
    """Relative error of a against the reference b; anything not finite counts as infinitely wrong."""
    try:
        a = np.asarray(a, dtype=float)
        b = np.asarray(b, dtype=float)
    except (TypeError, ValueError):
        return math.inf
    if not (_finite(a) and _finite(b)):
        return math.inf
    return numeric.relative_error(a, b)


def _to_den(value, transpose: bool):
    """A value laid out as the claim is, turned to denominator layout (vectors are 1-D: unchanged)."""
    arr = np.asarray(value, dtype=float)
    return arr.T if transpose and arr.ndim == 2 else arr


def _syntax_names(text: str) -> set[str]:
    """The names a text mentions (dimension arguments of ones(n) and I(n) included), for a clear
    "your claim uses a name the expression does not have" error."""
    names: set[str] = set()
    stack = [parse(text)]
    while stack:
        node = stack.pop()
        if node.kind == "name" and node.value != "I":
            names.add(node.value)
        stack.extend(node.args)
    return names


def _text_edits(text: str, limit: int = 60):
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


def _number_text(k: float) -> str:
    """2, 1/2, -3, 0.37: a factor as a person writes it."""
    f = Fraction(k).limit_denominator(64)
    if abs(float(f) - k) <= 1e-6 * max(1.0, abs(k)):
        return str(f.numerator) if f.denominator == 1 else f"{f.numerator}/{f.denominator}"
    return f"{k:.3g}"


def _factor_words(k: float) -> str:
    """'twice', 'half', '3 times': how much too large or small the claim is."""
    a = abs(k)
    if abs(a - 2) < 1e-9:
        return "twice"
    if abs(a - 0.5) < 1e-9:
        return "half"
    return f"{_number_text(a)} times"


# ================================================================ random instances

POSITIVE_RANGE = ("softmax", "softmax_rows", "sigmoid", "exp")


def _positive_names(roots) -> set[str]:
    """Names that must be positive for the roots to be defined: under log or sqrt, but not behind a
    function whose values are positive anyway (log(softmax(W*x)) needs neither W nor x positive)."""
    from .rules import functions

    need: set[str] = set()
    for root in roots:
        for node in E.walk(root):
            if node.op != "fn" or functions()[node.attr].domain != "positive":
                continue
            stack = [node.args[0]]
            while stack:
                n = stack.pop()
                if n.op == "sym":
                    need.add(n.attr)
                elif not (n.op == "fn" and n.attr in POSITIVE_RANGE):
                    stack.extend(n.args)
    return need


def _loosened(inst: numeric.Instance, roots, assumptions, dim_scalars, rng) -> numeric.Instance | None:
    """numeric.sample draws every name below a log positive, even in log(softmax(W2*relu(W1*x))):
    then a ReLU never switches off and a claim missing its step(.) factor would pass. Redraw such
    names as standard normal (unless an assumption constrains them); None if nothing changes."""
    need: dict[str, set[str]] = {}
    for root in roots:
        for k, v in numeric._domains(root).items():
            need.setdefault(k, set()).update(v)
    constrained = (assumptions.positive | assumptions.sums_to_one | assumptions.positive_definite
                   | assumptions.symmetric | assumptions.plus_minus_one | assumptions.invertible)
    keep = _positive_names(roots) | constrained | set(dim_scalars)
    env = dict(inst.env)
    changed = False
    for name, kinds in need.items():
        if "positive" not in kinds or name in keep or name not in env:
            continue
        scale = 0.3 if kinds & {"unit", "conditioned"} else 1.0
        shape = np.shape(env[name])
        env[name] = rng.standard_normal(shape) * scale if shape else float(rng.standard_normal() * scale)
        changed = True
    return numeric.Instance(env, inst.dims) if changed else None


# ================================================================ the check of one claim


@dataclass
class _Case:
    """One random instance: the arrays, the dimension sizes, and the true derivative there."""

    arrays: dict
    dims: dict
    truth: object
    inst: numeric.Instance


class _Checker:
    """Everything one verify needs: the expression, matcalc's derivation, the claim, the instances.

    Values are compared in denominator layout: the claim's values are transposed when the claim is
    laid out the other way; the truth is the finite-difference derivative (denominator layout)."""

    def __init__(self, expression: str, wrt: str, claim_text: str, shapes, assume, layout: str, order: int = 1):
        """Derive (errors say "in the expression"), then type the claim (errors say "in the claim")."""
        self.expression = expression
        self.wrt = wrt
        self.claim_text = claim_text
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
        self.claim = self._type_claim(claim_text)
        self.dim_scalars = set(self.typed.dims) | {
            n.attr for n in E.walk(self.claim) if n.op == "sym" and n.attr not in self.typed.names}
        self.simplifier = Simplifier(tuple(self.assumptions.rules) + table_rules())
        self._plans: dict = {}

    # ------------------------------------------------------------ typing

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
        """Type the claim over the expression's resolved shapes; every error says it is in the claim."""
        try:
            names = _syntax_names(text)
        except ParseError as err:
            raise ParseError(f"in the claim: {err.message}", err.text, err.column) from None
        declared = self.user_dims() & {d for node in self.typed.names.values() for d in node.shape}
        unknown = sorted(names - set(self.typed.names) - declared)
        if unknown:
            known = ", ".join(sorted(self.typed.names)) or "none"
            hint = (" (a dimension such as m must be declared in a shape, e.g. --shape X=m,d)"
                    if any(len(n) == 1 and n.islower() for n in unknown) else "")
            raise MatcalcError(f"in the claim: {', '.join(repr(n) for n in unknown)} "
                               f"{'does' if len(unknown) == 1 else 'do'} not appear in the expression "
                               f"{self.expression!r} (its names: {known}){hint}")
        try:
            _, (claim,) = elaborate_many(self.expression, _specs(self.typed.names), (text,))
        except ParseError as err:
            raise ParseError(f"in the claim: {err.message}", err.text, err.column) from None
        except ShapeError as err:
            shapes = ", ".join(f"{n} {E.shape_text(node.shape)}" for n, node in sorted(self.typed.names.items())
                               if n not in self.typed.dims)
            raise ShapeError(f"in the claim: {err} (the shapes are the expression's: {shapes})"
                             + self._repair(text)) from None
        except MatcalcError as err:
            raise type(err)(f"in the claim: {err}") from None
        if E.is_zero(claim) and claim.is_scalar and self.den_shape != E.SCALAR:
            claim = E.zero(self._wanted_shape())   # a bare 0 stands for the zero matrix
        return claim

    def _repair(self, text: str) -> str:
        """For a claim that does not type: one edit (`*` for `.*`, a transpose added or removed) that
        makes it right, offered as a hint — the usual reasons a hand-derived gradient does not type."""
        self._plans = {}
        for edited, what in _text_edits(text):
            try:
                _, (node,) = elaborate_many(self.expression, _specs(self.typed.names), (edited,))
            except MatcalcError:
                continue
            if self.claim_layout(node) != self.layout:
                continue
            self.claim = node
            self.dim_scalars = set(self.typed.dims) | {
                n.attr for n in E.walk(node) if n.op == "sym" and n.attr not in self.typed.names}
            try:
                if self.matches(node, self.layout, self.cases(self.assumptions, count=2)):
                    return f"\nhint: {what}, your claim is right: {edited}"
            except MatcalcError:
                continue
        return ""

    def _wanted_shape(self, layout: str | None = None) -> tuple:
        """The derivative's shape in a layout (the requested one by default)."""
        layout = layout or self.layout
        return self.den_shape if layout == "denominator" else _transposed(self.den_shape)

    def claim_layout(self, node: Node | None = None) -> str | None:
        """The layout the claim's shape is in: the requested one if it fits, else the other, else None."""
        shape = (node or self.claim).shape
        if shape == self._wanted_shape():
            return self.layout
        if shape == self._wanted_shape(OTHER_LAYOUT[self.layout]):
            return OTHER_LAYOUT[self.layout]
        return None

    # ------------------------------------------------------------ instances and values

    def cases(self, assumptions, count: int = INSTANCES, seed: int = SEED) -> list[_Case]:
        """Random instances (dimension sizes shifted each time) with the true derivative at each."""
        out: list[_Case] = []
        attempt = 0
        while len(out) < count and attempt < count + 6:
            sizes = numeric.dimension_sizes([self.root, self.claim, *self.typed.names.values()],
                                            start=len(out))
            rng = np.random.default_rng(seed + 7919 * attempt)
            attempt += 1
            inst = numeric.sample(self.root, self.typed.names, assumptions, rng, sizes,
                                  dim_scalars=self.typed.dims)
            truth = None
            loose = _loosened(inst, [self.root], assumptions, self.typed.dims, rng)
            if loose is not None:
                truth = self._finite_difference(loose)
                inst = loose if truth is not None else inst
            if truth is None:
                truth = self._finite_difference(inst)
            if truth is None:
                continue    # the expression is not defined or not smooth there: draw again
            arrays = dict(inst.env)
            arrays.update({k: v for k, v in inst.dims.items() if k in self.dim_scalars or k not in arrays})
            out.append(_Case(arrays, dict(inst.dims), truth, inst))
        if not out:
            raise MatcalcError("could not find random values at which the expression is defined; "
                               "state its domain with an assumption such as 'x > 0'")
        return out

    def _finite_difference(self, inst, h: float = 1e-6):
        """The true derivative at the instance, or None where the expression is not defined."""
        with np.errstate(all="ignore"):
            try:
                if self.order == 2:
                    truth = numeric.hessian_finite_difference(self.root, self.wrt, inst, self.typed.dims,
                                                              h=max(h, 1e-5))
                else:
                    truth = numeric.finite_difference(self.root, self.wrt, inst, self.typed.dims, h=h)
            except (MatcalcError, ValueError, ZeroDivisionError, np.linalg.LinAlgError):
                return None
        return truth if _finite(truth) else None

    def values(self, node: Node, cases: list[_Case]) -> list:
        """The node's value on each instance (NaN where it cannot be evaluated)."""
        plan = self._plans.get(node)
        if plan is None:
            plan = self._plans[node] = compile_nodes({"v": node}, self.dim_scalars)
        out = []
        with np.errstate(all="ignore"):
            for c in cases:
                try:
                    out.append(plan(**c.arrays)["v"])
                except Exception:  # noqa: BLE001 — a value that cannot be computed never "matches"
                    out.append(np.nan)
        return out

    def den_values(self, node: Node, cases: list[_Case], layout: str) -> list:
        """Values of a claim-like node laid out in `layout`, turned to denominator layout."""
        return [_to_den(v, layout == "numerator") for v in self.values(node, cases)]

    def errors(self, values: list, cases: list[_Case]) -> list[float]:
        """Relative error of each value against the finite-difference truth of its instance."""
        return [_error(v, c.truth) for v, c in zip(values, cases)]

    def refine(self, node: Node, layout: str, cases: list[_Case], errs: list[float]) -> list[float]:
        """Borderline errors may be finite-difference noise: re-measure them with other steps h."""
        out = list(errs)
        for i, (c, e) in enumerate(zip(cases, errs)):
            if not (TOLERANCE <= e < BORDERLINE):
                continue
            value = self.den_values(node, [c], layout)[0]
            for h in (1e-5, 1e-4, 1e-7):
                truth = self._finite_difference(c.inst, h=h)
                if truth is not None:
                    out[i] = min(out[i], _error(value, truth))
        return out

    def measured(self, node: Node, layout: str, cases: list[_Case]) -> list[float]:
        """Relative error of a node (laid out in `layout`) against the truth on each instance."""
        errs = self.errors(self.den_values(node, cases, layout), cases)
        if max(errs) >= TOLERANCE:
            errs = self.refine(node, layout, cases, errs)
        return errs

    def matches(self, node: Node, layout: str, cases: list[_Case]) -> bool:
        """Whether a claim-like node equals the derivative on every instance."""
        return max(self.measured(node, layout, cases)) < TOLERANCE

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
        return _shape_phrase(self._wanted_shape(layout))

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
        """Dimension names the user declared (m in X=m,d): the only ones a claim may mention."""
        out = set()
        for spec in (self.user_shapes or {}).values():
            parts = spec.split(",") if isinstance(spec, str) else list(spec)
            out |= {p.strip() for p in parts if isinstance(p, str) and p.strip()}
        return out


def verify(expr: str, wrt: str, claim: str, shapes=None, assume=(), layout: str = "denominator",
           input: str = "auto", order: int = 1) -> Verdict:
    """Is `claim` the derivative of `expr` with respect to `wrt` (in `layout`)? The numbers decide.

    Raises a MatcalcError for bad input (a parse or shape error, in the expression or — saying so —
    in the claim); every judgement about the claim itself is a Verdict."""
    check_layout(layout)
    expression = read_input(expr, input)
    if not isinstance(claim, str):
        raise MatcalcError(f"the claim must be text, got {type(claim).__name__}")
    try:
        claim_text = read_input(claim, input)
    except MatcalcError as err:
        raise type(err)(f"in the claim: {err}") from None
    if order not in (1, 2):
        raise MatcalcError(f"order must be 1 or 2, got {order!r}")
    ck = _Checker(expression, wrt, claim_text, shapes, assume, layout, order)
    base = dict(expression=expression, wrt=wrt, claim=claim_text, layout=layout,
                assumptions=list(ck.assumptions.texts), expected=ck.expected_text(),
                expected_shape=E.shape_text(ck._wanted_shape()), claim_shape=E.shape_text(ck.claim.shape))
    claim_layout = ck.claim_layout()
    if claim_layout is None:
        return Verdict(ok=False, status=SHAPE, kind="shape", diagnosis=_shape_diagnosis(ck),
                       max_relative_error=math.inf, counterexample=None, instances=0, **base)
    cases = ck.cases(ck.assumptions)
    errs = ck.measured(ck.claim, claim_layout, cases)
    evidence = _evidence(ck, cases, errs, claim_layout)
    if max(errs) < TOLERANCE and claim_layout == ck.layout:
        return _correct(ck, base, evidence)
    return _wrong(ck, base, evidence, cases, errs, claim_layout)


def _unsampled(ck: _Checker) -> list[str]:
    """Assumptions the random instances cannot honour (identities other than sum(y) = 1)."""
    return [f"{lhs} = {rhs}" for lhs, rhs in ck.assumptions.equations
            if not (re.fullmatch(r"sum\(\s*\w+\s*\)", lhs.strip()) and rhs.strip() == "1")]


def _evidence(ck: _Checker, cases: list[_Case], errs: list[float], claim_layout: str) -> dict:
    """What was measured besides the claim: the engine against the same finite differences (a
    disagreement becomes a note, never a pass), and the symbolic normal forms (a second opinion)."""
    notes: list[str] = []
    unsampled = _unsampled(ck)
    for text in unsampled:
        notes.append(f"the random instances cannot be made to satisfy the assumption '{text}'; "
                     f"a claim that relies on it is judged without it")
    engine_agrees = symbolic = None
    if ck.derivation is not None:
        den = ck.derivation.denominator
        engine_errs = ck.measured(den, "denominator", cases)
        engine_agrees = max(engine_errs) < TOLERANCE
        if not engine_agrees:
            notes.append(ENGINE_NOTE.format(err=max(engine_errs)) if not unsampled else
                         "matcalc's own derivation uses that assumption, so it disagrees with finite "
                         "differences on these instances")
        claim_den = ck.claim if claim_layout == "denominator" else E.transpose(ck.claim)
        symbolic = ck.simplifier(claim_den) is ck.simplifier(den)
    else:
        notes.append("matcalc could not derive this expression itself; the verdict rests on finite "
                     "differences alone")
    if claim_layout != ck.layout and max(errs) < TOLERANCE:
        notes.append(f"transposed to {ck.layout} layout, its values agree with the derivative "
                     f"(largest relative error {max(errs):.2g})")
    # a claim in the other layout has the wrong shape as written: it cannot equal the derivative
    largest = max(errs) if claim_layout == ck.layout else math.inf
    return dict(max_relative_error=largest, instances=len(cases), symbolic_match=symbolic,
                engine_agrees=engine_agrees, notes=notes, sizes=[dict(c.dims) for c in cases])


def _correct(ck: _Checker, base: dict, evidence: dict) -> Verdict:
    """The verdict for a claim the numbers accept, saying whether it is also matcalc's expression."""
    diagnosis = (f"your answer agrees with finite differences of the expression on {evidence['instances']} "
                 f"random instances")
    if evidence["symbolic_match"]:
        diagnosis += ", and it is the same expression as matcalc's"
    elif ck.derivation is not None:
        diagnosis += f" (it is written differently from matcalc's {ck.expected_text()})"
    return Verdict(ok=True, status=CORRECT, kind=None, diagnosis=diagnosis + ".", counterexample=None,
                   **base, **evidence)


def _wrong(ck: _Checker, base: dict, evidence: dict, cases, errs, claim_layout: str) -> Verdict:
    """A claim that failed the numbers: diagnose it, and keep the instance where it was worst."""
    worst = cases[int(np.argmax(errs))]
    counterexample = {k: np.array(v, dtype=float) for k, v in worst.arrays.items()
                      if k in ck.typed.names or k in ck.dim_scalars}
    kind, status, diagnosis, rescue = _diagnose(ck, cases, claim_layout, max(errs) < TOLERANCE)
    if evidence["engine_agrees"] is False:
        diagnosis += (" (matcalc's own derivation disagrees with finite differences, so its answer quoted "
                      "here is not to be trusted; the verdict rests on finite differences.)")
    return Verdict(ok=False, status=status, kind=kind, diagnosis=diagnosis, counterexample=counterexample,
                   rescue=rescue, **base, **evidence)


# ================================================================ diagnosis


def _shape_diagnosis(ck: _Checker) -> str:
    """Name the derivative's shape in both layouts next to the claim's."""
    f, x = ck.root, ck.x
    what = kind_of(f, x).split("-by-")[0]
    den, num = ck.describe_shape("denominator"), ck.describe_shape("numerator")
    layouts = (f"{den} in denominator layout" + (f", {num} in numerator layout" if num != den else " (in either layout)"))
    return (f"your answer is {_shape_phrase(ck.claim.shape)}, which cannot be the derivative: the derivative "
            f"of the {what} {ck.expression} with respect to {ck.wrt} ({_shape_phrase(x.shape)}) is {layouts}.")


def _diagnose(ck: _Checker, cases: list[_Case], claim_layout: str, right_values: bool):
    """The first of the usual mistakes that explains the claim's values: (kind, status, text, rescue)."""
    other = OTHER_LAYOUT[ck.layout]
    expected = ck.expected_text()
    general = f" matcalc's answer is {expected}." if expected else ""
    if claim_layout != ck.layout:
        # the claim's shape is the other layout's
        if right_values:
            return ("transpose", WRONG, _layout_text(ck, claim_layout), None)
        found = _relations(ck, cases, claim_layout)
        layout_note = (f" Your answer is also laid out as the {claim_layout}-layout answer "
                       f"({_shape_phrase(ck.claim.shape)}); in {ck.layout} layout the derivative is "
                       f"{ck.describe_shape(ck.layout)}.")
        if found and found[1] == ASSUMPTION:
            # not right even then: the layout is wrong too
            return ("transpose", WRONG, _layout_text(ck, claim_layout).rstrip(".") + "; besides, " + found[2],
                    None)
        if found:
            kind, status, text, rescue = found
            return kind, status, text + layout_note, rescue
        return ("transpose", WRONG, "your answer is wrong in value as well as in layout:" + layout_note + general,
                None)
    square = ck.den_shape[0] == ck.den_shape[1] and ck.den_shape != E.SCALAR and not ck.x.is_scalar
    if square and ck.matches(ck.claim, other, cases):
        return ("transpose", WRONG, _layout_text(ck, other, square=True), None)
    found = _relations(ck, cases, claim_layout)
    if found:
        return found
    return (None, WRONG, "your answer does not agree with the derivative, and it is none of the usual "
            "mistakes (sign, transpose, factor, missing term, .* for *, an unstated assumption)." + general,
            None)


def _layout_text(ck: _Checker, claim_layout: str, square: bool = False) -> str:
    """'this is the numerator-layout answer; in denominator layout it is …'."""
    expected = ck.expected_text()
    if square:
        return (f"this is the {claim_layout}-layout answer, the transpose of the derivative; in {ck.layout} "
                f"layout it is {expected}.")
    return (f"this is the {claim_layout}-layout answer ({_shape_phrase(ck.claim.shape)}); in {ck.layout} "
            f"layout it is {expected} ({ck.describe_shape(ck.layout)}).")


def _relations(ck: _Checker, cases: list[_Case], layout: str):
    """Try each relation between the claim and the truth, cheapest and most specific first."""
    values = ck.den_values(ck.claim, cases, layout)
    truth = [c.truth for c in cases]
    for test in (_sign_or_factor, _terms, _hadamard, _inner_transpose, _assumption, _missing_factor,
                 _varying_factor):
        found = test(ck, cases, layout, values, truth)
        if found:
            return found
    return None


def _all_close(values, targets) -> bool:
    return all(_error(v, t) < TOLERANCE for v, t in zip(values, targets))


def _ratios(values, targets) -> list[float] | None:
    """k_i with values_i = k_i * targets_i on every instance (a scalar multiple), else None."""
    ks = []
    for v, t in zip(values, targets):
        v, t = np.asarray(v, dtype=float), np.asarray(t, dtype=float)
        if v.shape != t.shape or not (_finite(v) and _finite(t)):
            return None
        tt = float(np.sum(t * t))
        if tt < 1e-12:
            return None
        k = float(np.sum(v * t)) / tt
        if abs(k) < 1e-12 or _error(v / k, t) >= TOLERANCE:
            return None
        ks.append(k)
    return ks or None


def _same(ks: list[float]) -> bool:
    return all(abs(k - ks[0]) <= 1e-6 * abs(ks[0]) for k in ks)


def _factor(ks: list[float], dims: list[dict]):
    """What a list of per-instance ratios is: ('constant', k), ('dimension', d, power, rest), or
    ('varying', ks) — a dimension when the ratio follows one dimension's size across instances
    (`dims`: each instance's dimension sizes)."""
    if _same(ks):
        return ("constant", ks[0])
    for d in sorted({d for sizes in dims for d in sizes}):
        sizes = [float(each.get(d, math.nan)) for each in dims]
        for power in (1, -1):
            rest = [k / (n ** power) for k, n in zip(ks, sizes)]
            if _same(rest):
                return ("dimension", d, power, rest[0])
    return ("varying", ks)


def _factor_text(ck: _Checker, f) -> str:
    """A ratio in words: 'off by a factor of 2: it is twice', 'off by a factor of m: the batch mean's 1/m'."""
    if f[0] == "constant":
        k = f[1]
        sign = "has the wrong sign and " if k < 0 else ""
        return f"{sign}is off by a factor of {_number_text(abs(k))}: it is {_factor_words(k)} what it should be"
    if f[0] == "dimension":
        _, d, power, rest = f
        factor = d if power == 1 else f"1/{d}"
        if abs(rest - 1) > 1e-6:
            factor = f"{_number_text(rest)}*{factor}"
        why = ""
        if d in ck.typed.dims or d in ck.user_dims():
            why = (f": the batch mean's 1/{d} is missing" if power == 1
                   else f": the batch mean's 1/{d} is applied twice")
        meaning = ck.dim_phrase(d)
        return f"is off by a factor of {factor}{why}" + (f" ({meaning})" if meaning != d else "")
    shown = ", ".join(_number_text(k) for k in f[1])
    return (f"is off by a scalar factor that changes from instance to instance ({shown}): a scalar factor "
            f"is missing or extra")


def _ratio_words(f) -> str:
    """'2 times', 'm times', '1/m times': a factor from _factor, as a multiplier."""
    if f[0] == "constant":
        return f"{_number_text(f[1])} times"
    _, d, power, rest = f
    factor = d if power == 1 else f"1/{d}"
    return (f"{_number_text(rest)}*{factor}" if abs(rest - 1) > 1e-6 else factor) + " times"


def _sign_or_factor(ck, cases, layout, values, truth, varying: bool = False):
    """claim = k * derivative, k a constant (-1: a sign error) or a dimension such as m or 1/m.

    A factor that varies otherwise is weak evidence (any c*x is a multiple of a gradient along x),
    so it is tried last, by _varying_factor."""
    ks = _ratios(values, truth)
    if ks is None:
        return None
    expected = ck.expected_text()
    f = _factor(ks, [c.dims for c in cases])
    if (f[0] == "varying") != varying:
        return None
    if f[0] == "constant" and abs(f[1] + 1) < 1e-6:
        return ("sign", WRONG, f"the sign is wrong: your answer is the negative of the derivative, "
                f"which is {expected}.", None)
    return ("factor", WRONG, f"your answer {_factor_text(ck, f)}; the derivative is {expected}.", None)


def _varying_factor(ck, cases, layout, values, truth):
    """The weakest relation, tried last: a scalar factor that changes from instance to instance."""
    return _sign_or_factor(ck, cases, layout, values, truth, varying=True)


def _term_relation(values, target, own, other, cases=None):
    """How a sum differs from the target by one term: ('extra' | 'sign' | 'missing' | 'twice' |
    'factor', term[, factor]).

    own: (term, values) of the checked side's summands; other: the reference side's summands."""
    if len(own) >= 2:
        for term, tv in own:
            if _all_close([v - x for v, x in zip(values, tv)], target):
                return "extra", term
            if _all_close([v - 2 * x for v, x in zip(values, tv)], target):
                return "sign", term
        if cases is not None:
            for term, tv in own:
                # the term should be k times what it is: target - (values - term) = k * term
                ks = _ratios([t - v + x for t, v, x in zip(target, values, tv)], tv)
                if ks and not (_same(ks) and abs(ks[0] - 1) < 1e-6):
                    f = _factor([1 / k for k in ks], [c.dims for c in cases])
                    if f[0] != "varying":
                        return "factor", term, f
    if len(other) >= 2:
        for term, tv in other:
            if _all_close([v + x for v, x in zip(values, tv)], target):
                return "missing", term
            if _all_close([v - x for v, x in zip(values, tv)], target):
                return "twice", term
    return None


TERM_KINDS = {"extra": "extra term", "twice": "extra term", "sign": "sign", "missing": "missing term",
              "factor": "factor"}


def _term_candidates(s: Simplifier, node: Node) -> list[Node]:
    """The summands of a sum as written and as expanded (one term may be a product of sums)."""
    out = []
    for t in _summands(node) + _summands(s.expand(node)):
        if t not in out:
            out.append(t)
    return out


def _terms(ck, cases, layout, values, truth):
    """A term missing, one too many, with the wrong sign or factor, against the sums' terms."""
    if ck.derivation is None:
        return None
    expected = ck.expected_text()
    s = ck.simplifier
    den_claim = ck.claim if layout == "denominator" else s(E.transpose(ck.claim))
    own = [(t, ck.den_values(t, cases, "denominator")) for t in _term_candidates(s, den_claim)]
    other = [] if E.is_zero(ck.claim) else \
        [(t, ck.den_values(t, cases, "denominator")) for t in _term_candidates(s, ck.derivation.denominator)]
    if len(_summands(den_claim)) < 2:
        own = [(t, v) for t, v in own if t is not den_claim] if len(own) > 1 else own
    found = _term_relation(values, truth, own, other, cases)
    if found is None:
        return None
    how, term = found[0], found[1]
    shown = _show(ck, term)
    if how == "missing":
        return "missing term", WRONG, _missing_text(ck, term, expected), None
    text = {"extra": f"your answer has an extra term, {shown}, that the derivative does not have",
            "sign": f"the term {shown} has the wrong sign",
            "twice": f"your answer has the term {shown} twice",
            "factor": f"the term {shown} " + (_factor_text(ck, found[2]) if how == "factor" else "")}[how]
    return TERM_KINDS[how], WRONG, f"{text}; the derivative is {expected}.", None


def _missing_text(ck: _Checker, term: Node, expected: str) -> str:
    """'missing the A'*x term', with the reason when the term is a transpose (x'*A*x's second x)."""
    shown = _show(ck, term)
    text = f"your answer is missing the term {shown}; the derivative is {expected}."
    transposed = sorted({n.args[0].attr for n in E.walk(term) if n.op == "T" and n.args[0].op == "sym"
                         and n.args[0].shape[0] == n.args[0].shape[1] and n.args[0].attr != ck.wrt})
    if transposed:
        name = transposed[0]
        text = (f"your answer is missing the {name}' term ({shown}): {ck.wrt} appears more than once in the "
                f"expression and each occurrence contributes a term; the derivative is {expected}.")
    return text


def _summands(node: Node) -> list[Node]:
    return list(node.args) if node.op == "add" else [node]


def _show(ck: _Checker, den_term: Node) -> str:
    """A denominator-layout term printed in the user's layout."""
    return to_text(ck.in_layout(den_term))


def _occurrences(root: Node, limit: int = 400):
    """Every place in the claim read as a tree (a shared subexpression once per place it is written)."""
    stack = [((), root)]
    count = 0
    while stack and count < limit:
        path, node = stack.pop()
        count += 1
        yield path, node
        for i in range(len(node.args) - 1, -1, -1):
            stack.append((path + (i,), node.args[i]))


def _replace_at(root: Node, path: tuple, new: Node) -> Node:
    """The claim with the node at `path` replaced, rebuilt with the canonicalising constructors."""
    if not path:
        return new
    args = list(root.args)
    args[path[0]] = _replace_at(args[path[0]], path[1:], new)
    return E.rebuild(root, tuple(args))


def _variants(ck: _Checker, edits):
    """Apply each (path, replacement, …) edit to the claim; keep those that still type and differ."""
    for path, new, *shown in edits:
        try:
            changed = _replace_at(ck.claim, path, new)
        except (MatcalcError, ValueError, TypeError):
            continue
        if changed is ck.claim or changed.shape != ck.claim.shape:
            continue
        yield changed, shown


def _hadamard(ck, cases, layout, values, truth):
    """`*` where `.*` was needed, or the reverse: swap one product and see whether the claim is right."""
    for changed, (old, new, op_new) in _variants(ck, _product_swaps(ck.claim)):
        if ck.matches(changed, layout, cases):
            op_old = "*" if op_new == ".*" else ".*"
            what = "an elementwise (Hadamard) product" if op_new == ".*" else "a matrix product"
            return ("hadamard", WRONG, f"Hadamard versus matrix product: {old} should be {new} — the "
                    f"derivative needs {what} ({op_new}) there, not {op_old}; the derivative is "
                    f"{ck.expected_text() or to_text(changed)}.", None)
    return None


def _product_swaps(claim: Node):
    """Each product in the claim with `*` replaced by `.*` or the reverse, where the shapes allow it."""
    for path, node in _occurrences(claim):
        if node.op == "mul":
            scalars = [a for a in node.args if a.is_scalar]
            chain = [a for a in node.args if not a.is_scalar]
            for i in range(len(chain) - 1):
                a, b = chain[i], chain[i + 1]
                if a.shape == b.shape:
                    had = E.hadamard(a, b)
                    yield (path, E.mul(*scalars, *chain[:i], had, *chain[i + 2:]),
                           to_text(E.mul(a, b)), to_text(had), ".*")
        elif node.op == "had" and not node.is_scalar and node.shape[0] == node.shape[1]:
            args = node.args
            for i in range(len(args)):
                for j in range(i + 1, len(args)):
                    rest = [a for k, a in enumerate(args) if k not in (i, j)]
                    for a, b in ((args[i], args[j]), (args[j], args[i])):
                        if a.op == "epow" or b.op == "epow":
                            continue
                        product = E.mul(a, b)
                        yield (path, E.hadamard(product, *rest) if rest else product,
                               to_text(E.hadamard(a, b)), to_text(product), "*")
        elif node.op == "epow" and node.attr == 2 and node.shape[0] == node.shape[1] and not node.is_scalar:
            yield path, E.mul(node.args[0], node.args[0]), to_text(node), to_text(E.mul(node.args[0], node.args[0])), "*"


def _inner_transpose(ck, cases, layout, values, truth):
    """A transpose missing or extra on one square factor inside the claim (A for A')."""
    edits = []
    for path, node in _occurrences(ck.claim):
        if node.is_scalar or node.shape[0] != node.shape[1] or not path \
                or node.op in ("eye", "zero", "num", "bcast") or (node.op == "fn" and node.attr == "diag"):
            continue
        edits.append((path, E.transpose(node), to_text(node), to_text(E.transpose(node))))
    for changed, (old, new) in _variants(ck, edits):
        if ck.matches(changed, layout, cases):
            return ("transpose", WRONG, f"a transpose is wrong inside your answer: {old} should be {new}; "
                    f"the derivative is {ck.expected_text() or to_text(changed)}.", None)
    return None


def _missing_factor(ck, cases, layout, values, truth):
    """The derivative with one elementwise (or scalar) factor dropped — a chain-rule factor such as
    the ReLU's step(W1*x + b1) forgotten."""
    if ck.derivation is None:
        return None
    den = ck.derivation.denominator
    for path, node in _occurrences(den):
        if node.op == "had":
            drops = [(a, E.hadamard(*(b for j, b in enumerate(node.args) if j != i)))
                     for i, a in enumerate(node.args)]
        elif node.op == "mul":
            drops = [(a, E.mul(*(b for j, b in enumerate(node.args) if j != i)))
                     for i, a in enumerate(node.args) if a.is_scalar and a.op != "num"]
        else:
            continue
        for factor, rest in drops:
            try:
                changed = _replace_at(den, path, rest)
            except (MatcalcError, ValueError, TypeError):
                continue
            if changed.shape != den.shape:
                continue
            if _all_close(values, ck.den_values(changed, cases, "denominator")):
                how = "elementwise factor" if node.op == "had" else "factor"
                return ("missing factor", WRONG, f"your answer is missing the {how} {to_text(factor)} that the "
                        f"chain rule multiplies in; the derivative is {ck.expected_text()}.", None)
    return None


SIGN_SENSITIVE = ("abs", "sign", "step", "relu", "norm1")


def candidate_assumptions(names: dict[str, Node], exclude=(), given=(), roots=(), variable=None) -> list[str]:
    """Assumptions a person often uses without saying so, for the names of an expression: a vector
    sums to 1, a square matrix is symmetric, the rows of a matrix sum to 1 (one-hot), and — for a
    name under abs, sign, step, relu or norm1 — that it is positive. `variable` (the one
    differentiated) gets only the last: a constraint on it would change the derivative's meaning."""
    out = []
    for name, node in names.items():
        if name in exclude or name == variable or node.is_scalar:
            continue
        if node.is_vector:
            out.append(f"sum({name}) = 1")
        elif node.shape[0] == node.shape[1]:
            out.append(f"{name} symmetric")
        else:
            out.append(f"{name} one-hot")
    signed = {n.attr for root in roots for f in E.walk(root) if f.op == "fn" and f.attr in SIGN_SENSITIVE
              for n in E.walk(f.args[0]) if n.op == "sym"}
    out.extend(f"{name} > 0" for name in names if name in signed and name not in exclude)
    given_texts = {g.replace(" ", "") for g in given}
    return [c for c in out if c.replace(" ", "") not in given_texts]


def _assumption(ck, cases, layout, values, truth):
    """Right only under an assumption not stated: re-test the claim where a candidate holds."""
    for text in candidate_assumptions(ck.typed.names, exclude=set(ck.typed.dims), given=ck.assumptions.texts,
                                      roots=[ck.root], variable=ck.wrt):
        try:
            _, a = prepare(ck.expression, _specs(ck.typed.names), ck.assume + [text])
            sub = ck.cases(a, seed=SEED + 101)
        except MatcalcError:
            continue
        if ck.matches(ck.claim, layout, sub):
            return ("assumption", ASSUMPTION, _assumption_text(ck, text), text)
    return None


def _assumption_text(ck: _Checker, text: str) -> str:
    """'right only if A is symmetric ... in general (A + A')*x'; with what to add to assume it."""
    m = re.match(r"(\w+) symmetric", text)
    if m:
        cond = f"{m.group(1)} is symmetric ({m.group(1)}' = {m.group(1)})"
    elif text.endswith("> 0"):
        name = text.split()[0]
        cond = f"every entry of {name} is positive ({text})"
    elif text.endswith("one-hot"):
        name = text.split()[0]
        cond = f"every row of {name} sums to 1 ({name} one-hot or rows of probabilities)"
    else:
        name = text[4:text.index(")")]
        cond = f"sum({name}) = 1 ({name} a probability or one-hot vector)"
    expected = ck.expected_text()
    general = f"; in general the derivative is {expected}" if expected else ""
    missing = False
    if m and ck.derivation is not None:
        try:
            special = derive_expression(ck.expression, wrt=ck.wrt, shapes=_specs(ck.typed.names),
                                        assume=ck.assume + [text], layout=ck.layout)
        except MatcalcError:
            special = None
        fewer = special is not None and len(_summands(ck.simplifier.expand(special.denominator))) < \
            len(_summands(ck.simplifier.expand(ck.derivation.denominator)))
        missing = fewer and f"{m.group(1)}'" in expected
    if missing:
        return (f"missing the {m.group(1)}' term: your answer is right only if {cond}, which was not "
                f"assumed{general}. If it holds, say so: assume '{text}'.")
    return (f"your answer is right only if {cond}, which was not assumed{general}. "
            f"If it holds, say so: assume '{text}'.")


# ================================================================ whole derivations


@dataclass
class StepCheck:
    """One line of a derivation, judged against the line above (or, for the first, the expression)."""

    line: int
    text: str
    ok: bool
    status: str
    diagnosis: str
    kind: str | None = None
    rescue: str | None = None
    max_relative_error: float = 0.0
    previous: int | None = None

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        if not math.isfinite(d["max_relative_error"]):
            d["max_relative_error"] = None
        return d


@dataclass
class StepsVerdict:
    """A derivation judged line by line; `first_bad` is the file's line number of the first bad step."""

    ok: bool
    status: str
    diagnosis: str
    first_bad: int | None
    steps: list[StepCheck]
    assumptions: list[str] = field(default_factory=list)
    shapes: dict = field(default_factory=dict)
    instances: int = 0
    rescue: str | None = None

    def __bool__(self) -> bool:
        return self.ok

    def as_dict(self) -> dict:
        return {"ok": self.ok, "status": self.status, "diagnosis": self.diagnosis, "first_bad": self.first_bad,
                "rescue": self.rescue, "assumptions": self.assumptions, "shapes": self.shapes,
                "instances": self.instances, "steps": [s.as_dict() for s in self.steps]}

    def __str__(self) -> str:
        return render_steps(self)

    def _repr_markdown_(self) -> str:
        rows = [f"**{'✅' if self.ok else '❌'} {self.diagnosis}**", "", "| line | expression | verdict |",
                "|---|---|---|"]
        for s in self.steps:
            rows.append(f"| {s.line} | `{s.text}` | {'✓' if s.ok else '✗ ' + s.diagnosis} |")
        return "\n".join(rows)


def render_steps(v: StepsVerdict) -> str:
    """The text the CLI prints for a derivation: the verdict, then every line marked ok or BAD."""
    lines = [f"verdict:   {'CORRECT' if v.ok else 'WRONG'} — {v.diagnosis}"]
    if v.assumptions:
        lines.append(f"assuming:  {'; '.join(v.assumptions)}")
    for s in v.steps:
        mark = "ok " if s.ok else "BAD"
        lines.append(f"  {mark} line {s.line:>3}: {s.text}")
        if not s.ok:
            lines.append(f"               {s.diagnosis}")
    lines.append(f"evidence:  {v.instances} random instances per step; equal means a relative error < {TOLERANCE:g}")
    return "\n".join(lines)


@dataclass
class DerivationText:
    """A derivation file, read: its expression lines (with line numbers) and its header settings."""

    lines: list[tuple[int, str]]          # (line number, expression text after let-substitution)
    written: list[str]                    # the lines as written
    shapes: dict = field(default_factory=dict)
    assume: list[str] = field(default_factory=list)
    lets: list[tuple[str, str]] = field(default_factory=list)
    expression: str | None = None
    wrt: str | None = None
    layout: str | None = None


HEADER_KEYS = {"shape": "shape", "shapes": "shape", "assume": "assume", "assuming": "assume",
               "let": "let", "f": "expression", "expression": "expression", "loss": "expression",
               "wrt": "wrt", "layout": "layout"}
_HEADER = re.compile(r"^\s*([A-Za-z]+)\s*:\s*(.*)$")
_LET = re.compile(r"^\s*let\s+([A-Za-z_][A-Za-z0-9_]*)\s*(?:=|:=)\s*(.+)$")

DERIVATION_FORMAT = """\
A derivation file: one expression a line, each claimed equal to the line before.
  # a comment (also after an expression)
  shape: W=c,d x=d        declare shapes (several per line, separated by spaces or ';')
  assume: sum(y) = 1      an assumption (one per line)
  let s = softmax(z)      an abbreviation, substituted (in parentheses) into the lines below
  f: -y'*log(softmax(z))  optional: the expression differentiated ...
  wrt: z                  ... and the variable; the first line is then checked as its derivative
  layout: numerator       optional (default denominator)
A line may start with '=' as on paper."""


def read_derivation(text: str) -> DerivationText:
    """Parse the derivation format (see DERIVATION_FORMAT): headers, lets, expression lines."""
    out = DerivationText([], [])
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        m = _LET.match(line)
        if m:
            name, body = m.group(1), _apply_lets(m.group(2).strip(), out.lets)
            from .rules import spelled

            if spelled(name) or name in ("ones", "I"):
                raise MatcalcError(f"line {number}: cannot use the function name {name!r} as an abbreviation")
            out.lets.append((name, body))
            continue
        m = _HEADER.match(line)
        if m:
            key = HEADER_KEYS.get(m.group(1).lower())
            value = m.group(2).strip()
            if key is None:
                raise MatcalcError(f"line {number}: unknown header {m.group(1)!r}; known: "
                                   f"{', '.join(sorted(set(HEADER_KEYS)))}\n{DERIVATION_FORMAT}")
            if key == "shape":
                for spec in re.split(r"[;\s]+", value):
                    if not spec:
                        continue
                    if "=" not in spec:
                        raise MatcalcError(f"line {number}: a shape is NAME=d1,d2, got {spec!r}")
                    name, dims = spec.split("=", 1)
                    out.shapes[name.strip()] = dims.strip()
            elif key == "assume":
                out.assume.append(value)
            elif key == "let":
                mm = _LET.match("let " + value)
                if not mm:
                    raise MatcalcError(f"line {number}: write an abbreviation as 'let s = softmax(z)'")
                out.lets.append((mm.group(1), _apply_lets(mm.group(2).strip(), out.lets)))
            elif key == "expression":
                out.expression = value
            elif key == "wrt":
                out.wrt = value
            elif key == "layout":
                out.layout = value
            continue
        if line.startswith("="):
            line = line[1:].strip()
        out.written.append(line)
        out.lines.append((number, _apply_lets(line, out.lets)))
    if out.expression is not None:
        out.expression = _apply_lets(out.expression, out.lets)
    return out


def _apply_lets(text: str, lets: list[tuple[str, str]]) -> str:
    """Replace each abbreviation (a whole name, not a function call) by its definition in parentheses."""
    for name, body in reversed(lets):
        text = re.sub(rf"(?<![A-Za-z0-9_.]){re.escape(name)}(?![A-Za-z0-9_(])", f"({body})", text)
    return text


def verify_steps(derivation, shapes=None, assume=(), expression: str | None = None, wrt: str | None = None,
                 layout: str | None = None, input: str = "auto") -> StepsVerdict:
    """Check a derivation: each line equal to the line before; the first line, when `expression` and
    `wrt` are given, equal to the derivative. `derivation` is the file's text or a list of lines."""
    if isinstance(derivation, str):
        doc = read_derivation(derivation)
    else:
        doc = DerivationText([(i + 1, str(t)) for i, t in enumerate(derivation)], [str(t) for t in derivation])
    shapes = {**doc.shapes, **(shapes or {})}
    assume = list(doc.assume) + [a for a in (assume or ()) if a not in doc.assume]
    expression = expression or doc.expression
    wrt = wrt or doc.wrt
    layout = layout or doc.layout or "denominator"
    check_layout(layout)
    if (expression is None) != (wrt is None):
        raise MatcalcError("a derivation names both the expression ('f: ...') and the variable ('wrt: ...'), "
                           "or neither")
    if not doc.lines:
        raise MatcalcError("the derivation has no expression lines\n" + DERIVATION_FORMAT)
    if len(doc.lines) < 2 and expression is None:
        raise MatcalcError("a derivation needs at least two lines (or 'f:' and 'wrt:' headers)")
    numbers = [n for n, _ in doc.lines]
    texts = []
    for n, t in doc.lines:
        try:
            t = read_input(t, input)
            parse(t)
        except ParseError as err:
            raise ParseError(f"line {n}: {err.message}", err.text, err.column) from None
        except MatcalcError as err:
            raise type(err)(f"line {n}: {err}") from None
        texts.append(t)
    if expression is not None:
        expression = read_input(expression, input)
    written = doc.written or texts
    return _StepsChecker(texts, numbers, written, shapes, assume, expression, wrt, layout).run()


class _StepsChecker:
    """Types every line jointly, draws shared instances, and compares each line with the one above."""

    def __init__(self, texts, numbers, written, shapes, assume, expression, wrt, layout):
        self.texts, self.numbers, self.written = texts, numbers, written
        self.shapes, self.assume = shapes, list(assume)
        self.expression, self.wrt, self.layout = expression, wrt, layout

    def run(self) -> StepsVerdict:
        """Check the first line (against the derivative, when given), then each step; name the first bad."""
        steps: list[StepCheck] = []
        typed_count, shape_error = self._type()
        first = None
        if self.expression is not None:
            first = self._first_line()
            steps.append(first)
        cases = self._cases(self.assumptions) if typed_count > 1 else []
        self._cases_cache = cases
        values = [self._values(node, cases) for node in self.nodes]
        steps.extend(self._chain(typed_count, cases, values, first is None or first.ok))
        if shape_error is not None:
            i = typed_count
            steps.append(StepCheck(self.numbers[i], self.written[i], False, SHAPE,
                                   f"line {self.numbers[i]} cannot follow from the lines above: {shape_error}",
                                   kind="shape", max_relative_error=math.inf,
                                   previous=self.numbers[i - 1] if i else None))
        bad = next((s for s in steps if not s.ok), None)
        if bad is None:
            diagnosis = f"every step follows ({len(steps)} checked)"
            return StepsVerdict(True, CORRECT, diagnosis, None, steps, list(self.assumptions.texts),
                                dict(self.shapes), len(cases))
        diagnosis = bad.diagnosis
        return StepsVerdict(False, bad.status, diagnosis, bad.line, steps, list(self.assumptions.texts),
                            dict(self.shapes), len(cases), bad.rescue)

    def _chain(self, count: int, cases, values, first_ok: bool) -> list[StepCheck]:
        """Each line against the one above. After a slip, a line that follows from the last right line
        (or, with no right line yet, is the derivative itself) is right again: only the slip is named."""
        out = []
        last_good = 0 if first_ok else None
        for i in range(1, count):
            step = self._step(i, cases, values)
            if not step.ok and last_good is not None and last_good != i - 1 \
                    and self._equal(values[i], values[last_good], i, last_good):
                step = StepCheck(step.line, step.text, True, CORRECT,
                                 f"line {step.line} follows from line {self.numbers[last_good]} (the last "
                                 f"line that was right)", max_relative_error=0.0,
                                 previous=self.numbers[last_good])
            elif not step.ok and last_good is None and self.expression is not None:
                v = verify(self.expression, self.wrt, self.texts[i], shapes=_specs(self.typed.names),
                           assume=self.assume, layout=self.layout)
                if v.ok:
                    step = StepCheck(step.line, step.text, True, CORRECT,
                                     f"line {step.line} is the derivative of {self.expression} (the lines "
                                     f"above it were not)", max_relative_error=v.max_relative_error)
            if step.ok:
                last_good = i
            out.append(step)
        return out

    def _type(self):
        """Type all lines (and the expression) jointly; on a shape error, type as many as will go."""
        from .assumptions import bind, parse_assumptions

        a = parse_assumptions(self.assume)
        head = [self.expression] if self.expression is not None else []
        n = len(self.texts)
        error = None
        while n >= 1:
            try:
                typed, extra = elaborate_many((head + self.texts)[0], self.shapes,
                                              tuple((head + self.texts[:n])[1:]) + a.expressions())
                break
            except ShapeError as err:
                if n == 1 and not head:
                    raise ShapeError(f"line {self.numbers[0]}: {err}") from None
                if n == 1:
                    raise ShapeError(f"line {self.numbers[0]} and the expression: {err}") from None
                error = str(err)
                n -= 1
        nodes = ([typed.root] + extra[:n - 1 + len(head)])
        self.expr_node = nodes[0] if head else None
        self.nodes = nodes[len(head):len(head) + n]
        self.typed = typed
        self.assumptions = bind(a, typed.names, extra[n - 1 + len(head):])
        self.dim_scalars = set(typed.dims) | {x.attr for node in self.nodes for x in E.walk(node)
                                              if x.op == "sym" and x.attr not in typed.names}
        return n, error

    def _first_line(self) -> StepCheck:
        """The first line against the derivative of the expression, by `verify`."""
        v = verify(self.expression, self.wrt, self.texts[0], shapes=_specs(self.typed.names),
                   assume=self.assume, layout=self.layout)
        text = (f"line {self.numbers[0]} is the derivative of {self.expression} with respect to {self.wrt}"
                if v.ok else f"line {self.numbers[0]} is not the derivative of {self.expression} with respect "
                             f"to {self.wrt}: {v.diagnosis}")
        return StepCheck(self.numbers[0], self.written[0], v.ok, v.status, text, v.kind, v.rescue,
                         v.max_relative_error)

    def _cases(self, assumptions, seed: int = SEED) -> list[dict]:
        """Instances of every name, shared by all lines; the domains of all lines respected."""
        roots = self.nodes + ([self.expr_node] if self.expr_node is not None else [])
        out, dims = [], []
        for i in range(INSTANCES):
            sizes = numeric.dimension_sizes(roots + list(self.typed.names.values()), start=i)
            rng = np.random.default_rng(seed + i)
            inst = numeric.sample(roots[0], self.typed.names, assumptions, rng, sizes,
                                  dim_scalars=self.typed.dims, extra_roots=roots[1:])
            loose = _loosened(inst, roots, assumptions, self.typed.dims, rng)
            if loose is not None and all(_finite(v) for v in self._values_at(roots, loose)):
                inst = loose
            arrays = dict(inst.env)
            arrays.update({k: v for k, v in inst.dims.items() if k in self.dim_scalars or k not in arrays})
            out.append(arrays)
            dims.append(dict(inst.dims))
        self._dims = dims
        return out

    def _values_at(self, roots, inst) -> list:
        arrays = dict(inst.env)
        arrays.update({k: v for k, v in inst.dims.items() if k in self.dim_scalars or k not in arrays})
        return [v for node in roots for v in self._values(node, [arrays])]

    def _values(self, node: Node, cases: list[dict]) -> list:
        """A line's value on each shared instance (NaN where it cannot be computed)."""
        plan = compile_nodes({"v": node}, self.dim_scalars)
        out = []
        with np.errstate(all="ignore"):
            for arrays in cases:
                try:
                    out.append(np.asarray(plan(**arrays)["v"], dtype=float))
                except (MatcalcError, ValueError, FloatingPointError, ZeroDivisionError, np.linalg.LinAlgError):
                    out.append(np.nan)
        return out

    def _step(self, i: int, cases, values) -> StepCheck:
        """Line i against line i-1: equal, or why not (transpose, sign, factor, an assumption)."""
        prev, cur = self.nodes[i - 1], self.nodes[i]
        number, before = self.numbers[i], self.numbers[i - 1]
        here = f"line {number} ({self.written[i]}) does not follow from line {before} ({self.written[i - 1]})"
        if cur.shape != prev.shape:
            if cur.shape == _transposed(prev.shape):
                same = _all_close(values[i], values[i - 1])
                what = "it is the transpose of the line above" + (
                    "" if same else ", and differs in value as well")
                return StepCheck(number, self.written[i], False, WRONG, f"{here}: {what} "
                                 f"({E.shape_text(cur.shape)} against {E.shape_text(prev.shape)}).",
                                 "transpose", max_relative_error=math.inf, previous=before)
            return StepCheck(number, self.written[i], False, SHAPE, f"{here}: it is {_shape_phrase(cur.shape)}, "
                             f"the line above {_shape_phrase(prev.shape)}.", "shape",
                             max_relative_error=math.inf, previous=before)
        errs = [_error(a, b) for a, b in zip(values[i], values[i - 1])]
        err = max(errs) if errs else 0.0
        if err < TOLERANCE:
            return StepCheck(number, self.written[i], True, CORRECT, f"line {number} follows from line {before}",
                             max_relative_error=err, previous=before)
        kind, status, why, rescue = self._why(i, values)
        return StepCheck(number, self.written[i], False, status, f"{here}: {why}", kind, rescue, err, before)

    def _equal(self, a, b, i: int, j: int) -> bool:
        return self.nodes[i].shape == self.nodes[j].shape and _all_close(a, b)

    def _why(self, i: int, values):
        """The relation between two unequal lines, or the assumption that would make them equal."""
        cur, prev = values[i], values[i - 1]
        if all(np.ndim(c) == 2 for c in cur) and _all_close([np.transpose(c) for c in cur], prev):
            return "transpose", WRONG, "it is the transpose of the line above.", None
        if _all_close([-c for c in cur], prev):
            return "sign", WRONG, "it has the opposite sign of the line above.", None
        ks = _ratios(cur, prev)
        f = _factor(ks, self._dims) if ks else None
        if f is not None and f[0] != "varying":
            return "factor", WRONG, f"it is {_ratio_words(f)} the line above.", None
        terms = self._term_story(i, values)
        if terms:
            return terms
        rescue = self._rescue(i)
        if rescue:
            return ("assumption", ASSUMPTION, f"the two are equal only if {rescue}, which is not assumed "
                    f"(add 'assume: {rescue}').", rescue)
        return None, WRONG, "the two lines are not equal.", None

    def _term_story(self, i: int, values):
        """A term lost, added, or with its sign flipped between line i-1 and line i."""
        simplify = Simplifier(tuple(self.assumptions.rules) + table_rules())
        cases = self._cases_cache

        def summands(node):
            return [(to_text(t), self._values(t, cases)) for t in _term_candidates(simplify, node)]

        found = _term_relation(values[i], values[i - 1], summands(self.nodes[i]), summands(self.nodes[i - 1]))
        if found is None:
            return None
        how, term = found
        text = {"extra": f"it has a term, {term}, that the line above does not have",
                "sign": f"the term {term} has the wrong sign",
                "twice": f"it has the term {term} of the line above twice",
                "missing": f"the term {term} of the line above is lost"}[how]
        return TERM_KINDS[how], WRONG, text + ".", None

    def _rescue(self, i: int) -> str | None:
        """The first commonly unstated assumption under which lines i-1 and i are equal."""
        from .assumptions import bind, parse_assumptions

        pair = {n.attr for node in (self.nodes[i - 1], self.nodes[i]) for n in E.walk(node) if n.op == "sym"}
        names = {n: node for n, node in self.typed.names.items() if n in pair}
        for text in candidate_assumptions(names, exclude=set(self.typed.dims), given=self.assumptions.texts,
                                          roots=[self.nodes[i - 1], self.nodes[i]]):
            try:
                a = parse_assumptions(self.assume + [text])
                _, extra = elaborate_many(self.texts[0], _specs(self.typed.names), a.expressions())
                a = bind(a, self.typed.names, extra)
                cases = self._cases(a, seed=SEED + 101)
            except MatcalcError:
                continue
            before = self._values(self.nodes[i - 1], cases)
            after = self._values(self.nodes[i], cases)
            if _all_close(after, before):
                return text
        return None


def read_derivation_file(path) -> str:
    """The text of a derivation file; a missing or unreadable file is a clear MatcalcError."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise MatcalcError(f"cannot read the derivation file {str(path)!r}: {err}") from None


__all__ = ["verify", "verify_steps", "Verdict", "StepsVerdict", "StepCheck", "read_derivation",
           "read_derivation_file", "candidate_assumptions", "TOLERANCE", "STATUSES", "KINDS",
           "DERIVATION_FORMAT", "render_verdict", "render_steps"]
