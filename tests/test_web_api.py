"""The web API (matcalc.web), through Starlette's test client: every endpoint and every error class.

Results served by the API are checked the way every derived result in this suite is: the served text
is evaluated on random instances with distinct dimension sizes and compared with central finite
differences of the original expression (tests/oracle.py), and with HIPS autograd where it fits.
"""

from __future__ import annotations

import threading
import time
import warnings

import numpy as np
import pytest

import httpx  # noqa: F401  (the test client's transport: [webtest] installs it; a missing one is a failed install)
import starlette  # noqa: F401

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's note about httpx vs httpx2; httpx is what is installed
    from starlette.testclient import TestClient

import matcalc  # noqa: E402
import oracle  # noqa: E402
from matcalc.check import numeric  # noqa: E402
from matcalc.web.app import create_app  # noqa: E402
from matcalc.web.examples import EXAMPLES  # noqa: E402

JSON = {"content-type": "application/json"}
SOFTMAX_CE = {"expression": "-y'*log(softmax(W*x + b))", "wrt": "W", "assume": ["sum(y) = 1"]}
# Each level of nesting multiplies the size of the derivative: 22 levels take seconds and gigabytes.
RUNAWAY = "sum(" + "tanh(W*" * 22 + "x" + ")" * 22 + ")"


def local_client(app) -> TestClient:
    """A test client addressed as a browser on this machine addresses the server: the app answers only
    to the names it is served as (127.0.0.1, localhost, [::1]), not to the client's default 'testserver'."""
    return TestClient(app, base_url="http://127.0.0.1:8765")


@pytest.fixture(scope="module")
def client():
    with local_client(create_app(workers=2, time_limit=60.0)) as c:
        yield c


def served_error(served, expected: str, text: str) -> float:
    """The worst relative error of a served result text against finite differences (oracle.truth)."""
    d = matcalc.derive(expected["expression"], wrt=expected["wrt"], shapes=expected.get("shapes"),
                       assume=expected.get("assume", ()), layout=expected.get("layout", "denominator"))
    worst = 0.0
    for inst in oracle.instances(d, count=3, seed=7):
        got = np.asarray(oracle.printed_value(d, inst, text), dtype=float)
        want = oracle.truth(d, inst)
        if got.shape != want.shape and got.size == want.size:
            got = got.reshape(want.shape)
        worst = max(worst, numeric.relative_error(got, want))
    return worst


# ---------------------------------------------------------------- /api/derive


def test_derive_softmax_cross_entropy_both_layouts_agree_with_finite_differences(client):
    r = client.post("/api/derive", json=SOFTMAX_CE)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["kind"] == "scalar-by-matrix" and body["layout"] == "denominator"
    den, num = body["layouts"]["denominator"], body["layouts"]["numerator"]
    assert den["result"] == body["result"]
    assert served_error(body, SOFTMAX_CE, den["result"]) < oracle.TOLERANCE
    assert served_error(body, dict(SOFTMAX_CE, layout="numerator"), num["result"]) < oracle.TOLERANCE
    # the two layouts are transposes: their shapes are swapped
    assert den["shape"] == "×".join(reversed(num["shape"].split("×")))
    # typeset forms for the page, the CLI's text, steps with rules and sources, code
    assert "\\operatorname{softmax}" in body["latex"] and "x^\\top" in body["latex"]
    assert body["text"].splitlines()[-1] == body["result"]
    assert [w["name"] for w in body["where"]] == ["z", "s"]
    chain = [s for s in body["steps"] if s["number"]]
    assert chain[-1]["target"] == "∂f/∂W" and chain[-1]["target_latex"].startswith("\\frac{\\partial f}")
    assert all(s["rule"] and s["latex"] for s in body["steps"])
    assert any("Softmax" in s["source"] for s in body["steps"])
    assert any(s["kind"] == "assumption" for s in body["steps"])
    assert "def d_dW(" in body["numpy"] and body["numpy_error"] is None
    assert body["cli"].startswith("matcalc derive ") and "--assume 'sum(y) = 1'" in body["cli"]


def test_derive_agrees_with_autograd(client):
    request = {"expression": "(X*w - y)'*(X*w - y)", "wrt": "w", "shapes": "X=m,n"}
    body = client.post("/api/derive", json=request).json()
    d = matcalc.derive(request["expression"], wrt="w", shapes={"X": "m,n"})
    for inst in oracle.instances(d, count=2, seed=3):
        served = np.asarray(oracle.printed_value(d, inst, body["result"]), dtype=float)
        assert numeric.relative_error(served.reshape(-1), np.ravel(oracle.autograd_gradient(d, inst))) < 1e-8


def test_derive_accepts_latex_shapes_as_objects_and_numerator_layout(client):
    request = {"expression": r"-y^T \log(\mathrm{softmax}(Wx+b))", "wrt": "W", "assume": "sum(y) = 1",
               "shapes": {"W": ["c", "d"]}, "layout": "numerator"}
    body = client.post("/api/derive", json=request).json()
    assert body["shapes"]["W"] == ["c", "d"] and body["layout"] == "numerator"
    plain = dict(SOFTMAX_CE, layout="numerator", shapes={"W": "c,d"})
    assert served_error(body, plain, body["result"]) < oracle.TOLERANCE


def test_derive_hessian(client):
    request = {"expression": "x'*A*x", "wrt": "x", "order": 2}
    body = client.post("/api/derive", json=request).json()
    assert body["order"] == 2
    d = matcalc.derive("x'*A*x", wrt="x", order=2)
    assert str(d) == body["result"]
    for inst in oracle.instances(d, count=2):
        served = np.asarray(oracle.printed_value(d, inst, body["result"]), dtype=float)
        truth = numeric.relative_error(served, inst.env["A"] + inst.env["A"].T)
        assert truth < 1e-9


# ---------------------------------------------------------------- errors: the CLI's one-line messages


def cli_message(args, capsys_free=True) -> str:
    from click.testing import CliRunner

    from matcalc.cli.app import main

    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    return result.output.splitlines()[0].removeprefix("error: ")


def test_parse_error_has_the_cli_message_and_the_caret(client):
    r = client.post("/api/derive", json={"expression": "tr(A*X", "wrt": "X"})
    assert r.status_code == 422
    body = r.json()
    assert body["kind"] == "parse" and body["column"] == 3
    assert body["error"] == cli_message(["derive", "tr(A*X", "--wrt", "X"])
    assert body["caret"].splitlines() == ["  tr(A*X", "    ^"]


def test_shape_error(client):
    r = client.post("/api/derive", json={"expression": "W*x + b", "wrt": "W", "shapes": "W=c,d x=e"})
    assert r.status_code == 422
    assert r.json() == {"error": cli_message(["derive", "W*x + b", "--wrt", "W", "--shape", "W=c,d",
                                              "--shape", "x=e"]), "kind": "shape"}
    assert r.json()["error"] == "W*x: c×d times e×1"


def test_unsupported(client):
    r = client.post("/api/derive", json={"expression": "W*x", "wrt": "x", "order": 2})
    assert r.status_code == 422 and r.json()["kind"] == "unsupported"
    assert r.json()["error"] == cli_message(["derive", "W*x", "--wrt", "x", "--order", "2"])


def test_unknown_variable_and_bad_assumption(client):
    r = client.post("/api/derive", json={"expression": "x'*x", "wrt": "q"})
    assert r.status_code == 422 and "cannot differentiate with respect to 'q'" in r.json()["error"]
    r = client.post("/api/derive", json={"expression": "x'*x", "wrt": "x", "assume": ["x is lovely"]})
    assert r.status_code == 422 and r.json()["kind"] == "assumption"


@pytest.mark.parametrize("payload, message", [
    ({"wrt": "x"}, "'expression' is required"),
    ({"expression": "x'*x"}, "'wrt' is required"),
    ({"expression": 3, "wrt": "x"}, "'expression' must be text"),
    ({"expression": "x'*x", "wrt": "x", "layout": "diagonal"}, "'layout' must be one of"),
    ({"expression": "x'*x", "wrt": "x", "order": 3}, "'order' must be 1 or 2"),
    ({"expression": "x'*x", "wrt": "x", "assume": [1]}, "'assume' must be a list of texts"),
    ({"expression": "x" * 5000, "wrt": "x"}, "too long"),
    (["x'*x"], "must be a JSON object"),
])
def test_malformed_requests_are_400(client, payload, message):
    r = client.post("/api/derive", json=payload)
    assert r.status_code == 400 and message in r.json()["error"] and r.json()["kind"] == "request"


def test_body_that_is_not_json_is_400(client):
    r = client.post("/api/check", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and "not JSON" in r.json()["error"]


def test_oversized_body_is_413_declared_or_streamed(client):
    big = b'{"expression": "' + b"x+" * 40000 + b'x", "wrt": "x"}'
    r = client.post("/api/derive", content=big, headers=JSON)
    assert r.status_code == 413 and r.json()["kind"] == "too-large"

    def chunks():  # no Content-Length: the limit must hold while reading
        for _ in range(100):
            yield b" " * 1024

    r = client.post("/api/check-derivation", content=chunks(), headers=JSON)
    assert r.status_code == 413


def test_unknown_path_and_method(client):
    assert client.get("/api/nothing").status_code == 404
    r = client.get("/api/derive")
    assert r.status_code == 405 and "GET is not allowed" in r.json()["error"]


# ---------------------------------------------------------------- /api/check


def test_check_wrong_claim_is_diagnosed_with_evidence(client):
    claim = "x*(softmax(W*x + b) - y)'"
    r = client.post("/api/check", json=dict(SOFTMAX_CE, claim=claim))
    assert r.status_code == 200
    v = r.json()
    assert v["ok"] is False and v["kind"] == "transpose" and "numerator-layout" in v["diagnosis"]
    assert v["expected"] and served_error(v, SOFTMAX_CE, v["expected"]) < oracle.TOLERANCE
    assert v["instances"] >= 3 and "random instances" in v["evidence"]
    assert v["claim_latex"] and v["expected_latex"]
    assert v["text"].startswith("verdict:   WRONG (transpose)")


def test_check_right_claim_and_factor_mistake(client):
    ls = {"expression": "(X*w - y)'*(X*w - y)", "wrt": "w", "shapes": "X=m,n"}
    v = client.post("/api/check", json=dict(ls, claim="2*X'*(X*w - y)")).json()
    assert v["ok"] is True and v["status"] == "correct"
    v = client.post("/api/check", json=dict(ls, claim="X'*(X*w - y)")).json()
    assert v["ok"] is False and v["kind"] == "factor"


def test_check_errors_say_they_are_in_the_claim(client):
    r = client.post("/api/check", json=dict(SOFTMAX_CE, claim="(s - y"))
    assert r.status_code == 422 and r.json()["error"].startswith("in the claim:") and "caret" in r.json()
    r = client.post("/api/check", json=SOFTMAX_CE)
    assert r.status_code == 400 and "'claim' is required" in r.json()["error"]


# ---------------------------------------------------------------- /api/check-derivation


def test_check_derivation_names_the_first_bad_line(client):
    text = EXAMPLES[0]["derivation"]
    r = client.post("/api/check-derivation", json={"derivation": text})
    assert r.status_code == 200
    v = r.json()
    bad = [s for s in v["steps"] if not s["ok"]]
    assert v["ok"] is False and v["first_bad"] == bad[0]["line"]
    assert text.splitlines()[v["first_bad"] - 1].lstrip("= ") == bad[0]["text"]
    assert "wrong sign" in v["diagnosis"]
    assert all(s["latex"] for s in v["steps"])


def test_check_derivation_errors(client):
    r = client.post("/api/check-derivation", json={"derivation": "x'*x\n= (x'*x"})
    assert r.status_code == 422 and r.json()["kind"] == "parse" and r.json()["error"].startswith("line 2:")
    r = client.post("/api/check-derivation", json={"derivation": "# nothing"})
    assert r.status_code == 422 and "no expression lines" in r.json()["error"]


# ---------------------------------------------------------------- /api/examples and the page


def test_examples_each_derive_and_show_a_mistake(client):
    examples = client.get("/api/examples").json()["examples"]
    titles = " ".join(e["title"].lower() for e in examples)
    for word in ("softmax", "least squares", "logistic", "mlp"):
        assert word in titles
    for ex in examples:
        body = client.post("/api/derive", json=ex).json()
        assert served_error(body, {**ex, "shapes": _shapes(ex["shapes"]), "assume": _assume(ex["assume"])},
                            body["result"]) < oracle.TOLERANCE
        assert client.post("/api/check", json=ex).json()["ok"] is False
        assert client.post("/api/check-derivation", json={"derivation": ex["derivation"]}).json()["ok"] is False


def _shapes(text):
    return dict(s.split("=", 1) for s in text.split()) if text else None


def _assume(text):
    return [a.strip() for a in text.split(";") if a.strip()]


def test_page_and_vendored_katex_are_served_with_a_strict_policy(client):
    page = client.get("/")
    assert page.status_code == 200 and "/static/katex/katex.min.js" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "http://" not in page.text.replace("http://HOST", "") and "https://" not in page.text
    for path in ("/static/katex/katex.min.js", "/static/katex/katex.min.css", "/static/app.js",
                 "/static/katex/fonts/KaTeX_Main-Regular.woff2", "/static/katex/LICENSE"):
        assert client.get(path).status_code == 200, path


# ---------------------------------------------------------------- the time and memory limits
# The pool's mechanics are tested with computations of known cost (the test hooks sleep and allocate),
# so the tests do not depend on how fast the engine is; the runaway expression is tested as a user sends it.


def test_a_runaway_expression_answers_422_and_the_server_goes_on():
    with local_client(create_app(workers=2, time_limit=1.0)) as c:
        r = c.post("/api/derive", json={"expression": RUNAWAY, "wrt": "W"})
        assert r.status_code == 422 and r.json()["kind"] in ("timeout", "limit", "input")
        assert r.json()["error"] and "\n" not in r.json()["error"]
        r = c.post("/api/derive", json={"expression": "x'*A*x", "wrt": "x"})
        assert r.status_code == 200 and r.json()["result"] == "(A + A')*x"


def test_time_limit_kills_the_worker_with_422_and_a_fresh_one_takes_over():
    with local_client(create_app(workers=1, time_limit=1.0, test_hooks=True)) as c:
        r = c.post("/api/_sleep", json={"seconds": 30})
        assert r.status_code == 422 and r.json()["kind"] == "timeout"
        assert r.json()["error"].startswith("gave up after 1 s: the expression is too costly")
        assert c.app.state.pool.killed == 1
        r = c.post("/api/derive", json={"expression": "x'*A*x", "wrt": "x"})  # the only worker was replaced
        assert r.status_code == 200 and r.json()["result"] == "(A + A')*x"


def test_a_slow_request_does_not_block_another_user():
    with local_client(create_app(workers=2, time_limit=60.0, test_hooks=True)) as c:
        slow: dict = {}

        def hold():
            slow["response"] = c.post("/api/_sleep", json={"seconds": 5})

        thread = threading.Thread(target=hold)
        thread.start()
        try:
            for _ in range(3):
                fast = c.post("/api/derive", json={"expression": "x'*A*x", "wrt": "x"})
                assert fast.status_code == 200
            assert "response" not in slow  # three answers while the slow request still runs
        finally:
            thread.join()
        assert slow["response"].status_code == 200


def test_a_long_request_is_demoted_and_a_fresh_worker_serves_the_others():
    """One worker: without demotion a second user would wait for the first user's 4 s request."""
    with local_client(create_app(workers=1, time_limit=60.0, test_hooks=True)) as c:
        slow: dict = {}
        thread = threading.Thread(target=lambda: slow.update(response=c.post("/api/_sleep", json={"seconds": 4})))
        thread.start()
        try:
            time.sleep(1.0)                                      # past the pool's slow_after (0.25 s)
            fast = c.post("/api/derive", json={"expression": "x'*A*x", "wrt": "x"})
            assert fast.status_code == 200 and "response" not in slow
            assert c.app.state.pool.demoted == 1
        finally:
            thread.join()
        assert slow["response"].status_code == 200              # the demoted worker still answered
        assert c.post("/api/derive", json={"expression": "x'*x", "wrt": "x"}).json()["result"] == "2*x"


def test_memory_limit_answers_422_and_the_worker_survives():
    with local_client(create_app(workers=1, time_limit=60.0, memory_limit=1 << 30, test_hooks=True)) as c:
        r = c.post("/api/_hog", json={"bytes": 4 << 30})
        assert r.status_code == 422 and r.json() == {"error": "the expression is too large to handle",
                                                     "kind": "limit"}
        assert c.app.state.pool.killed == 0
        assert c.post("/api/derive", json={"expression": "x'*x", "wrt": "x"}).json()["result"] == "2*x"


def test_test_hooks_are_off_by_default(client):
    assert client.post("/api/_sleep", json={"seconds": 0}).status_code == 404


def test_a_matrix_function_of_a_matrix_answers_in_vec_kronecker_form():
    with local_client(create_app(workers=1)) as c:
        r = c.post("/api/derive", json={"expression": "A*X*B", "wrt": "X", "layout": "numerator"})
        assert r.status_code == 200
        body = r.json()
        assert body["result"] == "kron(B', A)" and body["layouts"]["denominator"]["result"] == "kron(B, A')"
        assert body["layouts"]["numerator"]["lhs_latex"].startswith(r"\frac{\partial \operatorname{vec}(F)}")
        assert [s["expression"] for s in body["steps"]] == ["A*dX*B", "kron(B', A)", "vec(A*V*B)"]
        assert "A @ V @ B" in body["numpy"] and "--format kron" in body["cli"]
        r = c.post("/api/check", json={"expression": "A*X*B", "wrt": "X", "claim": "kron(A, B')",
                                       "layout": "numerator"})
        assert r.status_code == 200 and r.json()["status"] == "wrong" and "stacks rows" in r.json()["diagnosis"]
