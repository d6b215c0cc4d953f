"""language — text ↔ tree: the expression language and what it means, with no calculus in it.

Takes a user's text (ASCII, `grammar.lark`; LaTeX, `latex.lark`; index notation, `index_parse.py`) and
gives a typed expression DAG (`nodes.py` the tree, `expr.py` its operators, `shapes.py` the shapes by
unification, `functions.py` the function table's shapes), and prints a tree back in the same syntax
or as LaTeX (`printing.py`) or entry by entry (`index_print.py`). Entry points: `shapes.elaborate`,
`latex.latex_to_ascii`, `printing.to_text`, `printing.to_latex`. A new function's name and shapes
come from rules/functions.toml; nothing here needs editing to add one.
"""
