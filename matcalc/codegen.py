"""Derived formulas as NumPy: one plan gives both the readable source and the callable.

The plan is built in three passes over the expression DAG (equal subtrees are one node, so sharing is
already visible there):

1. **Canonical form up to transposition.** The engine pushes transposes down to the leaves, so the
   bias gradient arrives as `(S' - Y')*ones(m)` while the weight gradients hold `S - Y`: the same
   values, transposed. Every node is rewritten as `r` or `r'` where `r` is the first orientation in
   which its value was met (sums and Hadamard products with their operands sorted), so `S' - Y'`
   *is* `(S - Y)'` and is computed once. `log(softmax_rows(Z))` becomes `log_softmax_rows(Z)`,
   which is shifted by the row maximum and never takes the log of an underflowed 0.
2. **Scalars where they are cheapest.** A scalar factor such as `1/m` in front of a gradient is
   moved, through the linear operations (matrix products, Hadamard products, transposes), onto the
   operand that most gradients share -- `(S - Y)/m`, once, the way a hand-written backward pass
   scales the output error -- or else onto the smallest array.
3. **Lowering** to NumPy steps: chains of products in the cheapest order (matrix-chain order), a
   product with `ones(m)` as a column or row sum (`A'*ones(m)` is `A.sum(axis=0)`), broadcast rows
   and columns left to NumPy broadcasting (`X @ W + b`), `step(z)` inside a Hadamard product as the
   mask `z > 0`, and the softmax next to its log as `exp(log_softmax)`.

The callable interprets the steps with small closures (no `exec` of generated text). With NumPy,
a temporary that has no other use is updated in place (`np.add(t, b, out=t)`), as a hand-written
loop does. The source shows the same steps as Python a person would write: values used twice get
a name, the rest is inlined.

Conventions: a vector is a 1-D array, a matrix 2-D, a scalar a float.
"""

from __future__ import annotations

import inspect
import keyword
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from . import runtime
from .errors import MatcalcError
from .expr import Node, walk
from .rules import functions

DEFAULT_SIZE = 32  # assumed size of an unknown dimension when ordering products and placing scalars

# fused functions the plan introduces (not in the language): name -> (kind, runtime helper)
_FUSED = {"log_softmax": "vector", "log_softmax_rows": "rows"}
_LOG_OF = {"softmax": "log_softmax", "softmax_rows": "log_softmax_rows"}
_INVARIANT_KINDS = ("reduce", "tovector")  # f(X') = f(X)


def _rep(shape) -> str:
    r, c = shape
    if r == 1 and c == 1:
        return "scalar"
    if c == 1:
        return "col"
    if r == 1:
        return "row"
    return "mat"


def _py_name(name: str) -> str:
    return name + "_" if keyword.iskeyword(name) or name in ("np",) else name


def _number(v) -> str:
    v = Fraction(v)
    if v.denominator == 1:
        return f"{v.numerator}.0"
    text = repr(float(v))
    return text if len(text) < 12 else f"({v.numerator} / {v.denominator})"


def _float_text(value: float) -> str:
    return f"{value:.1f}" if float(value).is_integer() and abs(value) < 1e15 else repr(float(value))


def _kind(fname: str) -> str:
    if fname in _FUSED:
        return _FUSED[fname]
    return functions()[fname].kind


def _spelling(fname: str) -> str:
    if fname in _FUSED:
        return fname
    return functions()[fname].numpy


# ================================================================ pass 1: canonical form


def _T(r: Node) -> Node:
    if r.is_scalar:
        return r
    if r.op == "T":
        return r.args[0]
    return Node("T", (r,), None, (r.shape[1], r.shape[0]))


def _orient(r: Node, flipped: bool) -> Node:
    return _T(r) if flipped else r


def _by_key(nodes):
    return tuple(sorted(nodes, key=lambda n: n.key))


def _scalars_first_numbers(nodes):
    """Scalar factors of a product in a fixed order, the number first (as the engine keeps it)."""
    return tuple(sorted(nodes, key=lambda n: (n.op != "num", n.key)))


def _transposes(nodes) -> int:
    return sum(1 for n in nodes if n.op == "T")


class _Canon:
    """Engine node -> (r, flipped): its value is r, or r' when flipped."""

    def __init__(self):
        self.memo: dict[int, tuple[Node, bool]] = {}
        self.known: dict[int, Node] = {}

    def _register(self, P: Node, Q: Node | None = None, prefer_fewer_transposes: bool = True) -> tuple[Node, bool]:
        """P is the value, Q its transpose: whichever was met first stands for both. A value met for the
        first time takes the orientation with fewer transposed operands (`S - Y` rather than `S' - Y'`)."""
        if id(P) in self.known:
            return P, False
        if Q is not None and id(Q) in self.known:
            return Q, True
        if prefer_fewer_transposes and Q is not None and Q is not P and _transposes(Q.args) < _transposes(P.args):
            self.known[id(Q)] = Q
            return Q, True
        self.known[id(P)] = P
        return P, False

    def __call__(self, root: Node) -> tuple[Node, bool]:
        for n in walk(root):
            if id(n) not in self.memo:
                self.memo[id(n)] = self._one(n)
        return self.memo[id(root)]

    def _one(self, n: Node) -> tuple[Node, bool]:
        op = n.op
        kids = [self.memo[id(a)] for a in n.args]
        tshape = (n.shape[1], n.shape[0])
        if not kids:
            return self._register(n)
        if op == "T":
            r, t = kids[0]
            return (r, False) if n.is_scalar else (r, not t)
        if op in ("add", "had"):
            P = Node(op, _by_key(_orient(r, t) for r, t in kids), None, n.shape)
            Q = None if n.is_scalar else Node(op, _by_key(_orient(r, not t) for r, t in kids), None, tshape)
            return self._register(P, Q)
        if op == "mul":
            scal = [r for (r, _), a in zip(kids, n.args) if a.is_scalar]
            chain = [(r, t) for (r, t), a in zip(kids, n.args) if not a.is_scalar]
            scal = list(_scalars_first_numbers(scal))
            P = Node("mul", tuple(scal + [_orient(r, t) for r, t in chain]), None, n.shape)
            if not chain:
                return self._register(P)
            Q = Node("mul", tuple(scal + [_orient(r, not t) for r, t in reversed(chain)]), None,
                     n.shape if n.is_scalar else tshape)
            return self._register(P, Q)
        if op == "pow":
            return self._register(Node("pow", (kids[0][0],), n.attr, n.shape))
        if op == "epow":
            r, t = kids[0]
            node, _ = self._register(Node("epow", (r,), n.attr, r.shape))
            return node, t
        if op == "bcast":
            r, t = kids[0]
            P = Node("bcast", (_orient(r, t),), None, n.shape)
            Q = None if n.is_scalar else Node("bcast", (_orient(r, not t),), None, tshape)
            return self._register(P, Q, prefer_fewer_transposes=False)   # b' over rows stays `+ b`
        if op == "fn":
            return self._fn(n, kids[0])
        raise MatcalcError(f"cannot compile the operation {op!r}")

    def _fn(self, n: Node, kid) -> tuple[Node, bool]:
        r, t = kid
        name = n.attr
        kind = _kind(name)
        if name == "log" and n.args[0].op == "fn" and n.args[0].attr in _LOG_OF:
            inner = self.memo[id(n.args[0])][0]            # softmax(z), never flipped
            return self._register(Node("fn", inner.args, _LOG_OF[inner.attr], inner.shape))
        if kind == "elementwise" or kind == "square":
            node, _ = self._register(Node("fn", (r,), name, r.shape))
            return node, t and not n.is_scalar
        if kind in _INVARIANT_KINDS:
            return self._register(Node("fn", (r,), name, n.shape))
        return self._register(Node("fn", (_orient(r, t),), name, n.shape))


# ================================================================ pass 2: scalar placement


def _scalars_and_chain(n: Node):
    scal = tuple(a for a in n.args if a.is_scalar)
    chain = tuple(a for a in n.args if not a.is_scalar)
    return scal, chain


def _linear_candidates(node: Node, depth: int, out: list):
    """Nodes a scalar factor can be moved onto through linear operations, with their depth."""
    while node.op == "T":
        node = node.args[0]
    if node.op in ("ones", "eye", "zero", "num", "bcast"):
        return
    out.append((node, depth))
    if node.op == "mul" and not node.is_scalar:
        for f in _scalars_and_chain(node)[1]:
            _linear_candidates(f, depth + 1, out)
    elif node.op == "had":
        for f in node.args:
            if f.op != "epow":
                _linear_candidates(f, depth + 1, out)


def _size(shape, sizes: dict) -> int:
    total = 1
    for d in shape:
        total *= d if isinstance(d, int) else sizes.get(d, DEFAULT_SIZE)
    return total


def _scaled(scal: tuple, node: Node) -> Node:
    if node.op == "mul":
        s2, chain = _scalars_and_chain(node)
        return Node("mul", _scalars_first_numbers(scal + s2) + chain, None, node.shape)
    return Node("mul", scal + (node,), None, node.shape)


def _replace_once(node: Node, target: Node, scal: tuple):
    """node with the first linear occurrence of target multiplied by scal; (new, found)."""
    if node is target:
        return _scaled(scal, node), True
    if node.op == "T":
        inner, found = _replace_once(node.args[0], target, scal)
        return (_T(inner), True) if found else (node, False)
    if (node.op == "mul" and not node.is_scalar) or node.op == "had":
        args = list(node.args)
        for i, a in enumerate(args):
            if a.is_scalar or a.op == "epow":
                continue
            new, found = _replace_once(a, target, scal)
            if found:
                args[i] = new
                return Node(node.op, tuple(args), node.attr, node.shape), True
    return node, False


def _place_scalars(roots: list[Node], sizes: dict) -> list[Node]:
    order: list[Node] = []
    seen: set[int] = set()
    for root in roots:
        for n in walk(root):
            if id(n) not in seen:
                seen.add(id(n))
                order.append(n)
    scaled = {}
    votes: dict[tuple, int] = {}
    for n in order:
        if n.op != "mul" or n.is_scalar:
            continue
        scal, chain = _scalars_and_chain(n)
        if not scal or not chain or (len(scal) == 1 and scal[0].op == "num" and scal[0].attr == -1):
            continue
        cands: list = [(n, 0)]
        for f in chain:
            _linear_candidates(f, 1, cands)
        scaled[id(n)] = (scal, cands)
        for c in {id(c): c for c, _ in cands}.values():
            votes[(scal, id(c))] = votes.get((scal, id(c)), 0) + 1
    if not scaled:
        return roots
    targets = {}
    for key, (scal, cands) in scaled.items():
        best = max(cands, key=lambda cd: (votes[(scal, id(cd[0]))], -_size(cd[0].shape, sizes), -cd[1]))
        targets[key] = best[0]
    memo: dict[int, Node] = {}
    for n in order:
        args = tuple(memo[id(a)] for a in n.args)
        new = n if all(a is b for a, b in zip(args, n.args)) else Node(n.op, args, n.attr, n.shape)
        target = targets.get(id(n))
        if target is not None and target is not n:
            target = memo[id(target)]
            scal, chain = _scalars_and_chain(new)
            body = chain[0] if len(chain) == 1 else Node("mul", chain, None, new.shape)
            moved, found = _replace_once(body, target, scal)
            if found:
                new = moved
        memo[id(n)] = new
    return [memo[id(r)] for r in roots]


# ================================================================ pass 3: lowering to steps


@dataclass
class Step:
    """One NumPy operation of the plan. `compact`: the array is smaller than the value's shape and
    NumPy broadcasting stands for the rest ('scalar', 'row' stored 1-D, 'col' stored n×1)."""

    op: str
    args: tuple = ()
    param: object = None
    rep: str = "mat"
    shape: tuple = (1, 1)
    compact: str | None = None
    fresh: bool = False      # allocates a new float array that nothing else holds
    hint: str = "t"
    label: str = ""          # a name the caller gave this value (A1, S, ...), used by the source


@dataclass(frozen=True)
class _Ref:
    slot: int
    rep: str
    compact: str | None = None


_FRESH_OPS = ("matmul", "outer", "add", "had", "scale", "colsum", "rowsum", "fn", "ones", "zeros", "eye")


class _Lowering:
    def __init__(self, plan: "Plan", roots: list[Node], fast: bool):
        self.plan = plan
        self.fast = fast
        self.steps: list[Step] = []
        self.memo: dict[int, _Ref] = {}
        self.extra: dict[tuple, _Ref] = {}
        self.size_slots: dict[str, int] = {}
        self.present: set[int] = set()
        for r in roots:
            for n in walk(r):
                self.present.add(id(n))
        self.keep: list[Node] = list(roots)
        for name in plan.inputs:
            self.steps.append(Step("input", (), name, _rep(plan.shapes[name]), plan.shapes[name], hint=name))

    # ---------------------------------------------------------------- helpers

    def emit(self, op, args=(), param=None, shape=(1, 1), compact=None, hint=None, rep=None) -> int:
        rep = rep or _rep(shape)
        fresh = op in _FRESH_OPS and rep != "scalar" and compact is None and param != "np.diag"
        self.steps.append(Step(op, tuple(args), param, rep, shape, compact, fresh, hint or op))
        return len(self.steps) - 1

    def ref(self, op, args=(), param=None, shape=(1, 1), compact=None, hint=None) -> _Ref:
        slot = self.emit(op, args, param, shape, compact, hint)
        return _Ref(slot, _rep(shape), compact)

    def size_slot(self, d) -> int:
        key = d if isinstance(d, str) else int(d)
        if key in self.size_slots:
            return self.size_slots[key]
        if isinstance(d, int):
            slot = self.emit("const", (), d, hint=str(d))
        elif d in self.plan.dim_sources:
            name, axis = self.plan.dim_sources[d]
            slot = self.emit("size", (self.plan.inputs.index(name),), axis, hint=d)
        else:
            slot = self.emit("argdim", (), d, hint=d)   # not implied by any input: a keyword argument
        self.size_slots[key] = slot
        return slot

    def full(self, ref: _Ref, shape) -> _Ref:
        """The array itself, broadcast out where it was stored compactly."""
        if ref.compact is None:
            return ref
        rep = _rep(shape)
        if rep == "scalar":
            return ref
        if rep in ("col", "row"):
            dims = [shape[0] if rep == "col" else shape[1]]
        else:
            dims = list(shape)
        slot = self.emit("expand", (ref.slot, *[self.size_slot(d) for d in dims]), None, shape, None, "full")
        return _Ref(slot, rep, None)

    def get(self, n: Node) -> _Ref:
        found = self.memo.get(id(n))
        if found is None:
            self.keep.append(n)
            found = self.memo[id(n)] = self.lower(n)
        return found

    # ---------------------------------------------------------------- nodes

    def lower(self, n: Node) -> _Ref:
        op = n.op
        rep = _rep(n.shape)
        if op == "sym":
            name = n.attr
            if name in self.plan.dim_scalars:
                slot = self.size_slot(name)
                return self.ref("float", (slot,), None, (1, 1), hint=name)
            return _Ref(self.plan.inputs.index(name), rep)
        if op == "num":
            return self.ref("const", (), float(n.attr), hint="c")
        if op == "ones":
            return self.ref("ones", (self.size_slot(n.shape[0]),), None, n.shape, hint="ones")
        if op == "eye":
            return self.ref("eye", (self.size_slot(n.shape[0]),), None, n.shape, hint="eye")
        if op == "zero":
            if rep == "scalar":
                return self.ref("const", (), 0.0)
            dims = [n.shape[0] if rep == "col" else n.shape[1]] if rep != "mat" else list(n.shape)
            return self.ref("zeros", tuple(self.size_slot(d) for d in dims), None, n.shape, hint="zeros")
        if op == "T":
            inner = self.get(n.args[0])
            if rep == "scalar":
                return inner
            if inner.compact == "row" and rep == "mat":
                return self.ref("asCol", (inner.slot,), None, n.shape, "col", hint="col")
            if inner.compact == "col" and rep == "mat":
                return self.ref("asRow", (inner.slot,), None, n.shape, "row", hint="row")
            if rep == "mat" and inner.compact is None:
                return self.ref("T", (inner.slot,), None, n.shape, hint="T")
            return _Ref(inner.slot, rep, inner.compact)
        if op == "bcast":
            return self.bcast(n)
        if op == "add":
            return self.add(n)
        if op == "had" or op == "epow":
            return self.had(n)
        if op == "mul":
            return self.mul(n)
        if op == "pow":
            base = self.get(n.args[0])
            return self.ref("pow", (base.slot,), Fraction(n.attr), (1, 1), hint="p")
        if op == "fn":
            return self.fn(n)
        raise MatcalcError(f"cannot compile the operation {op!r}")

    def bcast(self, n: Node) -> _Ref:
        child = n.args[0]
        inner = self.get(child)
        rep = _rep(n.shape)
        if child.is_scalar:
            return _Ref(inner.slot, rep, "scalar")
        if inner.compact is not None:
            inner = self.full(inner, child.shape)
        if rep != "mat":
            return _Ref(inner.slot, rep, None)
        if _rep(child.shape) == "row":
            return _Ref(inner.slot, rep, "row")
        return self.ref("asCol", (inner.slot,), None, n.shape, "col", hint="col")

    @staticmethod
    def _join(compacts) -> str | None:
        if any(c is None for c in compacts):
            return None
        kinds = set(compacts) - {"scalar"}
        if len(kinds) > 1:
            return None
        return kinds.pop() if kinds else "scalar"

    def add(self, n: Node) -> _Ref:
        terms = []
        for a in n.args:
            neg = False
            if a.op == "num" and a.attr < 0:
                a, neg = Node("num", (), -a.attr, a.shape), True
            elif a.op == "mul" and a.args[0].op == "num" and a.args[0].attr < 0:
                coef = -a.args[0].attr
                rest = a.args[1:]
                if coef != 1:
                    rest = (Node("num", (), coef, (1, 1)),) + rest
                a = rest[0] if len(rest) == 1 else Node("mul", rest, None, a.shape)
                neg = True
            terms.append((neg, a))
        refs = [(neg, self.get(a)) for neg, a in terms]
        # lead with a positive term, broadcast terms last: `X @ W + b`, `s - y`
        refs.sort(key=lambda nr: (nr[1].compact is not None, nr[0]))
        first = next((i for i, (neg, _) in enumerate(refs) if not neg), 0)
        refs = [refs[first]] + refs[:first] + refs[first + 1:]
        compact = self._join([r.compact for _, r in refs])  # a compact term against a full one: NumPy broadcasts
        signs = tuple(-1 if neg else 1 for neg, _ in refs)
        return self.ref("add", tuple(r.slot for _, r in refs), signs, n.shape, compact, "total")

    def had(self, n: Node) -> _Ref:
        factors = n.args if n.op == "had" else (n,)
        args, powers = [], []
        for f in factors:
            p = Fraction(1)
            if f.op == "epow":
                f, p = f.args[0], Fraction(f.attr)
            if self.fast and p == 1 and f.op == "fn" and f.attr == "step":
                ref = self.mask(f)
                powers.append("mask")
            else:
                ref = self.get(f)
                powers.append(p)
            args.append(ref)
        compact = self._join([r.compact for r in args])
        order = sorted(range(len(args)), key=lambda i: 1 if powers[i] == "mask" else (2 if powers[i] < 0 else 0))
        return self.ref("had", tuple(args[i].slot for i in order), tuple(powers[i] for i in order),
                        n.shape, compact, "elem")

    def mask(self, f: Node) -> _Ref:
        key = ("mask", id(f.args[0]))
        if key not in self.extra:
            z = self.get(f.args[0])
            activation = Node("fn", f.args, "relu", f.shape)
            if id(activation) in self.present:
                # relu(z) > 0 exactly where z > 0: the mask reads the activation, so nothing else
                # needs z and relu can overwrite it in place, as a hand-written forward pass does
                z = self.get(activation)
            self.extra[key] = self.ref("gt0", (z.slot,), None, f.shape, z.compact, "mask")
        return self.extra[key]

    def mul(self, n: Node) -> _Ref:
        scal, chain = _scalars_and_chain(n)
        const = Fraction(1)
        numer: list[_Ref] = []
        denom: list[_Ref] = []
        for s in scal:
            if s.op == "num":
                const *= s.attr
            elif s.op == "pow" and s.attr < 0:
                base = s.args[0] if s.attr == -1 else Node("pow", s.args, -s.attr, s.shape)
                denom.append(self.get(base))
            else:
                numer.append(self.get(s))
        if chain:
            body = self.chain(chain, n.shape)
        elif numer:
            body = numer.pop(0)
        else:
            body = self.ref("const", (), float(const))
            const = Fraction(1)
        if const == 1 and not numer and not denom:
            return body
        args = (body.slot,) + tuple(r.slot for r in numer) + tuple(r.slot for r in denom)
        return self.ref("scale", args, (float(const), len(numer)), n.shape, body.compact, "scaled")

    # ---------------------------------------------------------------- products

    def chain(self, factors, shape) -> _Ref:
        sizes = self.plan.size_hints
        leaves = []
        for f in factors:
            if f.op == "ones":
                leaves.append(("ones", f, None))
            elif f.op == "T" and f.args[0].op == "ones":
                leaves.append(("onesrow", f, None))
            elif f.op == "T" and _rep(f.shape) == "mat":
                leaves.append(("T", f, None))
            else:
                leaves.append(("plain", f, None))
        k = len(leaves)
        if k == 1:
            return self.leaf(leaves[0])
        dim = [(_size((f.shape[0],), sizes), _size((f.shape[1],), sizes)) for _, f, _ in leaves]
        cost = [[0.0] * k for _ in range(k)]
        split = [[0] * k for _ in range(k)]
        for length in range(2, k + 1):
            for i in range(0, k - length + 1):
                j = i + length - 1
                best = None
                for s in range(j - 1, i - 1, -1):
                    left_kind = leaves[i][0] if s == i else "prod"
                    right_kind = leaves[j][0] if s + 1 == j else "prod"
                    r, m, c = dim[i][0], dim[s][1], dim[j][1]
                    if right_kind == "ones" or left_kind == "onesrow":
                        pair = r * m if right_kind == "ones" else m * c
                    else:
                        pair = r * m * c
                    total = cost[i][s] + cost[s + 1][j] + pair
                    if best is None or total < best:
                        best, split[i][j] = total, s
                cost[i][j] = best

        def build(i, j):
            if i == j:
                return leaves[i]
            s = split[i][j]
            return ("pair", build(i, s), build(s + 1, j), (factors[i].shape[0], factors[j].shape[1]))

        return self.emit_tree(build(0, k - 1))

    def leaf(self, leaf) -> _Ref:
        return self.get(leaf[1])

    def emit_tree(self, tree) -> _Ref:
        if tree[0] != "pair":
            return self.leaf(tree)
        _, left, right, shape = tree
        lk, rk = left[0], right[0]
        rep = _rep(shape)
        if rk == "ones":
            if lk in ("ones", "onesrow"):
                pass
            elif lk == "T":
                inner = self.full(self.get(left[1].args[0]), left[1].args[0].shape)
                return self.ref("colsum", (inner.slot,), None, shape, hint="colsum")
            else:
                a = self.full(self.emit_tree(left), _tree_shape(left))
                if _rep(_tree_shape(left)) in ("row", "col"):
                    return self.ref("sumall", (a.slot,), None, shape, hint="total")
                return self.ref("rowsum", (a.slot,), None, shape, hint="rowsum")
        if lk == "onesrow" and rk not in ("ones", "onesrow"):
            if rk == "T":
                inner = self.full(self.get(right[1].args[0]), right[1].args[0].shape)
                return self.ref("rowsum", (inner.slot,), None, shape, hint="rowsum")
            b = self.full(self.emit_tree(right), _tree_shape(right))
            if _rep(_tree_shape(right)) in ("row", "col"):
                return self.ref("sumall", (b.slot,), None, shape, hint="total")
            return self.ref("colsum", (b.slot,), None, shape, hint="colsum")
        if rep == "mat" and lk == "ones" and _rep(_tree_shape(left)) == "col":
            b = self.emit_tree(right)
            if _rep(_tree_shape(right)) == "row":
                if b.compact == "scalar" or rk == "onesrow":
                    return _Ref(self.get(Node("num", (), Fraction(1))).slot if rk == "onesrow" else b.slot,
                                rep, "scalar")
                return _Ref(b.slot, rep, "row")
        if rep == "mat" and rk == "onesrow" and _rep(_tree_shape(left)) == "col":
            a = self.full(self.emit_tree(left), _tree_shape(left))
            return self.ref("asCol", (a.slot,), None, shape, "col", hint="col")
        lrep, rrep = _rep(_tree_shape(left)), _rep(_tree_shape(right))
        if lrep == "mat" and rrep != "scalar" and lk == "T" or rrep == "mat" and lrep != "scalar" and rk == "T":
            # a transposed operand goes to the product as a view: `A.T @ B`, no step of its own
            a, ta = self.operand(left)
            b, tb = self.operand(right)
            return self.ref("matmul", (a.slot, b.slot), (ta, tb), shape, hint="prod")
        a = self.full(self.emit_tree(left), _tree_shape(left))
        b = self.full(self.emit_tree(right), _tree_shape(right))
        if lrep == "scalar" or rrep == "scalar":
            return self.ref("had", (a.slot, b.slot), (Fraction(1), Fraction(1)), shape, None, "prod")
        if lrep == "col" and rrep == "row":
            return self.ref("outer", (a.slot, b.slot), None, shape, hint="outer")
        return self.ref("matmul", (a.slot, b.slot), (False, False), shape, hint="prod")

    def operand(self, tree) -> tuple[_Ref, bool]:
        if tree[0] == "T":
            inner = tree[1].args[0]
            return self.full(self.get(inner), inner.shape), True
        return self.full(self.emit_tree(tree), _tree_shape(tree)), False

    # ---------------------------------------------------------------- functions

    def fn(self, n: Node) -> _Ref:
        name = n.attr
        kind = _kind(name)
        arg = n.args[0]
        if name in _LOG_OF:
            fused = Node("fn", (arg,), _LOG_OF[name], n.shape)
            if id(fused) in self.present:
                logp = self.get(fused)
                return self.ref("fn", (logp.slot,), "np.exp", n.shape, hint=name)
        inner = self.get(arg)
        if kind == "elementwise":
            return self.ref("fn", (inner.slot,), _spelling(name), n.shape, inner.compact, name)
        inner = self.full(inner, arg.shape)
        return self.ref("fn", (inner.slot,), _spelling(name), n.shape, None, name)


def _tree_shape(tree):
    if tree[0] == "pair":
        return tree[3]
    return tree[1].shape


# ================================================================ the plan


@dataclass
class Plan:
    """Outputs (name -> node) over inputs (the symbols they use), computed together.

    `sizes` ({"m": 64, ...}) are hints for ordering chains of products and placing scalar factors;
    any sizes work at run time. `Plan(**arrays)` returns {output name: value}."""

    outputs: dict[str, Node]
    dim_scalars: set[str] = field(default_factory=set)
    xp: object = np
    sizes: dict | None = None
    names: dict | None = None

    def __post_init__(self):
        self.dim_scalars = set(self.dim_scalars)
        self.size_hints = dict(self.sizes or {})
        order: list[Node] = []
        seen: set[int] = set()
        for node in self.outputs.values():
            for n in walk(node):
                if id(n) not in seen:
                    seen.add(id(n))
                    order.append(n)
        self.order = order
        syms = {n.attr: n for n in order if n.op == "sym"}
        self.shapes = {name: n.shape for name, n in syms.items()}
        self.inputs = sorted(set(syms) - self.dim_scalars)
        self.dim_sources = self._dim_sources()
        self.fast = self.xp is np
        self._checked_shapes = None
        canon = _Canon()
        oriented = [_orient(*canon(node)) for node in self.outputs.values()]
        roots = _place_scalars(oriented, self.size_hints)
        lowering = _Lowering(self, roots, self.fast)
        for r in roots:
            for n in walk(r):
                lowering.get(n)
        refs = [lowering.full(lowering.get(r), r.shape) for r in roots]
        self._keep = lowering.keep
        for node, label in (self.names or {}).items():
            raw, flipped = canon(node)
            ref = lowering.memo.get(id(raw))
            if not flipped and ref is not None and ref.compact is None and str(label).isidentifier() \
                    and lowering.steps[ref.slot].op not in ("input", "argdim", "const", "size"):
                lowering.steps[ref.slot].label = str(label)
        self._finish(lowering.steps, refs)

    # ------------------------------------------------------------ dimensions

    def _dim_sources(self) -> dict[str, tuple[str, int]]:
        found: dict[str, tuple[str, int]] = {}
        for name in self.inputs:
            shape = self.shapes[name]
            rep = _rep(shape)
            axes = {"scalar": [], "col": [(shape[0], 0)], "row": [(shape[1], 0)],
                    "mat": [(shape[0], 0), (shape[1], 1)]}[rep]
            for d, axis in axes:
                if isinstance(d, str) and d not in found:
                    found[d] = (name, axis)
        return found

    def dims(self, env: dict) -> dict[str, int]:
        out = {}
        for d, (name, axis) in self.dim_sources.items():
            out[d] = int(np.shape(env[name])[axis])
        return out

    # ------------------------------------------------------------ steps

    def _finish(self, steps: list[Step], refs: list[_Ref]):
        n_fixed = len(self.inputs)
        out_slots = []
        live = set(range(n_fixed))
        for (name, node), ref in zip(self.outputs.items(), refs):
            out_slots.append((name, ref, node))
        stack = [ref.slot for _, ref, _ in out_slots]
        while stack:
            s = stack.pop()
            if s in live and s >= n_fixed:
                continue
            live.add(s)
            stack.extend(steps[s].args)
        renumber = {}
        kept: list[Step] = []
        for i, st in enumerate(steps):
            if i in live:
                renumber[i] = len(kept)
                kept.append(st)
        for st in kept:
            st.args = tuple(renumber[a] for a in st.args)
        self.steps = kept
        self.output_slots = [(name, _Ref(renumber[ref.slot], ref.rep, ref.compact), node)
                             for name, ref, node in out_slots]
        self.uses = [0] * len(kept)
        for st in kept:
            for a in st.args:
                self.uses[a] += 1
        for _, ref, _ in self.output_slots:
            self.uses[ref.slot] += 2
        self.n_fixed = n_fixed
        self._argdim_slots = [(st.param, i) for i, st in enumerate(kept) if st.op == "argdim"]
        self.arg_dims = [d for d, _ in self._argdim_slots]
        # a temporary is dropped after its last use, so NumPy can hand its (cache-warm) memory to the
        # next array, as it does for a hand-written function whose locals go out of use
        last: dict[int, int] = {}
        for i, st in enumerate(kept):
            for a in st.args:
                last[a] = i
        keep = {ref.slot for _, ref, _ in self.output_slots}
        dead: dict[int, list[int]] = {}
        for k, i in last.items():
            if k >= n_fixed and k not in keep and kept[k].rep != "scalar":
                dead.setdefault(i, []).append(k)
        self._runners = [(i, _closure(self, i, st), tuple(dead.get(i, ()))) for i, st in enumerate(kept)
                         if i >= n_fixed and st.op != "argdim"]
        self._input_specs = [(name, i, _ndim(_rep(self.shapes[name]))) for i, name in enumerate(self.inputs)]
        self._dim_checks = self._checks()
        # how each output leaves the plan: a float, a copy (of an input or a broadcast view), as is
        self._finals = []
        for name, ref, node in self.output_slots:
            if _rep(node.shape) == "scalar":
                kind = "float" if self.fast else "as is"
            else:
                kind = "copy" if self.fast and not self.steps[ref.slot].fresh else "as is"
            self._finals.append((name, ref.slot, kind))

    def _checks(self):
        by_dim: dict = {}
        for slot, name in enumerate(self.inputs):
            shape = self.shapes[name]
            rep = _rep(shape)
            want = {"scalar": (), "col": (shape[0],), "row": (shape[1],), "mat": tuple(shape)}[rep]
            for axis, d in enumerate(want):
                by_dim.setdefault(d, []).append((slot, axis, name))
        return [(d, places) for d, places in by_dim.items()]

    # ------------------------------------------------------------ running

    def __call__(self, **env):
        v = [None] * len(self.steps)
        fast = self.fast
        shapes = []
        for name, slot, ndim in self._input_specs:
            a = env.get(name, _MISSING)
            if a is _MISSING:
                missing = [n for n in self.inputs if n not in env]
                raise MatcalcError(f"missing input(s): {', '.join(missing)} "
                                   f"(inputs: {', '.join(self.inputs)})")
            if not (fast and (type(a) is np.ndarray and a.dtype is _F64 and a.ndim == ndim
                              or ndim == 0 and type(a) is float)):
                a = _as_input(name, a, self.shapes[name], fast)
                if np.ndim(a) != ndim:
                    got = np.shape(a)
                    raise MatcalcError(f"input {name} should be {_describe(_rep(self.shapes[name]))}, "
                                       f"got an array of shape {got}")
            v[slot] = a
            shapes.append(() if ndim == 0 else a.shape if fast else np.shape(a))
        for d, slot in self._argdim_slots:
            if d not in env:
                raise MatcalcError(f"the size of dimension {d!r} is not implied by any input; pass {d}=<int>")
            v[slot] = int(env[d])
        if shapes != self._checked_shapes:  # a training loop passes the same shapes every step
            for d, places in self._dim_checks:
                slot, axis, name = places[0]
                size = d if isinstance(d, int) else shapes[slot][axis]
                for slot, axis, name in (places if isinstance(d, int) else places[1:]):
                    got = shapes[slot]
                    if got[axis] != size:
                        raise MatcalcError(f"input {name} has shape {got}, but its dimension {d} is {size} "
                                           f"elsewhere")
            self._checked_shapes = shapes
        for i, run, dead in self._runners:
            v[i] = run(v)
            for k in dead:
                v[k] = None
        out = {}
        for name, slot, kind in self._finals:
            val = v[slot]
            out[name] = val if kind == "as is" else float(val) if kind == "float" else np.array(val, dtype=float)
        return out

    # ------------------------------------------------------------ text

    def source(self, name: str = "f", doc: str = "", with_helpers: bool = True) -> str:
        return SourceWriter(self).function(name, doc, with_helpers)


_MISSING = object()
_F64 = np.dtype(np.float64)


def _ndim(rep: str) -> int:
    return {"scalar": 0, "col": 1, "row": 1, "mat": 2}[rep]


def _describe(rep: str) -> str:
    return {"scalar": "a scalar", "col": "a vector (1-D array)", "row": "a vector (1-D array)",
            "mat": "a matrix (2-D array)"}[rep]


def _as_input(name, value, shape, fast=True):
    rep = _rep(shape)
    if rep == "scalar":
        if np.size(value) == 1 and (fast or isinstance(value, (int, float, np.ndarray, np.generic))):
            return float(np.asarray(value).reshape(()))
        return value
    if not fast and hasattr(value, "shape") and not isinstance(value, np.ndarray):
        return value
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as err:
        raise MatcalcError(f"input {name} is not an array of numbers ({err})") from None
    if rep in ("col", "row") and arr.ndim == 2 and 1 in arr.shape:
        arr = arr.reshape(-1)
    return arr


# ---------------------------------------------------------------- closures (the callable)


def _closure(plan: Plan, i: int, st: Step):
    xp = plan.xp
    fast = plan.fast
    op, args, param = st.op, st.args, st.param
    uses = plan.uses
    steps = plan.steps

    def owned(k):
        """An argument whose buffer this step may overwrite: a fresh temporary used only here."""
        s = steps[k]
        return fast and s.fresh and uses[k] == 1 and s.rep == st.rep and s.compact is None \
            and st.compact is None

    if op == "size":
        (a,) = args
        return lambda v: np.shape(v[a])[param]
    if op == "float":
        (a,) = args
        return lambda v: float(v[a])
    if op == "const":
        value = param
        return lambda v: value
    if op == "ones":
        (a,) = args
        return lambda v: xp.ones(v[a])
    if op == "eye":
        (a,) = args
        return lambda v: xp.eye(v[a])
    if op == "zeros":
        if len(args) == 1:
            (a,) = args
            return lambda v: xp.zeros(v[a])
        a, b = args
        return lambda v: xp.zeros((v[a], v[b]))
    if op == "expand":
        x, *dims = args
        if fast:
            return lambda v: np.broadcast_to(v[x], tuple(v[d] for d in dims))
        return lambda v: v[x] * xp.ones(tuple(v[d] for d in dims))
    if op == "T":
        (a,) = args
        return lambda v: v[a].T
    if op == "asCol":
        (a,) = args
        return lambda v: v[a][:, None]
    if op == "asRow":
        (a,) = args
        return lambda v: v[a][:, 0]
    if op == "matmul":
        a, b = args
        ta, tb = param
        if ta and tb:
            return lambda v: v[a].T @ v[b].T
        if ta:
            return lambda v: v[a].T @ v[b]
        if tb:
            return lambda v: v[a] @ v[b].T
        return lambda v: v[a] @ v[b]
    if op == "outer":
        a, b = args
        return lambda v: xp.outer(v[a], v[b])
    if op == "colsum":
        (a,) = args
        if fast:
            return lambda v: v[a].sum(axis=0)
        return lambda v: xp.sum(v[a], axis=0)
    if op == "rowsum":
        (a,) = args
        if fast:
            return lambda v: v[a].sum(axis=1)
        return lambda v: xp.sum(v[a], axis=1)
    if op == "sumall":
        (a,) = args
        if fast:
            return lambda v: v[a].sum()
        return lambda v: xp.sum(v[a])
    if op == "gt0":
        (a,) = args
        return lambda v: v[a] > 0
    if op == "pow":
        (a,) = args
        p = float(param)
        if p == -1.0:
            return lambda v: 1.0 / v[a]
        if p == 0.5:
            return lambda v: xp.sqrt(v[a])
        return lambda v: v[a] ** p
    if op == "add":
        return _add_closure(args, param, owned, xp)
    if op == "had":
        return _had_closure(args, param, owned, xp)
    if op == "scale":
        return _scale_closure(args, param, owned, xp)
    if op == "fn":
        (a,) = args
        if fast and steps[a].rep != "scalar" and steps[a].compact is None and param in runtime.FAST:
            f = runtime.FAST[param]
            if owned(a) and param in runtime.FAST_INPLACE:
                f = runtime.FAST_INPLACE[param]
            return lambda v: f(v[a])
        f = runtime.resolve(param, xp)
        return lambda v: f(v[a])
    raise MatcalcError(f"cannot run the step {op!r}")


def _add_closure(args, signs, owned, xp):
    if len(args) == 2:
        a, b = args
        sa, sb = signs
        if sa == 1 and sb == 1:
            if owned(a):
                return lambda v: np.add(v[a], v[b], out=v[a])
            if owned(b):
                return lambda v: np.add(v[a], v[b], out=v[b])
            return lambda v: v[a] + v[b]
        if sa == 1 and sb == -1:
            if owned(a):
                return lambda v: np.subtract(v[a], v[b], out=v[a])
            if owned(b):
                return lambda v: np.subtract(v[a], v[b], out=v[b])
            return lambda v: v[a] - v[b]
    pairs = list(zip(args, signs))

    def total(v):
        k, s = pairs[0]
        acc = v[k] if s == 1 else -v[k]
        for k, s in pairs[1:]:
            acc = acc + v[k] if s == 1 else acc - v[k]
        return acc

    return total


def _had_closure(args, powers, owned, xp):
    plain = all(p == "mask" or p == 1 for p in powers)
    if plain and len(args) == 2:
        a, b = args
        if owned(a):
            return lambda v: np.multiply(v[a], v[b], out=v[a])
        if owned(b) and powers[1] != "mask":
            return lambda v: np.multiply(v[a], v[b], out=v[b])
        return lambda v: v[a] * v[b]
    pairs = list(zip(args, powers))

    def power(x, p):
        if p == "mask" or p == 1:
            return x
        if p == Fraction(1, 2):
            return xp.sqrt(x)
        return x ** float(p)

    def elem(v):
        acc = None
        for k, p in pairs:
            if p != "mask" and p < 0:
                piece = v[k] if p == -1 else power(v[k], -p)
                acc = 1.0 / piece if acc is None else acc / piece
            else:
                piece = power(v[k], p)
                acc = piece if acc is None else acc * piece
        return acc

    return elem


def _scale_closure(args, param, owned, xp):
    const, n_numer = param
    body, numer, denom = args[0], args[1:1 + n_numer], args[1 + n_numer:]
    if const == 1.0 and not numer and len(denom) == 1:
        (d,) = denom
        if owned(body):
            return lambda v: np.divide(v[body], v[d], out=v[body])
        return lambda v: v[body] / v[d]
    if not numer and not denom:
        if const == -1.0:
            if owned(body):
                return lambda v: np.negative(v[body], out=v[body])
            return lambda v: -v[body]
        if owned(body):
            return lambda v: np.multiply(v[body], const, out=v[body])
        return lambda v: const * v[body]

    def factor(v):
        f = const
        for k in numer:
            f = f * v[k]
        for k in denom:
            f = f / v[k]
        return f

    if owned(body):
        return lambda v: np.multiply(v[body], factor(v), out=v[body])
    return lambda v: factor(v) * v[body]


# ================================================================ source text

ATOM, POW, UNARY, MUL, MATMUL, ADD, CMP = 100, 90, 80, 70, 69, 60, 40


class SourceWriter:
    """Python source for the same steps: a value used twice gets a name, the rest is inlined."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self.helpers: set[str] = set()
        self.lines: list[str] = []
        self.text: dict[int, tuple[str, int]] = {}
        self.counter = 0
        taken = {_py_name(n) for n in plan.inputs} | set(plan.arg_dims)
        self.taken = set(taken)
        outputs = {ref.slot for _, ref, _ in plan.output_slots}
        for i, st in enumerate(plan.steps):
            if st.op in ("input", "argdim"):
                self.text[i] = (_py_name(st.param), ATOM)
                continue
            rendered = self.render(i, st)
            if self._materialize(i, st, rendered, outputs):
                var = self._fresh(st)
                self.lines.append(f"    {var} = {rendered[0]}")
                rendered = (var, ATOM)
            self.text[i] = rendered

    def _materialize(self, i, st, rendered, outputs) -> bool:
        if st.op in ("const", "size"):
            return False
        if st.op == "float":
            return self.plan.uses[i] >= 2
        if st.op in ("T", "asCol", "asRow") and self.plan.steps[st.args[0]].op in ("input", "argdim"):
            return False
        return self.plan.uses[i] >= 2 and not (i in outputs and self.plan.uses[i] == 2)

    def _fresh(self, st: Step) -> str:
        if st.label and st.label not in self.taken and not keyword.iskeyword(st.label) and st.label != "np":
            self.taken.add(st.label)
            return st.label
        base = st.hint if st.hint.isidentifier() else "t"
        if st.op == "float" and base not in self.taken:
            self.taken.add(base)
            return base
        while True:
            self.counter += 1
            name = f"{base}_{self.counter}"
            if name not in self.taken:
                self.taken.add(name)
                return name

    def wrap(self, k: int, need: int) -> str:
        text, prec = self.text[k]
        return f"({text})" if prec < need else text

    def wrap_same(self, k: int, level: int) -> str:
        """Left operand of `*` or `@`: no brackets for the same operator, always for the other one
        (`(A @ B) * C` reads unambiguously; Python gives both one precedence)."""
        text, prec = self.text[k]
        return text if prec == level or prec >= UNARY else f"({text})"

    def bare(self, k: int) -> str:
        return self.text[k][0]

    def render(self, i: int, st: Step) -> tuple[str, int]:
        op, a = st.op, st.args
        if op == "size":
            return f"{self.wrap(a[0], ATOM)}.shape[{st.param}]", ATOM
        if op == "float":
            return self.text[a[0]]
        if op == "const":
            value = st.param
            if isinstance(value, int):
                return str(value), ATOM
            return _float_text(value), (UNARY if value < 0 else ATOM)
        if op == "ones":
            return f"np.ones({self.bare(a[0])})", ATOM
        if op == "eye":
            return f"np.eye({self.bare(a[0])})", ATOM
        if op == "zeros":
            dims = ", ".join(self.bare(k) for k in a)
            return (f"np.zeros(({dims}))" if len(a) > 1 else f"np.zeros({dims})"), ATOM
        if op == "expand":
            dims = ", ".join(self.bare(k) for k in a[1:])
            shape = f"({dims},)" if len(a) == 2 else f"({dims})"
            return f"np.broadcast_to({self.bare(a[0])}, {shape})", ATOM
        if op == "T":
            return f"{self.wrap(a[0], ATOM)}.T", ATOM
        if op == "asCol":
            return f"{self.wrap(a[0], ATOM)}[:, None]", ATOM
        if op == "asRow":
            return f"{self.wrap(a[0], ATOM)}[:, 0]", ATOM
        if op == "matmul":
            ta, tb = st.param
            left = f"{self.wrap(a[0], ATOM)}.T" if ta else self.wrap_same(a[0], MATMUL)
            right = f"{self.wrap(a[1], ATOM)}.T" if tb else self.wrap(a[1], UNARY)
            return f"{left} @ {right}", MATMUL
        if op == "outer":
            return f"np.outer({self.bare(a[0])}, {self.bare(a[1])})", ATOM
        if op == "colsum":
            return f"{self.wrap(a[0], ATOM)}.sum(axis=0)", ATOM
        if op == "rowsum":
            return f"{self.wrap(a[0], ATOM)}.sum(axis=1)", ATOM
        if op == "sumall":
            return f"np.sum({self.bare(a[0])})", ATOM
        if op == "gt0":
            return f"{self.wrap(a[0], ADD)} > 0", CMP
        if op == "pow":
            p = Fraction(st.param)
            if p == -1:
                return f"1.0 / {self.wrap(a[0], UNARY)}", MUL
            if p == Fraction(1, 2):
                return f"np.sqrt({self.bare(a[0])})", ATOM
            return f"{self.wrap(a[0], ATOM)} ** {_number(p) if p > 0 else '(' + _number(p) + ')'}", POW
        if op == "add":
            parts = []
            for k, (slot, sign) in enumerate(zip(a, st.param)):
                if k == 0:
                    parts.append(f"-{self.wrap(slot, UNARY)}" if sign < 0 else self.wrap(slot, ADD))
                else:
                    parts.append((" + " if sign > 0 else " - ") + self.wrap(slot, MATMUL))
            return "".join(parts), (ADD if len(parts) > 1 else UNARY)
        if op == "had":
            text, prec = "", ATOM
            for slot, p in zip(a, st.param):
                if p == "mask":
                    piece, div = f"({self.bare(slot)})", False
                elif p < 0:
                    piece = self.wrap(slot, UNARY) if p == -1 else self._power_text(slot, -p)
                    div = True
                else:
                    piece = self.wrap(slot, UNARY) if p == 1 else self._power_text(slot, p)
                    div = False
                if not text:
                    if div:
                        text, prec = f"1.0 / {piece}", MUL
                    elif p == 1:
                        text, prec = self.wrap_same(slot, MUL), MUL
                    else:
                        text, prec = piece, (ATOM if p == "mask" or p == Fraction(1, 2) else POW)
                else:
                    if prec != MUL and prec < UNARY:
                        text = f"({text})"
                    text, prec = f"{text} {'/' if div else '*'} {piece}", MUL
            return text, prec
        if op == "scale":
            const, n_numer = st.param
            body, numer, denom = a[0], a[1:1 + n_numer], a[1 + n_numer:]
            terms = len(numer) + len(denom) + (const != 1.0)
            if st.rep != "scalar" and terms > 1:
                # one multiplication of the array by a factor worked out on scalars, as the callable does
                factor = [] if const in (1.0, -1.0) else [_number(Fraction(abs(const)).limit_denominator(10**9))]
                factor += [self.wrap(k, UNARY) for k in numer]
                ftext = " * ".join(factor) or "1.0"
                for k in denom:
                    ftext += f" / {self.wrap(k, UNARY)}"
                ftext = ("-" if const < 0 else "") + ftext
                return f"{self.wrap_same(body, MUL)} * ({ftext})", MUL
            pieces = []
            if const not in (1.0, -1.0):
                pieces.append(_number(Fraction(abs(const)).limit_denominator(10**9)))
            pieces += [self.wrap(k, UNARY) for k in numer]
            if pieces:
                text = " * ".join(pieces) + " * " + self.wrap(body, UNARY)
            elif const < 0:
                text = self.wrap(body, UNARY)
            else:
                text = self.wrap_same(body, MUL)
            for k in denom:
                text += f" / {self.wrap(k, UNARY)}"
            if const < 0:
                text = "-" + (text if pieces or not denom else text)
                return text, (UNARY if not denom and not pieces else MUL)
            return text, (MUL if pieces or denom else self.text[body][1])
        if op == "fn":
            spelling = st.param
            if not spelling.startswith("np."):
                self.helpers.add(spelling)
            return f"{spelling}({self.bare(a[0])})", ATOM
        raise MatcalcError(f"cannot write source for {op!r}")

    def _power_text(self, slot: int, p: Fraction) -> str:
        if p == Fraction(1, 2):
            return f"np.sqrt({self.bare(slot)})"
        return f"{self.wrap(slot, ATOM)} ** {_number(p)}"

    def output_text(self, name: str) -> str:
        for key, ref, node in self.plan.output_slots:
            if key == name:
                text = self.bare(ref.slot)
                if self.plan.steps[ref.slot].op == "expand":
                    text += ".copy()"
                return text
        raise KeyError(name)

    def function(self, name: str, doc: str = "", with_helpers: bool = True) -> str:
        args = ", ".join([_py_name(a) for a in self.plan.inputs] + [_py_name(d) for d in self.plan.arg_dims])
        body = list(self.lines)
        results = [(key, self.output_text(key)) for key in self.plan.outputs]
        if len(results) == 1:
            body.append(f"    return {results[0][1]}")
        else:
            body.append("    return {")
            body += [f"        {k!r}: {v}," for k, v in results]
            body.append("    }")
        head = ["import numpy as np", ""]
        if with_helpers and self.helpers:
            for h in sorted(self.helpers):
                head.append("")
                head.append(inspect.getsource(runtime.HELPERS[h]).rstrip())
            head.append("")
        head.append("")
        doc_line = [f'    """{doc}"""'] if doc else []
        return "\n".join(head + [f"def {name}({args}):"] + doc_line + body) + "\n"


def function_source(name: str, outputs: dict[str, Node], dim_scalars=(), doc: str = "",
                    with_helpers: bool = True, sizes: dict | None = None, names: dict | None = None) -> str:
    """A self-contained Python function computing `outputs` (one value, or a dict of several).
    `names` ({node: "A1"}) names intermediate values in the source."""
    return Plan(outputs, set(dim_scalars), np, sizes, names).source(name, doc, with_helpers)


def compile_nodes(outputs: dict[str, Node], dim_scalars=(), xp=np, sizes: dict | None = None,
                  names: dict | None = None) -> Plan:
    """One plan for several outputs of the same expression (a loss and all its gradients): every
    shared value -- the activations, the softmax, the output error -- is computed once."""
    return Plan(outputs, set(dim_scalars), xp, sizes, names)


def compile_derivation(derivation):
    """`d.to_numpy()`: keyword arrays in, the derivative out."""
    plan = Plan({"result": derivation.result}, set(derivation.typed.dims))

    def gradient(**arrays):
        return plan(**arrays)["result"]

    gradient.inputs = plan.inputs
    gradient.plan = plan
    gradient.__doc__ = f"{derivation.layout}-layout ∂/∂{derivation.wrt} of {derivation.expression}: {derivation}"
    return gradient


def derivation_source(derivation) -> str:
    name = f"d_d{_py_name(derivation.wrt)}"
    doc = f"∂/∂{derivation.wrt} of {derivation.expression} ({derivation.layout} layout): {derivation}"
    return function_source(name, {"result": derivation.result}, derivation.typed.dims, doc)


def evaluate(node: Node, dim_scalars=(), xp=np, **arrays):
    """The value of a typed expression on arrays (used by the numeric checks)."""
    return Plan({"value": node}, set(dim_scalars), xp)(**arrays)["value"]
