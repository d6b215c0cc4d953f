import sys
from pathlib import Path

# the numeric oracle lives beside the tests
sys.path.insert(0, str(Path(__file__).parent))

# The default derivation budget (10 s) is meant for a user's machine; the suite must also pass on a
# machine busy with other work, where a large random expression can take several times longer. Tests
# of the budget itself pass their own Budget or --time-limit, which this does not override.
import os

os.environ.setdefault("MATCALC_TIME_LIMIT", "120")
