"""matcalc: derive, check and run matrix-calculus gradients, in matrix notation, showing its work.

The names below are loaded when first used (PEP 562): `import matcalc` costs nothing, and the
command line (matcalc.cli) imports only what the command it runs needs.
"""

from .errors import AssumptionError, MatcalcError, ParseError, ShapeError, UnsupportedError

__version__ = "0.1.0"


def load_ipython_extension(ipython) -> None:
    """`%load_ext matcalc`: the %matcalc and %%matcalc magics (IPython is imported only here)."""
    from .notebook import load_ipython_extension as load

    load(ipython)


__all__ = ["derive", "Derivation", "Step", "verify", "verify_steps", "Verdict", "check_gradient", "MatcalcError",
           "ParseError",
           "ShapeError", "UnsupportedError", "AssumptionError", "to_matrix", "to_index", "tensor_index",
           "kronecker", "from_sympy", "__version__"]

_API = ("Derivation", "Step", "Verdict", "derive", "kronecker", "tensor_index", "to_index", "to_matrix", "verify",
        "verify_steps", "from_sympy", "check_gradient")


def __getattr__(name: str):
    if name in _API:
        from . import api

        value = getattr(api, name)
        globals()[name] = value          # later look-ups are plain attribute reads
        return value
    raise AttributeError(f"module 'matcalc' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
