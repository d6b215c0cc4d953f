"""Typed expression nodes: immutable, hash-consed, so equal subtrees are one object (a DAG).

Every node carries its shape `(rows, cols)`; a scalar is `(1, 1)`, a column vector `(n, 1)`. A dimension
is an `int` or a name (`str`). Sharing equal subtrees makes common subexpressions free to detect:
`softmax(W*x + b)` in the gradient is the very object of the forward pass, which the code generator
computes once.

This module is the tree alone: the node, its leaves (names, numbers, ones, I, 0), the predicates and
the walk over a DAG. The operators that build larger trees, with their light canonicalisation, are in
expr.py; printing a tree in the language is printing.py's job (a node's repr here is a bounded sketch of
its structure, so that the tree needs no printer).
"""

from __future__ import annotations

import zlib
from fractions import Fraction
from weakref import WeakValueDictionary

from .. import budget as _budget
from ..errors import UnsupportedError

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
        return f"<{sketch(self)} : {dim_text(self.shape[0])}x{dim_text(self.shape[1])}>"


def sketch(node: Node, depth: int = 4) -> str:
    """The node's structure, prefix style and cut at `depth` (`had(g, add(x, mul(-1, bcast(alpha))))`):
    enough to tell nodes apart in a message or a debugger; printing.to_text writes the language."""
    if node.op == "sym":
        return str(node.attr)
    if node.op == "num":
        return str(node.attr)
    head = node.op if node.attr is None or node.op in ("add", "mul", "had") else f"{node.op}[{node.attr}]"
    if not node.args:
        return head
    if depth <= 0:
        return f"{head}(…)"
    inner = ", ".join(sketch(a, depth - 1) for a in node.args[:6])
    return f"{head}({inner}{', …' if len(node.args) > 6 else ''})"


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
