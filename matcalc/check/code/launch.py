"""Starts child.py's process without running the matcalc package's __init__ (which imports the whole
library, a second or more of start-up): the three packages on the way to child.py are set up as bare
packages over their folders, so the child imports only what it uses (child.py, calling.py,
returned.py, errors.py and NumPy); they are forgotten before the user's file is imported, so that a
file which imports matcalc itself gets the whole package. Run as a script, by path, with -P: the working directory and this
folder stay off sys.path.
"""

import os
import sys
import types


def bare_packages() -> None:
    here = os.path.dirname(os.path.abspath(__file__))            # .../matcalc/check/code
    folders = {"matcalc.check.code": here, "matcalc.check": os.path.dirname(here),
               "matcalc": os.path.dirname(os.path.dirname(here))}
    for name in ("matcalc", "matcalc.check", "matcalc.check.code"):
        package = types.ModuleType(name)
        package.__path__ = [folders[name]]
        package.__package__ = name
        sys.modules[name] = package


def forget_bare_packages() -> None:
    """Once the child's modules are loaded: a user's file that imports matcalc gets the real package
    (its __init__ run; the modules already loaded are reused)."""
    for name in ("matcalc.check.code", "matcalc.check", "matcalc"):
        sys.modules.pop(name, None)


if __name__ == "__main__":
    bare_packages()
    from matcalc.check.code.child import main

    forget_bare_packages()
    main(sys.argv[1:])
