"""Shapes by unification, then the typed tree.

`W*x + b` alone says W is p×q, x is q and b is p: every name gets a shape of dimension variables (an
uppercase initial a matrix, a lowercase one a column vector, a Greek name a scalar, unless declared),
each operator unifies what it must, and what stays unknown gets a fresh letter. Only then is the typed
tree built, because whether `*` scales or multiplies, and whether `+` broadcasts a row, depends on
shapes that may be settled anywhere in the expression.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from .. import budget as _budget
from ..errors import ParseError, ShapeError, UnsupportedError
from ..tables import functions, known_function_names, spelled
from . import expr as E
from .expr import SCALAR, Dim, Node, Shape, apply
from . import exponents
from .exponents import (MAX_MATRIX_POWER, PI, check_exponent, constant_exponent, euler_power,  # noqa: F401
                        matrix_power_error, mentions_a_name)
from .functions import call_rows, zeros_sizes
from .functions import abstract_call, declared_functions
from .named import inline
from .parse import Syntax, chain, copy_tree, parse
from .statements import (abstract_shape, build_program, check_keywords, defined_shape, placeholders,
                         program_shape, unknown_hint)

GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "eps", "zeta", "eta", "theta", "iota", "kappa",
    "lam", "lambda_", "mu", "nu", "xi", "rho", "sigma", "tau", "phi", "chi", "psi", "omega",
}
FRESH_DIMS = "pqrstuvwklmnhijgfedcba"
MAX_DIMENSION = 10**9  # a declared size; the checker draws small instances whatever is declared


class _Var:
    """A dimension variable: free (value None), a number, or a named dimension."""

    __slots__ = ("parent", "value", "label", "not_one", "factors")

    def __init__(self, value: Dim | None = None, label: str = "?", not_one: bool = False, factors=()):
        self.parent = self
        self.value = value
        self.label = label
        self.not_one = not_one  # the dimension of a matrix or vector name: never silently 1
        self.factors = factors  # a product of other dimensions (the rows of vec(X) or kron(A, B))

    def root(self) -> "_Var":
        node = self
        while node.parent is not node:
            node.parent = node.parent.parent
            node = node.parent
        return node

    def text(self) -> str:
        r = self.root()
        return str(r.value) if r.value is not None else r.label


_ONE = None  # each use makes its own literal 1


def _one() -> _Var:
    return _Var(1)


def _is_one(v: _Var) -> bool:
    return v.root().value == 1


def _shape_text(s: tuple[_Var, _Var]) -> str:
    if _is_one(s[0]) and _is_one(s[1]):
        return "scalar"
    return f"{s[0].text()}×{s[1].text()}"


@dataclass
class Typed:
    """An elaborated expression: the typed root, the shape of every name, and what is a dimension."""

    root: Node
    text: str
    names: dict[str, Node]
    dims: set[str] = field(default_factory=set)
    definitions: dict[str, Node] = field(default_factory=dict)   # h = tanh(W*x); …: name -> its node

    def shape_of(self, name: str) -> Shape:
        return self.names[name].shape


def parse_shape_spec(spec) -> tuple[Dim, ...]:
    """`"c,d"`, `("c", "d")`, `"3"`, `""` or `()` -> a tuple of dimensions (ints where numeric)."""
    if isinstance(spec, str):
        parts = [p.strip() for p in spec.split(",")] if spec.strip() else []
    elif isinstance(spec, int) and not isinstance(spec, bool):
        parts = [spec]
    elif isinstance(spec, (tuple, list)):
        parts = list(spec)
    else:
        raise TypeError(f"a shape is a str such as 'c,d' or a tuple of dimensions, got {type(spec).__name__}")
    out: list[Dim] = []
    for p in parts:
        if isinstance(p, int) and not isinstance(p, bool) and 0 < p <= MAX_DIMENSION:
            out.append(p)
        elif isinstance(p, str) and p.isascii() and p.isdigit() and len(p) <= 12 and 0 < int(p) <= MAX_DIMENSION:
            out.append(int(p))
        elif isinstance(p, str) and p.isidentifier():
            out.append(p)
        elif isinstance(p, str) and "*" in p and all(f.strip().isidentifier() or (f.strip().isascii() and f.strip(
                ).isdigit() and len(f.strip()) <= 9 and int(f.strip()) > 0) for f in p.split("*")):
            out.append(E.dim_product(*(int(f) if f.strip().isdigit() else f.strip() for f in p.split("*"))))
        elif (isinstance(p, int) and not isinstance(p, bool) and p > MAX_DIMENSION) or (
                isinstance(p, str) and p.isascii() and p.isdigit() and p.strip("0")):
            raise ShapeError(f"a dimension of {str(p)[:20]} is larger than matcalc handles "
                             f"(at most {MAX_DIMENSION:,})")
        else:
            raise ShapeError(f"a dimension is a positive whole number or a name, got {str(p)[:40]!r}")
    if len(out) > 2:
        raise ShapeError(f"at most two dimensions (rows, columns), got {len(out)}")
    return tuple(out)


def default_kind(name: str) -> str:
    if name in GREEK:
        return "scalar"
    return "matrix" if name[0].isupper() else "vector"


class _Inference:
    def __init__(self, text: str, declared: dict[str, tuple[Dim, ...]]):
        self.text = text
        self.declared = declared
        self.named: dict[str, _Var] = {}
        self.names: dict[str, tuple[_Var, _Var]] = {}
        self.order: list[str] = []
        self.implicit_eye: dict[int, _Var] = {}
        self.scalar_names: set[str] = set()
        self.defined: dict[str, tuple[_Var, _Var]] = {}   # names defined before the objective
        self.functions = declared_functions()
        for spec in declared.values():
            for d in spec:
                if isinstance(d, str):
                    self.scalar_names.add(d)

    def dim(self, d: Dim) -> _Var:
        if isinstance(d, int):
            return _Var(d)
        if d not in self.named:
            self.named[d] = _Var(d)
        return self.named[d]

    def unify(self, a: _Var, b: _Var, where: Syntax, sa, sb, verb: str) -> None:
        ra, rb = a.root(), b.root()
        if ra is rb:
            return
        clash = ra.value is not None and rb.value is not None and ra.value != rb.value
        if clash or (ra.not_one and rb.value == 1) or (rb.not_one and ra.value == 1):
            raise ShapeError(f"{where.source}: {_shape_text(sa)} {verb} {_shape_text(sb)}")
        ra.not_one = rb.not_one = ra.not_one or rb.not_one
        if ra.value is None:
            ra.parent = rb
            rb.factors = rb.factors or ra.factors
        else:
            rb.parent = ra
            ra.factors = ra.factors or rb.factors

    def prescan(self, node: Syntax) -> None:
        stack = [node]
        while stack:
            n = stack.pop()
            if n.kind == "div" and n.args[1].kind == "name":
                self.scalar_names.add(n.args[1].value)
            if n.kind in ("pow", "epow") and not euler_power(n):   # an exponent is a scalar: x.^p, alpha^p
                self.scalar_names |= exponents.exponent_names(n.args[1])   # (not e^(x'*x), which is exp)
            if n.kind == "call" and n.value in DIMENSION_ARGUMENTS:
                for k in DIMENSION_ARGUMENTS[n.value]:
                    if k < len(n.args):
                        self.scalar_names.update(_dimension_names(n.args[k]))
            stack.extend(n.args)

    def name_shape(self, node: Syntax) -> tuple[_Var, _Var]:
        name = node.value
        if name in self.defined or name in self.functions:
            return defined_shape(self, name)
        if name in self.names:
            return self.names[name]
        self.order.append(name)
        if name in self.declared:
            spec = self.declared[name]
            if len(spec) == 0:
                shape = (_one(), _one())
            elif len(spec) == 1:
                shape = (self.dim(spec[0]), _one())
            else:
                shape = (self.dim(spec[0]), self.dim(spec[1]))
        elif name in self.scalar_names or default_kind(name) == "scalar":
            shape = (_one(), _one())
        elif default_kind(name) == "matrix":
            shape = (_Var(label=f"rows({name})", not_one=True), _Var(label=f"cols({name})", not_one=True))
        else:
            shape = (_Var(label=f"len({name})", not_one=True), _one())
        self.names[name] = shape
        return shape

    def shape(self, node: Syntax) -> tuple[_Var, _Var]:
        spine = chain(node)
        value = self._shape_one(spine[0])
        for link in spine[1:]:  # a long chain a + b + c + … in a loop, not by recursion
            value = self._shape_one(link, value)
        return value

    def _shape_one(self, node: Syntax, left=None) -> tuple[_Var, _Var]:
        k = node.kind
        if k == "program":
            return program_shape(self, node, _one)
        if k == "num":
            return (_one(), _one())
        if k == "name":
            if node.value == "I" and "I" not in self.declared:
                v = _Var(label="size(I)")
                self.implicit_eye[id(node)] = v
                return (v, v)
            if node.value == "pi" and "pi" not in self.declared:
                return (_one(), _one())         # the number, unless declared a name
            return self.name_shape(node)
        if k == "pow" and left is None and euler_power(node):
            return self.shape(node.args[1])     # e^(w'*x) is exp(w'*x)
        if k == "neg":
            return self.shape(node.args[0])
        if k == "T":
            r, c = self.shape(node.args[0])
            return (c, r)
        if k == "call":
            return self.call_shape(node)
        a = left if left is not None else self.shape(node.args[0])
        if k in ("pow", "epow") and not exponents.is_constant(node.args[1]):
            return self.variable_power(node, a)
        if k in ("pow", "epow"):
            matrix = k == "pow" and not (_is_one(a[0]) and _is_one(a[1]))
            check_exponent(node, constant_exponent(node.args[1]), matrix,
                           elementwise_of_variable=k == "epow" and mentions_a_name(node.args[0]))
            if k == "pow" and not (_is_one(a[0]) and _is_one(a[1])):
                try:
                    self.unify(a[0], a[1], node, a, a, "is not square:")
                except ShapeError:
                    raise ShapeError(f"{node.source}: ^ is a power of a scalar or a square matrix, got "
                                     f"{_shape_text(a)}; for an elementwise power write .^") from None
            return a
        b = self.shape(node.args[1])
        scalar_a = _is_one(a[0]) and _is_one(a[1])
        scalar_b = _is_one(b[0]) and _is_one(b[1])
        if k == "div":
            if not scalar_b:
                raise ShapeError(f"{node.source}: / divides by a scalar, got {_shape_text(b)}; "
                                 f"use ./ for elementwise division")
            return a
        if k == "mul":
            if scalar_a:
                return b
            if scalar_b:
                return a
            self.unify(a[1], b[0], node, a, b, "times")
            return (a[0], b[1])
        # add, sub, had, ediv: equal shapes, or a scalar / row / column broadcast
        return self.broadcast(node, a, b, {"add": "plus", "sub": "minus", "had": ".*", "ediv": "./"}[k])

    def broadcast(self, node: Syntax, a, b, verb: str) -> tuple[_Var, _Var]:
        """An entrywise operation (+, .*, max(a, b)): equal shapes, or a scalar, row or column broadcast."""
        if _is_one(a[0]) and _is_one(a[1]):
            return b
        if _is_one(b[0]) and _is_one(b[1]):
            return a
        row_a, row_b = _is_one(a[0]), _is_one(b[0])
        col_a, col_b = _is_one(a[1]), _is_one(b[1])
        if row_a != row_b and not (col_a or col_b):
            self.unify(a[1], b[1], node, a, b, verb)
            return b if row_a else a
        if col_a != col_b and not (row_a or row_b):
            self.unify(a[0], b[0], node, a, b, verb)
            return b if col_a else a
        self.unify(a[0], b[0], node, a, b, verb)
        self.unify(a[1], b[1], node, a, b, verb)
        return a

    def variable_power(self, node: Syntax, a) -> tuple[_Var, _Var]:
        """x.^p, abs(x).^p, alpha^p with a scalar expression p as exponent (not a number)."""
        e = self.shape(node.args[1])
        try:
            for v in e:
                self.unify(v, _one(), node, e, (_one(), _one()), "is not a scalar exponent:")
        except ShapeError:
            raise ShapeError(f"{node.source}: an exponent must be a scalar, got {_shape_text(e)}") from None
        if node.kind == "pow" and not (_is_one(a[0]) and _is_one(a[1])):
            raise ShapeError(f"{node.source}: ^ with a symbol as exponent is a power of a scalar, got "
                             f"{_shape_text(a)}; for an elementwise power write .^")
        return a

    def call_shape(self, node: Syntax) -> tuple[_Var, _Var]:
        name = node.value
        if abstract_call(name) is not None:   # f(z), f'(z) of a declared elementwise function: z's shape
            return abstract_shape(self, node)
        if name in ("ones", "I"):
            size = _dimension_argument(node)
            v = self.dim(size)
            return (v, _one()) if name == "ones" else (v, v)
        if name == "zeros":        # zeros(n) a column, zeros(m, n) a matrix
            return tuple(self.dim(d) for d in zeros_sizes(node, _dimension)) + (_one(),) * (2 - len(node.args))
        if name in STRUCTURAL:
            return self.structural_shape(node)
        rows = spelled(name)
        if not rows:
            raise ParseError(f"unknown function {name!r}; known: {', '.join(known_function_names())}{unknown_hint(name)}",
                             self.text, node.start + 1)
        rows = call_rows(node, rows)
        if rows[0].arity > 1:          # max(a, b), min(a, b): entry by entry, broadcast as in `+`
            return self.broadcast(node, *(self.shape(a) for a in node.args), "and")
        a = self.shape(node.args[0])
        row = _choose_row(rows, a)
        if row.arg == "square":
            try:
                self.unify(a[0], a[1], node, a, a, "is not square:")
            except ShapeError:
                raise ShapeError(f"{node.source}: {name} needs a square matrix, got {_shape_text(a)}") from None
        if row.arg == "vector":
            if not _is_one(a[1]) and a[1].root().value is not None:
                hint = f"; for a row-wise {name} of a matrix write {name}_rows(…)" \
                    if f"{name}_rows" in functions() else ""
                raise ShapeError(f"{node.source}: {name} needs a column vector, got {_shape_text(a)}{hint}")
            self.unify(a[1], _one(), node, a, (_one(), _one()), "is not a column vector:")
        kind = row.kind
        if kind in ("elementwise", "square", "vector", "rows", "shaped"):
            return a
        if kind == "reduce":
            return (_one(), _one())
        if kind == "rowreduce":
            return (a[0], _one())
        if kind == "colreduce":
            return (_one(), a[1])
        if kind == "tomatrix":
            return (a[0], a[0])
        if kind == "tovector":
            return (a[0], _one())
        raise ValueError(kind)


    def structural_shape(self, node: Syntax) -> tuple[_Var, _Var]:
        """vec, kron, K and unvec: their sizes are products of their operands' sizes."""
        name, args = node.value, node.args
        want = STRUCTURAL[name]
        if len(args) != len(want):
            raise ShapeError(f"{node.source}: {name} takes {len(want)} argument{'s' if len(want) > 1 else ''} "
                             f"({', '.join(want)}), got {len(args)}")
        if name == "vec":
            r, c = self.shape(args[0])
            return (self._product(r, c), _one())
        if name == "kron":
            (r1, c1), (r2, c2) = self.shape(args[0]), self.shape(args[1])
            return (self._product(r1, r2), self._product(c1, c2))
        if name == "K":
            m, n = (self.dim(_dimension(node, a)) for a in args)
            v = self._product(m, n)
            return (v, v)
        r, c = self.shape(args[0])  # unvec(v, m, n)
        m, n = (self.dim(_dimension(node, a)) for a in args[1:])
        self.unify(c, _one(), node, (r, c), (_one(), _one()), "is not a column:")
        self.unify(r, self._product(m, n), node, (r, c), (self._product(m, n), _one()), "should be")
        return (m, n)

    @staticmethod
    def _product(a: _Var, b: _Var) -> _Var:
        ra, rb = a.root(), b.root()
        if ra.value is not None and rb.value is not None:
            return _Var(E.dim_product(ra.value, rb.value))
        if ra.value == 1:
            return b
        if rb.value == 1:
            return a
        return _Var(label=f"{a.text()}*{b.text()}", factors=(a, b))


STRUCTURAL = {"vec": ("a matrix",), "kron": ("a matrix", "a matrix"), "K": ("m", "n"),
              "unvec": ("a column", "m", "n")}
DIMENSION_ARGUMENTS = {"ones": (0,), "I": (0,), "K": (0, 1), "unvec": (1, 2), "zeros": (0, 1)}



def _dimension_names(node: Syntax) -> set[str]:
    if node.kind == "name":
        return {node.value}
    if node.kind == "mul":
        return _dimension_names(node.args[0]) | _dimension_names(node.args[1])
    return set()


def _dimension(call: Syntax, arg: Syntax) -> Dim:
    """A size written as an argument: a name, a whole number, or a product of them (`m*n`)."""
    if arg.kind == "mul":
        return E.dim_product(_dimension(call, arg.args[0]), _dimension(call, arg.args[1]))
    if arg.kind not in ("name", "num"):
        raise ShapeError(f"{call.source}: {call.value} takes sizes: a name, a whole number or a product of "
                         f"them, got {arg.source}")
    if arg.kind == "num":
        if arg.value.denominator != 1 or arg.value < 1:
            raise ShapeError(f"{call.source}: a dimension must be a positive whole number")
        if arg.value > MAX_DIMENSION:
            raise ShapeError(f"{call.source}: a dimension over {MAX_DIMENSION}")
        return int(arg.value)
    return arg.value


def _product_hint(a: Node, b: Node) -> str:
    if any(E.is_product_dim(d) for d in a.shape + b.shape):
        return ("; the sizes of vec(…) and kron(…) are products of their operands' sizes, which cannot be "
                "inferred from the product alone: declare the shapes (--shape X=m,n)")
    return ""


def _settle_product(v: _Var, fresh) -> Dim:
    r = v.root()
    if r.value is None:
        r.value = E.dim_product(*(_settle_product(f, fresh) for f in r.factors)) if r.factors else next(fresh)
    return r.value


def _choose_row(rows, shape):
    if len(rows) == 1:
        return rows[0]
    vector = _is_one(shape[1]) if isinstance(shape[1], _Var) else shape[1] == 1
    for r in rows:
        if (r.arg == "vector") == vector:
            return r
    return rows[0]


def _dimension_argument(node: Syntax) -> Dim:
    if len(node.args) != 1 or node.args[0].kind not in ("name", "num", "mul"):
        raise ShapeError(f"{node.source}: {node.value}(n) takes a dimension: a name or a whole number")
    return _dimension(node, node.args[0])


def _fresh_letters(taken: set[str]):
    for ch in FRESH_DIMS:
        if ch not in taken:
            yield ch
    i = 1
    while True:
        yield f"n{i}"
        i += 1


class Builder:
    """Builds typed nodes from syntax, given every name's node and every dimension's value."""

    def __init__(self, text: str, env: dict[str, Node], dims: dict[str, Dim],
                 implicit_eye: dict[int, Dim] | None = None, definitions: dict[str, Node] | None = None):
        self.text = text
        self.env = env
        self.dims = dims
        self.implicit_eye = implicit_eye or {}
        self.definitions = definitions if definitions is not None else {}
        self.placeholders, self.inlined, self._inline_memo = placeholders(self.definitions)

    def typed(self, node: Syntax) -> Node:
        """The typed node of `node`, every defined name in it standing for its definition's node."""
        return inline(self.build(node), self.inlined, self._inline_memo)

    def build(self, node: Syntax) -> Node:
        spine = chain(node)
        value = self._build_one(spine[0])
        for link in spine[1:]:  # a long chain a + b + c + … in a loop, not by recursion
            value = self._build_one(link, value)
        return value

    def _build_one(self, node: Syntax, left: Node | None = None) -> Node:
        k = node.kind
        if k == "program":        # each definition built once: a name used twice is one shared node
            return build_program(self, node)
        if k == "num":
            return E.num(node.value)
        if k == "name":
            if node.value in self.placeholders:
                return self.placeholders[node.value]
            if node.value in self.env:
                return self.env[node.value]
            if node.value == "I" and id(node) in self.implicit_eye:
                return E.eye(self.implicit_eye[id(node)])
            if node.value == "pi":
                return E.num(PI)
            if node.value in self.dims:
                return E.size_scalar(self.dims[node.value])   # in a rule template, the size itself
            raise ParseError(f"unknown name {node.value!r}", self.text, node.start + 1)
        if k == "neg":
            return E.neg(self.build(node.args[0]))
        if k == "T":
            return E.transpose(self.build(node.args[0]))
        if k == "call":
            return self.call(node)
        if k == "pow" and left is None and euler_power(node):
            return E.apply("exp", self.build(node.args[1]), where=node.source)
        a = left if left is not None else self.build(node.args[0])
        if k in ("pow", "epow") and not exponents.bound_constant(node.args[1], self.env):
            return E.vpow(a, self.build(node.args[1]))     # x.^p, alpha^p (the inference checked the shapes)
        if k == "pow":
            return self.power(node, a, constant_exponent(node.args[1], self.env))
        if k == "epow":
            return E.epow(a, constant_exponent(node.args[1], self.env))
        b = self.build(node.args[1])
        if k == "div":
            if not b.is_scalar:
                raise ShapeError(f"{node.source}: / divides by a scalar, got {E.shape_text(b.shape)}")
            return E.mul(a, E.power(b, -1))
        if k == "mul":
            if not (a.is_scalar or b.is_scalar) and a.shape[1] != b.shape[0]:
                raise ShapeError(f"{node.source}: {E.shape_text(a.shape)} times {E.shape_text(b.shape)}"
                                 f"{_product_hint(a, b)}")
            return E.mul(a, b)
        a, b = self.broadcast(node, a, b)
        if k == "add":
            return E.add(a, b)
        if k == "sub":
            return E.sub(a, b)
        if k == "had":
            return E.hadamard(a, b)
        if k == "ediv":
            return E.ediv(a, b)
        raise ValueError(k)

    def broadcast(self, node: Syntax, a: Node, b: Node) -> tuple[Node, Node]:
        if a.shape == b.shape:
            return a, b
        try:
            if a.is_scalar or (a.shape[0] == 1 and a.shape[1] == b.shape[1]) \
                    or (a.shape[1] == 1 and a.shape[0] == b.shape[0]):
                return E.bcast(a, b.shape), b
            if b.is_scalar or (b.shape[0] == 1 and b.shape[1] == a.shape[1]) \
                    or (b.shape[1] == 1 and b.shape[0] == a.shape[0]):
                return a, E.bcast(b, a.shape)
        except ShapeError:
            pass
        op = {"add": "plus", "sub": "minus", "had": ".*", "ediv": "./"}.get(node.kind, "and")
        raise ShapeError(f"{node.source}: {E.shape_text(a.shape)} {op} {E.shape_text(b.shape)}{_product_hint(a, b)}")

    def power(self, node: Syntax, a: Node, p: Fraction) -> Node:
        if a.is_scalar:
            return E.power(a, p)
        if a.shape[0] != a.shape[1]:
            raise ShapeError(f"{node.source}: ^ needs a scalar or a square matrix, got {E.shape_text(a.shape)}")
        if p.denominator != 1 or p == 0:
            raise UnsupportedError(f"{node.source}: a matrix power must be a nonzero whole number; "
                                   f"use .^ for an elementwise power")
        if abs(p) > MAX_MATRIX_POWER:
            matrix_power_error(node, p)
        base = apply("inv", a) if p < 0 else a
        return E.mul(*([base] * abs(int(p))))

    def call(self, node: Syntax) -> Node:
        name = node.value
        if abstract_call(name) is not None:
            return apply(name, self.build(node.args[0]), where=node.source)
        if name in ("ones", "I"):
            size = self.size(_dimension_argument(node))
            return E.ones(size) if name == "ones" else E.eye(size)
        if name == "zeros":
            return E.zero(tuple(self.size(d) for d in zeros_sizes(node, _dimension)) + (1,) * (2 - len(node.args)))
        if name in STRUCTURAL:
            return self.structural(node)
        rows = spelled(name)
        if not rows:
            raise ParseError(f"unknown function {name!r}; known: {', '.join(known_function_names())}{unknown_hint(name)}",
                             self.text, node.start + 1)
        rows = call_rows(node, rows)
        if rows[0].arity > 1:          # max(a, b): apply broadcasts the arguments to one shape
            return apply(rows[0].name, *(self.build(a) for a in node.args), where=node.source)
        arg = self.build(node.args[0])
        row = _choose_row(rows, arg.shape)
        return apply(row.name, arg, where=node.source)


    def size(self, d: Dim) -> Dim:
        """A size of the text as a size of the expression: rule templates name theirs (`I(p*q)`)."""
        if not isinstance(d, str):
            return d
        whole, names = E.dim_factors(d)
        return E.dim_product(whole, *(self.dims.get(n, n) for n in names))

    def structural(self, node: Syntax) -> Node:
        name, args = node.value, node.args
        if name == "K":
            return E.commutation(*(self.size(_dimension(node, a)) for a in args))
        if name == "unvec":
            g = self.build(args[0])
            m, n = (self.size(_dimension(node, a)) for a in args[1:])
            if g.shape != (E.dim_product(m, n), 1):
                raise ShapeError(f"{node.source}: unvec to {m}×{n} needs a column of {E.dim_product(m, n)} "
                                 f"entries, got {E.shape_text(g.shape)}")
            return E.unvec(g, m, n)
        built = [self.build(a) for a in args]
        return E.vec(built[0]) if name == "vec" else E.kron(*built)


def elaborate(text: str, shapes: dict | None = None, extra: tuple[str, ...] = ()) -> Typed:
    """Parse `text` and type it. `extra` are further expressions (claims, assumptions) over the same
    names that take part in the inference; their typed trees are returned by `elaborate_more`."""
    typed, _ = elaborate_many(text, shapes, extra)
    return typed


def elaborate_many(text: str, shapes: dict | None = None, extra: tuple[str, ...] = (), targets=None):
    """Type `text` and the `extra` texts over shared names. `targets` (one per extra, or None) is the
    shape an extra must have, so a bare `I` in a claimed gradient gets the right size. An extra may be
    given already parsed (a Syntax tree: a derivation's lines are parsed once, not once per typing)."""
    declared = {}
    for name, spec in (shapes or {}).items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ShapeError(f"cannot declare the shape of {name!r}: not a name")
        declared[name] = parse_shape_spec(spec)
    trees = [parse(text)] + [t if isinstance(t, Syntax) else parse(t) for t in extra]
    seen = {id(trees[0])}
    for k in range(1, len(trees)):              # the inference keys implicit I's by node identity
        if id(trees[k]) in seen and "I" in trees[k].text:
            _budget.check("typing the lines")
            trees[k] = copy_tree(trees[k])
        seen.add(id(trees[k]))
    inf = _Inference(text, declared)
    # a line met again (one parsed tree: equal lines, without an implicit I) types and builds as it did
    first_of: dict[int, int] = {}            # where each tree first stands after the text itself
    for k, tree in enumerate(trees[1:], start=1):
        first_of.setdefault(id(tree), k)
    for k, tree in enumerate(trees):
        if k == 0 or first_of[id(tree)] == k:
            _budget.check("typing the lines")
            inf.prescan(tree)
    main: dict = {}
    for k, tree in enumerate(trees):
        _budget.check("typing the lines")
        if k > 1 and targets is None and first_of[id(tree)] < k:
            continue
        inf.text = tree.text
        if k == 1:
            main = dict(inf.defined)
        inf.defined = dict(main) if k else inf.defined   # a claim sees the expression's names, not another's
        try:
            got = inf.shape(tree)
            target = targets[k - 1] if targets and k > 0 else None
            if target is not None and not (_is_one(got[0]) and _is_one(got[1])):
                want = tuple(inf.dim(d) for d in target)
                inf.unify(got[0], want[0], tree, got, want, "should be")
                inf.unify(got[1], want[1], tree, got, want, "should be")
        except ShapeError as err:
            err.index = k            # which text failed: a caller typing many lines retypes once, not per line
            raise
    if len(trees) > 1:
        inf.defined = main
    for name in declared:
        if name not in inf.names and name not in inf.defined:
            inf.name_shape(Syntax("name", value=name, text=name))
    check_keywords(inf.functions, inf.names)
    # settle the free dimensions with fresh letters, in order of first appearance
    taken = set(inf.names) | set(inf.named) | set(declared)
    fresh = _fresh_letters(taken)
    for name in inf.order:
        for v in inf.names[name]:
            r = v.root()
            if r.value is None and not r.factors:
                r.value = next(fresh)
    for v in inf.implicit_eye.values():
        r = v.root()
        if r.value is None and not r.factors:
            r.value = next(fresh)
    for name in inf.order:                 # a size that is a product (a vec's length) after its factors
        for v in inf.names[name]:
            _settle_product(v, fresh)
    for v in inf.implicit_eye.values():
        _settle_product(v, fresh)

    def resolved(s):
        return (s[0].root().value, s[1].root().value)

    env = {name: E.sym(name, resolved(s)) for name, s in inf.names.items()}
    dims = {d: d for d in inf.named}
    dim_names = {d for d in inf.named} | {d for s in inf.names.values() for v in s
                                          if isinstance(v.root().value, str) for d in [v.root().value]}
    eyes = {k: v.root().value for k, v in inf.implicit_eye.items()}
    built = []
    definitions: dict[str, Node] = {}
    for k, tree in enumerate(trees):
        _budget.check("typing the lines")
        if k > 1 and first_of[id(tree)] < k:
            built.append(built[first_of[id(tree)]])
            continue
        builder = Builder(tree.text, env, dims, eyes, definitions if k == 0 else dict(definitions))
        try:
            built.append(builder.typed(tree))
        except ShapeError as err:
            err.index = k
            raise
    typed = Typed(built[0], text, env, {n for n in env if n in dim_names and env[n].is_scalar}, definitions)
    return typed, built[1:]
