"""The operators of the expression language on the tree of nodes.py: sums, products, transposes,
powers, Hadamard products, broadcasts, function calls, vec, Kronecker products and commutation matrices.

The constructors do only *light*, always-valid canonicalisation (flattening, number folding, scalars
to the front of a product, `(A*B)' = B'*A'`, merging equal bases of a product into a power, a Kronecker
product applied to a vec read as the matrix product it stands for). The textbook shaping of a result
(expansion, identities from rules/, factoring) is the engine's simplifier's job.

The names of nodes.py are re-exported, so that `E.sym`, `E.walk` and `E.Node` read as one vocabulary.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Iterable

from ..errors import ShapeError, UnsupportedError
from .dims import dim_factors, dim_product, dimension_names, is_product_dim, size_of  # noqa: F401  (re-exported)
from .functions import check_argument, result_shape
from .functions import row as function_row
from .nodes import (  # noqa: F401  (re-exported: one vocabulary for the tree and its operators)
    SCALAR,
    Dim,
    Node,
    Shape,
    check_constant,
    dim_text,
    eye,
    is_identity,
    is_one,
    is_ones,
    is_ones_matrix,
    is_zero,
    num,
    ones,
    power_fits,
    shape_text,
    sketch,
    split_scalar,
    sym,
    symbols,
    walk,
    zero,
)


def scaled(coef: Fraction, rest: Node | None, shape: Shape) -> Node:
    if rest is None:
        return num(coef) if shape == SCALAR else mul(num(coef), bcast(num(1), shape))
    if coef == 1:
        return rest
    return mul(num(coef), rest)


# ---------------------------------------------------------------- operators


def add(*terms: Node) -> Node:
    if not terms:
        raise ValueError("add of nothing")
    nonzero = [t for t in terms if not is_zero(t)]
    shape = terms[0].shape if not nonzero else nonzero[0].shape
    if not nonzero:
        shapes = [t.shape for t in terms if t.shape != SCALAR]
        return zero(shapes[0] if shapes else SCALAR)
    terms = nonzero
    flat: list[Node] = []
    const = Fraction(0)
    for t in terms:
        if t.shape != shape:
            raise ShapeError(f"cannot add {shape_text(shape)} and {shape_text(t.shape)}")
        parts = t.args if t.op == "add" else (t,)
        for p in parts:
            if is_zero(p):
                continue
            if p.op == "num":
                const += p.attr
                continue
            flat.append(p)
    if const != 0:
        flat.insert(0, num(const))
    if not flat:
        return zero(shape)
    if len(flat) == 1:
        return flat[0]
    return Node("add", tuple(flat), None, shape)


def neg(a: Node) -> Node:
    return mul(num(-1), a)


def sub(a: Node, b: Node) -> Node:
    return add(a, neg(b))


def _chain_shape(factors: Iterable[Node], where: str = "") -> Shape:
    shape: Shape | None = None
    for f in factors:
        if f.is_scalar:
            continue
        if shape is None:
            shape = f.shape
            continue
        if shape[1] != f.shape[0]:
            raise ShapeError(f"{where or 'product'}: {shape_text(shape)} times {shape_text(f.shape)}")
        shape = (shape[0], f.shape[1])
    return shape or SCALAR


def mul(*factors: Node) -> Node:
    """Product: scalars commute to the front (numbers folded, equal bases merged), matrices keep order."""
    coef = Fraction(1)
    scalars: dict[Node, Fraction] = {}
    chain: list[Node] = []
    zero_hit = False
    for f in factors:
        if f.op == "mul" and f.is_scalar and any(not a.is_scalar for a in f.args):
            # a scalar-valued chain such as s'*v stays one scalar factor (its own chain is 1x1)
            inner = [a for a in f.args if not a.is_scalar]
            parts = [a for a in f.args if a.is_scalar] + [Node("mul", tuple(inner), None, SCALAR)]
        else:
            parts = f.args if f.op == "mul" else (f,)
        for p in parts:
            if p.op == "mul" and p.is_scalar and all(not a.is_scalar for a in p.args):
                scalars[p] = scalars.get(p, Fraction(0)) + 1
                continue
            if p.op == "num":
                coef *= p.attr
            elif is_zero(p):
                zero_hit = True
                if not p.is_scalar:
                    chain.append(p)  # keeps the product's shape right
            elif p.is_scalar:
                base, exponent = (p.args[0], p.attr) if p.op == "pow" else (p, Fraction(1))
                scalars[base] = scalars.get(base, Fraction(0)) + exponent
            elif p.op == "eye":
                chain.append(p)
            else:
                chain.append(p)
    shape = _chain_shape(chain)
    if zero_hit or coef == 0:
        return zero(shape)
    if len(chain) > 1:
        chain = [c for c in chain if c.op != "eye"] or chain[:1]
    if len(chain) > 1 and any(c.op == "bcast" for c in chain):
        for s in (c.args[0] for c in chain if c.op == "bcast" and c.args[0].is_scalar):
            if s.op == "num":
                coef *= s.attr
            else:
                base, exponent = (s.args[0], s.attr) if s.op == "pow" else (s, Fraction(1))
                scalars[base] = scalars.get(base, Fraction(0)) + exponent
        chain = _factor_broadcasts(chain)
    out: list[Node] = []
    if coef != 1:
        out.append(num(coef))
    for base in sorted(scalars, key=lambda n: (scalars[n] > 0, _hadamard_order(n))):
        p = scalars[base]
        if p != 0:
            out.append(base if p == 1 else power(base, p))
    out.extend(chain)
    if not out:
        return num(1) if shape == SCALAR else _ones_like(shape)
    if len(out) == 1:
        return out[0]
    if len(out) == 2 and out[0].op == "num" and out[1].op == "num":
        return num(out[0].attr * out[1].attr)
    return Node("mul", tuple(out), None, shape)


def _ones_like(shape: Shape) -> Node:
    return bcast(num(1), shape)


def _factor_broadcasts(chain: list[Node]) -> list[Node]:
    """A broadcast inside a matrix product is the product it stands for: a scalar s repeated to m×n is
    s*ones(m)*ones(n)' (the scalar is taken out by the caller), a row r repeated over m rows is
    ones(m)*r, a column c repeated over n columns is c*ones(n)'. Left as a broadcast, the scalar would
    be lost to a printer or a rule that reads the factor as a plain matrix (g'*bcast(s) is s*sum(g))."""
    out: list[Node] = []
    for c in chain:
        if c.op != "bcast":
            out.append(c)
            continue
        a = c.args[0]
        if c.shape[0] != 1 and a.shape[0] == 1:
            out.append(ones(c.shape[0]))
        if not a.is_scalar:
            out.append(a)
        if c.shape[1] != 1 and a.shape[1] == 1:
            out.append(transpose(ones(c.shape[1])))
    return out


def power(base: Node, p) -> Node:
    """Scalar power with a rational exponent."""
    p = Fraction(p)
    if not base.is_scalar:
        raise ShapeError(f"^ needs a scalar base (got {shape_text(base.shape)}); use .^ for elementwise power")
    if p == 0:
        return num(1)
    if p == 1:
        return base
    if base.op == "num":
        if base.attr == 0 and p < 0:
            raise ShapeError("division by zero")
        if p.denominator == 1:
            if not power_fits(base.attr, p):
                raise UnsupportedError(f"the constant {base.attr}^{p} is out of range: matcalc works with "
                                       f"numbers between 1e-300 and 1e300 in size")
            return num(base.attr ** int(p))
    if base.op == "pow" and _powers_merge(base.attr, p):
        return power(base.args[0], base.attr * p)
    if base.op == "mul" and p.denominator == 1 and all(f.is_scalar for f in base.args):
        return mul(*(power(f, p) for f in base.args))
    return Node("pow", (base,), p, SCALAR)


def transpose(a: Node, _memo: dict | None = None) -> Node:
    """Push a transpose through structure, stopping at names and function calls (`inv(X)'` stays).
    Each shared subexpression is transposed once (a DAG of k shared layers is not walked 2^k times)."""
    if a.is_scalar:
        return a
    op = a.op
    if op == "T":
        return a.args[0]
    if op in ("eye", "zero") or (op == "fn" and a.attr == "diag"):
        return Node(op, a.args, a.attr, (a.shape[1], a.shape[0])) if op == "zero" else a
    if op in ("mul", "add", "had", "epow", "vpow", "bcast", "kron"):
        memo = {} if _memo is None else _memo
        found = memo.get(a)
        if found is None:
            found = memo[a] = _transpose_parts(a, memo)
        return found
    if op == "comm":
        return commutation(a.attr[1], a.attr[0])
    return Node("T", (a,), None, (a.shape[1], a.shape[0]))


def _transpose_parts(a: Node, memo: dict) -> Node:
    op = a.op
    if op == "mul":
        return mul(*(transpose(f, memo) for f in reversed(a.args)))
    if op == "add":
        return add(*(transpose(t, memo) for t in a.args))
    if op == "had":
        return hadamard(*(transpose(f, memo) for f in a.args))
    if op == "epow":
        return epow(transpose(a.args[0], memo), a.attr)
    if op == "vpow":
        return vpow(transpose(a.args[0], memo), a.args[1])
    if op == "bcast":
        return bcast(transpose(a.args[0], memo), (a.shape[1], a.shape[0]))
    return kron(transpose(a.args[0], memo), transpose(a.args[1], memo))


def bcast(a: Node, shape: Shape) -> Node:
    """`a` repeated to `shape`: a scalar everywhere, a row over rows, a column over columns."""
    if a.shape == shape:
        return a
    r, c = a.shape
    if not (a.is_scalar or (r == 1 and c == shape[1]) or (c == 1 and r == shape[0])):
        raise ShapeError(f"cannot broadcast {shape_text(a.shape)} to {shape_text(shape)}")
    if a.op == "bcast":
        return bcast(a.args[0], shape)
    if a.op == "num":
        # a constant array is c times a ones vector (or ones*ones'), so like terms meet in sums
        if a.attr == 0:
            return zero(shape)
        r, c = shape
        unit = ones(r) if c == 1 else transpose(ones(c)) if r == 1 else mul(ones(r), transpose(ones(c)))
        return unit if a.attr == 1 else mul(a, unit)
    return Node("bcast", (a,), None, shape)


def hadamard(*factors: Node) -> Node:
    """Elementwise product as a monomial: equal bases merge their exponents (`a .* (b ./ a)` = `b`)."""
    shape = None
    for f in factors:
        if not f.is_scalar:
            shape = f.shape if shape is None else shape
    if shape is None:
        return mul(*factors)
    scalars: list[Node] = []
    powers: dict[Node, Fraction] = {}
    order: list[Node] = []
    pending = list(reversed(factors))
    while pending:      # every factor, a nested product's and Hadamard product's parts included,
        p = pending.pop()   # goes through the same cases: a broadcast scalar is a scalar wherever it sits
        if p.op == "had":
            pending.extend(reversed(p.args))
            continue
        if p.is_scalar:
            scalars.append(p)
            continue
        if p.shape != shape:
            if p.op == "bcast" or p.shape[0] == 1 or p.shape[1] == 1:
                p = bcast(p, shape) if p.op != "bcast" else p
            if p.shape != shape:
                raise ShapeError(f".*: {shape_text(shape)} and {shape_text(p.shape)}")
        if is_zero(p):
            return zero(shape)
        if p.op == "bcast" and p.args[0].is_scalar:
            scalars.append(p.args[0])
            continue
        if is_ones_matrix(p):
            continue
        if p.op == "mul" and p.args[0].is_scalar:
            k = 0
            while k < len(p.args) and p.args[k].is_scalar:
                scalars.append(p.args[k])
                k += 1
            rest = p.args[k:]
            pending.append(rest[0] if len(rest) == 1 else Node("mul", rest, None, p.shape))
            continue
        base, e = (p.args[0], p.attr) if p.op == "epow" else (p, Fraction(1))
        if base not in powers:
            order.append(base)
        powers[base] = powers.get(base, Fraction(0)) + e
    kept = [b if powers[b] == 1 else Node("epow", (b,), powers[b], shape) for b in order if powers[b] != 0]
    kept.sort(key=_hadamard_order)
    if not kept:
        return bcast(mul(*scalars), shape) if scalars else bcast(num(1), shape)
    core = kept[0] if len(kept) == 1 else Node("had", tuple(kept), None, shape)
    if not scalars:
        return core
    return mul(*scalars, core)


def _hadamard_order(n: Node):
    """Canonical and readable: names, then products, then function calls, then divisors."""
    if n.op == "epow" and n.attr < 0:
        return (3, n.key)
    return ({"sym": 0, "T": 0, "mul": 1, "fn": 2, "pow": 2, "epow": 2}.get(n.op, 3), n.key)


def epow(a: Node, p) -> Node:
    p = Fraction(p)
    if a.is_scalar:
        return power(a, p)
    if p == 1:
        return a
    if p == 0:
        return bcast(num(1), a.shape)
    if a.op == "epow" and _powers_merge(a.attr, p):
        return epow(a.args[0], a.attr * p)
    return hadamard(Node("epow", (a,), p, a.shape))


def _powers_merge(inner: Fraction, outer: Fraction) -> bool:
    """(x^a)^b = x^(a*b) for every real x where the left side is defined — unless b is fractional and a
    has an even numerator: (x^2)^(1/2) is |x|, not x."""
    return outer.denominator == 1 or Fraction(inner).numerator % 2 == 1


def ediv(a: Node, b: Node) -> Node:
    return hadamard(a, epow(b, -1))


def fn(name: str, arg: Node, shape: Shape) -> Node:
    return Node("fn", (arg,), name, shape)


# ---------------------------------------------------------------- vec, Kronecker products, commutation


def vec(a: Node) -> Node:
    """The columns of `a` stacked into one column (Magnus & Neudecker's vec)."""
    if a.shape[1] == 1:
        return a
    if a.op == "unvec":
        return a.args[0]
    if a.op == "mul" and a.args[0].is_scalar:          # vec(c*M) = c*vec(M)
        k = next(i for i, f in enumerate(a.args) if not f.is_scalar)
        return mul(*a.args[:k], vec(mul(*a.args[k:])))
    if a.op == "zero":
        return zero((dim_product(*a.shape), 1))
    if a.shape[0] == 1:
        return transpose(a)
    return Node("vec", (a,), None, (dim_product(*a.shape), 1))


def unvec(g: Node, m: Dim, n: Dim) -> Node:
    """The m×n matrix whose vec is the column `g` (the adjoint of vec)."""
    if g.shape[1] != 1 or g.shape[0] != dim_product(m, n):
        raise ShapeError(f"unvec: a column of {dim_text(dim_product(m, n))} entries makes an {m}×{n} matrix, "
                         f"got {shape_text(g.shape)}")
    if n == 1:
        return g
    if m == 1:
        return transpose(g)
    if g.op == "vec" and g.args[0].shape == (m, n):
        return g.args[0]
    if g.op == "mul" and g.args[0].is_scalar:          # unvec(c*v) = c*unvec(v)
        k = next(i for i, f in enumerate(g.args) if not f.is_scalar)
        return mul(*g.args[:k], unvec(mul(*g.args[k:]), m, n))
    if g.op == "mul":                                  # unvec(kron(B', A)*vec(V)) = A*V*B
        M = applied(g)
        if M is not None and M.shape == (m, n) and _reads_plainly(M):
            return M
    if g.op == "add":                                  # unvec is linear: taken inside when a term gains
        parts = [unvec(t, m, n) for t in g.args]
        if any(p.op != "unvec" for p in parts):
            return add(*parts)
    if g.op == "zero":
        return zero((m, n))
    return Node("unvec", (g,), (m, n), (m, n))


def _reads_plainly(M: Node) -> bool:
    """No reshape left inside but of a name: A'*unvec(y, m, q)*B' reads as matrix algebra; a chain of
    reshapes (the adjoint of a Kronecker product of the variable) reads better as the Kronecker formula."""
    return all(k.op != "unvec" or k.args[0].op == "sym" for k in walk(M))


def kron(a: Node, b: Node) -> Node:
    """The Kronecker product a ⊗ b; a scalar operand only scales."""
    if a.is_scalar or b.is_scalar:
        return mul(a, b)
    if is_zero(a) or is_zero(b):
        return zero((dim_product(a.shape[0], b.shape[0]), dim_product(a.shape[1], b.shape[1])))
    ca, ra = split_scalar(a)
    cb, rb = split_scalar(b)
    if (ca != 1 or cb != 1) and ra is not None and rb is not None:
        return mul(num(ca * cb), kron(ra, rb))
    if a.op == "eye" and b.op == "eye":
        return eye(dim_product(a.shape[0], b.shape[0]))
    shape = (dim_product(a.shape[0], b.shape[0]), dim_product(a.shape[1], b.shape[1]))
    return Node("kron", (a, b), None, shape)


def commutation(m: Dim, n: Dim) -> Node:
    """K(m,n): the permutation with K(m,n)*vec(A) = vec(A') for an m×n matrix A."""
    if m == 1 or n == 1:
        return eye(dim_product(m, n))
    return Node("comm", (), (m, n), (dim_product(m, n), dim_product(m, n)))



def apply(name: str, *args: Node, where: str = "") -> Node:
    """A function of rules/functions.toml applied to typed arguments: the result's shape follows the
    row's `kind`, and an argument of the wrong shape is a ShapeError naming both."""
    r = function_row(name)
    if len(args) != r.arity:
        raise ShapeError(f"{where or r.printed}: {r.printed} takes {r.arity} argument{'s' if r.arity > 1 else ''}, "
                         f"got {len(args)}")
    if r.arity > 1:
        return _apply_elementwise(r, args)
    arg = args[0]
    if r.axis:
        return _apply_along(r, arg, where)
    check_argument(r, arg.shape, where)
    if r.kind == "reduce" and r.linear and arg.is_scalar:
        return arg  # sum and trace of a scalar are the scalar
    if r.kind in ("tomatrix", "vector") and arg.is_scalar:
        # diag of a scalar is itself; a one-entry softmax is 1
        return arg if r.kind == "tomatrix" else fn(name, arg, SCALAR)
    return fn(name, arg, result_shape(r, arg.shape))


def _is_constant(n: Node) -> bool:
    return not any(m.op == "sym" for m in walk(n))


def _apply_elementwise(r, args: tuple[Node, ...]) -> Node:
    """max(a, b), min(a, b): the arguments broadcast to one shape, entry by entry. max(u, u) is u, and a
    commutative function puts a constant argument last (max(0, u) is max(u, 0)), so its partial in u is
    step(u) rather than 1 - step(-u)."""
    shape = tuple(next((a.shape[k] for a in args if a.shape[k] != 1), 1) for k in (0, 1))
    args = tuple(a if a.shape == shape else bcast(a, shape) for a in args)
    if all(a is args[0] for a in args):
        return args[0]
    if r.commutative and len(args) == 2 and _is_constant(args[0]) and not _is_constant(args[1]):
        args = (args[1], args[0])
    return Node("fn", args, r.name, shape)


def _apply_along(r, arg: Node, where: str) -> Node:
    """sum(X, 1), mean(X, 2), ...: along an axis of one entry the row's `single` value (x itself for a
    sum or a mean, 0 for a variance); along the long axis of a vector, the function of all its entries."""
    reduced = arg.shape[0] if r.axis == 1 else arg.shape[1]
    other = arg.shape[1] if r.axis == 1 else arg.shape[0]
    shape = result_shape(r, arg.shape)
    if reduced == 1:
        if r.single == "x":
            return arg
        if r.single == "0":
            return zero(shape)
        raise ValueError(f"rules/functions.toml: {r.name} has single = {r.single!r}; use \"x\" or \"0\"")
    if other == 1:
        from ..tables import spelled

        whole = next(w for w in spelled(r.printed) if not w.axis and w.arity == 1)
        return apply(whole.name, arg, where=where)
    return fn(r.name, arg, shape)


def size_scalar(d: Dim) -> Node:
    """A dimension used as a number: `m`, `3`, or `m*c` (the count of mean's rule: rows times columns)."""
    if isinstance(d, int):
        return num(d)
    whole, names = dim_factors(d)
    return mul(num(whole), *(sym(n, SCALAR) for n in names))


def vpow(base: Node, p: Node) -> Node:
    """base.^p (base^p for a scalar base) with a scalar exponent that is an expression, not a number:
    `x.^p`, `abs(x).^p`, `alpha^p`. Defined where the base is positive (the exponent is any real)."""
    if not p.is_scalar:
        raise ShapeError(f"an exponent must be a scalar, got {shape_text(p.shape)}")
    if p.op == "num":
        return power(base, p.attr) if base.is_scalar else epow(base, p.attr)
    return Node("vpow", (base, p), None, base.shape)


# ---------------------------------------------------------------- Kronecker products applied to a vec
# (B' ⊗ A) vec(V) = vec(A V B), K(m,n) vec(V) = vec(V'), diag(vec(E)) vec(V) = vec(E .* V) and
# vec(G)' vec(V) = sum(G .* V) (Magnus & Neudecker ch. 2 §4; Matrix Cookbook (520)). Read right to left,
# these turn a Jacobian in vec/Kronecker form applied to a direction into the product a person writes,
# never forming a (pq)×(mn) matrix. Three places use them: the Jacobian-vector product (engine/kronecker.py),
# the code generator's lowering row (compile/rewrites.py), and `unvec` above, so that a gradient through
# `kron(B', A)*vec(X)` prints as A'*(...)*B'.


def as_shape(W: Node, shape) -> Node:
    """W with the same entries in column-major order, as a `shape` matrix (unvec(vec(W)))."""
    if W.shape == tuple(shape):
        return W
    return unvec(vec(W), *shape)


def kronecker_like(a: Node) -> bool:
    """A matrix `apply_jacobian` applies without forming it."""
    if a.op in ("kron", "comm", "eye") or (a.op == "fn" and a.attr == "diag" and a.args[0].op == "vec"):
        return True
    return a.op in ("add", "mul") and all(f.is_scalar or kronecker_like(f) for f in a.args)


def applied(n: Node) -> Node | None:
    """For a column J1*...*Jk*g whose J's are Kronecker-like (one at least a kron or K): the matrix M with
    vec(M) = n; else None."""
    if n.op != "mul" or n.shape[1] != 1 or n.args[-1].shape[1] != 1 or n.args[-1].is_scalar:
        return None
    chain = [a for a in n.args[:-1] if not a.is_scalar]
    if not chain or not all(kronecker_like(a) for a in chain) or \
            not any(m.op in ("kron", "comm") for a in chain for m in walk(a)):
        return None
    scalars = [a for a in n.args[:-1] if a.is_scalar]
    last = n.args[-1]
    M = apply_jacobian(mul(*chain), last.args[0] if last.op == "vec" else last)
    return mul(*scalars, M) if scalars else M


def apply_jacobian(J: Node, W: Node) -> Node:
    """M with vec(M) = J*vec(W), without forming J where it is a Kronecker product or a permutation.
    M comes in the shape natural to J's leftmost factor; callers reshape it (as_shape)."""
    op = J.op
    if op == "add":
        parts = [apply_jacobian(t, W) for t in J.args]
        shape = parts[0].shape
        return add(*(as_shape(p, shape) for p in parts))
    if op == "mul":
        scalars = [a for a in J.args if a.is_scalar]
        chain = [a for a in J.args if not a.is_scalar]
        out = W
        for factor in reversed(chain):
            out = apply_jacobian(factor, out)
        return mul(*scalars, out) if scalars else out
    if op == "eye":
        return W
    if op == "zero":
        return zero((J.shape[0], 1))
    if op == "comm":                        # K(m,n) vec(V) = vec(V') for V m×n
        m, n = J.attr
        return transpose(as_shape(W, (m, n)))
    if op == "kron":                        # (P ⊗ Q) vec(V) = vec(Q V P')
        P, Q = J.args
        V = as_shape(W, (Q.shape[1], P.shape[1]))
        return mul(Q, V, transpose(P))
    if op == "fn" and J.attr == "diag" and J.args[0].op == "vec":   # diag(vec(E)) vec(V) = vec(E .* V)
        Em = J.args[0].args[0]
        return hadamard(Em, as_shape(W, Em.shape))
    if op == "T" and J.args[0].op == "vec":   # vec(G)' vec(V) = sum(G .* V)
        G = J.args[0].args[0]
        return apply("sum", hadamard(G, as_shape(W, G.shape)))
    if op == "vec" and W.is_scalar:          # vec(M) * s = vec(M*s)
        return mul(W, J.args[0])
    return mul(J, vec(W) if not W.is_scalar else W)


# ---------------------------------------------------------------- rebuilding


def substitute(root: Node, mapping: dict[Node, Node]) -> Node:
    """Replace nodes (by identity) and rebuild with the canonicalising constructors."""
    memo: dict[int, Node] = {}
    for node in walk(root):
        if node in mapping:
            memo[id(node)] = mapping[node]
            continue
        if not node.args:
            memo[id(node)] = node
            continue
        new_args = tuple(memo[id(a)] for a in node.args)
        memo[id(node)] = node if new_args == node.args else rebuild(node, new_args)
    return memo[id(root)]


def rebuild(node: Node, args: tuple[Node, ...]) -> Node:
    op = node.op
    if op == "add":
        return add(*args)
    if op == "mul":
        return mul(*args)
    if op == "had":
        return hadamard(*args)
    if op == "T":
        return transpose(args[0])
    if op == "pow":
        return power(args[0], node.attr)
    if op == "epow":
        return epow(args[0], node.attr)
    if op == "bcast":
        return bcast(args[0], node.shape)
    if op == "fn":
        return apply(node.attr, *args)
    if op == "vpow":
        return vpow(*args)
    if op == "vec":
        return vec(args[0])
    if op == "unvec":
        return unvec(args[0], *node.attr)
    if op == "kron":
        return kron(*args)
    return Node(op, args, node.attr, node.shape)
