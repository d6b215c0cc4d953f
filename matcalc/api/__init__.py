"""api — the library's face: what `import matcalc` gives.

It takes a user's text (ASCII or LaTeX) and gives results that carry everything a user asks of them:
`derive` returns a Derivation (the engine's record with its code, compile/, and its renderings),
`verify` and `verify_steps` a Verdict (check/), `kronecker`, `tensor_index`, `differential`,
`to_matrix` and `to_index` the other forms of a derivative; `text.py` renders a derivation as the CLI
prints it, `report.py` as a Markdown page. It is the top of the library's layers (language → engine →
compile → check → api); the training demo, the web page and the CLI call it.

Its names are loaded when first used (PEP 562), so that a command that only derives does not import
the checker.
"""

# each name's import is spelled out in _load, so that the layers' test sees it
__all__ = ["derive", "Derivation", "Step", "verify", "verify_steps", "Verdict", "to_matrix", "to_index",
           "tensor_index", "kronecker", "KroneckerJacobian", "differential", "from_sympy", "check_gradient",
           "CodeVerdict"]


def _load(name: str):
    if name == "verify_steps":
        from ..check.derivation_file import verify_steps as value
    elif name == "to_matrix":
        from ..check.reading import to_matrix as value
    elif name == "verify":
        from ..check.verify import verify as value
    elif name == "Verdict":
        from ..check.verify import Verdict as value
    elif name == "Step":
        from ..engine.adjoint import Step as value
    elif name == "to_index":
        from ..engine.index_matrix import to_index as value
    elif name == "from_sympy":
        from ..language.sympy_bridge import from_sympy as value
    elif name in ("check_gradient", "CodeVerdict"):
        from . import code
        value = getattr(code, name)
    else:
        from . import derivation
        value = getattr(derivation, name)
    return value


def __getattr__(name: str):
    if name not in __all__:
        raise AttributeError(f"module 'matcalc.api' has no attribute {name!r}")
    value = _load(name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
