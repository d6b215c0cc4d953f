"""Sizes that are products of sizes: the rows of vec(X) (m*n) and of kron(A, B).

A dimension is a whole number or a name; a product of names is one canonical name, its factors sorted
(`m*n`, `2*m*n`), so that the rows of kron(B', A) and of vec(A*V*B) are the same dimension and shapes
compare as they always did, by equality. Evaluation reads a product's value off its factors' (size_of).
"""

from __future__ import annotations

Dim = int | str
Shape = tuple[Dim, Dim]


def dim_factors(d: Dim) -> tuple[int, tuple[str, ...]]:
    """A dimension as (whole factor, named factors): `2*m*n` is (2, ("m", "n"))."""
    if isinstance(d, int):
        return d, ()
    whole, names = 1, []
    for part in str(d).split("*"):
        if part.isdigit():
            whole *= int(part)
        else:
            names.append(part)
    return whole, tuple(names)


def dim_product(*dims: Dim) -> Dim:
    """The size of a Kronecker product or a vec: whole numbers multiply, names make one canonical name
    (`m*n`, factors sorted), so the rows of kron(B', A) and of vec(A*V*B) are the same dimension."""
    whole, names = 1, []
    for d in dims:
        w, n = dim_factors(d)
        whole *= w
        names.extend(n)
    if not names:
        return whole
    names.sort()
    return "*".join(([str(whole)] if whole != 1 else []) + names)


def is_product_dim(d: Dim) -> bool:
    return isinstance(d, str) and "*" in d


def size_of(d: Dim, sizes: dict) -> Dim:
    """A dimension's value for named sizes ({"m": 3, "n": 4}): `m*n` is 12."""
    if isinstance(d, int):
        return d
    if is_product_dim(d):
        whole, names = dim_factors(d)
        return dim_product(whole, *(sizes.get(n, n) for n in names))
    return sizes.get(d, d)


def dimension_names(shape: Shape) -> list[str]:
    """The named dimensions a shape depends on: `m*n` depends on m and n."""
    out: list[str] = []
    for d in shape:
        if isinstance(d, str):
            out.extend(n for n in dim_factors(d)[1] if n not in out)
    return out
