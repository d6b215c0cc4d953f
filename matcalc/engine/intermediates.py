"""The book's names for a normalisation: a derived result written with mu, sigma2, sigma and x̂.

Batch norm and layer norm (Ioffe & Szegedy 2015, Alg. 1; Ba et al. 2016) are written with the mean
`sum(x)/m`, the variance `sum((x - mu).^2)/m` and the normalised `xhat = (x - mu)/sqrt(var + eps)`;
their gradients are printed in those names: `gamma*(dy - (1/m)*sum(dy) - (1/m)*(dy'*xhat)*xhat)/
sqrt(sigma2 + eps)`, not with the variance multiplied out. This module finds the pieces in the
expression as the user wrote it (the nodes are the very objects of the derived result) and rewrites the
result in their names. It only renames and regroups (factoring.py): the value is the same formula,
and the named form reads back (`body   where mu = ...; sigma2 = ...; xhat = ...`) to it.

(The names are those of the books; the variance is sigma2, not var, so that the named form still reads
back once var() is a function of the language.)
"""

from __future__ import annotations

from dataclasses import dataclass

from ..language import expr as E
from ..language.expr import Node
from ..language.printing import MAX_INLINE, inline_size, to_text
from . import factoring


@dataclass
class Normalisation:
    base: Node          # x
    mean: Node          # (1/m)*sum(x)
    centred: Node       # x - (1/m)*sum(x)
    variance: Node | None = None   # (1/m)*sum((x - mu).^2)
    std: Node | None = None        # sqrt(variance) or sqrt(variance + eps)


def _size(d) -> Node:
    whole, names = E.dim_factors(d)
    return E.mul(E.num(whole), *(E.sym(n, E.SCALAR) for n in names))


def _mean_of(node: Node) -> Node | None:
    """The vector v when node is (1/n)*sum(v) for v's n entries."""
    if node.op != "mul" or len(node.args) != 2 or not node.is_scalar:
        return None
    inv, total = node.args
    if total.op != "fn" or total.attr != "sum" or total.args[0].shape[1] != 1:
        return None
    v = total.args[0]
    return v if inv is E.power(_size(v.shape[0]), -1) else None


def normalisations(root: Node) -> list[Normalisation]:
    """Every mean-centred vector of the expression, with its variance and standard deviation if the
    expression has them."""
    nodes = E.walk(root)
    found: dict[Node, Normalisation] = {}
    for n in nodes:
        if n.op == "add" and len(n.args) == 2 and not n.is_scalar:
            v, t = n.args
            if t.op == "mul" and len(t.args) == 2 and t.args[0] is E.num(-1) and t.args[1].op == "bcast":
                mean = t.args[1].args[0]
                if _mean_of(mean) is v and v not in found:
                    found[v] = Normalisation(v, mean, n)
    for n in nodes:
        v = _mean_of(n)
        if v is not None and v.op == "epow" and v.attr == 2:
            for norm in found.values():
                if v.args[0] is norm.centred:
                    norm.variance = n
    for n in nodes:
        if n.op == "fn" and n.attr == "sqrt" and n.is_scalar:
            arg = n.args[0]
            for norm in found.values():
                if norm.variance is not None and (arg is norm.variance or (
                        arg.op == "add" and len(arg.args) == 2 and norm.variance in arg.args)):
                    norm.std = n if norm.std is None or arg is norm.variance else norm.std
    return list(found.values())


def named(result: Node, root: Node, taken: set[str]) -> tuple[Node, list[tuple[str, Node]]] | None:
    """The result in the book's names, with their definitions in order, or None when it has no
    normalisation to name."""
    norms = [n for n in normalisations(root) if n.std is not None]
    if not norms or inline_size(result) > MAX_INLINE:
        return None
    one = len(norms) == 1
    defs: list[tuple[str, Node]] = []
    body = result
    for norm in norms:
        stem = norm.base.attr if norm.base.op == "sym" else "z"

        def name(word: str, stem: str = stem) -> str:
            text = word if one else f"{word}_{stem}"
            while text in taken:
                text += "_"
            return text

        body = E.substitute(body, _variants(norm))
        mu = E.sym(name("mu"), E.SCALAR)
        var = E.sym(name("sigma2"), E.SCALAR)
        first = {norm.mean: mu, norm.variance: var}
        std = E.substitute(norm.std, first)
        plain_std = norm.std.args[0] is norm.variance       # sqrt(var): the book's sigma
        sigma = E.sym(name("sigma"), E.SCALAR) if plain_std else None
        if sigma is not None:
            first[norm.std] = sigma
            std = sigma
        centred = E.substitute(norm.centred, first)
        hat = E.sym(name(f"{stem}hat"), norm.base.shape)
        body = E.substitute(E.substitute(body, first), {centred: E.mul(hat, std),
                                                         E.transpose(centred): E.mul(E.transpose(hat), std)})
        defs.append((mu.attr, norm.mean))
        defs.append((var.attr, E.substitute(norm.variance, {norm.mean: mu})))
        if sigma is not None:
            defs.append((sigma.attr, E.apply("sqrt", var)))
        defs.append((hat.attr, E.mul(E.power(std, -1), centred)))
    body = _refactor(body)
    used = _used(body, defs)
    if not any(d[0].endswith("hat") for d in used):
        return None
    return body, used


def _variants(norm: Normalisation) -> dict[Node, Node]:
    """The ways a simplified result writes x - mu (the minus inside the repetition, or mu times
    ones), each mapped to the expression's own node (and the same for the transpose)."""
    v, mean, shape = norm.base, norm.mean, norm.centred.shape
    minus = (E.neg(E.bcast(mean, shape)), E.bcast(E.neg(mean), shape), E.neg(E.mul(mean, E.ones(shape[0]))))
    out: dict[Node, Node] = {}
    for t in minus:
        for terms in ((v, t), (t, v)):
            node = E.Node("add", terms, None, shape)
            if node is not norm.centred:
                out[node] = norm.centred
                out[E.transpose(node)] = E.transpose(norm.centred)
    return out


def _refactor(root: Node) -> Node:
    """Each sum regrouped again, innermost first, now that the names are in (factoring.py)."""
    memo: dict[int, Node] = {}
    for n in E.walk(root):
        if not n.args:
            memo[id(n)] = n
            continue
        args = tuple(memo[id(a)] for a in n.args)
        new = n if args == n.args else E.rebuild(n, args)
        memo[id(n)] = factoring.factor(new) if new.op == "add" else new
    return memo[id(root)]


def _used(body: Node, defs: list[tuple[str, Node]]) -> list[tuple[str, Node]]:
    """The definitions the body needs, the ones they use included, in their order."""
    names = {n.attr for n in E.walk(body) if n.op == "sym"}
    keep = []
    for name, definition in reversed(defs):
        if name in names:
            keep.append((name, definition))
            names |= {n.attr for n in E.walk(definition) if n.op == "sym"}
    return list(reversed(keep))


def named_text(body: Node, defs: list[tuple[str, Node]]) -> str:
    """`body   where mu = ...; sigma2 = ...; xhat = ...`: matcalc's named form, which reads back."""
    return to_text(body) + "   where " + "; ".join(f"{n} = {to_text(d)}" for n, d in defs)


def forward_names(root: Node, taken: set[str]) -> tuple[dict[Node, Node], list[tuple[str, Node]]]:
    """The same names for the steps: each node of the expression that is a mean, a variance or a
    standard deviation (node -> name), with the definitions in the names, in order; the steps then
    read ∂f/∂mu and ∂f/∂sigma2, the book's dmu and dvar."""
    norms = [n for n in normalisations(root) if n.variance is not None]
    mapping: dict[Node, Node] = {}
    defs: list[tuple[str, Node]] = []
    for norm in norms:
        suffix = "" if len(norms) == 1 else f"_{norm.base.attr if norm.base.op == 'sym' else 'z'}"
        pairs = [("mu", norm.mean), ("sigma2", norm.variance)]
        if norm.std is not None and norm.std.args[0] is norm.variance:
            pairs.append(("sigma", norm.std))
        for word, node in pairs:
            name = word + suffix
            while name in taken:
                name += "_"
            defs.append((name, E.substitute(node, mapping)))
            mapping[node] = E.sym(name, E.SCALAR)
    return mapping, defs
