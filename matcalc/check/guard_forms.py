"""The guard (guard.py) for the forms of a derivative other than a matrix: the vec/Kronecker Jacobian and
its product with a direction, the differential dF, and index notation — each applied to a random
direction V and compared with the central difference of the expression along V, before it is shown.
An index form that only rewrites a checked matrix result is compared with that result entry by entry.
"""

from __future__ import annotations

import numpy as np

from ..errors import InternalError, MatcalcError
from . import interpret
from .guard import Checked, _Setting, check_code, check_matrix_jacobian


def _column_major(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=float).reshape(-1, 1, order="F")


def check_kronecker(k) -> Checked:
    """∂vec(F)/∂vec(X)' times vec(V), and the Jacobian-vector product as printed (A*V*B), both against
    (F(X + hV) - F(X - hV)) / 2h."""
    typed = k.typed
    x = typed.names[k.wrt]
    name = k.direction_name()
    jvp = k.jvp(name)

    def apply(inst, v, evaluate):
        v2 = interpret.as_matrix(v, x.shape)
        J, = evaluate([k.numerator])
        by_J = (J @ _column_major(v2)).reshape(_shape2(typed.root, inst), order="F")
        along, = evaluate([jvp], {name: interpret.as_plain(v2, x.shape)})
        return [by_J, along], float(np.linalg.norm(J) * np.linalg.norm(v2))

    return check_matrix_jacobian("vec/Kronecker Jacobian", k.expression, typed, k.differential.assumptions, k.wrt,
                                 apply, [k.numerator], k.text[:200])


def _shape2(node, inst) -> tuple[int, int]:
    from ..language.dims import size_of

    r, c = node.shape
    return int(size_of(r, inst.dims)), int(size_of(c, inst.dims))


def check_kronecker_code(k, fn, materialize: bool) -> Checked:
    """The Kronecker Jacobian's code (the Jacobian-vector product, or the materialized matrix) against the
    symbolic form it was made from."""
    typed = k.typed
    setting = _Setting(k.expression, typed, k.differential.assumptions, k.wrt, [k.numerator])
    if materialize:
        return check_code(fn, setting, k.node, "the generated code", f"the Kronecker Jacobian of {k.expression!r}")
    name = k.direction_name()
    node = k.jvp(name)
    x = typed.names[k.wrt]

    def extra(inst, rng):
        return {name: interpret.as_plain(interpret.as_matrix(rng.standard_normal(np.shape(inst.arrays[k.wrt])),
                                                             x.shape), x.shape)}

    return check_code(fn, setting, node, "the generated code", f"the Jacobian-vector product of {k.expression!r}",
                      extra)


def check_differential(dF) -> Checked:
    """dF with dX = V against the central difference of F along V."""
    typed = dF.typed
    x = typed.names[dF.wrt]
    dname = dF.dx.attr

    def apply(inst, v, evaluate):
        got, = evaluate([dF.node], {dname: interpret.as_plain(interpret.as_matrix(v, x.shape), x.shape)})
        return got, float(np.max(np.abs(got))) if got.size else 0.0

    return check_matrix_jacobian("differential", dF.expression, typed, dF.assumptions, dF.wrt, apply, [dF.node],
                                 dF.text[:200])


def check_tensor_index(text: str, expression: str, wrt: str, shapes, assume) -> Checked:
    """An index form with no matrix form (`df_i/dW_kl = delta_ik*x_l`): its entries, contracted with V over
    the variable's indices, against the central difference of F along V."""
    from ..compile.index_eval import derivative_values
    from ..engine.derive import prepare
    from .checker import specs

    typed, a = prepare(expression, shapes, assume)
    x = typed.names[wrt]
    lhs, rhs = (part.strip() for part in text.split("=", 1))
    declared = specs(typed.names)
    x_nd = len([d for d in x.shape if d != 1]) if not x.is_scalar else 0
    fname = lhs[1:lhs.index("/")].split("_")[0]

    def apply(inst, v, evaluate):
        F, = evaluate([typed.root])
        arrays = {n: val for n, val in inst.arrays.items()}
        values = derivative_values(lhs, rhs, declared, arrays,
                                   {fname: np.shape(interpret.as_plain(F, typed.root.shape))})
        direction = np.asarray(v, dtype=float)
        axes = list(range(values.ndim - x_nd, values.ndim))
        got = np.tensordot(values, direction.reshape(values.shape[values.ndim - x_nd:]), axes=(axes, list(range(x_nd))))
        return got, float(np.linalg.norm(values) * np.linalg.norm(direction))

    return check_matrix_jacobian("index form", expression, typed, a, wrt, apply, [], text[:200])


def check_index_text(d, text: str) -> Checked:
    """`d.index` rewrites the (checked) matrix result entry by entry: its entries must be the result's."""
    from ..compile.index_eval import index_values
    from ..language.index_print import _axes
    from .checker import specs

    lhs, rhs = text.split(" = ", 1)
    letters = ("i", "j")[:len(_axes(d.result.shape))]
    setting = _Setting(d.expression, d.typed, d.assumptions, d.wrt, [d.result])
    out = Checked("index form", witness="the checked matrix result it writes entry by entry")
    for inst, _ in setting.instances(count=1):
        want, = setting.value([d.result], inst.arrays, inst.dims)
        want = np.asarray(interpret.as_plain(want, d.result.shape), dtype=float)
        try:
            got = index_values(rhs, letters, specs(d.typed.names), dict(inst.arrays))
        except MatcalcError as err:
            raise InternalError(f"internal error: matcalc's index form {text[:200]!r} of the derivative of "
                                f"{d.expression!r} cannot be evaluated ({err}); please report it") from None
        got = np.reshape(got, want.shape) if got.size == want.size else got
        size = max(float(np.max(np.abs(want))) if want.size else 0.0, 1e-300)
        err = float(np.max(np.abs(got - want))) / size if got.shape == want.shape else np.inf
        if not err < 1e-9:
            raise InternalError(f"internal error: matcalc's index form {text[:200]!r} of the derivative of "
                                f"{d.expression!r} with respect to {d.wrt} disagrees with its matrix result "
                                f"(relative error {err:.2g}), so it is not shown; please report it")
        out.instances += 1
        out.largest_error = max(out.largest_error, err)
    if not out.instances:
        out.reason = setting.reason or "no instance could be drawn"
    return out


__all__ = ["check_kronecker", "check_kronecker_code", "check_differential", "check_tensor_index",
           "check_index_text"]

