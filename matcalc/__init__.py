"""matcalc: derive, check and run matrix-calculus gradients, in matrix notation, showing its work."""

from .derive import Derivation, Step, derive
from .errors import AssumptionError, MatcalcError, ParseError, ShapeError, UnsupportedError
from .index_matrix import to_index, to_matrix  # noqa: F401  index notation <-> matrix form
from .tensor_index import tensor_index  # noqa: F401  derivatives with no matrix form, entry by entry
from .kronecker import kronecker  # noqa: F401  the same, as a vec/Kronecker Jacobian
from .derivation_file import verify_steps
from .verify import Verdict, verify

__version__ = "0.1.0"

__all__ = ["derive", "Derivation", "Step", "verify", "verify_steps", "Verdict", "MatcalcError", "ParseError",
           "ShapeError", "UnsupportedError", "AssumptionError", "to_matrix", "to_index", "tensor_index",
           "kronecker", "__version__"]
