"""The rewriter: brings a derived expression to the form a textbook prints.

Three passes, each terminating:
1. expand: distribute products over sums (bounded, so nothing explodes) and apply the identities of
   rules/simplify.toml and of the user's assumptions to every monomial, re-expanding what a rule
   produced. A sum that another factor divides by is kept whole until the quotient has cancelled
   (`s .* (1 - s) .* (a ./ (1 - s))` is `s .* a`). Subexpressions are expanded children first
   without recursion, so nesting depth costs no stack; rules that undo one another (a circular
   assumption) are caught as a loop and named, never left to recurse;
2. collect like terms (the constructors already cancel `a .* (b ./ a)` and merge scalar powers);
3. factor (factoring.py): pull out the factor most terms share — `A*x + A'*x` is `(A + A')*x`.
A pattern's lowercase names stand for vectors, uppercase for matrices, Greek for scalars. Nothing is
ordered by address or by a per-process hash, so every process prints the same result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from itertools import product

from ..errors import AssumptionError, MatcalcError
from ..language import expr as E
from ..language.expr import Node
from ..tables import simplify_rows
from . import factoring
from .factoring import collect, factor

MAX_TERMS = 64


@dataclass(frozen=True)
class Rule:
    name: str
    source: str
    pattern: Node
    result: Node
    wild: frozenset[str]
    dims: frozenset[str]


def _node_key(n: Node):
    return (n.op, n.attr if n.op == "fn" else None)


def _rule_key(p: Node):
    """Index a rule by what its pattern's top must be; a product pattern by its first factor."""
    if p.op == "mul":
        first = p.args[0]
        if first.op == "sym" or (first.op == "T" and first.args[0].op == "sym"):
            return ("mul-any",)
        return ("mul-window", first.op, first.attr if first.op == "fn" else None)
    return _node_key(p)


def _wild_kind(name: str) -> str:
    from ..language.shapes import GREEK

    if name in GREEK:
        return "scalar"
    return "matrix" if name[0].isupper() else "vector"


@lru_cache(maxsize=1)
def table_rules() -> tuple[Rule, ...]:
    from ..language.shapes import elaborate_many

    rules = []
    for row in simplify_rows():
        typed, (result,) = elaborate_many(row.pattern, None, (row.result,))
        dims = {d for n in E.walk(typed.root) for d in n.shape if isinstance(d, str)}
        rules.append(Rule(row.name, row.source, typed.root, result, frozenset(typed.names), frozenset(dims)))
    return tuple(rules)


def assumption_rule(name: str, source: str, lhs: Node, rhs: Node) -> Rule:
    return Rule(name, source, lhs, rhs, frozenset(), frozenset())


# ---------------------------------------------------------------- matching


class _Match:
    __slots__ = ("dims", "nodes")

    def __init__(self, nodes=None, dims=None):
        self.nodes: dict[str, Node] = dict(nodes or {})
        self.dims: dict[str, object] = dict(dims or {})

    def copy(self) -> _Match:
        return _Match(self.nodes, self.dims)


def _bind_dims(pshape, tshape, rule: Rule, m: _Match) -> bool:
    for p, t in zip(pshape, tshape):
        if isinstance(p, str) and p in rule.dims:
            if p in m.dims:
                if m.dims[p] != t:
                    return False
            else:
                m.dims[p] = t
        elif p != t:
            return False
    return True


def _match(p: Node, t: Node, rule: Rule, m: _Match) -> _Match | None:
    if p.op == "sym" and p.attr in rule.wild:
        kind = _wild_kind(p.attr)
        if kind == "scalar" and not t.is_scalar:
            return None
        if kind == "vector" and not t.is_vector:
            return None
        if kind == "matrix" and t.is_scalar:
            return None
        if p.attr in m.nodes:
            return m if m.nodes[p.attr] is t else None
        m = m.copy()
        if not _bind_dims(p.shape, t.shape, rule, m):
            return None
        m.nodes[p.attr] = t
        return m
    if p.op == "T" and p.args[0].op == "sym" and p.args[0].attr in rule.wild and t.op != "T" \
            and t.shape[0] == 1 and not t.is_scalar:
        return _match(p.args[0], E.transpose(t), rule, m)
    if p.op == "mul" and len(p.args) == 2 and _is_bare_wild(p.args[0], rule) \
            and _wild_kind(p.args[0].attr) == "scalar" and t.op == "mul" and t.args[0].is_scalar \
            and not t.is_scalar:
        # alpha*X matches any product with a scalar factor: alpha takes all the scalars
        k = 0
        while k < len(t.args) and t.args[k].is_scalar and not _scalar_chain(t.args[k]):
            k += 1
        if k == len(t.args) or k == 0:
            return None
        rest = t.args[k:]
        m = _match(p.args[0], E.mul(*t.args[:k]), rule, m)
        return None if m is None else _match(p.args[1], rest[0] if len(rest) == 1 else E.mul(*rest), rule, m)
    if p.op == "mul" and len(p.args) == 2 and p.args[0].op == "num" and _is_bare_wild(p.args[1], rule) \
            and t.op == "mul" and len(t.args) > 2 and t.args[0] is p.args[0]:
        # -X matches -A*w: X takes the rest of the product (the same number only, so no rule can
        # move a sign back and forth)
        return _match(p.args[1], E.mul(*t.args[1:]), rule, m)
    if E.is_ones_matrix(p) and E.is_ones_matrix(t):
        # a constant 1 is the same whatever shape the pattern gave it; its size is bound where it can be
        # (sum(ones(n)) = n)
        if p.op == "ones" and t.op == "ones":
            bound = m.copy()
            return bound if _bind_dims(p.shape, t.shape, rule, bound) else m
        return m
    if p.op != t.op or p.attr != t.attr:
        return None
    if p.op == "add":
        if len(p.args) != len(t.args):
            return None
        found = _match_commutative(list(p.args), list(t.args), rule, m, absorb=False)
        return found[0] if found and not found[1] else None
    if p.op in ("ones", "eye", "zero"):
        m = m.copy()
        return m if _bind_dims(p.shape, t.shape, rule, m) else None
    if p.op == "had":
        found = _match_commutative(list(p.args), list(t.args), rule, m)
        return found[0] if found and not found[1] else None
    if len(p.args) != len(t.args):
        return None
    for pa, ta in zip(p.args, t.args):
        m = _match(pa, ta, rule, m)
        if m is None:
            return None
    if p.op == "sym" and p is not t:
        return None
    return m


def _is_bare_wild(p: Node, rule: Rule) -> bool:
    return p.op == "sym" and p.attr in rule.wild


def _match_commutative(pats: list[Node], targets: list[Node], rule: Rule, m: _Match, absorb: bool = True):
    """Assign pattern factors to distinct target factors; a lone bare wildcard takes what is left.
    Returns (match, leftover targets) or None."""
    pats = sorted(pats, key=lambda p: _is_bare_wild(p, rule))
    rest_wild = pats[-1] if absorb and pats and _is_bare_wild(pats[-1], rule) \
        and pats[-1].attr not in m.nodes else None

    def go(i: int, remaining: list[Node], m: _Match):
        if i == len(pats):
            return m, remaining
        p = pats[i]
        if p is rest_wild and i == len(pats) - 1:
            if not remaining:
                return None
            node = remaining[0] if len(remaining) == 1 else E.hadamard(*remaining)
            got = _match(p, node, rule, m)
            return (got, []) if got else None
        for j, t in enumerate(remaining):
            got = _match(p, t, rule, m)
            if got is not None:
                out = go(i + 1, remaining[:j] + remaining[j + 1:], got)
                if out is not None:
                    return out
        return None

    return go(0, targets, m)


def _instantiate(node: Node, rule: Rule, m: _Match, shape_hint) -> Node:
    memo: dict[int, Node] = {}

    def dim(d):
        return m.dims.get(d, d) if isinstance(d, str) else d

    for n in E.walk(node):
        if n.op == "sym" and n.attr in m.nodes:
            memo[id(n)] = m.nodes[n.attr]
        elif n.op == "sym" and n.is_scalar and n.attr in rule.dims:     # a size as a number: sum(ones(n)) = n
            memo[id(n)] = E.size_scalar(dim(n.attr))
        elif n.op == "ones":
            memo[id(n)] = E.ones(dim(n.shape[0]))
        elif n.op == "eye":
            memo[id(n)] = E.eye(shape_hint[0] if n is node and shape_hint else dim(n.shape[0]))
        elif n.op == "zero":
            memo[id(n)] = E.zero((dim(n.shape[0]), dim(n.shape[1])))
        elif not n.args:
            memo[id(n)] = n
        elif n.op == "bcast":
            memo[id(n)] = E.bcast(memo[id(n.args[0])], (dim(n.shape[0]), dim(n.shape[1])))
        else:
            memo[id(n)] = E.rebuild(n, tuple(memo[id(a)] for a in n.args))
    return memo[id(node)]


def _split_chain(t: Node) -> tuple[list[Node], list[Node]]:
    scal = [a for a in t.args if a.is_scalar and not _scalar_chain(a)] if t.op == "mul" else []
    chain = [a for a in t.args if not (a.is_scalar and not _scalar_chain(a))] if t.op == "mul" else [t]
    return scal, chain


def _scalar_chain(a: Node) -> bool:
    return a.op == "mul" and a.is_scalar


def rewrite_once(t: Node, rules: tuple[Rule, ...], trace: list | None) -> Node | None:
    """Apply the first rule that matches `t` (or a window of its product chain); None if none does."""
    for rule in rules:
        p = rule.pattern
        if p.op == "mul" and t.op == "mul" and all(a.is_scalar and not _scalar_chain(a) for a in p.args):
            # scalar factors commute: match the pattern's factors among the target's scalar factors
            scal, chain = _split_chain(t)
            found = _match_commutative(list(p.args), scal, rule, _Match(), absorb=False) if scal else None
            if found:
                m, leftover = found
                if trace is not None:
                    trace.append(rule)
                return E.mul(_instantiate(rule.result, rule, m, E.SCALAR), *leftover, *chain)
            continue
        if p.op == "mul" and t.op == "mul":
            scal, chain = _split_chain(t)
            k = len(p.args)
            for i in range(len(chain) - k + 1):
                window = chain[i:i + k]
                m = _Match()
                for pa, ta in zip(p.args, window):
                    m = _match(pa, ta, rule, m)
                    if m is None:
                        break
                if m is None:
                    continue
                shape = E._chain_shape(window)
                new = _instantiate(rule.result, rule, m, shape)
                if trace is not None:
                    trace.append(rule)
                return E.mul(*scal, *chain[:i], new, *chain[i + k:])
            continue
        if p.op == "had" and t.op == "had":
            found = _match_commutative(list(p.args), list(t.args), rule, _Match())
            if found:
                m, leftover = found
                new = _instantiate(rule.result, rule, m, t.shape)
                if trace is not None:
                    trace.append(rule)
                return E.hadamard(new, *leftover) if leftover else new
            continue
        m = _match(p, t, rule, _Match())
        if m is not None:
            if trace is not None:
                trace.append(rule)
            return _instantiate(rule.result, rule, m, t.shape)
    return None


# ---------------------------------------------------------------- the simplifier


@dataclass
class Simplifier:
    rules: tuple[Rule, ...]
    trace: list = field(default_factory=list)
    _expanded: dict = field(default_factory=dict)
    _full: dict = field(default_factory=dict)
    _factored: dict = field(default_factory=dict)
    _settled: dict = field(default_factory=dict)

    def __post_init__(self):
        self.rules = tuple(self.rules)
        self._active: dict[Node, int] = {}  # expansions under way -> where their rules start in trace
        self._index: dict = {}
        self._position = {id(r): i for i, r in enumerate(self.rules)}  # the table's order, not addresses
        for rule in self.rules:
            self._index.setdefault(_rule_key(rule.pattern), []).append(rule)

    def candidates(self, t: Node) -> tuple[Rule, ...]:
        """Only the rules whose pattern could match t (or a window of its product chain)."""
        found = []
        if t.op == "mul":
            ops = {("mul-window", a.op, a.attr if a.op == "fn" else None) for a in t.args}
            for key in ops:
                found.extend(self._index.get(key, ()))
            found.extend(self._index.get(("mul-any",), ()))
        found.extend(self._index.get(_node_key(t), ()))
        if len(found) > 1:
            found.sort(key=lambda r: self._position[id(r)])
        return tuple(found)

    def __call__(self, node: Node) -> Node:
        found = self._full.get(node)
        if found is None:
            saved, factoring._factor_memo = factoring._factor_memo, self._factored
            try:
                self._prepare(node)
                found = factor(self.expand(node))
            finally:
                factoring._factor_memo = saved
            self._full[node] = found
            self._full[found] = found
        return found

    def _prepare(self, root: Node) -> None:
        """Expand the subexpressions children first, without recursion: the expansion of `root`
        then finds every argument done, so its own recursion stays shallow however deep the
        expression is nested."""
        stack = [root]
        seen: set[Node] = set()
        while stack:
            n = stack[-1]
            if n in self._expanded or n in self._active:
                stack.pop()
                continue
            todo = [a for a in n.args if a.args and a not in self._expanded and a not in seen]
            if todo:
                seen.update(todo)
                stack.extend(reversed(todo))
                continue
            stack.pop()
            if n is not root:
                self.expand(n)

    def expand(self, node: Node) -> Node:
        found = self._expanded.get(node)
        if found is not None:
            return found
        if node in self._active:
            raise _loop_error(self.trace[self._active[node]:], node)
        self._active[node] = len(self.trace)
        try:
            result = self._expand(node)
        finally:
            del self._active[node]
        self._expanded[node] = result
        return result

    def _terms(self, node: Node) -> list[Node]:
        e = self.expand(node)
        return list(e.args) if e.op == "add" else [e]

    def _settle(self, node: Node, depth: int = 0) -> Node:
        """Apply rules to one monomial until none applies (results re-expanded)."""
        if node in self._settled:
            found = self._settled[node]
            return node if found is None else self.expand(found)
        rules = self.candidates(node)
        new = rewrite_once(node, rules, self.trace) if rules else None
        self._settled[node] = new
        if new is None or new is node:
            return node
        if depth > 50:
            return new
        return self.expand(new) if new not in self._expanded else self._expanded[new]

    def _expand(self, node: Node) -> Node:
        op = node.op
        if not node.args:
            return self._settle(node)
        if op == "add":
            return collect([t for a in node.args for t in self._terms(a)], node.shape)
        if op in ("mul", "had"):
            groups = [self._terms(a) for a in node.args]
            kept = self._keep_divisors(node.args, groups)
            count = 1
            for g in groups:
                count *= len(g)
            build = E.mul if op == "mul" else E.hadamard
            if count > MAX_TERMS:
                return self._settle(build(*(self(a) for a in node.args)))
            terms = []
            for choice in product(*groups):
                term = build(*choice)
                if term.op == "add" or (kept and term is not node and _contains_factor(term, kept)):
                    terms.extend(self._terms(term))
                else:
                    terms.extend(self._split(self._settle(term)))
            return collect(terms, node.shape)
        if op == "T":
            inner = self.expand(node.args[0])
            t = E.transpose(inner)
            if t.op == "add":
                return collect([x for a in t.args for x in self._split(self._settle(a))], node.shape)
            return self._settle(t)
        if op == "bcast":
            terms = self._terms(node.args[0])
            return collect([self._settle(E.bcast(t, node.shape)) for t in terms], node.shape)
        if op in ("fn", "vpow"):
            return self._settle(E.rebuild(node, tuple(self(a) for a in node.args)))
        if op == "epow" and node.attr in (2, 3) and self.expand(node.args[0]).op == "add":
            # (1 - s).^2 = 1 - 2*s + s.^2, so that s - s.^2 and the like can meet and cancel
            terms = self._terms(node.args[0])
            if len(terms) ** int(node.attr) <= MAX_TERMS:
                out = []
                for choice in product(*([terms] * int(node.attr))):
                    out.extend(self._split(self._settle(E.hadamard(*choice))))
                return collect(out, node.shape)
        if op in ("pow", "epow"):
            base = self(node.args[0])
            c, rest = E.split_scalar(base)
            if rest is not None and c != 1 and Fraction(node.attr).denominator == 1:
                # (c*u).^p is c^p*u.^p: so that u ./ (c*u) cancels, and no divisor hides a number
                return self.expand(E.mul(E.num(c ** int(node.attr)), E.rebuild(node, (rest,))))
            return self._settle(E.rebuild(node, (base,)))
        return self._settle(node)

    def _keep_divisors(self, args, groups: list[list[Node]]) -> set[Node]:
        """Cancel before distributing: a sum that another factor's terms divide by stays whole, so
        `s .* (1 - s) .* (a ./ (1 - s))` is `s .* a`, not four quotients that no longer meet.
        Replaces such groups (in place) by the one undistributed sum; returns the sums kept."""
        divisors = {b for g in groups if len(g) <= MAX_TERMS for t in g for b in _divisors(t)
                    if b.op in ("add", "mul", "had")}  # only a sum (or a product of one) has terms
        kept: set[Node] = set()
        if not divisors:
            return kept
        for i, a in enumerate(args):
            if len(groups[i]) < 2:
                continue
            whole = a if a in divisors else self(a)
            if whole in divisors:
                groups[i] = [whole]
                kept.add(whole)
        return kept

    def _split(self, node: Node) -> list[Node]:
        if node.op == "add":
            return list(node.args)
        return [node]


def _factors(t: Node) -> list[Node]:
    """A monomial's factors, one level into a Hadamard product under a scalar coefficient."""
    if t.op in ("mul", "had"):
        out = []
        for a in t.args:
            out.extend(a.args if a.op == "had" else (a,))
        return out
    return [t]


def _divisors(t: Node) -> list[Node]:
    """The bases a monomial divides by (`a ./ d`, `alpha/delta`)."""
    return [f.args[0] for f in _factors(t) if f.op in ("pow", "epow") and f.attr < 0]


def _contains_factor(t: Node, bases: set[Node]) -> bool:
    return any((f.args[0] if f.op in ("pow", "epow") else f) in bases for f in _factors(t))


class RewriteLoopError(MatcalcError):
    """Rewrite rules that undo one another (never from the shipped tables alone)."""


def _loop_error(fired: list, node: Node) -> MatcalcError:
    from ..language.printing import to_text

    names = list(dict.fromkeys(r.name for r in fired))
    assumed = [r.name for r in fired if r.source.startswith("assumption")]
    shown = to_text(node)
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    if assumed:
        assumed = list(dict.fromkeys(assumed))
        listed = "', '".join(assumed)
        s, it = ("s", "them") if len(assumed) > 1 else ("", "it")
        return AssumptionError(f"circular assumption{s} '{listed}': rewriting {shown} with {it} leads back to "
                               f"{shown} (rules applied in turn: {'; '.join(names)}); state it so that "
                               f"its right side is simpler than its left")
    return RewriteLoopError(f"the simplification rules undo one another on {shown}: {'; '.join(names)}")


def canonical(root: Node) -> Node:
    """The same expression with every sum's terms in structural order: two simplified results are
    equal up to the order of terms exactly when their canonical forms are the same node. (The
    simplifier itself keeps terms in arrival order, so a forward expression stays the user's.)"""
    memo: dict[Node, Node] = {}
    for n in E.walk(root):
        if not n.args:
            memo[n] = n
            continue
        args = tuple(memo[a] for a in n.args)
        if n.op == "add":
            args = tuple(sorted(args, key=lambda a: a.key))
            memo[n] = n if args == n.args else E.Node("add", args, None, n.shape)
        else:
            memo[n] = n if args == n.args else E.rebuild(n, args)
    return memo[root]


def simplify(node: Node, rules: tuple[Rule, ...] = (), trace: list | None = None) -> Node:
    s = Simplifier(tuple(rules) + table_rules())
    out = s(node)
    if trace is not None:
        trace.extend(s.trace)
    return out
