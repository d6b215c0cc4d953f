"""The API's work, as plain functions of a JSON payload: check the fields, call the library, shape the answer.

They run inside a worker process (see pool.py) and return (HTTP status, JSON body), so that every
outcome — a result, a user's mistake, a bug of ours — crosses the pipe as data. Errors carry the same
one-line message the CLI prints after "error: ", plus, for a parse error, the caret lines and column
so the page can show them under the input box. Nothing a user sends is evaluated as code: the texts
go to matcalc's own parsers.
"""

from __future__ import annotations

import math
import re

from ..errors import (
    AssumptionError,
    MatcalcError,
    ParseError,
    ShapeError,
    UnsupportedError,
)
from ..language.functions import declared

MAX_TEXT = 4000          # characters in one expression, claim or assumption
MAX_DERIVATION = 20000   # characters in a pasted derivation file
MAX_LIST = 32            # assumptions, shapes


class RequestError(Exception):
    """A malformed request (a missing field, a number where text belongs): HTTP 400."""


# ---------------------------------------------------------------- errors as JSON


def error_kind(err: BaseException) -> str:
    for cls, kind in ((ParseError, "parse"), (ShapeError, "shape"), (UnsupportedError, "unsupported"),
                      (AssumptionError, "assumption")):
        if isinstance(err, cls):
            return kind
    return "input"


def error_body(err: MatcalcError) -> dict:
    """{"error": first line, "kind": ..., "caret": the lines under it, "column": n} — the CLI's message."""
    first, _, rest = str(err).partition("\n")
    body = {"error": first, "kind": error_kind(err)}
    if isinstance(err, ParseError) and err.column is not None and rest:
        body["caret"] = rest
        body["column"] = err.column
    elif rest:
        body["detail"] = rest
    return body


def run(name: str, payload) -> tuple[int, dict]:
    """Dispatch one request; never raises (the worker must survive a bad request)."""
    try:
        if not isinstance(payload, dict):
            raise RequestError("the request body must be a JSON object")
        return 200, finite(HANDLERS[name](payload))
    except RequestError as err:
        return 400, {"error": str(err), "kind": "request"}
    except MatcalcError as err:
        return 422, error_body(err)
    except RecursionError:
        return 422, {"error": "the expression is too deeply nested to handle", "kind": "limit"}
    except MemoryError:
        return 422, {"error": "the expression is too large to handle", "kind": "limit"}
    except Exception as err:  # a bug of ours: still one line, still JSON
        return 500, {"error": f"internal error ({type(err).__name__}: {err}); please report it",
                     "kind": "internal"}


def finite(value):
    """JSON has no NaN or infinity: such a number (an overflowing counterexample) becomes null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


# ---------------------------------------------------------------- request fields


def _text(payload: dict, key: str, required: bool = True, limit: int = MAX_TEXT, default=None):
    value = payload.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise RequestError(f"'{key}' is required")
        return default
    if not isinstance(value, str):
        raise RequestError(f"'{key}' must be text, got {type(value).__name__}")
    if len(value) > limit:
        raise RequestError(f"'{key}' is too long ({len(value)} characters; the limit is {limit})")
    return value.strip()


def _choice(payload: dict, key: str, choices: tuple, default):
    value = payload.get(key, default)
    if value is None:
        return default
    if value not in choices:
        raise RequestError(f"'{key}' must be one of {', '.join(map(str, choices))}; got {value!r}")
    return value


def shapes_of(value) -> dict:
    """Shapes as {"W": "c,d", "x": "d", "lam": ""} or the text "W=c,d x=d; lam=" (as a derivation file)."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        out = {}
        for spec in re.split(r"[;\s]+", value.strip()):
            if not spec:
                continue
            if "=" not in spec:
                raise MatcalcError(f"a shape is NAME=d1,d2 (a matrix), NAME=d (a vector) or NAME= (a scalar); "
                                   f"got {spec!r}")
            name, dims = spec.split("=", 1)
            if not name.strip().isidentifier():
                raise MatcalcError(f"shape {spec!r}: {name.strip()!r} is not a name")
            out[name.strip()] = dims.strip()
        value = out
    if not isinstance(value, dict):
        raise RequestError("'shapes' must be an object {name: \"d1,d2\"} or text \"W=c,d x=d\"")
    if len(value) > MAX_LIST:
        raise RequestError(f"at most {MAX_LIST} shapes")
    shapes = {}
    for name, dims in value.items():
        if isinstance(dims, list) and all(isinstance(d, (str, int)) and not isinstance(d, bool) for d in dims):
            dims = ",".join(str(d) for d in dims)
        if not isinstance(dims, str) or len(dims) > 100:
            raise RequestError(f"the shape of {name!r} must be text such as \"c,d\" or a list [\"c\", \"d\"]")
        shapes[name] = dims
    return shapes


def assumptions_of(value) -> list[str]:
    """A list of texts, or one text with the assumptions separated by ';' or new lines."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = [a for a in re.split(r"[;\n]", value)]
    if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
        raise RequestError("'assume' must be a list of texts such as [\"sum(y) = 1\"]")
    value = [a.strip() for a in value if a.strip()]
    if len(value) > MAX_LIST or any(len(a) > MAX_TEXT for a in value):
        raise RequestError(f"at most {MAX_LIST} assumptions of at most {MAX_TEXT} characters")
    return value


def functions_of(value) -> list[str]:
    """Declared abstract functions: a list of names, or one text with them separated by ',', ';' or blanks."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = [f for f in re.split(r"[,;\s]+", value) if f]
    if not isinstance(value, list) or not all(isinstance(f, str) for f in value):
        raise RequestError("'functions' must be a list of names such as [\"f\", \"sigma\"]")
    if len(value) > MAX_LIST or any(len(f) > 100 for f in value):
        raise RequestError(f"at most {MAX_LIST} functions of at most 100 characters")
    return value


def _order(payload: dict) -> int:
    order = payload.get("order", 1)
    if isinstance(order, str) and order.strip() in ("1", "2"):
        order = int(order)
    if order not in (1, 2) or isinstance(order, bool):
        raise RequestError(f"'order' must be 1 or 2; got {order!r}")
    return order


# ---------------------------------------------------------------- the endpoints


def derive(payload: dict) -> dict:
    from .render import derivation_body

    with declared(functions_of(payload.get("functions"))):
        return derivation_body(
            expression=_text(payload, "expression"), wrt=_text(payload, "wrt", limit=100),
            shapes=shapes_of(payload.get("shapes")), assume=assumptions_of(payload.get("assume")),
            layout=_choice(payload, "layout", ("denominator", "numerator"), "denominator"),
            order=_order(payload), direction=_text(payload, "direction", required=False, limit=100),
            input_kind=_choice(payload, "input", ("auto", "ascii", "latex"), "auto"))


def check(payload: dict) -> dict:
    from .render import verdict_body

    with declared(functions_of(payload.get("functions"))):
        return verdict_body(
            expression=_text(payload, "expression"), wrt=_text(payload, "wrt", limit=100),
            claim=_text(payload, "claim"), shapes=shapes_of(payload.get("shapes")),
            assume=assumptions_of(payload.get("assume")),
            layout=_choice(payload, "layout", ("denominator", "numerator"), "denominator"),
            order=_order(payload), input_kind=_choice(payload, "input", ("auto", "ascii", "latex"), "auto"))


def check_derivation(payload: dict) -> dict:
    from .render import steps_body

    with declared(functions_of(payload.get("functions"))):
        return steps_body(
            text=_text(payload, "derivation", limit=MAX_DERIVATION), shapes=shapes_of(payload.get("shapes")),
            assume=assumptions_of(payload.get("assume")), wrt=_text(payload, "wrt", required=False, limit=100),
            layout=_choice(payload, "layout", ("denominator", "numerator", None), None),
            input_kind=_choice(payload, "input", ("auto", "ascii", "latex"), "auto"))


HANDLERS = {"derive": derive, "check": check, "check-derivation": check_derivation}


# ---------------------------------------------------------------- test hooks (off unless asked for)


def _sleep(payload: dict) -> dict:
    """Hold the worker for `seconds`: a computation that takes long, whatever the engine's speed."""
    import time

    time.sleep(min(float(payload.get("seconds", 0)), 600.0))
    return {"slept": payload.get("seconds", 0)}


def _hog(payload: dict) -> dict:
    """Allocate `bytes` of memory: a computation that grows past the worker's memory cap."""
    block = bytearray(int(payload.get("bytes", 0)))
    return {"allocated": len(block)}


TEST_HOOKS = {"_sleep": _sleep, "_hog": _hog}


def enable_test_hooks() -> None:
    """Only for the test suite (create_app(test_hooks=True)): the pool's time and memory limits are
    tested with computations of known cost, independent of how fast the engine is this week."""
    HANDLERS.update(TEST_HOOKS)
