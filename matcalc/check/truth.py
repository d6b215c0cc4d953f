"""The true derivative at an instance, from outside the engine: finite differences and autodiff.

Two witnesses that share nothing with matcalc's rules measure the derivative of the ORIGINAL expression:
central finite differences (numeric.finite_difference) and HIPS autograd differentiating the forward
computation. Where they agree (to 1e-5, finite differences' own accuracy, after trying several steps),
autograd's value is the reference and a claim must match it to LOOSE = 1e-6 relative to the size of the
derivative: a derivative of size 1e-7 does not pass `0`. (Not tighter: autograd differentiates the
forward computation as written, and `log(1 - sigmoid(z))` at z = 20 is itself only good to ~1e-8.)
Where the two witnesses disagree at every step, the instance is numerically hostile (cancellation, a
near-singular matrix) and is discarded; where autograd cannot run at all, finite differences alone are
the reference, with their own noise as a floor under the size of the truth.

A reference that is not finite (overflow) is no evidence at all: the instance is discarded.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from ..budget import BudgetExceeded
from ..language.expr import Node
from . import numeric

TIGHT = 1e-8
LOOSE = 1e-6
AGREE = 1e-5             # autograd and finite differences must agree this well to trust either


@dataclass
class Reference:
    """The derivative at one instance: its value (denominator layout), the tolerance it supports, and
    which witnesses produced it."""

    value: np.ndarray
    tol: float
    witness: str             # "autograd + finite differences" | "finite differences"
    zero: bool = False       # every entry exactly zero (a structurally zero derivative here)
    floor: float = 0.0       # finite differences' own noise: a truth smaller than this is not resolved

    def error(self, claim) -> float:
        return relative_error(claim, self.value, self.floor)


def relative_error(a, b, floor: float = 0.0) -> float:
    """max |a - b| over max |b|: judged against the size of the truth (or, for a finite-difference truth,
    its noise `floor` if that is larger). An exactly zero truth is met only by a value within 1e-12 in
    absolute terms. Anything not finite, or of another shape, is infinitely wrong."""
    try:
        a = np.asarray(a, dtype=float)
        b = np.asarray(b, dtype=float)
    except (TypeError, ValueError):
        return math.inf
    if a.shape != b.shape:
        return math.inf
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return math.inf
    if not a.size:
        return 0.0
    diff = float(np.max(np.abs(a - b)))
    scale = max(float(np.max(np.abs(b))), floor)
    if scale == 0.0:
        return 0.0 if diff <= 1e-12 else diff / 1e-12
    return diff / scale


def _finite(a) -> bool:
    return bool(np.all(np.isfinite(np.asarray(a, dtype=float))))


class Witness:
    """Measures the derivative of `root` with respect to `wrt` (order 1 or 2) at instances."""

    def __init__(self, root: Node, wrt: str, dim_scalars=(), order: int = 1):
        self.root, self.wrt, self.order = root, wrt, order
        self.dim_scalars = set(dim_scalars)
        self._ad = None

    def finite_difference(self, arrays: dict, h: float = 1e-6):
        inst = numeric.Instance({k: v for k, v in arrays.items() if k not in self.dim_scalars},
                                {k: v for k, v in arrays.items() if k in self.dim_scalars})
        with np.errstate(all="ignore"):
            try:
                if self.order == 2:
                    value = numeric.hessian_finite_difference(self.root, self.wrt, inst, self.dim_scalars,
                                                              h=max(h, 1e-5))
                else:
                    value = numeric.finite_difference(self.root, self.wrt, inst, self.dim_scalars, h=h)
            except BudgetExceeded:
                raise                  # a limit the user set: said, never read as 'undefined here'
            except Exception:  # noqa: BLE001 — undefined here: no evidence
                return None
        return value if _finite(value) else None

    def autodiff(self, arrays: dict):
        """The exact derivative by HIPS autograd through the forward computation (None if it cannot)."""
        try:
            f = self._forward()
            import autograd

            x0 = np.asarray(arrays[self.wrt], dtype=float)
            scalar_x = x0.ndim == 0

            def g(x):
                local = dict(arrays)
                local[self.wrt] = x
                return f(**local)["value"]

            x = float(x0) if scalar_x else x0
            with np.errstate(all="ignore"), warnings.catch_warnings():
                # a constant function is a fine thing to check (its derivative is 0): autograd's note
                # "Output seems independent of input" is for its own users, not ours
                warnings.filterwarnings("ignore", message="Output seems independent of input")
                if self.order == 2:
                    value = autograd.jacobian(autograd.grad(g))(x)
                else:
                    jac = np.asarray(autograd.jacobian(g)(x), dtype=float)
                    out_nd = jac.ndim - x0.ndim
                    value = np.transpose(jac, tuple(range(out_nd, jac.ndim)) + tuple(range(out_nd)))
                    if scalar_x and value.ndim == 2:   # a matrix by a scalar: (dF/dα)', as finite differences
                        value = value.T
        except BudgetExceeded:
            raise                  # a limit the user set: said, never read as 'undefined here'
        except Exception:  # noqa: BLE001 — autograd cannot run this: finite differences alone decide
            return None
        value = np.asarray(value, dtype=float)
        return value if _finite(value) else None

    def _forward(self):
        if self._ad is None:
            import autograd.numpy as anp

            from ..compile.codegen import Plan

            self._ad = Plan({"value": self.root}, self.dim_scalars, xp=anp)
        return self._ad

    def reference(self, arrays: dict) -> Reference | None:
        """The derivative at an instance, or None where the expression is not defined or overflows."""
        fd = self.finite_difference(arrays)
        if fd is None:
            return None
        fd = np.asarray(fd, dtype=float)
        ad = self.autodiff(arrays)
        if ad is not None and ad.shape == fd.shape:
            if relative_error(fd, ad) < AGREE or self._refined_agreement(arrays, ad):
                return Reference(ad, LOOSE, "autograd + finite differences", zero=not np.any(ad))
            return None     # two witnesses that disagree are no evidence: draw elsewhere
        other = self.finite_difference(arrays, h=1e-5)
        noise = float(np.max(np.abs(np.asarray(other, dtype=float) - fd))) if other is not None else 0.0
        return Reference(fd, LOOSE, "finite differences", zero=False, floor=10 * noise)

    def _refined_agreement(self, arrays, ad) -> bool:
        """Finite differences at other steps: a steep function (x.^1000000) needs a much smaller one."""
        for h in (1e-5, 1e-4, 1e-7, 1e-8, 1e-9):
            fd = self.finite_difference(arrays, h=h)
            if fd is not None and relative_error(np.asarray(fd, dtype=float), ad) < AGREE:
                return True
        return False

    def refined_error(self, value, arrays: dict, first: float) -> float:
        """A loose (finite-difference) error between LOOSE and 1e-3 may be step-size noise: re-measure."""
        best = first
        for h in (1e-5, 1e-4, 1e-7):
            fd = self.finite_difference(arrays, h=h)
            if fd is not None:
                best = min(best, relative_error(value, fd))
        return best


__all__ = ["Witness", "Reference", "relative_error", "TIGHT", "LOOSE"]
