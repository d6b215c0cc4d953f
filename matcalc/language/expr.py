"""Typed expression nodes: immutable, hash-consed, so equal subtrees are one object (a DAG).

Every node carries its shape `(rows, cols)`; a scalar is `(1, 1)`, a column vector `(n, 1)`. A dimension
is an `int` or a name (`str`). Sharing equal subtrees makes common subexpressions free to detect:
`softmax(W*x + b)` in the gradient is the very object of the forward pass, which the code generator
computes once.

The constructors below do only *light*, always-valid canonicalisation (flattening, number folding,
scalars to the front of a product, `(A*B)' = B'*A'`, merging equal bases of a product into a power).
The textbook shaping of a result (expansion, identities from rules/, factoring) is `simplify`'s job.
"""

from __future__ import annotations

import zlib
from fractions import Fraction
from typing import Iterable
from weakref import WeakValueDictionary

from .. import budget as _budget
from .dims import dim_factors, dim_product, dimension_names, is_product_dim, size_of  # noqa: F401  (re-exported)
from ..errors import ShapeError, UnsupportedError

Dim = int | str
Shape = tuple[Dim, Dim]
SCALAR: Shape = (1, 1)

_interned: "WeakValueDictionary[tuple, Node]" = WeakValueDictionary()
_codes: dict[str, int] = {}
KEY_LENGTH = 160  # a sort key longer than this keeps a readable prefix and a structural digest


def _code(value) -> int:
    """A hash of an attribute or a dimension that is the same in every process.

    Python salts `hash(str)` per process and `id()` is an address, so neither may decide the order in
    which a set or dict of nodes is iterated: the result of a derivation would change from run to run.
    Numbers hash the same everywhere; strings are hashed here with CRC-32."""
    if value is None:
        return 0
    if isinstance(value, str):
        found = _codes.get(value)
        if found is None:
            found = _codes[value] = zlib.crc32(value.encode("utf-8", "surrogatepass")) + 1
        return found
    if isinstance(value, (int, Fraction)):
        return hash(value)
    if isinstance(value, tuple):
        return hash(tuple(_code(v) for v in value))
    return _code(repr(value))


class Node:
    """One operation applied to child nodes. `attr` holds a name, a number or an exponent."""

    __slots__ = ("op", "args", "attr", "shape", "_hash", "_key", "_text", "_size", "__weakref__")

    op: str
    args: tuple["Node", ...]
    attr: object
    shape: Shape

    def __new__(cls, op: str, args: tuple = (), attr: object = None, shape: Shape = SCALAR):
        ident = (op, tuple(id(a) for a in args), attr, shape)
        found = _interned.get(ident)
        if found is not None and found.args == args:
            return found
        _tick()  # the budget in force (time, memory) is looked at every few hundred new nodes
        node = object.__new__(cls)
        node.op, node.args, node.attr, node.shape = op, args, attr, shape
        node._hash = hash((_code(op), tuple(a._hash for a in args), _code(attr), _code(shape)))
        node._key = None
        node._text = None
        node._size = None  # printing.inline_size: the length of the inlined text, computed on the DAG
        _interned[ident] = node
        return node

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return self is other

    def __reduce__(self):
        return (Node, (self.op, self.args, self.attr, self.shape))

    @property
    def is_scalar(self) -> bool:
        return self.shape == SCALAR

    @property
    def is_vector(self) -> bool:
        return self.shape[1] == 1 and self.shape[0] != 1

    @property
    def key(self) -> str:
        """A total order for commutative operands: structural, stable across runs and processes.

        Readable for small nodes (`sym:A()`); a long key is cut to a prefix plus a structural digest, so
        that keys stay short on a DAG whose inlined tree is exponentially large."""
        if self._key is None:
            inner = ",".join(a.key for a in self.args)
            text = f"{self.op}:{self.attr}({inner})"
            if len(text) > KEY_LENGTH:
                text = f"{text[:KEY_LENGTH - 18]}#{self._hash & 0xFFFFFFFFFFFFFFFF:016x}"
            self._key = text
        return self._key

    def __repr__(self) -> str:
        from .printing import to_text

        return f"<{to_text(self)} : {dim_text(self.shape[0])}x{dim_text(self.shape[1])}>"


def dim_text(d: Dim) -> str:
    return str(d)


def shape_text(shape: Shape) -> str:
    if shape == SCALAR:
        return "scalar"
    return f"{shape[0]}×{shape[1]}"


# ---------------------------------------------------------------- leaves


def sym(name: str, shape: Shape) -> Node:
    return Node("sym", (), name, shape)


_tick = _budget.tick
MAX_BITS = 1000      # |c| < 2**1000 (about 1e301) and |c| > 2**-1000 for a nonzero constant
MAX_DIGIT_BITS = 12_000  # an exact fraction's numerator and denominator (about 3,600 digits each)


def check_constant(value: Fraction) -> Fraction:
    """Constants are exact fractions; bound their size, so that folding `2^1000000000` or multiplying
    ever longer fractions cannot run for hours, and every constant still fits a float when evaluated."""
    if value:
        top, bottom = abs(value.numerator).bit_length(), value.denominator.bit_length()
        if top - bottom > MAX_BITS or bottom - top > MAX_BITS:
            raise UnsupportedError("a constant of the computation is out of range: matcalc works with numbers "
                                   "between 1e-300 and 1e300 in size")
        if top > MAX_DIGIT_BITS or bottom > MAX_DIGIT_BITS:
            raise UnsupportedError("a constant of the computation has too many digits (over 3,600): "
                                   "write it as a name instead")
    return value


_small_numbers: dict = {}


def num(value) -> Node:
    found = _small_numbers.get(value) if type(value) is int or type(value) is Fraction else None
    if found is not None:
        return found
    node = Node("num", (), check_constant(Fraction(value)), SCALAR)
    if node.attr.denominator == 1 and -16 <= node.attr <= 16:  # the constants every derivation makes
        _small_numbers[value] = node
    return node


def power_fits(base: Fraction, p: Fraction) -> bool:
    """Whether base**p (p whole) stays within check_constant's range: estimated from bit lengths before
    the power is computed, since computing it is what would take forever."""
    if base == 0 or abs(base) == 1:
        return True
    n = abs(int(p))
    top, bottom = abs(base.numerator).bit_length(), base.denominator.bit_length()
    return n * max(top - bottom, bottom - top, 1) <= MAX_BITS + n and n * max(top, bottom) <= MAX_DIGIT_BITS


def ones(n: Dim) -> Node:
    if n == 1:
        return num(1)
    return Node("ones", (), None, (n, 1))


def eye(n: Dim) -> Node:
    if n == 1:
        return num(1)
    return Node("eye", (), None, (n, n))


def zero(shape: Shape) -> Node:
    if shape == SCALAR:
        return num(0)
    return Node("zero", (), None, shape)


ZERO = None  # placeholder for readability of callers: use is_zero()


def is_zero(node: Node) -> bool:
    return node.op == "zero" or (node.op == "num" and node.attr == 0)


def is_one(node: Node) -> bool:
    return node.op == "num" and node.attr == 1


def is_ones_matrix(node: Node) -> bool:
    """ones(m)*ones(n)' (or a broadcast 1): the identity of the Hadamard product."""
    if node.op == "bcast" and is_one(node.args[0]):
        return True
    if node.op == "ones":
        return True
    if node.op == "T" and node.args[0].op == "ones":
        return True
    return (node.op == "mul" and len(node.args) == 2 and node.args[0].op == "ones"
            and node.args[1].op == "T" and node.args[1].args[0].op == "ones")


def is_identity(node: Node) -> bool:
    return node.op == "eye"


def is_ones(node: Node) -> bool:
    """A matrix of ones in any disguise: ones(n), or a broadcast 1."""
    return node.op == "ones" or (node.op == "bcast" and is_one(node.args[0]))


# ---------------------------------------------------------------- scalar monomials


def split_scalar(node: Node) -> tuple[Fraction, Node | None]:
    """`c*rest` with c a number: a product's numeric coefficient and what remains."""
    if node.op == "num":
        return node.attr, None
    if node.op == "mul" and node.args[0].op == "num":
        rest = node.args[1:]
        return node.args[0].attr, (rest[0] if len(rest) == 1 else Node("mul", rest, None, node.shape))
    return Fraction(1), node


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


def transpose(a: Node) -> Node:
    """Push a transpose through structure, stopping at names and function calls (`inv(X)'` stays)."""
    if a.is_scalar:
        return a
    op = a.op
    if op == "T":
        return a.args[0]
    if op in ("eye", "zero") or (op == "fn" and a.attr == "diag"):
        return Node(op, a.args, a.attr, (a.shape[1], a.shape[0])) if op == "zero" else a
    if op == "mul":
        return mul(*(transpose(f) for f in reversed(a.args)))
    if op == "add":
        return add(*(transpose(t) for t in a.args))
    if op == "had":
        return hadamard(*(transpose(f) for f in a.args))
    if op == "epow":
        return epow(transpose(a.args[0]), a.attr)
    if op == "bcast":
        return bcast(transpose(a.args[0]), (a.shape[1], a.shape[0]))
    if op == "kron":
        return kron(transpose(a.args[0]), transpose(a.args[1]))
    if op == "comm":
        return commutation(a.attr[1], a.attr[0])
    return Node("T", (a,), None, (a.shape[1], a.shape[0]))


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
        from .vec_algebra import applied

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


# ---------------------------------------------------------------- traversal


def walk(root: Node) -> list[Node]:
    """Every distinct node below `root`, children before parents (a topological order)."""
    seen: set[int] = set()
    order: list[Node] = []
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for child in reversed(node.args):
            if id(child) not in seen:
                stack.append((child, False))
    return order


def symbols(root: Node) -> dict[str, Node]:
    return {n.attr: n for n in walk(root) if n.op == "sym"}


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
        from .functions import apply

        return apply(node.attr, args[0])
    if op == "vec":
        return vec(args[0])
    if op == "unvec":
        return unvec(args[0], *node.attr)
    if op == "kron":
        return kron(*args)
    return Node(op, args, node.attr, node.shape)
