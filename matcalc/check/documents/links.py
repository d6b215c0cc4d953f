"""Judging the links of a chain `A = B = C`: each side measured on the same instances, each link `B = C`
said CORRECT, WRONG (diagnosed) or UNREAD — so the first wrong link is the one named.

In a derivative chain (its head a derivative or a differential) a link that fails is WRONG, with the
mistake named (sign, factor — a dimension such as m or n included —, transpose or the other layout,
swapped indices, or how much the sides differ). An identity between expressions that fails is UNREAD,
not WRONG: it may be an equation to solve (the normal equations) rather than a claim for all values.
"""

from __future__ import annotations

import re

import numpy as np

from ...language.latex_doc import M
from . import derivatives
from .judge import DIFFER, EQUAL, INSTANCES, Instance, assignments, diagnose, relative
from .model import ShapeClash, place, pretty, show_dim
from .statements import conditioned_letters, free_letters, is_derivative
from .walker import Unread, Walker, key_of
from .walker_calls import constituents


def _measure(reader, st, trees: list, layout):
    """Values of each tree on every instance and index assignment: (values per tree, errors, context)."""
    m = reader.model
    trial = m.unifier.copy()
    shape_w = Walker(m, "shape", unifier=trial, layout=layout)
    shape_w.strict = True
    errors = [None] * len(trees)
    shapes = [None] * len(trees)
    vary = _varied(m, trees, _differential_variables(trees))
    implicit = _implicit_names(m, trees)
    shape_w.implicit = implicit
    local = _local_variables(m, trees)
    shape_w.over = {p: (1, 1) for p in local}
    for k, t in enumerate(trees):
        if t is None:
            continue
        before = trial.copy()
        try:
            shapes[k] = shape_w.run(t)
        except Unread as err:
            shape_w.u.parent = dict(before.parent)
            stale = reader.stale_symbols(st, t) if "do not conform" in str(err) else []
            if stale:            # X of an earlier section, square here: read anew for this section
                saved = {x: m.symbols.pop(x) for x in stale}
                try:
                    shapes[k] = shape_w.run(t)
                    reader.renewed_claim += [(x, saved[x]) for x in stale]
                    continue
                except Unread:
                    m.symbols.update(saved)
                    shape_w.u.parent = dict(before.parent)
            errors[k] = str(err)
    for a, b in zip(shapes, shapes[1:]):      # the sides of an equation have one shape where nothing fixes it
        if a is not None and b is not None:  # (the I of XX^{-1} = I, an undeclared G); a clash is left to the values
            attempt = shape_w.u.copy()
            try:
                attempt.unify(a[0], b[0])
                attempt.unify(a[1], b[1])
            except ShapeClash:
                continue
            if not any(attempt.find(d) == 1 and shape_w.u.find(d) != 1 for d in a + b):   # never a vector made a number
                shape_w.u.parent = attempt.parent
    free = sorted(shape_w.ranges)
    for key in sorted(shape_w.used):
        sym = m.symbols.get(key)
        hot = next((p for p in (sym.props if sym else ()) if p.startswith("onehot:")), None)
        if hot is not None:
            letter = hot.split(":", 1)[1]
            try:
                shape_w.u.unify(shape_w.rng_of(letter), sym.shape[0], "the label's length")
            except Exception:
                pass
            if letter not in free:
                free.append(letter)
    own = set()
    for t in trees:
        if t is not None:
            own |= conditioned_letters(t)
    case = [c for c in st.case if c[1] in free and c[2] in free and not ({c[1], c[2]} & own)]
    values = [[] for _ in trees]
    contexts = []
    for k in range(INSTANCES):
        inst = Instance(k)
        for idx, point in [(i, x) for i in assignments(free, shape_w.ranges, inst, shape_w.u, case)
                           for x in (LOCAL_POINTS if local else (None,))]:
            t0 = np.array([[float(inst.rng("t").normal())]]) if implicit else None
            over = {p: np.array([[point * inst.scale + 0.07 * q]]) for q, p in enumerate(local)}
            memo: dict = {}        # the definitions' values on this instance and index values, shared by the sides
            row = []
            for j, t in enumerate(trees):
                if t is None or errors[j] is not None:
                    row.append(None)
                    continue
                w = Walker(m, "eval", unifier=shape_w.u, instance=inst, layout=layout, ranges=shape_w.ranges,
                           sumr=shape_w.sumr)
                w.idx, w.t, w.implicit = dict(idx), t0, implicit
                w.strict, w.vary, w.over, w.memo = True, vary, dict(over), memo
                try:
                    with np.errstate(all="ignore"):
                        v = np.asarray(w.run(t), dtype=float)
                    row.append((v, w.flags))
                except Unread as err:
                    errors[j] = str(err)
                    row.append(None)
                except (ValueError, TypeError, IndexError, KeyError) as err:
                    import os
                    if os.environ.get("MATCALC_DEBUG"):
                        raise
                    errors[j] = f"could not be evaluated ({type(err).__name__})"
                    row.append(None)
            for j, r in enumerate(row):
                values[j].append(r)
            contexts.append((inst, idx))
    reader.measured_shapes = [None if x is None else tuple(shape_w.u.find(d) for d in x) for x in shapes]
    return values, errors, contexts, case, free


DERIVATIVE_NODES = derivatives.__all__     # importing derivatives.py gives the walker its derivative nodes
RANGE_CLASH = re.compile(r"the range of the index (\w+): (\S+) against (\S+?)\)")
LOCAL_POINTS = (-2.9, -1.1, -0.35, 0.2, 0.8, 2.6)    # both sides of a kink (Huber's |r| ≤ δ), both signs


def _push_args(stack: list, n) -> None:
    """Put the trees among a node's arguments on a walk's stack: those in its tuples, then those in their
    tuples."""
    for a in n.args:
        if hasattr(a, "kind"):
            stack.append(a)
        elif isinstance(a, tuple):
            stack.extend(x for x in a if hasattr(x, "kind"))
            for x in a:
                if isinstance(x, tuple):
                    stack.extend(y for y in x if hasattr(y, "kind"))


def _local_variables(m, trees) -> list:
    """The variable of a scalar function the text defined, written as such: the r of `ρ_δ'(r) = …` after
    `ρ_δ(r) = …` is any number (the claim is about the function), not a quantity r defined elsewhere."""
    out = []
    stack = [t for t in trees if t is not None]
    while stack:
        n = stack.pop()
        if n.kind in ("apply", "call") and len(n.args[1]) == 1 and n.args[1][0].kind == "name":
            f = n.args[0].args[0] if n.args[0].kind == "prime" else n.args[0]
            try:
                ko = key_of(f) if f.kind in ("name", "sub") else None
            except Unread:
                ko = None
            d = m.defs.get(ko[0]) if ko and not ko[1] else None
            if d is not None and d.key in m.elementwise_defs and d.params == (n.args[1][0].args[0],) \
                    and d.params[0] not in out:
                out.append(d.params[0])
        _push_args(stack, n)
    return sorted(out)


def _varied(m, trees, vary):
    """What varies in a differential: the symbols whose d the text writes; the head's own d (dl, of a defined
    l) is the function, not a variable; a defined variable (da, a = Wx) whose parts do not vary otherwise
    varies through its parts (dW, dx), so that dl and da move together."""
    if vary is None:
        return None
    vary = set(vary)
    head = trees[0]
    if head is not None and head.kind == "diff":
        inner = head.args[0]
        try:
            ko = key_of(inner) if inner.kind in ("name", "sub", "layer") else None
        except Unread:
            ko = None
        if ko is not None and ko[0] in m.defs:
            vary.discard(ko[0])
    for v in sorted(vary):
        if v in m.defs:
            parts = constituents(m, m.defs[v].body)
            if not parts & vary:
                vary = (vary - {v}) | parts
    return vary or None


def _differential_variables(trees):
    r"""The symbols whose differential the statement writes (dX, d\mathbf{x}): only they vary in d(...)."""
    out = set()
    stack = [t for t in trees if t is not None]
    while stack:
        n = stack.pop()
        if n.kind == "diff":
            inner = n.args[0]
            while inner.kind in ("T", "inv", "group"):
                inner = inner.args[0]
            if inner.kind in ("name", "sub", "layer"):
                try:
                    ko = key_of(inner)
                except Unread:
                    ko = None
                if ko is not None:
                    out.add(ko[0])
        _push_args(stack, n)
    return out or None


def _has_derivative(tree) -> bool:
    """Whether a derivative (∂, ∇, a prime) stands anywhere in the tree: the chain states a derivative."""
    stack = [tree] if tree is not None else []
    while stack:
        n = stack.pop()
        if is_derivative(n):
            return True
        _push_args(stack, n)
    return False


def _plain(tree) -> bool:
    """No derivative, differential, indicator or case in it: a 0 it takes is a 0 matcalc did not misread."""
    if tree is None or _has_derivative(tree):
        return False
    stack = [tree]
    while stack:
        n = stack.pop()
        if n.kind in ("indicator", "cases", "diff"):
            return False
        _push_args(stack, n)
    return True


def _defined_as_derivative(m, tree) -> bool:
    r"""`\delta_1` defined as ∂L/∂z_1: a chain that starts with it states a derivative."""
    if tree is None or tree.kind not in ("name", "sub", "layer"):
        return False
    try:
        ko = key_of(tree)
    except Unread:
        return False
    d = m.defs.get(ko[0]) if ko else None
    return d is not None and _has_derivative(d.body)


def _implicit_names(m, trees) -> set:
    """Names under a prime that the text never defined (u, v of the quotient rule)."""
    out = set()
    stack = [t for t in trees if t is not None]
    while stack:
        n = stack.pop()
        if n.kind == "prime":
            for x in _names(n.args[0]):
                if x not in m.functions and not (x in m.defs and m.defs[x].params) and len(x) == 1:
                    out.add(x)
        _push_args(stack, n)
    if out:   # every other undefined plain name of the formula is a function of the same variable
        for t in trees:
            if t is not None:
                for x in _names(t):
                    if x not in m.defs and x not in m.functions and x not in m.symbols and len(x) == 1:
                        out.add(x)
    return out


def _names(n):
    out = []
    stack = [n]
    while stack:
        x = stack.pop()
        if x.kind == "name":
            out.append(x.args[0])
        for a in x.args:
            if hasattr(a, "kind"):
                stack.append(a)
            elif isinstance(a, tuple):
                stack.extend(y for y in a if hasattr(y, "kind"))
    return out


def judge_links(reader, st, sides, links, head):
    trees = [sides[links[0] - 1].tree] + [sides[k].tree for k in links]
    texts = [sides[links[0] - 1].error] + [sides[k].error for k in links]
    derivative = is_derivative(head.tree) or st.kind == "derivative" or any(_has_derivative(t) for t in trees) \
        or _defined_as_derivative(reader.model, head.tree)
    values, errors, contexts, case, free = _measure(reader, st, trees, st.layout)
    st.applied_case = case
    for j, e in enumerate(texts):
        if e is not None and errors[j] is None:
            errors[j] = e
    where = (" where " + ", ".join(f"{c[1]} {'=' if c[0] == '=' else '≠'} {c[2]}" for c in case)) if case else ""
    notes = [st.case_note] if st.case_note else []
    notes += _alias_notes(reader, trees)
    notes += [n for n in reader.said_notes(trees) if n not in notes]
    notes += [f"{pretty(x)} read anew in this section: the {pretty(x)} of {place(old.line, old.cell)} does not fit here"
              for x, old in reader.renewed_claim]
    reader.renewed_claim = []
    for pos, k in enumerate(links, start=1):
        role = "derivative" if derivative else ("definition" if st.kind == "definition" else "other")
        a_err, c_err = errors[pos - 1], errors[pos]
        lp, via = pos - 1, ""
        if a_err and not c_err and derivative:     # = [0, ⋯, x_j, ⋯, 0]^T = x_j e_i: compare with the last side read
            lp = next((j for j in range(pos - 2, -1, -1) if errors[j] is None and trees[j] is not None), None)
            if lp is not None:
                via = (f"its left side could not be read ({a_err}); compared with "
                       f"{_short(sides[links[0] - 1 + lp].text)} before it in the chain: ")
        clash = RANGE_CLASH.search(c_err or "")
        if clash and derivative and "?" not in clash.group(2, 3):    # x_i where i runs over W's rows: a mismatch
            x, r1, r2 = clash.groups()
            reader.emit(st, k, "WRONG", f"the index {x} runs over {r1} where the chain uses it and over {r2} on the "
                                        f"right side: the indices do not match", role, sides, kind="index mismatch",
                        notes=notes)
            continue
        if c_err and not a_err and derivative and "do not conform" in c_err and values[lp] and all(values[lp]):
            fixed = _transpose_story(reader, st, trees[pos], values[lp], contexts, sides[k].text)
            if fixed:          # h^T ∂l/∂o: the product does not conform, and with h transposed it is the left
                reader.emit(st, k, "WRONG", f"the right side cannot be formed ({c_err.replace('the shapes do not conform', 'a shape does not conform')}): {fixed}",
                            role, sides, kind="transpose", notes=notes)
                continue
        if (a_err or c_err) and not via:
            side = "left" if a_err else "right"
            reader.emit(st, k, "UNREAD", f"its {side} side: {a_err or c_err}", role, sides, notes=notes)
            continue
        pairs = [(x[0], y[0], x[1] | y[1]) for x, y in zip(values[lp], values[pos]) if x and y]
        if not pairs:
            reader.emit(st, k, "UNREAD", "no instance where the case holds", role, sides, notes=notes)
            continue
        raw, pairs = pairs, [_orient(a, c, fl) for a, c, fl in pairs]
        if any(not (np.all(np.isfinite(a)) and np.all(np.isfinite(c))) for a, c in pairs):
            reader.emit(st, k, "UNREAD", "not defined on the random instances (a log or a division out of its "
                                         "domain)", role, sides, notes=notes)
            continue
        errs = [relative(a, c) for a, c in pairs]
        n = len(pairs)
        if all(np.all(np.abs(a) < 1e-12) and np.all(np.abs(c) < 1e-12) for a, c in pairs) and \
                not any("zero-entry" in fl for _, _, fl in raw):
            reader.emit(st, k, "UNREAD", "both sides are 0 on every instance: matcalc may not see what they depend on "
                                         "(no 0 = 0)", role, sides, notes=notes)
            continue
        if max(errs) < EQUAL:
            if via:
                reader.emit(st, k, "UNREAD", f"{via}they agree on {n} random instances{where}", role, sides,
                            notes=notes)
                continue
            reader.emit(st, k, "CORRECT", f"both sides agree on {n} random instances{where}", role, sides,
                        notes=notes)
            continue
        if via and max(errs) <= DIFFER:
            reader.emit(st, k, "UNREAD", f"{via}inconclusive", role, sides, notes=notes)
            continue
        if max(errs) <= DIFFER and all(np.isfinite(errs)):
            reader.emit(st, k, "UNREAD", f"inconclusive: the sides differ by {max(errs):.1g} of their size", role,
                        sides, notes=notes)
            continue
        zero = [bool(np.all(np.abs(a) < 1e-12)) for a, _ in pairs], [bool(np.all(np.abs(c) < 1e-12)) for _, c in pairs]
        zero_tree = trees[lp] if all(zero[0]) else trees[pos]
        if all(zero[0]) != all(zero[1]) and not _plain(zero_tree):   # a literal 0 against a non-zero side is WRONG
            reader.emit(st, k, "UNREAD", "one side is 0 on every instance and the other is not: matcalc may not see "
                                         "what it depends on", role, sides, notes=notes)
            continue
        if not derivative:
            reader.emit(st, k, "UNREAD", "does not hold for arbitrary values: read as an equation to solve or a "
                                         "claim under a condition matcalc does not see", role, sides, notes=notes)
            continue
        swapped = _swap_story(reader, st, trees[pos], values[lp], contexts, free, case)
        mismatch = None if swapped else _mismatch_story(reader, st, trees[lp], trees[pos], case)
        dims = _dim_sizes(reader, contexts)
        kind, words = diagnose([(a, c) for a, c in pairs], swapped or mismatch, dims)
        if mismatch and words == mismatch:
            kind = "index mismatch"
        if kind == "shape" and not swapped:
            fixed = _transpose_story(reader, st, trees[pos], values[lp], contexts, sides[k].text)
            rigid = _rigid(reader.measured_shapes[lp]) and _rigid(reader.measured_shapes[pos])
            if fixed or rigid:       # every size declared: the shapes cannot agree, whatever a symbol means
                ls, rs = (_show_shape(reader.measured_shapes[x]) for x in (lp, pos))
                reader.emit(st, k, "WRONG", f"{via}the left side is {ls}, the right side {rs}" +
                            (f": {fixed}" if fixed else "") + f"; checked on {n} random instances{where}", role,
                            sides, kind="transpose" if fixed else "shape", notes=notes)
                continue
            reader.emit(st, k, "UNREAD", f"{via}the sides differ but matcalc names no mistake ({words}): it may have "
                                         f"read a symbol otherwise than the text means", role, sides, notes=notes)
            continue
        if kind == "transpose" and lp == 0 and is_derivative(trees[0]):
            words += (" — the other layout: the text's gradients have the variable's shape (denominator layout)"
                      if (st.layout or reader.model.layout) == "denominator" else " — the other layout")
        bad = next(i for i, e in enumerate(errs) if not e < EQUAL)
        inst, idx = contexts[bad] if bad < len(contexts) else (None, {})
        at = (" (e.g. at " + ", ".join(f"{x} = {v + 1}" for x, v in sorted(idx.items())) + ")") if idx else ""
        reader.emit(st, k, "WRONG", f"{via}{words}{at}; checked on {n} random instances{where}", role, sides,
                    kind=kind, notes=notes)


def _rigid(shape) -> bool:
    return shape is not None and all(isinstance(d, int) or getattr(d, "named", False) for d in shape)


def _show_shape(shape) -> str:
    return "×".join(show_dim(d) for d in shape)


def _transpose_story(reader, st, tree, truth_values, contexts, text):
    """Whether transposing one factor of the right side makes it the left: 'with ∂L/∂U transposed …'."""
    if tree is None:
        return None
    m = reader.model
    tries = [(_replace(tree, node, M("T", node, pos=node.pos)), f"with {_describe(node, text)} transposed")
             for node in _factors(tree)]
    tries += [(_replace(tree, node, M("mul", node.args[1], node.args[0], node.args[2], pos=node.pos)),
               "with the factors of the product in the other order") for node in _products(tree)]
    for swapped, how in tries:
        ok = True
        for (inst, idx), tv in zip(contexts, truth_values):
            if tv is None:
                ok = False
                break
            try:
                shape_w = Walker(m, "shape", unifier=m.unifier.copy(), layout=st.layout)
                shape_w.run(swapped)
                w = Walker(m, "eval", unifier=shape_w.u, instance=inst, layout=st.layout, ranges=shape_w.ranges,
                           sumr=shape_w.sumr)
                w.idx = dict(idx)
                v = np.asarray(w.run(swapped), dtype=float)
            except Exception:
                ok = False
                break
            if relative(tv[0], v) >= EQUAL:
                ok = False
                break
        if ok:
            return f"{how} the right side is the left"
    return None


def _products(tree) -> list:
    out, stack = [], [tree]
    while stack:
        n = stack.pop(0)
        if n.kind == "mul":
            out.append(n)
        if n.kind in ("mul", "group", "neg", "had"):
            stack.extend(a for a in n.args if isinstance(a, M))
    return out[:6]


def _factors(tree) -> list:
    """The factors a transpose could be missing on: derivatives, symbols, groups (outermost first)."""
    out, stack = [], [tree]
    while stack:
        n = stack.pop(0)
        if n.kind in ("deriv", "name", "sub", "layer", "group") and n is not tree:
            out.append(n)
        if n.kind in ("mul", "had", "group", "neg", "add") or n is tree:
            for a in n.args:
                if isinstance(a, M):
                    stack.append(a)
                elif isinstance(a, tuple):
                    stack.extend(x[1] if isinstance(x, tuple) else x for x in a
                                 if isinstance(x, M) or isinstance(x, tuple) and isinstance(x[1], M))
    return out[:12]


def _replace(tree, old, new):
    if tree is old:
        return new
    args = []
    for a in tree.args:
        if isinstance(a, M):
            args.append(_replace(a, old, new))
        elif isinstance(a, tuple):
            args.append(tuple(_replace(x, old, new) if isinstance(x, M) else
                              (x[0], _replace(x[1], old, new)) if isinstance(x, tuple) and len(x) == 2
                              and isinstance(x[1], M) else x for x in a))
        else:
            args.append(a)
    return M(tree.kind, *args, pos=tree.pos)


def _describe(node, text) -> str:
    if node.kind == "deriv":
        return f"∂{_name(node.args[0])}/∂{_name(node.args[1])}"
    name = _name(node)
    return name if name != "?" else "a factor"


def _name(node) -> str:
    try:
        ko = key_of(node)
    except Unread:
        ko = None
    return pretty(ko[0]) + ("_" + "".join(ko[1]) if ko[1] else "") if ko else "?"


def _short(text: str) -> str:
    t = " ".join(text.split())
    return t if len(t) <= 40 else t[:37] + "..."


def _orient(a, c, flags):
    if "by-scalar" in flags and a.shape != c.shape and a.shape == c.shape[::-1]:
        return a, c.T
    return a, c


def _swap_story(reader, st, tree, truth_values, contexts, free, case):
    """Whether the right side, with two free indices swapped, is the left: 'the indices i and k are swapped'."""
    if tree is None or len(free) < 2:
        return None
    for x in range(len(free)):
        for y in range(x + 1, len(free)):
            a, b = free[x], free[y]
            ok, changed = True, False
            for (inst, idx), tv in zip(contexts, truth_values):
                if tv is None:
                    ok = False
                    break
                sw = dict(idx)
                sw[a], sw[b] = idx.get(b), idx.get(a)
                m = reader.model
                trial = m.unifier.copy()
                shape_w = Walker(m, "shape", unifier=trial, layout=st.layout)
                try:
                    shape_w.run(tree)
                    w = Walker(m, "eval", unifier=shape_w.u, instance=inst, layout=st.layout,
                               ranges=shape_w.ranges, sumr=shape_w.sumr)
                    w.idx = sw
                    v = np.asarray(w.run(tree), dtype=float)
                    w.idx = dict(idx)
                    v0 = np.asarray(w.run(tree), dtype=float) if idx.get(a) != idx.get(b) else v
                except Exception:
                    ok = False
                    break
                if relative(tv[0], v) >= EQUAL:      # (where i = k the exchange changes nothing: it must hold there too)
                    ok = False
                    break
                changed |= relative(v0, v) >= DIFFER
            if ok and changed:
                return f"the indices {a} and {b} are swapped: with them exchanged the right side is the left"
    return None


def _mismatch_story(reader, st, left, right, case):
    """An index free on one side only (and not tied to the other's by the case or a one-hot label)."""
    if left is None or right is None:
        return None
    tied = {c[1] for c in case if c[0] == "="} | {c[2] for c in case if c[0] == "="}
    tied |= set(reader.model.onehot.values())
    a, b = free_letters(left) - tied, free_letters(right) - tied
    only_r, only_l = sorted(b - a), sorted(a - b)
    if only_r:
        return f"the index {', '.join(only_r)} stands free on the right side but not on the left: the indices do not match"
    if only_l:
        return f"the index {', '.join(only_l)} stands free on the left side but not on the right: the indices do not match"
    return None


def _dim_sizes(reader, contexts) -> dict:
    out = {}
    for name, var in sorted(reader.model.dims.items()):
        sizes = []
        for inst, _ in contexts:
            if var in inst.sizes or True:
                sizes.append(inst.size(reader.model.unifier.find(var)))
        if sizes and all(s > 1 for s in sizes):
            out[name] = sizes
    return out


def _alias_notes(reader, trees) -> list:
    """What matcalc took a name to mean ("read L as Loss, defined on line 11")."""
    out = []
    for t in trees:
        if t is not None:
            for x in _names(t):
                note = reader.model.aliases.get(x, (None, None))[1]
                if note and note not in out:
                    out.append(note)
    return out


def agrees(reader, st, sides):
    """For a head already defined: judge the chain's links as claims (None when it is a new definition)."""
    from .statements import symbol_head

    m = reader.model
    key = symbol_head(sides[0].tree)[0]
    d = m.defs.get(key)
    if d is None:
        return None
    if len(sides) > 1 and sides[1].tree is not None and d.body.key() == sides[1].tree.key():
        return True
    values, errors, _, _, _ = _measure(reader, st, [sides[0].tree, sides[1].tree], st.layout)
    pairs = [(x[0], y[0]) for x, y in zip(values[0], values[1]) if x and y]
    if not errors[0] and not errors[1] and pairs and max(relative(a, c) for a, c in pairs) < EQUAL:
        return True
    del m.defs[key]           # a new meaning of the name (例2's f after 例1's)
    m.shapes.pop(key, None)
    return None


__all__ = ["judge_links", "agrees"]
