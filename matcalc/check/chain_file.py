r"""Chain-rule derivation files: a write-up whose lines are different derivatives.

Why: people derive a gradient as a chain of different quantities — ∂L/∂ŷ, then ∂ŷ/∂z, then ∂L/∂z built
from those, then ∂L/∂W — much of it entry by entry (∂ŷ_i/∂z_k = ŷ_i(δ_ik − ŷ_k)). Such a file is not one
chain of equal expressions, so each line is judged as what it says:

    shape: W=c,d x=d
    assume: sum(y) = 1
    let z = W*x + b
    let s = softmax(z)
    L: -y'*log(s)                      # the function, named L
    dL/ds = -y ./ s
    ds/dz = diag(s) - s*s'
    dL/dz = ds/dz * dL/ds              # earlier derivatives may be used on the right
          = s - y                      # '=' continues: the same derivative, written another way
    ds_i/dz_k = s_i*(delta_ik - s_k)   # index notation, judged entry by entry
    \frac{\partial L}{\partial W} = (s - y) x^T

For `dA/dB = RHS`, A (the function, or a name bound by `let`) is written as a function of B by unfolding
the lets that depend on B — `dL/ds` differentiates -y'*log(s) with s free, `dL/dz` differentiates
-y'*log(softmax(z)) — and the same lets are unfolded in RHS. A derivative stated on an earlier line
stands for its right side there. The claim is then judged exactly as a single claim (verify, or
index_check for index notation), so a wrong line gets the same diagnosis a single claim would.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .. import budget as _budget
from ..engine.derive import check_layout
from ..errors import MatcalcError, ParseError
from ..language.arguments import check_assume, check_shapes
from ..language.index_parse import parse_index_derivative
from .abbreviations import substitute as _substitute
from .checker import spec
from .differential_check import read_differential, verify_differential
from .index_check import is_index_notation, split_derivative
from .reading import read_input
from .verdict import CORRECT, StepCheck, StepsVerdict

HEADER_KEYS = {"shape": "shape", "shapes": "shape", "assume": "assume", "assuming": "assume", "let": "let",
               "wrt": "wrt", "layout": "layout"}
FUNCTION_KEYS = ("f", "expression", "loss")      # `f: ...` (or any `NAME: ...`) defines the function NAME
_HEADER = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_]*)\s*:\s*(.*)$")
_LET = re.compile(r"^\s*let\s+([A-Za-z_][A-Za-z0-9_]*)\s*(?:=|:=)\s*(.+)$")
_DEFINITION = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:=|:=)\s*([^=;]+)$")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ASCII_REF = re.compile(r"(?<![A-Za-z0-9_])(?:d|∂)\s*[A-Za-z][A-Za-z0-9_]*\s*/\s*(?:d|∂)\s*[A-Za-z][A-Za-z0-9_]*"
                        r"(?![A-Za-z0-9_({\[])")
_LATEX_REF = re.compile(r"\\frac\s*\{\s*\\partial\s*(?:[^{}]|\{[^{}]*\})*\}\s*\{\s*\\partial\s*(?:[^{}]|\{[^{}]*\})*\}")

CHAIN_FORMAT = """\
A chain-rule derivation: each line 'dA/dB = RHS' states a derivative.
  let z = W*x + b         definitions (also z = W*x + b); A and B are these names or the variables
  L: -y'*log(softmax(z))  the function, named L (f: names it f)
  dL/dz = softmax(z) - y  the derivative of L, as a function of z, in the file's layout
  = ...                   the same derivative written another way
  ds_i/dz_k = ...         index notation, judged entry by entry
A right side may use derivatives stated above (dL/dz = ds/dz * dL/ds)."""


EVIDENCE = ("each line judged as a claim of the derivative it states, on its own random instances against "
            "autograd + finite differences of the function (equal means < 1e-06 of the derivative's size); "
            "index lines entry by entry")


@dataclass
class ChainLine:
    number: int
    written: str
    lhs: str
    rhs: str
    differential: bool = False        # `dL = tr(G'*dZ)`: the differential of A written in dB


@dataclass
class ChainDoc:
    lines: list[ChainLine] = field(default_factory=list)
    shapes: dict = field(default_factory=dict)
    assume: list[str] = field(default_factory=list)
    lets: dict = field(default_factory=dict)            # name -> body (ASCII), in order of definition
    function: str | None = None
    wrt: str | None = None
    layout: str | None = None


def _clean(raw: str) -> str:
    """A line without its comment: `# ...` anywhere, or a whole line starting with LaTeX's `%`."""
    line = raw.split("#", 1)[0].strip() if "#" in raw else raw.strip()
    return "" if line.startswith("%") else line


def is_chain_derivation(text: str) -> bool:
    """Whether a derivation file states derivatives (`dA/dB = ...`) rather than one chain of equalities."""
    for raw in text.splitlines():
        line = _clean(raw)
        if not line or _LET.match(line):
            continue
        if split_derivative(line)[0] is not None or _differential_line(line) is not None:
            return True
    return False


def _differential_line(line: str) -> tuple[str, str, str] | None:
    """(A, B, RHS) for a line of the differential method, `dL = tr(x*(s - y)'*dW)`: the differential of A
    written in the differential of one quantity B; else None."""
    read = read_differential(line)
    if read is None or len(read[1]) != 1:
        return None
    return read[0], read[1][0], read[2]


def read_chain(text: str, input: str = "auto") -> ChainDoc:
    """The headers, lets, the function and the derivative lines of a chain-rule derivation file."""
    doc = ChainDoc()
    for number, raw in enumerate(text.splitlines(), start=1):
        _budget.check("reading the derivation")
        line = _clean(raw)
        if not line:
            continue
        try:
            _read_line(doc, number, raw.strip(), line, input)
        except ParseError as err:
            raise ParseError(f"line {number}: {err.message}", err.text, err.column) from None
        except MatcalcError as err:
            raise type(err)(f"line {number}: {err}") from None
    if not doc.lines:
        raise MatcalcError("the derivation states no derivative\n" + CHAIN_FORMAT)
    return doc


def _read_line(doc: ChainDoc, number: int, written: str, line: str, input: str) -> None:
    m = _LET.match(line)
    if m:
        _define(doc, m.group(1), m.group(2), input)
        return
    lhs, rhs = split_derivative(line)
    if lhs is not None:
        doc.lines.append(ChainLine(number, written, lhs, rhs))
        return
    diff = _differential_line(line)
    if diff is not None:
        a, b, rhs = diff
        doc.lines.append(ChainLine(number, written, f"d{a}/d{b}", rhs, differential=True))
        return
    m = _DEFINITION.match(line)
    if m and not line.startswith("="):      # `z = W*x + b`, as the language writes a definition
        _define(doc, m.group(1), m.group(2), input)
        return
    m = _HEADER.match(line)
    if m and not line.startswith("="):
        key, value = m.group(1), m.group(2).strip()
        kind = HEADER_KEYS.get(key.lower())
        if kind == "shape":
            for item in re.split(r"[;\s]+", value):
                if item:
                    if "=" not in item:
                        raise MatcalcError(f"a shape is NAME=d1,d2, got {item!r}")
                    name, dims = item.split("=", 1)
                    doc.shapes[name.strip()] = dims.strip()
        elif kind == "assume":
            doc.assume.append(value)
        elif kind == "let":
            mm = _LET.match("let " + value)
            if not mm:
                raise MatcalcError("write an abbreviation as 'let s = softmax(z)'")
            _define(doc, mm.group(1), mm.group(2), input)
        elif kind == "wrt":
            doc.wrt = value
        elif kind == "layout":
            doc.layout = value
        else:
            if doc.function is not None:
                raise MatcalcError(f"a second function ({key}); the file already defines {doc.function}")
            _define(doc, key, value, input)
            doc.function = key
        return
    text = line[1:].strip() if line.startswith("=") else line
    if doc.lines:
        last = doc.lines[-1]
        doc.lines.append(ChainLine(number, written, last.lhs, text, last.differential))
    elif doc.function is not None and doc.wrt is not None:
        doc.lines.append(ChainLine(number, written, f"d{doc.function}/d{doc.wrt}", text))
    else:
        raise MatcalcError(f"{line!r} says which derivative it is neither by a left side (dL/dz = ...) nor "
                           f"by 'f:' and 'wrt:' headers\n{CHAIN_FORMAT}")


def _define(doc: ChainDoc, name: str, body: str, input: str) -> None:
    from ..tables import spelled

    if spelled(name) or name in ("ones", "I", "d"):
        raise MatcalcError(f"cannot use the name {name!r} for an abbreviation")
    if name in doc.lets:
        raise MatcalcError(f"{name} is defined twice")
    doc.lets[name] = read_input(body.strip(), input)


# ================================================================ unfolding


class Unfolder:
    """Writes a quantity as a function of a chosen variable: the lets that depend on it become the
    definitions of one input of the language (`s = softmax(z); -y'*log(s)` for dL/dz), the others stay
    variables of their own. A definition is one shared node wherever it is used, so nothing is copied
    into the text: a chain of lets that each use the one before twice costs what the lets cost."""

    def __init__(self, lets: dict):
        self.lets = lets
        self.uses = {name: set(_NAME.findall(body)) for name, body in lets.items()}
        self.order = self._ordered()

    def _ordered(self) -> list[str]:
        """The lets, each after the lets it uses (a file may define them in any order)."""
        out: list[str] = []
        state: dict[str, int] = {}
        for start in self.lets:
            stack = [(start, False)]
            while stack:
                name, done = stack.pop()
                if done:
                    state[name] = 2
                    out.append(name)
                    continue
                if state.get(name) == 2:
                    continue
                if state.get(name) == 1:
                    raise MatcalcError("the abbreviations refer to each other in a circle")
                state[name] = 1
                stack.append((name, True))
                stack.extend((u, False) for u in sorted(self.uses[name]) if u in self.lets and state.get(u) != 2)
        return out

    def depends(self, name: str, var: str) -> bool:
        if name == var:
            return True
        todo, seen = [name], set()
        while todo:
            n = todo.pop()
            if n == var:
                return True
            if n in seen or n not in self.lets:
                continue
            seen.add(n)
            todo.extend(self.uses[n])
        return False

    def unfold(self, text: str, var: str) -> str:
        """`text` as a function of `var`: every let (other than `var`) that depends on `var` defined first."""
        defs = [n for n in self.order if n != var and self.depends(n, var)]
        return "; ".join([f"{n} = {self.lets[n]}" for n in defs] + [text])

    def everything(self, text: str) -> str:
        """Every let defined first: the text over the variables alone."""
        return "; ".join([f"{n} = {self.lets[n]}" for n in self.order] + [text])


# ================================================================ checking


def verify_chain(text: str, shapes=None, assume=(), layout: str | None = None, input: str = "auto") -> StepsVerdict:
    """Judge every line of a chain-rule derivation file as the derivative it states."""
    if not isinstance(text, str):
        raise TypeError(f"a chain-rule derivation is the file's text (str), got {type(text).__name__}")
    shapes, assume = check_shapes(shapes), check_assume(assume)
    doc = read_chain(text, input)
    shapes = {**doc.shapes, **shapes}
    assume = list(doc.assume) + [a for a in (assume or ()) if a not in doc.assume]
    layout = layout or doc.layout or "denominator"
    check_layout(layout)
    return _ChainChecker(doc, shapes, assume, layout, input).run()


class _ChainChecker:
    def __init__(self, doc: ChainDoc, shapes: dict, assume: list, layout: str, input: str):
        self.doc, self.shapes, self.assume, self.layout, self.input = doc, shapes, assume, layout, input
        self.unfolder = Unfolder(doc.lets)
        self.stated: dict[tuple[str, str], str] = {}      # (A, B) -> the first right side stated for it
        self.stated_at: dict[tuple[str, str], StepCheck] = {}
        self.used: list[tuple[str, str]] = []
        self.specs = self._shapes_of_everything()

    def _shapes_of_everything(self) -> dict:
        """Every variable's and every let's shape, typed jointly so the dimension names agree."""
        from ..language.shapes import elaborate_many

        names = list(self.doc.lets)
        if not names:
            return dict(self.shapes)
        try:
            typed = elaborate_many(self.unfolder.everything(self.unfolder.order[-1]), self.shapes)[0]
        except MatcalcError as err:
            raise type(err)(f"in the abbreviations: {err}") from None
        out = {n: spec(node.shape) for n, node in typed.names.items() if n not in typed.dims}
        for name, node in typed.definitions.items():
            out[name] = spec(node.shape)
        return out

    def run(self) -> StepsVerdict:
        steps = []
        instances = 0
        for line in self.doc.lines:
            _budget.check(f"checking line {line.number}")
            step, n = self._line(line)
            steps.append(step)
            instances = max(instances, n)
        bad = next((s for s in steps if not s.ok), None)
        if bad is None:
            return StepsVerdict(True, CORRECT, f"every line states its derivative right ({len(steps)} checked)",
                                None, steps, list(self.assume), dict(self.shapes), instances, evidence=EVIDENCE)
        return StepsVerdict(False, bad.status, bad.diagnosis, bad.line, steps, list(self.assume),
                            dict(self.shapes), instances, bad.rescue, evidence=EVIDENCE)

    def _line(self, line: ChainLine) -> tuple[StepCheck, int]:
        from .index_check import verify_index
        from .verify import verify

        try:
            a, a_idx, b, b_idx = parse_index_derivative(line.lhs)
            function = self._function(a, b)
            expression = self.unfolder.unfold(function, b)
            index = bool(a_idx or b_idx) or is_index_notation(line.rhs)
            shapes = self._shapes_for(expression)
            assume = self._assumptions_for(expression)
            if line.differential:       # the expression's definitions are the claim's too
                v = verify_differential(expression, b, f"d{a} = {line.rhs}", shapes=shapes, assume=assume)
            elif index:
                v = verify_index(expression, b, f"{line.lhs} = {line.rhs}", shapes=shapes, assume=assume,
                                 layout=self.layout, input="ascii")
            else:
                claim = self._with_stated(line.rhs)
                v = verify(expression, b, claim, shapes=shapes, assume=assume, layout=self.layout,
                           input="ascii")
                self.stated.setdefault((a, b), read_input(line.rhs, self.input)
                                       if not _has_refs(line.rhs) else claim)
        except ParseError as err:
            raise ParseError(f"line {line.number}: {err.message}", err.text, err.column) from None
        except MatcalcError as err:
            raise type(err)(f"line {line.number}: {err}") from None
        what = f"d{a} in d{b}" if line.differential else f"∂{a}{_sub(a_idx)}/∂{b}{_sub(b_idx)}"
        if v.ok:
            text = f"line {line.number} is {what}"
        else:
            text = f"line {line.number} ({line.written}) is not {what}: {v.diagnosis}"
            wrong = [self.stated_at[k].line for k in self.used if not self.stated_at[k].ok]
            if wrong:
                text += (f" (it uses line{'s' if len(wrong) > 1 else ''} {', '.join(map(str, wrong))}, "
                         f"which {'are' if len(wrong) > 1 else 'is'} wrong)")
        step = StepCheck(line.number, line.written, v.ok, v.status, text, v.kind, v.rescue, v.max_relative_error)
        if not (a_idx or b_idx or line.differential):
            self.stated_at.setdefault((a, b), step)
        return step, v.instances

    def _function(self, a: str, b: str) -> str:
        if a in self.doc.lets:
            return a
        if a in self.specs or _NAME.fullmatch(a) and a == b:
            return a
        known = ", ".join([*self.doc.lets]) or "none"
        raise MatcalcError(f"{a} is not defined: define it with 'let {a} = ...' or '{a}: ...' (defined: {known})")

    def _shapes_for(self, expression: str) -> dict:
        used = set(_NAME.findall(expression))
        return {n: s for n, s in self.specs.items() if n in used}

    def _assumptions_for(self, expression: str) -> list[str]:
        """The file's assumptions about names this line's function has (`sum(y) = 1` is no part of ds/dz)."""
        used = set(_NAME.findall(expression))
        known = set(self.specs)
        return [a for a in self.assume if set(_NAME.findall(a)) & known <= used]

    def _with_stated(self, rhs: str) -> str:
        """Derivatives stated above, used in a right side (`ds/dz * dL/ds`), replaced by their right sides;
        the rest read as a matrix expression (ASCII or LaTeX)."""
        found = {}
        self.used = []

        def mark(match):
            try:
                a, a_idx, b, b_idx = parse_index_derivative(match.group(0))
            except MatcalcError:
                return match.group(0)
            if a_idx or b_idx or (a, b) not in self.stated:
                return match.group(0)
            key = f"DREF{len(found)}x"
            self.used.append((a, b))
            found[key] = self.stated[(a, b)]
            return key if not rhs.lstrip().startswith("\\") and "\\" not in rhs else f" \\mathrm{{{key}}} "

        marked = _ASCII_REF.sub(mark, _LATEX_REF.sub(mark, rhs))
        text = read_input(marked, self.input)
        for key, body in found.items():
            text = _substitute(text, key, f"({body})")
        return text


def _has_refs(rhs: str) -> bool:
    return bool(_ASCII_REF.search(rhs) or _LATEX_REF.search(rhs))


def _sub(idx) -> str:
    return "_" + "".join(idx) if idx else ""


__all__ = ["verify_chain", "read_chain", "is_chain_derivation", "CHAIN_FORMAT", "Unfolder"]
