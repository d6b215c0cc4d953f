"""The engine held to the checker's standard: no derivative is shown before the numbers agree with it.

Every derivative matcalc returns or prints — a gradient or Jacobian in either layout, a Hessian or a
Hessian-vector product, a vec/Kronecker Jacobian and its product with a direction, a differential, an
entry-by-entry index form, and the code compiled from any of them — is first compared with the
expression itself on small random instances drawn as the checker draws them (distinct dimension sizes,
every name as wide as the expression allows, the assumptions honoured, clear of every kink): along a
random direction V, the derivative applied to V must equal the central difference
(f(x + hV) - f(x - hV)) / 2h of the ORIGINAL expression (for a Hessian, the four-point second
difference). That is cheap — a few evaluations of the expression, no autodiff, no plan to compile
(interpret.py evaluates the DAG directly) — and it is the check the outside testers made by hand.

Where the cheap comparison is not close (a steep function, cancellation), the instance gets the checker's
own truth (truth.Witness: autograd, confirmed by finite differences at several steps) and the checker's
tolerance; a result that still disagrees is never shown: `InternalError` (matcalc.errors) names the
expression and the error, the CLI exits with code 4, and the test suite fails. Where no instance can
be drawn (the expression is undefined on every draw, an assumption the sampler cannot construct), the
evidence says so and why. Every result carries its evidence: `Checked`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..budget import BudgetExceeded
from ..errors import InternalError, MatcalcError
from ..language.expr import Node, walk
from ..language.printing import to_text_bounded
from . import interpret
from .instances import Instance, Sampler, dimension_sizes
from .numeric import SIZES
from .truth import LOOSE, Witness

CHEAP = 1e-5            # the directional comparison's tolerance, relative to |∇f|·|V| (else: the full truth)
STEP = 1e-5             # h, relative to the variable's largest entry (at least 1)
STEP2 = 1e-4            # h for the second differences of a Hessian
INSTANCES = 1           # instances a result is checked on (every dimension a different size) ...
DIRECTIONS = 2          # ... along this many random directions each
ATTEMPTS = 6            # draws tried for them (smaller each time a draw is not defined)
SEED = 1919
CODE_TOLERANCE = 1e-7   # compiled code against the formula it was made from (stable forms round otherwise)


@dataclass
class Checked:
    """What was checked before a result was shown: on how many instances, along how many directions, the
    largest relative error seen, against what; `reason` when it could not be checked at all."""

    what: str
    instances: int = 0
    directions: int = 0
    largest_error: float = 0.0
    witness: str = "central differences of the expression along random directions"
    sizes: list = field(default_factory=list)
    reason: str = ""
    escalated: int = 0          # instances where the full truth (autograd + finite differences) decided
    hostile: int = 0            # instances where one disagreement was not confirmed on any other instance

    @property
    def ok(self) -> bool:
        return self.instances > 0

    def __str__(self) -> str:
        if not self.ok:
            return f"{self.what} could not be checked numerically: {self.reason}"
        sizes = "; ".join(", ".join(f"{d}={n}" for d, n in s.items()) for s in self.sizes) or "scalars"
        extra = (f", {self.escalated} of them against autograd + finite differences" if self.escalated else "")
        return (f"{self.what} checked against {self.witness} on {self.instances} random "
                f"instance{'s' if self.instances != 1 else ''} ({sizes}){extra}: largest relative error "
                f"{self.largest_error:.1e}")

    def as_dict(self) -> dict:
        return {"what": self.what, "ok": self.ok, "instances": self.instances, "directions": self.directions,
                "largest_relative_error": self.largest_error if math.isfinite(self.largest_error) else None,
                "witness": self.witness, "sizes": self.sizes, "reason": self.reason, "escalated": self.escalated,
                "text": str(self)}


# ---------------------------------------------------------------- instances


class _Setting:
    """The expression, its names and assumptions, and the instances the guard draws for them."""

    def __init__(self, expression: str, typed, assumptions, wrt: str, extra_roots=()):
        self.expression, self.typed, self.assumptions, self.wrt = expression, typed, assumptions, wrt
        self.root = typed.root
        self.dims = set(typed.dims)
        equations = []
        if assumptions.equations:
            try:
                from ..language.shapes import elaborate_many

                _, nodes = elaborate_many(expression, _specs(typed.names), assumptions.expressions())
                equations = [(f"{lhs} = {rhs}", nodes[2 * i], nodes[2 * i + 1])
                             for i, (lhs, rhs) in enumerate(assumptions.equations)]
            except MatcalcError:
                equations = []
        roots = [self.root, *[r for r in extra_roots if _evaluable(r, typed.names, self.dims)]]
        # drawn where the expression is defined, clear of its kinks (a derivative's kinks are the
        # expression's: step(z) comes from relu(z)); sized for everything that is evaluated
        self.sampler = Sampler([self.root], typed.names, assumptions, self.dims, equations,
                               probe=interpret.compile_probe)
        self.size_roots = roots + list(typed.names.values())
        self.reason = ""
        self._programs: dict = {}
        self._sizes: dict = {}

    def instances(self, count: int = INSTANCES, start: int = 0):
        """Up to `count` instances (dimension sizes shifted each time), halving the spread after a draw that
        is not defined; each comes with its own random generator for directions."""
        scale, found = 1.0, 0
        for attempt in range(ATTEMPTS + count):
            if found >= count:
                return
            rng = np.random.default_rng(SEED + 7919 * attempt + 104729 * start)
            sizes = self._sizes.get(found + start)
            if sizes is None:
                sizes = self._sizes[found + start] = self._dimension_sizes(found + start)
            try:
                inst = self.sampler.draw(rng, sizes, scale)
            except BudgetExceeded:
                raise
            except MatcalcError as err:          # a size the budget refuses: no instance, said why
                self.reason = str(err)
                return
            if inst is None:
                scale *= 0.5
                self.reason = "no random values could be found at which the expression is defined"
                continue
            if self.sampler.unhonoured(inst):
                self.reason = (f"the random instances cannot be made to satisfy the assumption "
                               f"'{self.sampler.unhonoured(inst)[0]}'")
                continue
            found += 1
            yield inst, rng

    def _dimension_sizes(self, start: int) -> dict:
        """instances.dimension_sizes, the dimension names found once."""
        if not hasattr(self, "_dim_names"):
            self._dim_names = list(dimension_sizes(self.size_roots))
        return {d: SIZES[(i + start) % len(SIZES)] for i, d in enumerate(self._dim_names)}

    def value(self, nodes: list[Node], arrays: dict, dims: dict) -> list[np.ndarray]:
        """The 2-D values of typed nodes on an instance (the direct evaluator; the compiled plan where that
        evaluator cannot go)."""
        key = tuple(id(n) for n in nodes)
        program = self._programs.get(key)
        if program is None:
            program = self._programs[key] = (interpret.Program(nodes, self.dims), nodes)
        try:
            return program[0](arrays, dims)
        except (interpret.Unsized, KeyError, ValueError, TypeError, IndexError, AttributeError,
                np.linalg.LinAlgError):
            # an operation the direct evaluator does not know (a new function's row): the compiled plan
            from ..compile.codegen import compile_nodes

            plan = compile_nodes({f"v{i}": n for i, n in enumerate(nodes)}, self.dims)
            env = dict(arrays)
            env.update({d: n for d, n in dims.items() if d not in env})
            with np.errstate(all="ignore"):
                out = plan(**env)
            return [interpret.as_matrix(out[f"v{i}"], n.shape) for i, n in enumerate(nodes)]

    def f(self, arrays: dict, dims: dict, x) -> np.ndarray:
        """The expression with the variable at x, the rest of the instance fixed (its parts that do not
        depend on the variable computed once per instance)."""
        try:
            if getattr(self, "_along_key", None) is not arrays:
                self._along = self._along_program().along(arrays, dims, self.wrt)
                self._along_key = arrays
            return self._along(x)[0]
        except (interpret.Unsized, KeyError, ValueError, TypeError, IndexError, AttributeError,
                np.linalg.LinAlgError):
            local = dict(arrays)
            local[self.wrt] = x
            return self.value([self.root], local, dims)[0]

    def _along_program(self):
        if not hasattr(self, "_f_program"):
            self._f_program = interpret.Program([self.root], self.dims)
        return self._f_program


def _specs(names: dict) -> dict:
    """Every name's resolved shape as a declaration (() scalar, (n,) vector, (r, c) matrix)."""
    out = {}
    for n, node in names.items():
        r, c = node.shape
        out[n] = () if (r, c) == (1, 1) else (r,) if c == 1 else (r, c)
    return out


def _evaluable(node: Node, names: dict, dims: set) -> bool:
    return all(n.attr in names or n.attr in dims for n in walk(node) if n.op == "sym")


def _plain(a: np.ndarray, like) -> object:
    """A direction in the shape the variable has in the instance's arrays (float, 1-D, 2-D)."""
    shape = np.shape(like)
    return float(a.reshape(-1)[0]) if shape == () else a.reshape(shape)


def _direction(rng, x) -> np.ndarray:
    v = rng.standard_normal(np.shape(x))
    top = float(np.abs(v).max()) if np.size(v) else 1.0
    return v / top if top > 0 else v


def _step(x, base: float) -> float:
    return base * max(1.0, float(np.abs(x).max()) if np.size(x) else 1.0)


def _central(setting: _Setting, inst: Instance, v, h: float) -> tuple[np.ndarray, float]:
    """(f(x + hV) - f(x - hV)) / 2h and the rounding noise of that quotient."""
    x = np.asarray(inst.arrays[setting.wrt], dtype=float)
    plus = setting.f(inst.arrays, inst.dims, _plain(x + h * v, x))
    minus = setting.f(inst.arrays, inst.dims, _plain(x - h * v, x))
    noise = 1e-14 * (float(np.abs(plus).max()) + float(np.abs(minus).max())) / (2 * h)
    return (plus - minus) / (2 * h), noise


def _relative(got: np.ndarray, want: np.ndarray, scale: float) -> float:
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    if got.size != want.size:
        return math.inf
    got = got.reshape(want.shape)
    if not (np.all(np.isfinite(got)) and np.all(np.isfinite(want))):
        return math.inf
    diff = float(np.abs(got - want).max()) if want.size else 0.0
    if diff == 0.0:
        return 0.0
    return diff / scale if scale > 0 else math.inf


def _fail(what: str, expression: str, wrt: str, err: float, shown: str = "") -> InternalError:
    """The error for a result that failed: it names the expression, never shows the wrong result."""
    return InternalError(
        f"internal error: matcalc's {what} of {expression!r} with respect to {wrt} disagrees with the "
        f"expression's own numbers (relative error {err:.2g} on random instances, against autograd and "
        f"finite differences), so it is not shown; please report it")


# ---------------------------------------------------------------- one check, any form


def _check(setting: _Setting, what: str, directional, full=None, shown: str = "") -> Checked:
    """The shared loop: on each instance, `directional(inst, v)` -> (the result applied to V, |result|·|V|)
    against the central difference along V; where that is not close, the checker's truth decides:
    `full(inst)` -> the whole result (denominator layout) against it, else the directional value against
    the truth contracted with V."""
    witness = Witness(setting.root, setting.wrt, setting.dims)

    def measure(inst, rng):
        """(relative error, escalated?) on one instance, along DIRECTIONS random directions; None where it
        cannot be measured."""
        x = np.asarray(inst.arrays[setting.wrt], dtype=float)
        err, v, gots = 0.0, None, []
        for _ in range(DIRECTIONS):
            v = _direction(rng, x)
            try:
                with np.errstate(all="ignore"):
                    got, scale = directional(inst, v)
                    fd, noise = _central(setting, inst, v, _step(x, STEP))
            except BudgetExceeded:
                raise
            except (ArithmeticError, ValueError, np.linalg.LinAlgError, MatcalcError) as why:
                setting.reason = f"the expression could not be evaluated ({why})"
                return None
            gots = got if isinstance(got, list) else [got]
            err = max(err, max(_relative(g, fd, max(scale, noise, 1e-300)) for g in gots))
            if not err < CHEAP:
                break
        if err < CHEAP:
            return err, False
        ref = witness.reference(inst.arrays)
        if ref is None or _subnormal(ref.value):
            setting.reason = "the expression's derivative could not be measured on the instances drawn"
            return None
        if full is not None:
            value = full(inst)
            if _subnormal(value):
                return None
            err = ref.error(value) / ref.tol
            if 1.0 <= err < 1e-3 / ref.tol and ref.witness == "finite differences":
                err = witness.refined_error(value, inst.arrays, err * ref.tol) / ref.tol
        else:
            err = max(_against(g, ref, v, x) for g in gots)
        return err * LOOSE, True

    return _loop(setting, Checked(what), measure, what, shown)


def _loop(setting: _Setting, out: Checked, measure, what: str, shown: str) -> Checked:
    """Each instance measured; a disagreement is confirmed on up to three more instances (other sizes and
    seeds) before it is an error: a result that is wrong disagrees there too, while one instance may be
    numerically hostile to any formula (values near the underflow threshold, cancellation)."""
    for inst, rng in setting.instances():
        found = measure(inst, rng)
        if found is None:
            continue
        err, escalated = found
        if not err < LOOSE and escalated:
            confirmations = [measure(i, r) for i, r in setting.instances(count=3, start=7)]
            measured = [c for c in confirmations if c is not None]
            if not measured or any(not c[0] < LOOSE for c in measured):
                raise _fail(what, setting.expression, setting.wrt, err, shown)
            out.hostile += 1
            continue
        out.instances += 1
        out.directions += DIRECTIONS if not escalated else 1
        out.escalated += int(escalated)
        out.largest_error = max(out.largest_error, err)
        out.sizes.append({d: n for d, n in inst.dims.items() if d not in setting.dims})
    if not out.instances:
        out.reason = setting.reason or "no instance could be drawn"
    return out


def _subnormal(value) -> bool:
    """Values below float64's normal range keep only a few digits: no evidence either way."""
    a = np.abs(np.asarray(value, dtype=float))
    return bool(np.any((a > 0) & (a < 1e-290)))


def _against(got, ref, v, x) -> float:
    """A directional value against the exact directional derivative (ref contracted with V), in units of
    the checker's tolerance."""
    value = np.asarray(ref.value, dtype=float)
    nd = np.ndim(x)
    direction = np.asarray(v, dtype=float).reshape(np.shape(x))
    truth = np.tensordot(direction, value, axes=(list(range(nd)), list(range(nd))))
    size = max(float(np.max(np.abs(truth))) if np.size(truth) else 0.0, ref.floor,
               1e-8 * float(np.linalg.norm(value)) * float(np.linalg.norm(direction)), 1e-300)
    return _relative(got, truth, size) / ref.tol


def _second(setting: _Setting, inst: Instance, u, v) -> tuple[np.ndarray, float]:
    """u'Hv by the four-point second difference of the expression, and the rounding noise of it."""
    x = np.asarray(inst.arrays[setting.wrt], dtype=float)
    h = _step(x, STEP2)

    def f(p, q):
        return setting.f(inst.arrays, inst.dims, _plain(x + p * h * u + q * h * v, x))

    values = [f(1, 1), f(1, -1), f(-1, 1), f(-1, -1)]
    noise = 1e-14 * sum(float(np.max(np.abs(a))) for a in values) / (4 * h * h)
    return (values[0] - values[1] - values[2] + values[3]) / (4 * h * h), noise


# ---------------------------------------------------------------- the forms


def safely(check, what: str, *args) -> Checked:
    """A check run so that only its verdict can stop a result: InternalError (the result is wrong) and the
    user's budget pass through; a fault of the check itself becomes evidence that says it could not run."""
    try:
        return check(*args)
    except (InternalError, BudgetExceeded):
        raise
    except RecursionError:
        return Checked(what, reason="the expression is nested too deeply for the numeric check")
    except Exception as err:  # noqa: BLE001 — the check's own fault: said, never a wrong answer shown
        return Checked(what, reason=f"the numeric check could not run ({type(err).__name__}: {err})")


def check_derivation(d) -> Checked:
    """A derivation (engine.derive.Derivation): the result as printed (its layout), against the expression.
    Order 1: ∇f·V (or J V); order 2: U'HV, or U'·H[V] for a Hessian-vector product."""
    x_node = d.typed.names[d.wrt]
    setting = _Setting(d.expression, d.typed, d.assumptions, d.wrt, [d.result])
    numerator = d.layout == "numerator"
    shown = to_text_bounded(d.result, set(d.typed.names), limit=200)
    den_shape = d.denominator.shape if d.denominator is not None else d.result.shape

    def den_value(inst) -> np.ndarray:
        value = setting.value([d.result], inst.arrays, inst.dims)[0]
        return value.T if numerator else value          # the numerator layout is the transpose

    def full(inst):
        return interpret.as_plain(den_value(inst), den_shape)

    if d.order == 1:
        f_scalar = d.typed.root.is_scalar

        def directional(inst, v):
            den = den_value(inst)
            v2 = interpret.as_matrix(v, x_node.shape)
            if f_scalar:
                return np.array([[float(np.sum(den * v2))]]), float(np.linalg.norm(den) * np.linalg.norm(v2))
            col = v2.reshape(-1, 1)
            return den.T @ col, float(np.linalg.norm(den) * np.linalg.norm(col))

        return _check(setting, "derivative", directional, full, shown)
    return _check_second(d, setting, den_value, full, shown)


def _check_second(d, setting, den_value, full, shown) -> Checked:
    """A Hessian (U'HV) or a Hessian-vector product (U'·H[V], V the instance's direction) against the
    expression's second differences; where not close, against autograd: the Hessian by finite differences
    of autograd's gradient, H[V] by the change of autograd's gradient along V."""
    x_node = d.typed.names[d.wrt]
    what = "Hessian-vector product" if d.direction else "Hessian"
    witness = Witness(setting.root, d.wrt, setting.dims, order=2)

    def measure(inst, rng):
        x = np.asarray(inst.arrays[d.wrt], dtype=float)
        u = _direction(rng, x)
        v = np.asarray(inst.arrays[d.direction], dtype=float) if d.direction else _direction(rng, x)
        try:
            with np.errstate(all="ignore"):
                H = den_value(inst)
                u2 = interpret.as_matrix(u, x_node.shape)
                if d.direction:
                    got, scale = float(np.sum(H * u2)), float(np.linalg.norm(H) * np.linalg.norm(u2))
                else:
                    uu, vv = u2.reshape(-1, 1), interpret.as_matrix(v, x_node.shape).reshape(-1, 1)
                    got = float((uu.T @ H @ vv)[0, 0]) if H.shape != (1, 1) else float(H[0, 0] * uu[0, 0] * vv[0, 0])
                    scale = float(np.linalg.norm(H) * np.linalg.norm(uu) * np.linalg.norm(vv))
                fd, noise = _second(setting, inst, u, v)
        except BudgetExceeded:
            raise
        except (ArithmeticError, ValueError, np.linalg.LinAlgError, MatcalcError) as err:
            setting.reason = f"the expression could not be evaluated ({err})"
            return None
        err = _relative(np.array([[got]]), fd, max(scale, noise, 1e-300))
        if err < CHEAP:
            return err, False
        if d.direction:
            err = _hvp_error(setting, inst, u, v, got)
        else:
            ref = witness.reference(inst.arrays)
            err = None if ref is None or _subnormal(ref.value) else ref.error(full(inst)) / ref.tol
        if err is None:
            setting.reason = "the expression's second derivative could not be measured on the instances drawn"
            return None
        return err * LOOSE, True

    out = Checked(what, witness="second differences of the expression along random directions")
    return _loop(setting, out, measure, what, shown)


def _hvp_error(setting, inst, u, v, got: float) -> float | None:
    """u'·H[V] against the central difference of autograd's gradient along V (in tolerance units)."""
    witness = Witness(setting.root, setting.wrt, setting.dims)
    x = np.asarray(inst.arrays[setting.wrt], dtype=float)
    err = None
    for h in (1e-5, 1e-6, 1e-4):
        step = _step(x, h)
        grads = []
        for sign in (1, -1):
            arrays = dict(inst.arrays)
            arrays[setting.wrt] = _plain(x + sign * step * v, x)
            g = witness.autodiff(arrays)
            if g is None:
                return None
            grads.append(np.asarray(g, dtype=float))
        hv = (grads[0] - grads[1]) / (2 * step)
        want = float(np.sum(hv * np.asarray(u, dtype=float).reshape(hv.shape)))
        scale = max(abs(want), 1e-8 * float(np.linalg.norm(hv)) * float(np.linalg.norm(u)), 1e-300)
        err = abs(got - want) / scale / LOOSE
        if err < 1.0:
            return err
    return err


def check_matrix_jacobian(what: str, expression: str, typed, assumptions, wrt: str, apply, nodes=(),
                          shown: str = "") -> Checked:
    """A derivative in any form that can be applied to a direction V (a vec/Kronecker Jacobian, a
    differential, index entries): `apply(inst, v, evaluate)` -> (F's change along V as the form says it —
    or a list of such, one per form — and its scale |form|·|V|); `evaluate(nodes, extra_arrays)` gives
    2-D values of typed nodes on the instance. Compared with the central difference of F along V; where
    not close, with autograd's Jacobian contracted with V. `nodes`: what must be kept clear of kinks."""
    setting = _Setting(expression, typed, assumptions, wrt, list(nodes))

    def directional(inst, v):
        def evaluate(more_nodes, extra=None):
            arrays = dict(inst.arrays)
            arrays.update(extra or {})
            return setting.value(list(more_nodes), arrays, inst.dims)

        return apply(inst, v, evaluate)

    return _check(setting, what, directional, None, shown)


def check_callable(fn, d, name: str = "the compiled code") -> Checked:
    """Generated code against the symbolic result it was made from: the callable on the guard's instances
    equals the result's value (to 1e-9 of its size), or InternalError."""
    setting = _Setting(d.expression, d.typed, d.assumptions, d.wrt, [d.result])
    return check_code(fn, setting, d.result, name, f"the derivative of {d.expression!r} with respect to {d.wrt}")


def check_code(fn, setting: "_Setting", node: Node, name: str, of: str, extra=None) -> Checked:
    """`fn(**arrays)` against `node`'s value on the setting's instances; `extra(inst, rng)` gives arrays the
    code takes beyond the expression's names (a direction V)."""
    out = Checked(name, witness="the symbolic result it was compiled from")
    for inst, rng in setting.instances():
        more = extra(inst, rng) if extra is not None else {}
        arrays = {k: v for k, v in inst.arrays.items() if k in setting.typed.names or k in setting.dims}
        arrays.update(more)
        env = dict(inst.arrays)
        env.update(more)
        want = setting.value([node], env, inst.dims)[0]
        try:
            with np.errstate(all="ignore"):
                got = np.asarray(fn(**arrays), dtype=float)
        except BudgetExceeded:
            raise
        except MatcalcError as err:
            setting.reason = f"the code could not run on the instance ({err})"
            continue
        if got.size != want.size and got.size == 1:
            got = np.broadcast_to(got, want.shape)
        err = _code_error(got, want)
        if not err < CODE_TOLERANCE and _ill_conditioned(setting, node, env, inst.dims, want, rng):
            setting.reason = ("an instance was set aside: there the formula cannot be evaluated accurately in "
                              "float64 (a nearly singular matrix inverted)")
            continue
        if not err < CODE_TOLERANCE:
            raise InternalError(
                f"internal error: {name} for {of} disagrees with the symbolic result it was made from "
                f"(relative error {err:.2g} on a random instance), so it is not returned; please report it")
        out.instances += 1
        out.largest_error = max(out.largest_error, err)
        out.sizes.append({k: n for k, n in inst.dims.items() if k not in setting.dims})
    if not out.instances:
        out.reason = setting.reason or "no instance could be drawn"
    return out


def _ill_conditioned(setting: "_Setting", node: Node, env: dict, dims: dict, want, rng) -> bool:
    """Whether a relative change of 1e-10 in the inputs moves the formula's value by more than 1e-6 (an
    inverse of a rank-deficient X'*C*X, drawn with more columns than rows): two evaluations of it, compiled
    and interpreted, may then differ by O(1) with neither wrong."""
    moved = {k: (v * (1 + 1e-10 * rng.standard_normal(np.shape(v))) if isinstance(v, np.ndarray)
                 and np.issubdtype(v.dtype, np.floating) and k in setting.typed.names else v)
             for k, v in env.items()}
    try:
        again = setting.value([node], moved, dims)[0]
    except MatcalcError:
        return False
    return not _code_error(again, want) < 1e-6


def _code_error(got: np.ndarray, want: np.ndarray) -> float:
    """Two evaluations of one formula (compiled, interpreted): not finite at the same entries (both inf
    of one sign, or both NaN: an overflow either way), and the finite entries close relative to their size."""
    got = np.asarray(got, dtype=float).reshape(-1)
    want = np.asarray(want, dtype=float).reshape(-1)
    if got.size != want.size:
        return math.inf
    bad_g, bad_w = ~np.isfinite(got), ~np.isfinite(want)
    if np.any(bad_g != bad_w) or np.any(got[bad_g & ~np.isnan(got)] != want[bad_w & ~np.isnan(want)]):
        return math.inf
    keep = ~bad_g
    if not np.any(keep):
        return 0.0
    size = float(np.max(np.abs(want[keep])))
    return _relative(got[keep], want[keep], size if size > 1e-12 else 1.0)


__all__ = ["safely", "Checked", "check_derivation", "check_matrix_jacobian", "check_callable", "CHEAP"]
