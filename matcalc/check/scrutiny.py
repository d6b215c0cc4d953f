"""More instances for a claim written differently from matcalc's answer, and what they may not prove.

A claim whose normal form differs from matcalc's gets candidate instances at 0.1×–10× the usual spread,
ranked by how far it and matcalc's answer differ there, the far sides of kinks the usual spreads never
cross (instances.FAR_SCALES), and instances placed at every kink of the expression, of matcalc's answer
and of the claim (kinks.py): the truth is measured at the most suspicious. An instance where matcalc's
own (trusted) answer cannot be computed in floating point, or where the claim's formula is so
ill-conditioned that float64 cannot evaluate it, is no evidence about the claim. Checker (checker.py)
inherits this.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..language.expr import Node
from .instances import Instance, Sampler
from .kinks import place
from .truth import Reference, relative_error

SEED = 20240611
CANDIDATES = 40           # cheap instances searched for a disagreement, when the forms differ
SUSPECTS = 5              # of those, how many get the truth measured
PLACED = 6                # of the instances placed at the kinks, how many (at most) get the truth measured


@dataclass
class Case:
    """One random instance: the arrays, the dimension sizes, and the true derivative there."""

    arrays: dict
    dims: dict
    ref: Reference
    inst: Instance

    @property
    def truth(self):
        return self.ref.value


class Scrutiny:
    """The scrutiny of a Checker (its sampler, witness, claim and derivation)."""

    def scrutinize(self, layout: str, cases: list[Case]) -> tuple[list[Case], str]:
        """More instances for a claim whose form differs from matcalc's: wider and narrower spreads, both
        signs of every kink, and — where matcalc's own answer agreed with the truth — the candidates on
        which the claim and that answer differ most. Returns the extra cases and a sentence on them."""
        sampler = self.sampler()
        candidates: list[Instance] = []
        candidates += sampler.spread([self.root, self.claim, *self.typed.names.values()], SEED, CANDIDATES)
        if not candidates:
            return [], ""
        chosen = self._suspects(layout, candidates, cases)
        extra = []
        for inst in chosen:
            ref = self.witness.reference(inst.arrays)
            if ref is not None:
                extra.append(Case(inst.arrays, inst.dims, ref, inst))
        extra += self._far_kinks(sampler, cases + extra)
        near, placed = self._near_kinks(sampler, cases, layout)
        extra = self._computable(extra + near)
        text = (f"the claim is written differently from matcalc's answer, so it was also checked on "
                f"{len(extra)} more instances chosen from {len(candidates)} candidates at 0.1×–10× spread"
                + (", where it and matcalc's answer differ most" if self._engine_guides else "")
                + (f", and {placed} placed at the kinks (each kink argument at ±1e-3, ±1e-6 and ±3e-9 of its "
                   f"size, and between kinks that nearly coincide)" if placed else ""))
        return extra, text + sampler.kinks_seen([c.inst for c in cases + extra])

    def _computable(self, cases: list[Case]) -> list[Case]:
        """Where matcalc's answer agreed with the truth, the scrutiny's instances at which that answer cannot
        be computed in floating point (exp(1e3) at 10× spread in a long formula) are no evidence about a
        claim written another way: dropped, as an instance where the truth is not finite is."""
        if not self._engine_guides or not cases:
            return cases
        ours = self.den_values(self.derivation.denominator, cases, "denominator")
        return [c for c, v in zip(cases, ours) if finite(v)]

    def _near_kinks(self, sampler: Sampler, cases: list[Case], layout: str) -> tuple[list[Case], int]:
        """Instances placed at every kink of the expression, of matcalc's answer and of the claim (check/
        kinks.py): a kink shifted by 0.001 is wrong only in a band 0.001 wide. Where matcalc's answer agreed
        with the truth, the truth is measured where the claim differs from it; else at every placement."""
        placed = [inst for inst, _ in place(sampler, [c.inst for c in cases], SEED)]
        if not placed:
            return [], 0
        if self._engine_guides:
            ours = self.den_values(self.derivation.denominator, placed, "denominator")
            theirs = self.den_values(self.claim, placed, layout)
            gaps = [relative_error(t, o) for t, o in zip(theirs, ours)]
            order = sorted((i for i, g in enumerate(gaps) if not g < 1e-9), key=lambda i: -min(gaps[i], 1e300))
            chosen = [placed[i] for i in order[:PLACED]] + placed[:2]
        else:
            chosen = placed[:3 * PLACED]
        out = []
        for inst in chosen:
            ref = self.witness.reference(inst.arrays)
            if ref is not None:
                out.append(Case(inst.arrays, inst.dims, ref, inst))
        return out, len(placed)

    _engine_guides = False

    def _far_kinks(self, sampler: Sampler, cases: list[Case]) -> list[Case]:
        """A kink never crossed at the usual spreads (`step(x - 100)` in a claim), sought far and close
        (instances.FAR_SCALES): a claim that differs from the derivative only beyond it must not pass."""
        roots = [self.root, self.claim, *self.typed.names.values()]
        extra: list[Case] = []
        for inst in sampler.across_kinks([c.inst for c in cases], roots, SEED, rounds=2):
            ref = self.witness.reference(inst.arrays)
            if ref is not None:
                extra.append(Case(inst.arrays, inst.dims, ref, inst))
        return extra

    def _suspects(self, layout: str, candidates: list[Instance], cases: list[Case]) -> list[Instance]:
        """The candidates most likely to expose the claim: largest difference from matcalc's answer when
        that answer is trustworthy, plus those that show a kink's other side."""
        chosen: list[Instance] = []
        self._engine_guides = False
        if self.derivation is not None and self.matches(self.derivation.denominator, "denominator", cases):
            self._engine_guides = True
            ours = self.den_values(self.derivation.denominator, candidates, "denominator")
            theirs = self.den_values(self.claim, candidates, layout)
            gaps = [relative_error(t, o) for t, o in zip(theirs, ours)]
            order = sorted(range(len(candidates)), key=lambda i: -gaps[i] if math.isfinite(gaps[i]) else -1e300)
            chosen = [candidates[i] for i in order[:SUSPECTS - 2]]
        sampler = self.sampler()
        sides = sampler.kink_signs([c.inst for c in cases])
        for k, (arg, neg, pos) in enumerate(sides):
            if neg and pos:
                continue
            for inst in candidates:
                got = sampler.kink_signs([inst])[k]
                if (got[1] and not neg) or (got[2] and not pos):
                    if inst not in chosen:
                        chosen.append(inst)
                    break
        for inst in candidates:
            if len(chosen) >= SUSPECTS:
                break
            if inst not in chosen:
                chosen.append(inst)
        return chosen[:SUSPECTS + len(sides)]

    def well_conditioned(self, node: Node, layout: str, case: Case) -> bool:
        """Whether a claim's value at an instance survives a relative change of 1e-10 in every input to
        within 1e-4: where it does not (a difference of two huge terms), float64 cannot evaluate that formula
        there, right or wrong, and the instance is no evidence about it."""
        rng = np.random.default_rng(SEED + 99)
        moved = {}
        for k, v in case.arrays.items():
            if k in self.typed.names and k not in self.dim_scalars:
                a = np.asarray(v, dtype=float)
                b = a * (1 + 1e-10 * rng.standard_normal(a.shape))
                moved[k] = float(b) if b.ndim == 0 else b
            else:
                moved[k] = v
        first, second = self.den_values(node, [case.arrays, moved], layout)
        if not (finite(first) and finite(second)):
            return True                    # not finite is wrong, not ill-conditioned
        size = float(np.max(np.abs(first))) if np.size(first) else 0.0
        return size == 0.0 or float(np.max(np.abs(np.asarray(first) - np.asarray(second)))) <= 1e-4 * size


def finite(a) -> bool:
    return bool(np.all(np.isfinite(np.asarray(a, dtype=float))))


__all__ = ["Scrutiny", "Case", "SEED", "CANDIDATES", "SUSPECTS", "PLACED"]
