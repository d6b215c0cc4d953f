"""Factoring, the simplifier's last pass: collect like terms, then pull out the factor that most
terms share (to the left, right, as a scalar or as a Hadamard factor) and repeat on what is left, so
that `A*x + A'*x` becomes `(A + A')*x`.

Kept apart from the rewriter (simplify.py) because it is a different job: it never applies a rule,
only regroups, and it must terminate on any input — each round replaces two or more terms by one,
and it recurses only on terms it has made strictly smaller.
"""

from __future__ import annotations

from fractions import Fraction
from math import gcd
from weakref import WeakKeyDictionary

from ..language import expr as E
from ..language.expr import Node


def collect(terms: list[Node], shape) -> Node:
    """Sum like terms: `2*a + 3*a` is `5*a`."""
    coefs: dict[Node, Fraction] = {}
    order: list[Node] = []
    for t in terms:
        c, rest = E.split_scalar(t)
        key = rest if rest is not None else E.num(1)
        if key not in coefs:
            order.append(key)
            coefs[key] = Fraction(0)
        coefs[key] += c
    out = []
    for key in order:
        c = coefs[key]
        if c == 0:
            continue
        out.append(E.num(c) if key.op == "num" else E.scaled(c, key, shape))
    if not out:
        return E.zero(shape)
    if len(out) == 1:
        return out[0]
    return E.add(*out)


# ---------------------------------------------------------------- factoring


def _split_scalars(t: Node) -> tuple[list[Node], list[Node]]:
    """Scalar factors (scalar-valued chains such as x'*y included) and the matrix chain."""
    if t.op != "mul":
        return [], [t]
    return [a for a in t.args if a.is_scalar], [a for a in t.args if not a.is_scalar]


def _pieces(t: Node):
    """How a monomial can be factored: (kind, factor) candidates. A power offers its base too, so
    `s - s^2` can become `s*(1 - s)`."""
    scal, chain = _split_scalars(t)
    out = []
    for s in scal:
        if s.op == "num":
            continue
        out.append(("scalar", s))
        if s.op == "pow" and s.attr > 1:
            out.append(("scalar", s.args[0]))
    if chain:
        if chain[0].op != "eye":
            out.append(("left", chain[0]))
        if chain[-1].op != "eye":
            out.append(("right", chain[-1]))
        if len(chain) == 1 and chain[0].op == "had":
            for f in chain[0].args:
                out.append(("had", f))
                if f.op == "epow" and f.attr > 1:
                    out.append(("had", f.args[0]))
        elif len(chain) == 1 and chain[0].op == "epow" and chain[0].attr > 1:
            out.append(("had", chain[0].args[0]))
        elif len(chain) == 1 and chain[0].op not in ("eye", "mul"):
            out.append(("had", chain[0]))
    return out


def _remove(t: Node, kind: str, f: Node) -> Node:
    if kind == "scalar":
        return E.mul(t, E.power(f, -1))
    if kind == "had":
        return E.hadamard(t, E.epow(f, -1))
    coef, _ = E.split_scalar(t)
    scal, chain = _split_scalars(t)
    scal = [a for a in scal if a.op != "num"]
    if kind == "left":
        rest = chain[1:]
        if not rest:
            n = f.shape[1]
            rest = [E.eye(n) if n != 1 else E.num(1)]
        return E.mul(E.num(coef), *scal, *rest)
    rest = chain[:-1]
    if not rest:
        n = f.shape[0]
        rest = [E.eye(n) if n != 1 else E.num(1)]
    return E.mul(E.num(coef), *scal, *rest)


def _rebuild_factored(kind: str, f: Node, inner: Node) -> Node:
    if kind == "left":
        return E.mul(f, inner)
    if kind == "right":
        return E.mul(inner, f)
    if kind == "scalar":
        return E.mul(f, inner)
    return E.hadamard(f, inner)


_factor_memo: dict[Node, Node] = {}  # rebound per Simplifier call (see Simplifier.__call__)
_regroup = None  # rebound per Simplifier call: the factor rows of rules/simplify.toml (regroup below)
_known_sums: dict = {}  # rebound per Simplifier call: the sums of the user's expression, by their terms


def sum_key(terms) -> tuple:
    """A sum's terms as a multiset, by identity (the nodes are hash-consed)."""
    return tuple(sorted(id(t) for t in terms))


_last_known: list = [None, None]   # the last expression's table: the two simplifiers of a derivation share it


def known_sums(nodes) -> dict:
    """The sums among `nodes` (the user's expression), by their terms and by their terms negated. The
    table holds the terms it is keyed by, so that no key outlives its nodes."""
    if _last_known[0] is nodes:
        return _last_known[1]
    out: dict = {}
    held: list = []
    for n in nodes:
        if n.op == "add":
            for terms in (n.args, [_unbroadcast(t) for t in n.args]):
                negated = [E.neg(t) for t in terms]
                held.extend(terms)
                held.extend(negated)
                out.setdefault(sum_key(terms), (1, n))
                out.setdefault(sum_key(negated), (-1, n))
    out[None] = held
    _last_known[:] = [nodes, out]
    return out


def _unbroadcast(t: Node) -> Node:
    """A scalar repeated down a column as the scalar times ones: x - mu is x - mu*ones(m) too."""
    c, rest = E.split_scalar(t)
    if rest is not None and rest.op == "bcast" and rest.args[0].is_scalar and rest.shape[1] == 1:
        return E.mul(E.num(c), rest.args[0], E.ones(rest.shape[0]))
    return t


def _as_written(node: Node) -> Node:
    """A sum the user wrote, or its negation, as the user wrote it: X*b + c (not c + X*b), and
    -(y - X*w) for X*w - y where the expression has y - X*w (also as the one sum of a product)."""
    if not _known_sums:
        return node
    if node.op == "mul" and sum(a.op == "add" for a in node.args) == 1:
        new = tuple(_as_written(a) if a.op == "add" else a for a in node.args)
        return node if new == node.args else E.mul(*new)
    if node.op != "add":
        return node
    found = _known_sums.get(sum_key(node.args))
    if found is None:
        return node
    sign, written = found
    return written if sign == 1 else E.neg(written)


def _written_within(node: Node) -> Node:
    """Every sum inside a regrouped term as the user wrote it: (mu - x)*(mu - x)' is (x - mu)*(x - mu)'."""
    if not _known_sums:
        return node
    mapping = {}
    for n in E.walk(node):
        if n.op == "add":
            w = _as_written(n)
            if w is not n:
                mapping[n] = w
    return E.substitute(node, mapping) if mapping else node


def regroup(terms: list[Node], rules, match, instantiate, guarded) -> list[Node]:
    """Apply the factor rows (`kind = "factor"` in rules/simplify.toml) to a sum's terms: where some
    of the terms are, up to one common factor, the terms of a row's pattern, they become one term, the
    row's result times that factor: `g - g .* tanh(z).^2` is `g .* (1 - tanh(z).^2)`,
    `a*a' - a*b' - b*a' + b*b'` is `(a - b)*(a - b)'`. Terminates: each use makes fewer terms.
    `match` and `instantiate` are the rewriter's (simplify.py); `guarded` answers a row's `assume`."""
    if not rules or len(terms) < 2:
        return terms
    present = frozenset().union(*(_signature(t) for t in terms))
    scalar = terms[0].is_scalar
    rules = [r for r in rules if len(r.pattern.args) <= len(terms) and r.pattern.is_scalar == scalar
             and _spec(r)[3] <= present]
    while len(terms) >= 2 and rules:
        parts = [_coefficient(t) for t in terms]
        for rule in rules:
            found = _regroup_one(rule, terms, parts, match, instantiate, guarded)
            if found is not None:
                terms = found
                break
        else:
            return terms
    return terms


_signatures: WeakKeyDictionary[Node, frozenset] = WeakKeyDictionary()


def _signature(node: Node) -> frozenset:
    """The operations and functions in a formula (what a pattern needs before it can match), kept on
    each node of the DAG once computed: a sum of deep terms is not walked again at every regrouping."""
    stack = [node]
    while stack:
        n = stack[-1]
        if n in _signatures:
            stack.pop()
            continue
        missing = [a for a in n.args if a not in _signatures]
        if missing:
            stack.extend(missing)
            continue
        stack.pop()
        own = {(n.op, n.attr if n.op == "fn" else None)} if n.args and n.op not in ("add", "mul") else set()
        _signatures[n] = frozenset(own.union(*(_signatures[a] for a in n.args)))
    return _signatures[node]


_specs: WeakKeyDictionary = WeakKeyDictionary()   # by pattern node, then by the rule's names


def _spec(rule):
    """A factor row's pattern terms as (coefficient, rest), their names, the order to match them
    in (largest first), and what operations the pattern needs."""
    per = _specs.setdefault(rule.pattern, {})
    found = per.get((rule.wild, rule.dims))
    if found is None:
        pattern = [_coefficient(p) for p in rule.pattern.args]
        wild = [frozenset(n.attr for n in E.walk(p) if n.op == "sym" and n.attr in rule.wild
                          and n.attr not in rule.dims) for _, p in pattern]
        order = sorted(range(len(pattern)), key=lambda i: (pattern[i][0].op != "num", -_tree_size(pattern[i][1])))
        found = per[(rule.wild, rule.dims)] = (pattern, wild, order, _signature(rule.pattern))
    return found


def _coefficient(t: Node) -> tuple[Node, Node]:
    """A term as (its scalar factors, the rest): `-2*lam*(g .* h)` is (-2*lam, g .* h)."""
    if t.op == "mul" and not t.is_scalar:
        scal = [a for a in t.args if a.is_scalar]
        rest = [a for a in t.args if not a.is_scalar]
        if scal:
            return E.mul(*scal), rest[0] if len(rest) == 1 else E.mul(*rest)
    c, rest = E.split_scalar(t)
    return E.num(c), rest if rest is not None else E.num(1)


def _regroup_one(rule, terms: list[Node], parts, match, instantiate, guarded):
    """The first way some of `terms` are the pattern's terms times one scalar: the terms left and
    the regrouped one, or None. The pattern's terms are matched largest first, each against the terms
    not yet used, with what the earlier ones bound (a term whose names are all bound is looked up)."""
    if rule.pattern.is_scalar:
        return _regroup_scalar(rule, terms, match, instantiate, guarded)
    pattern, wild, order, _ = _spec(rule)
    by_rest: dict[Node, list[int]] = {}
    for i, (_, rest) in enumerate(parts):
        by_rest.setdefault(rest, []).append(i)

    def search(k: int, m, ratio, used: tuple):
        if k == len(order):
            return (m, ratio, used) if guarded(rule, m) else None
        pc, pr = pattern[order[k]]
        if m is not None and wild[order[k]] <= m.nodes.keys():
            want = instantiate(pr, rule, m, None)
            candidates = [i for i in by_rest.get(want, ()) if i not in used]
        else:
            candidates = [i for i in range(len(parts)) if i not in used]
        for i in candidates:
            coef, rest = parts[i]
            got = match(pr, rest, rule, m)
            if got is None:
                continue
            pci = pc if pc.op == "num" else instantiate(pc, rule, got, None)   # -sum(step(S)) for S
            if ratio is not None and coef is not E.mul(ratio, pci):
                continue
            r = ratio if ratio is not None else E.mul(coef, E.power(pci, -1))
            out = search(k + 1, got, r, used + (i,))
            if out is not None:
                return out
        return None

    found = search(0, None, None, ())
    if found is None:
        return None
    m, ratio, used = found
    grouped = _written_within(E.mul(ratio, instantiate(rule.result, rule, m, terms[used[0]].shape)))
    return [t for k, t in enumerate(terms) if k not in used] + [grouped]


def _regroup_scalar(rule, terms: list[Node], match, instantiate, guarded):
    """_regroup_one for a scalar pattern: a term is the pattern's term times the common scalar, the
    scalar made of the term's factors that the first pattern term leaves over (-(1/m)*(dy'*x) is
    a'*b times -(1/m))."""
    _, wild, _, _ = _spec(rule)
    whole = rule.pattern.args
    sizes = [{n.attr for n in E.walk(p) if n.op == "sym" and n.is_scalar and n.attr in rule.dims} for p in whole]
    order = sorted(range(len(whole)), key=lambda i: (len(sizes[i]), -_tree_size(whole[i])))
    index: dict[Node, list[int]] = {}
    for i, t in enumerate(terms):
        index.setdefault(t, []).append(i)

    def search(k: int, m, ratio, used: tuple):
        if k == len(order):
            return (m, ratio, used) if guarded(rule, m) else None
        j = order[k]
        p = whole[j]
        if m is not None and wild[j] <= m.nodes.keys() and sizes[j] <= m.dims.keys():
            want = E.mul(ratio, instantiate(p, rule, m, None))
            for i in index.get(want, ()):
                if i not in used:
                    out = search(k + 1, m, ratio, used + (i,))
                    if out is not None:
                        return out
            return None
        for i, t in enumerate(terms):
            if i in used:
                continue
            got = match(p, t if ratio is None else E.mul(t, E.power(ratio, -1)), rule, m, ratio is None)
            if got is None:
                continue
            got, left = got
            out = search(k + 1, got, left if ratio is None else ratio, used + (i,))
            if out is not None:
                return out
        return None

    found = search(0, None, None, ())
    if found is None:
        return None
    m, ratio, used = found
    grouped = _written_within(E.mul(ratio, instantiate(rule.result, rule, m, E.SCALAR)))
    return [t for k, t in enumerate(terms) if k not in used] + [grouped]


def factor(node: Node) -> Node:
    found = _factor_memo.get(node)
    if found is not None:
        return found
    result = _as_written(_factor(node))
    _factor_memo[node] = result
    return result


def _gather_linear(terms: list[Node]) -> list[Node]:
    """c1*f(u1) + c2*f(u2) = f(c1*u1 + c2*u2) for a linear f of the table (diag, sum, tr)."""
    from ..language.functions import row as function_row

    groups: dict[tuple, list[tuple[Node, Node]]] = {}     # by function and argument shape: sum(y) + sum(x)
                                                           # of different lengths stay two sums
    rest: list[Node] = []
    for t in terms:
        scal, chain = _split_scalars(t)
        if not chain and t.op == "mul":          # a scalar term c*sum(u): the one linear call in it
            calls = [a for a in scal if a.op == "fn" and function_row(a.attr).linear]
            if len(calls) == 1:
                scal, chain = [a for a in scal if a is not calls[0]], calls
        f = chain[0] if len(chain) == 1 else None
        if f is not None and f.op == "fn" and function_row(f.attr).linear:
            groups.setdefault((f.attr, f.args[0].shape), []).append((E.mul(*scal) if scal else E.num(1), f))
        else:
            rest.append(t)
    for items in groups.values():
        if len(items) < 2:
            rest.extend(E.mul(c, f) for c, f in items)
            continue
        inner = factor(collect([E.mul(c, f.args[0]) for c, f in items], items[0][1].args[0].shape))
        scale, inner = _scalars_out(inner)
        rest.append(E.mul(scale, E.rebuild(items[0][1], (inner,))))
    return rest


def _scalars_out(inner: Node) -> tuple[Node, Node]:
    """(c, u) for c*u: what a linear function's argument lets out in front (tr((1/2)*A) = (1/2)*tr(A))."""
    if inner.op == "mul" and not inner.is_scalar and inner.args[0].is_scalar:
        scal = [a for a in inner.args if a.is_scalar]
        rest = [a for a in inner.args if not a.is_scalar]
        return E.mul(*scal), rest[0] if len(rest) == 1 else E.mul(*rest)
    return E.num(1), inner


def _factor(node: Node) -> Node:
    """Pull out the factor most terms share, and repeat on what is left. Terminates: each round
    replaces two or more terms by one, and the recursion is on terms made strictly smaller (a
    removal that does not shrink them, as `a ./ (c*u)` times `c*u` when the constructors keep the
    coefficient apart, is refused). Ties go to the first piece met, in the terms' order: never to
    an address or a per-process hash."""
    if node.op != "add":
        return node
    terms = _gather_linear(list(node.args))
    if _regroup is not None:
        terms = _regroup(terms)
    if len(terms) == 1:
        return terms[0]
    refused: set = set()
    while True:
        pieces_of = [list(dict.fromkeys(_pieces(t))) for t in terms]
        counts: dict = {}
        for pieces in pieces_of:
            for piece in pieces:
                counts[piece] = counts.get(piece, 0) + 1
        best = None
        for piece, n in counts.items():
            if n < 2 or piece in refused:
                continue
            if best is None or n > best[1] or (n == best[1] and _prefer(piece, best[0])):
                best = (piece, n)
        if best is None:
            break
        kind, f = best[0]
        inside = [t for t, pieces in zip(terms, pieces_of) if best[0] in pieces]
        outside = [t for t, pieces in zip(terms, pieces_of) if best[0] not in pieces]
        if kind in ("left", "right") and _sandwich(f, inside):
            # A*B*A - A stays so; B between the A's is regrouped on its own
            refused.update({("left", f), ("right", f)})
            middle = [t for t in inside if _split_scalars(t)[1] != [f]]
            if len(middle) > 1:
                lone = [t for t in inside if _split_scalars(t)[1] == [f]]
                core = factor(collect([_remove(_remove(t, "left", f), "right", f) for t in middle],
                                      (f.shape[1], f.shape[0])))
                terms = outside + lone + [E.mul(f, core, f)]
            continue
        removed = [_remove(t, kind, f) for t in inside]
        if sum(map(_tree_size, removed)) >= sum(map(_tree_size, inside)):
            refused.add(best[0])
            continue
        inner = collect(removed, _inner_shape(kind, f, node.shape))
        if inner is node:
            break
        inner = factor(inner)
        grouped = _rebuild_factored(kind, f, _pull_coefficient(inner))
        if not outside:
            return _order(grouped)
        terms = outside + [grouped]
        if len(terms) == 1:
            return _order(terms[0])
    return _order(_pull_coefficient(E.add(*terms)) if len(terms) > 1 else terms[0])


def _sandwich(f: Node, terms: list[Node]) -> bool:
    """A*B*A - A is left as it is, not A*(B*A - I): a square factor at both ends of the other terms
    and alone in one (the Gaussian's inv(S)*(x - mu)*(x - mu)'*inv(S) - inv(S), GPML's a*a' - inv(K))."""
    if f.shape[0] != f.shape[1] or f.shape[0] == 1:
        return False
    chains = [_split_scalars(t)[1] for t in terms]
    alone = [c for c in chains if c == [f]]
    return bool(alone) and len(alone) < len(chains) and all(
        c == [f] or (len(c) > 1 and c[0] is f and c[-1] is f) for c in chains)


_sizes: WeakKeyDictionary[Node, int] = WeakKeyDictionary()


def _tree_size(root: Node) -> int:
    """Nodes in the expression written out as a tree (shared subtrees counted each time), without
    recursion: the measure that factoring must decrease."""
    stack = [root]
    while stack:
        n = stack[-1]
        if n in _sizes:
            stack.pop()
            continue
        missing = [a for a in n.args if a not in _sizes]
        if missing:
            stack.extend(missing)
            continue
        stack.pop()
        _sizes[n] = 1 + sum(_sizes[a] for a in n.args)
    return _sizes[root]


def _rank(piece) -> int:
    """Prefer pulling out what leaves a scalar behind: a column vector on the left, a row on the right."""
    kind, f = piece
    if kind == "scalar":
        return 0
    if kind == "had":
        return 3
    if (kind == "left" and f.shape[1] == 1) or (kind == "right" and f.shape[0] == 1):
        return 1
    if (kind == "left" and f.shape[0] == 1) or (kind == "right" and f.shape[1] == 1):
        return 4
    return 2


def _prefer(a, b) -> bool:
    return _rank(a) < _rank(b)


def _inner_shape(kind: str, f: Node, shape):
    if kind == "left":
        return (f.shape[1], shape[1]) if not f.is_scalar else shape
    if kind == "right":
        return (shape[0], f.shape[0]) if not f.is_scalar else shape
    return shape


def _pull_coefficient(node: Node) -> Node:
    """`2*a - 2*b` is `2*(a - b)`; `-a - b` is `-(a + b)`."""
    if node.op != "add":
        return node
    coefs = [E.split_scalar(t)[0] for t in node.args]
    if any(c.denominator > 10 ** 6 for c in coefs):
        return node          # pi (a float's fraction) is no coefficient to take a common factor of
    num = 0
    den = 1
    for c in coefs:
        num = gcd(num, c.numerator)
        den = den * c.denominator // gcd(den, c.denominator)
    g = Fraction(num, den)
    if all(c < 0 for c in coefs):
        g = -g
    if g == 1 or g == 0:
        return node
    inner = E.add(*(E.scaled(E.split_scalar(t)[0] / g, E.split_scalar(t)[1], node.shape) for t in node.args))
    return E.mul(E.num(g), _order(inner))


def _order(node: Node) -> Node:
    """Terms keep the order they arrived in (the user's own order for a forward expression such as
    X*W1 + b1', so that it stays one node with the forward pass); a term without a minus leads."""
    if node.op != "add":
        if node.op == "mul" and any(a.op == "add" for a in node.args):
            return E.mul(*(_order(a) if a.op == "add" else a for a in node.args))
        return node
    args = sorted(node.args, key=_transposes)  # stable: A + A', never A' + A
    return node if list(args) == list(node.args) else E.Node("add", tuple(args), None, node.shape)


def _transposes(term: Node) -> int:
    """Transposes at the top of a term (A' or c*A'*B), not those deep inside its arguments."""
    if term.op == "T":
        return 1
    return sum(1 for a in term.args if a.op == "T") if term.op == "mul" else 0
