"""Checking a derivative someone worked out by hand: right, or wrong and why.

The numbers decide, and the numbers come from outside the engine. A claim is CORRECT only when, on every
instance drawn (distinct dimension sizes; names as wide as the expression allows, both signs across every
kink; assumptions drawn exactly as stated), its value equals the true derivative of the ORIGINAL
expression — measured by autograd and confirmed by central finite differences — to a tolerance relative
to the size of that derivative. matcalc's own answer is measured the same way, and a disagreement is
reported, never trusted. When the claim and matcalc's answer have different normal forms, the claim is
put through more instances, chosen where the two differ most (checker.Checker.scrutinize). A claim that
rewrites to matcalc's answer is "proved by rewriting" as well.

The modules: instances.py draws, truth.py measures, checker.py judges one claim, diagnose.py names the
mistake, verdict.py is what comes back, derivation_file.py checks a whole derivation line by line.
"""

from __future__ import annotations

import math

import numpy as np

from .. import budget as _budget
from ..engine.definitions import as_variable
from ..engine.derive import check_layout
from ..errors import MatcalcError
from ..language.arguments import check_assume, check_shapes
from ..language import expr as E
from ..language.functions import declared
from .abstract import abstract_bases
from .checker import Checker, Unmeasurable
from .sizes import rename_sizes, renamed_sizes, small_shapes
from .diagnose import _diagnose, _shape_diagnosis
from .reading import read_input
from .verdict import (
    CORRECT,
    KINDS,
    SHAPE,
    STATUSES,
    TOLERANCE,
    UNDECIDED,
    WRONG,
    StepCheck,
    StepsVerdict,
    Verdict,
    render_steps,
    render_verdict,
)

ENGINE_NOTE = ("matcalc's own derivation disagrees with the true derivative (largest relative error "
               "{err:.2g}); matcalc's printed answer is not trustworthy here — please report it")


def verify(expr: str, wrt: str, claim: str, shapes=None, assume=(), layout: str = "denominator",
           input: str = "auto", order: int = 1, budget=None, functions=None) -> Verdict:
    """Is `claim` the derivative of `expr` with respect to `wrt` (in `layout`)? The numbers decide.

    A claim in index notation (`(s_i - y_i)*x_j`, `dL/dW_ij = ...`, `s_i*(delta_ik - s_k)`) is judged
    entry by entry (index_check.py). Raises a MatcalcError for bad input (a parse or shape error, in the expression or — saying so —
    in the claim); every judgement about the claim itself is a Verdict. The check runs under `budget` (a
    matcalc.budget.Budget, default 10 s and 1 GB or the environment's; BudgetExceeded past it).

    `functions` declares abstract elementwise functions (["f"]): the claim may write f, f', f''; each
    instance draws f anew as a random smooth function (check/abstract.py), so a claim true for one f only
    is WRONG.

    Declared sizes above 12 (`--shape X=100,5`) are checked at small sizes under a name (n100), the
    literal sizes of the texts with them (`ones(100)`); the verdict's texts say 100 again."""
    shapes, assume = check_shapes(shapes), check_assume(assume)
    with _budget.limit(budget) as spent, declared(functions):
        verdict = _verify(expr, wrt, claim, shapes, assume, layout, input, order)
        spent.check("judging the claim")   # never a verdict made of work the budget cut short
    renamed = renamed_sizes(shapes)
    if renamed and isinstance(verdict, Verdict):
        import re

        def back(text):
            if not isinstance(text, str):
                return text
            for number, name in renamed.items():
                text = re.sub(rf"(?<![A-Za-z0-9_]){name}(?![A-Za-z0-9_])", str(number), text)
            return text

        for attr in ("expression", "claim", "expected", "diagnosis", "expected_shape", "claim_shape", "scrutiny"):
            setattr(verdict, attr, back(getattr(verdict, attr)))
        verdict.notes = [back(n) for n in verdict.notes]
    return verdict


def _verify(expr: str, wrt: str, claim: str, shapes, assume, layout: str, input: str, order: int) -> Verdict:
    check_layout(layout)
    if not isinstance(wrt, str):
        raise TypeError(f"wrt must be a name (str), got {type(wrt).__name__}")
    renamed = renamed_sizes(shapes)
    expression = rename_sizes(read_input(expr, input), renamed)
    expression, shapes = as_variable(expression, wrt, shapes)   # ∂f/∂h of a defined name h: f of h
    if not isinstance(claim, str):
        raise TypeError(f"the claim must be text (str), got {type(claim).__name__}")
    from .differential_check import split_differential, verify_differential
    from .index_check import is_index_notation, verify_index

    if order == 1 and split_differential(claim, wrt) is not None:
        return verify_differential(expression, wrt, claim, shapes=small_shapes(shapes), assume=assume)

    if order == 1 and is_index_notation(claim):
        return verify_index(expression, wrt, claim, shapes=small_shapes(shapes), assume=assume, layout=layout)
    try:
        claim_text = rename_sizes(read_input(claim, input), renamed)
    except MatcalcError as err:
        raise type(err)(f"in the claim: {err}") from None
    if order == 1 and _kronecker_form(expression, wrt, claim_text, shapes, assume):
        from .kronecker_check import verify_kronecker

        return verify_kronecker(expression, wrt, claim_text, shapes=small_shapes(shapes), assume=assume,
                                layout=layout)
    if order not in (1, 2):
        raise MatcalcError(f"order must be 1 or 2, got {order!r}")
    ck = Checker(expression, wrt, claim_text, small_shapes(shapes), assume, layout, order)
    ck.user_shapes = shapes
    base = dict(expression=expression, wrt=wrt, claim=claim_text, layout=layout,
                assumptions=list(ck.assumptions.texts), expected=ck.expected_text(),
                expected_shape=E.shape_text(ck._wanted_shape()), claim_shape=E.shape_text(ck.claim.shape))
    claim_layout = ck.claim_layout()
    if claim_layout is None:
        return Verdict(ok=False, status=SHAPE, kind="shape", diagnosis=_shape_diagnosis(ck),
                       max_relative_error=math.inf, counterexample=None, instances=0, **base)
    try:
        cases = ck.cases()
    except Unmeasurable as why:
        return Verdict(ok=False, status=UNDECIDED, kind=None, counterexample=None, instances=0,
                       max_relative_error=math.inf, **base, diagnosis=f"no verdict: {why}.")
    useful = ck.informative(cases)
    if len(useful) < len(cases):
        useful += ck.more_informative(len(cases) - len(useful))
    if not useful:
        useful = ck.far_informative(len(cases))
    if not useful:
        return Verdict(ok=False, status=UNDECIDED, kind=None, counterexample=None, instances=len(cases),
                       max_relative_error=math.inf, sizes=[dict(c.dims) for c in cases], **base,
                       diagnosis="no verdict: on every instance that could be drawn, at every spread tried "
                                 "(0.1× to 10×, near ±1, 1e-6× to 1e8×), the derivative was zero or not finite "
                                 "(it underflows or overflows, or it is zero up to rounding), so any claim that "
                                 "is zero there would agree; try smaller exponents or declare the domain.")
    cases = useful
    withheld = _withhold_wrong_engine(ck, cases)
    if withheld is not None:
        base["expected"] = None
    errs = ck.measured(ck.claim, claim_layout, cases)
    symbolic = ck.symbolic_match(claim_layout)
    scrutiny = ""
    if max(errs) < 1 and not symbolic:
        extra, scrutiny = ck.scrutinize(claim_layout, cases)
        extra_errs = ck.measured(ck.claim, claim_layout, extra) if extra else []
        kept = [(c, e) for c, e in zip(extra, extra_errs) if e < 1 or ck.well_conditioned(ck.claim, claim_layout, c)]
        if len(kept) < len(extra):
            scrutiny += (f"; {len(extra) - len(kept)} of them set aside: there the claim's formula cannot be "
                         f"evaluated accurately in float64 (a relative change of 1e-10 in the inputs changes its "
                         f"value by more than 1e-4)")
        if kept:
            cases = cases + [c for c, _ in kept]
            errs = errs + [e for _, e in kept]
    evidence = _evidence(ck, cases, errs, claim_layout, symbolic, scrutiny)
    if withheld is not None:
        evidence["engine_agrees"] = False
        evidence["notes"] = [n for n in evidence["notes"] if not n.startswith("matcalc could not derive")] + [
            WITHHELD_NOTE.format(err=withheld)]
    undefined = ck.undefined_part(cases) if max(errs) < 1 else None
    if undefined is not None:
        return Verdict(ok=False, status=WRONG, kind=None, counterexample=None, **base, **evidence,
                       diagnosis=f"your answer writes {undefined}, which is not defined (not a finite number) on "
                                 f"some of the instances where the derivative is; a term multiplied by 0 is "
                                 f"still undefined there. matcalc's answer is {ck.expected_text()}.")
    if max(errs) < 1 and claim_layout == ck.layout:
        return _correct(ck, base, evidence)
    return _wrong(ck, base, evidence, cases, errs, claim_layout)


WITHHELD_NOTE = ("matcalc's own derivation disagreed with the true derivative (largest relative error {err:.2g}), "
                 "so it is not shown (please report it); the verdict rests on the measured derivative alone")


def _withhold_wrong_engine(ck: Checker, cases) -> float | None:
    """matcalc's own answer is never printed unless the numbers agree with it: where it disagrees with the
    truth on instances that honour every assumption, it is set aside (ck.derivation = None) and the
    verdict rests on the measured derivative. Returns its largest relative error then, else None."""
    if ck.derivation is None or any(ck.sampler().unhonoured(c.inst) for c in cases):
        return None
    errs = ck.measured(ck.derivation.denominator, "denominator", cases)
    if max(errs) < 1:
        return None
    ck.derivation = None
    return max(e * c.ref.tol for e, c in zip(errs, cases))


def _kronecker_form(expression: str, wrt: str, claim: str, shapes, assume) -> bool:
    """A claim is judged as a vec/Kronecker Jacobian when it writes kron/vec/K, or when the derivative has
    no matrix form (a matrix function of a matrix): then a matrix claim can only mean ∂vec(F)/∂vec(X)'."""
    from ..engine.derive import prepare
    from ..engine.tensor_index import matrix_form_exists
    from .kronecker_check import is_kronecker_claim

    if is_kronecker_claim(claim):
        return True
    try:
        typed, _ = prepare(expression, shapes, assume)
    except MatcalcError:
        return False                     # the usual checker reports it, saying where the error is
    x = typed.names.get(wrt)
    return x is not None and not matrix_form_exists(typed.root, x)


def _evidence(ck: Checker, cases, errs: list[float], claim_layout: str, symbolic, scrutiny: str) -> dict:
    """What was measured besides the claim: matcalc's own answer against the same truth (a disagreement
    becomes a note, never a pass), the witnesses and tolerance, and the assumptions not honoured."""
    notes: list[str] = []
    sampler = ck.sampler()
    unhonoured = sorted({t for c in cases for t in sampler.unhonoured(c.inst)})
    for text in unhonoured:
        notes.append(f"the random instances cannot be made to satisfy the assumption '{text}'; "
                     f"a claim that relies on it is judged without it")
    engine_agrees = None
    if ck.derivation is not None:
        engine_errs = ck.measured(ck.derivation.denominator, "denominator", cases)
        engine_agrees = max(engine_errs) < 1
        if not engine_agrees:
            worst = max(e * c.ref.tol for e, c in zip(engine_errs, cases))
            notes.append(ENGINE_NOTE.format(err=worst) if not unhonoured else
                         "matcalc's own derivation uses that assumption, so it disagrees with the truth on "
                         "these instances")
    else:
        notes.append("matcalc could not derive this expression itself; the verdict rests on the measured "
                     "derivative alone")
    bases = sorted(abstract_bases([ck.root, ck.claim]))
    if bases:
        names = ", ".join(bases)
        notes.append(f"{names} {'is' if len(bases) == 1 else 'are'} judged as any smooth function: every instance "
                     f"draws {'its' if len(bases) == 1 else 'their'} own (random polynomial, sine and exponential "
                     f"terms, with exact derivatives), so a claim true for one particular function does not pass")
    relative = [e * c.ref.tol for e, c in zip(errs, cases)]
    if claim_layout != ck.layout and max(errs) < 1:
        notes.append(f"transposed to {ck.layout} layout, its values agree with the derivative "
                     f"(largest relative error {max(relative):.2g})")
    witnesses = {c.ref.witness for c in cases}
    witness = witnesses.pop() if len(witnesses) == 1 else "autograd + finite differences, or finite " \
                                                          "differences alone where autograd could not run"
    # a claim in the other layout has the wrong shape as written: it cannot equal the derivative
    largest = max(relative) if claim_layout == ck.layout else math.inf
    return dict(max_relative_error=largest, instances=len(cases), symbolic_match=symbolic,
                engine_agrees=engine_agrees, notes=notes, sizes=[dict(c.dims) for c in cases],
                witness=witness, tolerance=TOLERANCE, scrutiny=scrutiny,
                proved=bool(symbolic))


def _correct(ck: Checker, base: dict, evidence: dict) -> Verdict:
    """The verdict for a claim the numbers accept: proved by rewriting, or agreeing on N instances."""
    n = evidence["instances"]
    if evidence["symbolic_match"]:
        diagnosis = (f"proved by rewriting: your answer has the same normal form as matcalc's, and both agree "
                     f"with the true derivative on {n} random instances")
    else:
        diagnosis = f"your answer agrees with the true derivative of the expression on {n} random instances"
        if ck.derivation is not None:
            diagnosis += f" (it is written differently from matcalc's {ck.expected_text()})"
    return Verdict(ok=True, status=CORRECT, kind=None, diagnosis=diagnosis + ".", counterexample=None,
                   **base, **evidence)


def _wrong(ck: Checker, base: dict, evidence: dict, cases, errs, claim_layout: str) -> Verdict:
    """A claim that failed the numbers: diagnose it, and keep the instance where it was worst."""
    worst = cases[int(np.argmax(errs))]
    counterexample = {k: np.array(v, dtype=float) for k, v in worst.arrays.items()
                      if k in ck.typed.names or k in ck.dim_scalars}
    kind, status, diagnosis, rescue = _diagnose(ck, cases, claim_layout, max(errs) < 1)
    if evidence["engine_agrees"] is False:
        diagnosis += (" (matcalc's own derivation disagrees with the true derivative, so its answer quoted "
                      "here is not to be trusted; the verdict rests on the measured derivative.)")
    return Verdict(ok=False, status=status, kind=kind, diagnosis=diagnosis, counterexample=counterexample,
                   rescue=rescue, **base, **evidence)


__all__ = ["verify", "Verdict", "StepsVerdict", "StepCheck", "TOLERANCE", "STATUSES", "KINDS", "render_verdict",
           "render_steps"]
