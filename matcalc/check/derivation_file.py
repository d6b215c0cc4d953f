"""Checking a whole derivation, written one line at a time as on paper.

A derivation file has headers (`shape:`, `assume:`, `let s = softmax(z)`, `f:` and `wrt:`) and expression
lines; each line is claimed equal to the line above (a line may start with `=`), and with `f:`/`wrt:` the
first line is checked as the derivative itself (by `verify`). Every line is typed jointly, the instances are
shared, and the first line that does not follow is named with the same kinds of diagnosis a single claim
gets.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..compile.codegen import compile_nodes
from ..engine.derive import check_layout
from ..engine.simplify import Simplifier, table_rules
from .. import budget as _budget
from ..budget import BudgetExceeded
from ..errors import MatcalcError, ParseError, ShapeError
from ..language.arguments import MAX_FILE_BYTES, check_assume, check_shapes
from ..language import expr as E
from ..language.expr import Node
from ..language.functions import declared
from ..language.parse import parse
from ..language.printing import to_text_bounded as to_text   # a large claim in its named form, never inlined
from ..language.shapes import elaborate_many
from .checker import INSTANCES, SEED, shape_phrase, specs, transposed
from .diagnose import (
    TERM_KINDS,
    _all_close,
    _factor,
    _ratio_words,
    _ratios,
    _term_candidates,
    _term_relation,
    candidate_assumptions,
)
from .instances import Sampler, dimension_sizes
from .kinks import place
from .reading import read_input
from .truth import TIGHT, relative_error
from .verdict import ASSUMPTION, CORRECT, SHAPE, WRONG, StepCheck, StepsVerdict


CHUNK = 256    # lines compiled into one plan at a time


def _error(a, b) -> float:
    return relative_error(a, b)


@dataclass
class DerivationText:
    """A derivation file, read: its expression lines (with line numbers) and its header settings."""

    lines: list[tuple[int, str]]          # (line number, expression text)
    written: list[str]                    # the lines as written
    shapes: dict = field(default_factory=dict)
    assume: list[str] = field(default_factory=list)
    lets: list[tuple[str, str]] = field(default_factory=list)
    expression: str | None = None
    wrt: str | None = None
    layout: str | None = None


HEADER_KEYS = {"shape": "shape", "shapes": "shape", "assume": "assume", "assuming": "assume",
               "let": "let", "f": "expression", "expression": "expression", "loss": "expression",
               "wrt": "wrt", "layout": "layout"}
_HEADER = re.compile(r"^\s*([A-Za-z]+)\s*:\s*(.*)$")
_LET = re.compile(r"^\s*(?:let\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*(?:=|:=)\s*(.+)$")

DERIVATION_FORMAT = """\
A derivation file: one expression a line, each claimed equal to the line before.
  # a comment (also after an expression)
  shape: W=c,d x=d        declare shapes (several per line, separated by spaces or ';')
  assume: sum(y) = 1      an assumption (one per line)
  let s = softmax(z)      a definition (also `s = softmax(z)`, as in the language), for the lines below
  f: -y'*log(softmax(z))  optional: the expression differentiated ...
  wrt: z                  ... and the variable; the first line is then checked as its derivative
  layout: numerator       optional (default denominator)
A line may start with '=' as on paper."""


def read_derivation(text: str) -> DerivationText:
    """Parse the derivation format (see DERIVATION_FORMAT): headers, lets, expression lines."""
    out = DerivationText([], [])
    for number, raw in enumerate(text.splitlines(), start=1):
        _budget.check("reading the derivation")
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        m = _LET.match(line)
        if m and ";" not in m.group(2):
            name, body = m.group(1), m.group(2).strip()
            from ..tables import spelled

            if spelled(name) or name in ("ones", "I"):
                raise MatcalcError(f"line {number}: cannot use the function name {name!r} as an abbreviation")
            out.lets.append((name, body))
            continue
        m = _HEADER.match(line)
        if m:
            key = HEADER_KEYS.get(m.group(1).lower())
            value = m.group(2).strip()
            if key is None:
                name = m.group(1)
                raise MatcalcError(f"line {number}: unknown header {name!r}; known: "
                                   f"{', '.join(sorted(set(HEADER_KEYS)))}. `{name}: ...` names the function only "
                                   f"in a chain-rule derivation, whose lines say which derivative they state "
                                   f"(d{name}/dz = ...); no line of this file does")
            if key == "shape":
                for spec in re.split(r"[;\s]+", value):
                    if not spec:
                        continue
                    if "=" not in spec:
                        raise MatcalcError(f"line {number}: a shape is NAME=d1,d2, got {spec!r}")
                    name, dims = spec.split("=", 1)
                    out.shapes[name.strip()] = dims.strip()
            elif key == "assume":
                out.assume.append(value)
            elif key == "let":
                mm = _LET.match("let " + value)
                if not mm:
                    raise MatcalcError(f"line {number}: write an abbreviation as 'let s = softmax(z)'")
                out.lets.append((mm.group(1), mm.group(2).strip()))
            elif key == "expression":
                out.expression = value
            elif key == "wrt":
                out.wrt = value
            elif key == "layout":
                out.layout = value
            continue
        if line.startswith("="):
            line = line[1:].strip()
        out.written.append(line)
        out.lines.append((number, line))
    return out


def with_definitions(text: str, lets: list[tuple[str, str]]) -> str:
    """`text` after the file's definitions, as one input of the language (`s = softmax(z); -y'*log(s)`):
    each defined name is one shared node, however often the lines use it (no text is substituted)."""
    if not lets:
        return text
    return "; ".join([f"{name} = {body}" for name, body in lets] + [text])


def derivation_text(derivation) -> str | list[str]:
    """The derivation argument checked: a str (the file's text) or a list of str (its lines), within
    MAX_FILE_BYTES characters in all — refused up front, the limit named, before any line is read."""
    if isinstance(derivation, str):
        total = len(derivation)
    elif isinstance(derivation, (list, tuple)) and all(isinstance(t, str) for t in derivation):
        derivation = list(derivation)
        total = sum(len(t) + 1 for t in derivation)
    else:
        raise TypeError(f"derivation must be the file's text (str) or a list of its lines (str), got "
                        f"{type(derivation).__name__}")
    if total > MAX_FILE_BYTES:
        raise MatcalcError(f"the derivation is {total:,} characters long; matcalc reads at most "
                           f"{MAX_FILE_BYTES:,} (the limit of a derivation file)")
    return derivation


def verify_steps(derivation, shapes=None, assume=(), expression: str | None = None, wrt: str | None = None,
                 layout: str | None = None, input: str = "auto", budget=None, functions=None) -> StepsVerdict:
    """Check a derivation: each line equal to the line before; the first line, when `expression` and
    `wrt` are given, equal to the derivative. `derivation` is the file's text or a list of lines.
    A file whose lines state derivatives (`dL/dz = s - y`) is a chain-rule derivation (chain_file.py):
    each line is judged as the derivative it states. `functions`: abstract elementwise functions the
    lines may call (f, f'), judged as verify judges them. The whole check runs under one `budget` (a
    matcalc.budget.Budget; default 10 s and 1 GB, or the environment's), looked at on every line."""
    derivation = derivation_text(derivation)
    shapes, assume = check_shapes(shapes), check_assume(assume)
    with _budget.limit(budget) as spent, declared(functions):
        verdict = _verify_steps(derivation, shapes, assume, expression, wrt, layout, input)
        spent.check("checking the derivation")   # never a verdict made of work the budget cut short
    return verdict


def _verify_steps(derivation, shapes, assume, expression, wrt, layout, input) -> StepsVerdict:
    from .chain_file import is_chain_derivation, verify_chain

    if isinstance(derivation, str) and is_chain_derivation(derivation):
        return verify_chain(derivation, shapes=shapes, assume=assume, layout=layout, input=input)
    if isinstance(derivation, str):
        doc = read_derivation(derivation)
    else:
        doc = DerivationText([(i + 1, t) for i, t in enumerate(derivation)], list(derivation))
    shapes = {**doc.shapes, **shapes}
    assume = list(doc.assume) + [a for a in (assume or ()) if a not in doc.assume]
    expression = expression or doc.expression
    wrt = wrt or doc.wrt
    layout = layout or doc.layout or "denominator"
    check_layout(layout)
    if (expression is None) != (wrt is None):
        raise MatcalcError("a derivation names both the expression ('f: ...') and the variable ('wrt: ...'), "
                           "or neither")
    if not doc.lines:
        raise MatcalcError("the derivation has no expression lines\n" + DERIVATION_FORMAT)
    if len(doc.lines) < 2 and expression is None:
        raise MatcalcError("a derivation needs at least two lines (or 'f:' and 'wrt:' headers)")
    numbers = [n for n, _ in doc.lines]
    lets = []
    for name, body in doc.lets:
        _budget.check("reading the derivation's definitions")
        try:
            lets.append((name, read_input(body, input)))
        except MatcalcError as err:
            raise type(err)(f"in the definition of {name}: {err}") from None
    texts, trees = [], []
    for n, t in doc.lines:
        _budget.check("reading the derivation's lines")
        try:
            t = read_input(t, input)
            trees.append(parse(t))
        except ParseError as err:
            raise ParseError(f"line {n}: {err.message}", err.text, err.column) from None
        except MatcalcError as err:
            raise type(err)(f"line {n}: {err}") from None
        texts.append(t)
    if expression is not None:
        expression = with_definitions(read_input(expression, input), lets)
    elif lets:
        texts[0] = with_definitions(texts[0], lets)
        trees[0] = parse(texts[0])
    written = doc.written or texts
    checker = _StepsChecker(texts, numbers, written, shapes, assume, expression, wrt, layout)
    checker.trees = trees
    return checker.run()


class _StepsChecker:
    """Types every line jointly, draws shared instances, and compares each line with the one above."""

    def __init__(self, texts, numbers, written, shapes, assume, expression, wrt, layout):
        self.texts, self.numbers, self.written = texts, numbers, written
        self.shapes, self.assume = shapes, list(assume)
        self.expression, self.wrt, self.layout = expression, wrt, layout
        self.trees = None                 # the lines parsed, when the caller has them

    def run(self) -> StepsVerdict:
        """Check the first line (against the derivative, when given), then each step; name the first bad."""
        steps: list[StepCheck] = []
        typed_count, shape_error = self._type()
        first = None
        if self.expression is not None:
            first = self._first_line()
            steps.append(first)
        cases = self._cases(self.assumptions) if typed_count > 1 else []
        self._cases_cache = cases
        values = self._all_values(cases)
        steps.extend(self._chain(typed_count, cases, values, first is None or first.ok))
        if shape_error is not None:
            i = typed_count
            steps.append(StepCheck(self.numbers[i], self.written[i], False, SHAPE,
                                   f"line {self.numbers[i]} cannot follow from the lines above: {shape_error}",
                                   kind="shape", max_relative_error=math.inf,
                                   previous=self.numbers[i - 1] if i else None))
        bad = next((s for s in steps if not s.ok), None)
        if bad is None:
            diagnosis = f"every step follows ({len(steps)} checked)"
            return StepsVerdict(True, CORRECT, diagnosis, None, steps, list(self.assumptions.texts),
                                dict(self.shapes), len(cases))
        diagnosis = bad.diagnosis
        return StepsVerdict(False, bad.status, diagnosis, bad.line, steps, list(self.assumptions.texts),
                            dict(self.shapes), len(cases), bad.rescue)

    def _chain(self, count: int, cases, values, first_ok: bool) -> list[StepCheck]:
        """Each line against the one above. After a slip, a line that follows from the last right line
        (or, with no right line yet, is the derivative itself) is right again: only the slip is named."""
        out = []
        last_good = 0 if first_ok else None
        for i in range(1, count):
            _budget.check("comparing the lines")
            step = self._step(i, cases, values)
            if not step.ok and last_good is not None and last_good != i - 1 \
                    and self._equal(values[i], values[last_good], i, last_good):
                step = StepCheck(step.line, step.text, True, CORRECT,
                                 f"line {step.line} follows from line {self.numbers[last_good]} (the last "
                                 f"line that was right)", max_relative_error=0.0,
                                 previous=self.numbers[last_good])
            elif not step.ok and last_good is None and self.expression is not None:
                from .verify import verify

                v = verify(self.expression, self.wrt, self.texts[i], shapes=specs(self.typed.names),
                           assume=self.assume, layout=self.layout)
                if v.ok:
                    step = StepCheck(step.line, step.text, True, CORRECT,
                                     f"line {step.line} is the derivative of {self.expression} (the lines "
                                     f"above it were not)", max_relative_error=v.max_relative_error)
            if step.ok:
                last_good = i
            out.append(step)
        return out

    def _type(self):
        """Type all lines (and the expression) jointly; on a shape error, type as many as will go."""
        from ..engine.assumptions import bind, parse_assumptions

        a = parse_assumptions(self.assume)
        head = [self.expression] if self.expression is not None else []
        n = len(self.texts)
        error = None
        # The most lines that type together: a ShapeError names the line that failed (err.index), so
        # one more typing of the lines above it settles it; only an assumption that fails with the lines
        # is bisected. Never one typing per line: 800 lines after a shape error took 77 s that way.
        good, bad, errors, found = 0, n + 1, {}, None
        while True:
            _budget.check("typing the lines")
            hinted = False
            try:
                lines = self.trees if self.trees is not None else self.texts
                found = elaborate_many((head + self.texts)[0], self.shapes,
                                       tuple((head + lines[:n])[1:]) + a.expressions())
                good = n
            except ShapeError as err:
                at = getattr(err, "index", None)
                hinted = at is not None and len(head) <= at < len(head) + n
                failing = at - len(head) + 1 if hinted else n
                bad = min(bad, failing)
                errors.setdefault(failing, str(err))
            if bad == good + 1:
                break
            n = bad - 1 if hinted else (good + bad) // 2
        if good == 0:
            where = f"line {self.numbers[0]}" + (" and the expression" if head else "")
            raise ShapeError(f"{where}: {errors[1]}") from None
        n = good
        error = errors.get(n + 1)
        typed, extra = found
        nodes = ([typed.root] + extra[:n - 1 + len(head)])
        self.expr_node = nodes[0] if head else None
        self.nodes = nodes[len(head):len(head) + n]
        self.typed = typed
        self.assumptions = bind(a, typed.names, extra[n - 1 + len(head):])
        unique = {id(node): node for node in self.nodes}.values()
        self.dim_scalars = set(typed.dims) | {x.attr for node in unique for x in E.walk(node)
                                              if x.op == "sym" and x.attr not in typed.names}
        return n, error

    def _first_line(self) -> StepCheck:
        """The first line against the derivative of the expression, by `verify`."""
        from .verify import verify

        v = verify(self.expression, self.wrt, self.texts[0], shapes=specs(self.typed.names),
                   assume=self.assume, layout=self.layout)
        text = (f"line {self.numbers[0]} is the derivative of {self.expression} with respect to {self.wrt}"
                if v.ok else f"line {self.numbers[0]} is not the derivative of {self.expression} with respect "
                             f"to {self.wrt}: {v.diagnosis}")
        return StepCheck(self.numbers[0], self.written[0], v.ok, v.status, text, v.kind, v.rescue,
                         v.max_relative_error)

    def _cases(self, assumptions, seed: int = SEED) -> list[dict]:
        """Instances of every name, shared by all lines; the domains of all lines respected."""
        roots = self.nodes + ([self.expr_node] if self.expr_node is not None else [])
        roots = list({id(r): r for r in roots}.values())     # equal lines are one node: drawn for once
        sampler = Sampler(roots, self.typed.names, assumptions, self.typed.dims)
        out, dims, drawn = [], [], []
        for i in range(INSTANCES + 6):
            _budget.check("drawing instances")
            if len(drawn) == INSTANCES:
                break
            sizes = dimension_sizes(roots + list(self.typed.names.values()), start=len(drawn))
            inst = sampler.draw(np.random.default_rng(seed + i), sizes)
            if inst is not None:
                drawn.append(inst)
        # and at every kink of every line: a line whose kink is shifted by 0.001 differs only in a band
        # 0.001 wide (check/kinks.py)
        for inst in drawn + [inst for inst, _ in place(sampler, drawn, seed)]:
            arrays = {k: v for k, v in inst.arrays.items()
                      if k in self.typed.names or k in self.dim_scalars or callable(v)}
            for k, v in inst.dims.items():
                if k in self.dim_scalars:
                    arrays[k] = v
            out.append(arrays)
            dims.append(dict(inst.dims))
        self._dims = dims
        self._drawn = len(drawn)
        return out

    def _all_values(self, cases: list[dict]) -> list[list]:
        """Every line's values: the lines compiled CHUNK at a time into one plan (equal lines are one
        node, shared parts computed once; the budget looked at between chunks: linear in the file), or,
        where a chunk's plan cannot run on some instance, line by line."""
        unique = list({id(node): node for node in self.nodes}.values())
        known: dict[int, list] = {}
        for start in range(0, len(unique) if cases and len(unique) > 1 else 0, CHUNK):
            _budget.check("evaluating the lines")
            chunk = unique[start:start + CHUNK]
            try:
                plan = compile_nodes({f"v{i}": node for i, node in enumerate(chunk)}, self.dim_scalars)
                with np.errstate(all="ignore"):
                    runs = [plan(**arrays) for arrays in cases]
            except BudgetExceeded:
                raise
            except (MatcalcError, ValueError, FloatingPointError, ZeroDivisionError, np.linalg.LinAlgError):
                continue                       # some line is undefined somewhere: each line on its own
            for i, node in enumerate(chunk):
                known[id(node)] = [np.asarray(run[f"v{i}"], dtype=float) for run in runs]
        values = []
        for node in self.nodes:
            if id(node) not in known:
                _budget.check("evaluating the lines")
                known[id(node)] = self._values(node, cases)
            values.append(known[id(node)])
        return values

    def _values(self, node: Node, cases: list[dict]) -> list:
        """A line's value on each shared instance (NaN where it cannot be computed)."""
        plan = compile_nodes({"v": node}, self.dim_scalars)
        out = []
        with np.errstate(all="ignore"):
            for arrays in cases:
                try:
                    out.append(np.asarray(plan(**arrays)["v"], dtype=float))
                except BudgetExceeded:
                    raise
                except (MatcalcError, ValueError, FloatingPointError, ZeroDivisionError, np.linalg.LinAlgError):
                    out.append(np.nan)
        return out

    def _step(self, i: int, cases, values) -> StepCheck:
        """Line i against line i-1: equal, or why not (transpose, sign, factor, an assumption)."""
        prev, cur = self.nodes[i - 1], self.nodes[i]
        number, before = self.numbers[i], self.numbers[i - 1]
        here = f"line {number} ({self.written[i]}) does not follow from line {before} ({self.written[i - 1]})"
        if cur.shape != prev.shape:
            if cur.shape == transposed(prev.shape):
                same = _all_close(values[i], values[i - 1])
                what = "it is the transpose of the line above" + (
                    "" if same else ", and differs in value as well")
                return StepCheck(number, self.written[i], False, WRONG, f"{here}: {what} "
                                 f"({E.shape_text(cur.shape)} against {E.shape_text(prev.shape)}).",
                                 "transpose", max_relative_error=math.inf, previous=before)
            return StepCheck(number, self.written[i], False, SHAPE, f"{here}: it is {shape_phrase(cur.shape)}, "
                             f"the line above {shape_phrase(prev.shape)}.", "shape",
                             max_relative_error=math.inf, previous=before)
        same = values[i] is values[i - 1]          # the same node (equal lines): the same values
        errs = [0.0] * len(values[i]) if same else [_error(a, b) for a, b in zip(values[i], values[i - 1])]
        err = max(errs) if errs else 0.0
        if err < TIGHT:
            return StepCheck(number, self.written[i], True, CORRECT, f"line {number} follows from line {before}",
                             max_relative_error=err, previous=before)
        kind, status, why, rescue = self._why(i, values)
        return StepCheck(number, self.written[i], False, status, f"{here}: {why}", kind, rescue, err, before)

    def _equal(self, a, b, i: int, j: int) -> bool:
        return self.nodes[i].shape == self.nodes[j].shape and _all_close(a, b)

    def _why(self, i: int, values):
        """The relation between two unequal lines, or the assumption that would make them equal."""
        cur, prev = values[i], values[i - 1]
        if all(np.ndim(c) == 2 for c in cur) and _all_close([np.transpose(c) for c in cur], prev):
            return "transpose", WRONG, "it is the transpose of the line above.", None
        if _all_close([-c for c in cur], prev):
            return "sign", WRONG, "it has the opposite sign of the line above.", None
        ks = _ratios(cur, prev)
        f = _factor(ks, self._dims) if ks else None
        if f is not None and f[0] != "varying":
            return "factor", WRONG, f"it is {_ratio_words(f)} the line above.", None
        terms = self._term_story(i, values)
        if terms:
            return terms
        drawn = getattr(self, "_drawn", len(cur))
        if drawn < len(cur) and _all_close(cur[:drawn], prev[:drawn]):
            return ("kink", WRONG, "the two agree on the usual instances but not on those placed next to a kink "
                    "(relu, abs, step, sign): a kink of one line is not where the other's is.", None)
        rescue = self._rescue(i)
        if rescue:
            return ("assumption", ASSUMPTION, f"the two are equal only if {rescue}, which is not assumed "
                    f"(add 'assume: {rescue}').", rescue)
        return None, WRONG, "the two lines are not equal.", None

    def _term_story(self, i: int, values):
        """A term lost, added, or with its sign flipped between line i-1 and line i."""
        simplify = Simplifier(tuple(self.assumptions.rules) + table_rules())
        cases = self._cases_cache

        def summands(node):
            return [(to_text(t), self._values(t, cases)) for t in _term_candidates(simplify, node)]

        found = _term_relation(values[i], values[i - 1], summands(self.nodes[i]), summands(self.nodes[i - 1]))
        if found is None:
            return None
        how, term = found
        text = {"extra": f"it has a term, {term}, that the line above does not have",
                "sign": f"the term {term} has the wrong sign",
                "twice": f"it has the term {term} of the line above twice",
                "missing": f"the term {term} of the line above is lost"}[how]
        return TERM_KINDS[how], WRONG, text + ".", None

    def _rescue(self, i: int) -> str | None:
        """The first commonly unstated assumption under which lines i-1 and i are equal."""
        from ..engine.assumptions import bind, parse_assumptions

        pair = {n.attr for node in (self.nodes[i - 1], self.nodes[i]) for n in E.walk(node) if n.op == "sym"}
        names = {n: node for n, node in self.typed.names.items() if n in pair}
        for text in candidate_assumptions(names, exclude=set(self.typed.dims), given=self.assumptions.texts,
                                          roots=[self.nodes[i - 1], self.nodes[i]]):
            _budget.check("trying assumptions")
            try:
                a = parse_assumptions(self.assume + [text])
                _, extra = elaborate_many(self.texts[0], specs(self.typed.names), a.expressions())
                a = bind(a, self.typed.names, extra)
                cases = self._cases(a, seed=SEED + 101)
            except BudgetExceeded:
                raise
            except MatcalcError:
                continue
            before = self._values(self.nodes[i - 1], cases)
            after = self._values(self.nodes[i], cases)
            if _all_close(after, before):
                return text
        return None


def read_derivation_file(path) -> str:
    """The text of a derivation file; a missing or unreadable file is a clear MatcalcError."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise MatcalcError(f"cannot read the derivation file {str(path)!r}: {err}") from None


__all__ = ["verify_steps", "read_derivation", "read_derivation_file", "DerivationText", "DERIVATION_FORMAT"]
