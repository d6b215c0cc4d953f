"""What `matcalc.derive` returns: the engine's Derivation with its code and its renderings.

The engine's record (engine/derive.py) is symbolic: the result, the steps, the texts. A user also asks
it for code — `d.to_numpy()`, `d.source("torch")`, `d.compile("jax")` — and a notebook asks it for
Markdown. Those need the code generator (compile/) and so sit here, above it: the same record, one
layer up, so that the engine never imports the compiler.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from .. import budget as _budget
from ..check.reading import read_input
from ..compile.backends import compile_for
from ..compile.codegen import Plan, compile_derivation, derivation_source
from ..engine import derive as engine
from ..engine.forward import DifferentialResult
from ..engine.forward import differential as _differential
from ..engine.kronecker import KroneckerJacobian as _KroneckerJacobian
from ..engine.kronecker import kronecker as _kronecker
from ..engine.tensor_index import tensor_index as _tensor_index
from ..language.arguments import check_text
from ..language.functions import declared
from .report import markdown_report


@dataclass(repr=False)
class Derivation(engine.Derivation):
    """The derivative of `expression` with respect to `wrt`, the steps that produced it, and its code."""

    @classmethod
    def of(cls, d: engine.Derivation) -> "Derivation":
        return cls(**{f.name: getattr(d, f.name) for f in fields(d)})

    def to_numpy(self):
        """A callable: keyword arrays (vectors 1-D, matrices 2-D) in, the derivative out. The sizes of
        dimensions the result alone does not show (I in ∂tr(X)/∂X) are read off the other inputs."""
        return compile_derivation(self)

    def compile(self, backend: str = "numpy"):
        """The derivative as a callable on numpy, torch, jax or cupy arrays (compile/backends.py); for a
        scalar function, `.loss(**arrays)` is differentiable in torch/jax by the derived formula."""
        return compile_for(self, backend)

    def to_torch(self):
        return self.compile("torch")

    def to_jax(self):
        return self.compile("jax")

    def source(self, backend: str = "numpy") -> str:
        """The generated code as text for numpy, torch, jax or cupy."""
        return derivation_source(self, backend)

    @property
    def numpy_source(self) -> str:
        return derivation_source(self)

    def _repr_latex_(self) -> str:
        return f"$$\\frac{{\\partial f}}{{\\partial {self.wrt}}} = {self.latex}$$"

    def _repr_markdown_(self) -> str:
        return markdown_report(self)


def _read(expression, input: str) -> str:
    """The text as the engine reads it, LaTeX index sums converted only where the numbers agree."""
    if not isinstance(input, str):
        raise TypeError(f"input must be a str ('auto', 'ascii' or 'latex'), got {type(input).__name__}")
    if isinstance(expression, str):
        check_text(expression, "the expression")
    return read_input(expression, input)


def derive(expression: str, wrt: str, shapes=None, assume=(), layout: str = "denominator",
           order: int = 1, input: str = "auto", direction: str | None = None,
           budget: _budget.Budget | None = None, functions=None) -> Derivation:
    """Differentiate `expression` with respect to the name `wrt`.

    shapes: {"W": ("c", "d"), "x": ("d",), "lam": ()} declares shapes (inferred otherwise);
    assume: texts such as "sum(y) = 1", "A symmetric"; layout: "denominator" (default) or "numerator";
    order: 1 for the gradient or Jacobian, 2 for the Hessian of a scalar function of a vector;
    direction: with order=2, a new name V: the Hessian-vector product H[V] (for a matrix variable);
    input: "auto" (LaTeX recognised), "ascii" or "latex".
    budget: a matcalc.budget.Budget (time, memory); default 10 s and 1 GB, or MATCALC_TIME_LIMIT and
    MATCALC_MEMORY_LIMIT. Work past it stops with BudgetExceeded (a MatcalcError).
    functions: abstract elementwise functions (["f"]): `sum(f(W*x))` wrt W is f'(W*x)*x'; the code takes
    f and its derivatives as keyword callables (d.to_numpy()(W=..., x=..., df=...)).
    """
    with _budget.limit(budget), declared(functions):
        text = _read(expression, input)
        return Derivation.of(engine.derive(text, wrt, shapes, assume, layout, order, "ascii", direction))


class KroneckerJacobian(_KroneckerJacobian):
    """∂vec(F)/∂vec(X)' in vec/Kronecker form, and code for its product with a direction."""

    @classmethod
    def of(cls, k: _KroneckerJacobian) -> "KroneckerJacobian":
        out = cls.__new__(cls)
        out.__dict__.update(k.__dict__)
        return out

    def to_numpy(self, materialize: bool = False):
        """A callable: by default the Jacobian-vector product f(**arrays, V=...) -> F's change along V;
        with materialize=True the Jacobian matrix itself (np.kron), which has size(F)·size(X) entries."""
        return self.plan(materialize).value

    def source(self, materialize: bool = False) -> str:
        return self.plan(materialize).source(*self.plan_names(materialize))

    def plan(self, materialize: bool = False) -> Plan:
        return Plan(*self.plan_outputs(materialize))


def kronecker(expression: str, wrt: str, shapes=None, assume=(), layout: str = "numerator",
              input: str = "auto", functions=None) -> KroneckerJacobian:
    """The vec/Kronecker Jacobian of `expression` with respect to `wrt`: `A*X*B` gives kron(B', A)."""
    with declared(functions):
        return KroneckerJacobian.of(_kronecker(_read(expression, input), wrt, shapes, assume, layout, "ascii"))


def differential(expression: str, wrt: str, shapes=None, assume=(), input: str = "auto",
                 functions=None) -> DifferentialResult:
    """The differential of the expression in d`wrt` (`dX`): `inv(X)` gives `df = -inv(X)*dX*inv(X)`."""
    with declared(functions):
        return _differential(_read(expression, input), wrt, shapes, assume, "ascii")


def tensor_index(expression: str, wrt: str, shapes=None, assume=(), input: str = "auto", functions=None) -> str:
    """`df_i/dW_kl = delta_ik*x_l` for a vector- or matrix-valued expression whose derivative with
    respect to `wrt` has no matrix form (more than two axes)."""
    with declared(functions):
        return _tensor_index(_read(expression, input), wrt, shapes, assume, "ascii")
