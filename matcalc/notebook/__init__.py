"""notebook — matcalc in Jupyter: the `%matcalc` / `%%matcalc` magics (`magics.py`).

`%load_ext matcalc` calls `load_ipython_extension`, which registers the magics; IPython is imported
only then, never by `import matcalc`. The objects themselves (Derivation, Verdict, the Kronecker,
index and differential results) render in a notebook by their own `_repr_latex_` / `_repr_markdown_`;
this face adds the magics, which parse a cell's words with the CLI's own commands and return the
library's object, so `_` holds it. It sits above cli/, whose option parsers it reuses.
"""

from .magics import register, run


def load_ipython_extension(ipython) -> None:
    register(ipython)


__all__ = ["load_ipython_extension", "run"]
