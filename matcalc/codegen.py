"""Derived formulas as NumPy: one plan gives both the readable source and the callable.

The plan is the expression DAG in topological order. Because equal subtrees are one node, the
softmax of the logits in a gradient *is* the softmax of the forward pass: compiling the loss and all
its gradients together computes every shared value once. The callable interprets the plan with small
closures (no `exec` of generated text); the source shows the same steps as Python a person would write.

Conventions: a vector is a 1-D array, a matrix 2-D, a scalar a float. A product of a column and a row
is `np.outer`; a chain ending in a vector is evaluated from the right (`A @ (B @ x)`).
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


def _number(v: Fraction) -> str:
    if v.denominator == 1:
        return f"{v.numerator}.0"
    return repr(float(v)) if len(repr(float(v))) < 12 else f"({v.numerator} / {v.denominator})"


@dataclass
class Plan:
    """Outputs (name -> node) over inputs (the symbols they use), in one shared topological order."""

    outputs: dict[str, Node]
    dim_scalars: set[str] = field(default_factory=set)
    xp: object = np

    def __post_init__(self):
        self.order: list[Node] = []
        seen: set[int] = set()
        for node in self.outputs.values():
            for n in walk(node):
                if id(n) not in seen:
                    seen.add(id(n))
                    self.order.append(n)
        self.index = {id(n): i for i, n in enumerate(self.order)}
        self.inputs = sorted({n.attr for n in self.order if n.op == "sym"} - set(self.dim_scalars))
        self.shapes = {n.attr: n.shape for n in self.order if n.op == "sym"}
        self.dim_sources = self._dim_sources()
        self.uses: dict[int, int] = {}
        for n in self.order:
            for a in n.args:
                self.uses[id(a)] = self.uses.get(id(a), 0) + 1
        self.steps = [self._closure(n) for n in self.order]
        self.output_slots = [(name, self.index[id(node)], node) for name, node in self.outputs.items()]

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

    def _size(self, d, env_dims, env):
        if isinstance(d, int):
            return d
        if d in env_dims:
            return env_dims[d]
        if d in env:
            return int(env[d])
        raise MatcalcError(f"the size of dimension {d!r} is not implied by any input; pass {d}=<int>")

    # ------------------------------------------------------------ closures

    def _closure(self, n: Node):
        xp = self.xp
        idx = [self.index[id(a)] for a in n.args]
        op = n.op
        if op == "sym":
            name = n.attr
            if name in self.dim_scalars:
                return lambda v, env, dims, _n=name: float(dims[_n]) if _n in dims else float(env[_n])
            return lambda v, env, dims, _n=name: env[_n]
        if op == "num":
            value = float(n.attr)
            return lambda v, env, dims: value
        if op in ("ones", "eye", "zero"):
            shape = n.shape
            rep = _rep(shape)

            def make(v, env, dims, _op=op, _s=shape, _rep=rep):
                if _op == "ones":
                    return xp.ones(self._size(_s[0], dims, env))
                if _op == "eye":
                    return xp.eye(self._size(_s[0], dims, env))
                if _rep == "scalar":
                    return 0.0
                if _rep in ("col", "row"):
                    return xp.zeros(self._size(_s[0] if _rep == "col" else _s[1], dims, env))
                return xp.zeros((self._size(_s[0], dims, env), self._size(_s[1], dims, env)))

            return make
        if op == "add":
            if len(idx) == 2:
                i, j = idx
                return lambda v, env, dims: v[i] + v[j]

            def total(v, env, dims, _idx=idx):
                acc = v[_idx[0]]
                for k in _idx[1:]:
                    acc = acc + v[k]
                return acc

            return total
        if op == "mul":
            return self._mul_closure(n, idx)
        if op == "had":
            plan = []
            for a, k in zip(n.args, idx):
                p = a.attr if a.op == "epow" else 1
                plan.append((self.index[id(a.args[0])] if a.op == "epow" else k, float(p)))

            def had(v, env, dims, _plan=plan):
                acc = None
                for k, p in _plan:
                    val = v[k]
                    if p == 1.0:
                        acc = val if acc is None else acc * val
                    elif p == -1.0:
                        acc = 1.0 / val if acc is None else acc / val
                    else:
                        acc = val ** p if acc is None else acc * val ** p
                return acc

            return had
        if op == "T":
            i = idx[0]
            if _rep(n.shape) == "mat":
                return lambda v, env, dims: v[i].T
            return lambda v, env, dims: v[i]
        if op in ("pow", "epow"):
            i = idx[0]
            p = float(n.attr)
            if p == -1.0:
                return lambda v, env, dims: 1.0 / v[i]
            if p == 0.5:
                return lambda v, env, dims: xp.sqrt(v[i])
            return lambda v, env, dims: v[i] ** p
        if op == "bcast":
            i = idx[0]
            child = _rep(n.args[0].shape)
            if child == "col":
                return lambda v, env, dims: v[i][:, None] * xp.ones((1, self._size(n.shape[1], dims, env)))
            if child == "row":
                return lambda v, env, dims: v[i] * xp.ones((self._size(n.shape[0], dims, env), 1))
            shape = n.shape
            rep = _rep(shape)
            if rep in ("col", "row"):
                d = shape[0] if rep == "col" else shape[1]
                return lambda v, env, dims: v[i] * xp.ones(self._size(d, dims, env))
            return lambda v, env, dims: v[i] * xp.ones((self._size(shape[0], dims, env),
                                                        self._size(shape[1], dims, env)))
        if op == "fn":
            f = runtime.resolve(functions()[n.attr].numpy, xp)
            i = idx[0]
            return lambda v, env, dims: f(v[i])
        raise MatcalcError(f"cannot compile the operation {op!r}")

    def _mul_closure(self, n: Node, idx: list[int]):
        xp = self.xp
        scal = [k for a, k in zip(n.args, idx) if a.is_scalar]
        chain = [(k, _rep(a.shape)) for a, k in zip(n.args, idx) if not a.is_scalar]
        from_right = bool(chain) and chain[-1][1] == "col"

        def product(v, env, dims):
            acc = None
            if chain:
                seq = reversed(chain) if from_right else chain
                acc_rep = None
                for k, rep in seq:
                    val = v[k]
                    if acc is None:
                        acc, acc_rep = val, rep
                        continue
                    if from_right:
                        left, lrep, right, rrep = val, rep, acc, acc_rep
                    else:
                        left, lrep, right, rrep = acc, acc_rep, val, rep
                    if lrep == "col" and rrep == "row":
                        acc, acc_rep = xp.outer(left, right), "mat"
                    elif lrep == "scalar" or rrep == "scalar":  # s*(s'*w): a 1×1 middle scales
                        acc, acc_rep = left * right, rrep if lrep == "scalar" else lrep
                    else:
                        acc = left @ right
                        acc_rep = _after(lrep, rrep)
            for k in scal:
                acc = v[k] if acc is None else v[k] * acc
            return acc

        return product

    # ------------------------------------------------------------ running

    def __call__(self, **env):
        missing = [name for name in self.inputs if name not in env]
        if missing:
            raise MatcalcError(f"missing input(s): {', '.join(missing)} (inputs: {', '.join(self.inputs)})")
        env = {k: _as_input(k, v, self.shapes.get(k)) for k, v in env.items()}
        dims = self.dims(env)
        self._check(env, dims)
        vals = [None] * len(self.steps)
        for i, step in enumerate(self.steps):
            vals[i] = step(vals, env, dims)
        return {name: _as_output(vals[i], node, self, dims, env) for name, i, node in self.output_slots}

    def _check(self, env, dims):
        for name in self.inputs:
            shape = self.shapes[name]
            rep = _rep(shape)
            got = np.shape(env[name])
            want = {"scalar": (), "col": (shape[0],), "row": (shape[1],), "mat": shape}[rep]
            if len(got) != len(want):
                raise MatcalcError(f"input {name} should be {_describe(rep)}, got an array of shape {got}")
            for g, w in zip(got, want):
                size = w if isinstance(w, int) else dims.get(w, g)
                if g != size:
                    raise MatcalcError(f"input {name} has shape {got}, but its dimension {w} is {size} elsewhere")


def _after(lrep: str, rrep: str) -> str:
    if lrep == "row" and rrep == "col":
        return "scalar"
    if lrep == "row":
        return "row"
    if rrep == "col":
        return "col"
    return "mat"


def _describe(rep: str) -> str:
    return {"scalar": "a scalar", "col": "a vector (1-D array)", "row": "a vector (1-D array)",
            "mat": "a matrix (2-D array)"}[rep]


def _as_input(name, value, shape):
    if shape is None:
        return value
    rep = _rep(shape)
    if rep == "scalar":
        return float(np.asarray(value).reshape(()))  if np.size(value) == 1 else value
    arr = value if hasattr(value, "shape") and not isinstance(value, np.ndarray) else np.asarray(value, dtype=float)
    if rep in ("col", "row") and getattr(arr, "ndim", 1) == 2 and 1 in arr.shape:
        arr = arr.reshape(-1)
    return arr


def _as_output(val, node: Node, plan: Plan, dims, env):
    rep = _rep(node.shape)
    if rep == "scalar":
        return val if not isinstance(val, np.ndarray) else float(val)
    if node.op == "bcast" or np.ndim(val) == 0:
        if rep == "mat":
            shape = (plan._size(node.shape[0], dims, env), plan._size(node.shape[1], dims, env))
        else:
            shape = (plan._size(node.shape[0] if rep == "col" else node.shape[1], dims, env),)
        return np.broadcast_to(val, shape).copy()
    return val


# ---------------------------------------------------------------- source text


class SourceWriter:
    """Python source for the same plan: shared values get a name, the rest is inlined."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self.names: dict[int, str] = {}
        self.lines: list[str] = []
        self.helpers: set[str] = set()
        self.counter = 0
        for name in plan.inputs:
            pass
        for n in plan.order:
            text = self._text(n)
            if self._materialize(n):
                var = self._fresh(n)
                self.lines.append(f"    {var} = {text}")
                self.names[id(n)] = var

    def _materialize(self, n: Node) -> bool:
        if n.op in ("sym", "num") or (n.op == "T" and n.args[0].op == "sym"):
            return False
        return self.plan.uses.get(id(n), 0) >= 2

    def _fresh(self, n: Node) -> str:
        self.counter += 1
        base = n.attr if n.op == "fn" else {"mul": "prod", "add": "total", "had": "elem"}.get(n.op, "t")
        return f"{base}_{self.counter}"

    def ref(self, n: Node, parens: bool = True) -> str:
        if id(n) in self.names:
            return self.names[id(n)]
        text = self.texts[id(n)]
        if parens and n.op in ("add", "mul", "had", "pow", "epow") and not text.startswith("("):
            return f"({text})"
        return text

    @property
    def texts(self):
        if not hasattr(self, "_texts"):
            self._texts = {}
        return self._texts

    def _text(self, n: Node) -> str:
        text = self._render(n)
        self.texts[id(n)] = text
        return text

    def _size(self, d) -> str:
        if isinstance(d, int):
            return str(d)
        if d in self.plan.dim_sources:
            name, axis = self.plan.dim_sources[d]
            return f"{_py_name(name)}.shape[{axis}]"
        return _py_name(d)

    def _render(self, n: Node) -> str:
        op = n.op
        if op == "sym":
            if n.attr in self.plan.dim_scalars and n.attr in self.plan.dim_sources:
                return self._size(n.attr)
            return _py_name(n.attr)
        if op == "num":
            return _number(n.attr)
        if op == "ones":
            return f"np.ones({self._size(n.shape[0])})"
        if op == "eye":
            return f"np.eye({self._size(n.shape[0])})"
        if op == "zero":
            rep = _rep(n.shape)
            if rep == "scalar":
                return "0.0"
            if rep == "mat":
                return f"np.zeros(({self._size(n.shape[0])}, {self._size(n.shape[1])}))"
            return f"np.zeros({self._size(n.shape[0] if rep == 'col' else n.shape[1])})"
        if op == "add":
            parts = []
            for k, a in enumerate(n.args):
                coef_neg = a.op == "mul" and a.args[0].op == "num" and a.args[0].attr < 0
                if coef_neg and k:
                    rest = a.args[1:] if a.args[0].attr == -1 else (Node("num", (), -a.args[0].attr),) + a.args[1:]
                    inner = self._render(Node("mul", rest, None, a.shape)) if len(rest) > 1 else self.ref(rest[0])
                    parts.append(f" - {inner}" if not (len(rest) > 1 and "+" in inner) else f" - ({inner})")
                else:
                    parts.append((" + " if k else "") + self.ref(a, parens=False))
            return "".join(parts)
        if op == "mul":
            scal = [a for a in n.args if a.is_scalar]
            chain = [a for a in n.args if not a.is_scalar]
            text = ""
            if chain:
                from_right = _rep(chain[-1].shape) == "col"
                seq = list(reversed(chain)) if from_right else chain
                acc, acc_rep = self.ref(seq[0]), _rep(seq[0].shape)
                for a in seq[1:]:
                    rep = _rep(a.shape)
                    left, lrep, right, rrep = (self.ref(a), rep, acc, acc_rep) if from_right else \
                        (acc, acc_rep, self.ref(a), rep)
                    if lrep == "col" and rrep == "row":
                        acc, acc_rep = f"np.outer({_strip(left)}, {_strip(right)})", "mat"
                    elif lrep == "scalar" or rrep == "scalar":
                        acc, acc_rep = f"{left} * {right}", rrep if lrep == "scalar" else lrep
                        acc = f"({acc})" if a is not seq[-1] else acc
                    else:
                        acc, acc_rep = f"{left} @ {right}", _after(lrep, rrep)
                        acc = f"({acc})" if a is not seq[-1] else acc
                text = acc
            for a in reversed(scal):
                if a.op == "num" and a.attr == -1:
                    text = f"-{_wrap(text)}" if text else "-1.0"
                else:
                    text = f"{self.ref(a)} * {_wrap(text)}" if text else self.ref(a)
            return text
        if op == "had":
            text = ""
            for a in n.args:
                if a.op == "epow" and a.attr < 0:
                    base = self.ref(a.args[0])
                    piece = base if a.attr == -1 else f"{base} ** {_number(-a.attr)}"
                    text = f"{text} / {piece}" if text else f"1.0 / {piece}"
                else:
                    text = f"{text} * {self.ref(a)}" if text else self.ref(a)
            return text
        if op == "T":
            inner = self.ref(n.args[0])
            return f"{inner}.T" if _rep(n.shape) == "mat" else inner
        if op in ("pow", "epow"):
            base = self.ref(n.args[0])
            if n.attr == -1:
                return f"1.0 / {base}"
            if n.attr == Fraction(1, 2):
                return f"np.sqrt({_strip(base)})"
            return f"{base} ** {_number(n.attr)}"
        if op == "bcast":
            child = _rep(n.args[0].shape)
            inner = self.ref(n.args[0])
            if child == "col":
                return f"{inner}[:, None]"
            return inner
        if op == "fn":
            spelling = functions()[n.attr].numpy
            if not spelling.startswith("np."):
                self.helpers.add(spelling)
            return f"{spelling}({self.ref(n.args[0], parens=False)})"
        raise MatcalcError(f"cannot write source for {op!r}")


def _strip(text: str) -> str:
    return text[1:-1] if text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]) else text


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if depth < 0:
            return False
    return depth == 0


def _wrap(text: str) -> str:
    return f"({text})" if any(op in text for op in (" + ", " - ", " @ ")) and not (
        text.startswith("(") and _balanced(text[1:-1]) and text.endswith(")")) else text


def function_source(name: str, outputs: dict[str, Node], dim_scalars=(), doc: str = "",
                    with_helpers: bool = True) -> str:
    """A self-contained Python function computing `outputs` (one value, or a dict of several)."""
    plan = Plan(outputs, set(dim_scalars))
    writer = SourceWriter(plan)
    args = ", ".join(_py_name(a) for a in plan.inputs)
    body = list(writer.lines)
    results = [(key, writer.ref(node, parens=False)) for key, node in outputs.items()]
    if len(results) == 1:
        body.append(f"    return {results[0][1]}")
    else:
        body.append("    return {" + ", ".join(f"{k!r}: {v}" for k, v in results) + "}")
    head = ["import numpy as np", ""]
    if with_helpers and writer.helpers:
        for h in sorted(writer.helpers):
            head.append(inspect.getsource(runtime.HELPERS[h]).rstrip())
            head.append("")
        head.append("")
    doc_line = [f'    """{doc}"""'] if doc else []
    return "\n".join(head + [f"def {name}({args}):"] + doc_line + body) + "\n"


def compile_nodes(outputs: dict[str, Node], dim_scalars=(), xp=np) -> Plan:
    return Plan(outputs, set(dim_scalars), xp)


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
