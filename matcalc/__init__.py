"""matcalc: derive, check and run matrix-calculus gradients, in matrix notation, showing its work."""

from .derive import Derivation, Step, derive
from .errors import AssumptionError, MatcalcError, ParseError, ShapeError, UnsupportedError
from .verify import Verdict, verify, verify_steps

__version__ = "0.1.0"

__all__ = ["derive", "Derivation", "Step", "verify", "verify_steps", "Verdict", "MatcalcError", "ParseError",
           "ShapeError", "UnsupportedError", "AssumptionError", "__version__"]
