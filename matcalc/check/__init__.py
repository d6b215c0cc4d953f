"""check — claim → verdict: is a derivative someone wrote right, and if not, what is wrong with it.

Takes a claim (a formula, an index or differential or Kronecker claim, a derivation file, a chain of
derivatives) and gives a Verdict that rests on numbers from outside the engine: random instances with
distinct sizes drawn where the expression is defined and across every kink (`numeric.py`,
`instances.py`), the true derivative by finite differences and autograd (`truth.py`, whose tolerances
`verdict.py` states), the claim judged against it (`checker.py`, `verify.py`, and the judges
`index_check.py`, `differential_check.py`, `kronecker_check.py`), its mistake named (`diagnose.py`);
whole derivations line by line (`derivation_file.py`, `chain_file.py`). `reading.py` reads a user's
text with every rewrite checked by the numbers. A new kind of claim is a judge module here.
"""
