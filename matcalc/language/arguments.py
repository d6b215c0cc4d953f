"""Checks of the library's arguments at the entry points (derive, verify, check), before any work.

A wrong Python type is a TypeError that names the argument (`shapes` must be a dict, not "%"); a value
of the right type that cannot be meant is a MatcalcError that names it. Without these checks a stray
string reaches code deep inside and fails there with an AttributeError that helps nobody.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from ..errors import MatcalcError

MAX_TEXT = 20_000       # characters of one expression, claim, assumption or LaTeX line
MAX_ASSUMPTIONS = 100


def excerpt(text: str, limit: int = 40) -> str:
    """A short, escaped quotation of user text for a message: never a whole line of a file."""
    shown = text[:limit]
    return repr(shown) + ("…" if len(text) > limit else "")


def check_text(value, what: str, limit: int = MAX_TEXT) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, got {type(value).__name__}")
    if len(value) > limit:
        raise MatcalcError(f"{what} is {len(value):,} characters long; matcalc reads at most {limit:,} "
                           f"(starts {excerpt(value)})")
    if "\x00" in value:
        raise MatcalcError(f"{what} contains a NUL character")
    return value


def check_name(value, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str (a name), got {type(value).__name__}")
    if not value.isidentifier() or len(value) > 100:
        raise MatcalcError(f"{what} must be a name such as x or W1, got {excerpt(value)}")
    return value


def check_shapes(shapes) -> dict:
    """None or a mapping name -> spec, a spec being "c,d", "3", "" or a tuple of up to two dimensions."""
    if shapes is None:
        return {}
    if not isinstance(shapes, Mapping):
        raise TypeError(f"shapes must be a dict such as {{'W': ('c', 'd'), 'x': 3}}, got "
                        f"{type(shapes).__name__}")
    out = {}
    for name, spec in shapes.items():
        if not isinstance(name, str):
            raise TypeError(f"shapes: a name must be a str, got {type(name).__name__}")
        if isinstance(spec, bool) or not isinstance(spec, (str, int, tuple, list)):
            raise TypeError(f"shapes[{name!r}] must be a str such as 'c,d', a whole number or a tuple of "
                            f"dimensions, got {type(spec).__name__}")
        if isinstance(spec, (tuple, list)):
            for d in spec:
                if isinstance(d, bool) or not isinstance(d, (str, int)):
                    raise TypeError(f"shapes[{name!r}]: a dimension must be a whole number or a name, got "
                                    f"{type(d).__name__}")
        if isinstance(spec, str):
            check_text(spec, f"shapes[{name!r}]", 200)
        out[name] = (spec,) if isinstance(spec, int) else spec
    return out


def check_assume(assume) -> tuple[str, ...]:
    """A sequence of assumption texts; a single str is one assumption."""
    if assume is None:
        return ()
    if isinstance(assume, str):
        assume = (assume,)
    if isinstance(assume, (bytes, bytearray)) or not hasattr(assume, "__iter__"):
        raise TypeError(f"assume must be a list of texts such as ['sum(y) = 1'], got {type(assume).__name__}")
    texts = tuple(assume)
    if len(texts) > MAX_ASSUMPTIONS:
        raise MatcalcError(f"{len(texts)} assumptions; matcalc takes at most {MAX_ASSUMPTIONS}")
    for t in texts:
        check_text(t, "an assumption")
    return texts


MAX_FILE_BYTES = 1_000_000  # a derivation file or a --data text file: read at most this much


def read_text_file(path, what: str = "the file", limit: int = MAX_FILE_BYTES) -> str:
    """The text of a small UTF-8 file, read in bounded pieces: /dev/zero or a 200 MB file is refused
    after `limit` bytes, a byte-order mark is dropped, and no message quotes the file's content."""
    if isinstance(path, (bytes, bytearray)) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{what} must be a path (str), got {type(path).__name__}")
    shown = excerpt(os.fspath(path), 80)
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except IsADirectoryError:
        raise MatcalcError(f"cannot read {what} {shown}: it is a directory") from None
    except OSError as err:
        raise MatcalcError(f"cannot read {what} {shown}: {err.strerror or type(err).__name__}") from None
    if len(data) > limit:
        raise MatcalcError(f"{what} {shown} is larger than {limit:,} bytes; matcalc reads at most that much")
    if b"\x00" in data:
        raise MatcalcError(f"{what} {shown} is not a text file (it contains NUL bytes)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise MatcalcError(f"{what} {shown} is not UTF-8 text (an undecodable byte at offset {err.start})") \
            from None
    return text
