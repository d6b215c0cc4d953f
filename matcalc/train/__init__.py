"""train — the demo that proves the formulas by use.

Takes a network's loss written in the language, derives every weight's and bias's gradient with the
library (api/), compiles them into one step plan, checks them against finite differences and an
independent autodiff, and trains the network with minibatch SGD on scikit-learn's digits or the
user's data (`demo.py`, data and initialisation in `data.py`), on NumPy or on PyTorch and JAX arrays
(`backends.py`). Entry point: `demo.train`; the command is `matcalc train` (cli/train.py).
"""
