r"""One walk over a document's formula, in two modes: `shape` types it (unifying dimensions, model.py) and
`eval` computes it on one random instance with HIPS autograd's NumPy, so that every derivative the text
writes (`\frac{\partial L}{\partial W}`, `\partial_{o_i} l`, `\nabla_\beta f`, `\phi'(z)`, a differential
`dX`) is measured exactly, outside matcalc's engine: ∂A/∂B is the Jacobian of A's definitions as a
function of B (a symbol, an entry `d_k`, a member `\theta_j` of a family, or a subexpression such as
`\log\hat{y}`), laid out as the document's layout says. Abstract functions are random smooth functions
drawn with the instance (judge.py), so an identity that must hold for every `l` or `\phi` is tested on
several.
"""

from __future__ import annotations

import zlib

import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval

from ...language.latex_doc import M
from .model import Model, ShapeClash, Var, pretty
from .walker_calls import ELEMENTWISE, Calls, Unread, constituent_defs, free_letters, key_of

class Walker(Calls):
    """(n_deriv, n_prime and n_diff are set by derivatives.py.)"""

    def __init__(self, model: Model, mode: str, unifier=None, instance=None, layout: str | None = None,
                 ranges=None, sumr=None):
        self.model, self.mode = model, mode
        self.u = unifier or model.unifier.copy()
        self.inst = instance                      # judge.Instance in eval mode
        self.layout = layout or model.layout
        self.ranges: dict = dict(ranges or {})    # index letter -> range dim
        self.sumr: dict = sumr if sumr is not None else {}   # id(sum node) -> ranges of its indices
        self.flags: set = set()
        self.strict = False                       # a claim: a symbol nothing declares or defines is UNREAD
        self.vary = None                          # the differential's variables (None: all)
        self.idx: dict = {}                       # index letter -> value (eval)
        self.over: dict = {}                      # symbol key -> value (eval), or shape
        self.t = None                             # the implicit variable of u', v' (eval)
        self.eps = None                           # the differential's parameter (eval)
        self.implicit: set = set()                # keys read as functions of the implicit variable
        self.used: set = set()                    # symbol keys met
        self.memo: dict = {}

    # ------------------------------------------------------------ helpers
    def rng_of(self, letter: str):
        if letter not in self.ranges:
            self.ranges[letter] = self.u.fresh("range:" + letter)
        return self.ranges[letter]

    def size(self, d) -> int:
        return self.inst.size(self.u.find(d))

    def shape_of(self, v):
        return v if self.mode == "shape" else tuple(v.shape)

    def scalar_shape(self):
        return (1, 1)

    def is_scalar(self, s) -> bool:
        if self.mode == "eval":
            return tuple(s) == (1, 1)
        return self.u.is_one(s[0]) and self.u.is_one(s[1])

    def flexible(self, s) -> bool:
        return all(isinstance(self.u.find(d), Var) and not self.u.find(d).named for d in s)

    def _auto_vector(self, s) -> bool:
        """A column whose length nothing has fixed yet (a symbol never declared)."""
        r = self.u.find(s[0])
        return self.u.is_one(s[1]) and isinstance(r, Var) and not r.named and not self.u.is_one(r)

    def unify_shapes(self, a, b, what):
        self.u.unify(a[0], b[0], what)
        self.u.unify(a[1], b[1], what)

    # ------------------------------------------------------------ the walk
    def run(self, node: M):
        try:
            return self.w(node)
        except ShapeClash as err:
            raise Unread(f"the shapes do not conform ({err})") from None
        except (ZeroDivisionError, FloatingPointError, np.linalg.LinAlgError) as err:
            raise Unread(f"not defined on a random instance ({err})") from None

    def w(self, n: M):
        k = n.kind
        handler = getattr(self, "n_" + k, None)
        if handler is None:
            raise Unread(_NOT_READ.get(k, f"{k} is not read"))
        return handler(n)

    def n_group(self, n):
        return self.w(n.args[0])

    def n_num(self, n):
        return (1, 1) if self.mode == "shape" else anp.array([[n.args[0]]])

    def n_name(self, n):
        return self.symbol(n.args[0], n)

    def n_layer(self, n):
        key, _ = key_of(n)
        return self.symbol(key, n)

    def n_ones(self, n, size=None):
        if self.mode == "shape":
            d = size if size is not None else self.u.fresh("ones")
            self.sumr[("ones", id(n))] = d
            return (d, 1)
        d = self.sumr.get(("ones", id(n))) or self.model.sumr.get(("ones", id(n)))
        if d is None:
            raise Unread("a ones vector whose length is not known")
        return anp.ones((self.size(d), 1))

    def n_sub(self, n):
        base = n.args[0]
        if base.kind == "num" and base.args[0] == 1.0 or base.kind == "ones":   # 1_c: the ones vector of size c
            items = n.args[1]
            if len(items) == 1 and items[0].kind == "name":
                d = self.model.dim(items[0].args[0])
                return (d, 1) if self.mode == "shape" else anp.ones((self.size(d), 1))
        if base.kind == "norm" and len(n.args[1]) == 1 and n.args[1][0].kind == "num" and n.args[1][0].args[0] == 2:
            return self.w(base)                     # \|x\|_2: the Euclidean (Frobenius) norm
        ko = key_of(n)
        if ko is not None:
            key, letters = ko
            if not letters:
                return self.symbol(key, n)
            return self.entry(key, letters, n)
        # an entry of an expression: (AB)_{ij}, softmax(z)_j
        letters = []
        for it in n.args[1]:
            if it.kind == "letters":
                letters.extend(it.args[0])
            elif it.kind == "name" and len(it.args[0]) == 1:
                letters.append(it.args[0])
            else:
                raise Unread("a subscript on an expression must be index letters")
        return self.take_entry(self.w(base), letters, "an expression")

    def take_entry(self, value, letters, what):
        if self.mode == "shape":
            r, c = value
            if len(letters) == 1:
                if not self.u.is_one(c) and not self.u.is_one(r) and self.u.maybe_one(c):
                    self.u.unify(c, 1, "a vector's columns")
                    rr = self.u.find(r)
                    if isinstance(rr, Var) and not rr.named:
                        rr.default = "size"
                if self.u.is_one(c):
                    self.u.unify(self.rng_of(letters[0]), r, f"the range of the index {letters[0]}")
                elif self.u.is_one(r):
                    self.u.unify(self.rng_of(letters[0]), c, f"the range of the index {letters[0]}")
                else:
                    raise Unread(f"one index on a matrix ({what})")
            elif len(letters) == 2:
                self.u.unify(self.rng_of(letters[0]), r, f"the range of the index {letters[0]}")
                self.u.unify(self.rng_of(letters[1]), c, f"the range of the index {letters[1]}")
            else:
                raise Unread("more than two indices")
            return (1, 1)
        i = [self.idx[x] for x in letters]
        if len(i) == 1:
            return value[i[0]:i[0] + 1, 0:1] if value.shape[1] == 1 else value[0:1, i[0]:i[0] + 1]
        return value[i[0]:i[0] + 1, i[1]:i[1] + 1]

    # ------------------------------------------------------------ symbols
    def check_known(self, key: str):
        m = self.model
        if key in m.failed and key not in m.defs:
            raise Unread(m.failed[key])
        if self.strict and key not in m.known and key not in m.defs and key not in m.functions and key not in m.dims \
                and key not in m.aliases \
                and key not in self.over and key not in self.implicit and key not in ("I", "b:I", "b:e", "e",
                                                                                   "delta") \
                and not (key.startswith("b:") is False and "b:" + key in m.defs):
            raise Unread(f"{pretty(key)} is never defined")

    def symbol(self, key: str, node: M):
        m = self.model
        key = m.whole_key(key)
        self.check_known(key)
        self.used.add(key)
        if key in self.over:
            return self.over[key]
        if key in self.implicit:
            return self.implicit_fn(key)
        if key in m.aliases:
            return self.symbol(m.aliases[key][0], node)
        if key in m.defs:
            d = m.defs[key]
            if d.indices:
                return self.whole_of_entries(d)
            return self.define(d)
        if key in m.functions:
            f = m.functions[key]
            if f.args is None:
                raise Unread(f"{key} is a function: its argument is missing")
            return self.call_abstract(key, [self.w(a) for a in f.args], f)
        if key in self.implicit:
            return self.implicit_fn(key)
        if key == "I" or key == "b:I":
            if self.mode == "shape":
                d = self.u.fresh("I")
                self.sumr[("I", id(node))] = d
                return (d, d)
            d = self.sumr.get(("I", id(node))) or self.model.sumr.get(("I", id(node)))
            if d is None:
                raise Unread("an identity matrix whose size is not known")
            return anp.eye(self.size(d))
        if key in m.dims and key not in m.symbols:     # n of X ∈ ℝ^{n×d}, N of a sum's bound: the number
            if self.mode == "shape":
                return (1, 1)
            return anp.array([[float(self.size(m.dims[key]))]])
        sym = m.base(key)
        if sym.family is not None:
            raise Unread(f"{key} is a family ({key}_j): an entry is meant")
        if self.mode == "shape":
            return sym.shape
        return self.inst.array(key, (self.size(sym.shape[0]), self.size(sym.shape[1])), sym.props, self)

    def letters_of(self, d) -> tuple:
        """The index values a definition's value can depend on: the letters free anywhere in what it is made
        of (through the definitions it uses) and the hot letters of one-hot labels — its memo's key."""
        m = self.model
        state = (tuple(map(id, m.defs.values())), tuple(m.onehot.items()))     # what the answer depends on
        cache = self.memo.get("letters")
        if cache is None or cache[0] != state:
            cache = self.memo["letters"] = (state, {})
        cache = cache[1]
        if d.key not in cache:
            seen, letters, stack = set(), set(m.onehot.values()), [d]
            while stack:
                x = stack.pop()
                if x.key in seen:
                    continue
                seen.add(x.key)
                letters |= free_letters(x.body)
                stack.extend(m.defs[k] for k in constituent_defs(m, x.body) if k in m.defs)
            cache[d.key] = tuple(sorted(letters))
        return tuple((x, self.idx.get(x)) for x in cache[d.key])

    def define(self, d):
        key = ("def", d.key, self.letters_of(d))
        if self.mode == "eval" and key in self.memo:
            return self.memo[key]
        saved, layout = self.idx, self.layout
        self.layout = d.layout or layout        # δ = ∂L/∂z means what it meant where it was defined
        try:
            v = self.w(d.body)
        finally:
            self.idx, self.layout = saved, layout
        if self.mode == "shape":
            s = self.model.shapes.get(d.key)
            if s is not None:
                self.unify_shapes(s, v, f"the definition of {d.key}")
        else:
            self.memo[key] = v
        return v

    def whole_of_entries(self, d):
        """The vector (or matrix) whose entries an entry definition `y_i = ...` gives."""
        shape = self.model.shapes[d.key]
        if self.mode == "shape":
            return shape
        if len(d.indices) != 1:
            raise Unread(f"{d.key} is defined entry by entry over two indices")
        memo_key = ("whole", d.key, tuple(sorted((k, v) for k, v in self.idx.items() if k != d.indices[0])))
        if memo_key in self.memo:
            return self.memo[memo_key]
        saved = dict(self.idx)
        n = self.size(shape[0])
        out = []
        for i in range(n):
            self.idx = {**saved, d.indices[0]: i}
            out.append(self.w(d.body)[0, 0])
        self.idx = saved
        self.memo[memo_key] = anp.reshape(anp.stack(out), (n, 1))
        return self.memo[memo_key]

    def entry(self, key: str, letters: tuple, node: M):
        m = self.model
        key = m.entry_key(key)
        self.check_known(key if key in m.defs or "b:" + key not in m.defs else "b:" + key)
        self.used.add(key)
        if key in m.aliases:
            key = m.aliases[key][0]
        if key not in self.over and key in m.defs and m.defs[key].indices:
            d = m.defs[key]
            if len(d.indices) != len(letters):
                raise Unread(f"{key} is defined with {len(d.indices)} index(es), used with {len(letters)}")
            if self.mode == "shape":
                for a, b in zip(letters, d.ranges):
                    self.u.unify(self.rng_of(a), b, f"the range of the index {a}")
                return self.model.shapes[d.key + "[]"]
            saved = self.idx
            self.idx = {**saved, **{b: self.idx[a] for a, b in zip(letters, d.indices)}}
            try:
                return self.w(d.body)
            finally:
                self.idx = saved
        if key not in self.over and "b:" + key in m.defs and not key.startswith("b:") and (
                key not in m.defs):
            return self.entry("b:" + key, letters, node)
        if key in ("b:e", "e") and key not in m.defs and key not in m.symbols and len(letters) == 1:
            if self.mode == "shape":
                return (self.rng_of(letters[0]), 1)
            n = self.size(self.ranges[letters[0]])
            return anp.eye(n)[:, self.idx[letters[0]]:self.idx[letters[0]] + 1]
        if key == "delta" and len(letters) == 2 and key not in m.symbols:
            if self.mode == "shape":
                self.u.unify(self.rng_of(letters[0]), self.rng_of(letters[1]), "the Kronecker delta")
                return (1, 1)
            return anp.array([[1.0 if self.idx[letters[0]] == self.idx[letters[1]] else 0.0]])
        sym = m.symbols.get(key)
        if sym is not None and sym.family is not None:
            rng, member = sym.family
            if len(letters) != 1:
                raise Unread(f"{key} is a family of vectors: one index")
            if self.mode == "shape":
                self.u.unify(self.rng_of(letters[0]), rng, f"the range of the index {letters[0]}")
                return member
            whole = self.family_array(key)
            i = self.idx[letters[0]]
            return anp.reshape(whole[i], (-1, 1))
        if key not in self.over and key not in m.defs and key not in m.symbols:
            sym = m.base(key)
            if len(letters) == 1 and not (self.u.maybe_one(sym.shape[1]) or self.u.is_one(sym.shape[1])):
                sym.shape = (sym.shape[0], 1)
        return self.take_entry(self.symbol(key, node), letters, key)

    def family_array(self, key):
        if key in self.over:
            return self.over[key]
        rng, member = self.model.symbols[key].family
        return self.inst.array(key, (self.size(rng), self.size(member[0])), set(), self)

    # ------------------------------------------------------------ algebra
    def mul(self, a, b):
        if self.mode == "shape":
            if self.is_scalar(a):
                return b
            if self.is_scalar(b):
                return a
            if self.flexible(a) and all(self.u.maybe_one(d) for d in a):
                self.unify_shapes(a, (1, 1), "a scalar factor")
                return b
            if self.flexible(b) and all(self.u.maybe_one(d) for d in b):
                self.unify_shapes(b, (1, 1), "a scalar factor")
                return a
            self.u.unify(a[1], b[0], "a product")
            return (a[0], b[1])
        if a.shape == (1, 1) or b.shape == (1, 1):
            return a * b
        return anp.dot(a, b)

    def n_mul(self, n):
        return self.mul(self.w(n.args[0]), self.w(n.args[1]))

    def n_div(self, n):
        a, b = self.w(n.args[0]), self.w(n.args[1])
        if self.mode == "shape":
            if self.is_scalar(b):
                return a
            if self.flexible(b) and all(self.u.maybe_one(d) for d in b):
                self.unify_shapes(b, (1, 1), "a divisor")
                return a
            self.unify_shapes(a, b, "an entrywise division")
            return a
        return a / b

    def elementwise(self, a, b, what):
        if self.mode == "shape":
            if self.is_scalar(a):
                return b
            if self.is_scalar(b):
                return a
            self.unify_shapes(a, b, what)
            return a
        return None

    def n_had(self, n):
        a, b = self.w(n.args[0]), self.w(n.args[1])
        return self.elementwise(a, b, "a Hadamard product") if self.mode == "shape" else a * b

    def n_ediv(self, n):
        a, b = self.w(n.args[0]), self.w(n.args[1])
        return self.elementwise(a, b, "an entrywise division") if self.mode == "shape" else a / b

    def n_add(self, n):
        vals = [(s, self.w(x)) for s, x in n.args[0]]
        if self.mode == "shape":
            for _, v in vals:       # b in w^T x + b, 1 - ŷ: a symbol never declared takes the sum's shape
                pass
            fixed = [v for _, v in vals if not self.is_scalar(v) and not self.flexible(v)
                     and not self._auto_vector(v)]
            target = fixed[0] if fixed else next((v for _, v in vals if not self.is_scalar(v)), (1, 1))
            if not fixed and any(self.is_scalar(v) and not self.flexible(v) for _, v in vals):
                target = (1, 1)     # w^T x + b, b never declared: a number, like the scalar it is added to
            for _, v in vals:
                if v is target or self.is_scalar(v) and not self.flexible(v):
                    continue
                if self.is_scalar(v):
                    continue
                if (self.flexible(v) and any(self.u.maybe_one(d) for d in v) or self._auto_vector(v)) \
                        and self.is_scalar(target):
                    self.unify_shapes(v, target, "a sum")
                    continue
                if not self.flexible(v) and self.is_scalar(target):
                    continue
                self.unify_shapes(v, target, "a sum")
            return target
        out = None
        for s, v in vals:
            term = v if s > 0 else -v
            out = term if out is None else out + term
        return out

    def n_neg(self, n):
        v = self.w(n.args[0])
        return v if self.mode == "shape" else -v

    def n_T(self, n):
        x = n.args[0]
        if self.value_times_group(x):      # h(∂l/∂o)^T is h · (∂l/∂o)^T: the ^T belongs to the group
            return self.mul(self.w(x.args[0]), self.n_T(M("T", x.args[1][0], pos=x.pos)))
        v = self.w(x)
        return (v[1], v[0]) if self.mode == "shape" else anp.transpose(v)

    def n_inv(self, n):
        x = n.args[0]
        if self.value_times_group(x):
            return self.mul(self.w(x.args[0]), self.n_inv(M("inv", x.args[1][0], pos=x.pos)))
        v = self.w(x)
        if self.mode == "shape":
            if not self.is_scalar(v):
                self.u.unify(v[0], v[1], "an inverse of a non-square matrix")
            return v
        return 1 / v if v.shape == (1, 1) else anp.linalg.inv(v)

    def n_pow(self, n):
        x = n.args[0]
        if self.value_times_group(x):      # a(b + c)^2 is a · (b + c)^2
            return self.mul(self.w(x.args[0]), self.power(self.w(x.args[1][0]), n.args[1]))
        return self.power(self.w(x), n.args[1])

    def power(self, base, e: M):
        if e.kind != "num":
            ev = self.w(e)
            if self.mode == "shape":
                if not self.is_scalar(ev) or not self.is_scalar(base):
                    raise Unread("a power with a matrix in it")
                return base
            return base ** ev
        p = e.args[0]
        if self.mode == "shape":
            if self.is_scalar(base) or self.flexible(base) and all(self.u.maybe_one(d) for d in base):
                self.unify_shapes(base, (1, 1), "a power")
                return (1, 1)
            self.u.unify(base[0], base[1], "a power of a non-square matrix")
            if p != int(p) or p < 1:
                raise Unread("a fractional or negative power of a matrix")
            return base
        if base.shape == (1, 1):
            return base ** p
        out = base
        for _ in range(int(p) - 1):
            out = anp.dot(out, base)
        return out

    def n_norm(self, n):
        v = self.w(n.args[0])
        return (1, 1) if self.mode == "shape" else anp.reshape(anp.sqrt(anp.sum(v * v)), (1, 1))

    def n_abs(self, n):
        v = self.w(n.args[0])
        if self.mode == "shape":
            if self.is_scalar(v):
                return v
            self.u.unify(v[0], v[1], "|X| (a determinant) of a non-square matrix")
            return (1, 1)
        return anp.abs(v) if v.shape == (1, 1) else anp.reshape(anp.linalg.det(v), (1, 1))

    def n_indicator(self, n):
        return (1, 1) if self.mode == "shape" else anp.array([[1.0 if self.holds(n.args[0]) else 0.0]])

    def holds(self, rel: M) -> bool:
        op, a, b = rel.args
        if self.mode == "shape":
            return True
        if a.kind == "name" and b.kind == "name" and a.args[0] in self.idx and b.args[0] in self.idx:
            x, y = self.idx[a.args[0]], self.idx[b.args[0]]
        else:
            va, vb = getval(self.w(a)), getval(self.w(b))
            if np.shape(va) != (1, 1) or np.shape(vb) != (1, 1):
                raise Unread("a condition on a vector or a matrix (|r| ≤ δ for a whole r) is not read")
            x, y = float(va[0, 0]), float(vb[0, 0])
        return {"=": x == y, "!=": x != y, "<=": x <= y, "<": x < y, ">=": x >= y, ">": x > y}.get(op, False)

    def n_cases(self, n):
        rows = n.args[0]
        if self.mode == "shape":
            shapes = [self.w(e) for e, _ in rows]
            for s in shapes[1:]:
                if not (self.is_scalar(s) and self.is_scalar(shapes[0])):
                    self.unify_shapes(shapes[0], s, "the rows of a cases block")
            for _, c in rows:
                if c is not None and c.kind == "rel":
                    for side in c.args[1:]:
                        if not (side.kind == "name" and len(side.args[0]) == 1 and side.args[0] in self.ranges):
                            self.w(side)
            return shapes[0]
        for e, c in rows:
            if c is None:
                raise Unread("a cases row without its condition")
            if c.kind == "otherwise" or self.holds(c):
                return self.w(e)
        raise Unread("no row of the cases block holds")

    def n_sum(self, n):
        letters, lower, upper, body = n.args
        if letters is None:
            raise Unread("a sum whose index is not written")
        if lower is not None and not (lower.kind == "num" and lower.args[0] in (0.0, 1.0)):
            raise Unread("a sum that does not start at 1")
        if self.mode == "shape":
            saved = {x: self.ranges.get(x) for x in letters}
            for x in letters:
                self.ranges[x] = self.u.fresh("range:" + x)
                if upper is not None:
                    self.u.unify(self.ranges[x], self.bound(upper), "a sum's bound")
            v = self.w(body)
            self.sumr[id(n)] = [self.ranges[x] for x in letters]
            for x in letters:
                if saved[x] is None:
                    del self.ranges[x]
                else:
                    self.ranges[x] = saved[x]
            return v
        sizes = [self.size(r) for r in self.sumr.get(id(n)) or self.model.sumr.get(id(n), [])]
        if len(sizes) != len(letters):
            raise Unread("a sum whose range is not known")
        saved = dict(self.idx)
        total = None
        for combo in np.ndindex(*sizes):
            self.idx = {**saved, **dict(zip(letters, combo))}
            v = self.w(body)
            total = v if total is None else total + v
        self.idx = saved
        return total

    def bound(self, upper: M):
        if upper.kind == "num":
            return int(upper.args[0])
        if upper.kind == "name":
            return self.model.dim(upper.args[0])
        raise Unread("a sum's bound that is an expression")



def _same_symbol(arg: M, model: Model) -> bool:
    return arg.kind == "name"


_NOT_READ = {"list": "a list or a vector written entry by entry ([a, b, …]) is not read",
             "dots": "an ellipsis (…) is not read", "set": "a set {…} is not read",
             "reals": "ℝ is only read in a shape (X ∈ ℝ^{m×n})", "matrix": "a matrix written entry by entry is not read",
             "rel": "a relation inside a formula is not read", "empty": "an empty formula",
             "letters": "index letters are not a formula", "otherwise": "'otherwise' is not a formula",
             "kron": "a Kronecker product ⊗ is not read in documents"}


def stable_seed(*parts) -> int:
    return zlib.crc32("\x00".join(map(str, parts)).encode()) & 0x7FFFFFFF


__all__ = ["Walker", "Unread", "key_of", "stable_seed", "ELEMENTWISE"]
