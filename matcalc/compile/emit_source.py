"""Python source for a plan's steps: what a person would write. A value used twice gets a name, the
rest is inlined; the module prefix (`np.`, `torch.`, `jnp.`, `cp.`) comes from the backend's spelling.
"""

from __future__ import annotations

import inspect
import keyword
import re
from fractions import Fraction

from ..errors import MatcalcError
from . import runtime
from .canon import _float_text, _number, _py_name

ATOM, POW, UNARY, MUL, MATMUL, ADD, CMP = 100, 90, 80, 70, 69, 60, 40


# backend -> (module prefix, import lines, keyword for array constructors)
BACKENDS = {
    "numpy": ("np", ["import numpy as np"], ""),
    "cupy": ("cp", ["import cupy as cp"], ""),
    "jax": ("jnp", ["import jax.numpy as jnp", "",
                    "# float64 as in NumPy: jax.config.update(\"jax_enable_x64\", True) before use"], ""),
    "torch": ("torch", ["import torch"], ", dtype=torch.float64"),
}


class SourceWriter:
    """Python source for the same steps: a value used twice gets a name, the rest is inlined.
    `backend` picks the module the text calls (numpy, cupy, jax, torch): the steps are the same."""

    def __init__(self, plan, backend: str = "numpy"):
        from ..errors import MatcalcError as _Err

        if backend not in BACKENDS:
            raise _Err(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
        self.backend = backend
        self.mod, self.imports, self.ctor = BACKENDS[backend]
        self.plan = plan
        self.helpers: set[str] = set()
        self.lines: list[str] = []
        self.text: dict[int, tuple[str, int]] = {}
        self.counter = 0
        taken = {_py_name(n) for n in plan.inputs} | set(plan.arg_dims) | set(plan.callables)
        self.taken = set(taken)
        outputs = {ref.slot for _, ref, _ in plan.output_slots}
        for i, st in enumerate(plan.steps):
            if st.op in ("input", "argdim"):
                self.text[i] = (_py_name(st.param), ATOM)
                continue
            rendered = self.render(i, st)
            if self._materialize(i, st, rendered, outputs):
                var = self._fresh(st)
                self.lines.append(f"    {var} = {rendered[0]}")
                rendered = (var, ATOM)
            self.text[i] = rendered

    def _materialize(self, i, st, rendered, outputs) -> bool:
        if st.op in ("const", "size"):
            return False
        if st.op == "float":
            return self.plan.uses[i] >= 2
        if st.op in ("T", "asCol", "asRow") and self.plan.steps[st.args[0]].op in ("input", "argdim"):
            return False
        return self.plan.uses[i] >= 2 and not (i in outputs and self.plan.uses[i] == 2)

    def _fresh(self, st) -> str:
        if st.label and st.label not in self.taken and not keyword.iskeyword(st.label) and st.label != "np":
            self.taken.add(st.label)
            return st.label
        base = st.hint if st.hint.isidentifier() else "t"
        if st.op == "float" and base not in self.taken:
            self.taken.add(base)
            return base
        while True:
            self.counter += 1
            name = f"{base}_{self.counter}"
            if name not in self.taken:
                self.taken.add(name)
                return name

    def wrap(self, k: int, need: int) -> str:
        text, prec = self.text[k]
        return f"({text})" if prec < need else text

    def wrap_same(self, k: int, level: int) -> str:
        """Left operand of `*` or `@`: no brackets for the same operator, always for the other one
        (`(A @ B) * C` reads unambiguously; Python gives both one precedence)."""
        text, prec = self.text[k]
        return text if prec == level or prec >= UNARY else f"({text})"

    def bare(self, k: int) -> str:
        return self.text[k][0]

    def render(self, i: int, st) -> tuple[str, int]:
        op, a = st.op, st.args
        if op == "size":
            return f"{self.wrap(a[0], ATOM)}.shape[{st.param}]", ATOM
        if op == "float":
            return self.text[a[0]]
        if op == "const":
            value = st.param
            if isinstance(value, int):
                return str(value), ATOM
            return _float_text(value), (UNARY if value < 0 else ATOM)
        if op == "ones":
            return f"np.ones({self.bare(a[0])}{self.ctor})", ATOM
        if op == "eye":
            return f"np.eye({self.bare(a[0])}{self.ctor})", ATOM
        if op == "zeros":
            dims = ", ".join(self.bare(k) for k in a)
            return (f"np.zeros(({dims}){self.ctor})" if len(a) > 1 else f"np.zeros({dims}{self.ctor})"), ATOM
        if op == "expand":
            dims = ", ".join(self.bare(k) for k in a[1:])
            shape = f"({dims},)" if len(a) == 2 else f"({dims})"
            return f"np.broadcast_to({self.bare(a[0])}, {shape})", ATOM
        if op == "T":
            inner = self.wrap(a[0], ATOM)
            return (inner[:-2] if inner.endswith(".T") else f"{inner}.T"), ATOM
        if op == "asCol":
            return f"{self.wrap(a[0], ATOM)}[:, None]", ATOM
        if op == "asRow":
            return f"{self.wrap(a[0], ATOM)}[:, 0]", ATOM
        if op == "matmul":
            ta, tb = st.param
            left = f"{self.wrap(a[0], ATOM)}.T" if ta else self.wrap_same(a[0], MATMUL)
            right = f"{self.wrap(a[1], ATOM)}.T" if tb else self.wrap(a[1], UNARY)
            return f"{left} @ {right}", MATMUL
        if op == "solve":
            return f"np.linalg.solve({self.bare(a[0])}, {self.bare(a[1])})", ATOM
        if op == "outer":
            return f"np.outer({self.bare(a[0])}, {self.bare(a[1])})", ATOM
        if op == "colsum":
            return f"{self.wrap(a[0], ATOM)}.sum(axis=0)", ATOM
        if op == "rowsum":
            return f"{self.wrap(a[0], ATOM)}.sum(axis=1)", ATOM
        if op == "sumall":
            return f"np.sum({self.bare(a[0])})", ATOM
        if op == "gt0":
            return f"{self.wrap(a[0], ADD)} > 0", CMP
        if op == "pow":
            p = Fraction(st.param)
            if p == -1:
                return f"1.0 / {self.wrap(a[0], UNARY)}", MUL
            if p == Fraction(1, 2):
                return f"np.sqrt({self.bare(a[0])})", ATOM
            return f"{self.wrap(a[0], ATOM)} ** {_number(p) if p > 0 else '(' + _number(p) + ')'}", POW
        if op == "add":
            parts = []
            for k, (slot, sign) in enumerate(zip(a, st.param)):
                if k == 0:
                    parts.append(f"-{self.wrap(slot, UNARY)}" if sign < 0 else self.wrap(slot, ADD))
                else:
                    parts.append((" + " if sign > 0 else " - ") + self.wrap(slot, MATMUL))
            return "".join(parts), (ADD if len(parts) > 1 else UNARY)
        if op == "had":
            text, prec = "", ATOM
            for slot, p in zip(a, st.param):
                if p == "mask":
                    piece, div = f"({self.bare(slot)})", False
                elif p < 0:
                    piece = self.wrap(slot, UNARY) if p == -1 else self._power_text(slot, -p)
                    div = True
                else:
                    piece = self.wrap(slot, UNARY) if p == 1 else self._power_text(slot, p)
                    div = False
                if not text:
                    if div:
                        text, prec = f"1.0 / {piece}", MUL
                    elif p == 1:
                        text, prec = self.wrap_same(slot, MUL), MUL
                    else:
                        text, prec = piece, (ATOM if p == "mask" or p == Fraction(1, 2) else POW)
                else:
                    if prec != MUL and prec < UNARY:
                        text = f"({text})"
                    text, prec = f"{text} {'/' if div else '*'} {piece}", MUL
            return text, prec
        if op == "scale":
            const, n_numer = st.param
            body, numer, denom = a[0], a[1:1 + n_numer], a[1 + n_numer:]
            terms = len(numer) + len(denom) + (const != 1.0)
            if st.rep != "scalar" and terms > 1:
                # one multiplication of the array by a factor worked out on scalars, as the callable does
                factor = [] if const in (1.0, -1.0) else [_number(Fraction(abs(const)).limit_denominator(10**9))]
                factor += [self.wrap(k, UNARY) for k in numer]
                ftext = " * ".join(factor) or "1.0"
                for k in denom:
                    ftext += f" / {self.wrap(k, UNARY)}"
                ftext = ("-" if const < 0 else "") + ftext
                return f"{self.wrap_same(body, MUL)} * ({ftext})", MUL
            pieces = []
            if const not in (1.0, -1.0):
                pieces.append(_number(Fraction(abs(const)).limit_denominator(10**9)))
            pieces += [self.wrap(k, UNARY) for k in numer]
            if pieces:
                text = " * ".join(pieces) + " * " + self.wrap(body, UNARY)
            elif const < 0:
                text = self.wrap(body, UNARY)
            else:
                text = self.wrap_same(body, MUL)
            for k in denom:
                text += f" / {self.wrap(k, UNARY)}"
            if const < 0:
                text = "-" + (text if pieces or not denom else text)
                return text, (UNARY if not denom and not pieces else MUL)
            return text, (MUL if pieces or denom else self.text[body][1])
        if op == "sizeprod":
            return " * ".join(self.wrap(k, UNARY) for k in a), MUL
        if op == "vec":
            return f"{self.wrap(a[0], ATOM)}.T.reshape(-1)", ATOM
        if op == "unvec":
            return f"{self.wrap(a[0], ATOM)}.reshape({self.bare(a[2])}, {self.bare(a[1])}).T", ATOM
        if op == "kron":
            pieces = [self.bare(k) + ("[:, None]" if rep == "col" else "[None, :]" if rep == "row" else "")
                      for k, rep in zip(a, st.param)]
            flat = ".reshape(-1)" if st.rep in ("col", "row") else ""
            return f"np.kron({pieces[0]}, {pieces[1]}){flat}", ATOM
        if op == "comm":
            m, n = self.wrap(a[0], UNARY), self.wrap(a[1], UNARY)
            return (f"np.eye({m} * {n}{self.ctor})[(np.arange({m})[:, None] + {m} * np.arange({n})[None, :])"
                    f".reshape(-1)]"), ATOM
        if op == "vpow":
            return f"{self.wrap(a[0], ATOM)} ** {self.wrap(a[1], ATOM)}", POW
        if op == "fnaxis":
            spelling, axis = st.param
            return self._call(spelling, [self.bare(a[0])], axis), ATOM
        if op == "fn":
            spelling = st.param
            if spelling.startswith("@"):          # the callable given for a declared abstract function
                return f"{spelling[1:]}({self.bare(a[0])})", ATOM
            if not spelling.startswith("np."):
                self.helpers.add(spelling)
            return self._call(spelling, [self.bare(k) for k in a], None, a), ATOM
        raise MatcalcError(f"cannot write source for {op!r}")

    def _call(self, spelling: str, args: list, axis, slots=()) -> str:
        """`np.sum(X, axis=0)`, `np.maximum(u, 0.0)`: where PyTorch's function differs from NumPy's (var and
        std default to ddof 1, an axis is `dim`, maximum takes no number), the torch source says so."""
        if self.backend == "torch" and spelling.startswith("np."):
            name = spelling[3:]
            if name in ("maximum", "minimum") and slots and self.plan.steps[slots[1]].op == "const":
                bound = "min" if name == "maximum" else "max"
                return f"torch.clamp({args[0]}, {bound}={args[1]})"
            extra = [f"dim={axis}"] if axis is not None else []
            if name in ("var", "std"):
                extra.append("correction=0")
            if name in ("max", "min") and axis is not None:
                name = "a" + name
            return f"torch.{name}({', '.join(args + extra)})"
        extra = [f"axis={axis}"] if axis is not None else []
        return f"{spelling}({', '.join(args + extra)})"

    def _power_text(self, slot: int, p: Fraction) -> str:
        if p == Fraction(1, 2):
            return f"np.sqrt({self.bare(slot)})"
        return f"{self.wrap(slot, ATOM)} ** {_number(p)}"

    def _in_module(self, line: str) -> str:
        """`np.` is the plan's spelling of the array module; other backends call theirs."""
        return line if self.mod == "np" else re.sub(r"\bnp\.", self.mod + ".", line)

    def _helper_source(self, name: str) -> str:
        if self.backend != "torch" and name in runtime.SOURCES:
            return runtime.SOURCES[name] or ""
        if self.backend == "torch":
            from . import runtime_torch

            return inspect.getsource(runtime_torch.HELPERS[name]).rstrip()
        text = inspect.getsource(runtime.HELPERS[name]).rstrip()
        return text.replace("xp=np", f"xp={self.mod}")

    def output_text(self, name: str) -> str:
        for key, ref, node in self.plan.output_slots:
            if key == name:
                text = self.bare(ref.slot)
                if self.plan.steps[ref.slot].op == "expand":
                    text += ".copy()"
                return text
        raise KeyError(name)

    def function(self, name: str, doc: str = "", with_helpers: bool = True) -> str:
        args = ", ".join([_py_name(a) for a in self.plan.inputs] + list(self.plan.callables)
                         + [_py_name(d) for d in self.plan.arg_dims])
        body = list(self.lines)
        results = [(key, self.output_text(key)) for key in self.plan.outputs]
        if len(results) == 1:
            body.append(f"    return {results[0][1]}")
        else:
            body.append("    return {")
            body += [f"        {k!r}: {v}," for k, v in results]
            body.append("    }")
        head = list(self.imports)
        if with_helpers and self.backend != "torch" and self.helpers & set(runtime.SOURCES):
            head.insert(1, runtime.SPECIAL_IMPORTS[self.backend])      # erf, erfc
        head.append("")
        if with_helpers and self.helpers:
            for h in sorted(self.helpers):
                text = self._helper_source(h)
                if text:
                    head.append("")
                    head.append(text)
            head.append("")
        head.append("")
        body = [self._in_module(line) for line in body]
        doc_line = [f'    """{doc}"""'] if doc else []
        return "\n".join(head + [f"def {name}({args}):"] + doc_line + body) + "\n"

