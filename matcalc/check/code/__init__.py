"""check/code — gradient code → verdict: is the function someone wrote the gradient of an expression?

The user's function (NumPy, or torch or JAX tensors out) is called on the same random instances a
claim is judged on (`..instances`), its result read as NumPy (`returned.py`), and compared with the
true derivative of the expression by the same judge and tolerance as `verify` (`..checker`,
`..truth`): `judge.py`. A mismatch is named in the same words as a wrong claim (`..diagnose`), plus
what only code gets wrong — a (n, 1) result for (n,), `np.sum` without `axis`, a broadcast that
hides a wrong shape, an input updated in place, a relu mask of the wrong layer (`mistakes.py`).
The function runs in this process under a time limit (`calling.py`), or in a child process that
imports only the file the user named, under the time and memory budget (`child.py`, started by
`launch.py` without the whole library). `names.py` names a network's values (A1, Z2, S) in the
formulas shown; `verdict.py` is what comes back, with matcalc's formula and the generated NumPy.
"""
