"""matcalc: derive, check and run matrix-calculus gradients, in matrix notation, showing its work."""

from .api import (
                  Derivation,
                  Step,
                  Verdict,
                  check_document,
                  derive,
                  kronecker,
                  tensor_index,
                  to_index,
                  to_matrix,
                  verify,
                  verify_steps,
)
from .errors import (
                  AssumptionError,
                  MatcalcError,
                  ParseError,
                  ShapeError,
                  UnsupportedError,
)

__version__ = "0.1.0"


def load_ipython_extension(ipython) -> None:
    """`%load_ext matcalc`: the %matcalc and %%matcalc magics (IPython is imported only here)."""
    from .notebook import load_ipython_extension as load

    load(ipython)


__all__ = ["derive", "Derivation", "Step", "verify", "verify_steps", "Verdict", "check_document", "MatcalcError",
           "ParseError",
           "ShapeError", "UnsupportedError", "AssumptionError", "to_matrix", "to_index", "tensor_index",
           "kronecker", "__version__"]
