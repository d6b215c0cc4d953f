"""compile — tree → code: any expression (a derivative, a forward pass, a claim) as array code.

Takes expression DAGs and gives a Plan (`codegen.py`): canonical up to transposition (`canon.py`),
rewritten into stable and cheap forms (`rewrites.py`), lowered to array steps in the cheapest product
order (`lowering.py`), run as closures with no text executed (`closures.py`, helpers in `runtime.py`)
and printed as the Python a person would write (`emit_source.py`). The same plan runs on PyTorch,
JAX and CuPy (`backends.py`, `runtime_torch.py`); `index_eval.py` evaluates index notation entry by
entry. A new backend is a namespace and a spelling in backends.py and emit_source.py.
"""
