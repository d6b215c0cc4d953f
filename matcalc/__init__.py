"""matcalc: derive, check and run matrix-calculus gradients, in matrix notation, showing its work."""

from .errors import (
                  AssumptionError,
                  MatcalcError,
                  ParseError,
                  ShapeError,
                  UnsupportedError,
)

__version__ = "0.1.0"

_API = ("derive", "Derivation", "Step", "verify", "verify_steps", "Verdict", "check_document", "to_matrix", "to_index",
        "tensor_index", "kronecker")


def __getattr__(name: str):
    """The library's face (api/) is imported when first used: `matcalc check --document` needs no engine."""
    if name in _API:
        from . import api

        value = getattr(api, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'matcalc' has no attribute {name!r}")


def load_ipython_extension(ipython) -> None:
    """`%load_ext matcalc`: the %matcalc and %%matcalc magics (IPython is imported only here)."""
    from .notebook import load_ipython_extension as load

    load(ipython)


__all__ = ["derive", "Derivation", "Step", "verify", "verify_steps", "Verdict", "check_document", "MatcalcError",
           "ParseError",
           "ShapeError", "UnsupportedError", "AssumptionError", "to_matrix", "to_index", "tensor_index",
           "kronecker", "__version__"]
