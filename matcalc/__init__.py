"""matcalc: derive, check and run matrix-calculus gradients, in matrix notation, showing its work."""

from .engine.derive import Derivation, Step, derive
from .errors import AssumptionError, MatcalcError, ParseError, ShapeError, UnsupportedError
from .engine.index_matrix import to_index, to_matrix  # noqa: F401  index notation <-> matrix form
from .engine.tensor_index import tensor_index  # noqa: F401  derivatives with no matrix form, entry by entry
from .engine.kronecker import kronecker  # noqa: F401  the same, as a vec/Kronecker Jacobian
from .check.derivation_file import verify_steps
from .check.verify import Verdict, verify

__version__ = "0.1.0"

__all__ = ["derive", "Derivation", "Step", "verify", "verify_steps", "Verdict", "MatcalcError", "ParseError",
           "ShapeError", "UnsupportedError", "AssumptionError", "to_matrix", "to_index", "tensor_index",
           "kronecker", "__version__"]
