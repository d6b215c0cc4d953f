"""erf, erfc, normcdf and gelu without SciPy (an optional extra, matcalc[special]): the standard
library's math.erf entry by entry gives the same values, and autograd differentiates it by the error
function's own derivative, so the checker's two witnesses still stand."""

import math
import sys

import numpy as np
import pytest

import matcalc
from matcalc.compile import runtime

BLOCKED = ("scipy", "scipy.special", "autograd.scipy", "autograd.scipy.special")


@pytest.fixture
def no_scipy(monkeypatch):
    for name in BLOCKED:
        monkeypatch.setitem(sys.modules, name, None)     # `import scipy.special` now raises ImportError
    monkeypatch.setattr(runtime, "_MATH_SPECIAL", {})
    yield
    runtime._MATH_SPECIAL.clear()


def test_erf_without_scipy_is_math_erf(no_scipy):
    z = np.linspace(-6, 6, 41)
    assert np.array_equal(runtime.erf(z), np.array([math.erf(t) for t in z]))
    assert runtime.normcdf(0.3) == pytest.approx(0.5 * math.erfc(-0.3 / math.sqrt(2)), rel=1e-15)


def test_autograd_differentiates_the_fallback(no_scipy):
    import autograd
    import autograd.numpy as anp

    z = np.linspace(-2, 2, 9)
    g = autograd.grad(lambda t: anp.sum(runtime.gelu(t, anp)))(z)
    phi = np.exp(-z * z / 2) / math.sqrt(2 * math.pi)
    cdf = np.array([0.5 * math.erfc(-t / math.sqrt(2)) for t in z])
    assert np.allclose(g, cdf + z * phi, rtol=1e-12, atol=1e-15)


def test_a_derived_gelu_gradient_runs_and_checks_without_scipy(no_scipy):
    d = matcalc.derive("sum(gelu(W*x))", wrt="W", shapes={"W": (3, 4)})
    rng = np.random.default_rng(0)
    W, x = rng.normal(size=(3, 4)), rng.normal(size=4)
    u = W @ x
    cdf = np.array([0.5 * math.erfc(-t / math.sqrt(2)) for t in u])
    want = np.outer(cdf + u * np.exp(-u * u / 2) / math.sqrt(2 * math.pi), x)
    assert np.allclose(d.to_numpy()(W=W, x=x), want, rtol=1e-12)
    assert matcalc.verify("sum(gelu(W*x))", wrt="W", claim=str(d), shapes={"W": (3, 4)}).ok
