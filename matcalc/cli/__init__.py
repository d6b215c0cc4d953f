"""cli — the `matcalc` command: a thin face over the library.

Each command is a module that parses its options, calls the library (api/) and prints: `derive.py`,
`check.py`, `train.py`, `rules.py` and `serve.py` (the local web page of web/), sharing the error
guard, the common options and the budget of `common.py`; `app.py` gathers them into one click group.
A user's mistake is one line on stderr and exit 2, a wrong claim exit 1, success 0; no traceback.
"""

from .app import main

__all__ = ["main"]
