r"""The derivatives a document writes, measured on an instance with HIPS autograd (outside the engine).

∂A/∂B: A's definitions are evaluated as a function of B with everything else fixed, and the Jacobian is
laid out as the layout says — a scalar by X has X's shape in denominator layout (its transpose in
numerator layout); a vector a by a vector b is ∂b × ∂a in denominator layout, the Jacobian in numerator
layout; a derivative by a scalar has the shape of A (entry by entry, either orientation of a vector
accepted); `\nabla_x f` is the gradient, x's shape, in any layout. B may be a symbol, an entry (`d_k`),
a member of a family (`\theta_j`) or a subexpression of A (`\partial (-y^T\log\hat{y}) / \partial\log\hat{y}`).
A quantity that does not depend on B through anything the text defines makes the equation UNREAD, never
a vacuous CORRECT of 0 = 0.
"""

from __future__ import annotations

import autograd.numpy as anp
import numpy as np
from autograd import jacobian
from autograd.tracer import getval

from ...language.latex_doc import M
from .model import pretty
from .walker import Unread, Walker, key_of
from .walker_calls import depends

PLACEHOLDER = "␣var"


def _child(w: Walker, over: dict, **kw) -> Walker:
    c = Walker(w.model, w.mode, w.u, w.inst, w.layout, w.ranges, w.sumr)
    c.idx, c.over, c.t, c.eps, c.implicit = dict(w.idx), over, w.t, w.eps, w.implicit
    c.strict, c.vary = w.strict, w.vary
    for k, v in kw.items():
        setattr(c, k, v)
    return c


def _target(w: Walker, den: M, num: M):
    """How to vary B: ('symbol', key) | ('entry', key, letters) | ('expr', new numerator tree)."""
    ko = None
    if den.kind in ("name", "sub", "layer"):
        ko = key_of(den)
    if den.kind == "apply" and den.args[0].kind in ("name", "sub"):   # ∂J/∂J(θ)? rare: read the name
        ko = key_of(den.args[0])
    if ko is not None:
        key, letters = ko
        key = w.model.aliases.get(key, (key,))[0]
        key = w.model.entry_key(key) if letters else w.model.whole_key(key)
        return ("entry", key, letters) if letters else ("symbol", key)
    replaced, found = _substitute(w, num, den, 0)
    if not found:
        raise Unread("the derivative is taken with respect to an expression that its numerator does not contain")
    return ("expr", replaced)


def _substitute(w: Walker, tree: M, pattern: M, depth: int):
    if tree.key() == pattern.key():
        return M("name", PLACEHOLDER, pos=tree.pos), True
    if depth > 6:
        return tree, False
    if tree.kind == "name" and tree.args[0] in w.model.defs and not w.model.defs[tree.args[0]].params \
            and not w.model.defs[tree.args[0]].indices:
        body, found = _substitute(w, w.model.defs[tree.args[0]].body, pattern, depth + 1)
        return (M("group", body, "(", pos=tree.pos), True) if found else (tree, False)
    if tree.kind == "apply" and tree.args[0].kind == "name" and tree.args[0].args[0] in w.model.defs:
        return _substitute(w, M("name", tree.args[0].args[0], pos=tree.pos), pattern, depth)
    found = False
    args = []
    for a in tree.args:
        if isinstance(a, M):
            a2, f = _substitute(w, a, pattern, depth)
            found |= f
            args.append(a2)
        elif isinstance(a, tuple) and a and all(isinstance(x, M) for x in a):
            new = []
            for x in a:
                x2, f = _substitute(w, x, pattern, depth)
                found |= f
                new.append(x2)
            args.append(tuple(new))
        elif isinstance(a, tuple) and a and all(isinstance(x, tuple) and len(x) == 2 and isinstance(x[1], M)
                                               for x in a):
            new = []
            for s, x in a:
                x2, f = _substitute(w, x, pattern, depth)
                found |= f
                new.append((s, x2))
            args.append(tuple(new))
        else:
            args.append(a)
    return (M(tree.kind, *args, pos=tree.pos), True) if found else (tree, False)


def derivative(w: Walker, n: M):
    num, den, kind = n.args
    target = _target(w, den, num)
    if target[0] != "expr" and not depends(w.model, num, target[1]):
        _undefined(w, num)
        raise Unread(f"{_show(num)} does not depend on {_show(den)} through anything the text defines")
    if w.mode == "shape":
        a = w.w(num)
        b = w.w(den)
        return _layout_shape(w, a, b, kind)
    b0 = w.w(den)
    if target[0] == "symbol":
        key = target[1]

        def f(t):
            return _child(w, {**w.over, key: t}).w(num)
    elif target[0] == "entry":
        key, letters = target[1], target[2]
        sym = w.model.symbols.get(key)
        if sym is not None and sym.family is not None:
            whole = w.family_array(key)
            row = w.idx[letters[0]]

            def f(t):
                e = np.zeros((whole.shape[0], 1))
                e[row, 0] = 1.0
                return _child(w, {**w.over, key: whole + anp.dot(e, anp.transpose(t - b0))}).w(num)
        else:
            whole = w.symbol(key, den)
            pos = tuple(w.idx[x] for x in letters)
            e = np.zeros(whole.shape)
            if len(pos) == 1:
                e[(pos[0], 0) if whole.shape[1] == 1 else (0, pos[0])] = 1.0
            else:
                e[pos] = 1.0

            def f(t):
                return _child(w, {**w.over, key: whole + (t - b0) * e}).w(num)
    else:
        tree = target[1]

        def f(t):
            return _child(w, {**w.over, PLACEHOLDER: t}).w(tree)
    if kind == "nabla2":
        g = lambda t: jacobian(f)(t)[0, 0]      # noqa: E731  the gradient, a function of B
        h = jacobian(g)(b0)
        if b0.shape[1] != 1:
            raise Unread("a Hessian by a matrix has four axes")
        return h[:, 0, :, 0]
    j = jacobian(f)(b0)
    if not np.any(getval(j)):           # no vacuous 0: it must vary with the whole of B (∂e^{d_i}/∂d_k, i ≠ k)
        whole_key = target[1] if target[0] == "entry" else None
        if whole_key is None or not _varies(w, num, whole_key, den):
            raise Unread(f"∂{_show(num)}/∂{_show(den)} is 0 on a random instance: matcalc sees nothing in "
                         f"{_show(num)} that varies with {_show(den)}")
        w.flags.add("zero-entry")
    return _arrange(w, j, kind)


def _varies(w: Walker, num: M, key: str, den: M) -> bool:
    """Whether the numerator varies with the whole symbol whose entry the derivative is taken by."""
    sym = w.model.symbols.get(key)
    whole = w.family_array(key) if sym is not None and sym.family is not None else w.symbol(key, den)
    jw = jacobian(lambda t: _child(w, {**w.over, key: t}).w(num))(whole)
    return bool(np.any(getval(jw)))


def _layout_shape(w: Walker, a, b, kind):
    scalar_a, scalar_b = w.is_scalar(a), w.is_scalar(b)
    if kind == "nabla2":
        return (b[0], b[0])
    if scalar_a:
        return b if kind == "nabla" or w.layout == "denominator" else (b[1], b[0])
    if scalar_b:
        return a
    if w.u.is_one(a[1]) and w.u.is_one(b[1]):
        return (b[0], a[0]) if w.layout == "denominator" else (a[0], b[0])
    raise Unread("a derivative of a matrix by a vector or a matrix has more than two axes (no matrix form)")


def _arrange(w: Walker, j, kind):
    ra, ca, rb, cb = j.shape
    if ra == 1 and ca == 1:
        g = j[0, 0]
        return g if kind == "nabla" or w.layout == "denominator" else anp.transpose(g)
    if rb == 1 and cb == 1:
        if ra == 1 or ca == 1:
            w.flags.add("by-scalar")
        return j[:, :, 0, 0]
    if ca == 1 and cb == 1:
        jn = j[:, 0, :, 0]
        return anp.transpose(jn) if w.layout == "denominator" else jn
    raise Unread("a derivative of a matrix by a vector or a matrix has more than two axes (no matrix form)")


def implicit_prime(w: Walker, n: M):
    """`(u/v)'`, `u'`: the derivative with respect to the implicit variable of u and v (the quotient rule,
    for any u and v: they are random smooth functions of one variable)."""
    x = n.args[0]
    if w.mode == "shape":
        return w.w(x)
    if w.t is None:
        raise Unread("a prime ' with no variable to differentiate by")
    return jacobian(lambda t: _child(w, w.over, t=t).w(x))(w.t)[:, :, 0, 0]


def differential(w: Walker, n: M):
    """d(expr): its change along a random direction of every variable (dX is that direction of X)."""
    x = n.args[0]
    if w.mode == "shape":
        return w.w(x)
    e0 = anp.array([[0.0]])
    return jacobian(lambda e: _child(w, w.over, eps=e).w(x))(e0)[:, :, 0, 0]


def _undefined(w: Walker, num: M) -> None:
    """The reason a numerator depends on nothing when it is a symbol the text never (readably) defined."""
    head = num.args[0] if num.kind == "apply" else num
    if head.kind not in ("name", "sub", "layer"):
        return
    try:
        ko = key_of(head)
    except Unread:
        return
    if ko is None:
        return
    m = w.model
    key = m.aliases.get(ko[0], (ko[0],))[0]
    key = m.entry_key(key) if ko[1] else m.whole_key(key)
    if key in m.failed and key not in m.defs:
        raise Unread(m.failed[key])
    if key not in m.defs and key not in m.functions and key not in w.over:
        raise Unread(f"{_show(head)} is never defined (as a function of anything)")


def _show(n: M) -> str:
    try:
        ko = key_of(n)
    except Unread:
        ko = None
    if ko is not None:
        return pretty(ko[0]) + ("_" + "".join(ko[1]) if ko[1] else "")
    return "the expression"


# the walker reads derivative nodes through these (walker.py knows nothing of this module)
Walker.n_deriv = derivative
Walker.n_prime = implicit_prime
Walker.n_diff = differential

__all__ = ["derivative", "implicit_prime", "differential", "depends"]
