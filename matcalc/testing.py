"""Assertions for a user's own test suite: `assert_gradient` fails a test with matcalc's diagnosis.

    from matcalc.testing import assert_gradient

    def test_backprop():
        assert_gradient(backprop, "-sum(Y .* log(softmax_rows(X*W + b')))/m", wrt=["W", "b"],
                        shapes={"X": "m,d", "W": "d,k", "b": "k", "Y": "m,k"}, assume=["Y one-hot"])

A face of the library, as `matcalc/__init__.py` is: it calls `matcalc.check_gradient` and turns a
verdict that is not CORRECT into an AssertionError whose message is the whole verdict (what is wrong,
matcalc's formula, the evidence); the verdict itself is the exception's `verdict` attribute.
"""

from __future__ import annotations

from .api import CodeVerdict, check_gradient


class GradientAssertionError(AssertionError):
    """A gradient function that is not the gradient: `verdict` says what is wrong with it."""

    def __init__(self, verdict: CodeVerdict):
        self.verdict = verdict
        head = f"{verdict.claim} is not the gradient of {verdict.expression} with respect to {verdict.wrt}: "
        super().__init__(head + verdict.diagnosis + "\n\n" + str(verdict))


def assert_gradient(fn, expression: str, wrt, shapes=None, assume=(), layout: str = "denominator",
                    input: str = "auto", inputs: str = "numpy", budget=None) -> CodeVerdict:
    """Raise AssertionError (a GradientAssertionError, carrying the diagnosis) unless `fn` is the gradient
    of `expression` with respect to `wrt`; return the CodeVerdict when it is. The arguments are
    `matcalc.check_gradient`'s."""
    __tracebackhide__ = True             # pytest shows the caller's line, and the message
    verdict = check_gradient(fn, expression, wrt=wrt, shapes=shapes, assume=assume, layout=layout, input=input,
                             inputs=inputs, budget=budget)
    if not verdict.ok:
        raise GradientAssertionError(verdict)
    return verdict


__all__ = ["assert_gradient", "GradientAssertionError"]
