r"""What a document has said so far: its symbols, their shapes, its definitions, functions and assumptions.

Shapes are unified the way matcalc's own shapes.py unifies dimensions, on the document's tree: every
dimension is a number, a *named* dimension (`n` from `X \in \mathbb{R}^{n \times d}`, `N` from a sum's bound:
rigid, distinct from every other) or an *auto* dimension of a symbol never declared (flexible: `\theta_j^T x`
makes θ_j as long as x). A statement is typed on a copy of the unifier, so a wrong claim cannot change what
later statements mean; only declarations and definitions are kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ...errors import MatcalcError
from ...language.latex_doc import GREEK, M


class ShapeClash(MatcalcError):
    pass


class Var:
    __slots__ = ("name", "default", "named")
    _count = 0

    def __init__(self, name: str, default: str = "size", named: bool = False):
        self.name, self.default, self.named = name, default, named

    def __repr__(self):
        return self.name


class Unifier:
    """Union-find over dimensions (Var or int)."""

    def __init__(self, parent=None, counter=0):
        self.parent = dict(parent or {})
        self.counter = counter

    def copy(self) -> Unifier:
        return Unifier(self.parent, self.counter)

    def fresh(self, hint: str, default: str = "size") -> Var:
        self.counter += 1
        return Var(f"{hint}#{self.counter}", default)

    def find(self, d):
        while isinstance(d, Var) and d in self.parent:
            d = self.parent[d]
        return d

    def unify(self, a, b, what: str = "") -> None:
        a, b = self.find(a), self.find(b)
        if a is b or a == b and not isinstance(a, Var):
            return
        if isinstance(a, Var) and not a.named:
            self.parent[a] = b
            return
        if isinstance(b, Var) and not b.named:
            self.parent[b] = a
            return
        raise ShapeClash(f"{what}: {show_dim(a)} against {show_dim(b)}".lstrip(": "))

    def is_one(self, d) -> bool:
        return self.find(d) == 1

    def maybe_one(self, d) -> bool:
        d = self.find(d)
        return d == 1 or isinstance(d, Var) and not d.named and d.default == "1"


def show_dim(d) -> str:
    if isinstance(d, Var):
        return d.name.split("#")[0] if d.named else "?"
    return str(d)


def place(line: int, cell: int | None = None) -> str:
    """Where something is, as a note says it: "line 12", or in a notebook "line 3 of cell 2"."""
    return f"line {line}" if cell is None else f"line {line} of cell {cell}"


@dataclass
class Definition:
    key: str                        # the symbol's key (`y`, `b:z_1`, `a(2)`, `J`)
    body: M                         # the tree of its right side
    line: int
    indices: tuple = ()             # an entry definition `y_i = ...`: its index letters
    params: tuple = ()              # a function `\sigma(t) = ...`: its parameter keys
    text: str = ""
    ranges: tuple = ()              # the ranges of an entry definition's indices
    layout: str | None = None       # the layout its derivatives were written in (None: the document's)
    cell: int | None = None         # notebooks: the cell it is in


@dataclass
class Symbol:
    key: str
    shape: tuple                    # (rows, cols) dims
    family: tuple | None = None     # a family θ_j of vectors: (index range, member shape)
    props: set = field(default_factory=set)   # symmetric, spd, positive, binary, label, probability
    line: int = 0
    cell: int | None = None         # notebooks: the cell of `line`
    order: int = 0                  # `line` counted through the whole document (Span.order)


@dataclass
class Function:
    """An abstract function (`l(\\mathbf{o}, y)`, an entrywise `\\phi`, `u` of an implicit variable)."""
    key: str
    arity: int
    elementwise: bool
    line: int = 0
    args: tuple | None = None       # the arguments it was written with (`l(\mathbf{o}, y)`): `l` alone is l(o, y)


@dataclass
class Model:
    unifier: Unifier = field(default_factory=Unifier)
    symbols: dict = field(default_factory=dict)       # key -> Symbol (base symbols)
    defs: dict = field(default_factory=dict)          # key -> Definition
    shapes: dict = field(default_factory=dict)        # key -> shape of a defined symbol
    functions: dict = field(default_factory=dict)     # key -> Function
    dims: dict = field(default_factory=dict)          # named dimension -> Var
    aliases: dict = field(default_factory=dict)       # key -> (key, note)
    onehot: dict = field(default_factory=dict)        # label key -> hot index letter
    said: dict = field(default_factory=dict)          # key -> (property, note): what the prose said of it
    layout: str = "denominator"
    rowwise: bool = False                             # softmax of a matrix is taken row by row
    einstein: bool = False
    known: set = field(default_factory=set)              # symbols declared or used by a definition
    failed: dict = field(default_factory=dict)           # key -> why its definition could not be read
    sumr: dict = field(default_factory=dict)             # id(sum node of a definition) -> its index ranges
    elementwise_defs: set = field(default_factory=set)   # functions defined for a scalar (`\sigma(t) = ...`)

    def entry_key(self, key: str) -> str:
        r"""`z_i` is an entry of `\mathbf{z}` when only the bold z is known: its key."""
        if key.startswith("b:") or key in self.defs or key in self.symbols or key in self.functions:
            return key
        if "b:" + key in self.defs or "b:" + key in self.symbols:
            return "b:" + key
        return key

    def whole_key(self, key: str) -> str:
        r"""`\mathbf{o}` is the vector whose entries `o_i = …` defines, when only those are defined."""
        if key.startswith("b:") and key not in self.defs and key not in self.symbols and key[2:] in self.defs \
                and self.defs[key[2:]].indices:
            return key[2:]
        return key

    def dim(self, name: str):
        if name not in self.dims:
            self.dims[name] = Var(name + "#d", named=True)
        return self.dims[name]

    def base(self, key: str) -> Symbol:
        """The symbol `key`, created with the shape its spelling suggests when first met."""
        if key in self.symbols:
            return self.symbols[key]
        u = self.unifier
        core = key.split(":")[-1].split("_")[0].split("(")[0].rstrip("^~-.")
        if core in GREEK and core[:1].islower() or core in ("lam",):      # λ, η: numbers; Σ, Λ: matrices
            shape = (u.fresh(core, "1"), u.fresh(core, "1"))
        elif core[:1].isupper():
            shape = (u.fresh(core), u.fresh(core))
        else:
            shape = (u.fresh(core), 1)
        sym = Symbol(key, shape)
        self.symbols[key] = sym
        return sym


def pretty(key: str) -> str:
    r"""A symbol's key as the text wrote it, for messages: `b:y^` -> ŷ, `c:L` -> \mathcal{L}."""
    core = key.replace("b:", "").replace("^", "\u0302").replace("~", "\u0303").replace("bb:", "")
    if core.startswith("c:"):
        rest = core[2:]
        head, tail = (rest.split("_", 1) + [""])[:2]
        core = "\\mathcal{" + head + "}" + ("_" + tail if tail else "")
    return core


def is_greek(key: str) -> bool:
    core = key.split(":")[-1].split("_")[0].rstrip("^~-.")
    return core in GREEK


__all__ = ["Model", "Unifier", "Var", "Definition", "Symbol", "Function", "ShapeClash", "show_dim", "is_greek", "pretty"]
