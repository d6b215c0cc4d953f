r"""Claims written in index notation, judged entry by entry.

Why a separate judge: an index claim (`(s_i - y_i)*x_j`, `s_i*(delta_ik - s_k)`, `x_j*e_i`) has no
matrix form to type against the derivative's shape, and none may exist (∂z/∂W_ij is a vector for each
i, j). Index notation is also layout-free: entry [i, k] of ∂s/∂z is ∂s_i/∂z_k whichever layout the
file uses. So the claim is evaluated entry by entry (index.derivative_values) and compared, every
entry, with the true derivative of the original expression measured outside the engine (truth.py:
autograd and finite differences), on random instances drawn as for any claim (instances.py: distinct
sizes, both signs across kinks, assumptions honoured). Instances at other scales are always added:
an index claim is never "proved by rewriting", only by the numbers.

A wrong claim is diagnosed in index terms: two indices swapped (a transpose), the sign, a constant
factor, entries wrong only where i = k (a δ term missing or wrong), else the entries of matcalc's own
answer written in index form.
"""

from __future__ import annotations

import math
import re

import numpy as np

from ..compile.codegen import compile_nodes
from ..compile.index_eval import derivative_values
from ..engine.derive import derive as derive_expression
from ..engine.derive import prepare
from ..errors import MatcalcError, ParseError, ShapeError, UnsupportedError
from ..language.index import analyze
from ..language.index_parse import HIDDEN, IX, parse_index, parse_index_derivative
from ..language.shapes import elaborate_many
from .checker import SEED, factor_words, spec, specs
from .instances import Sampler, dimension_sizes
from .reading import read_input
from .truth import LOOSE, Witness, relative_error
from .verdict import ASSUMPTION, CORRECT, SHAPE, UNDECIDED, WRONG, Verdict

SCALES = (1.0, 1.0, 1.0, 0.3, 3.0)      # the usual spread three times, then narrower and wider
LETTERS = "ijklmn"


# ================================================================ recognising a claim in index notation


def _walk(node: IX):
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(a for a in n.args if isinstance(a, IX))


_SIZED_CONSTANT = re.compile(r"(?<![A-Za-z0-9_\\])(?:I_(?:\{[^{}]*\}|[A-Za-z0-9])|K_\{[^{},]*,[^{},]*\})")


def is_index_notation(text: str) -> bool:
    """Whether a claim is written with indices: an entry (`s_i`, `W[i,j]`, `softmax(z)_k`), a δ, a unit
    vector e_i or an explicit sum. Plain matrix text (`A'*x`, `W_1*x`) is not."""
    if not isinstance(text, str):
        return False
    text = _SIZED_CONSTANT.sub("I", text)   # I_{m}, K_{m,n}: sizes, not indices (LaTeX as matcalc prints it)
    if not re.search(r"_|\[|delta|δ|\\sum|∑", text):
        return False
    try:
        root = parse_index(split_derivative(text)[1])
    except MatcalcError:
        return False
    return any(n.kind in ("entry", "delta", "unit", "sum") or (n.kind == "mexpr" and n.args and n.args[-1])
               for n in _walk(root))


_CONDITION = re.compile(r"(?:\s*,|\s*;|\s*\\q?quad|\s*\\text\{\s*(?:for|if|when|where)\s*\}|\s+(?:for|if|when|where))"
                        r"\s*\(?\s*([a-z])\s*(==|=|!=|≠|\\neq|\\ne)\s*([a-z])\s*\)?\s*$")
_LHS = re.compile(r"^\s*(?:\\frac\s*\{\s*\\partial|∂|d)")


def split_condition(rhs: str) -> tuple[str, tuple[str, str, bool] | None]:
    """`s_i*(1 - s_i)  for i = k` -> ('s_i*(1 - s_i)', ('i', 'k', True)): a claim about some entries only,
    the way the cases i = k and i ≠ k of the softmax Jacobian are written."""
    m = _CONDITION.search(rhs)
    if not m:
        return rhs, None
    return rhs[:m.start()].strip(), (m.group(1), m.group(3), m.group(2) in ("=", "=="))


def split_derivative(text: str) -> tuple[str | None, str]:
    """`dL/dW_ij = (s_i - y_i)*x_j` -> ('dL/dW_ij', '(s_i - y_i)*x_j'); a bare right side -> (None, text)."""
    if "=" in text and _LHS.match(text):
        lhs, rhs = text.split("=", 1)
        try:
            parse_index_derivative(lhs.strip())
        except MatcalcError:
            return None, text
        return lhs.strip(), rhs.strip()
    return None, text


# ================================================================ the judge


def verify_index(expression: str, wrt: str, claim: str, shapes=None, assume=(), layout: str = "denominator",
                 input: str = "auto", lets: dict | None = None) -> Verdict:
    """Is the index-notation `claim` (optionally with its left side, `dL/dW_ij = ...`) the derivative of
    `expression` with respect to `wrt`? Every entry is compared on every instance.

    `lets`: abbreviations the claim may use (`s` for `softmax(z)`), each a matrix expression over the
    expression's names; their entries are computed on each instance (a derivation file's `let`s)."""
    expression = read_input(expression, input)
    lhs, rhs = split_derivative(claim)
    return IndexJudge(expression, wrt, lhs, rhs, shapes, assume, layout, lets).verdict()


class IndexJudge:
    """One index claim against one expression."""

    def __init__(self, expression: str, wrt: str, lhs: str | None, rhs: str, shapes, assume, layout: str,
                 lets: dict | None = None):
        self.claim = f"{lhs} = {rhs}" if lhs else rhs
        rhs, self.condition = split_condition(rhs)
        self.expression, self.wrt, self.rhs, self.layout = expression, wrt, rhs, layout
        self.given = (shapes, list(assume or ()), lets)
        self.derivation = None
        try:
            self.derivation = derive_expression(expression, wrt=wrt, shapes=shapes, assume=assume, layout=layout)
            self.typed, self.assumptions = self.derivation.typed, self.derivation.assumptions
        except ShapeError as err:
            raise ShapeError(f"in the expression: {err}") from None
        except UnsupportedError:
            # a matrix-valued derivative (∂z/∂W): matcalc has no matrix form, the numbers still judge
            self.typed, self.assumptions = prepare(expression, shapes, assume)
        if wrt not in self.typed.names:
            raise MatcalcError(f"{wrt!r} does not appear in the expression {expression!r}")
        self.root, self.x = self.typed.root, self.typed.names[wrt]
        self.lets = self._type_lets(lets or {})
        self.out_nd = _ndim(self.root.shape)
        self.var_nd = _ndim(self.x.shape)
        self.implied = lhs is None
        self.lhs = lhs or self._implied_lhs()
        self._check_lhs()
        self._check_names()
        self.witness = Witness(self.root, wrt, self.typed.dims)
        self._function = compile_nodes({"f": self.root}, set(self.typed.dims))
        self._let_plan = compile_nodes(dict(self.lets), set(self.typed.dims)) if self.lets else None

    # ------------------------------------------------------------ reading the claim

    def _type_lets(self, lets: dict) -> dict:
        """Each abbreviation typed over the expression's names (a name of its own shadows none)."""
        lets = {k: v for k, v in lets.items() if k not in self.typed.names and k not in self.typed.definitions}
        defined = {k: n for k, n in self.typed.definitions.items() if n.args}   # the expression's h = …
        if not lets:
            return defined
        try:
            _, nodes = elaborate_many(self.expression, specs(self.typed.names), tuple(lets.values()))
        except MatcalcError as err:
            raise type(err)(f"in an abbreviation ({', '.join(lets)}): {err}") from None
        return {**defined, **dict(zip(lets, nodes))}

    def _shapes(self) -> dict:
        return {**specs(self.typed.names), **{k: spec(n.shape) for k, n in self.lets.items()}}

    def _with_lets(self, arrays: dict) -> dict:
        if not self.lets:
            return arrays
        return {**arrays, **self._let_plan(**arrays)}

    def _implied_lhs(self) -> str:
        """A bare right side: its free indices, in alphabetical order, are the derivative's entry indices
        (the function's first, then the variable's): `s_i*(delta_ik - s_k)` is read as entry [i, k],
        `(s_i - y_i)*x_j` as ∂L/∂W_ij, `x_j*e_i` as ∂z/∂W_ij — the way such a claim is written."""
        try:
            ix = analyze(self.rhs, self._shapes())
        except ParseError as err:
            raise ParseError(f"in the claim: {err.message}", err.text, err.column) from None
        except MatcalcError as err:
            raise type(err)(f"in the claim: {err}") from None
        free = sorted(i for i in ix.free if i not in HIDDEN)
        vector_valued = any(i in HIDDEN for i in ix.free)
        want = self.var_nd + (0 if vector_valued else self.out_nd)
        if len(free) != want:
            raise ShapeError(f"in the claim: {self.rhs} has {len(free)} free "
                             f"{'index' if len(free) == 1 else 'indices'} ({', '.join(free) or 'none'}), but "
                             f"the derivative of {_what(self.root.shape)} with respect to {_what(self.x.shape)} "
                             f"has {want}; write the left side to say which is which (dL/dW_ij = ...)")
        num = "" if vector_valued else _subscript(free[:self.out_nd])
        den = _subscript(free[len(free) - self.var_nd:])
        return f"dmcfn{num}/d{self.wrt}{den}"

    def _check_lhs(self) -> None:
        num, num_idx, den, den_idx = parse_index_derivative(self.lhs)
        if den != self.wrt:
            raise MatcalcError(f"the claim differentiates with respect to {den}, but the variable is {self.wrt}")
        if len(den_idx) not in (0, self.var_nd):
            raise ShapeError(f"{self.lhs}: {self.wrt} is {_what(self.x.shape)}, indexed by {self.var_nd} "
                             f"{'letter' if self.var_nd == 1 else 'letters'}, not {len(den_idx)}")
        if len(num_idx) not in (0, self.out_nd):
            raise ShapeError(f"{self.lhs}: the function is {_what(self.root.shape)}, indexed by {self.out_nd} "
                             f"{'letter' if self.out_nd == 1 else 'letters'}, not {len(num_idx)}")
        if self.var_nd and not den_idx:
            raise ShapeError(f"{self.lhs}: name the entry of {self.wrt} the claim is about ({self.lhs}_ij)")
        shared = [i for i in den_idx if i in num_idx]
        if shared:   # ds_i/dz_i: the diagonal entries, i.e. ds_i/dz_k where k = i
            if len(shared) > 1 or self.condition is not None:
                raise ParseError(f"{self.lhs}: the same index letter on both sides; use distinct letters "
                                 f"(ds_i/dz_k) and a condition (for i = k)")
            fresh = next(c for c in "kjlmnpqrab" if c not in num_idx + den_idx)
            den_idx = tuple(fresh if i == shared[0] else i for i in den_idx)
            self.condition = (shared[0], fresh, True)
            self.lhs = f"d{num}{_subscript(num_idx)}/d{den}{_subscript(den_idx)}"
        self.num, self.num_idx, self.den_idx = num, num_idx, den_idx
        self.axes = (list(num_idx) if num_idx else ([HIDDEN[0]] if self.out_nd else [])) + list(den_idx)
        if self.condition is not None:
            a, b, _ = self.condition
            if a not in self.axes or b not in self.axes or a == b:
                raise ParseError(f"the condition {a} {'=' if self.condition[2] else '≠'} {b} must name two "
                                 f"indices of {self.lhs}")

    def _check_names(self) -> None:
        """Every name of the claim must be one of the expression's (entries and matrix-form pieces)."""
        from .checker import syntax_names

        try:
            root = parse_index(self.rhs)
        except ParseError as err:
            raise ParseError(f"in the claim: {err.message}", err.text, err.column) from None
        names = set()
        for n in _walk(root):
            if n.kind == "entry":
                names.add(n.args[0])
            elif n.kind == "mexpr":
                try:
                    names |= syntax_names(read_input(n.args[0], "ascii"))
                except MatcalcError:
                    pass
        dims = {d for node in self.typed.names.values() for d in node.shape if isinstance(d, str)}
        unknown = sorted(names - set(self.typed.names) - set(self.lets) - dims)
        if unknown:
            raise MatcalcError(f"in the claim: {', '.join(repr(n) for n in unknown)} "
                               f"{'does' if len(unknown) == 1 else 'do'} not appear in the expression "
                               f"{self.expression!r} (its names: {', '.join(sorted(self.typed.names))})")

    # ------------------------------------------------------------ numbers

    def cases(self) -> list[tuple[dict, np.ndarray, str]]:
        """(arrays, true derivative as entries [function indices..., variable indices...], witness)."""
        self.sampler = Sampler([self.root], self.typed.names, self.assumptions, self.typed.dims)
        out, zero = [], []
        for k, scale in enumerate(SCALES + SCALES):
            if len(out) >= len(SCALES):
                break
            sizes = dimension_sizes([self.root, *self.typed.names.values()], start=k)
            inst = self.sampler.draw(np.random.default_rng(SEED + 101 * k), sizes, scale)
            case = self._case(inst)
            if case is not None:
                # a derivative that is zero on an instance tells claims apart only if it is zero everywhere
                (zero if case[4] else out).append(case[:4])
        return out or zero

    def _case(self, inst):
        """(arrays, entries of the true derivative, witness, floor, zero?) on one instance, or None."""
        if inst is None:
            return None
        ref = self.witness.reference(inst.arrays)
        if ref is None:
            return None
        value = np.asarray(ref.value, dtype=float)
        value = np.moveaxis(value, tuple(range(self.var_nd)), tuple(range(value.ndim - self.var_nd, value.ndim)))
        return inst.arrays, value, ref.witness, ref.floor, ref.zero

    def kink_cases(self, cases) -> list:
        """Instances that show the other side of a kink (relu, abs, step, sign) the usual ones never crossed:
        `relu(x + 3)` needs some x < -3, which the usual spread rarely draws, and a claim that forgot the
        step factor must not pass for want of looking (instances.FAR_SCALES)."""
        from .instances import Instance

        seen = [Instance(c[0], {}, 1.0) for c in cases]
        roots = [self.root, *self.typed.names.values()]
        extra = [self._case(inst) for inst in self.sampler.across_kinks(seen, roots, SEED + 7919)]
        return [c[:4] for c in extra if c is not None]

    def claim_values(self, rhs: str, arrays: dict) -> np.ndarray:
        shape_of = {self.num: np.shape(self._function(**arrays)["f"])}
        return derivative_values(self.lhs, rhs, self._shapes(), self._with_lets(arrays), shape_of)

    def errors(self, rhs: str, cases) -> list[float]:
        out = []
        with np.errstate(all="ignore"):
            for arrays, truth, _, floor in cases:
                try:
                    value = self.claim_values(rhs, arrays)
                except ShapeError:
                    return [math.inf] * len(cases)
                except (MatcalcError, ValueError, ZeroDivisionError, FloatingPointError, IndexError):
                    value = np.nan
                value = np.reshape(value, truth.shape) if np.size(value) == truth.size else value
                if np.shape(value) == truth.shape:
                    mask = self.mask(truth.shape)
                    value, truth = value[mask], truth[mask]
                out.append(relative_error(value, truth, floor))
        return out

    def mask(self, shape) -> np.ndarray:
        """The entries the claim is about: all, or those where its condition (i = k, i ≠ k) holds."""
        if self.condition is None:
            return np.ones(shape, dtype=bool)
        a, b, equal = self.condition
        grid = np.indices(shape)
        ia, ib = grid[self.axes.index(a)], grid[self.axes.index(b)]
        return (ia == ib) if equal else (ia != ib)

    # ------------------------------------------------------------ verdict

    def verdict(self) -> Verdict:
        cases = self.cases()
        base = dict(expression=self.expression, wrt=self.wrt, claim=self.claim, layout=self.layout,
                    assumptions=list(self.assumptions.texts), expected=self.expected(),
                    expected_shape="entries " + ", ".join(self.num_idx + self.den_idx), claim_shape="index form")
        if not cases:
            return Verdict(ok=False, status=UNDECIDED, kind=None, counterexample=None, instances=0,
                           max_relative_error=math.inf, **base,
                           diagnosis="no verdict: the derivative could not be measured on any instance")
        try:
            self.claim_values(self.rhs, cases[0][0])
        except ShapeError as err:
            swapped = self._swapped_verdict(cases)
            return Verdict(ok=False, status=SHAPE if swapped is None else WRONG,
                           kind="shape" if swapped is None else "transpose", counterexample=None,
                           instances=len(cases), max_relative_error=math.inf, **base,
                           witness=" / ".join(sorted({c[2] for c in cases})),
                           scrutiny=f"your entries could not be laid out as the derivative's: {err}",
                           diagnosis=swapped or f"your entries do not fit the derivative: {err}")
        errs = self.errors(self.rhs, cases)
        far = 0
        if max(errs) < LOOSE:
            extra = self.kink_cases(cases)
            far = len(extra)
            cases, errs = cases + extra, errs + self.errors(self.rhs, extra)
        witnesses = sorted({c[2] for c in cases})
        evidence = dict(instances=len(cases), max_relative_error=max(errs), witness=" / ".join(witnesses),
                        tolerance=LOOSE, sizes=[_sizes(c[0], self.typed) for c in cases],
                        scrutiny=f"every entry compared on {len(cases)} instances at scales "
                                 f"{', '.join(f'{s:g}' for s in sorted(set(SCALES)))}"
                                 + (f", {far} of them drawn wider to cross a kink" if far else ""))
        if max(errs) < LOOSE:
            which = "every entry" if self.condition is None else \
                f"every entry with {self.condition[0]} {'=' if self.condition[2] else '≠'} {self.condition[1]}"
            return Verdict(ok=True, status=CORRECT, kind=None, counterexample=None, **base, **evidence,
                           diagnosis=f"{which} of your answer agrees with the true derivative on "
                                     f"{len(cases)} random instances.")
        self.rescue = None
        kind, diagnosis = self.diagnose(cases, errs)
        worst = cases[int(np.argmax(errs))][0]
        counterexample = {k: np.array(v, dtype=float) for k, v in worst.items() if k in self.typed.names}
        return Verdict(ok=False, status=ASSUMPTION if self.rescue else WRONG, kind=kind,
                       counterexample=counterexample, rescue=self.rescue, **base, **evidence, diagnosis=diagnosis)

    def expected(self) -> str | None:
        """matcalc's own answer in index form (entries in the claim's letters), where it has one."""
        if self.derivation is None:
            return None
        from ..engine.index_matrix import to_index

        node = self.derivation.denominator if self.out_nd == 0 else self.derivation.in_layout("numerator")
        try:
            return to_index(node, free=tuple(self.num_idx) + tuple(self.den_idx))
        except MatcalcError:
            return None

    # ------------------------------------------------------------ diagnosis

    def _swapped_verdict(self, cases) -> str | None:
        for rhs, a, b in self._swaps():
            if max(self.errors(rhs, cases)) < LOOSE:
                hint = ""
                if self.implied and len(self.num_idx) == 1 and len(self.den_idx) == 1:
                    f, x = self.num_idx[0], self.den_idx[0]
                    hint = (f" A claim without a left side is read as the Jacobian's entries, ∂f_{f}/∂{self.wrt}_{x} "
                            f"(the function's index first, in either layout); to give the denominator-layout "
                            f"entries write the left side: df_{x}/d{self.wrt}_{f} = {self.rhs}.")
                return (f"the indices {a} and {b} are swapped: your entries are those of the transpose of "
                        f"the derivative ({rhs} is right).{hint}")
        return None

    def _swaps(self):
        letters = list(self.num_idx) + list(self.den_idx)
        for x in range(len(letters)):
            for y in range(x + 1, len(letters)):
                a, b = letters[x], letters[y]
                yield _swap_letters(self.rhs, a, b), a, b

    def diagnose(self, cases, errs) -> tuple[str | None, str]:
        """Name the mistake in index terms."""
        expected = self.expected()
        tail = f" matcalc's answer, entry by entry: {expected}." if expected else ""
        swapped = self._swapped_verdict(cases)
        if swapped:
            return "transpose", swapped
        values = []
        for arrays, truth, _, _ in cases:
            try:
                mask = self.mask(truth.shape)
                v = np.reshape(self.claim_values(self.rhs, arrays), truth.shape)
                values.append((v, truth) if self.condition is None else (v[mask], truth[mask]))
            except (MatcalcError, ValueError):
                return None, f"your entries cannot be computed on some instances.{tail}"
        if all(np.allclose(-v, t, rtol=1e-6, atol=1e-9) for v, t in values):
            return "sign", f"every entry has the wrong sign.{tail}"
        ratios = [_ratio(v, t) for v, t in values]
        if all(r is not None for r in ratios) and max(ratios) - min(ratios) < 1e-6 * max(1, abs(max(ratios))):
            return "factor", f"every entry is {factor_words(ratios[0])} the true one.{tail}"
        delta = self._delta_story(values)
        if delta:
            return "missing term", delta + tail
        rescue = self._rescue()
        if rescue:
            self.rescue = rescue
            return "assumption", (f"your entries are right only if {rescue}, which is not assumed; if it holds, "
                                  f"say so (assume '{rescue}').{tail}")
        worst = max(errs)
        return None, (f"your entries disagree with the true derivative (largest relative error "
                      f"{worst:.2g}).{tail}")

    def _rescue(self) -> str | None:
        """The first commonly unstated assumption under which every entry agrees."""
        from .diagnose import candidate_assumptions

        shapes, assume, lets = self.given
        for text in candidate_assumptions(self.typed.names, exclude=set(self.typed.dims),
                                          given=self.assumptions.texts, roots=[self.root], variable=self.wrt):
            try:
                judge = IndexJudge(self.expression, self.wrt, self.lhs, self.rhs, shapes, assume + [text],
                                   self.layout, lets)
                cases = judge.cases()
                if cases and max(judge.errors(self.rhs, cases)) < LOOSE:
                    cases = judge.kink_cases(cases)     # and across every kink, as for the claim itself
                    if not cases or max(judge.errors(self.rhs, cases)) < LOOSE:
                        return text
            except MatcalcError:
                continue
        return None

    def _delta_story(self, values) -> str | None:
        """Entries right off the diagonal and wrong on it: a δ term is missing or wrong."""
        letters = list(self.num_idx) + list(self.den_idx)
        if len(letters) != 2:
            return None
        off_ok, on_bad = True, False
        for v, t in values:
            if v.ndim != 2 or v.shape[0] != v.shape[1]:
                return None
            eye = np.eye(v.shape[0], dtype=bool)
            scale = max(float(np.max(np.abs(t))), 1e-300)
            off_ok &= bool(np.max(np.abs((v - t)[~eye]), initial=0.0) <= 1e-6 * scale)
            on_bad |= bool(np.max(np.abs((v - t)[eye])) > 1e-6 * scale)
        if off_ok and on_bad:
            a, b = letters
            return (f"the entries with {a} ≠ {b} are right and those with {a} = {b} are wrong: a δ_{a}{b} term "
                    f"is missing or wrong.")
        return None


# ================================================================ small helpers


def _ndim(shape) -> int:
    r, c = shape
    if r == 1 and c == 1:
        return 0
    return 1 if c == 1 or r == 1 else 2


def _what(shape) -> str:
    return {0: "a scalar", 1: "a vector", 2: "a matrix"}[_ndim(shape)]


def _subscript(letters) -> str:
    return f"_{{{''.join(letters)}}}" if letters else ""


def _sizes(arrays: dict, typed) -> dict:
    return {d: int(np.asarray(arrays[d])) for d in typed.dims if d in arrays}


def _swap_letters(text: str, a: str, b: str) -> str:
    """Swap two index letters wherever they are indices (after _ or in [..], δ and sum subscripts)."""
    marker = "\x00"

    def swap_in(sub: str) -> str:
        return sub.replace(a, marker).replace(b, a).replace(marker, b)

    text = re.sub(r"_(\{[A-Za-z,\s]+\}|[A-Za-z]+)", lambda m: "_" + swap_in(m.group(1)), text)
    return re.sub(r"\[([A-Za-z,\s]+)\]", lambda m: "[" + swap_in(m.group(1)) + "]", text)


def _ratio(v: np.ndarray, t: np.ndarray) -> float | None:
    mask = np.abs(t) > 1e-9 * max(float(np.max(np.abs(t))), 1e-300)
    if not np.any(mask):
        return None
    r = v[mask] / t[mask]
    if np.max(r) - np.min(r) > 1e-6 * max(1.0, float(np.max(np.abs(r)))):
        return None
    if not np.allclose(v[~mask], 0, atol=1e-9 * float(np.max(np.abs(t)))):
        return None
    k = float(np.mean(r))
    return None if abs(k - 1) < 1e-9 else k


__all__ = ["verify_index", "is_index_notation", "split_derivative", "IndexJudge", "spec"]
