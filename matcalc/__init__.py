"""matcalc: derive, check and run matrix-calculus gradients, in matrix notation, showing its work."""

from .api import (
                  Derivation,
                  Step,
                  Verdict,
                  check_gradient,
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

__all__ = ["derive", "Derivation", "Step", "verify", "verify_steps", "Verdict", "check_gradient", "MatcalcError", "ParseError",
           "ShapeError", "UnsupportedError", "AssumptionError", "to_matrix", "to_index", "tensor_index",
           "kronecker", "__version__"]
