"""What `matcalc.derive` returns: the engine's Derivation with its code and its renderings.

The engine's record (engine/derive.py) is symbolic: the result, the steps, the texts. A user also asks
it for code — `d.to_numpy()`, `d.source("torch")`, `d.compile("jax")` — and a notebook asks it for
Markdown. Those need the code generator (compile/) and so sit here, above it: the same record, one
layer up, so that the engine never imports the compiler.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from .. import budget as _budget
from ..check import guard, guard_forms
from ..check.reading import read_input
from ..compile.backends import compile_for
from ..compile.codegen import Plan, compile_derivation, derivation_plan, derivation_source
from ..engine import derive as engine
from ..engine.forward import DifferentialResult
from ..engine.forward import differential as _differential
from ..engine.kronecker import KroneckerJacobian as _KroneckerJacobian
from ..engine.kronecker import kronecker as _kronecker
from ..engine.tensor_index import tensor_index as _tensor_index
from ..language.arguments import check_text
from .report import markdown_report


@dataclass(repr=False)
class Derivation(engine.Derivation):
    """The derivative of `expression` with respect to `wrt`, the steps that produced it, and its code.

    `checked` says what was checked before it was returned (check/guard.py): the result against central
    differences of the expression along random directions on small random instances; a result that
    disagrees is never returned (InternalError). The code it compiles to is checked against it too."""

    checked: guard.Checked | None = field(default=None, compare=False)

    @classmethod
    def of(cls, d: engine.Derivation) -> "Derivation":
        out = cls(**{f.name: getattr(d, f.name) for f in fields(d)})
        out.checked = guard.safely(guard.check_derivation, "derivative", out)
        return out

    def to_numpy(self):
        """A callable: keyword arrays (vectors 1-D, matrices 2-D) in, the derivative out. The sizes of
        dimensions the result alone does not show (I in ∂tr(X)/∂X) are read off the other inputs."""
        fn = compile_derivation(self)
        fn.checked = guard.safely(guard.check_callable, "the compiled code", fn, self)
        return fn

    def compile(self, backend: str = "numpy"):
        """The derivative as a callable on numpy, torch, jax or cupy arrays (compile/backends.py); for a
        scalar function, `.loss(**arrays)` is differentiable in torch/jax by the derived formula."""
        fn = compile_for(self, backend)
        if backend != "cupy":       # CuPy arrays need a GPU: its plan is NumPy's, checked by to_numpy()
            fn.checked = guard.safely(guard.check_callable, f"the compiled {backend} code", fn, self,
                                      f"the compiled {backend} code")
        return fn

    def to_torch(self):
        return self.compile("torch")

    def to_jax(self):
        return self.compile("jax")

    def source(self, backend: str = "numpy") -> str:
        """The generated code as text for numpy, torch, jax or cupy: written from the plan the callable
        runs, which is checked against the derivative first."""
        plan = derivation_plan(self)
        guard.safely(guard.check_callable, "the generated code", plan.value, self, "the generated code")
        return derivation_source(self, backend, plan)

    @property
    def numpy_source(self) -> str:
        return self.source()

    @property
    def index(self) -> str:
        """The result entry by entry (`df/dW_ij = ...`), compared with the checked matrix result first."""
        text = super().index
        if self.order == 1 or not self.direction:
            guard.safely(guard_forms.check_index_text, "index form", self, text)
        return text

    def as_dict(self) -> dict:
        out = super().as_dict()
        out["checked"] = self.checked.as_dict() if self.checked is not None else None
        return out

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
           budget: _budget.Budget | None = None) -> Derivation:
    """Differentiate `expression` with respect to the name `wrt`.

    shapes: {"W": ("c", "d"), "x": ("d",), "lam": ()} declares shapes (inferred otherwise);
    assume: texts such as "sum(y) = 1", "A symmetric"; layout: "denominator" (default) or "numerator";
    order: 1 for the gradient or Jacobian, 2 for the Hessian of a scalar function of a vector;
    direction: with order=2, a new name V: the Hessian-vector product H[V] (for a matrix variable);
    input: "auto" (LaTeX recognised), "ascii" or "latex".
    budget: a matcalc.budget.Budget (time, memory); default 10 s and 1 GB, or MATCALC_TIME_LIMIT and
    MATCALC_MEMORY_LIMIT. Work past it stops with BudgetExceeded (a MatcalcError).
    """
    with _budget.limit(budget):
        text = _read(expression, input)
        return Derivation.of(engine.derive(text, wrt, shapes, assume, layout, order, "ascii", direction))


class KroneckerJacobian(_KroneckerJacobian):
    """∂vec(F)/∂vec(X)' in vec/Kronecker form, and code for its product with a direction."""

    @classmethod
    def of(cls, k: _KroneckerJacobian) -> "KroneckerJacobian":
        out = cls.__new__(cls)
        out.__dict__.update(k.__dict__)
        return out

    checked: guard.Checked | None = None

    def to_numpy(self, materialize: bool = False):
        """A callable: by default the Jacobian-vector product f(**arrays, V=...) -> F's change along V;
        with materialize=True the Jacobian matrix itself (np.kron), which has size(F)·size(X) entries."""
        fn = self.plan(materialize).value
        guard.safely(guard_forms.check_kronecker_code, "the generated code", self, fn, materialize)
        return fn

    def source(self, materialize: bool = False) -> str:
        plan = self.plan(materialize)
        guard.safely(guard_forms.check_kronecker_code, "the generated code", self, plan.value, materialize)
        return plan.source(*self.plan_names(materialize))

    def plan(self, materialize: bool = False) -> Plan:
        return Plan(*self.plan_outputs(materialize))


def kronecker(expression: str, wrt: str, shapes=None, assume=(), layout: str = "numerator",
              input: str = "auto") -> KroneckerJacobian:
    """The vec/Kronecker Jacobian of `expression` with respect to `wrt`: `A*X*B` gives kron(B', A)."""
    k = KroneckerJacobian.of(_kronecker(_read(expression, input), wrt, shapes, assume, layout, "ascii"))
    k.checked = guard.safely(guard_forms.check_kronecker, "vec/Kronecker Jacobian", k)   # else InternalError
    return k


def differential(expression: str, wrt: str, shapes=None, assume=(), input: str = "auto") -> DifferentialResult:
    """The differential of the expression in d`wrt` (`dX`): `inv(X)` gives `df = -inv(X)*dX*inv(X)`.
    `.checked` says how it was compared with the expression before it was returned."""
    dF = _differential(_read(expression, input), wrt, shapes, assume, "ascii")
    dF.checked = guard.safely(guard_forms.check_differential, "differential", dF)
    return dF


class IndexForm(str):
    """The index form's text, with `.checked`: how its entries were compared with the expression."""

    checked: guard.Checked | None = None


def tensor_index(expression: str, wrt: str, shapes=None, assume=(), input: str = "auto") -> str:
    """`df_i/dW_kl = delta_ik*x_l` for a vector- or matrix-valued expression whose derivative with
    respect to `wrt` has no matrix form (more than two axes); a str whose `.checked` is the evidence."""
    text = _read(expression, input)
    out = IndexForm(_tensor_index(text, wrt, shapes, assume, "ascii"))
    out.checked = guard.safely(guard_forms.check_tensor_index, "index form", out, text, wrt, shapes, assume)
    return out
