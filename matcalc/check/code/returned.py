"""What a gradient function returned, read as NumPy.

An array, a number (a float for a scalar variable), a torch or JAX tensor (read without importing
either library: by the module its type comes from); for several variables a dict keyed by their
names or a tuple (or list) in their order. Anything else — a Python list for one variable, None from
a forgotten `return`, a string — is a fault of kind "type" with a one-line message. The arrays are
copied, so nothing the function does later changes what was judged.
"""

from __future__ import annotations

import numpy as np

from ...errors import MatcalcError

FAULT_KINDS = ("raises", "nan", "type", "timeout", "memory", "crash")
MAX_ENTRIES = 10**6     # no gradient on the checker's instances (sizes up to 12) comes near this


class CodeFault(MatcalcError):
    """The function could not be judged on an instance: it raised, returned NaN or the wrong type, ran
    past the time limit or asked for more memory than the budget. `kind` is one of FAULT_KINDS;
    the message is one line."""

    def __init__(self, kind: str, message: str):
        self.kind = kind
        self.message = message
        super().__init__(message)


def describe(obj) -> str:
    """What a value is, in words: 'None (a return statement missing?)', 'a Python list of 3 numbers'."""
    if obj is None:
        return "None (is a return statement missing?)"
    if isinstance(obj, (bool, np.bool_)):
        return f"a bool ({obj})"
    if isinstance(obj, list):
        return f"a Python list of {len(obj)} item{'s' if len(obj) != 1 else ''}"
    if isinstance(obj, tuple):
        return f"a tuple of {len(obj)}"
    if isinstance(obj, dict):
        return f"a dict with keys {', '.join(repr(k) for k in list(obj)[:8])}"
    if isinstance(obj, str):
        return "a string"
    kind = type(obj)
    return f"a {kind.__module__}.{kind.__qualname__}" if kind.__module__ != "builtins" else f"a {kind.__name__}"


def _library(obj) -> str:
    return type(obj).__module__.split(".")[0]


def as_array(obj, what: str) -> np.ndarray:
    """A float64 copy of a returned array, number or tensor; CodeFault('type') for anything else."""
    library = _library(obj)
    if isinstance(obj, (bool, np.bool_)):
        arr = None
    elif isinstance(obj, np.ndarray):
        arr = obj
    elif isinstance(obj, (int, float, np.integer, np.floating)):
        arr = np.asarray(obj)
    elif library == "torch" and hasattr(obj, "detach"):
        t = obj.detach().cpu()
        arr = (t.double() if t.is_floating_point() else t).numpy()
    elif library in ("jax", "jaxlib") and hasattr(obj, "shape") and hasattr(obj, "dtype"):
        arr = np.asarray(obj)
    else:
        arr = None
    if arr is None or arr.dtype.kind not in "fiu":
        shown = describe(obj) if arr is None else f"an array of {arr.dtype}"
        raise CodeFault("type", f"{what} is {shown}, not an array of numbers: return a NumPy array (or a torch "
                                f"or JAX tensor){' or a float' if arr is None and obj is not None else ''}")
    if arr.size > MAX_ENTRIES:
        raise CodeFault("type", f"{what} is an array of shape {arr.shape} ({arr.size:,} entries), far larger than "
                                f"any gradient of these instances (sizes up to 12)")
    return np.array(arr, dtype=float)


def unpack(result, wrt: list[str], single: bool) -> dict[str, np.ndarray]:
    """The gradient for each name of `wrt`: from the array itself (one name), a dict keyed by the names
    (extra keys, such as the loss, are ignored), or a tuple or list in `wrt`'s order."""
    if single:
        name = wrt[0]
        if isinstance(result, dict):
            if name in result:
                return {name: as_array(result[name], f"the {name!r} entry of its dict")}
            raise CodeFault("type", f"it returned {describe(result)} but no {name!r} entry: return the gradient "
                                    f"with respect to {name} itself, or a dict with that key")
        return {name: as_array(result, "what it returned")}
    names = ", ".join(wrt)
    if isinstance(result, dict):
        missing = [w for w in wrt if w not in result]
        if missing:
            raise CodeFault("type", f"it returned {describe(result)}, with no entry for "
                                    f"{', '.join(repr(w) for w in missing)}: a dict keyed by {names} is expected")
        return {w: as_array(result[w], f"its {w!r} entry") for w in wrt}
    if isinstance(result, (tuple, list)):
        if len(result) != len(wrt):
            raise CodeFault("type", f"it returned {describe(result)} where the {len(wrt)} gradients ({names}) "
                                    f"are expected, in that order")
        return {w: as_array(v, f"entry {i} of what it returned (the gradient for {w})")
                for i, (w, v) in enumerate(zip(wrt, result))}
    raise CodeFault("type", f"it returned {describe(result)}; for several variables return a dict keyed by "
                            f"{names}, or a tuple in that order")


def aliases(result, given: dict) -> list[str]:
    """The inputs that a returned array is (or is a view of): harmless until the caller scales the
    gradient in place (g *= lr) and so changes its own input."""
    parts = list(result.values()) if isinstance(result, dict) else list(result) if isinstance(result, (tuple, list)) \
        else [result]
    out = []
    for name, v in given.items():
        if isinstance(v, np.ndarray) and any(isinstance(p, np.ndarray) and np.shares_memory(p, v) for p in parts):
            out.append(name)
    return out


def changed_inputs(before: dict, after: dict) -> tuple[list[str], dict]:
    """The inputs a call changed in place, in words ('W3 (30 of 30 entries)'), and their new values."""
    out, altered = [], {}
    for name, old in before.items():
        new = after.get(name)
        if not isinstance(old, np.ndarray):
            continue
        try:
            new = np.asarray(new.detach().cpu().numpy() if _library(new) == "torch" else new, dtype=float)
        except (TypeError, ValueError, AttributeError):
            out.append(f"{name} (replaced by something that is not an array)")
            continue
        if new.shape != old.shape:
            out.append(f"{name} (its shape changed from {old.shape} to {new.shape})")
            continue
        differ = ~((new == old) | (np.isnan(new) & np.isnan(old)))
        if differ.any():
            out.append(f"{name} ({int(differ.sum())} of {old.size} entries)")
            altered[name] = np.array(new, dtype=float)
    return out, altered


__all__ = ["CodeFault", "FAULT_KINDS", "as_array", "unpack", "describe", "changed_inputs", "aliases"]
