"""The numerical helpers that generated gradient code calls, written once for NumPy and for any
NumPy-compatible namespace (`xp`), so HIPS autograd can differentiate the very same forward code.

Vectors are 1-D arrays, matrices 2-D, scalars floats. Softmax and log-sum-exp subtract the maximum
first, so logits of size 1e3 neither overflow nor lose the answer.
"""

from __future__ import annotations

import numpy as np


def sigmoid(z, xp=np):
    # 1/(1+exp(-z)) overflows exp for z << 0; the tanh form is stable everywhere
    return 0.5 * (xp.tanh(0.5 * z) + 1.0)


def relu(z, xp=np):
    return xp.maximum(z, 0.0)


def step(z, xp=np):
    return (z > 0) * 1.0


def softmax(z, xp=np):
    e = xp.exp(z - xp.max(z))
    return e / xp.sum(e)


def logsumexp(z, xp=np):
    top = xp.max(z)
    return top + xp.log(xp.sum(xp.exp(z - top)))


def softmax_rows(Z, xp=np):
    e = xp.exp(Z - xp.max(Z, axis=1, keepdims=True))
    return e / xp.sum(e, axis=1, keepdims=True)


def logsumexp_rows(Z, xp=np):
    top = xp.max(Z, axis=1, keepdims=True)
    return (top + xp.log(xp.sum(xp.exp(Z - top), axis=1, keepdims=True)))[:, 0]


def log_softmax(z, xp=np):
    # log(softmax(z)) without forming softmax: an entry far below the maximum stays finite
    shifted = z - xp.max(z)
    return shifted - xp.log(xp.sum(xp.exp(shifted)))


def log_softmax_rows(Z, xp=np):
    shifted = Z - xp.max(Z, axis=1, keepdims=True)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=1, keepdims=True))


def softplus(z, xp=np):
    # log(1 + exp(z)) = max(z, 0) + log1p(exp(-|z|)): exp never overflows (NumPy's logaddexp(0, z))
    a = xp.abs(z)
    return 0.5 * (z + a) + xp.log1p(xp.exp(-a))


def _special(xp):
    """The scipy.special of the array library xp belongs to (erf, erfc): SciPy's for NumPy, autograd's,
    JAX's or CuPy's own, so each differentiates or runs on its device as its library does. SciPy is an
    optional extra (matcalc[special]): without it NumPy's and autograd's erf and erfc are the standard
    library's, entry by entry (_MathSpecial)."""
    family = str(getattr(xp, "name", "") or getattr(xp, "__name__", ""))
    if family.startswith("jax"):
        import jax.scipy.special as special
        return special
    if family.startswith("cupy"):
        import cupyx.scipy.special as special
        return special
    try:
        if family.startswith("autograd"):
            import autograd.scipy.special as special
        else:
            import scipy.special as special
    except ImportError:
        return _math_special(autograd=family.startswith("autograd"))
    return special


class _MathSpecial:
    """erf and erfc of the standard library applied entry by entry: exact to double precision, the
    error function's own derivative (2/sqrt(pi))*exp(-z^2) declared to autograd when it differentiates."""

    def __init__(self, erf, erfc):
        self.erf, self.erfc = erf, erfc


def _math_special(autograd: bool = False) -> _MathSpecial:
    found = _MATH_SPECIAL.get(autograd)
    if found is not None:
        return found
    import math

    def entrywise(f):
        vectorized = np.vectorize(f, otypes=[float])

        def apply(z):
            out = vectorized(np.asarray(z, dtype=float))
            return float(out) if np.ndim(out) == 0 else out
        return apply

    erf_, erfc_ = entrywise(math.erf), entrywise(math.erfc)
    if autograd:
        from autograd.extend import defvjp, primitive

        import autograd.numpy as anp

        erf_, erfc_ = primitive(erf_), primitive(erfc_)
        slope = 1.1283791670955126          # 2/sqrt(pi)
        defvjp(erf_, lambda ans, z: lambda g: g * slope * anp.exp(-z * z))
        defvjp(erfc_, lambda ans, z: lambda g: -g * slope * anp.exp(-z * z))
    found = _MATH_SPECIAL[autograd] = _MathSpecial(erf_, erfc_)
    return found


_MATH_SPECIAL: dict = {}


def erf(z, xp=np):
    return _special(xp).erf(z)


def normcdf(z, xp=np):
    # (1 + erf(z/sqrt(2)))/2 as erfc(-z/sqrt(2))/2: no cancellation where z << 0
    return 0.5 * _special(xp).erfc(-z * 0.7071067811865476)          # 1/sqrt(2)


def normpdf(z, xp=np):
    return xp.exp(-0.5 * z * z) * 0.3989422804014327                 # 1/sqrt(2*pi)


def gelu(z, xp=np):
    # the exact GELU, z * normcdf(z) (PyTorch's default)
    return z * 0.5 * _special(xp).erfc(-z * 0.7071067811865476)


def gelu_tanh(z, xp=np):
    # the tanh approximation (PyTorch's approximate='tanh'); 0.7978845608028654 = sqrt(2/pi)
    return 0.5 * z * (1.0 + xp.tanh(0.7978845608028654 * (z + 0.044715 * z ** 3)))


def silu(z, xp=np):
    # z * sigmoid(z), the sigmoid in its tanh form (finite everywhere)
    return z * 0.5 * (xp.tanh(0.5 * z) + 1.0)


def ismax(X, xp=np):
    # 1 where X attains its maximum, 0 elsewhere (each tied entry is marked)
    return (X == xp.max(X)) * 1.0


def ismin(X, xp=np):
    return (X == xp.min(X)) * 1.0


def logdet(X, xp=np):
    # slogdet: the log of the determinant without forming it (det overflows for n in the hundreds);
    # the log of a negative determinant is nan. No branch on a value, so it traces under jax.jit
    sign, value = xp.linalg.slogdet(X)
    return xp.where(sign > 0, value, xp.nan)


def norm1(X, xp=np):
    return xp.sum(xp.abs(X))


def commutation(m, n, xp=np):
    # K(m, n) @ vec(A) = vec(A.T) for an m×n A (vec stacks columns): row i*n + j holds a 1 in column j*m + i
    order = (xp.arange(m)[:, None] + m * xp.arange(n)[None, :]).reshape(-1)
    return xp.eye(m * n)[order]


HELPERS = {f.__name__: f for f in (sigmoid, relu, step, softmax, logsumexp, softmax_rows,
                                   logsumexp_rows, log_softmax, log_softmax_rows, softplus, logdet, norm1,
                                   erf, normcdf, normpdf, gelu, gelu_tanh, silu, ismax, ismin)}

# The generated source of the helpers that call the error function: written against `erf` / `erfc`,
# which the source imports from its library's scipy.special (SPECIAL_IMPORTS).
SOURCES = {
    "erf": None,   # imported, not defined
    "normcdf": "def normcdf(z):\n    return 0.5 * erfc(-z * 0.7071067811865476)          # 1/sqrt(2)",
    "gelu": "def gelu(z):\n    # the exact GELU, z * normcdf(z) (PyTorch's default)\n    "
            "return z * 0.5 * erfc(-z * 0.7071067811865476)",
}
SPECIAL_IMPORTS = {
    "numpy": "from scipy.special import erf, erfc",
    "jax": "from jax.scipy.special import erf, erfc",
    "cupy": "from cupyx.scipy.special import erf, erfc",
}


# ---------------------------------------------------------------- NumPy fast paths
# The same functions for the compiled callable when the arrays are NumPy's: array methods instead of
# module functions, no intermediate that is not needed, and (FAST_INPLACE) the argument's buffer
# reused when the plan knows it is a temporary with no other use.


def _softmax_rows_np(Z):
    e = np.exp(Z - Z.max(axis=1, keepdims=True))
    e /= e.sum(axis=1, keepdims=True)
    return e


def _softmax_np(z):
    e = np.exp(z - z.max())
    e /= e.sum()
    return e


def _log_softmax_rows_np(Z, out=None):
    shifted = np.subtract(Z, Z.max(axis=1, keepdims=True), out=out)
    shifted -= np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return shifted


def _log_softmax_np(z, out=None):
    shifted = np.subtract(z, z.max(), out=out)
    shifted -= np.log(np.exp(shifted).sum())
    return shifted


def _sigmoid_np(z, out=None):
    t = np.multiply(z, 0.5, out=out)
    np.tanh(t, out=t)
    t += 1.0
    t *= 0.5
    return t


FAST = {
    "relu": lambda z: np.maximum(z, 0.0),
    "sigmoid": _sigmoid_np,
    "softmax_rows": _softmax_rows_np,
    "softmax": _softmax_np,
    "log_softmax_rows": _log_softmax_rows_np,
    "log_softmax": _log_softmax_np,
    "np.sum": lambda a: a.sum(),
    "softplus": lambda z: np.logaddexp(0.0, z),
}

FAST_INPLACE = {
    "relu": lambda z: np.maximum(z, 0.0, out=z),
    "sigmoid": lambda z: _sigmoid_np(z, out=z),
    "log_softmax_rows": lambda Z: _log_softmax_rows_np(Z, out=Z),
    "log_softmax": lambda z: _log_softmax_np(z, out=z),
    "np.exp": lambda z: np.exp(z, out=z),
    "np.tanh": lambda z: np.tanh(z, out=z),
}
for _name in ("np.exp", "np.tanh"):
    FAST[_name] = getattr(np, _name[3:])


def resolve(spelling: str, xp=np):
    """`np.linalg.inv` or a helper name -> the callable, looked up attribute by attribute (no eval)."""
    own = getattr(xp, "helpers", None)
    if own and spelling in own:          # the library's own fused kernel (torch.softmax, ...)
        return own[spelling]
    if spelling in HELPERS:
        helper = HELPERS[spelling]
        return helper if xp is np else (lambda a, _h=helper: _h(a, xp=xp))
    parts = spelling.split(".")
    if parts[0] != "np":
        raise ValueError(f"unknown NumPy spelling {spelling!r} in rules/functions.toml")
    obj = xp
    for part in parts[1:]:
        obj = getattr(obj, part)
    return obj
