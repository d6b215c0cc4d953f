"""The labels of tests/data/documents/expected.toml, checked numerically outside matcalc.

Written by the corpus's author with the documents (each family module: a document's entries, where they
sit, and for every derivative and identity a NumPy check — central differences of the defining expression
against the claimed form, on random instances with distinct sizes, under the entry's case and assumptions;
abstract l, φ, u, v instantiated with random smooth functions). `collect()` returns every entry with its
check; tests/test_document_labels.py runs each check against the truth expected.toml gives, so a
mislabelled record fails there, not in the checker's tests. Nothing here imports matcalc.
"""

from . import course_notes, index, lsq_tex, matdiff, notebooks, seed000, seed001, seed003
from .manifest import ENTRIES, line_of
from .numeric import run

FAMILIES = [  # (module, original, copy name pattern): the corrupted copies share every other label
    (seed000, "seed_000_softmax_zh.md", "seed_000_softmax_zh.err_{}.md"),
    (seed001, "seed_001_softmax_ce_zh.md", "seed_001_softmax_ce_zh.err_{}.md"),
    (seed003, "seed_003_mlp_notes_zh.md", "seed_003_mlp_notes_zh.err_{}.md"),
]
OTHERS = [course_notes, matdiff, lsq_tex, index, notebooks]


def collect() -> dict:
    """file -> its entries (dicts as in expected.toml, plus `_num`: the numeric check or None)."""
    ENTRIES.clear()
    for module, base, pattern in FAMILIES:
        module.label(base)
        for variant in module.VARIANTS:
            module.label(pattern.format(variant), variant)
    for module in OTHERS:
        module.build()
    return {f: list(es) for f, es in ENTRIES.items()}


__all__ = ["collect", "run", "line_of"]
