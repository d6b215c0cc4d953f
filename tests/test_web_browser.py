"""The page in a real browser: Debian's Chromium, headless, driven by Playwright, against `matcalc serve`.

The server is the real command, started on a free loopback port; the page loads only from it (KaTeX
is vendored). The test types the softmax cross-entropy as a user would, waits for the typeset result,
checks that KaTeX rendered it (KaTeX nodes present, no raw TeX left on the page), sees a parse error
with its caret, submits a wrong claim and reads the diagnosis, checks a derivation, and opens the
permalink in a fresh page. Set MATCALC_SCREENSHOTS=DIR to keep the screenshots (docs/ has them).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import playwright.sync_api as playwright  # [webtest]: a missing one is a failed install, never a skip
import starlette  # noqa: F401

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
RAW_TEX = re.compile(r"\\(operatorname|left|right|frac|top|partial|oslash|mathrm)\b|\^\\")
SOFTMAX_CE = "-y'*log(softmax(W*x + b))"

if not os.path.exists(CHROMIUM):  # CI installs it (.ci/run); a developer: apt-get install chromium
    pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium", pytrace=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = free_port()
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH")) if p))
    process = subprocess.Popen([sys.executable, "-m", "matcalc.cli", "serve", "--port", str(port),
                                "--workers", "2", "--time-limit", "60"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(url + "api/examples", timeout=5) as r:
                if r.status == 200:
                    break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail("matcalc serve did not start:\n" + process.stdout.read().decode(errors="replace"))
            time.sleep(0.2)
    yield url
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


def shoot(page, tmp_path, name: str, selector: str | None = None) -> None:
    keep = os.environ.get("MATCALC_SCREENSHOTS")
    target = Path(keep) / f"{name}.png" if keep else tmp_path / f"{name}.png"
    (page.locator(selector) if selector else page).screenshot(path=str(target), **({} if selector else
                                                                                   {"full_page": True}))
    assert target.stat().st_size > 5000
    if keep:  # for docs/: a palette PNG is a fraction of the size and looks the same for a page like this
        from PIL import Image

        Image.open(target).convert("RGB").quantize(colors=96, method=Image.Quantize.MEDIANCUT).save(
            target, optimize=True)


def no_raw_tex(page, selector: str) -> None:
    text = page.inner_text(selector)
    assert not RAW_TEX.search(text), f"raw TeX left in {selector}: {RAW_TEX.search(text).group(0)!r}"


def blank_page(opener, server, before=None):
    """The page (from a browser or a browser context), loaded and ready, every input box emptied;
    `before(page)` runs before it loads (to watch its requests)."""
    page = opener.new_page() if hasattr(opener, "pages") else opener.new_page(viewport={"width": 1100,
                                                                                      "height": 900})
    if before is not None:
        before(page)
    page.goto(server)
    page.wait_for_selector("body[data-ready=yes]")
    for field in ("#expression", "#wrt", "#shapes", "#assume", "#claim"):
        page.fill(field, "")
    return page


def test_derive_check_and_permalink_in_chromium(server, browser, tmp_path):
    context = browser.new_context(viewport={"width": 1100, "height": 900},
                                  permissions=["clipboard-read", "clipboard-write"])
    failed = []

    def watch(page):
        # a request the page itself aborts (newer inputs typed) is fine; any other failure is not
        page.on("requestfailed", lambda r: "ERR_ABORTED" in (r.failure or "") or failed.append(r.url))
        page.on("pageerror", lambda e: failed.append(str(e)))

    page = blank_page(context, server, watch)

    # a parse error shows under the box, with the caret under the column
    page.type("#expression", "tr(A*X")
    page.fill("#wrt", "X")
    page.wait_for_selector("body[data-busy=no]")
    assert page.get_attribute("body", "data-derived") == "error"
    assert page.inner_text("#expression-error").splitlines() == ["error: unclosed '(' (column 3)",
                                                                 "  tr(A*X", "    ^"]

    # the softmax cross-entropy, typed key by key
    page.fill("#expression", "")
    page.type("#expression", SOFTMAX_CE, delay=5)
    page.fill("#wrt", "W")
    page.type("#assume", "sum(y) = 1")
    page.wait_for_selector("body[data-busy=no]")
    assert page.get_attribute("body", "data-derived") == "ok"
    assert page.is_hidden("#expression-error")
    # typeset by KaTeX: its nodes, in both layouts and in every step; the TeX itself appears nowhere
    for box in ("#result-main", "#result-other", "#expression-preview"):
        assert page.locator(f"{box} .katex .katex-html").count() == 1, box
    tex = page.eval_on_selector("#result-main annotation", "a => a.textContent")
    assert "\\operatorname{softmax}" in tex and "x^\\top" in tex
    steps = page.locator("#steps li")
    assert steps.count() >= 5
    assert page.locator("#steps li .katex").count() == steps.count()
    assert "Softmax function" in page.inner_text("#steps")
    assert page.locator("#where .katex").count() == 2  # z = W*x + b, s = softmax(z)
    no_raw_tex(page, "#result-panel")
    assert "def d_dW(" in page.inner_text("#numpy")
    page.click("#copy-code")
    # expect() polls without evaluating a string in the page (the page's CSP forbids eval, which
    # wait_for_function needs once the condition is not already true at its first look)
    playwright.expect(page.locator("#copy-code")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == page.eval_on_selector("#numpy", "e => e.textContent")
    shoot(page, tmp_path, "serve-derive", "#derive-panel")

    # a wrong claim: the transpose mistake is diagnosed, with evidence
    page.fill("#claim", "x*(softmax(W*x + b) - y)'")
    page.click("#check-button")
    page.wait_for_selector("#verdict:not([hidden])")
    assert "wrong (transpose)" in page.inner_text("#verdict-head")
    assert "numerator-layout answer" in page.inner_text("#diagnosis")
    assert "random instances" in page.inner_text("#evidence")
    assert page.locator("#verdict .katex").count() == 2
    no_raw_tex(page, "#check-panel")

    # a derivation: each line marked, the first bad line named
    page.click("button[data-example=softmax-ce]")  # also fills the derivation box
    playwright.expect(page.locator("#derivation")).to_have_value(re.compile("let s"))
    page.click("#derivation-button")
    page.wait_for_selector("#derivation-result:not([hidden])")
    assert page.locator("#derivation-lines li.bad").count() == 1
    assert re.match(r"BAD\s+line 9$", page.inner_text("#derivation-lines li.bad .mark"))
    assert "wrong sign" in page.inner_text("#derivation-head")
    no_raw_tex(page, "#derivation-panel")
    page.click("#check-button")  # the example's claim, with its typical mistake
    page.wait_for_selector("#verdict:not([hidden])")
    assert "wrong (transpose)" in page.inner_text("#verdict-head")
    shoot(page, tmp_path, "serve-page")

    # the permalink reproduces the inputs in a fresh page, and the claim is checked again
    page.fill("#claim", "x*(softmax(W*x + b) - y)'")
    page.dispatch_event("#claim", "input")
    link = page.get_attribute("#permalink", "href")
    assert link.startswith("#") and "claim=" in link
    fresh = browser.new_page(viewport={"width": 1100, "height": 900})
    fresh.goto(server + link)
    fresh.wait_for_selector("body[data-ready=yes][data-busy=no][data-derived=ok]")
    fresh.wait_for_selector("#verdict:not([hidden])")
    assert fresh.input_value("#expression") == SOFTMAX_CE
    assert fresh.input_value("#wrt") == "W" and fresh.input_value("#assume") == "sum(y) = 1"
    assert fresh.eval_on_selector("#result-main annotation", "a => a.textContent") == tex
    assert "wrong (transpose)" in fresh.inner_text("#verdict-head")
    shoot(fresh, tmp_path, "serve-check", "#check-panel")
    assert not failed, failed
    fresh.close()
    context.close()


def test_examples_and_numerator_layout(server, browser):
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.goto(server)
    page.wait_for_selector("body[data-ready=yes]")
    page.click("button[data-example=batched-mlp]")
    page.wait_for_selector("body[data-busy=no][data-derived=ok]")
    assert "with respect to W2" in page.inner_text("#result-kind")
    assert "relu" in page.eval_on_selector("#result-main annotation", "a => a.textContent")
    page.select_option("#layout", "numerator")
    page.wait_for_selector("body[data-busy=no][data-derived=ok]")
    assert page.inner_text("#layout-main-title").startswith("numerator")
    assert page.inner_text("#layout-other-title").startswith("denominator")
    no_raw_tex(page, "#result-panel")
    assert "layout=numerator" in page.get_attribute("#permalink", "href")
    page.close()


def test_a_matrix_function_is_typeset_in_kronecker_form(server, browser):
    page = blank_page(browser, server)
    page.type("#expression", "A*X*B")
    page.fill("#wrt", "X")
    page.wait_for_selector("body[data-busy=no][data-derived=ok]")
    tex = page.eval_on_selector("#result-main annotation", "a => a.textContent")
    assert "\\otimes" in tex and "\\operatorname{vec}" in tex
    assert page.locator("#steps li .katex").count() == 3
    no_raw_tex(page, "#result-panel")
    assert "A @ V @ B" in page.inner_text("#numpy")
    page.close()


def test_check_a_document_in_chromium(server, browser, tmp_path):
    """The "check a document" box: a pasted LaTeX paper, each equation marked, the planted errors ✗."""
    page = blank_page(browser, server)
    text = (Path(__file__).parent / "data" / "documents" / "least_squares_gaussian.err.tex").read_text(encoding="utf-8")
    page.fill("#document", text)
    page.click("#document-button")
    page.wait_for_selector("#document-result:not([hidden])")
    assert page.inner_text("#document-head").startswith("✗") and "4 wrong" in page.inner_text("#document-head")
    lines = page.locator("#document-lines li")
    assert lines.count() >= 25 and page.locator("#document-lines li.bad").count() == 4
    assert page.locator("#document-lines li .katex").count() >= lines.count() - 2    # the math typeset
    bad = page.inner_text("#document-lines li.bad >> nth=0")
    assert "line 30" in bad and "WRONG: the sign is wrong" in bad
    shoot(page, tmp_path, "serve-document", "#document-panel")
    page.close()
