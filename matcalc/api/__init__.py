"""api — the library's face: what `import matcalc` gives.

It takes a user's text (ASCII or LaTeX) and gives results that carry everything a user asks of them:
`derive` returns a Derivation (the engine's record with its code, compile/, and its renderings),
`verify` and `verify_steps` a Verdict (check/), `check_gradient` a CodeVerdict on a gradient function
(check/code/), `kronecker`, `tensor_index`, `differential`,
`to_matrix` and `to_index` the other forms of a derivative; `text.py` renders a derivation as the CLI
prints it, `report.py` as a Markdown page. It is the top of the library's layers (language → engine →
compile → check → api); the training demo, the web page and the CLI call it.
"""

from ..check.derivation_file import verify_steps
from ..check.reading import to_matrix
from ..check.verify import Verdict, verify
from ..engine.adjoint import Step
from ..engine.index_matrix import to_index
from .code import CodeVerdict, check_gradient
from .derivation import (
           Derivation,
           KroneckerJacobian,
           derive,
           differential,
           kronecker,
           tensor_index,
)

__all__ = ["derive", "Derivation", "Step", "verify", "verify_steps", "Verdict", "to_matrix", "to_index",
           "tensor_index", "kronecker", "KroneckerJacobian", "differential", "check_gradient", "CodeVerdict"]
