"""Is a printed result the form a textbook prints? A comparison up to the order of terms and factors.

Used by tests/test_textbook_forms.py and benchmarks/textbook_bench.py on tests/data/textbook_forms.toml.

Two formulas are the same *form* when their normal forms below are the same. The normal form forgets
only what a reader does not see as a different way of writing the gradient:

- the order of a sum's terms, of scalar factors and of Hadamard factors, and how a product is
  bracketed (`2*X'*(X*w - y)` is `X'*(X*w - y)*2`);
- where a transpose is written (`(A*B)'` is `B'*A'`), and which way round a scalar chain is read
  (`a'*b` is `b'*a`, `tr(A*B)` is `tr(B*A)`, `tr(a*b'*C)` is `b'*C*a`);
- a monomial multiplied into a sum (`A'*(A*x - b)` is `A'*A*x - A'*b`, `2*(a + b)` is `2*a + 2*b`,
  `(B + B')*x` is `B*x + B'*x`), and so where a sign or a number is written (`-2*X'*(y - X*beta)` is
  `2*X'*(X*beta - y)`); the linear functions (tr, sum, diag, transpose) taken over a sum the same way;
- `diag(a)*v` for `a .* v`, `sum(a .* b)` for `a'*b`, `ones(n)'*a` for `sum(a)`.

What it keeps: a product of two sums is *not* multiplied out (`(x - mu)*(x - mu)'` is not
`x*x' - x*mu' - mu*x' + mu*mu'`), a Hadamard product is never distributed (`h .* (1 - h)` is not
`h - h.^2`, `g .* (1 - h.^2)` is not `g - g .* h.^2`), a power of a sum stays one
(`(x - mu).^2`), a function's argument is compared as its own normal form, and a transpose of a name
or of a call is a different letter (`inv(Sigma)'` is not `inv(Sigma)`, whatever is assumed).
"""

from __future__ import annotations

import re
import tomllib
from fractions import Fraction
from math import gcd
from pathlib import Path

from matcalc.language import expr as E
from matcalc.language.expr import Node
from matcalc.language.shapes import elaborate_many

DATA = Path(__file__).resolve().parent / "data" / "textbook_forms.toml"

LINEAR = ("tr", "sum", "diag", "diagvec")


def rows() -> list[dict]:
    return tomllib.loads(DATA.read_text())["form"]


def call(row: dict) -> dict:
    """matcalc.derive's keyword arguments for a row."""
    return {"wrt": row["wrt"], "shapes": dict(row["shapes"]), "assume": list(row["assume"]),
            "layout": row["layout"], "order": row.get("order", 1)}


def inline(text: str, definitions: dict[str, str]) -> str:
    """Each name of `definitions` in `text` replaced by its (bracketed) definition, until none is left."""
    for _ in range(len(definitions) + 1):
        changed = False
        for name, definition in definitions.items():
            new = re.sub(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_(])", f"({definition})", text)
            changed |= new != text
            text = new
        if not changed:
            return text
    raise ValueError(f"the definitions refer to each other in a circle: {sorted(definitions)}")


def named_parts(text: str) -> tuple[str, dict[str, str]]:
    """matcalc's named form `body   where h1 = ...; h2 = ...` -> (body, {name: definition})."""
    if "   where " not in text:
        return text, {}
    body, _, defs = text.partition("   where ")
    return body, dict(d.split(" = ", 1) for d in defs.split("; "))


def typed(d, text: str, as_result: bool = True) -> Node:
    """`text` typed over the derivation's names and shapes (with the result's shape, as_result)."""
    spec = {}
    for name, (r, c) in d.shapes.items():
        spec[name] = () if (r, c) == (1, 1) else (r,) if c == 1 else (r, c)
    _, (node,) = elaborate_many(d.expression, spec, (text,), targets=[d.shape] if as_result else None)
    return node


def book_node(d, row: dict) -> Node:
    return typed(d, inline(row["book"], row.get("intermediates", {})))


def result_node(d) -> Node:
    body, defs = named_parts(str(d))
    return typed(d, inline(body, defs))


# ---------------------------------------------------------------- the normal form


class Normal:
    """The normal form of a typed node (see the module's docstring). `symmetric`: names the row
    assumes symmetric; they are used on the *book's* side only (its `a*a'` with `a = inv(K)*y` is
    `inv(K)*y*y'*inv(K)` for a symmetric K), so that matcalc's result must use them itself."""

    def __init__(self, symmetric=frozenset()):
        self.memo: dict[Node, Node] = {}
        self.symmetric = set(symmetric)

    def __call__(self, n: Node) -> Node:
        found = self.memo.get(n)
        if found is None:
            found = self.memo[n] = self._normal(n)
        return found

    def _normal(self, n: Node) -> Node:
        op = n.op
        if not n.args:
            return n
        if op == "add":
            terms = []
            for a in n.args:
                a = self(a)
                terms.extend(a.args if a.op == "add" else (a,))
            return _collect(terms, n.shape)
        if op == "T":
            inner = self(n.args[0])
            if inner.op == "sym" and inner.attr in self.symmetric:
                return inner
            if inner.op == "fn" and inner.attr == "inv":   # inv(X)' is inv(X'): where the ' is written
                return self(E.apply("inv", E.transpose(inner.args[0])))
            t = E.transpose(inner)
            return t if t.op == "T" or t is inner else self(t)
        if op == "mul":
            chain = [a for a in n.args if not a.is_scalar]
            if n.is_scalar and len(chain) == 2 and chain[1].shape[1] == 1:
                # an inner product u'*v is sum(u .* v): sum(dy .* x) is dy'*x
                scal = [a for a in n.args if a.is_scalar]
                return self(E.mul(*scal, E.apply("sum", E.hadamard(E.transpose(chain[0]), chain[1]))))
            factors = _diag_times([self(a) for a in n.args])
            factors = [self(f) for f in _scalar_subchains(factors)]
            sums = [i for i, f in enumerate(factors) if f.op == "add"]
            if len(sums) == 1:
                i = sums[0]
                return self(E.add(*(E.mul(*factors[:i], t, *factors[i + 1:]) for t in factors[i].args)))
            taken, factors = _oriented(factors)
            factors = [_size(f.args[1].shape[0]) if f.op == "mul" and len(f.args) == 2 and f.is_scalar
                       and f.args[0].op == "T" and f.args[0].args[0].op == "ones" and f.args[1].op == "ones"
                       else f for f in factors]
            out = E.mul(taken, *factors)
            if out.op == "mul" and out.is_scalar:
                out = _scalar_chain_order(out)
            if out is not n and out.op == "mul" and sum(f.op == "add" for f in out.args) == 1:
                return self(out)
            return out
        if op == "had":
            taken, factors = _oriented([self(a) for a in n.args])
            return E.mul(taken, E.hadamard(*factors))
        if op == "pow" and Fraction(n.attr).denominator != 1:
            base = self(n.args[0])          # (c*s)^(1/2) is c^(1/2)*s^(1/2) (for the positive bases here)
            if base.op == "mul":
                return self(E.mul(*(E.power(f, n.attr) for f in base.args)))
            return E.rebuild(n, (base,))
        if op in ("epow", "pow") and Fraction(n.attr).denominator == 1:
            base = self(n.args[0])
            if base.op == "mul" and any(f.is_scalar for f in base.args) and op != "pow":
                scal = [f for f in base.args if f.is_scalar]
                rest = [f for f in base.args if not f.is_scalar]
                return self(E.mul(E.power(E.mul(*scal), n.attr), E.epow(E.mul(*rest), n.attr)))
            if base.op == "add" and op == "epow":      # (y - X*w).^2 is (X*w - y).^2
                flipped = _negated(base)
                if full_key(flipped) < full_key(base):
                    sign = -1 if Fraction(n.attr).numerator % 2 else 1
                    return E.mul(E.num(sign), E.rebuild(n, (flipped,)))
            return E.rebuild(n, (base,))
        if op == "fn" and n.attr in LINEAR and not (n.attr == "diag" and n.args[0].shape[1] == 1):
            arg = self(n.args[0])
            if arg.op == "add":
                return self(E.add(*(E.apply(n.attr, t) for t in arg.args)))
            coef, rest = E.split_scalar(arg)
            if rest is not None and coef != 1:
                return self(E.mul(E.num(coef), E.apply(n.attr, rest)))
            if arg.op == "mul" and arg.args[0].is_scalar and not arg.is_scalar:
                k = next(i for i, f in enumerate(arg.args) if not f.is_scalar)
                return self(E.mul(*arg.args[:k], E.apply(n.attr, E.mul(*arg.args[k:]))))
            if n.attr == "sum":
                return self._sum(arg)
            if n.attr == "tr":
                return self._trace(arg)
            return E.apply(n.attr, arg)
        if op == "bcast" and n.args[0].is_scalar:          # c added to every entry is c*ones
            r, c = n.shape
            unit = E.ones(r) if c == 1 else E.transpose(E.ones(c)) if r == 1 else \
                E.mul(E.ones(r), E.transpose(E.ones(c)))
            return self(E.mul(self(n.args[0]), unit))
        if op == "fn" and n.attr == "diag" and n.args[0].shape[1] == 1:
            arg = self(n.args[0])          # diag(1 - h.^2) stays one matrix: not I - diag(h.^2)
            if arg.op == "mul" and arg.args[0].is_scalar:
                k = next(i for i, f in enumerate(arg.args) if not f.is_scalar)
                return self(E.mul(*arg.args[:k], E.apply("diag", E.mul(*arg.args[k:]))))
            return E.apply("diag", arg)
        if op == "fn" and n.attr == "sqrt" and n.is_scalar:
            return self(E.power(n.args[0], Fraction(1, 2)))
        if op == "fn" and n.attr == "step" and n.args[0].op == "fn" and n.args[0].attr == "relu":
            return self(E.apply("step", n.args[0].args[0]))      # relu(z) > 0 exactly where z > 0
        if op == "fn" and n.attr in ("softmax", "softmax_rows"):
            arg = self(n.args[0])
            ex = E.apply("exp", arg)
            if n.attr == "softmax":
                return self(E.mul(E.power(E.apply("sum", ex), -1), ex))
            r, c = arg.shape
            return self(E.hadamard(ex, E.epow(E.mul(ex, E.ones(c), E.transpose(E.ones(c))), -1)))
        args = tuple(self(a) for a in n.args)
        return E.rebuild(n, args)

    def _sum(self, arg: Node) -> Node:
        if arg.op == "bcast" and arg.args[0].is_scalar:
            return self(E.mul(_size(arg.shape[0]), _size(arg.shape[1]), arg.args[0]))
        if arg.op == "ones" or (arg.op == "T" and arg.args[0].op == "ones"):
            return _size(arg.shape[0] * 0 + (arg.shape[0] if arg.op == "ones" else arg.shape[1]))
        if arg.shape[0] == 1:
            return self(E.apply("sum", E.transpose(arg)))
        if arg.op == "had" and arg.shape[1] == 1:
            # a sum of a Hadamard product of vectors is an inner product: linear in each factor
            sums = [f for f in arg.args if f.op == "add"]
            if sums:
                s = sums[0]
                others = [f for f in arg.args if f is not s]
                return self(E.add(*(E.apply("sum", E.hadamard(*others, t)) for t in s.args)))
            return E.apply("sum", arg)
        if arg.op == "had" and len(arg.args) == 2:
            a, b = arg.args
            return self(E.apply("tr", E.mul(E.transpose(a), b)))
        if arg.shape[1] == 1:
            return E.apply("sum", arg)
        return self(E.mul(E.transpose(E.ones(arg.shape[0])), arg, E.ones(arg.shape[1])))

    def _trace(self, arg: Node) -> Node:
        """tr of a chain: a scalar chain when a vector is in it, else its least cyclic rotation."""
        chain = list(arg.args) if arg.op == "mul" else [arg]
        for i, f in enumerate(chain):
            if f.shape[1] == 1 and not f.is_scalar:
                rotated = chain[i + 1:] + chain[:i + 1]
                return self(E.mul(*rotated))
        if len(chain) == 1 and chain[0].op == "eye":
            return _size(chain[0].shape[0])
        options = []
        for i in range(len(chain)):
            rotated = chain[i:] + chain[:i]
            options.append(E.apply("tr", E.mul(*rotated)))
            flipped = [self(E.transpose(f)) for f in reversed(rotated)]
            options.append(E.apply("tr", E.mul(*flipped)))
        return min(options, key=full_key)


def _size(d) -> Node:
    return E.num(d) if isinstance(d, int) else E.sym(d, E.SCALAR)


def _negated(s: Node) -> Node:
    return _collect([E.neg(t) for t in s.args], s.shape)


def _oriented(factors: list[Node]) -> tuple[Node, list[Node]]:
    """Each sum factor without its content (the scalar factors and the number all its terms share)
    and with the sign that keys first; what was taken out is returned: (x - mu)*(x - mu)' is
    (mu - x)*(mu - x)', and ((1/m)*(dy'*x) - (1/m^2)*sum(dy)*sum(x))*u is (1/m^2)*(m*(dy'*x) -
    sum(dy)*sum(x))*u."""
    taken = []
    out = []
    for f in factors:
        transposed = f.op == "T" and f.args[0].op == "add"
        s = f.args[0] if transposed else f
        if s.op == "add":
            content, s = _content(s)
            flipped = _negated(s)
            if full_key(flipped) < full_key(s):
                content, s = E.neg(content), flipped
            taken.append(content)
            f = E.transpose(s) if transposed else s
        out.append(f)
    return E.mul(*taken) if taken else E.num(1), out


def _scalar_parts(t: Node):
    """A term as (number, {scalar base: exponent}, the non-scalar rest or None)."""
    args = t.args if t.op == "mul" else (t,)
    coef = Fraction(1)
    bases: dict[Node, Fraction] = {}
    rest = []
    for a in args:
        if a.op == "num":
            coef *= a.attr
        elif not a.is_scalar:
            rest.append(a)
        elif a.op == "pow":
            bases[a.args[0]] = bases.get(a.args[0], Fraction(0)) + a.attr
        else:
            bases[a] = bases.get(a, Fraction(0)) + 1
    return coef, bases, rest


def _content(s: Node) -> tuple[Node, Node]:
    parts = [_scalar_parts(t) for t in s.args]
    common = {}
    for b in {b for _, bases, _ in parts for b in bases}:
        low = min(bases.get(b, Fraction(0)) for _, bases, _ in parts)
        if low != 0:
            common[b] = low
    num = 0
    den = 1
    for c, _, _ in parts:
        num = gcd(num, c.numerator)
        den = den * c.denominator // gcd(den, c.denominator)
    g = Fraction(num, den) if num else Fraction(1)
    if not common and g == 1:
        return E.num(1), s
    terms = [E.mul(E.num(c / g), *(E.power(b, e - common.get(b, 0)) for b, e in bases.items()
                                   if e - common.get(b, 0) != 0),
                   *(E.power(b, -e) for b, e in common.items() if b not in bases), *rest)
             for c, bases, rest in parts]
    content = E.mul(E.num(g), *(E.power(b, e) for b, e in common.items()))
    return content, _collect(terms, s.shape)


def _scalar_subchains(factors: list[Node]) -> list[Node]:
    """A row vector's product with what follows up to a column, inside a longer chain, is a scalar
    factor: inv(S)*mu*ones(n)'*ones(n) is (ones(n)'*ones(n))*inv(S)*mu."""
    chain = [f for f in factors if not f.is_scalar]
    scal = [f for f in factors if f.is_scalar]
    if len(chain) < 3:
        return factors
    for i, f in enumerate(chain):
        if f.shape[0] != 1:
            continue
        for j in range(i + 1, len(chain)):
            sub = E._chain_shape(chain[i:j + 1])
            if sub == E.SCALAR:
                if i == 0 and j == len(chain) - 1:
                    break
                inner = Node("mul", tuple(chain[i:j + 1]), None, E.SCALAR)
                return scal + [inner] + chain[:i] + chain[j + 1:]
    return factors


def _collect(terms: list[Node], shape) -> Node:
    coefs: dict[str, Fraction] = {}
    rests: dict[str, Node | None] = {}
    for t in terms:
        c, rest = E.split_scalar(t)
        if rest is not None and rest.op == "bcast" and E.is_one(rest.args[0]):
            rest = None
        k = full_key(rest) if rest is not None else ""
        coefs[k] = coefs.get(k, Fraction(0)) + c
        rests[k] = rest
    out = []
    for k in sorted(coefs):
        c = coefs[k]
        if c == 0:
            continue
        out.append(E.scaled(c, rests[k], shape))
    if not out:
        return E.zero(shape)
    if len(out) == 1:
        return out[0]
    return Node("add", tuple(out), None, shape)


def _diag_times(factors: list[Node]) -> list[Node]:
    """diag(a)*M*...*v (the first columns on the right of diag(a)) is a .* (M*...*v)."""
    out = list(factors)
    for i in range(len(out) - 1):
        a, b = out[i], out[i + 1]
        if all(f.op == "fn" and f.attr == "diag" and f.args[0].shape[1] == 1 for f in (a, b)):
            return _diag_times(out[:i] + [E.apply("diag", E.hadamard(a.args[0], b.args[0]))] + out[i + 2:])
    for i, f in enumerate(out):
        if f.op == "fn" and f.attr == "diag" and f.args[0].shape[1] == 1 and not f.is_scalar:
            for j in range(i + 1, len(out)):
                right = E.mul(*out[i + 1:j + 1])
                if right.shape[1] == 1 and not right.is_scalar:
                    return _diag_times(out[:i] + [E.hadamard(f.args[0], right)] + out[j + 1:])
    for i in range(len(out) - 1, -1, -1):
        f = out[i]
        if f.op == "fn" and f.attr == "diag" and f.args[0].shape[1] == 1 and not f.is_scalar:
            for j in range(i - 1, -1, -1):
                left = E.mul(*out[j:i])
                if left.shape[0] == 1 and not left.is_scalar:
                    return _diag_times(out[:j] + [E.transpose(E.hadamard(f.args[0], E.transpose(left)))]
                                       + out[i + 1:])
    return out


def _scalar_chain_order(n: Node) -> Node:
    """A scalar product with a chain a'*M*b: the chain or its transpose b'*M'*a, whichever keys first."""
    scal = [a for a in n.args if a.is_scalar]
    chain = [a for a in n.args if not a.is_scalar]
    if not chain:
        return n
    flipped = [E.transpose(f) for f in reversed(chain)]
    a = full_key(Node("mul", tuple(chain), None, E.SCALAR))
    b = full_key(Node("mul", tuple(flipped), None, E.SCALAR))
    if b < a:
        return E.mul(*scal, Node("mul", tuple(flipped), None, E.SCALAR)) if scal else \
            Node("mul", tuple(flipped), None, E.SCALAR)
    return n


_keys: dict[Node, str] = {}


def full_key(n: Node) -> str:
    found = _keys.get(n)
    if found is None:
        inner = [full_key(a) for a in n.args]
        if n.op in ("add", "had"):
            inner.sort()
        found = _keys[n] = f"{n.op}:{n.attr}:{n.shape}({','.join(inner)})"
    return found


def normal_key(node: Node, symmetric=frozenset()) -> str:
    norm = Normal(symmetric)
    out = node
    for _ in range(4):         # the normal form of a normal form is itself; a few rounds settle rebuilds
        new = norm(out)
        if new is out:
            break
        out = new
    return full_key(out)


def same_form(result: Node, book: Node, symmetric=frozenset()) -> bool:
    """`symmetric`: names assumed symmetric. A formula that writes S' or inv(S)' for a symmetric S
    more often than the book does has not used what is known, whatever the rest."""
    if symmetric and symmetric_transposes(result, symmetric) > symmetric_transposes(book, symmetric):
        return False
    return normal_key(result, symmetric) == normal_key(book, symmetric)


def symmetric_transposes(node: Node, symmetric) -> int:
    """How many transposes of a symmetric matrix the formula writes: S' or inv(S)' with S' = S under
    the assumptions (S a name assumed symmetric, or built of such: theta*K0 + eta*I, X'*A*X)."""
    norm = Normal(symmetric)
    count = 0
    stack = [node]
    while stack:                     # the formula as written: each occurrence counts
        n = stack.pop()
        stack.extend(n.args)
        if n.op == "T" and n.shape[0] == n.shape[1] and n.shape[0] != 1:
            inner = n.args[0].args[0] if n.args[0].op == "fn" and n.args[0].attr == "inv" else n.args[0]
            if norm(inner) is norm(E.transpose(inner)):
                count += 1
    return count


def is_textbook(d, row: dict) -> bool:
    return same_form(result_node(d), book_node(d, row), d.assumptions.symmetric)


def book_length(row: dict) -> int:
    """The book form's length written out, with each intermediate defined once (`; name = ...`)."""
    return len(row["book"]) + sum(len(k) + len(v) + 5 for k, v in row.get("intermediates", {}).items())
