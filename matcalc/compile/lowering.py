"""Pass 3 of the code generator: the (canonical, scalar-placed) DAG lowered to array steps.

Chains of products go in the cheapest order for the known or declared sizes (matrix-chain order),
where a factor's kind sets the price of a pair: a product with `ones(m)` is a column or row sum
(`A'*ones(m)` is `A.sum(axis=0)`), with `diag(v)` a broadcast multiplication (`v[:, None] * A`, never
the n×n matrix), with `I` nothing, with `inv(A)` a `solve`. A sum of matrices times a vector is
distributed (`(A + A')*x` is `A.T @ x + A @ x`, no n×n temporary) unless the sum is needed anyway.
Broadcast rows and columns are left to NumPy broadcasting (`X @ W + b`), `ones(n)` inside a sum or
Hadamard product is the number 1, `step(z)` inside a Hadamard product is the mask `z > 0`, and the
softmax next to its log is `exp(log_softmax)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..engine.domain import NONNEG, NONNEG_AE, POSITIVE, SignAnalysis
from ..errors import MatcalcError
from ..language.dims import dim_factors, is_product_dim
from ..language.expr import Node, walk
from .canon import _LOG_OF, _kind, _rep, _scalars_and_chain, _size, _spelling
from .runtime import resolve


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


_FOLDED = ("fn", "mul", "add", "pow", "vpow")   # scalar operations folded when their operands are numbers
_FRESH_OPS = ("matmul", "outer", "add", "had", "scale", "colsum", "rowsum", "fn", "ones", "zeros", "eye", "solve")


class _Lowering:
    def __init__(self, plan, roots: list[Node], fast: bool):
        self.plan = plan
        self.fast = fast
        self.steps: list[Step] = []
        self.memo: dict[int, _Ref] = {}
        self.extra: dict[tuple, _Ref] = {}
        self.size_slots: dict[str, int] = {}
        self.present: set[int] = set()
        self.parents: dict[int, int] = {}   # how many distinct nodes use each node as an operand
        for r in roots:
            self.parents[id(r)] = self.parents.get(id(r), 0) + 1   # an output is a use too
            for n in walk(r):
                if id(n) in self.present:
                    continue
                self.present.add(id(n))
                for child_id in {id(a) for a in n.args}:
                    self.parents[child_id] = self.parents.get(child_id, 0) + 1
        self.keep: list[Node] = list(roots)
        for name in plan.inputs:
            self.steps.append(Step("input", (), name, _rep(plan.shapes[name]), plan.shapes[name], hint=name))
        for name in plan.callables:          # a declared function's callable: its slot follows the arrays
            self.steps.append(Step("input", (), name, "scalar", (1, 1), hint=name))

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
        if is_product_dim(d):                            # the length of a vec: the product of its factors
            whole, names = dim_factors(d)
            factors = [self.size_slot(f) for f in names] + ([self.size_slot(whole)] if whole != 1 else [])
            slot = self.emit("sizeprod", tuple(factors), None, hint=d.replace("*", ""))
            self.size_slots[key] = slot
            return slot
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
        if self.steps[ref.slot].op == "const" and self.steps[ref.slot].param == 1.0 and len(dims) == 1:
            return self.ref("ones", (self.size_slot(dims[0]),), None, shape, hint="ones")
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
        if n.is_scalar and op in _FOLDED:
            value = self.folded(n)
            if value is not None:          # sqrt(2), normpdf(0): a number, in every array library
                return self.ref("const", (), value, hint="c")
        else:                              # known to the folding of its parents without a walk
            self.__dict__.setdefault("_folded", {})[id(n)] = float(n.attr) if op == "num" else None
        if op == "sym":
            name = n.attr
            if name in self.plan.dim_scalars:
                slot = self.size_slot(name)
                return self.ref("float", (slot,), None, (1, 1), hint=name)
            return _Ref(self.plan.inputs.index(name), rep)
        if op == "num":
            return self.ref("const", (), float(n.attr), hint="c")
        if op == "ones":   # in a sum or an elementwise product, the number 1 (NumPy broadcasts it)
            return _Ref(self.ref("const", (), 1.0, hint="c").slot, rep, "scalar")
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
        if op == "vpow":                         # x ** p with p a scalar of the plan
            base, p = self.get(n.args[0]), self.get(n.args[1])
            return self.ref("vpow", (base.slot, p.slot), None, n.shape, base.compact, "pw")
        if op == "fn":
            return self.fn(n)
        if op == "vec":
            X = n.args[0]
            return self.ref("vec", (self.full(self.get(X), X.shape).slot,), None, n.shape, hint="v")
        if op == "unvec":
            g = n.args[0]
            sizes = tuple(self.size_slot(d) for d in n.attr)
            return self.ref("unvec", (self.full(self.get(g), g.shape).slot, *sizes), None, n.shape, hint="M")
        if op == "kron":
            slots = tuple(self.full(self.get(a), a.shape).slot for a in n.args)
            return self.ref("kron", slots, tuple(_rep(a.shape) for a in n.args), n.shape, hint="K")
        if op == "comm":
            sizes = tuple(self.size_slot(d) for d in n.attr)
            return self.ref("comm", sizes, None, n.shape, hint="K")
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
            elif f.op == "T" and f.args[0].op == "fn" and f.args[0].attr == "inv":
                leaves.append(("invT", f, None))
            elif f.op == "T" and _rep(f.shape) == "mat":
                leaves.append(("T", f, None))
            elif f.op == "eye":
                leaves.append(("eye", f, None))
            elif f.op == "fn" and f.attr == "diag":
                leaves.append(("diag", f, None))
            elif f.op == "fn" and f.attr == "inv":
                leaves.append(("inv", f, None))
            else:
                leaves.append(("plain", f, None))
        k = len(leaves)
        if k == 1:
            return self.leaf(leaves[0])
        gram = self.gram(factors, shape)
        if gram is not None:
            return gram
        distributed = self.distributed(factors, shape)
        if distributed is not None:
            return self.get(distributed)
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
                    pair = _pair_cost(left_kind, right_kind, r, m, c)
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

    def distributed(self, factors, shape) -> Node | None:
        """(A + B)*x as A*x + B*x, and u'*(A + B) as u'*A + u'*B: a matrix sum times a vector is k
        matrix-vector products, never the summed matrix (for (A + A')*x that matrix is an n×n
        temporary read through a transposed, cache-hostile view). Only where nothing else uses the
        sum: a sum needed anyway is formed once and multiplied once. (Every node is lowered children
        first, so the sum has a step already; with no user left it is dropped as dead.)"""
        if len(factors) != 2 or _rep(shape) not in ("col", "row"):
            return None
        left, right = factors
        if left.op == "add" and _rep(right.shape) == "col":
            total, vec, on_left = left, right, False
        elif right.op == "add" and _rep(left.shape) == "row":
            total, vec, on_left = right, left, True
        else:
            return None
        if self.parents.get(id(total), 0) > 1:
            return None
        if any(t.is_scalar or t.op in ("bcast", "ones", "zero") for t in total.args):
            return None

        def factors_of(term):
            if term.op == "mul":
                return term.args
            if term.op == "T" and term.args[0].op == "mul":      # (c*A*B)' is c*B'*A'
                scal, chain = _scalars_and_chain(term.args[0])
                return scal + tuple(transposed(f) for f in reversed(chain))
            return (term,)

        def transposed(f):
            return f.args[0] if f.op == "T" else Node("T", (f,), None, (f.shape[1], f.shape[0]))

        def times(term):
            inner = factors_of(term)
            return Node("mul", ((vec,) + inner) if on_left else (inner + (vec,)), None, shape)

        return Node("add", tuple(times(t) for t in total.args), None, shape)

    def leaf(self, leaf) -> _Ref:
        return self.get(leaf[1])

    def emit_tree(self, tree) -> _Ref:
        if tree[0] != "pair":
            return self.leaf(tree)
        _, left, right, shape = tree
        lk, rk = left[0], right[0]
        rep = _rep(shape)
        if lk == "eye":                                  # I*A is A
            return self.emit_tree(right)
        if rk == "eye":
            return self.emit_tree(left)
        if (lk == "diag") != (rk == "diag"):             # diag(v)*A is v[:, None] * A, never n×n
            return self.diag_scale(left, right, shape)
        solved = self.solve(left, right, shape)
        if solved is not None:
            return solved
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

    def gram(self, factors, shape) -> _Ref | None:
        """A'*diag(w)*A with w >= 0 by structure (the Hessian of a logistic or log-sum-exp loss) is
        (A .* sqrt(w))'*(A .* sqrt(w)): NumPy computes a matrix times its own transpose by a symmetric
        rank-k update, half the multiplications of A'*(A .* w). The sign comes from domain.py's analysis
        and the `range`/`upper` columns of rules/functions.toml (1 - sigmoid(u) >= 0)."""
        if len(factors) != 3:
            return None
        left, middle, right = factors
        if not (left.op == "T" and left.args[0] is right and _rep(right.shape) == "mat"
                and middle.op == "fn" and middle.attr == "diag"):
            return None
        w = middle.args[0]
        try:
            sign = SignAnalysis()(w)
        except KeyError:                 # a fused helper of the code generator (log_softmax): no row
            return None
        if sign not in (POSITIVE, NONNEG, NONNEG_AE):
            return None
        root = Node("fn", (w,), "sqrt", w.shape)
        scaled = self.chain([Node("fn", (root,), "diag", middle.shape), right], right.shape)
        return self.ref("matmul", (scaled.slot, scaled.slot), (True, False), shape, hint="gram")

    def solve(self, left, right, shape) -> _Ref | None:
        """inv(A)*B is solve(A, B), inv(A)'*B is solve(A', B); a row b'*inv(A) is solve(A', b)."""
        lk, rk = left[0], right[0]
        lrep, rrep = _rep(_tree_shape(left)), _rep(_tree_shape(right))
        if lk in ("inv", "invT") and rrep in ("mat", "col"):
            inv_leaf, other, transposed = left, right, lk == "invT"
        elif rk in ("inv", "invT") and lrep == "row":
            inv_leaf, other, transposed = right, left, rk == "inv"
        else:
            return None
        fnode = inv_leaf[1] if inv_leaf[0] == "inv" else inv_leaf[1].args[0]
        A = fnode.args[0]
        a = self.full(self.get(A), A.shape)
        if transposed:
            a = self.ref("T", (a.slot,), None, (A.shape[1], A.shape[0]), hint="T")
        b = self.full(self.emit_tree(other), _tree_shape(other))
        return self.ref("solve", (a.slot, b.slot), None, shape, hint="solved")

    def diag_scale(self, left, right, shape) -> _Ref:
        """diag(v)*B scales the rows of B by v, A*diag(v) the columns of A: one broadcast product."""
        on_left = left[0] == "diag"
        d_leaf, other = (left, right) if on_left else (right, left)
        vnode = d_leaf[1].args[0]
        v = self.full(self.get(vnode), vnode.shape)
        o = self.full(self.emit_tree(other), _tree_shape(other))
        orep = _rep(_tree_shape(other))
        if orep == "mat":
            if on_left:
                v = self.ref("asCol", (v.slot,), None, shape, "col", hint="col")
            else:
                v = _Ref(v.slot, "mat", "row")
        args = (v.slot, o.slot) if on_left else (o.slot, v.slot)
        return self.ref("had", args, (Fraction(1), Fraction(1)), shape, None, "scaled")

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
        if len(n.args) > 1:          # np.maximum(u, 0.0): a broadcast constant stays a number
            refs = [self._elementwise_operand(a) for a in n.args]
            compact = self._join([r.compact for r in refs])
            return self.ref("fn", tuple(r.slot for r in refs), _spelling(name), n.shape, compact, name)
        axis = _axis(name)
        if axis:                     # np.sum(X, axis=0) for sum(X, 1)
            inner = self.full(self.get(arg), arg.shape)
            return self.ref("fnaxis", (inner.slot,), (_spelling(name), axis - 1), n.shape, None, name)
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


    def folded(self, n: Node) -> float | None:
        """The value of a scalar made of numbers only, worked out once when the plan is built."""
        memo = self.__dict__.setdefault("_folded", {})
        if id(n) in memo:
            return memo[id(n)]
        # nodes are lowered children first, so their values are usually known: no walk of the subtree
        todo = [n] if all(id(a) in memo for a in n.args) else [m for m in walk(n) if id(m) not in memo]
        for m in todo:
            kids = [memo.get(id(a)) for a in m.args]
            value = None
            if m.op == "num":
                value = float(m.attr)
            elif m.is_scalar and m.op in _FOLDED and kids and all(k is not None for k in kids):
                try:
                    with np.errstate(all="raise"):
                        if m.op == "mul":
                            value = float(np.prod(kids))
                        elif m.op == "add":
                            value = float(sum(kids))
                        elif m.op == "pow":
                            value = float(kids[0] ** float(m.attr))
                        elif m.op == "vpow":
                            value = float(kids[0] ** kids[1])
                        else:
                            value = float(resolve(_spelling(m.attr), np)(*kids))
                except (ArithmeticError, FloatingPointError, ValueError, TypeError):
                    value = None
                if value is not None and not np.isfinite(value):
                    value = None
            memo[id(m)] = value
        return memo[id(n)]

    def _elementwise_operand(self, a: Node) -> _Ref:
        if a.op == "zero":
            return _Ref(self.ref("const", (), 0.0, hint="c").slot, _rep(a.shape), "scalar")
        return self.get(a)


def _axis(name: str) -> int:
    from ..tables import functions

    row = functions().get(name)
    return row.axis if row is not None else 0


def _pair_cost(lk: str, rk: str, r, m, c) -> float:
    """Scalar multiplications of (r×m)*(m×c), by what the two operands are: one row per kind."""
    if lk == "eye" or rk == "eye":
        return 0                        # I*A is A
    if rk == "ones":
        return r * m                    # A*ones is a row sum
    if lk == "onesrow":
        return m * c                    # ones'*A is a column sum
    if lk == "diag" or rk == "diag":
        return r * c                    # diag(v)*A is a broadcast product
    if lk in ("inv", "invT"):
        return m * m * m / 3 + m * m * c   # inv(A)*B is solve(A, B)
    if rk in ("inv", "invT"):
        return m * m * m / 3 + m * m if r == 1 else m * m * m + r * m * c  # b'*inv(A): a solve
    return r * m * c


def _tree_shape(tree):
    if tree[0] == "pair":
        return tree[3]
    return tree[1].shape

