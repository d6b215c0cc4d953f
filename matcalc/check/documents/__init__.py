"""documents — checking a derivation as it is published: Markdown, LaTeX and notebooks.

`spans.py` finds the math (and the prose around it) and cuts each span into chains; `statements.py` says
what a chain is (a definition, a shape, an assumption, a case, a derivative claim, an identity);
`model.py` keeps what the document has said (symbols, shapes unified, definitions, functions);
`walker.py` and `derivatives.py` type and measure a formula on random instances (autograd, outside the
engine); `judge.py` draws the instances and names mistakes; `links.py` judges a chain link by link;
`reader.py` reads the document in order; `report.py` renders the verdicts as text and JSON.
"""

from .reader import check_document
from .report import DocumentReport, Equation

__all__ = ["check_document", "DocumentReport", "Equation"]
