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
The passes live in their own modules: canon.py (1, 2), rewrites.py (lowering rows: numerically stable
forms, structure), lowering.py (3), closures.py (the callable), emit_source.py (the text),
backends.py (PyTorch, JAX, CuPy). This module holds the plan that ties them together.

Conventions: a vector is a 1-D array, a matrix 2-D, a scalar a float.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import budget as _budget
from ..errors import MatcalcError
from ..language.dims import dimension_names, size_of
from ..language.functions import AbstractRow
from ..language.functions import row as function_row
from ..language.expr import Node, walk
from . import rewrites
from .canon import _Canon, _orient, _place_scalars, _py_name, _rep  # noqa: F401  (re-exported)
from .closures import _closure
from .emit_source import SourceWriter
from .lowering import Step, _Lowering, _Ref  # noqa: F401  (re-exported)

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
    dim_hints: dict | None = None   # {dim: (name, axis)}: where a size no input shows may be read off

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
        # a scalar named like a dimension is that size (the 1/n of a mean's gradient), read off the inputs
        sized = {d for n in order for d in dimension_names(n.shape)}
        self.dim_scalars |= {name for name, n in syms.items() if n.is_scalar and name in sized}
        self.shapes = {name: n.shape for name, n in syms.items()}
        self.inputs = sorted(set(syms) - self.dim_scalars)
        # a declared abstract function (f, and its derivatives df, d2f) is an input too: a callable
        self.callables = sorted({row.keyword for n in order if n.op == "fn"
                                 for row in [function_row(n.attr)] if isinstance(row, AbstractRow)})
        self.dim_sources = self._dim_sources()
        self.fast = self.xp is np
        self._checked_shapes = None
        # lowering rows (rewrites.py): stable forms (softmax, log-sum-exp, logaddexp, log1p) and
        # structured ones; the inputs above stay those of the formula as derived
        lowered, moved, size_names = rewrites.lower(list(self.outputs.values()))
        self.dim_scalars |= size_names
        canon = _Canon()
        oriented = [_orient(*canon(node)) for node in lowered]
        roots = _place_scalars(oriented, self.size_hints)
        lowering = _Lowering(self, roots, self.fast)
        for r in roots:
            for n in walk(r):
                lowering.get(n)
        refs = [lowering.full(lowering.get(r), r.shape) for r in roots]
        self._keep = lowering.keep
        for node, label in (self.names or {}).items():
            raw, flipped = canon(moved.get(id(node), node))
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
        n_fixed = len(self.inputs) + len(self.callables)
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
        # a constant is stored once in the blank slot list each call starts from, not recomputed
        self._blank = [None] * len(kept)
        for i, st in enumerate(kept):
            if st.op == "const" and i >= n_fixed:
                self._blank[i] = st.param
        self._runners = [(i, _closure(self, i, st), tuple(dead.get(i, ()))) for i, st in enumerate(kept)
                         if i >= n_fixed and st.op not in ("argdim", "const")]
        self._input_specs = [(name, i, _ndim(_rep(self.shapes[name]))) for i, name in enumerate(self.inputs)]
        self._callable_slots = [(name, len(self.inputs) + j) for j, name in enumerate(self.callables)]
        # at small sizes a call is mostly Python overhead: the temporaries are not dropped one by one
        self._light_runners = [(i, run) for i, run, _ in self._runners]
        self._light = False
        self._fast_inputs = self.fast and not self._argdim_slots
        self._last_inputs = [(name, slot, None) for name, slot, _ in self._input_specs]   # no call yet
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

    def run(self, env: dict) -> list:
        """Every slot's value for the keyword arrays in env (inputs checked, shapes checked once).

        The common call first: float64 arrays of the right ranks and the shapes of the last call (a training
        loop, a benchmark); anything else goes through `_run_checked`, which converts and checks."""
        if self._fast_inputs:
            v = self._blank[:]
            for name, slot, shape in self._last_inputs:   # (name, slot, the shape it had last call)
                a = env.get(name)
                if type(a) is _NDARRAY:
                    if a.dtype is not _F64 or a.shape != shape:
                        break
                elif type(a) is not float or shape != ():
                    break
                v[slot] = a
            else:
                if self._callable_slots:
                    self._put_callables(v, env)
                return self._run_steps(v)
        return self._run_checked(env)

    def _put_callables(self, v: list, env: dict) -> None:
        """The functions given for the declared abstract functions (f=np.tanh, df=...), into their slots."""
        for name, slot in self._callable_slots:
            f = env.get(name)
            if not callable(f):
                given = "missing" if f is None else f"a {type(f).__name__}, not a function"
                raise MatcalcError(f"input {name} is {given}: the derivative uses the declared function's "
                                   f"{'values' if name in self.callables[:1] else 'derivative'} and takes it "
                                   f"as a callable ({name}=lambda z: ...; inputs: "
                                   f"{', '.join(self.inputs + self.callables)})")
            v[slot] = f

    def _run_steps(self, v: list) -> list:
        if self._light:
            for i, run in self._light_runners:
                v[i] = run(v)
        else:
            for i, run, dead in self._runners:
                v[i] = run(v)
                for k in dead:
                    v[k] = None
        return v

    def _run_checked(self, env: dict) -> list:
        v = self._blank[:]
        fast = self.fast
        shapes = []
        ndarray = np.ndarray
        for name, slot, ndim in self._input_specs:
            a = env.get(name, _MISSING)
            if fast and type(a) is ndarray and a.dtype is _F64 and a.ndim == ndim:
                v[slot] = a
                shapes.append(a.shape)
                continue
            if a is _MISSING:
                missing = [n for n in self.inputs if n not in env]
                raise MatcalcError(f"missing input(s): {', '.join(missing)} "
                                   f"(inputs: {', '.join(self.inputs)})")
            if not (fast and ndim == 0 and type(a) is float):
                a = _as_input(name, a, self.shapes[name], fast)
                if np.ndim(a) != ndim:
                    got = np.shape(a)
                    raise MatcalcError(f"input {name} should be {_describe(_rep(self.shapes[name]))}, "
                                       f"got an array of shape {got}")
            v[slot] = a
            shapes.append(() if ndim == 0 else a.shape if fast else tuple(np.shape(a)))
        for d, slot in self._argdim_slots:
            v[slot] = self._argdim(d, env)
        if self._callable_slots:
            self._put_callables(v, env)
        if shapes != self._checked_shapes:  # a training loop passes the same shapes every step
            for d, places in self._dim_checks:
                slot, axis, name = places[0]
                size = d if isinstance(d, int) else shapes[slot][axis]
                for slot, axis, name in (places if isinstance(d, int) else places[1:]):
                    got = shapes[slot]
                    if got[axis] != size:
                        raise MatcalcError(f"input {name} has shape {got}, but its dimension {d} is {size} "
                                           f"elsewhere")
            self._check_allocations(shapes, v)
            self._light = self._largest_step(shapes, v) <= _LIGHT_ENTRIES
            self._checked_shapes = shapes
            if self.fast and all(type(v[slot]) is float or type(v[slot]) is _NDARRAY and v[slot].dtype is _F64
                                 for _, slot, _ in self._input_specs):
                self._last_inputs = [(name, slot, shape) for (name, slot, _), shape in zip(self._input_specs, shapes)]
        return self._run_steps(v)

    def _step_sizes(self, shapes, v):
        """(step, its entry count, its dimensions' sizes) for every array step the inputs' shapes fix."""
        sizes = {}
        for d, (name, axis) in self.dim_sources.items():
            shape = shapes[self.inputs.index(name)]
            if axis < len(shape):
                sizes[d] = int(shape[axis])
        for d, slot in self._argdim_slots:
            sizes[d] = int(v[slot])
        for st in self.steps:
            if st.rep == "scalar" or st.compact is not None:
                continue
            dims = (st.shape[0],) if st.rep == "col" else (st.shape[1],) if st.rep == "row" else st.shape
            entries = 1
            for d in dims:
                value = size_of(d, sizes)
                if not isinstance(value, int):
                    break
                entries *= value
            else:
                yield st, entries, [size_of(d, sizes) for d in dims]

    def _largest_step(self, shapes, v) -> int:
        """The largest temporary (inputs are not temporaries)."""
        return max((entries for st, entries, _ in self._step_sizes(shapes, v) if st.op != "input"), default=0)

    def _check_allocations(self, shapes, v) -> None:
        """Under a budget, no step may allocate an array larger than the budget's memory (once per shapes)."""
        if not _budget._active:
            return
        for st, entries, sizes in self._step_sizes(shapes, v):
            _budget.check_allocation(entries, f"{st.op} ({' × '.join(str(n) for n in sizes)})")

    def _argdim(self, d, env) -> int:
        if d in env:
            return int(env[d])
        name, axis = (self.dim_hints or {}).get(d, (None, 0))
        if name in env and np.ndim(env[name]) > axis:
            return int(np.shape(env[name])[axis])
        raise MatcalcError(f"the size of dimension {d!r} is not implied by any input; pass {d}=<int>")

    def _final(self, v, slot, kind):
        val = v[slot]
        return val if kind == "as is" else float(val) if kind == "float" else np.array(val, dtype=float)

    def __call__(self, **env):
        v = self.run(env)
        return {name: self._final(v, slot, kind) for name, slot, kind in self._finals}

    def value(self, **env):
        """The first output alone (a gradient callable's whole answer), without the dict."""
        return self.value_of(env)

    def value_of(self, env: dict):
        """`value` for arrays already in a dict: a gradient callable passes its keywords on unpacked."""
        v = self.run(env)
        name, slot, kind = self._finals[0]
        val = v[slot]
        return val if kind == "as is" else float(val) if kind == "float" else np.array(val, dtype=float)

    # ------------------------------------------------------------ text

    def source(self, name: str = "f", doc: str = "", with_helpers: bool = True) -> str:
        return SourceWriter(self).function(name, doc, with_helpers)


_MISSING = object()
_NDARRAY = np.ndarray
_LIGHT_ENTRIES = 1 << 14     # no step larger than this (128 KB): temporaries live until the call returns
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


def derivative_label(derivation) -> str:
    """∂f/∂w, ∂²f/∂w² for a Hessian, H[V] for a Hessian-vector product."""
    wrt = derivation.wrt
    if getattr(derivation, "order", 1) == 2:
        direction = getattr(derivation, "direction", None)
        if direction:
            return f"H[{direction}] (the Hessian of f in {wrt} applied to {direction})"
        return f"∂²f/∂{wrt}²"
    return f"∂f/∂{wrt}"


def _doc(derivation) -> str:
    """The docstring: what was derived, and the result; a long result in its named (shared) form, and
    never more than a few lines (the inlined tree of a deep network can be megabytes)."""
    text = str(derivation)
    if len(text) > 300:
        try:
            named, lets = derivation.shared
            text = named + ("" if not lets else " where " + "; ".join(f"{n} = {t}" for n, t in lets))
        except Exception:   # noqa: BLE001  the shared form is a nicety; the plain one is always there
            pass
    if len(text) > 600:
        text = text[:600] + " …"
    doc = f"{derivative_label(derivation)} of f = {derivation.expression} ({derivation.layout} layout): {text}"
    return doc.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


def _dim_hints(derivation) -> dict:
    """Where the size of each dimension can be read off the expression's names (I in ∂tr(X)/∂X)."""
    hints = {}
    for name, node in sorted(derivation.typed.names.items()):
        r, c = node.shape
        axes = [] if (r, c) == (1, 1) else [(r, 0)] if c == 1 else [(c, 0)] if r == 1 else [(r, 0), (c, 1)]
        for d, axis in axes:
            if isinstance(d, str):
                hints.setdefault(d, (name, axis))
    return hints


def derivation_plan(derivation, xp=np) -> Plan:
    # every dimension of the expression may stand in the result as a number (the 1/n of a mean)
    sizes = {d for node in derivation.typed.names.values() for d in dimension_names(node.shape)}
    return Plan({"result": derivation.result}, set(derivation.typed.dims) | sizes, xp,
                dim_hints=_dim_hints(derivation), names=_user_names(derivation))


def _user_names(derivation) -> dict | None:
    """The user's definitions (h = tanh(W*x)) and the held adjoints (dh2) name their values in the code."""
    named = {**getattr(derivation.typed, "definitions", {}), **dict(getattr(derivation, "held", ()))}
    out: dict = {}
    for name, node in named.items():
        if node.args and node not in out and name.isidentifier():
            out[node] = name
    return out or None


def derivation_function_name(derivation) -> str:
    wrt = _py_name(derivation.wrt)
    if getattr(derivation, "order", 1) == 2:
        return f"hvp_{wrt}" if getattr(derivation, "direction", None) else f"d2_d{wrt}2"
    return f"d_d{wrt}"


def compile_derivation(derivation):
    """`d.to_numpy()`: keyword arrays in, the derivative out; sizes that no input of the result shows
    are read off the other names of the expression (or passed as keywords). One call is the plan's
    run and nothing else: no per-call reading of sizes in a wrapper."""
    plan = derivation_plan(derivation)
    value_of, run = plan.value_of, plan.run
    _, slot, kind = plan._finals[0]

    if kind == "as is":
        def gradient(**arrays):
            return run(arrays)[slot]
    else:
        def gradient(**arrays):
            return value_of(arrays)

    gradient.inputs = sorted(derivation.typed.names)
    gradient.functions = list(plan.callables)
    gradient.plan = plan
    gradient.__doc__ = _doc(derivation)
    return gradient


def derivation_source(derivation, backend: str = "numpy") -> str:
    plan = derivation_plan(derivation)
    return SourceWriter(plan, backend).function(derivation_function_name(derivation), _doc(derivation))


def evaluate(node: Node, dim_scalars, arrays: dict, xp=np):
    """The value of a typed expression on arrays (used by the numeric checks). The arrays come as one
    dict, not keywords: a user's variable may be called `xp` or `node`."""
    return Plan({"value": node}, set(dim_scalars), xp)(**arrays)["value"]
