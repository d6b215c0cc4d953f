"""Lowering rows: rewrites of the derived DAG, before code is generated, into forms that are
numerically stable or cheaper, each a row of `ROWS` (what it matches, what it becomes, why).

The engine prints textbook formulas, and some textbook formulas are poor code: `exp(z)/sum(exp(z))`
is NaN at z = 1000 (inf/inf), `log(1 + exp(a))` is inf there, `s'*(1 ./ s)` is 0*inf where a
softmax underflows, and `X'*(diag(s) - s*s')*X` multiplies through an n×n matrix. Each row below
recognises one such form and replaces it with the stable or structured equivalent (softmax,
log-sum-exp, `logaddexp(0, u)`, `log1p`, sigmoid, a dimension size, a distributed product); the
printed derivation is untouched, only the generated code changes. Rows apply bottom-up on the shared
DAG (each distinct node once), so the work is linear in the size of the named form.

The structural lowerings that depend on sizes (matrix-chain order, `diag(v)*A` as broadcasting,
`I*A`, `ones(m)'*A` as a column sum, `inv(A)*b` as `solve`) are priced in lowering.py's chain order.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Callable

from ..language import expr as E
from ..language.expr import Node, walk

MAX_PASSES = 8  # rows applied to one node at most this many times (each makes it smaller or stable)


@dataclass(frozen=True)
class Row:
    name: str
    pattern: str
    result: str
    why: str
    apply: Callable[[Node, set], Node | None]


# ---------------------------------------------------------------- recognisers


def _exp_arg(n: Node) -> Node | None:
    return n.args[0] if n.op == "fn" and n.attr == "exp" else None


def _is_one_like(n: Node) -> bool:
    return (n.op == "num" and n.attr == 1) or E.is_ones(n)


def _one_plus(n: Node) -> Node | None:
    """`1 + u` (scalar 1 or ones(n)): u, else None."""
    if n.op != "add" or len(n.args) != 2:
        return None
    a, b = n.args
    if _is_one_like(a):
        return b
    if _is_one_like(b):
        return a
    return None


def _normaliser(n: Node) -> tuple[str, Node] | None:
    """sum(exp(u)) -> ("softmax", u); 1 + exp(u) -> ("sigmoid", u)."""
    if n.op == "fn" and n.attr == "sum":
        u = _exp_arg(n.args[0])
        if u is not None and u.is_vector:
            return "softmax", u
    inner = _one_plus(n)
    if inner is not None:
        u = _exp_arg(inner)
        if u is not None:
            return "sigmoid", u
    return None


# ---------------------------------------------------------------- rows


def _log_sum_exp(n: Node, dims: set) -> Node | None:
    if n.op == "fn" and n.attr == "log" and n.args[0].op == "fn" and n.args[0].attr == "sum":
        u = _exp_arg(n.args[0].args[0])
        if u is not None and u.is_vector:
            return E.fn("logsumexp", u, E.SCALAR)
    return None


def _softplus(n: Node, dims: set) -> Node | None:
    if n.op == "fn" and n.attr == "log":
        inner = _one_plus(n.args[0])
        if inner is not None and _exp_arg(inner) is not None:
            return E.fn("softplus", _exp_arg(inner), n.shape)
    return None


def _log1p(n: Node, dims: set) -> Node | None:
    if n.op == "fn" and n.attr == "log":
        inner = _one_plus(n.args[0])
        if inner is not None and _exp_arg(inner) is None:
            return E.fn("log1p", inner, n.shape)
    return None


def _factors(n: Node) -> list[tuple[Node, Fraction]] | None:
    """A product as (base, power) pairs: the scalar factors of a `mul`, the factors of a `had`."""
    if n.op == "mul":
        out = []
        for a in n.args:
            if a.op == "pow":
                out.append((a.args[0], Fraction(a.attr)))
            else:
                out.append((a, Fraction(1)))
        return out
    if n.op == "had":
        return [(a.args[0], Fraction(a.attr)) if a.op == "epow" else (a, Fraction(1)) for a in n.args]
    return None


def _ratios(n: Node, dims: set) -> Node | None:
    """Pair every exp(u) of a product with one power of its normaliser: exp(u)/sum(exp(u)) is softmax(u)
    (also inside diag(...) or transposed in a chain), exp(u)/(1 + exp(u)) is sigmoid(u), and an
    unpaired 1/(1 + exp(u)) is sigmoid(-u). The softmax needs a scalar normaliser and vector
    numerators; the sigmoid pairs factors of the same shape (scalars in `mul`, vectors in `had`)."""
    factors = _factors(n)
    if not factors:
        return None
    new = list(factors)
    changed = False
    for i, (base, p) in enumerate(factors):
        found = _normaliser(base)
        if found is None or p >= 0:
            continue
        kind, u = found
        left = -p
        for j in range(len(new)):
            b, q = new[j]
            if left == 0:
                break
            if j == i or q <= 0:
                continue
            if kind == "softmax":
                wrapped = _wrap_of(b, u) if n.op == "mul" else None
                if wrapped is None or q != 1:
                    continue
                g = E.fn("softmax", u, u.shape)
                new[j] = ({"plain": g, "T": E.transpose(g),
                           "diag": E.fn("diag", g, (u.shape[0], u.shape[0]))}[wrapped], Fraction(1))
                left -= 1
            else:
                if _exp_arg(b) is not u:
                    continue
                take = min(q, left)
                new[j] = (b, q - take)
                new.append((E.fn("sigmoid", u, u.shape), take))
                left -= take
            changed = True
        if kind == "sigmoid" and left > 0:
            new[i] = (E.fn("sigmoid", E.neg(u), u.shape), left)   # 1/(1 + e^u) = sigmoid(-u)
            changed = True
        else:
            new[i] = (base, -left)
    if not changed:
        return None
    parts = []
    for base, p in new:
        if p == 0:
            continue
        if p == 1:
            parts.append(base)
        elif base.is_scalar:
            parts.append(E.power(base, p))
        else:
            parts.append(E.epow(base, p))
    if n.op == "mul":
        return E.mul(*parts)
    return E.hadamard(*parts)


def _wrap_of(base: Node, u: Node) -> str | None:
    if _exp_arg(base) is u:
        return "plain"
    if base.op == "T" and _exp_arg(base.args[0]) is u:
        return "T"
    if base.op == "fn" and base.attr == "diag" and _exp_arg(base.args[0]) is u and not base.is_vector:
        return "diag"
    return None


def _mentions_normaliser(n: Node) -> bool:
    return any(_normaliser(m) is not None for m in walk(n))


def _distribute_exp(n: Node, dims: set) -> Node | None:
    """exp(u)*(a + b) with the normaliser of exp(u) inside the sum: distribute, so that every term
    can pair exp(u) with its normaliser (the second derivative of log(1 + exp(u)) comes out so)."""
    if n.op not in ("mul", "had"):
        return None
    for k, a in enumerate(n.args):
        if a.op != "add" or not _mentions_normaliser(a):
            continue
        others = n.args[:k] + n.args[k + 1:]
        if not any(_exp_arg(o) is not None or (o.op in ("pow", "epow") and _exp_arg(o.args[0]) is not None)
                   for o in others):
            continue
        if not all(o.is_scalar or o.shape == a.shape for o in others) and n.op == "had":
            continue
        if n.op == "mul" and not a.is_scalar:
            continue
        build = E.mul if n.op == "mul" else E.hadamard
        return E.add(*(build(*others[:k], t, *others[k:]) for t in a.args))
    return None


def _dot_reciprocal(n: Node, dims: set) -> Node | None:
    """u'*(1 ./ u) = n, the length of u, where 1 ./ u is defined (0*inf where u underflows)."""
    if n.op != "mul":
        return None
    args = list(n.args)
    for i in range(len(args) - 1):
        a, b = args[i], args[i + 1]
        u = None
        if a.op == "T" and b.op == "epow" and b.attr == -1 and b.args[0] is a.args[0]:
            u = b.args[0]
        elif a.op == "T" and a.args[0].op == "epow" and a.args[0].attr == -1 and a.args[0].args[0] is b:
            u = b
        if u is None or not u.is_vector:
            continue
        d = u.shape[0]
        if isinstance(d, str):
            dims.add(d)
            count = E.sym(d, E.SCALAR)
        else:
            count = E.num(d)
        return E.mul(*args[:i], count, *args[i + 2:])
    return None


def _structured(t: Node) -> bool:
    """A term that a product need not form as a matrix: diag(v), I, an outer product, scaled."""
    core = t
    if core.op == "mul":
        chain = [a for a in core.args if not a.is_scalar]
        if len(chain) == 2 and chain[0].is_vector and chain[1].shape[0] == 1:
            return True
        if len(chain) == 1:
            core = chain[0]
        else:
            return False
    return core.op == "eye" or (core.op == "fn" and core.attr == "diag" and not core.is_vector)


def _distribute_structured(n: Node, dims: set) -> Node | None:
    """A*(diag(v) - s*s')*B: distribute over the sum, so no term is formed as a matrix (the Hessian
    of log-sum-exp is then X'*(v .* X) - (X'*s)*(X'*s)', as one writes it by hand)."""
    if n.op != "mul" or n.is_scalar:
        return None
    chain = [a for a in n.args if not a.is_scalar]
    if len(chain) < 2:
        return None
    for k, a in enumerate(n.args):
        if a.op == "add" and not a.is_scalar and a.shape[0] == a.shape[1] and all(_structured(t) for t in a.args):
            return E.add(*(E.mul(*n.args[:k], t, *n.args[k + 1:]) for t in a.args))
    return None


def _kronecker_applied(n: Node, dims: set) -> Node | None:
    """J*vec(W) with J a chain of Kronecker products, commutation matrices, diag(vec(E)) and identities:
    vec of the matrix product they stand for (expr.applied), never forming J."""
    M = E.applied(n)
    return None if M is None else E.vec(M)


ROWS = (
    Row("log-sum-exp", "log(sum(exp(u)))", "logsumexp(u)", "shifted by max(u): finite at u = 1000",
        _log_sum_exp),
    Row("softplus", "log(1 + exp(u))", "logaddexp(0, u)", "exp(1000) is inf; logaddexp is exact", _softplus),
    Row("log1p", "log(1 + u)", "log1p(u)", "exact for small u", _log1p),
    Row("distribute exp over its normaliser", "exp(u)*(a/(1 + exp(u)) + b)", "exp(u)*a/(1 + exp(u)) + exp(u)*b",
        "so that each term pairs exp(u) with its normaliser", _distribute_exp),
    Row("normalised exponentials", "exp(u)/sum(exp(u)), exp(u)/(1 + exp(u)), 1/(1 + exp(u))",
        "softmax(u), sigmoid(u), sigmoid(-u)", "inf/inf is NaN; the named functions are shifted", _ratios),
    Row("inner product with the reciprocal", "u'*(1 ./ u)", "n (the length of u)",
        "0*inf where u underflows", _dot_reciprocal),
    Row("distribute over a structured sum", "A*(diag(v) + s*t' + c*I)*B", "A*diag(v)*B + (A*s)*(t'*B) + c*A*B",
        "no n×n matrix is formed", _distribute_structured),
    Row("Kronecker product applied to a vec", "kron(B', A)*vec(V), K(m, n)*vec(V)", "vec(A*V*B), vec(V')",
        "the (pq)×(mn) Kronecker product is never formed", _kronecker_applied),
)


def lower(roots: list[Node]) -> tuple[list[Node], dict[int, Node], set]:
    """The roots with every row applied bottom-up; also {id(old node): new node} and the dimension
    names that became scalars (`n` in u'*(1 ./ u) = n)."""
    memo: dict[int, Node] = {}
    dims: set = set()
    for root in roots:
        for n in walk(root):
            if id(n) in memo:
                continue
            args = tuple(memo[id(a)] for a in n.args)
            new = n if all(a is b for a, b in zip(args, n.args)) else E.rebuild(n, args)
            memo[id(n)] = _apply(new, dims)
    return [memo[id(r)] for r in roots], memo, dims


def _apply(n: Node, dims: set) -> Node:
    for _ in range(MAX_PASSES):
        for row in ROWS:
            out = row.apply(n, dims)
            if out is not None and out is not n:
                # a row's result may hold new nodes (a distributed sum): lower those too
                n = _relower(out, dims) if out.op in ("add", "mul", "had") else out
                break
        else:
            return n
    return n


def _relower(n: Node, dims: set) -> Node:
    args = tuple(_apply(a, dims) if a.op in ("add", "mul", "had", "fn") else a for a in n.args)
    if all(a is b for a, b in zip(args, n.args)):
        return n
    return E.rebuild(n, args)
