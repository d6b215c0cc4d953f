"""The checker against a corpus written from the mathematics (issue 12): a checker that calls a wrong
answer CORRECT is the worst bug matcalc can have.

Three layers, each parametrized over tests/claim_corpus.py:
- test_record_is_labelled_right: the corpus itself, judged by an oracle that shares no code with matcalc
  (tests/plain_eval.py: our own reader of the language, HIPS autograd, our own instances with both
  signs across every kink). A mislabelled record fails here, not in the checker's tests.
- test_right_claim_is_accepted / test_wrong_claim_is_rejected: matcalc.verify's verdict (a false alarm
  and a false accept each fail one test, so the counts can be read off the test report).
- test_wrong_claim_is_diagnosed_as_labelled: the kind the diagnosis names, where the record has a label.
- test_pasted_back_answer_is_accepted: matcalc's own printed answer, pasted back as the claim.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest

import matcalc
from matcalc.errors import MatcalcError
from matcalc.check.verify import KINDS

import plain_eval as P
from claim_corpus import FAMILIES, PASTE_BACK, RECORDS, RIGHT, WRONG

SEEDS = (0, 1, 2, 3)
EQUAL = 1e-7        # autograd is exact: a right claim agrees to rounding
DIFFERENT = 1e-3    # a wrong claim must differ clearly on at least one instance


def _id(r) -> str:
    return f"{r['family']}: {r['claim']} ({r['layout'][:3]})"


RIGHT_RECORDS = [r for r in RECORDS if r["ok"]]
WRONG_RECORDS = [r for r in RECORDS if not r["ok"]]
LABELLED = [r for r in WRONG_RECORDS if r["label"] is not None]


def oracle_errors(expression, wrt, claim, layout, sig, draw, seeds=SEEDS, dims_of=None):
    """Relative error of the claim against autograd's derivative on each of our own instances."""
    errs = []
    for seed in seeds:
        env, dims = P.draw(sig, draw, seed)
        if dims_of is not None:
            dims = dims_of(env, dims)
        truth = P.derivative(expression, wrt, env, dims, layout)
        assert np.all(np.isfinite(truth)), (expression, seed)
        try:
            value = P.value(claim, env, dims, truth.shape)
        except P.PlainError:
            errs.append(np.inf)     # the claim does not even evaluate at this shape
            continue
        errs.append(P.relative_error(value, truth))
    return errs


@lru_cache(maxsize=None)
def _verdict(expression, wrt, claim, shapes_key, assume_key, layout):
    shapes = dict(shapes_key) if shapes_key else None
    return matcalc.verify(expression, wrt=wrt, claim=claim, shapes=shapes, assume=list(assume_key),
                          layout=layout)


def verdict(r):
    shapes_key = tuple(sorted(r["shapes"].items())) if r["shapes"] else None
    try:
        return _verdict(r["expression"], r["wrt"], r["claim"], shapes_key, tuple(r["assume"]), r["layout"])
    except MatcalcError as err:
        pytest.fail(f"matcalc refused the claim instead of judging it: {err}")


def _describe(v) -> str:
    return (f"status={v.status!r} kind={v.kind!r} err={v.max_relative_error:.3g} "
            f"expected={v.expected!r} diagnosis={v.diagnosis!r}")


# ------------------------------------------------------------------------------------------ the corpus


def test_corpus_size_and_labels():
    assert len(RIGHT_RECORDS) >= 150 and len(WRONG_RECORDS) >= 150
    assert len(RIGHT) == len(RIGHT_RECORDS) and len(WRONG) == len(WRONG_RECORDS)
    assert all(r["label"] in KINDS for r in LABELLED)
    assert {r["label"] for r in LABELLED} == set(KINDS)
    assert {r["layout"] for r in RECORDS} == {"denominator", "numerator"}
    used = {r["family"] for r in RECORDS}
    assert used == set(FAMILIES), set(FAMILIES) - used
    keys = [(r["family"], r["claim"], r["layout"]) for r in RECORDS]
    assert len(keys) == len(set(keys)), "a record appears twice"


@pytest.mark.parametrize("r", RECORDS, ids=[_id(r) for r in RECORDS])
def test_record_is_labelled_right(r):
    """Autograd on our own instances agrees with the record's label."""
    errs = oracle_errors(r["expression"], r["wrt"], r["plain"], r["layout"], r["sig"], r["draw"])
    if r["ok"]:
        assert max(errs) < EQUAL, errs
    else:
        assert max(errs) > DIFFERENT, errs


# ------------------------------------------------------------------------------------------ the checker


@pytest.mark.parametrize("r", RIGHT_RECORDS, ids=[_id(r) for r in RIGHT_RECORDS])
def test_right_claim_is_accepted(r):
    v = verdict(r)
    assert v.ok, "FALSE ALARM: " + _describe(v)


@pytest.mark.parametrize("r", WRONG_RECORDS, ids=[_id(r) for r in WRONG_RECORDS])
def test_wrong_claim_is_rejected(r):
    v = verdict(r)
    assert not v.ok, "FALSE ACCEPT: " + _describe(v)


@pytest.mark.parametrize("r", LABELLED, ids=[_id(r) for r in LABELLED])
def test_wrong_claim_is_diagnosed_as_labelled(r):
    v = verdict(r)
    assert not v.ok and v.kind == r["label"], f"label {r['label']!r}: " + _describe(v)


# ------------------------------------------------------------------------------------------ pasted back


def _dims_from_derivation(d):
    """Sizes of the dimension letters matcalc inferred (p, q, ...), read off our own arrays."""
    def dims_of(env, dims):
        out = dict(dims)
        for name, (r, c) in d.shapes.items():
            if name not in env:
                continue
            rows, cols = env[name].shape
            if isinstance(r, str):
                out[r] = rows
            if isinstance(c, str):
                out[c] = cols
        return out
    return dims_of


@pytest.mark.parametrize("case", PASTE_BACK, ids=[f"{e} wrt {w} ({lay[:3]})" for e, w, _, _, _, lay in PASTE_BACK])
def test_pasted_back_answer_is_accepted(case):
    expression, wrt, sig, assume, draw, layout = case
    d = matcalc.derive(expression, wrt=wrt, assume=assume, layout=layout)
    printed = str(d)
    # matcalc's answer is right by our own oracle (else this is a derive bug, not a checker bug)
    errs = oracle_errors(expression, wrt, printed, layout, sig, draw, dims_of=_dims_from_derivation(d))
    assert max(errs) < EQUAL, f"matcalc's own answer {printed!r} is wrong by autograd: {errs}"
    try:
        v = matcalc.verify(expression, wrt=wrt, claim=printed, assume=assume, layout=layout)
    except MatcalcError as err:
        pytest.fail(f"matcalc refused its own answer {printed!r}: {err}")
    assert v.ok, f"matcalc rejected its own answer {printed!r}: " + _describe(v)
