"""engine — tree → derivative: the calculus, by the rows of rules/.

Takes a typed expression (language/) and a variable, and gives the derivative with every step and the
identity it used: the adjoint walk (`adjoint.py`) and the Jacobian read off it (`jacobian.py`),
assembled by `derive.py` into a Derivation in either layout; the forward differential (`forward.py`)
and the differential method's lines (`differential.py`); the Kronecker (`kronecker.py`) and index
forms (`tensor_index.py`, `index_matrix.py`) of derivatives with no matrix form; simplification to a
textbook form (`simplify.py`, `factoring.py`, rules/simplify.toml) under the user's assumptions
(`assumptions.py`) and the domains of its functions (`domain.py`). It never evaluates numbers: checking
the engine by the numbers is check/'s job. A new derivative rule is a row in rules/, not code here.
"""
