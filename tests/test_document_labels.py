"""The document corpus's labels are true: every record of tests/data/documents/expected.toml sits where it
says, and every one with a numeric meaning is checked against its `truth` by NumPy outside matcalc
(tests/document_labels: central differences of the defining expression against the claimed form, on random
instances with distinct sizes, under the entry's case and assumptions). A mislabelled record fails here — a
right claim labelled wrong, a wrong one labelled right, a planted error whose copy was not changed — so the
checker's own tests (tests/test_documents.py) rest on labels that are themselves tested.
"""

from __future__ import annotations

import json
import tomllib
from functools import lru_cache
from pathlib import Path

import pytest

import document_labels as L

DOCS = Path(__file__).parent / "data" / "documents"
EXPECTED = tomllib.loads((DOCS / "expected.toml").read_text(encoding="utf-8"))["equation"]


def key(e) -> tuple:
    return (e["file"], e.get("cell"), e["line"], e["latex"], None if e.get("link") == "1/1" else e.get("link"))


@lru_cache(maxsize=1)
def paired() -> list:
    """Each record of expected.toml with the numeric check written for it (None: reasoned only), matched
    in order within its file (a latex may stand twice on a line)."""
    written = L.collect()
    out = []
    for name in dict.fromkeys(e["file"] for e in EXPECTED):
        mine = [e for e in EXPECTED if e["file"] == name]
        theirs = written.get(name, [])
        assert [key(e) for e in mine] == [key(e) for e in theirs], name
        out += [(e, t["_num"]) for e, t in zip(mine, theirs)]
    return out


def text_of(e) -> str:
    raw = (DOCS / e["file"]).read_text(encoding="utf-8")
    if e["file"].endswith(".ipynb"):
        return "".join(json.loads(raw)["cells"][e["cell"]]["source"])
    return raw


NUMERIC = [(e, num) for e, num in paired() if num is not None]


def _id(e) -> str:
    return f"{e['file']}:{e.get('cell', '')}:{e['line']}:{e.get('link', '')}"


def verdict(num, truth: str):
    """(ok, messages) of an entry's numeric check when its label is `truth` (ill-posed: the meant reading)."""
    return L.run(num, "right" if truth == "ill-posed" else truth)


def test_every_record_has_its_check_and_every_check_its_record():
    assert len(paired()) == len(EXPECTED) == sum(len(v) for v in L.collect().values())
    assert len(NUMERIC) >= 900          # the checks cannot silently shrink to nothing


@pytest.mark.parametrize("e", EXPECTED, ids=_id)
def test_record_sits_where_it_says(e):
    text = text_of(e)
    lines = text.split("\n")
    start = sum(len(x) + 1 for x in lines[:e["line"] - 1])
    at = text.find(e["latex"], start)
    assert at >= 0 and L.line_of(text, at) == e["line"], (e["line"], e["latex"][:60])


@pytest.mark.parametrize("e, num", [pytest.param(e, num, id=_id(e)) for e, num in NUMERIC])
def test_record_is_labelled_right(e, num):
    ok, messages = verdict(num, e["truth"])
    assert ok, "\n".join(messages)


@pytest.mark.parametrize("truth", ["right", "wrong"])
def test_a_flipped_label_fails(truth):
    """The check can fail: the first records labelled right (wrong), labelled the other way, are caught."""
    flipped = {"right": "wrong", "wrong": "right"}[truth]
    sample = [(e, num) for e, num in NUMERIC if e["truth"] == truth][:25]
    assert sample and all(not verdict(num, flipped)[0] for _, num in sample)


def original_of(copy: str) -> str:
    if ".err_" in copy:                              # seed_000_softmax_zh.err_sign.md
        return copy.split(".err_")[0] + ".md"
    return copy.replace(".err", "")                  # course_notes_regression_mlp_en.err.md


COPIES = sorted({e["file"] for e in EXPECTED if ".err" in e["file"]})


@pytest.mark.parametrize("copy", COPIES)
def test_a_copy_has_its_originals_labels_but_the_planted_ones(copy):
    """Each corrupted copy is listed in full with its original's labels; a planted record is wrong (or
    ill-posed) where the original's is right; the files differ only near the planted lines."""
    mine = [e for e in EXPECTED if e["file"] == copy]
    theirs = [e for e in EXPECTED if e["file"] == original_of(copy)]
    assert len(mine) == len(theirs) and any(e.get("planted") for e in mine)
    for a, b in zip(mine, theirs):
        assert (a.get("cell"), a["line"], a.get("link"), a["role"]) == (b.get("cell"), b["line"], b.get("link"), b["role"])
        if a.get("planted"):
            assert a["truth"] in ("wrong", "ill-posed") and b["truth"] == "right", (a["line"], a["latex"][:40])
        else:
            assert a["truth"] == b["truth"] and a["latex"] == b["latex"], (a["line"], a["latex"][:40])
    if not copy.endswith(".ipynb"):
        a = (DOCS / copy).read_text(encoding="utf-8").split("\n")
        b = (DOCS / original_of(copy)).read_text(encoding="utf-8").split("\n")
        near = {x for e in mine if e.get("planted") for x in range(e["line"], e["line"] + 4)}   # a link may start earlier
        changed = {k + 1 for k, (x, y) in enumerate(zip(a, b)) if x != y}
        assert len(a) == len(b) and changed and changed <= near, (sorted(changed), sorted(near))


def test_every_planted_error_is_counted():
    assert sum(1 for e in EXPECTED if e.get("planted")) == 39
