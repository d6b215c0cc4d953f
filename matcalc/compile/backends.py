"""The same plan on other array libraries: PyTorch, JAX and CuPy (optional extras, never required).

A plan's steps are written against a NumPy-like namespace `xp`; for PyTorch that namespace is
array-api-compat's (the Array API standard over torch, so `xp.sum(x, axis=0)` means what it means in
NumPy), with PyTorch's own fused kernels for the helpers (`torch.softmax`, `torch.logsumexp`,
runtime_torch.py); for JAX it is `jax.numpy`; for CuPy, `cupy`. Array constructors make float64, as
NumPy does, so a derived formula gives the same numbers on every backend.

Beyond the gradient callable, a derivation becomes a function of the user's framework whose
derivative *is* the derived formula: a `torch.autograd.Function` (`loss(**tensors).backward()` runs
the derived gradient) and a `jax.custom_vjp` (`jax.grad` of it runs the derived gradient).

Nothing here executes generated text: the callables interpret the plan's steps (closures.py).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..errors import MatcalcError
from ..language.expr import walk
from ..language.functions import AbstractRow, declared
from ..language.functions import row as function_row

BACKENDS = ("numpy", "torch", "jax", "cupy")


class Float64Namespace:
    """A NumPy-like namespace whose constructors (ones, eye, zeros, asarray) make float64 arrays, and
    whose helpers (softmax, ...) may be the library's own (`helpers`, looked up first by runtime)."""

    def __init__(self, name: str, base, float64, helpers: dict | None = None):
        self.name = name
        self._base = base
        self._f64 = float64
        self.helpers = helpers or {}
        self.linalg = base.linalg

    def __getattr__(self, attr):
        return getattr(self._base, attr)

    def ones(self, shape):
        return self._base.ones(shape, dtype=self._f64)

    def eye(self, n):
        return self._base.eye(n, dtype=self._f64)

    def zeros(self, shape):
        return self._base.zeros(shape, dtype=self._f64)

    def asarray(self, a):
        return self._base.asarray(a, dtype=self._f64)

    def __repr__(self) -> str:
        return f"<matcalc {self.name} namespace>"


def _jax_tmatmul(a, b):
    """a.T @ b as one contraction over the first axes: XLA's CPU backend copies a transposed operand
    before a dot (X.T @ v took 7.6× as long as v @ X at 1000×100), the contraction does not."""
    import jax

    return jax.lax.dot_general(a, b, (((0,), (0,)), ((), ())))


def _missing(backend: str, package: str, extra: str) -> MatcalcError:
    return MatcalcError(f"the {backend} backend needs {package}, which is not installed "
                        f"(pip install 'matcalc[{extra}]')")


@lru_cache(maxsize=None)
def namespace(backend: str):
    """The array namespace a plan runs on for `backend`."""
    if backend == "numpy":
        return np
    if backend == "torch":
        try:
            import array_api_compat.torch as compat
            import torch
        except ImportError:
            raise _missing("torch", "PyTorch and array-api-compat", "torch") from None
        from . import runtime_torch

        return Float64Namespace("torch", compat, torch.float64, runtime_torch.HELPERS)
    if backend == "jax":
        try:
            import jax
            import jax.numpy as jnp
        except ImportError:
            raise _missing("jax", "JAX", "jax") from None
        # the plan computes in float64 as NumPy does; JAX's default is float32
        jax.config.update("jax_enable_x64", True)
        return Float64Namespace("jax", jnp, jnp.float64, {"tmatmul": _jax_tmatmul})
    if backend == "cupy":
        try:
            import cupy
        except ImportError:
            raise MatcalcError("the cupy backend needs CuPy and a CUDA GPU, neither of which is here; "
                               "the generated CuPy source is available (--format cupy, "
                               "derivation_source(d, 'cupy'))") from None
        return Float64Namespace("cupy", cupy, cupy.float64)
    raise MatcalcError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")


def _converter(backend: str):
    """Arrays of any kind (NumPy, lists) to the backend's float64 arrays; the backend's own arrays and
    Python floats pass through as they are."""
    xp = namespace(backend)
    if backend == "torch":
        import torch

        def convert(a):
            if isinstance(a, torch.Tensor) or isinstance(a, float):
                return a
            return torch.as_tensor(np.asarray(a, dtype=float))
        return convert
    if backend == "jax":
        import jax

        def convert(a):
            if isinstance(a, (jax.Array, float)) or isinstance(a, jax.core.Tracer):
                return a
            return xp.asarray(np.asarray(a, dtype=float))
        return convert
    return lambda a: a if isinstance(a, float) else xp.asarray(a)


def compile_nodes_for(outputs: dict, dim_scalars=(), backend: str = "numpy", sizes=None, names=None):
    """codegen.compile_nodes on another backend: the plan and a converter for its inputs."""
    from .codegen import compile_nodes

    return compile_nodes(outputs, dim_scalars, namespace(backend), sizes, names)


def compile_for(derivation, backend: str = "numpy"):
    """The derivative as a callable on `backend`'s arrays: keyword arrays in (NumPy arrays are
    converted), the derivative out as the backend's array. For a scalar function of first order,
    `.loss(**arrays)` is the function itself, differentiable in the framework by the derived formula
    (torch: a torch.autograd.Function; jax: a jax.custom_vjp)."""
    from .codegen import compile_derivation, derivation_plan

    if backend == "numpy":
        return compile_derivation(derivation)
    xp = namespace(backend)
    plan = derivation_plan(derivation, xp)
    convert = _converter(backend)
    value = plan.value

    def derivative(**arrays):
        return value(**{k: convert(v) if k in plan.shapes else v for k, v in arrays.items()})

    derivative.plan = plan
    derivative.inputs = sorted(derivation.typed.names)
    derivative.backend = backend
    from .codegen import _doc

    derivative.__doc__ = _doc(derivation)
    if getattr(derivation, "order", 1) == 1 and derivation.typed.root.is_scalar:
        if backend == "torch":
            derivative.function, derivative.loss = torch_function(derivation)
        elif backend == "jax":
            derivative.loss = jax_function(derivation)
    return derivative


def _loss_plans(derivation, backend: str):
    from .codegen import Plan, _dim_hints, derivation_plan

    if getattr(derivation, "order", 1) != 1 or not derivation.typed.root.is_scalar:
        raise MatcalcError("a framework function with the derived gradient needs a first derivative of a "
                           "scalar expression")
    if derivation.layout != "denominator":
        raise MatcalcError("a framework function takes the gradient in denominator layout (the variable's "
                           "shape); derive with layout='denominator'")
    xp = namespace(backend)
    forward = Plan({"value": derivation.typed.root}, set(derivation.typed.dims), xp,
                   dim_hints=_dim_hints(derivation))
    gradient = derivation_plan(derivation, xp)
    names = list(forward.inputs)
    if derivation.wrt not in names:
        names.append(derivation.wrt)
    return forward, gradient, names


class _InputGradients:
    """∂f/∂name for the inputs other than the variable, derived the first time one is asked for: what
    a larger model needs to send gradients upstream through the loss (to the activations it was given,
    a bias). Assumptions that mention the input are dropped for its derivative: they hold at the data,
    not along a perturbation of that input (`sum(y) = 1` says nothing of ∂f/∂y)."""

    def __init__(self, derivation, xp, gradient):
        self.derivation, self.xp = derivation, xp
        self.plans = {derivation.wrt: gradient}

    def plan(self, name: str):
        if name not in self.plans:
            import re

            from ..engine.derive import derive
            from .codegen import Plan, _dim_hints

            d = self.derivation
            shapes = {n: () if node.shape == (1, 1) else (node.shape[0],) if node.shape[1] == 1 else node.shape
                      for n, node in d.typed.names.items()}
            kept = [t for t in d.assumptions.texts if not re.search(rf"\b{re.escape(name)}\b", t)]
            abstract = sorted({function_row(n.attr).base for n in walk(d.typed.root)
                               if n.op == "fn" and isinstance(function_row(n.attr), AbstractRow)})
            with declared(abstract or None):
                other = derive(d.expression, name, shapes, kept, "denominator")
            self.plans[name] = Plan({"result": other.result}, set(other.typed.dims), self.xp,
                                    dim_hints=_dim_hints(other))
        return self.plans[name]


def _given(plan, calls: dict) -> dict:
    """The callables of declared abstract functions that `plan` takes (f, df, ...), of those given."""
    return {n: c for n, c in calls.items() if n in plan.callables}


def torch_function(derivation):
    """(a torch.autograd.Function subclass, loss(**tensors)): forward is the expression, backward the
    derived gradient times the incoming gradient — for the variable, and for every other input that
    needs one (derived when first needed), so that the loss works inside a larger model."""
    import torch

    forward, gradient, names = _loss_plans(derivation, "torch")
    convert = _converter("torch")
    k = names.index(derivation.wrt)
    others = _InputGradients(derivation, namespace("torch"), gradient)
    calls: dict = {}           # the callables given for declared abstract functions (f, df), by the last call

    class DerivedFunction(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *tensors):
            ctx.save_for_backward(*tensors)
            out = forward.value(**dict(zip(names, tensors)), **calls)
            return out if isinstance(out, torch.Tensor) else torch.as_tensor(out, dtype=torch.float64)

        @staticmethod
        def backward(ctx, grad_output):
            env = dict(zip(names, ctx.saved_tensors))
            grads = [None] * len(names)
            for i, name in enumerate(names):
                if ctx.needs_input_grad[i]:
                    plan = gradient if i == k else others.plan(name)
                    grads[i] = grad_output * plan.value(**env, **_given(plan, calls))
            return tuple(grads)

    DerivedFunction.__name__ = f"Derived_{derivation.wrt}"
    DerivedFunction.__doc__ = f"f = {derivation.expression}; backward: ∂f/∂{derivation.wrt} = {derivation}"

    def loss(**tensors):
        calls.clear()
        calls.update({n: tensors[n] for n in set(forward.callables) | set(gradient.callables) if n in tensors})
        return DerivedFunction.apply(*(convert(tensors[n]) for n in names))

    return DerivedFunction, loss


def jax_function(derivation):
    """loss(**arrays) as a jax.custom_vjp: jax.grad of it (also under jit, vmap, and inside a larger
    model) runs the derived gradient, for the variable and for every other input (derived when JAX first
    traces the backward pass; under jit the cotangents nobody uses are dropped by XLA). An input whose
    derivative matcalc cannot derive gets NaN, never a silent zero."""
    import jax

    forward, gradient, names = _loss_plans(derivation, "jax")
    convert = _converter("jax")
    xp = namespace("jax")
    k = names.index(derivation.wrt)
    others = _InputGradients(derivation, xp, gradient)
    calls: dict = {}           # the callables given for declared abstract functions (f, df), by the last call

    def cotangent(i, a, env, g):
        if i == k:
            return g * gradient.value(**env, **calls)
        try:
            plan = others.plan(names[i])
            return g * plan.value(**env, **_given(plan, calls))
        except MatcalcError:
            return xp.full_like(a, xp.nan)

    @jax.custom_vjp
    def f(*arrays):
        return forward.value(**dict(zip(names, arrays)), **calls)

    def f_fwd(*arrays):
        return f(*arrays), arrays

    def f_bwd(arrays, g):
        env = dict(zip(names, arrays))
        return tuple(cotangent(i, a, env, g) for i, a in enumerate(arrays))

    f.defvjp(f_fwd, f_bwd)

    def loss(**arrays):
        calls.clear()
        calls.update({n: arrays[n] for n in set(forward.callables) | set(gradient.callables) if n in arrays})
        return f(*(convert(arrays[n]) for n in names))

    loss.positional = f
    loss.names = tuple(names)
    return loss
