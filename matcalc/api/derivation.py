"""What `matcalc.derive` returns: the engine's Derivation with its code and its renderings.

The engine's record (engine/derive.py) is symbolic: the result, the steps, the texts. A user also asks
it for code — `d.to_numpy()`, `d.source("torch")`, `d.compile("jax")` — and a notebook asks it for
Markdown. Those need the code generator (compile/) and so sit here, above it: the same record, one
layer up, so that the engine never imports the compiler.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from .. import budget as _budget
from ..engine import derive as engine
from ..engine.forward import DifferentialResult
from ..engine.forward import differential as _differential
from ..engine.kronecker import KroneckerJacobian as _KroneckerJacobian
from ..engine.kronecker import kronecker as _kronecker
from ..engine.tensor_index import tensor_index as _tensor_index
from ..language.arguments import check_text
from ..language.expr import shape_text
from ..language.functions import declared
from ..language.printing import to_latex

# compile/ (the code generator), check/ (the checked reading of LaTeX sums) and the Markdown report are
# imported where they are used: `matcalc derive` printing text needs none of them at start-up


@dataclass(repr=False)
class Derivation(engine.Derivation):
    """The derivative of `expression` with respect to `wrt`, the steps that produced it, and its code."""

    @classmethod
    def of(cls, d: engine.Derivation) -> "Derivation":
        return cls(**{f.name: getattr(d, f.name) for f in fields(d)})

    def to_numpy(self):
        """A callable: keyword arrays (vectors 1-D, matrices 2-D) in, the derivative out. The sizes of
        dimensions the result alone does not show (I in ∂tr(X)/∂X) are read off the other inputs."""
        from ..compile.codegen import compile_derivation

        return compile_derivation(self)

    def compile(self, backend: str = "numpy"):
        """The derivative as a callable on numpy, torch, jax or cupy arrays (compile/backends.py); for a
        scalar function, `.loss(**arrays)` is differentiable in torch/jax by the derived formula."""
        from ..compile.backends import compile_for

        return compile_for(self, backend)

    def to_torch(self):
        return self.compile("torch")

    def to_jax(self):
        return self.compile("jax")

    def source(self, backend: str = "numpy") -> str:
        """The generated code as text for numpy, torch, jax or cupy."""
        from ..compile.codegen import derivation_source

        return derivation_source(self, backend)

    @property
    def numpy_source(self) -> str:
        return self.source("numpy")

    def to_sympy(self, layout: str | None = None):
        """The result as a SymPy matrix expression, in the derivation's layout (or `layout`): tr → Trace,
        inv → Inverse, `.*` → HadamardProduct, a function of a matrix → applyfunc. The symbols are the
        ones handed in (from a SymPy expression), else MatrixSymbol(name, rows, cols) and Symbol."""
        from ..language.sympy_bridge import to_sympy

        node = self.result if layout is None or layout == self.layout else self.in_layout(layout)
        return to_sympy(node, getattr(self, "sympy_symbols", None))

    @property
    def label_latex(self) -> str:
        """What the result is, in LaTeX, as the books write it for this kind and layout: a gradient
        ∂f/∂x (denominator) or ∂f/∂xᵀ (numerator), a Jacobian ∂f/∂xᵀ or ∂fᵀ/∂x, a Hessian
        ∂²f/∂x∂xᵀ, a Hessian-vector product ∇²f[V]."""
        x = to_latex(self.typed.names[self.wrt])
        f = self.typed.root
        if self.order == 2:
            if self.direction:
                return rf"\nabla^2_{{{x}}} f\,[{to_latex(self.typed.names[self.direction])}]"
            return rf"\frac{{\partial^2 f}}{{\partial {x}\,\partial {x}^\top}}" if not self.typed.names[
                self.wrt].is_scalar else rf"\frac{{d^2 f}}{{d {x}^2}}"
        var = self.typed.names[self.wrt]
        if f.is_scalar and var.is_scalar:
            return rf"\frac{{d f}}{{d {x}}}"
        top = r"^\top"
        if self.layout == "numerator":
            return rf"\frac{{\partial f}}{{\partial {x}{top if not var.is_scalar else ''}}}"
        return rf"\frac{{\partial f{top if not f.is_scalar else ''}}}{{\partial {x}}}"

    def __repr__(self) -> str:
        f, x = self.typed.root, self.typed.names[self.wrt]
        what = "gradient" if f.is_scalar and not x.is_scalar else "Jacobian" if not f.is_scalar else "derivative"
        if self.order == 2:
            what = "Hessian-vector product" if self.direction else "Hessian"
        return (f"<matcalc {what} of {self.expression!r} wrt {self.wrt} ({self.kind}, {self.layout} layout, "
                f"{shape_text(self.shape)}): {self}>")

    def _repr_latex_(self) -> str:
        return f"$${self.label_latex} = {self.latex}$$"

    def _repr_markdown_(self) -> str:
        from .report import markdown_report

        return markdown_report(self)


def _sympy_or_text(expression, wrt, shapes):
    """A SymPy expression (and a SymPy wrt) as text, shapes and its symbols; text passes through."""
    if isinstance(expression, str) and isinstance(wrt, str):
        return expression, wrt, shapes, None
    from ..language.sympy_bridge import reading

    return reading(expression, wrt, shapes)


def _read(expression, input: str) -> str:
    """The text as the engine reads it, LaTeX index sums converted only where the numbers agree."""
    if not isinstance(input, str):
        raise TypeError(f"input must be a str ('auto', 'ascii' or 'latex'), got {type(input).__name__}")
    if isinstance(expression, str):
        check_text(expression, "the expression")
    from ..check.reading import read_input

    return read_input(expression, input)


def derive(expression, wrt, shapes=None, assume=(), layout: str = "denominator",
           order: int = 1, input: str = "auto", direction: str | None = None,
           budget: _budget.Budget | None = None, functions=None) -> Derivation:
    """Differentiate `expression` (text, or a SymPy matrix expression) with respect to `wrt` (a name, or
    a SymPy MatrixSymbol or Symbol: `matcalc.derive(a.T*X*b, X)`).

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
        expression, wrt, shapes, source = _sympy_or_text(expression, wrt, shapes)
        text = _read(expression, input)
        d = Derivation.of(engine.derive(text, wrt, shapes, assume, layout, order, "ascii", direction))
        if source is not None:
            d.sympy_symbols = source.symbols
        return d


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

    def plan(self, materialize: bool = False):
        from ..compile.codegen import Plan

        return Plan(*self.plan_outputs(materialize))

    @property
    def label_latex(self) -> str:
        f = "F" if not self.typed.root.is_scalar else "f"
        x = to_latex(self.typed.names[self.wrt])
        vec = r"\operatorname{vec}"
        if self.layout == "numerator":
            return rf"\frac{{\partial {vec}({f})}}{{\partial {vec}({x})^\top}}"
        return rf"\frac{{\partial {vec}({f})^\top}}{{\partial {vec}({x})}}"

    def __repr__(self) -> str:
        return (f"<matcalc Kronecker Jacobian of {self.expression!r} wrt {self.wrt} ({self.layout} layout, "
                f"{shape_text(self.shape)}): {self.text}>")

    def _repr_latex_(self) -> str:
        return f"$${self.label_latex} = {self.latex}$$"

    def _repr_markdown_(self) -> str:
        name = self.direction_name()
        return "\n".join([
            f"**Kronecker Jacobian** of `{self.expression}` with respect to `{self.wrt}` ({self.layout} layout, "
            f"{shape_text(self.shape)}; vec stacks columns)", "",
            f"$${self.label_latex} = {self.latex}$$", "",
            f"Applied to a direction `{name}` (no Kronecker product formed): `{self.jvp_text()}`"])


class IndexForm(str):
    """A derivative written entry by entry (`df_i/dW_kl = delta_ik*x_l`): the text itself, which a
    notebook shows as such."""

    def __repr__(self) -> str:
        return f"<matcalc index form: {str(self)}>"

    def _repr_markdown_(self) -> str:
        return f"`{str(self)}`"


def kronecker(expression: str, wrt: str, shapes=None, assume=(), layout: str = "numerator",
              input: str = "auto", functions=None) -> KroneckerJacobian:
    """The vec/Kronecker Jacobian of `expression` with respect to `wrt`: `A*X*B` gives kron(B', A)."""
    expression, wrt, shapes, _ = _sympy_or_text(expression, wrt, shapes)
    with declared(functions):
        return KroneckerJacobian.of(_kronecker(_read(expression, input), wrt, shapes, assume, layout, "ascii"))


def differential(expression: str, wrt: str, shapes=None, assume=(), input: str = "auto",
                 functions=None) -> DifferentialResult:
    """The differential of the expression in d`wrt` (`dX`): `inv(X)` gives `df = -inv(X)*dX*inv(X)`."""
    expression, wrt, shapes, _ = _sympy_or_text(expression, wrt, shapes)
    with declared(functions):
        return _differential(_read(expression, input), wrt, shapes, assume, "ascii")


def tensor_index(expression: str, wrt: str, shapes=None, assume=(), input: str = "auto",
                 functions=None) -> IndexForm:
    """`df_i/dW_kl = delta_ik*x_l` for a vector- or matrix-valued expression whose derivative with
    respect to `wrt` has no matrix form (more than two axes)."""
    expression, wrt, shapes, _ = _sympy_or_text(expression, wrt, shapes)
    with declared(functions):
        return IndexForm(_tensor_index(_read(expression, input), wrt, shapes, assume, "ascii"))
