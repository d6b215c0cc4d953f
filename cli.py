"""Starts the matcalc command line (the app itself lives in matcalc/cli.py)."""

from matcalc.cli.app import main

if __name__ == "__main__":
    main()
