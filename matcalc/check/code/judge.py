"""The function judged as a claim is: on the checker's instances, against the true derivative.

One `CodeChecker` per variable differentiated — verify's Checker, with the user's function standing
where a claim's formula stands: its values on an instance are what the function returned there (a
`CodeRun` calls it once per instance, whatever the number of variables, and remembers the result).
Everything else is verify's: the instances (distinct sizes, assumptions honoured, clear of every
kink), the truth (autograd confirmed by finite differences), the tolerance, and the scrutiny a claim
written differently from matcalc's answer gets — code always is: 40 candidates at 0.1×–10× spread, the
truth measured where the function and matcalc's answer differ most, both signs of every kink.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import replace

import numpy as np

from ... import budget as _budget
from ...compile.codegen import compile_nodes, derivation_source
from ...errors import MatcalcError
from ...language import expr as E
from ...language.printing import to_text
from ..checker import SEED, Case, Checker, small_shapes
from ..instances import Instance, dimension_sizes
from ..verdict import ASSUMPTION, CORRECT, UNDECIDED, WRONG, Verdict
from ..verify import _evidence
from .calling import choose_arguments
from .mistakes import code_diagnosis, computed_from, wrong_order
from .names import Names
from .returned import CodeFault
from .verdict import ERROR, CodeVerdict

CODE = "‹your function›"    # the name the function's result stands under in the checker (never typed)


def sizes_text(dims: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in dims.items())


class CodeRun:
    """The user's function on instances: one call per instance (its result shared by every variable
    judged), the inputs it changed remembered, every fault told with the instance it happened on."""

    def __init__(self, caller, wrt: list[str], single: bool, arguments: list[str], active: _budget.Budget,
                 function: str):
        self.caller, self.wrt, self.single, self.arguments = caller, wrt, single, arguments
        self.active, self.function = active, function
        self.cache: dict = {}
        self.calls = 0
        self.changed = None          # (call number, dims, what changed, the arrays it was given, altered)
        self.aliases: list[str] = []  # inputs a result was (a view of)
        self.seconds = 0.0

    def _key(self, arrays: dict):
        parts = []
        for name in self.arguments:
            v = arrays.get(name)
            parts.append((name, v.shape, v.tobytes()) if isinstance(v, np.ndarray) else (name, v))
        return tuple(parts)

    def returned(self, arrays: dict, dims: dict, scale: float = 1.0):
        """The call's result on these arrays, made once (later asks are answered from memory)."""
        key = self._key(arrays)
        found = self.cache.get(key)
        if found is not None:
            return found[0]
        try:
            self.active.check("checking the function")
        except _budget.BudgetExceeded:
            spent = time.monotonic() - self.active.started
            if self.seconds < spent / 2:
                raise
            raise CodeFault("timeout", f"the check ran past the time limit of {self.active.seconds:g} s, "
                                       f"{self.seconds:.1f} s of it in your function {self.function} ({self.calls} "
                                       f"calls, the last {self.where(self.calls, dims, scale)[3:]}): raise the "
                                       f"limit with --time-limit SECONDS (or MATCALC_TIME_LIMIT)") from None
        seconds = 0.0
        if self.active.seconds:
            seconds = max(self.active.seconds - (time.monotonic() - self.active.started), 1e-3)
        given = {n: (arrays[n] if n in arrays else dims[n]) for n in self.arguments}
        self.calls += 1
        started = time.monotonic()
        try:
            got = self.caller(given, self.wrt, self.single, seconds)
        except CodeFault as fault:
            raise CodeFault(fault.kind, self._fault_text(fault, self.calls, dims, scale)) from None
        finally:
            self.seconds += time.monotonic() - started
        if got.aliases and not self.aliases:
            self.aliases = list(got.aliases)
        if got.changed and self.changed is None:
            self.changed = (self.calls, dict(dims), list(got.changed), arrays, got.altered)
        self.cache[key] = (got, self.calls)
        return got

    def call_number(self, arrays: dict) -> int:
        found = self.cache.get(self._key(arrays))
        return found[1] if found is not None else self.calls

    def where(self, call: int, dims: dict, scale: float = 1.0) -> str:
        when = "on its first call" if call <= 1 else f"on call {call}"
        spread = "" if abs(scale - 1.0) < 1e-12 else f", values at {scale:g}× the usual spread"
        return f"{when} (sizes {sizes_text(dims)}{spread})" if dims else when

    def _fault_text(self, fault: CodeFault, call: int, dims: dict, scale: float) -> str:
        who = f"your function {self.function}"
        where = self.where(call, dims, scale)
        if fault.kind == "timeout":
            limit = self.active.seconds
            return (f"{who} did not return within the time limit of {limit:g} s {where}: a loop that never "
                    f"ends? Raise the limit with --time-limit SECONDS (or MATCALC_TIME_LIMIT)")
        if fault.kind == "memory":
            budget = f"the memory budget of {self.active.megabytes:g} MB (--memory-limit MB, or MATCALC_MEMORY_LIMIT)" \
                if self.active.megabytes and getattr(self.caller, "limits_memory", False) else "what the machine has"
            return f"{who} {fault.message} {where}: it asked for more than {budget} allows"
        if fault.kind == "type":
            return f"{who} returned the wrong type {where}: {fault.message}"
        return f"{who} {fault.message} {where}"

    def value(self, name: str, arrays: dict, dims: dict, scale: float = 1.0):
        return self.returned(arrays, dims, scale).values[name]


EQUAL_SIZES = (4, 3)      # every dimension this size: code that branches on a square shape shows there
NEAR_KINKS = (1e-2, 3e-3)  # spreads where the kinks' arguments are small (finite differences' step is 1e-6)


class CodeChecker(Checker):
    """verify's Checker with the function's result in the claim's place (a symbol of the derivative's
    shape, so that the sampler and the diagnoses treat it as a claim whose form is unknown)."""

    def __init__(self, expression: str, wrt: str, shapes, assume, layout: str):
        super().__init__(expression, wrt, "0", shapes, assume, layout)
        self.claim = E.sym(CODE, self._wanted_shape())
        self.parts = []
        self.run: CodeRun | None = None
        self.names = Names(self.root, self.typed.names)
        self.shared: dict | None = None     # what the checkers of one function share (check_code sets it)

    def sampler(self, assumptions=None):
        """The checkers of one function draw the same instances (same expression, shapes, assumptions):
        one sampler serves them all, and the scrutiny's candidates are drawn once, not once per variable."""
        if assumptions is not None or self.shared is None:
            return super().sampler(assumptions)
        found = self.shared.get("sampler")
        if found is None:
            found = self.shared["sampler"] = super().sampler()
            spread, memo = found.spread, {}

            def shared_spread(roots, seed, count):
                if (seed, count) not in memo:
                    memo[(seed, count)] = spread(roots, seed, count)
                return memo[(seed, count)]

            found.spread = shared_spread
        return found

    def values(self, node, cases) -> list:
        if self.shared and "answers" in self.shared and self.derivation is not None \
                and node is self.derivation.denominator:
            return [self._answer(c.arrays if isinstance(c, (Case, Instance)) else c) for c in cases]
        if node is not self.claim:
            return super().values(node, cases)
        out = []
        for c in cases:
            arrays = c.arrays if isinstance(c, (Case, Instance)) else c
            inst = c.inst if isinstance(c, Case) else c if isinstance(c, Instance) else None
            dims = dict(inst.dims) if inst is not None else {}
            scale = inst.scale if inst is not None else 1.0
            out.append(self.run.value(self.wrt, arrays, dims, scale))
        return out

    def scrutinize(self, layout: str, cases):
        """verify's scrutiny, and instances with every dimension the same size: the checker's own instances
        give each dimension its own size (so that a transpose shows), which would never meet code that is
        wrong only for square shapes (`if A.shape[0] == A.shape[1]: ...`)."""
        extra, text = super().scrutinize(layout, cases)
        near = []
        for inst in self._near_kink_instances():
            ref = self.witness.reference(inst.arrays)
            if ref is not None:
                near.append(Case(inst.arrays, inst.dims, ref, inst))
        if near:
            text += f"; on {len(near)} drawn close to every kink ({', '.join(f'{c.inst.scale:g}×' for c in near)} spread)"
        extra = extra + near
        same = []
        for inst in self._equal_size_instances():
            ref = self.witness.reference(inst.arrays)
            if ref is not None:
                same.append(Case(inst.arrays, inst.dims, ref, inst))
        if same:
            sizes = " and ".join(str(s) for s in EQUAL_SIZES[:len(same)])
            text += f"; and on {len(same)} with every dimension of one size ({sizes})"
        return extra + same, text

    def _near_kink_instances(self) -> list:
        """Values at 1/100 and 1/300 of the usual spread, where the kinks' arguments are small on both sides:
        code with its own threshold near a kink (`x > 1e-3` for `x > 0`) is wrong only there."""
        shared = self.shared if self.shared is not None else {}
        if "near" not in shared:
            sampler = self.sampler()
            found = []
            if sampler.kinks:
                for k, scale in enumerate(NEAR_KINKS):
                    rng = np.random.default_rng(SEED + 8111 * (k + 1))
                    inst = sampler.draw(rng, dimension_sizes([self.root, *self.typed.names.values()], start=k), scale)
                    if inst is not None:
                        found.append(inst)
            shared["near"] = found
        return shared["near"]

    def _equal_size_instances(self) -> list:
        shared = self.shared if self.shared is not None else {}
        if "equal" not in shared:
            names = list(dimension_sizes([self.root, *self.typed.names.values()]))
            found = []
            if len(names) > 1:
                sampler = self.sampler()
                for k, size in enumerate(EQUAL_SIZES):
                    inst = sampler.draw(np.random.default_rng(SEED + 4099 * (k + 1)), {d: size for d in names})
                    if inst is not None:
                        found.append(inst)
            shared["equal"] = found
        return shared["equal"]

    def _answer(self, arrays: dict):
        """matcalc's answer here, from one plan of every variable's answer run once per instance."""
        memo = self.shared["answer values"]
        found = memo.get(id(arrays))
        if found is None or found[0] is not arrays:
            try:
                with np.errstate(all="ignore"):
                    out = self.shared["answers"](**arrays)
            except _budget.BudgetExceeded:
                raise
            except Exception:  # noqa: BLE001 — a value that cannot be computed never "matches"
                out = {}
            found = memo[id(arrays)] = (arrays, out)
        return found[1].get(self.wrt, np.nan)

    def in_layout(self, den, layout: str | None = None):
        """For display (the only use the checker makes of it): in the user's layout, with the network's
        names (A2 for relu(Z2), S for softmax_rows(Z3))."""
        return self.names.named(super().in_layout(den, layout))

    def expected_text(self, layout: str | None = None) -> str | None:
        if self.derivation is None:
            return None
        return to_text(self.in_layout(self.derivation.denominator, layout))

    def show(self, den) -> str:
        """A denominator-layout node in the user's layout, with the network's names."""
        return to_text(self.in_layout(den))


# ================================================================ one variable


def _nan_fault(ck: CodeChecker, cases, values) -> None:
    """A result that is not finite where the derivative is (every instance kept has a finite truth)."""
    for c, v in zip(cases, values):
        arr = np.asarray(v, dtype=float)
        bad = ~np.isfinite(arr)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0]) if arr.ndim else ()
            what = "NaN" if np.isnan(arr).any() else "an infinite value"
            entry = f" at entry {where if len(where) != 1 else where[0]} ({int(bad.sum())} of {arr.size})" \
                if arr.ndim else ""
            label = f" for {ck.wrt}" if not ck.run.single else ""
            where = ck.run.where(ck.run.call_number(c.arrays), c.dims, c.inst.scale)
            raise CodeFault("nan", f"your function {ck.run.function} returned {what}{label}{entry} {where}, where "
                                   f"the derivative is finite (its largest entry {float(np.max(np.abs(c.truth))):.3g})")


def judge_variable(ck: CodeChecker) -> tuple[Verdict, list[Case]]:
    """The function's result for one variable against the true derivative: a Verdict, and its cases."""
    layout = ck.layout
    base = dict(expression=ck.expression, wrt=ck.wrt, claim=f"{ck.run.function}(...)"
                + ("" if ck.run.single else f"[{ck.wrt!r}]"), layout=layout,
                assumptions=list(ck.assumptions.texts), expected=ck.expected_text(),
                expected_shape=E.shape_text(ck._wanted_shape()), claim_shape=E.shape_text(ck.claim.shape))
    cases = ck.cases()
    useful = ck.informative(cases)
    if len(useful) < len(cases):
        useful += ck.more_informative(len(cases) - len(useful))
    if not useful:
        return Verdict(ok=False, status=UNDECIDED, kind=None, counterexample=None, instances=len(cases),
                       max_relative_error=math.inf, sizes=[dict(c.dims) for c in cases], **base,
                       diagnosis="no verdict: on every instance that could be drawn the derivative was zero or "
                                 "not finite, so any function would agree; try other sizes or declare the "
                                 "domain."), cases
    cases = useful
    _nan_fault(ck, cases, ck.den_values(ck.claim, cases, layout))
    errs = ck.measured(ck.claim, layout, cases)
    scrutiny = ""
    if max(errs) < 1:
        extra, scrutiny = ck.scrutinize(layout, cases)
        if extra:
            _nan_fault(ck, extra, ck.den_values(ck.claim, extra, layout))
            cases = cases + extra
            errs = errs + ck.measured(ck.claim, layout, extra)
        scrutiny = scrutiny.replace("the claim is written differently from matcalc's answer, so it",
                                    "code has no normal form to compare, so the function")
    evidence = _evidence(ck, cases, errs, layout, None, scrutiny)
    if max(errs) < 1:
        n = evidence["instances"]
        return Verdict(ok=True, status=CORRECT, kind=None, counterexample=None, **base, **evidence,
                       diagnosis=f"agrees with the true derivative on {n} random instances."), cases
    worst = cases[int(np.argmax(errs))]
    counterexample = {k: np.array(v, dtype=float) for k, v in worst.arrays.items()
                      if k in ck.typed.names or k in ck.dim_scalars}
    kind, status, diagnosis, rescue = code_diagnosis(ck, cases)
    if evidence["engine_agrees"] is False:
        diagnosis += (" (matcalc's own derivation disagrees with the true derivative, so its answer quoted "
                      "here is not to be trusted; the verdict rests on the measured derivative.)")
    return Verdict(ok=False, status=status, kind=kind, diagnosis=diagnosis, counterexample=counterexample,
                   rescue=rescue, **base, **evidence), cases


# ================================================================ the whole function


def _names(wrt) -> tuple[list[str], bool]:
    if isinstance(wrt, str):
        names, single = [w.strip() for w in wrt.split(",")] if "," in wrt else [wrt], "," not in wrt
    elif isinstance(wrt, (list, tuple)) and wrt and all(isinstance(w, str) for w in wrt):
        names, single = list(wrt), False
    else:
        raise TypeError(f"wrt must be a name or a list of names, got {type(wrt).__name__}")
    if any(not w for w in names):
        raise MatcalcError("wrt names a variable: it cannot be empty")
    twice = sorted({w for w in names if names.count(w) > 1})
    if twice:
        raise MatcalcError(f"wrt names {', '.join(twice)} twice")
    return names, single


def check_code(caller, expression: str, wrt, shapes=None, assume=(), layout: str = "denominator",
               budget=None) -> CodeVerdict:
    """Judge `caller` (calling.InProcess or child.InChild) as the gradient of `expression` with respect
    to `wrt` (a name, or several: then the function returns a dict keyed by them or a tuple in order)."""
    names, single = _names(wrt)
    with _budget.limit(budget) as active:
        small = small_shapes(shapes)
        checkers = {w: CodeChecker(expression, w, small, assume, layout) for w in names}
        first = checkers[names[0]]
        variables = [n for n in first.typed.names if n not in first.typed.dims]
        dims = sorted({d for node in first.typed.names.values() for d in E.dimension_names(node.shape)}
                      | set(first.typed.dims))
        arguments = choose_arguments(caller.parameters(), variables, dims, caller.name)
        run = CodeRun(caller, names, single, arguments, active, caller.name)
        shared: dict = {"answer values": {}}
        if len(names) > 1 and all(ck.derivation is not None for ck in checkers.values()):
            shared["answers"] = compile_nodes({w: ck.derivation.denominator for w, ck in checkers.items()},
                                              first.dim_scalars)
        for ck in checkers.values():
            ck.run, ck.shared = run, shared
        judged: dict[str, tuple[Verdict, list[Case]]] = {}
        try:
            for w in names:
                judged[w] = judge_variable(checkers[w])
        except CodeFault as fault:
            return _fault_verdict(first, checkers, names, fault, run)
        return _verdict(first, checkers, names, judged, run)


def _common(first: CodeChecker, names: list[str], checkers) -> dict:
    formulas = {w: ck.expected_text() for w, ck in checkers.items()}
    return dict(expression=first.expression, wrt=", ".join(names), layout=first.layout,
                assumptions=list(first.assumptions.texts), function=first.run.function, names=names,
                formulas=formulas, legend=first.names.legend_text(), numpy_source=_source(first, checkers, names),
                expected=formulas[names[0]] if len(names) == 1 else None, calls=first.run.calls,
                claim=f"{first.run.function}({', '.join(first.run.arguments)})")


def _source(first: CodeChecker, checkers, names: list[str]) -> str:
    """The generated NumPy of matcalc's answer: one function, every gradient (shared values once)."""
    derivations = {w: checkers[w].derivation for w in names}
    if any(d is None for d in derivations.values()):
        return ""
    try:
        if len(names) == 1:
            return derivation_source(derivations[names[0]])
        plan = compile_nodes({w: d.result for w, d in derivations.items()}, first.typed.dims,
                             names=first.names.labels)
        return plan.source("gradients", f"the gradients of {first.expression} ({first.layout} layout)",
                           with_helpers=False)
    except MatcalcError:
        return ""


def _fault_verdict(first, checkers, names, fault: CodeFault, run: CodeRun) -> CodeVerdict:
    return CodeVerdict(ok=False, status=ERROR, kind=fault.kind, diagnosis=fault.message, counterexample=None,
                       max_relative_error=math.inf, instances=0, fault=fault.kind,
                       **_common(first, names, checkers))


def _verdict(first, checkers, names, judged, run: CodeRun) -> CodeVerdict:
    verdicts = {w: judged[w][0] for w in names}
    wrong = [w for w in names if not verdicts[w].ok]
    common = _common(first, names, checkers)
    evidence = dict(instances=max(v.instances for v in verdicts.values()),
                    max_relative_error=max(v.max_relative_error for v in verdicts.values()),
                    sizes=verdicts[names[0]].sizes, witness=verdicts[names[0]].witness,
                    tolerance=verdicts[names[0]].tolerance, scrutiny=verdicts[names[0]].scrutiny,
                    notes=sorted({n for v in verdicts.values() for n in v.notes}) + _alias_note(run),
                    engine_agrees=all(v.engine_agrees is not False for v in verdicts.values()))
    if run.changed is not None:
        return _in_place(checkers, names, verdicts, wrong, run, common, evidence)
    if not wrong:
        return CodeVerdict(ok=True, status=CORRECT, kind=None, counterexample=None, gradients=verdicts,
                           diagnosis=_right_text(names, verdicts), **common, **evidence)
    order = wrong_order(checkers, judged, names) if len(names) > 1 else None
    if order:
        text, placed = order
        for i, j in placed.items():
            verdicts[i] = replace(verdicts[i], kind="order", diagnosis=f"what it returns for {i} is the gradient "
                                  f"for {j} (right, as that).")
        return CodeVerdict(ok=False, status=WRONG, kind="order", diagnosis=text, counterexample=None,
                           gradients=verdicts, **common, **evidence)
    kinds = Counter(verdicts[w].kind for w in wrong if verdicts[w].kind)
    top = max(kinds.values()) if kinds else 0
    kind = next((verdicts[w].kind for w in wrong if kinds.get(verdicts[w].kind) == top), None) if kinds else None
    # the shortest diagnosis of the most common kind leads (the output layer's, usually)
    lead = min((w for w in wrong if verdicts[w].kind == kind), key=lambda w: len(verdicts[w].diagnosis))
    statuses = {verdicts[w].status for w in wrong}
    status = ASSUMPTION if statuses == {ASSUMPTION} else UNDECIDED if statuses == {UNDECIDED} else WRONG
    if len(names) == 1:
        diagnosis = verdicts[lead].diagnosis
    else:
        rest = [w for w in names if w not in wrong]
        diagnosis = (f"{_list(wrong)} {'is' if len(wrong) == 1 else 'are'} wrong"
                     + (f" ({_list(rest)} right)" if rest else "") + f"; {lead}: {verdicts[lead].diagnosis}")
    rescue = verdicts[lead].rescue if status == ASSUMPTION else None
    return CodeVerdict(ok=False, status=status, kind=kind, diagnosis=diagnosis, rescue=rescue,
                       counterexample=verdicts[lead].counterexample, gradients=verdicts, **common, **evidence)


def _in_place(checkers, names, verdicts, wrong, run: CodeRun, common, evidence) -> CodeVerdict:
    """An input changed by the call: said first, whatever the values; a gradient that is wrong because
    it was computed from the changed input (matcalc's answer there gives exactly its value) says so."""
    call, dims, what, arrays, altered = run.changed
    text = (f"your function changes its input{'s' if len(what) > 1 else ''} {_list(what)} in place "
            f"{run.where(call, dims)}: an augmented assignment such as `W -= ...`, an `out=` argument or a slice "
            f"assignment on an argument. The caller's arrays are not the function's to change: a training loop "
            f"calling it finds them altered")
    changed_names = _list(sorted(altered))
    explained = [w for w in wrong if computed_from(checkers[w], arrays, altered, run.value(w, arrays, dims))]
    for w in explained:
        verdicts[w] = replace(verdicts[w], kind="in-place", diagnosis=(
            f"computed from the changed {changed_names}: matcalc's answer evaluated at the changed "
            f"{changed_names} gives exactly this value; at the caller's it is {checkers[w].expected_text()}."))
    if explained and explained == wrong:
        text += (f"; {_list(wrong)} {'is' if len(wrong) == 1 else 'are'} wrong because "
                 f"{'it is' if len(wrong) == 1 else 'they are'} computed from the changed {changed_names} "
                 f"(matcalc's answer evaluated there gives exactly your function's values)")
    elif wrong:
        named = [w for w in wrong if verdicts[w].kind]
        text += f"; besides, {_list(wrong)} {'disagrees' if len(wrong) == 1 else 'disagree'} with the derivative"
        if named:
            lead = min(named, key=lambda w: len(verdicts[w].diagnosis))
            text += f" ({lead}: {verdicts[lead].diagnosis.rstrip('.')})"
    else:
        text += "; the values it returns are right"
    return CodeVerdict(ok=False, status=WRONG, kind="in-place", diagnosis=text + ".", counterexample=None,
                       gradients=verdicts, changed=what, **common, **evidence)


def _alias_note(run: CodeRun) -> list[str]:
    if not run.aliases:
        return []
    what = _list(run.aliases)
    return [f"your function returns its input {what} itself (or a view of it), not a copy: a caller that scales "
            f"the gradient in place (g *= lr) changes {what} as well"]


def _right_text(names, verdicts) -> str:
    n = min(v.instances for v in verdicts.values())
    if len(names) == 1:
        return f"agrees with the true derivative on {n} random instances."
    return (f"all {len(names)} gradients ({', '.join(names)}) agree with the true derivative, each on at least {n} "
            f"random instances.")


def _list(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


__all__ = ["check_code", "CodeChecker", "CodeRun", "judge_variable", "CODE"]
