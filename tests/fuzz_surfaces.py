"""The fuzz campaign, one function per surface an attacker can reach: `tests/test_fuzz_campaign.py` runs a
few inputs of each in the suite, `benchmarks/fuzz_campaign.py` thousands, and prints the README's figures.

Each surface is a generator `surface(rng, count, ctx)` registered with `@surface("name")`: it makes
`count` hostile inputs from `rng` (a random.Random, so a run is reproducible), tries each, and yields
one Trial per input saying how it ended:

    ok        a result or a verdict (CLI exit 0 or 1; HTTP 2xx)
    refused   a clear refusal: a MatcalcError with its message; CLI exit 2 with one `error:` line (or
              click's usage error); HTTP 4xx (or 503 busy) with a JSON {"error": one line, "kind"}
    fault     anything else: a traceback, an "internal error", a bare Python exception (a TypeError that
              does not say what was expected counts as one), exit 0 with the usage text, an HTTP 5xx, an
              answer that is not the API's JSON, a dropped connection
    hang      no answer within the budget (`ctx.seconds`) plus `ctx.grace` seconds

To add a surface (documents, a new endpoint), write such a generator and register it; the
campaign and the test pick it up by name. Library surfaces run in this process under a Budget of
ctx.seconds; the HTTP surfaces need ctx.port, a running `matcalc serve` (tests/live_server.py).
"""

from __future__ import annotations

import json
import random
import socket
import time
from dataclasses import dataclass, field

import expression_grammar as G

SURFACES: dict = {}


def surface(name: str):
    def register(fn):
        SURFACES[name] = fn
        return fn

    return register


@dataclass
class Trial:
    surface: str
    input: str              # a short, printable description of the input
    outcome: str            # ok, refused, fault, hang
    seconds: float
    detail: str = ""


@dataclass
class Context:
    seconds: float = 5.0                     # the budget every library call and the CLI run under
    grace: float = 1.5                       # past seconds + grace an input counts as a hang
    port: int | None = None                  # a running `matcalc serve` for the HTTP surfaces
    server_time_limit: float = 10.0          # its --time-limit
    extra: dict = field(default_factory=dict)


def short(text, limit: int = 120) -> str:
    text = ascii(text) if not isinstance(text, str) else text.encode("unicode_escape").decode("ascii")
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} chars)"


def judge(surface_name: str, shown: str, run, limit: float) -> Trial:
    """Run one input: `run()` returns (outcome, detail); an exception escaping it is a fault."""
    start = time.monotonic()
    try:
        outcome, detail = run()
    except Exception as err:  # noqa: BLE001 — the point of the campaign: nothing may escape
        outcome, detail = "fault", f"{type(err).__name__}: {str(err)[:300]}"
    seconds = time.monotonic() - start
    if seconds > limit and outcome != "fault":
        outcome, detail = "hang", f"{seconds:.1f} s ({outcome}: {detail[:200]})"
    return Trial(surface_name, shown, outcome, seconds, detail)


def _library(call):
    """(outcome, detail) of a library call: a result, a MatcalcError, or a fault."""
    import matcalc

    try:
        call()
    except matcalc.MatcalcError as err:
        message = str(err).strip()
        return ("refused", message.splitlines()[0][:200]) if message else ("fault", "an empty message")
    except (RecursionError, MemoryError) as err:
        return "fault", f"{type(err).__name__}"
    return "ok", ""


# ================================================================ the library


LAYERS = ("exp({})", "sigmoid({})", "tanh({})", "log(1 + ({}).^2)")


def swell(k: int) -> str:
    """k mixed layers over W*x (tests/test_hostile.py): inlined, the derivative doubles with each layer; at
    k = 40 and more its derivation runs into any small budget."""
    u = "W*x"
    for i in range(1, k + 1):
        u = LAYERS[(i - 1) % 4].format(f"A{i}*{u}")
    return f"sum({u})"


def _expression(rng: random.Random) -> tuple[str, str]:
    if rng.random() < 0.04:                  # costly by design: the budget must stop it, not the campaign
        return swell(rng.randint(30, 90)), "W"
    text, wrt = G.expression(rng, rng.randint(0, 4))
    if rng.random() < 0.7:
        text = G.mutate(rng, text, rng.randint(1, 4))
    if rng.random() < 0.1:                   # definitions (h = ...; ...) and abstract functions f(...)
        text = rng.choice([f"h = {text}; sum(h)", f"h = {text}; h", f"h = {text}; f(h)", f"f({text})",
                           f"h = {text}; g = h + h; sum(g)", f"h = {text}; h = h", f"h = {text};"])
    if rng.random() < 0.1:
        text = rng.choice(["-", "--", "-h ", "(" * 300, "x" * 30000, "\\frac{" * 50, "tanh(" * 199 + "x" + ")" * 199,
                           "1e309*x", "X^100000", "sum(x.^1e13)"]) + text
    return text, wrt


@surface("expressions")
def expressions(rng, count, ctx):
    """matcalc.derive on grammar expressions, mostly mutated, some hostile by design."""
    import matcalc
    from matcalc.budget import Budget

    for _ in range(count):
        text, wrt = _expression(rng)
        layout = rng.choice(["denominator", "numerator"])
        order = rng.choice([1, 1, 1, 2])
        functions = ["f"] if "f(" in text and rng.random() < 0.8 else None
        yield judge("expressions", short(text), lambda: _library(lambda: matcalc.derive(
            text, wrt=wrt, shapes=G.SHAPES if rng.random() < 0.8 else None, layout=layout, order=order,
            budget=Budget(seconds=ctx.seconds), functions=functions)), ctx.seconds + ctx.grace)


@surface("claims")
def claims(rng, count, ctx):
    """matcalc.verify of a grammar expression against a claim: matcalc's answer mutated, or another expression."""
    import matcalc
    from matcalc.budget import Budget

    for _ in range(count):
        text, wrt = G.expression(rng, rng.randint(0, 3))
        if rng.random() < 0.5:
            try:
                claim = G.mutate(rng, str(matcalc.derive(text, wrt=wrt, shapes=G.SHAPES)), rng.randint(0, 3))
            except matcalc.MatcalcError:
                claim = G.expression(rng, 2)[0]
        else:
            claim = rng.choice([G.expression(rng, 2)[0], "dL/dx_i = x_i", "dF = dX'", "kron(A, A)", "2*x",
                                "\\frac{1}{2} x^T", "df_ij/dx_k = delta_ik", "x_i*y_j"])
        yield judge("claims", short(f"{text}  |  {claim}"), lambda: _library(lambda: matcalc.verify(
            text, wrt, claim, shapes=G.SHAPES, budget=Budget(seconds=ctx.seconds))), ctx.seconds + ctx.grace)


HEADERS = ("shape: A=n,n x=n y=n alpha=", "shape: x=n y=k", "assume: A symmetric", "assume: sum(y) = 1",
           "assume: x > 0", "let u = A*x", "let s = softmax(x)", "f: x'*A*x\nwrt: x", "layout: numerator",
           "u = A*x", "h = tanh(A*x); g = sum(h)")
BAD_HEADERS = ("layout: diagonal", "shape: W", "let x = x", "let ones = x", "foo: 3", "assume: 1 = 2", "f: ",
               "wrt: A", "let a = b", "let b = a", "shape: x=²", "assume: " + "x > 0; " * 40)
CHAIN = ("dL/dx = (A + A')*x", "dL/dx = 2*A*x", "dL/dx_i = sum_j (A_ij + A_ji)*x_j", "= A*x + A'*x",
         "du/dx = A", "dL/du = x", "dL = x'*(A + A')*dx", "\\frac{\\partial L}{\\partial x} = (A + A^T) x",
         "dL/dq = 3", "dL/dx =", "d/dx = x")


@surface("derivation files")
def derivation_files(rng, count, ctx):
    """matcalc.verify_steps on files of headers, lets, chain-rule lines and grammar lines, mutated."""
    import matcalc
    from matcalc.budget import Budget

    for _ in range(count):
        lines = [rng.choice(BAD_HEADERS if rng.random() < 0.1 else HEADERS) for _ in range(rng.randint(0, 3))]
        base, _ = G.expression(rng, rng.randint(0, 3))
        chain = rng.random() < 0.3
        if chain and rng.random() < 0.8:         # the loss the chain-rule lines differentiate
            lines.insert(0, rng.choice(["L: x'*A*x", "let L = x'*A*x", "L = x'*A*x", "L: sum(u)"]))
        if rng.random() < 0.03:              # long by design: 20,000 distinct lines run into the budget
            lines += [f"{base} + {k} - {k}" for k in range(20_000)]
        for _ in range(rng.choice([1, 2, 3, 5, 8, 40, 400])):
            if chain:
                line = rng.choice(CHAIN)
            else:
                line = rng.choice([base, base, f"= {base}", f"2*({base})", G.expression(rng, 2)[0], "x'*A*y",
                                   f"({base})'"])
            if rng.random() < 0.05:
                line = G.mutate(rng, line, rng.randint(1, 3))
            lines.append(line)
            if rng.random() < 0.05:
                lines.append(rng.choice(["# a comment", "", "%  latex comment", "\ufeff" + base, "x" * 25000]))
        rng.shuffle(lines) if rng.random() < 0.2 else None
        text = "\n".join(lines)
        yield judge("derivation files", short(text.replace("\n", " ⏎ ")), lambda: _library(
            lambda: matcalc.verify_steps(text, budget=Budget(seconds=ctx.seconds))), ctx.seconds + ctx.grace)


# ================================================================ the command line


OPTION_VALUES = {"--wrt": ["x", "y", "A", "alpha", "q", "-x", "", "x y"],
                 "--shape": ["A=n,n", "x=n", "x=3", "x=", "A=²", "x", "=3", "A=1,2,3", "x=-1"],
                 "--assume": ["A symmetric", "sum(y) = 1", "x > 0", "1 = 2", "A = -A'", "nonsense", ""],
                 "--layout": ["numerator", "denominator", "diagonal"],
                 "--format": ["text", "json", "numpy", "latex", "index", "kron", "markdown", "yaml"],
                 "--order": ["1", "2", "3", "-1", "x"], "--time-limit": [None, "0.5", "-1", "x", "1e400"],
                 "--input": ["auto", "ascii", "latex", "klingon"], "--claim": None, "--direction": ["V", "x"]}


OTHER_COMMAND_ONLY = {"derive": ("--claim",), "check": ("--direction",),
                      "rules": tuple(OPTION_VALUES)}     # mostly the options the command has


@surface("command line")
def command_line(rng, count, ctx):
    """`matcalc derive|check|rules` with options in any order, expressions that start with '-', unknown
    and misspelled options, bad values, and `--` anywhere."""
    from click.testing import CliRunner

    from matcalc.cli.app import main

    runner = CliRunner()
    for _ in range(count):
        command = rng.choice(["derive", "derive", "check", "check", "rules"])
        text, wrt = _expression(rng) if rng.random() < 0.5 else G.expression(rng, rng.randint(0, 3))
        if rng.random() < 0.4:
            text = "-" + text
        words = [command]
        parts: list[list[str]] = [] if command == "rules" else [[text]]
        known = [o for o in sorted(OPTION_VALUES) if o not in OTHER_COMMAND_ONLY.get(command, ())]
        pool = sorted(OPTION_VALUES) if rng.random() < 0.1 else known
        for name in rng.sample(pool, min(len(pool), rng.randint(0, 4))):
            values = OPTION_VALUES[name]
            if values is None:
                value = G.mutate(rng, text, 1) if rng.random() < 0.3 else text
            else:
                value = rng.choice(values if rng.random() < 0.4 else values[:2])   # mostly good values
            if value is None:
                value = str(ctx.seconds)
            parts.append([f"{name}={value}"] if rng.random() < 0.2 else [name, value])
        if command == "check" and not any(p[0].startswith("--claim") for p in parts) and rng.random() < 0.8:
            parts.append(["--claim", G.expression(rng, 2)[0]])
        if command != "rules":
            parts.append(["--wrt", wrt])
            parts.append(["--time-limit", str(ctx.seconds)])
        if rng.random() < 0.15:
            parts.append([rng.choice(["--wrtt", "--help-me", "-q", "--", "---", "-", "--steps", "--no-steps"])])
        rng.shuffle(parts)
        for p in parts:
            words.extend(p)
        if "--time-limit" not in words and command != "rules":
            words += ["--time-limit", str(ctx.seconds)]

        def run(words=words):
            result = runner.invoke(main, words, catch_exceptions=True)
            out = result.output
            if "Traceback" in out or "internal error" in out:
                return "fault", out[-300:]
            if result.exception is not None and not isinstance(result.exception, SystemExit):
                return "fault", repr(result.exception)[:300]
            if result.exit_code in (0, 1):
                help_asked = any(w in ("-h", "--help") for w in words)
                if out.lstrip().startswith("Usage:") and not help_asked:
                    return "fault", "exit %d with the usage text" % result.exit_code
                return "ok", ""
            if result.exit_code == 2:
                err = result.stderr.strip().splitlines()
                if err and (err[0].startswith("error: ") or any(e.startswith("Error: ") for e in err)):
                    return "refused", (err[0] if err[0].startswith("error") else err[-1])[:200]
                return "fault", "exit 2 without a message"
            return "fault", f"exit {result.exit_code}"

        yield judge("command line", short(" ".join(words)), run, ctx.seconds + ctx.grace + 2.0)


# ================================================================ gradient code


CODE_BODIES = {        # the body of `def grad(A, x):` for the expression x'*A*x (wrt x); hostile by design
    "right": "return (A + A.T) @ x",
    "wrong": "return 2 * A @ x",
    "column": "return ((A + A.T) @ x).reshape(-1, 1)",
    "transposed": "return (A + A.T) @ x.T",
    "no axis": "return np.sum((A + A.T) * x)",
    "in place": "x *= 2\n    return (A + A.T) @ x / 2",
    "nan": "return np.full(x.shape, np.nan)",
    "inf": "return x / 0.0",
    "a string": "return 'the gradient'",
    "None": "return None",
    "a generator": "return (v for v in x)",
    "an object": "return object()",
    "a huge list": "return [0.0] * 10**6",
    "a dict": "return {'y': x}",
    "raises": "raise ValueError('no gradient today')",
    "raises a BaseException": "raise KeyboardInterrupt",
    "recursion": "return grad(A, x)",
    "exits": "import sys\n    sys.exit(0)",
    "exits hard": "import os\n    os._exit(3)",
    "kills itself": "import os, signal\n    os.kill(os.getpid(), signal.SIGKILL)",
    "loops for ever": "while True:\n        pass",
    "sleeps": "import time\n    time.sleep(10**6)",
    "eats memory": "return np.ones((10**5, 10**5))",
    "eats memory slowly": "keep = []\n    while True:\n        keep.append(np.ones(10**6))",
    "prints": "print('x' * 10**6)\n    return (A + A.T) @ x",
    "writes to stdout's fd": "import os\n    os.write(1, b'\\x00garbage' * 1000)\n    return (A + A.T) @ x",
    "closes stdout": "import os\n    os.close(1)\n    return (A + A.T) @ x",
    "forks": "import os\n    os.fork()\n    return (A + A.T) @ x",
    "torch-like": "class T:\n        def detach(self): return self\n        def numpy(self): return 'x'\n    return T()",
    "a complex array": "return ((A + A.T) @ x).astype(complex) * 1j",
    "an int array": "return ((A + A.T) @ x).astype(int)",
    "a 0-d array": "return np.float64(3.0)",
    "ragged": "return [[1.0], [1.0, 2.0]]",
}
CODE_FILES = {          # whole files, and the names a user may give
    "a syntax error": "def grad(A, x:\n    return x\n",
    "raises on import": "raise RuntimeError('import failed')\n",
    "loops on import": "while True:\n    pass\n",
    "exits on import": "import sys\nsys.exit(0)\n",
    "no function": "x = 3\n",
    "grad is not callable": "grad = 3\n",
    "wrong parameters": "def grad(B, y):\n    return y\n",
    "keyword only": "def grad(*, A, x, extra):\n    return x\n",
    "binary bytes": "\x00\xff\xfe garbage",
    "a BOM and CRLF": "\ufeffimport numpy as np\r\ndef grad(A, x):\r\n    return (A + A.T) @ x\r\n",
    "imports matcalc": "import numpy as np\nimport matcalc\ndef grad(A, x):\n    return (A + A.T) @ x\n",
}


@surface("gradient code")
def gradient_code(rng, count, ctx):
    """`matcalc check --code FILE.py:FUNCTION EXPR --wrt ...` on functions that are right, wrong, of the
    wrong type, raise, exit, loop, sleep, eat memory, fork, print, close their stdout; files that do not
    parse, loop or exit on import; specs that name nothing; grammar expressions, mutated."""
    import tempfile
    from pathlib import Path

    from click.testing import CliRunner

    from matcalc.cli.app import main

    runner = CliRunner()
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(count):
            expression, wrt = "x'*A*x", "x"
            if rng.random() < 0.6:
                name = rng.choice(sorted(CODE_BODIES))
                text = f"import numpy as np\n\n\ndef grad(A, x):\n    {CODE_BODIES[name]}\n"
            else:
                name = rng.choice(sorted(CODE_FILES))
                text = CODE_FILES[name]
            path = Path(tmp) / f"g{i}.py"
            path.write_text(text, encoding="utf-8", errors="surrogateescape")
            spec = f"{path}:grad" if rng.random() < 0.85 else rng.choice(
                [f"{path}:", f"{path}", f"{path}:nothing", f"{tmp}/none.py:grad", f"{tmp}:grad", f"{path}:grad:grad",
                 f"{path}: grad", f"{path}:os.system"])
            if rng.random() < 0.25:             # another expression: the right gradient becomes a wrong one
                expression, wrt = G.expression(rng, rng.randint(0, 3))
                if rng.random() < 0.3:
                    expression = G.mutate(rng, expression, rng.randint(1, 3))
            words = ["check", "--code", spec, expression, "--wrt", wrt if rng.random() < 0.9 else
                     rng.choice(["x,A", "q", "", "x,x"])]
            if rng.random() < 0.7:
                for shape in rng.choice([("A=n,n", "x=n"), ("A=3,3", "x=3"), ("A=n,m", "x=n"), ("A=n,n",), ("x=0",)]):
                    words += ["--shape", shape]
            if rng.random() < 0.2:
                words += rng.choice([["--format", "json"], ["--format", "markdown"], ["--layout", "numerator"],
                                     ["--claim", "2*x"], ["--order", "2"], ["--assume", "A symmetric"],
                                     ["--memory-limit", "200"], ["--input", "latex"]])
            words += ["--time-limit", str(ctx.seconds)]
            shown = f"{name}: {' '.join(words[3:])}"

            def run(words=words):
                result = runner.invoke(main, words, catch_exceptions=True)
                out = result.output
                if "Traceback" in out or "internal error" in out:
                    return "fault", out[-300:]
                if result.exception is not None and not isinstance(result.exception, SystemExit):
                    return "fault", repr(result.exception)[:300]
                err = [e for e in result.stderr.strip().splitlines() if e.strip()]
                if result.exit_code == 0:
                    return "ok", ""
                if result.exit_code in (1, 2) and (result.exit_code == 1 and not err or err and (
                        err[0].startswith("error: ") or any(e.startswith("Error: ") for e in err))):
                    return ("ok" if result.exit_code == 1 and not err else "refused"), (err[0] if err else "")[:200]
                return "fault", f"exit {result.exit_code}: {(err or [out[-200:]])[0][:200]}"

            # the child's start-up (numpy and the user's file) is part of the budget: 2 s more grace
            yield judge("gradient code", short(shown), run, ctx.seconds + ctx.grace + 2.0)


# ================================================================ the server over a socket


def _exchange(port: int, data: bytes, timeout: float) -> tuple[bytes, bool]:
    """Send raw bytes, read the answer: (bytes read, whether the server closed or answered in time)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(data)
        except OSError:
            pass                              # closed while we sent: its answer, if any, is read below
        chunks, deadline = [], time.monotonic() + timeout
        while time.monotonic() < deadline:
            s.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                return b"".join(chunks), False
            except OSError:
                return b"".join(chunks), True
            if not chunk:
                return b"".join(chunks), True
            chunks.append(chunk)
            reply = b"".join(chunks)
            head, sep, body = reply.partition(b"\r\n\r\n")
            if sep:
                length = [ln.split(b":", 1)[1] for ln in head.split(b"\r\n")[1:]
                          if ln.lower().startswith(b"content-length:")]
                if length and len(body) >= int(length[0].strip()):
                    return reply, True
        return b"".join(chunks), False


def _judge_reply(reply: bytes, in_time: bool, api: bool, head_only: bool = False,
                 sent_nothing: bool = False) -> tuple[str, str]:
    if not in_time:
        return "hang", f"no answer ({len(reply)} bytes read)"
    if not reply:            # a connection that sent nothing is closed in silence: that is its answer
        return ("refused", "closed") if sent_nothing else ("fault", "the connection was closed without an answer")
    line = reply.split(b"\r\n", 1)[0]
    parts = line.split(b" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        return "fault", f"not an HTTP answer: {short(line)}"
    status = int(parts[1])
    body = reply.partition(b"\r\n\r\n")[2]
    if status >= 500 and status != 503:
        return "fault", f"{status}: {short(body[:300])}"
    if status < 400:
        return "ok", str(status)
    if head_only:                             # an answer to HEAD has no body, by definition
        return "refused", str(status)
    text_plain = b"text/plain" in reply.partition(b"\r\n\r\n")[0].lower()
    if text_plain and status == 400:          # uvicorn's own answer to a request h11 cannot parse
        return "refused", f"{status} {short(body[:80])}"
    try:
        answer = json.loads(body)
    except ValueError:
        return ("fault", f"{status} with a body that is not JSON: {short(body[:200])}") if api else \
            ("refused", str(status))
    if not isinstance(answer, dict) or not isinstance(answer.get("error"), str) or "\n" in answer["error"]:
        return "fault", f"{status} without a one-line error: {short(body[:200])}"
    return "refused", f"{status} {answer.get('kind')}: {answer['error'][:120]}"


PATHS = ("/", "/api/derive", "/api/check", "/api/check-derivation", "/api/examples", "/static/app.js",
         "/static/katex/katex.min.css", "/static/../pyproject.toml", "/static/%2e%2e/app.py", "/api/nothing",
         "//", "/api/derive?x=1", "/" + "a" * 9000, "/static/", "/%00", "/api/_sleep", "*")
METHODS = ("GET", "POST", "POST", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE", "BREW", "get", "")


def _host_values(port: int):
    return (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", f"rebind.attacker.example:{port}",
            f"127.0.0.1:{port + 1}", "127.0.0.1", "", f"LOCALHOST:{port}", f"127.0.0.1:{port}\x00evil",
            f"127.0.0.1.nip.io:{port}", "é" * 40, "a" * 5000, f"127.0.0.1:{port}, evil.example", None)


ORIGINS = (None, None, "null", "http://evil.example", "https://127.0.0.1", "http://127.0.0.1", "file://",
           "http://localhost:1", "javascript:alert(1)", "http://[::1", "\xff\xfe")
TYPES = (None, "application/json", "application/json; charset=utf-8", "text/plain", "application/x-www-form-urlencoded",
         "multipart/form-data; boundary=x", "application/json; charset=latin-1", "application/json;;;",
         "APPLICATION/JSON", "application/json\x00", "application/" + "j" * 3000)


def _body(rng: random.Random) -> bytes:
    text, wrt = _expression(rng)
    choices = [
        json.dumps({"expression": text, "wrt": wrt}).encode(),
        json.dumps({"expression": text, "wrt": wrt, "claim": G.mutate(rng, text, 1)}).encode(),
        json.dumps({"derivation": "\n".join([text] * rng.randint(1, 50))}).encode(),
        b"[" * rng.choice([10, 1000, 20000]), b'{"a":' * 8000 + b"1" + b"}" * 8000,
        b'{"expression": "x\'*\\ud800x", "wrt": "x"}', b'{"claim": "\\udfff", "expression": "x", "wrt": "x"}',
        b"\xff\xfe\x00", b"", b"{", b'{"order": ' + b"9" * 5000 + b"}", b"NaN", b'{"expression": Infinity}',
        json.dumps({"expression": "x" * 70000}).encode(), json.dumps({"shapes": {"x": [[[[[[["n"]]]]]]]}}).encode(),
        json.dumps(rng.choice([[], 3, "x", None, True, {"expression": None, "wrt": 3}])).encode(),
    ]
    return rng.choice(choices)


@surface("HTTP headers")
def http_headers(rng, count, ctx):
    """Raw requests to `matcalc serve`: methods, paths, Host, Origin, Content-Type and Content-Length in
    every mix, chunked and truncated bodies, junk bytes and oversized headers."""
    port = ctx.port
    for _ in range(count):
        method, path = rng.choice(METHODS), rng.choice(PATHS)
        body = _body(rng) if rng.random() < 0.6 else b""
        headers = []
        host = rng.choice(_host_values(port)) if rng.random() < 0.4 else f"127.0.0.1:{port}"
        if host is not None:
            headers.append(("Host", host))
            if rng.random() < 0.03:
                headers.append(("Host", "evil.example"))
        origin = rng.choice(ORIGINS) if rng.random() < 0.5 else None
        if origin is not None:
            headers.append(("Origin", origin))
        kind = rng.choice(TYPES) if rng.random() < 0.5 else "application/json"
        if kind is not None:
            headers.append(("Content-Type", kind))
        framing = rng.choice(["length", "length", "length", "wrong length", "none", "chunked", "bad chunked",
                              "two lengths", "negative"])
        if framing == "length":
            headers.append(("Content-Length", str(len(body))))
        elif framing == "wrong length":
            headers.append(("Content-Length", str(len(body) + rng.choice([-3, 5, 10**12]))))
        elif framing == "two lengths":
            headers += [("Content-Length", str(len(body))), ("Content-Length", "7")]
        elif framing == "negative":
            headers.append(("Content-Length", "-1"))
        elif framing in ("chunked", "bad chunked"):
            headers.append(("Transfer-Encoding", "chunked"))
            body = (b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n") if framing == "chunked" else b"zz\r\n" + body
        if rng.random() < 0.05:
            headers += [(f"X-{i}", "v" * 100) for i in range(200)]
        if rng.random() < 0.05:
            headers.append(("Bad Header", "\x01\x7f"))
        headers.append(("Connection", "close"))
        head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
        data = head.encode("utf-8", "surrogateescape") + body
        if rng.random() < 0.03:
            data = bytes(rng.randrange(256) for _ in range(rng.randint(1, 400)))
        if rng.random() < 0.05:
            data = data[:rng.randint(0, len(data))]        # cut short: the server's timeouts must answer
        wait = ctx.server_time_limit + 5.0 + ctx.grace + 6.0   # the pool's limit, the header/body deadlines
        api = path.startswith("/api/") and host == f"127.0.0.1:{port}"
        yield judge("HTTP headers", short(head.replace("\r\n", " | ")[:200] + f" +{len(body)} bytes"),
                    lambda data=data, api=api, head=method == "HEAD": _judge_reply(
                        *_exchange(port, data, wait), api=api, head_only=head, sent_nothing=not data), wait + 1)


@surface("JSON bodies")
def json_bodies(rng, count, ctx):
    """Well-framed API requests whose JSON is hostile: every field of every endpoint, of the wrong type,
    huge, nested, with lone surrogates, with expressions from the grammar, mutated."""
    port = ctx.port
    fields = {"expression": lambda: _expression(rng)[0], "wrt": lambda: rng.choice(["x", "A", "", 3, None, ["x"]]),
              "claim": lambda: G.mutate(rng, _expression(rng)[0], 1), "shapes": lambda: rng.choice(
                  [{"x": "n"}, "A=n,n x=n", {"x": 3}, {"x": ["a", "b", "c"]}, {"3": "n"}, "%", [], {"x": {"y": "z"}},
                   {f"n{i}": "n" for i in range(40)}]),
              "assume": lambda: rng.choice([["A symmetric"], "sum(y) = 1", [1], ["x"] * 40, "", ["1 = 2"]]),
              "layout": lambda: rng.choice(["numerator", "denominator", "diag", 1]),
              "order": lambda: rng.choice([1, 2, "2", 3, True, 1.5, -1, 10**30]),
              "direction": lambda: rng.choice(["V", "x", "", None]),
              "input": lambda: rng.choice(["auto", "ascii", "latex", "x"]),
              "derivation": lambda: "\n".join(rng.choice(HEADERS + CHAIN + (_expression(rng)[0],))
                                              for _ in range(rng.randint(1, 30)))}
    for _ in range(count):
        path = rng.choice(["/api/derive", "/api/check", "/api/check-derivation"])
        text, wrt = G.expression(rng, rng.randint(0, 3))
        payload = {"derivation": f"{text}\n= {text}"} if path.endswith("derivation") else \
            {"expression": text, "wrt": wrt, "shapes": "A=n,n x=n y=n alpha="}
        if path == "/api/check":
            payload["claim"] = G.expression(rng, 2)[0]
        for k in rng.sample(sorted(fields), rng.choice([0, 1, 1, 2, 3])):   # then a few fields made hostile
            payload[k] = fields[k]()
        if rng.random() < 0.1:
            payload[rng.choice(list(fields))] = "\ud800" if rng.random() < 0.5 else "x" * 5000
        body = json.dumps(payload).encode()
        data = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body
        wait = ctx.server_time_limit + ctx.grace + 6.0
        yield judge("JSON bodies", short(f"{path} {body[:160]!r}"),
                    lambda data=data: _judge_reply(*_exchange(port, data, wait), api=True), wait + 1)


def run_campaign(names, counts: dict, ctx: Context, seed: int = 25):
    """Every trial of the surfaces named (in order), each surface with its own seeded generator."""
    for name in names:
        rng = random.Random(f"{seed}:{name}")
        yield from SURFACES[name](rng, counts[name], ctx)
