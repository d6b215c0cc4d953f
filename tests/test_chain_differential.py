"""Derivation files written by the differential method: `dL = tr(x*(s - y)'*dW)` lines (chain_file.py).

The seed post's cross-entropy derivation, written as differentials, must be accepted; each variant with
one line broken must be rejected at that line. Each differential line is judged by central differences of
the function along random directions (differential_check.py), not by matcalc's own differential."""

from pathlib import Path

import pytest

import matcalc

SEED = Path(__file__).parent / "data" / "seed_softmax_ce_differential.txt"


def test_the_seed_by_the_differential_method_is_accepted():
    v = matcalc.verify_steps(SEED.read_text())
    assert v.ok, (v.first_bad, v.diagnosis)
    assert len(v.steps) == 8 and all(s.ok for s in v.steps)


@pytest.mark.parametrize("line,broken,number,words", [
    ("ds = (diag(s) - s*s')*dz", "ds = (diag(s) + s*s')*dz", 10, "is not ds in dz"),
    ("   = (s - y)'*dz", "   = (y - s)'*dz", 12, "wrong sign"),
    ("dz = dW*x", "dz = x'*dW", 13, "does not fit"),
    ("   = tr(x*(s - y)'*dW)", "   = tr((s - y)*x'*dW)", 15, "does not fit"),
    ("dL = -y'*(ds ./ s)", "dL = -y'*(ds .* s)", 9, "is not dL in ds"),
    ("dL = (s - y)'*dW*x", "dL = 2*(s - y)'*dW*x", 14, "factor of 2"),
])
def test_a_broken_line_is_named(line, broken, number, words):
    text = SEED.read_text()
    assert line + "\n" in text
    v = matcalc.verify_steps(text.replace(line + "\n", broken + "\n"))
    assert not v.ok and v.first_bad == number, (v.first_bad, v.diagnosis)
    assert words in v.diagnosis, v.diagnosis


def test_a_differential_line_in_two_quantities_is_not_a_differential_line():
    """`dL = ds + dz` names two differentials: it is not read as one (and the file says what it needs)."""
    text = "let z = W*x\nlet s = softmax(z)\nL: -y'*log(s)\ndL = -y'*(ds ./ s) + 0*sum(dz)\n"
    with pytest.raises(matcalc.MatcalcError):
        matcalc.verify_steps(text)
