"""Notebooks checked as documents (issue 27): `matcalc check --document FILE.ipynb` and `check_document` read the
Markdown cells in order as one document, give every equation its `cell` (0-based among ALL cells) and `line`
(1-based within the cell), and judge each equation as the same text in a Markdown file is judged.

Truth: the labels of tests/data/documents/expected.toml (verified numerically outside matcalc by
tests/test_document_labels.py) for the corpus notebooks, and for notebooks made here from the corpus's Markdown
documents, the verdicts of the Markdown document itself (whose labels tests/test_documents.py holds them to).
"""

from __future__ import annotations

import json
import re
import tomllib
from functools import lru_cache
from pathlib import Path

import pytest

from matcalc.check.documents import check_document

DOCS = Path(__file__).parent / "data" / "documents"
EXPECTED = tomllib.loads((DOCS / "expected.toml").read_text(encoding="utf-8"))["equation"]
NOTEBOOKS = sorted({e["file"] for e in EXPECTED if e["file"].endswith(".ipynb")})


@lru_cache(maxsize=None)
def report(name: str, text: str | None = None):
    return check_document(text if text is not None else (DOCS / name).read_text(encoding="utf-8"), name)


def _cells(name: str) -> list:
    cells = json.loads((DOCS / name).read_text(encoding="utf-8"))["cells"]
    return [(c["cell_type"], "".join(c["source"]) if isinstance(c["source"], list) else c["source"]) for c in cells]


def _norm(s: str) -> str:
    return "".join(s.split())


def _place_free(why: str) -> str:
    """A note's place ("line 12", "line 3 of cell 2") left out: the same reason in a file and in a notebook."""
    return re.sub(r"line \d+( of cell \d+)?", "line N", why)


def test_the_corpus_has_a_seed_as_a_notebook_and_one_with_planted_errors():
    assert "seed_001_softmax_ce_zh.ipynb" in NOTEBOOKS and "batched_mlp_notebook.err.ipynb" in NOTEBOOKS
    planted = [e for e in EXPECTED if e["file"] == "batched_mlp_notebook.err.ipynb" and e.get("planted")]
    assert len(planted) >= 3


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_equation_has_its_cell_and_its_line_in_that_cell(name):
    cells = _cells(name)
    got = report(name).as_dict()["equations"]
    assert got
    for e in got:
        assert isinstance(e["cell"], int) and isinstance(e["line"], int) and e["line"] >= 1, e
        kind, source = cells[e["cell"]]
        assert kind == "markdown", e                   # code cells are not read
        lines = source.split("\n")
        assert e["line"] <= len(lines), e
        first = _norm(e["latex"].split("\n")[0])[:15]
        assert first in _norm(lines[e["line"] - 1]), (e["cell"], e["line"], e["latex"][:40], lines[e["line"] - 1])


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_labelled_equation_of_a_notebook_gets_its_verdict_on_its_cell_and_line(name):
    """Each label of expected.toml (cell, line, text) has a record there; never CORRECT where the label is wrong or
    ill-posed, never WRONG where it is right; a planted error is WRONG (or UNREAD with its reason), never CORRECT."""
    eqs = report(name).equations
    problems = []
    for entry in (e for e in EXPECTED if e["file"] == name):
        same = [g for g in eqs if g.cell == entry["cell"] and g.line == entry["line"]
                and (_norm(g.latex) == _norm(entry["latex"]) or _norm(entry["latex"]) in _norm(g.latex)
                     or _norm(g.latex) in _norm(entry["latex"]))]
        where = f"cell {entry['cell']} line {entry['line']} {entry['latex'][:50]!r}"
        if not same:
            problems.append(f"no verdict for {where}")
            continue
        got = same[0]
        if entry["truth"] != "right" and got.verdict == "CORRECT":
            problems.append(f"FALSE ACCEPT {where}: {got.why}")
        if entry["truth"] == "right" and got.verdict == "WRONG":
            problems.append(f"false reject {where}: {got.why}")
        if entry.get("planted") and (got.verdict not in ("WRONG", "UNREAD") or not got.why):
            problems.append(f"planted {entry['planted']} at {where}: {got.verdict}")
    assert not problems, "\n".join(problems)


def test_the_planted_errors_of_the_notebook_are_found_on_their_cells():
    name = "batched_mlp_notebook.err.ipynb"
    planted = {(e["cell"], e["line"]) for e in EXPECTED if e["file"] == name and e.get("planted")}
    wrong = {(g.cell, g.line) for g in report(name).equations if g.verdict == "WRONG"}
    assert planted <= wrong and wrong <= planted | {(e["cell"], e["line"]) for e in EXPECTED
                                                   if e["file"] == name and e["truth"] != "right"}
    original = report("batched_mlp_notebook.ipynb")
    assert original.ok, [(g.cell, g.line, g.why) for g in original.equations if g.verdict == "WRONG"]


def test_the_seed_as_a_notebook_is_judged_as_the_seed_as_a_file():
    """seed 001 as published and as a notebook: the same equations, verdicts and reasons; each notebook (cell, line)
    is the file's line (the cells are the post's parts, in order)."""
    md_text = (DOCS / "seed_001_softmax_ce_zh.md").read_text(encoding="utf-8")
    md, nb = report("seed_001_softmax_ce_zh.md"), report("seed_001_softmax_ce_zh.ipynb")
    starts, pos = {}, 0
    for k, (kind, source) in enumerate(_cells("seed_001_softmax_ce_zh.ipynb")):
        if kind != "markdown":
            continue
        at = md_text.find(source.strip("\n"), pos)
        assert at >= 0, f"cell {k} is not part of the post"
        starts[k] = md_text.count("\n", 0, at) + 1 - (len(source) - len(source.lstrip("\n")))
        pos = at
    assert len(md.equations) == len(nb.equations) > 40
    for a, b in zip(md.equations, nb.equations):
        assert (a.latex, a.verdict, _place_free(a.why), a.role) == (b.latex, b.verdict, _place_free(b.why), b.role)
        assert starts[b.cell] + b.line - 1 == a.line, (a.line, b.cell, b.line, a.latex)


def as_notebook(md: str) -> tuple[str, dict]:
    """A Markdown document as a notebook is written: every heading in a Markdown cell of its own, the text between
    in Markdown cells, and after each a code cell (with math in its comments and strings, which is not read).
    Returns the notebook and, per Markdown cell, the document's line its first line is."""
    cells, current, start, fence = [], [], 1, False
    for i, ln in enumerate(md.split("\n"), 1):
        if ln.lstrip().startswith(("```", "~~~")):
            fence = not fence
        if not fence and re.match(r"#{1,6}\s", ln):
            if current:
                cells.append(("\n".join(current), start))
            cells.append((ln, i))
            current = []
            continue
        if not current:
            start = i
        current.append(ln)
    if current:
        cells.append(("\n".join(current), start))
    nb, starts = [], {}
    for source, first in cells:
        starts[len(nb)] = first
        nb.append({"cell_type": "markdown", "metadata": {}, "source": source.splitlines(True)})
        nb.append({"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
                   "source": ["s = '$$\\\\frac{\\\\partial L}{\\\\partial W} = 0$$'  # $a = b$\n"]})
    return json.dumps({"cells": nb, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}), starts


# documents with sections (a name read anew, a function redeclared), cases, differentials, Einstein's convention
AS_NOTEBOOKS = ["course_notes_regression_mlp_en.md", "course_notes_regression_mlp_en.err.md",
                "index_notation_backprop_en.md", "matrix_differential_notes_zh.err.md", "seed_000_softmax_zh.md",
                "seed_003_mlp_notes_zh.md", "seed_000_softmax_zh.err_swap_jy.md"]


@pytest.mark.parametrize("name", AS_NOTEBOOKS)
def test_a_markdown_document_cut_into_cells_is_judged_as_the_document(name):
    """A heading in a cell of its own still starts the section of the cells after it and ends their case; a
    convention, a definition and a shape carry over from cell to cell; code cells are not read."""
    md_text = (DOCS / name).read_text(encoding="utf-8")
    nb_text, starts = as_notebook(md_text)
    md, nb = report(name), check_document(nb_text, name.replace(".md", ".ipynb"))
    assert len(md.equations) == len(nb.equations)
    diff = [(a.line, a.verdict, a.why[:60], b.cell, b.line, b.verdict, b.why[:60])
            for a, b in zip(md.equations, nb.equations)
            if (a.latex, a.verdict, _place_free(a.why)) != (b.latex, b.verdict, _place_free(b.why))
            or starts[b.cell] + b.line - 1 != a.line]
    assert not diff, "\n".join(map(str, diff))


def test_a_note_names_the_cell_of_what_it_took():
    r"""In a notebook, "read L as Loss, defined on line 2 of cell 1" (a line alone would be ambiguous)."""
    cells = [{"cell_type": "markdown", "metadata": {}, "source": ["# Softmax\n"]},
             {"cell_type": "markdown", "metadata": {}, "source": [
                 "Let $\\hat{y}_j = \\frac{e^{z_j}}{\\sum_k e^{z_k}}$ and $t$ the label.\n",
                 "$$\\text{Loss} = -\\log \\hat{y}_t$$\n"]},
             {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": ["pass\n"]},
             {"cell_type": "markdown", "metadata": {}, "source": [
                 "$$\\frac{\\partial L}{\\partial \\hat{y}_t} = -\\frac{1}{\\hat{y}_t}$$\n"]}]
    r = check_document(json.dumps({"cells": cells}), "loss.ipynb")
    claim = [e for e in r.equations if e.role == "derivative"]
    assert len(claim) == 1 and claim[0].cell == 3 and claim[0].line == 1, r
    assert claim[0].verdict == "CORRECT", claim[0].why
    assert any("defined on line 2 of cell 1" in a for a in claim[0].assumed), claim[0].assumed


def test_the_html_report_shows_the_notebook_with_every_equation_marked():
    from matcalc.web.document_page import document_html

    name = "batched_mlp_notebook.err.ipynb"
    text = (DOCS / name).read_text(encoding="utf-8")
    r = report(name)
    page = document_html(text, r, title=name)
    cells = _cells(name)
    shown = re.findall(r"<div class='cell(?: code)?' data-cell='(\d+)'>", page)
    assert [int(k) for k in shown] == list(range(len(cells)))              # every cell, in order, code ones too
    for k, (kind, source) in enumerate(cells):
        if kind == "code":
            first = next(ln for ln in source.split("\n") if ln.strip())
            assert first.replace("'", "&#x27;").replace('"', "&quot;") in page    # shown, escaped
    marks = re.findall(r"<li class='(ok|bad|unread)'>", page)
    assert len(marks) == len(r.equations)
    assert marks.count("bad") == sum(e.verdict == "WRONG" for e in r.equations) == 4
    for e in r.equations:
        if e.verdict == "WRONG":
            assert f"(cell {e.cell}, line {e.line})" in page
