"""`python -m matcalc`: the same command as `matcalc` (derive, check, train, rules)."""

from matcalc.cli.app import main

if __name__ == "__main__":
    main(prog_name="matcalc")
