"""An oracle that shares no code with matcalc: a small reader of the expression language that evaluates
with HIPS autograd's NumPy, so the truth of a corpus record (or of a mutant) is computed by autograd on
our own random instance, never by matcalc's parser, shapes, sampler, finite differences or checker.

It reads the ASCII language of rules/../grammar.lark as documented in the README (the same precedence:
`+ -` < `* .* ./ /` (left) < unary minus < postfix `'`, `^`, `.^`), with every value a 2-D array (a
vector is n×1, a scalar 1×1). `I` without a size is a lazy identity whose size comes from what it meets
(or, as a whole claim, from the derivative's shape), as the issue asks of a claim.

`derivative(...)` returns the true derivative in a layout; `value(...)` a claim's value; `relative_error`
measures against the size of the truth (no floor at 1).
"""

from __future__ import annotations

import re

import autograd
import autograd.numpy as anp
import numpy as np
from autograd.scipy.special import erf, erfc

TOKEN = re.compile(r"\s*(?:(?P<num>[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
                   r"|(?P<op>\.\*|\./|\.\^|[-+*/^'(),]))")


class PlainError(Exception):
    pass


def tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise PlainError(f"cannot read {text[pos:]!r}")
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class Parser:
    """Recursive descent over the grammar; builds nested tuples (op, *args)."""

    def __init__(self, text: str):
        self.toks = tokens(text)
        self.i = 0

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None)

    def take(self, value=None):
        tok = self.peek()
        if value is not None and tok[1] != value:
            raise PlainError(f"expected {value!r}, got {tok[1]!r}")
        self.i += 1
        return tok

    def parse(self):
        node = self.sum()
        if self.i != len(self.toks):
            raise PlainError(f"trailing {self.toks[self.i:]}")
        return node

    def sum(self):
        node = self.product()
        while self.peek()[1] in ("+", "-"):
            op = self.take()[1]
            node = ("add" if op == "+" else "sub", node, self.product())
        return node

    def product(self):
        node = self.unary()
        while self.peek()[1] in ("*", ".*", "./", "/"):
            op = self.take()[1]
            node = ({"*": "mul", ".*": "had", "./": "ediv", "/": "div"}[op], node, self.unary())
        return node

    def unary(self):
        if self.peek()[1] == "-":
            self.take()
            return ("neg", self.unary())
        if self.peek()[1] == "+":
            self.take()
            return self.unary()
        return self.postfix()

    def postfix(self):
        node = self.atom()
        while self.peek()[1] in ("'", "^", ".^"):
            op = self.take()[1]
            if op == "'":
                node = ("T", node)
            else:
                neg = self.peek()[1] == "-"
                if neg:
                    self.take()
                e = self.atom()
                node = ("pow" if op == "^" else "epow", node, ("neg", e) if neg else e)
        return node

    def atom(self):
        kind, val = self.take()
        if kind == "num":
            return ("num", float(val))
        if kind == "name":
            if self.peek()[1] == "(":
                self.take("(")
                args = [self.sum()]
                while self.peek()[1] == ",":
                    self.take(",")
                    args.append(self.sum())
                self.take(")")
                return ("call", val, *args)
            return ("name", val)
        if val == "(":
            node = self.sum()
            self.take(")")
            return node
        raise PlainError(f"unexpected {val!r}")


class Eye:
    """`I` of a size not yet known: c times the identity."""

    def __init__(self, c=1.0):
        self.c = c


def _scalar(a) -> bool:
    return not isinstance(a, Eye) and a.shape == (1, 1)


def _col(v) -> np.ndarray:
    return anp.reshape(v, (-1, 1))


def _softmax(z):
    e = anp.exp(z - anp.max(z))
    return e / anp.sum(e)


def _logsumexp(z):
    m = anp.max(z)
    return anp.log(anp.sum(anp.exp(z - m))) + m


def _normcdf(a):
    return 0.5 * erfc(-a / np.sqrt(2.0))


def _normpdf(a):
    return anp.exp(-0.5 * a * a) / np.sqrt(2.0 * np.pi)


def _sigmoid(a):
    return 0.5 * (anp.tanh(a / 2) + 1)


FUNCS = {
    # issue 21: written from their definitions (PyTorch's, NumPy's, SciPy's), not from matcalc's rows
    "softplus": lambda a: anp.logaddexp(0.0, a), "log1p": anp.log1p, "expm1": anp.expm1,
    "cosh": anp.cosh, "sinh": anp.sinh, "erf": erf, "normcdf": _normcdf, "normpdf": _normpdf,
    "gelu": lambda a: a * _normcdf(a),
    "gelu_tanh": lambda a: 0.5 * a * (1 + anp.tanh(np.sqrt(2 / np.pi) * (a + 0.044715 * a ** 3))),
    "silu": lambda a: a * _sigmoid(a),
    "ismax": lambda a: (a == anp.max(a)) * 1.0, "ismin": lambda a: (a == anp.min(a)) * 1.0,
    "exp": anp.exp, "log": anp.log, "sin": anp.sin, "cos": anp.cos, "tan": anp.tan,
    "arcsin": anp.arcsin, "arccos": anp.arccos, "arctan": anp.arctan, "tanh": anp.tanh,
    "sigmoid": lambda a: 0.5 * (anp.tanh(a / 2) + 1),
    "relu": lambda a: anp.where(a > 0, a, 0.0 * a),
    "step": lambda a: anp.where(a > 0, 1.0, 0.0) + 0.0 * a,
    "sqrt": anp.sqrt, "abs": anp.abs, "sign": anp.sign,
}


def _call(name, a, dims):
    if isinstance(a, Eye):
        if name in ("tr", "sum"):
            raise PlainError("size of I unknown")
        raise PlainError(f"{name}(I) unsupported")
    if name in FUNCS:
        return FUNCS[name](a)
    if name == "sum":
        return anp.reshape(anp.sum(a), (1, 1))
    if name == "tr":
        return anp.reshape(anp.trace(a), (1, 1))
    if name == "det":
        return anp.reshape(anp.linalg.det(a), (1, 1))
    if name == "logdet":
        return anp.reshape(anp.log(anp.linalg.det(a)), (1, 1))
    if name == "inv":
        return anp.linalg.inv(a)
    if name == "norm2":
        return anp.reshape(anp.sqrt(anp.sum(a * a)), (1, 1))
    if name == "norm1":
        return anp.reshape(anp.sum(anp.abs(a)), (1, 1))
    if name == "diag":
        if a.shape == (1, 1):
            return a
        if a.shape[1] == 1:
            return anp.diag(a[:, 0])
        return _col(anp.diag(a))
    if name == "diagvec":
        return _col(anp.diag(a))
    if name == "softmax":
        return a / a if a.shape == (1, 1) else _softmax(a)
    if name == "logsumexp":
        return anp.reshape(_logsumexp(a), (1, 1))
    if name == "softmax_rows":
        e = anp.exp(a - anp.max(a, axis=1, keepdims=True))
        return e / anp.sum(e, axis=1, keepdims=True)
    if name == "logsumexp_rows":
        m = anp.max(a, axis=1, keepdims=True)
        return anp.log(anp.sum(anp.exp(a - m), axis=1, keepdims=True)) + m
    if name in ("mean", "var", "std", "max", "min"):     # of all entries (var and std with ddof 0)
        return anp.reshape({"mean": anp.mean, "var": anp.var, "std": anp.std, "max": anp.max,
                            "min": anp.min}[name](a), (1, 1))
    if name == "log_softmax":
        return a - _logsumexp(a)
    if name == "log_softmax_rows":
        m = anp.max(a, axis=1, keepdims=True)
        return a - anp.log(anp.sum(anp.exp(a - m), axis=1, keepdims=True)) - m
    raise PlainError(f"unknown function {name}")


AXIS_FUNCS = {"sum": anp.sum, "mean": anp.mean, "var": anp.var, "std": anp.std}


def _call_many(name, args, env, dims):
    """sum(X, 2) (MATLAB's dimension argument: 1 down the columns, 2 along the rows), max(a, b), min(a, b),
    zeros(m, n)."""
    if name == "zeros":
        sizes = [dims[a[1]] if a[0] == "name" else int(a[1]) for a in args]
        return anp.zeros((sizes[0], sizes[1] if len(sizes) > 1 else 1))
    if name in AXIS_FUNCS and len(args) == 2 and args[1][0] == "num":
        a = evaluate(args[0], env, dims)
        return AXIS_FUNCS[name](a, axis=int(args[1][1]) - 1, keepdims=True)
    if name in ("max", "min") and len(args) == 2:
        a, b = (evaluate(x, env, dims) for x in args)
        return (anp.maximum if name == "max" else anp.minimum)(a, b)
    raise PlainError(f"{name} of {len(args)} arguments")


def _mul(a, b):
    if isinstance(a, Eye) and isinstance(b, Eye):
        return Eye(a.c * b.c)
    if isinstance(a, Eye):
        return Eye(a.c * b[0, 0]) if _scalar(b) else a.c * b      # a scalar times I is still an I
    if isinstance(b, Eye):
        return Eye(a[0, 0] * b.c) if _scalar(a) else a * b.c
    if _scalar(a) or _scalar(b):
        return a * b
    if a.shape[1] != b.shape[0]:
        raise PlainError(f"product {a.shape} * {b.shape}")
    return anp.dot(a, b)


def _add(a, b, sign=1.0):
    if isinstance(a, Eye) and isinstance(b, Eye):
        return Eye(a.c + sign * b.c)
    if isinstance(a, Eye):
        return a.c * anp.eye(b.shape[0]) + sign * b
    if isinstance(b, Eye):
        return a + sign * b.c * anp.eye(a.shape[0])
    _same_shape(a, b, "+")
    return a + sign * b


def evaluate(node, env, dims):
    op = node[0]
    if op == "num":
        return anp.array([[node[1]]])
    if op == "name":
        name = node[1]
        if name in env:
            return env[name]
        if name in dims:
            return anp.array([[float(dims[name])]])
        if name == "I":
            return Eye()
        raise PlainError(f"unknown name {name}")
    if op == "call" and (len(node) > 3 or node[1] == "zeros"):
        return _call_many(node[1], node[2:], env, dims)
    if op == "call":
        name, arg = node[1], node[2]
        if name in ("ones", "I") and arg[0] == "name" and arg[1] in dims:
            n = dims[arg[1]]
            return anp.ones((n, 1)) if name == "ones" else anp.eye(n)
        return _call(name, evaluate(arg, env, dims), dims)
    args = [evaluate(a, env, dims) for a in node[1:]]
    if op == "neg":
        a = args[0]
        return Eye(-a.c) if isinstance(a, Eye) else -a
    if op == "T":
        a = args[0]
        return a if isinstance(a, Eye) else anp.transpose(a)
    a, b = args
    if op == "add":
        return _add(a, b)
    if op == "sub":
        return _add(a, b, -1.0)
    if op == "mul":
        return _mul(a, b)
    if op == "had":
        if isinstance(a, Eye) and isinstance(b, Eye):
            return Eye(a.c * b.c)
        if isinstance(a, Eye) and _scalar(b):          # a scalar .* I is that multiple of I
            return Eye(a.c * b[0, 0])
        if isinstance(b, Eye) and _scalar(a):
            return Eye(a[0, 0] * b.c)
        if isinstance(a, Eye) or isinstance(b, Eye):
            raise PlainError("I .* unsupported")
        _same_shape(a, b, ".*")
        return a * b
    if op == "ediv":
        _same_shape(a, b, "./")
        return a / b
    if op == "div":
        if isinstance(a, Eye):
            return Eye(a.c / b[0, 0])
        return a / b
    if op == "epow":
        return a ** b[0, 0]
    if op == "pow":
        k = b[0, 0]
        if isinstance(a, Eye):
            return Eye(a.c ** k)
        if _scalar(a):
            return a ** k
        if k == -1:
            return anp.linalg.inv(a)
        if float(k).is_integer() and k > 0:
            out = a
            for _ in range(int(k) - 1):
                out = anp.dot(out, a)
            return out
        raise PlainError("matrix power")
    raise PlainError(op)


def _same_shape(a, b, op: str) -> None:
    """Elementwise operators take equal shapes, a scalar, a row repeated over a matrix's rows (X*W + b'),
    or a column repeated over its columns (X - mean(X, 2)), as matcalc's language does; never a column
    against a row (n×1 .* 1×n)."""
    if _scalar(a) or _scalar(b) or a.shape == b.shape:
        return
    rows = sorted((a.shape, b.shape))                # the 1-row one first
    cols = sorted((a.shape, b.shape), key=lambda s: s[1])    # the 1-column one first
    if not (rows[0][0] == 1 and rows[0][1] == rows[1][1]) and not (
            cols[0][1] == 1 and cols[0][0] == cols[1][0] and cols[1][1] != 1):
        raise PlainError(f"{op} of {a.shape} and {b.shape}")


def parse(text: str):
    return Parser(text).parse()


def value(text: str, env: dict, dims: dict, shape: tuple) -> np.ndarray:
    """A claim's value, laid out as `shape` (a bare I, 0 or scalar takes that shape)."""
    with np.errstate(all="ignore"):
        try:
            v = evaluate(parse(text), env, dims)
        except np.linalg.LinAlgError:      # inv of a singular matrix: the claim has no value here
            return np.full(shape, np.nan)
    if isinstance(v, Eye):
        if shape[0] != shape[1]:
            raise PlainError("I claimed for a non-square derivative")
        return v.c * np.eye(shape[0])
    v = np.asarray(v, dtype=float)
    if v.shape == (1, 1) and shape != (1, 1):
        return np.full(shape, v[0, 0]) if v[0, 0] == 0 else v   # only 0 stands for a zero array
    return v


def derivative(expr: str, wrt: str, env: dict, dims: dict, layout: str) -> np.ndarray:
    """The true derivative by autograd, as a 2-D array in `layout`.

    Scalar f: denominator layout has the variable's shape; numerator its transpose.
    Vector f (m×1) by vector or scalar x (n×1): numerator is the m×n Jacobian; denominator its transpose.
    """
    tree = parse(expr)
    x0 = np.asarray(env[wrt], dtype=float)

    def f(x):
        local = dict(env)
        local[wrt] = x
        return evaluate(tree, local, dims)

    with np.errstate(all="ignore"):
        out = f(x0)
        if out.shape == (1, 1):
            den = np.asarray(autograd.grad(lambda x: f(x)[0, 0])(x0), dtype=float)
            return den if layout == "denominator" else den.T
        if out.shape[1] != 1 or x0.shape[1] != 1:
            raise PlainError("only scalar or vector functions (of vectors or scalars)")
        jac = np.asarray(autograd.jacobian(lambda x: f(x)[:, 0])(x0), dtype=float)
    num = jac.reshape(out.shape[0], x0.shape[0])
    return num if layout == "numerator" else num.T


def relative_error(claim: np.ndarray, truth: np.ndarray) -> float:
    """‖claim − truth‖ / ‖truth‖ (and ‖claim‖ where the truth is exactly zero); inf for a shape clash
    or a non-finite value."""
    claim, truth = np.asarray(claim, dtype=float), np.asarray(truth, dtype=float)
    if claim.shape != truth.shape or not np.all(np.isfinite(claim)):
        return np.inf
    scale = np.linalg.norm(truth)
    diff = np.linalg.norm(claim - truth)
    return float(diff / scale) if scale > 0 else float(diff)


# ------------------------------------------------------------------ random instances


def read_signature(sig: str) -> dict[str, tuple[str, ...]]:
    """`W:c,d x:d alpha:` -> {"W": ("c", "d"), "x": ("d",), "alpha": ()}."""
    out = {}
    for part in sig.split():
        name, _, dims = part.partition(":")
        out[name] = tuple(d for d in dims.split(",") if d)
    return out


SIZES = (3, 4, 5, 2, 6, 7)


def draw(sig: str, kinds: dict, seed: int):
    """One random instance: distinct sizes per dimension letter (shifted by seed), every name drawn
    with both signs unless its kind says otherwise. Returns (env of 2-D arrays, dims)."""
    rng = np.random.default_rng(1000 + seed)
    shapes = read_signature(sig)
    letters = sorted({d for s in shapes.values() for d in s})
    dims = {d: SIZES[(i + seed) % len(SIZES)] for i, d in enumerate(letters)}
    env = {}
    for name, s in shapes.items():
        r = dims[s[0]] if s else 1
        c = dims[s[1]] if len(s) > 1 else 1
        env[name] = _draw_one(kinds.get(name, "normal"), r, c, rng)
    return env, dims


def _draw_one(kind: str, r: int, c: int, rng) -> np.ndarray:
    if kind == "normal":
        return rng.standard_normal((r, c))
    if kind == "positive":
        return rng.uniform(0.3, 2.0, (r, c))
    if kind == "onehot":   # each column (a vector) or each row (a matrix) one-hot
        if c == 1:
            out = np.zeros((r, 1))
            out[rng.integers(r), 0] = 1.0
            return out
        out = np.zeros((r, c))
        out[np.arange(r), rng.integers(c, size=r)] = 1.0
        return out
    if kind == "sum1":     # sums to one, entries of both signs (only the sum is assumed)
        v = rng.standard_normal((r, c))
        return v - v.mean() + 1.0 / v.size if c == 1 else v - v.mean(axis=1, keepdims=True) + 1.0 / c
    if kind == "prob":     # a probability vector that is not one-hot
        v = rng.uniform(0.2, 1.0, (r, c))
        return v / v.sum() if c == 1 else v / v.sum(axis=1, keepdims=True)
    if kind == "sym":
        B = rng.standard_normal((r, r))
        return (B + B.T) / 2
    if kind == "spd":
        B = rng.standard_normal((r, r))
        return B @ B.T / r + np.eye(r)
    if kind == "detpos":   # a general (non-symmetric) matrix with positive determinant
        X = rng.standard_normal((r, r)) + 0.5 * np.eye(r)
        if np.linalg.det(X) < 0:
            X[0] = -X[0]
        return X
    if kind == "pm1":
        return rng.choice([-1.0, 1.0], size=(r, c))
    if kind == "near1":    # x.^1000000 stays finite and not 0 only within about 1e-5 of 1
        return 1.0 + 1e-6 * rng.standard_normal((r, c))
    if kind == "wide":     # kinks at +-5 are crossed
        return 4.0 * rng.standard_normal((r, c))
    if kind == "huge":     # kinks at +-100 are crossed
        return 200.0 * rng.standard_normal((r, c))
    if kind == "small":
        return 0.3 * rng.standard_normal((r, c))
    raise ValueError(kind)
