"""Calls in document math (known functions, functions the text defines, abstract ones, f'), for walker.py
(a mixin of its Walker), with the names both share."""

from __future__ import annotations

import autograd.numpy as anp
from autograd import elementwise_grad, jacobian
from autograd.tracer import getval

from ...errors import MatcalcError
from ...language.latex_doc import M

ELEMENTWISE = {"exp": anp.exp, "log": anp.log, "sin": anp.sin, "cos": anp.cos, "tan": anp.tan, "tanh": anp.tanh,
               "sinh": anp.sinh, "cosh": anp.cosh, "sqrt": anp.sqrt, "abs": anp.abs, "sign": anp.sign,
               "sigmoid": lambda x: 1 / (1 + anp.exp(-x)), "relu": lambda x: anp.maximum(x, 0),
               "softplus": lambda x: anp.log1p(anp.exp(x))}


class Unread(MatcalcError):
    """What the walk cannot read with certainty: the equation is UNREAD, with this reason."""


def key_of(node: M):
    """(symbol key, index letters) of a name, an entry or a layer name; None if the node is no symbol."""
    if node.kind == "name":
        return node.args[0], ()
    if node.kind == "layer":
        base = key_of(node.args[0])
        inner = node.args[1]
        if base is None or base[1] or inner.kind != "num":
            raise Unread("a layer written with a letter (a general layer l) is not read")
        return f"{base[0]}({int(inner.args[0])})", ()
    if node.kind == "sub":
        base = key_of(node.args[0]) if node.args[0].kind in ("name", "layer") else None
        if base is None or base[1]:
            return None
        letters, parts = [], []
        for it in node.args[1]:
            if it.kind == "letters":
                letters.extend(it.args[0])
            elif it.kind == "name" and len(it.args[0]) == 1:
                letters.append(it.args[0])
            elif it.kind == "num":
                parts.append(str(int(it.args[0])))
            elif it.kind == "name":
                parts.append(it.args[0].split(":")[-1])
            else:
                raise Unread("a subscript written as an expression (a general layer or index) is not read")
        if letters and parts:
            raise Unread("a subscript mixing a name and an index is not read")
        if parts:
            return f"{base[0]}_{''.join(parts)}", ()
        return base[0], tuple(letters)
    return None


def key_or_none(node: M):
    """key_of, or None where the walk cannot read the symbol (Unread)."""
    try:
        return key_of(node)
    except Unread:
        return None


def push_args(stack: list, n: M) -> None:
    """Put the trees among a node's arguments (and those in its tuples, two deep) on a walk's stack."""
    for a in n.args:
        if isinstance(a, M):
            stack.append(a)
        elif isinstance(a, tuple):
            for x in a:
                if isinstance(x, M):
                    stack.append(x)
                elif isinstance(x, tuple):
                    stack.extend(y for y in x if isinstance(y, M))


def nodes(tree: M):
    """The trees within a tree (itself first), in the order of a walk that pushes each one's push_args."""
    stack = [tree]
    while stack:
        n = stack.pop()
        if isinstance(n, M):
            yield n
            push_args(stack, n)


def depends(model, tree: M, key: str, seen=None) -> bool:
    """Whether the tree mentions `key`, directly or through the definitions it uses."""
    seen = set() if seen is None else seen
    stack = [tree]
    while stack:
        n = stack.pop()
        if not isinstance(n, M):
            continue
        ko = None
        if n.kind in ("name", "sub", "layer"):
            ko = key_or_none(n)
        if ko is not None:
            k = model.aliases.get(ko[0], (ko[0],))[0]
            k = model.entry_key(k) if ko[1] else model.whole_key(k)
            for cand in (k, "b:" + k, k[2:] if k.startswith("b:") else None):
                if cand == key:
                    return True
            if k in model.defs and k not in seen:
                seen.add(k)
                if depends(model, model.defs[k].body, key, seen):
                    return True
            if k in model.functions and model.functions[k].args and k not in seen:
                seen.add(k)
                if any(depends(model, a, key, seen) for a in model.functions[k].args):
                    return True
            if n.kind != "sub":
                continue
        push_args(stack, n)
    return False


def constituents(model, tree: M) -> set:
    """The symbols a tree is made of: its own and those of the definitions it uses, through them."""
    out, seen, stack = set(), set(), [tree]
    while stack:
        n = stack.pop()
        if not isinstance(n, M):
            continue
        if n.kind in ("name", "sub", "layer"):
            ko = key_or_none(n)
            if ko is not None:
                k = model.aliases.get(ko[0], (ko[0],))[0]
                k = model.entry_key(k) if ko[1] else model.whole_key(k)
                if k in model.defs:
                    if k not in seen:
                        seen.add(k)
                        stack.append(model.defs[k].body)
                else:
                    out.add(k)
                if n.kind != "sub":
                    continue
        push_args(stack, n)
    return out


def constituent_defs(model, tree: M) -> set:
    """The keys of the definitions a tree names directly."""
    out, stack = set(), [tree]
    while stack:
        n = stack.pop()
        if not isinstance(n, M):
            continue
        if n.kind in ("name", "sub", "layer") or n.kind == "apply" and n.args[0].kind in ("name", "sub"):
            head = n.args[0] if n.kind == "apply" else n
            ko = key_or_none(head)
            if ko is not None:
                k = model.aliases.get(ko[0], (ko[0],))[0]
                for cand in (k, model.entry_key(k), model.whole_key(k)):
                    if cand in model.defs:
                        out.add(cand)
        push_args(stack, n)
    return out


def free_letters(n: M, bound: frozenset = frozenset()) -> set:
    """The index letters a formula leaves free (those of its subscripts and conditions not bound by a sum)."""
    if not isinstance(n, M):
        return set()
    if n.kind == "sum":
        return free_letters(n.args[3], bound | frozenset(n.args[0] or ()))
    out = set()
    if n.kind == "sub":
        for it in n.args[1]:
            if it.kind == "letters":
                out |= set(it.args[0]) - bound
            elif it.kind == "name" and len(it.args[0]) == 1 and it.args[0].isalpha() and it.args[0] not in bound:
                out.add(it.args[0])
    if n.kind == "rel":
        out |= {x.args[0] for x in n.args[1:] if x.kind == "name" and len(x.args[0]) == 1 and x.args[0].isalpha()
                and x.args[0] not in bound}
    for a in n.args:
        if isinstance(a, M):
            out |= free_letters(a, bound)
        elif isinstance(a, tuple):
            for y in a:
                if isinstance(y, M):
                    out |= free_letters(y, bound)
                elif isinstance(y, tuple):
                    for z in y:
                        out |= free_letters(z, bound)
    return out


class Calls:
    # ------------------------------------------------------------ functions
    def n_func(self, n):
        raise Unread(f"the function {n.args[0]} without its argument")

    def n_call(self, n):
        f, args = n.args
        if f.kind == "pow":        # \tanh^2(z)
            inner = M("call", f.args[0], args, pos=n.pos)
            return self.power(self.w(inner), f.args[1])
        if f.kind == "prime":
            return self.derivative_function(f.args[0], args)
        if f.kind != "func":
            return self.n_apply(M("apply", f, args))
        name = f.args[0]
        vals = [self.w(a) for a in args]
        return self.known(name, vals)

    def known(self, name, vals):
        if len(vals) != 1 and name not in ("np.dot",):
            raise Unread(f"{name} with {len(vals)} arguments")
        x = vals[0]
        if self.mode == "shape":
            r, c = x
            if name == "softmax" and self.is_scalar(x):
                raise Unread("softmax of one number is 1: softmax(z)_j (an entry of the vector) is meant, and "
                             "is not read written this way")
            if name in ELEMENTWISE or name == "softmax":
                return x
            if name == "diag":
                if self.u.is_one(c):
                    return (r, r)
                self.u.unify(r, c, "diag of a matrix")
                return (r, 1)
            if name in ("tr", "det", "logdet"):
                self.u.unify(r, c, f"{name} of a non-square matrix")
                return (1, 1)
            if name in ("np.sum", "logsumexp"):
                return (1, 1)
            if name == "np.dot":
                return self.mul(vals[0], vals[1])
            raise Unread(f"the function {name} is not read")
        if name in ELEMENTWISE:
            return ELEMENTWISE[name](x)
        if name == "softmax":
            if x.shape[1] == 1:
                e = anp.exp(x - anp.max(getval(x)))
                return e / anp.sum(e)
            e = anp.exp(x - anp.max(getval(x), axis=1, keepdims=True))
            return e / anp.sum(e, axis=1, keepdims=True)
        if name == "diag":
            return anp.diag(x[:, 0]) if x.shape[1] == 1 else anp.reshape(anp.diag(x), (-1, 1))
        if name == "tr":
            return anp.reshape(anp.trace(x), (1, 1))
        if name == "det":
            return anp.reshape(anp.linalg.det(x), (1, 1))
        if name == "logdet":
            return anp.reshape(anp.log(anp.linalg.det(x)), (1, 1))
        if name == "np.sum":
            return anp.reshape(anp.sum(x), (1, 1))
        if name == "np.dot":
            return self.mul(vals[0], vals[1])
        raise Unread(f"the function {name} is not read")

    def n_apply(self, n):
        f, args = n.args
        if f.kind == "prime":
            return self.derivative_function(f.args[0], args)
        if f.kind == "pow" and f.args[0].kind == "func":
            return self.n_call(M("call", f, args))
        ko = key_of(f) if f.kind in ("name", "sub", "layer") else None
        m = self.model
        if ko is not None and not ko[1]:
            key = ko[0]
            if key in m.aliases:
                key = m.aliases[key][0]
            if key in m.failed and key not in m.defs:
                raise Unread(m.failed[key])
            if key in m.defs and m.defs[key].params:
                return self.call_defined(m.defs[key], args)
            if key in m.functions:
                return self.call_abstract(key, [self.w(a) for a in args], m.functions[key])
            if key in m.defs or key in self.over:
                if len(args) == 1 and args[0].kind in ("name",) and args[0].kind == "name":
                    return self.symbol(key, f)       # J(\theta): the quantity J, written with its argument
                if len(args) > 1:
                    return self.symbol(key, f)
            if key not in m.defs and key not in m.symbols and key not in self.over:
                raise Unread(f"{key}(…) is a function the text never defines")
        if len(args) != 1:
            raise Unread("a list of arguments after a value")
        return self.mul(self.w(f), self.w(args[0]))

    def value_times_group(self, n) -> bool:
        r"""`\mathbf{h}\left(…\right)`: an apply node whose head is a value, not a function (a product)."""
        if n.kind != "apply" or len(n.args[1]) != 1 or n.args[0].kind not in ("name", "sub", "layer"):
            return False
        try:
            ko = key_of(n.args[0])
        except Unread:
            return False
        if ko is None or ko[1]:
            return False
        m = self.model
        key = m.aliases.get(ko[0], (ko[0],))[0]
        if key in m.functions or key in m.failed or key in m.defs and m.defs[key].params:
            return False
        if (key in m.defs or key in self.over) and n.args[1][0].kind == "name":
            return False
        return key in m.defs or key in m.symbols or key in self.over

    def call_defined(self, d, args):
        if len(args) != len(d.params):
            raise Unread(f"{d.key} takes {len(d.params)} argument(s)")
        if all(a.kind == "name" and a.args[0] == p for a, p in zip(args, d.params)):
            return self.define(d)           # J(\theta) with θ itself: the quantity J
        vals = [self.w(a) for a in args]
        return self.with_params(d, vals)

    def with_params(self, d, vals):
        saved = dict(self.over)
        if self.mode == "shape":
            if len(vals) == 1 and d.key in self.model.elementwise_defs:
                return vals[0]      # σ(t) = … typed for a scalar when defined: applied entry by entry
            for p, v in zip(d.params, vals):
                self.over[p] = v
            try:
                out = self.w(d.body)
            finally:
                self.over = saved
            return out
        scalar_params = len(vals) == 1 and vals[0].shape != (1, 1) and d.key in self.model.elementwise_defs
        try:
            if scalar_params:        # an entrywise function given for a scalar (σ(t), ρ_δ(r)): entry by entry
                x = vals[0]
                outs = []
                for i in range(x.shape[0]):
                    row = []
                    for j in range(x.shape[1]):
                        self.over = {**saved, d.params[0]: x[i:i + 1, j:j + 1]}
                        self.memo = {}
                        row.append(self.w(d.body)[0, 0])
                    outs.append(anp.stack(row))
                return anp.stack(outs)
            for p, v in zip(d.params, vals):
                self.over[p] = v
            self.memo = {}
            return self.w(d.body)
        finally:
            self.over = saved
            self.memo = {}

    def derivative_function(self, f: M, args):
        """`\\phi'(z)`, `\\sigma'(X)`, `\\tanh'(u)`, `\\rho_\\delta'(r)`: the derivative of a function of one
        variable, applied entry by entry."""
        if len(args) != 1:
            raise Unread("a derivative f'(…) of a function of several variables")
        x = self.w(args[0])
        if self.mode == "shape":
            return x
        if f.kind == "func" and f.args[0] in ELEMENTWISE:
            g = ELEMENTWISE[f.args[0]]
            return elementwise_grad(lambda t: g(t))(x)
        ko = key_of(f) if f.kind in ("name", "sub") else None
        m = self.model
        if ko is None or ko[1]:
            raise Unread("a derivative f' of an expression is not read")
        key = m.aliases.get(ko[0], (ko[0],))[0]
        if key in m.failed and key not in m.defs:
            raise Unread(m.failed[key])
        if key in m.defs and len(m.defs[key].params) == 1:
            d = m.defs[key]
            out = []
            for i in range(x.shape[0]):
                row = []
                for j in range(x.shape[1]):
                    point = x[i, j]
                    row.append(jacobian(lambda t: self.with_params(d, [anp.reshape(t, (1, 1))])[0, 0])(point))
                out.append(anp.stack(row))
            return anp.stack(out)
        if key in m.functions and m.functions[key].elementwise:
            return self.inst.abstract_prime(key, x)
        raise Unread(f"{key}' is the derivative of a function the text never defines")

    def call_abstract(self, key, vals, f):
        if self.mode == "shape":
            if f.elementwise:
                return vals[0]
            return (1, 1)
        if f.elementwise:
            return self.inst.abstract(key, vals[0])
        return self.inst.abstract_scalar(key, vals)

    def implicit_fn(self, key):
        if self.mode == "shape":
            return (1, 1)
        return self.inst.implicit(key, self.t)



__all__ = ["Calls", "ELEMENTWISE", "Unread", "key_of", "depends", "constituents", "constituent_defs", "free_letters"]
