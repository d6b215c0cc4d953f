"""The page's "check a document" box through the API (POST /api/check-document, Starlette's test client).

The served verdicts are judged against tests/data/documents/expected.toml, whose labels are checked
numerically outside matcalc (tests/test_document_labels.py): the planted error is WRONG on its line,
nothing labelled wrong or ill-posed is CORRECT, and the answer is the library's own report.
"""

from __future__ import annotations

import json
import tomllib
import warnings
from pathlib import Path

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's note about httpx vs httpx2; httpx is what is installed
    from starlette.testclient import TestClient

from matcalc.check.documents import check_document  # noqa: E402
from matcalc.web.app import create_app  # noqa: E402

DOCS = Path(__file__).parent / "data" / "documents"
EXPECTED = tomllib.loads((DOCS / "expected.toml").read_text(encoding="utf-8"))["equation"]


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(workers=1, time_limit=60.0), base_url="http://127.0.0.1:8765") as c:  # a Host it serves
        yield c


def labels(name: str) -> dict:
    return {(e.get("cell"), e["line"], "".join(e["latex"].split())): e["truth"] for e in EXPECTED if e["file"] == name}


@pytest.mark.parametrize("name, line", [("seed_000_softmax_zh.err_sign.md", 148),
                                        ("batched_mlp_notebook.err.ipynb", 9)])
def test_a_pasted_document_gets_every_verdict_and_the_planted_error(client, name, line):
    text = (DOCS / name).read_text(encoding="utf-8")
    r = client.post("/api/check-document", json={"document": text, "name": name})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ok"] is False and set(body) >= {"equations", "counts"}
    assert body == {"ok": False, **check_document(text.strip(), name).as_dict()}    # the library's own report
    wrong = [e for e in body["equations"] if e["verdict"] == "WRONG"]
    assert any(e["line"] == line and e["why"] for e in wrong), wrong
    truth = labels(name)
    for e in body["equations"]:
        assert e["verdict"] in ("CORRECT", "WRONG", "UNREAD") and e["why"]
        label = truth.get((e.get("cell"), e["line"], "".join(e["latex"].split())))
        assert not (e["verdict"] == "CORRECT" and label in ("wrong", "ill-posed")), e


def test_the_name_decides_the_reader_and_a_notebook_needs_its_name_or_its_json(client):
    tex = (DOCS / "least_squares_gaussian.tex").read_text(encoding="utf-8")
    r = client.post("/api/check-document", json={"document": tex, "name": "paper.tex"})
    assert r.status_code == 200 and any(e["verdict"] == "CORRECT" for e in r.json()["equations"])
    nb = (DOCS / "seed_001_softmax_ce_zh.ipynb").read_text(encoding="utf-8")
    r = client.post("/api/check-document", json={"document": nb})         # no name: its JSON says it
    assert r.status_code == 200 and all("cell" in e for e in r.json()["equations"])


@pytest.mark.parametrize("payload, words", [
    ({}, "'document' is required"),
    ({"document": "   "}, "'document' is required"),
    ({"document": 12}, "'document' must be text"),
    ({"document": "$x$" * 20001}, "too long"),                    # 60,003 characters: over the box's limit
    ({"document": "$x$" * 30000}, "larger than"),                 # over the request's 64 KiB
    ({"document": "{\"cells\": 3}", "name": "x.ipynb"}, "notebook"),
    ({"document": "{\"cells\": [1, {\"cell_type\": \"markdown\", \"source\": 5}]}", "name": "x.ipynb"}, "notebook"),
])
def test_bad_documents_are_clear_errors(client, payload, words):
    r = client.post("/api/check-document", json=payload)
    assert r.status_code in (400, 413, 422), r.text      # a bad request, too large, bad input
    assert words in json.dumps(r.json())


def test_the_page_has_the_box(client):
    page = client.get("/").text
    for part in ('id="document-panel"', 'id="document"', 'id="document-file"', 'id="document-button"'):
        assert part in page
    script = client.get("/static/app.js").text
    assert "/api/check-document" in script
