"""The fuzz campaign of tests/fuzz_surfaces.py, a few inputs per surface: every input is answered or refused
with a clear message — no traceback, no internal error, no usage text with exit 0, no HTTP 5xx, no
hang. `benchmarks/fuzz_campaign.py` runs thousands and prints the figures.

No test asserts a time: a "hang" here is an input still unanswered a minute past its budget.
"""

from __future__ import annotations

import pytest

import fuzz_surfaces as F
from live_server import running_server

LIBRARY = {"expressions": 40, "claims": 15, "derivation files": 25, "command line": 50, "gradient code": 30}
SERVER = {"HTTP headers": 60, "JSON bodies": 30}


def _failures(trials) -> list:
    return [f"{t.outcome}: {t.input}  ::  {t.detail}" for t in trials if t.outcome in ("fault", "hang")]


@pytest.mark.parametrize("name", list(LIBRARY))
def test_library_and_command_line_surfaces(name):
    ctx = F.Context(seconds=20.0, grace=60.0)
    trials = list(F.run_campaign([name], LIBRARY, ctx))
    assert len(trials) == LIBRARY[name]
    assert not _failures(trials), "\n".join(_failures(trials))
    assert any(t.outcome == "refused" for t in trials)     # the inputs are hostile enough to be refused


def test_the_surfaces_the_campaign_knows():
    assert set(LIBRARY) | set(SERVER) == set(F.SURFACES)   # a new surface is fuzzed in the suite too


def test_server_surfaces_over_a_socket():
    with running_server("--workers", "2", "--time-limit", "20") as (_, port, _):
        ctx = F.Context(seconds=20.0, grace=60.0, port=port, server_time_limit=20.0)
        trials = list(F.run_campaign(list(SERVER), SERVER, ctx))
    assert len(trials) == sum(SERVER.values())
    assert not _failures(trials), "\n".join(_failures(trials))
