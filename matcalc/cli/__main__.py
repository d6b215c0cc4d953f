"""`python -m matcalc.cli`: the matcalc command."""

from .app import main

if __name__ == "__main__":
    main(prog_name="matcalc")
