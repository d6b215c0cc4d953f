"""`matcalc.check_gradient`: is this function the gradient of that expression? The numbers decide.

    v = matcalc.check_gradient(backprop, "-sum(Y .* log(softmax_rows(...)))/m",
                               wrt=["W1", "b1", "W2", "b2", "W3", "b3"], shapes={...}, assume=["Y one-hot"])
    v.ok, v.kind, v.diagnosis, v.gradients["b3"], v.numpy_source

`fn` is a callable taking the expression's variables by name (NumPy arrays: vectors 1-D, matrices
2-D, scalars floats; `inputs="torch"` or `"jax"` passes float64 tensors instead) and returning the
gradient — an array, a number, a torch or JAX tensor — or, for several names in `wrt`, a dict keyed
by them or a tuple in their order. It is called in this process, under the budget's time limit; or
give `fn` as "path/to/file.py:function" to have that file imported, by path, in a child process
that runs the function under the time and memory budget.
"""

from __future__ import annotations

from .. import budget as _budget
from ..check.code.calling import InProcess
from ..check.code.child import InChild
from ..check.code.judge import check_code
from ..check.code.verdict import CodeVerdict
from ..check.reading import read_input
from ..engine.derive import check_layout
from ..errors import MatcalcError
from ..language.arguments import check_text


def check_gradient(fn, expression: str, wrt, shapes=None, assume=(), layout: str = "denominator",
                   input: str = "auto", inputs: str = "numpy", budget=None) -> CodeVerdict:
    """Judge `fn` as the derivative of `expression` with respect to `wrt` (a name, or a list of names)
    in `layout`, on random instances against finite differences and autograd, as `verify` judges a
    claim; a mismatch is diagnosed in the same words, NumPy's traps included. Returns a CodeVerdict
    (a Verdict): `ok`, `status`, `kind`, `diagnosis`, `gradients` (one Verdict per name), matcalc's
    `formulas` and `numpy_source`. A function that raises, returns NaN or the wrong type, or runs past
    the budget gets status "error" with that kind and a one-line diagnosis."""
    check_layout(layout)
    if not isinstance(expression, str):
        raise TypeError(f"the expression must be text (str), got {type(expression).__name__}")
    check_text(expression, "the expression")
    text = read_input(expression, input)
    with _budget.limit(budget) as active:
        if isinstance(fn, str):
            caller = InChild.from_spec(fn, active, inputs)
        else:
            caller = InProcess(fn, inputs)
        try:
            return check_code(caller, text, wrt, shapes=shapes, assume=assume, layout=layout, budget=active)
        finally:
            caller.close()


__all__ = ["check_gradient", "CodeVerdict", "MatcalcError"]
