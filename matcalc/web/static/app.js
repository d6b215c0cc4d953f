// matcalc's page: talks to the JSON API of the same server, typesets with the vendored KaTeX.
// Every server text goes into the page as textContent (never as HTML); only KaTeX writes markup.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const FIELDS = ["expression", "wrt", "shapes", "assume", "layout", "order", "direction", "input", "claim",
                  "derivation"];
  const PARAM = {expression: "e", wrt: "wrt", shapes: "shapes", assume: "assume", layout: "layout",
                 order: "order", direction: "dir", input: "input", claim: "claim", derivation: "deriv"};
  let deriveTimer = null;
  let deriveAbort = null;
  let deriveSeq = 0;

  // ------------------------------------------------------------ helpers

  function typeset(el, latex, fallback, display) {
    el.textContent = "";
    if (latex && window.katex) {
      try {
        window.katex.render(latex, el, {displayMode: display !== false, throwOnError: true, strict: "ignore"});
        return;
      } catch (err) { /* fall through to the text */ }
    }
    const code = document.createElement("code");
    code.textContent = fallback || latex || "";
    el.appendChild(code);
  }

  function inline(latex, fallback) {
    const span = document.createElement("span");
    span.className = "math-inline";
    typeset(span, latex, fallback, false);
    return span;
  }

  function showError(el, body) {
    if (!body) { el.hidden = true; el.textContent = ""; return; }
    el.hidden = false;
    el.textContent = "error: " + body.error + (body.caret ? "\n" + body.caret : "") +
                     (body.detail ? "\n" + body.detail : "");
  }

  function state() {
    const s = {};
    for (const f of FIELDS) s[f] = $(f).value;
    return s;
  }

  function request(s) {
    return {expression: s.expression, wrt: s.wrt, shapes: s.shapes, assume: s.assume, layout: s.layout,
            order: Number(s.order), direction: s.direction || null, input: s.input};
  }

  async function post(path, payload, signal) {
    const response = await fetch(path, {method: "POST", headers: {"Content-Type": "application/json"},
                                        body: JSON.stringify(payload), signal});
    let body;
    try { body = await response.json(); } catch (err) {
      body = {error: "the server's answer was not JSON (HTTP " + response.status + ")"};
    }
    return {ok: response.ok, status: response.status, body};
  }

  // ------------------------------------------------------------ permalink

  function updatePermalink() {
    const params = new URLSearchParams();
    const s = state();
    for (const f of FIELDS) {
      const defaults = {layout: "denominator", order: "1", input: "auto"};
      if (s[f] && s[f] !== defaults[f]) params.set(PARAM[f], s[f]);
    }
    const hash = "#" + params.toString();
    $("permalink").href = hash;
    if (location.hash !== hash) history.replaceState(null, "", hash);
  }

  function loadFromHash() {
    const params = new URLSearchParams(location.hash.replace(/^#/, ""));
    if (![...params.keys()].length) return false;
    for (const f of FIELDS) {
      const v = params.get(PARAM[f]);
      $(f).value = v !== null ? v : ({layout: "denominator", order: "1", input: "auto"}[f] || "");
    }
    return true;
  }

  function setState(s) {
    for (const f of FIELDS) {
      if (s[f] !== undefined) $(f).value = s[f];
    }
  }

  // ------------------------------------------------------------ derive

  function scheduleDerive(delay) {
    clearTimeout(deriveTimer);
    if (deriveAbort) deriveAbort.abort();  // an answer to older inputs is of no use now
    deriveSeq++;
    document.body.dataset.busy = "yes";  // until the answer to the latest inputs is shown
    deriveTimer = setTimeout(derive, delay === undefined ? 350 : delay);
    updatePermalink();
  }

  async function derive() {
    deriveTimer = null;
    const s = state();
    $("direction-label").hidden = s.order !== "2";
    if (!s.expression.trim()) {
      showError($("expression-error"), null);
      $("result-panel").hidden = true;
      $("expression-preview").textContent = "";
      document.body.dataset.busy = "no";
      return;
    }
    if (deriveAbort) deriveAbort.abort();
    deriveAbort = new AbortController();
    const seq = ++deriveSeq;
    $("status").textContent = "deriving…";
    let answer;
    try {
      answer = await post("/api/derive", request(s), deriveAbort.signal);
    } catch (err) {
      if (err.name === "AbortError") return;
      answer = {ok: false, body: {error: "cannot reach the server: " + err.message}};
    }
    if (seq !== deriveSeq) return;  // a newer request is under way
    $("status").textContent = "";
    if (!answer.ok) {
      showError($("expression-error"), answer.body);
      $("result-panel").hidden = true;
      $("expression-preview").textContent = "";
      document.body.dataset.derived = "error";
    } else {
      showError($("expression-error"), null);
      showDerivation(answer.body);
      document.body.dataset.derived = "ok";
    }
    if (deriveTimer === null) document.body.dataset.busy = "no";
  }

  function showDerivation(d) {
    typeset($("expression-preview"), "f = " + d.expression_latex, d.expression, false);
    const other = d.layout === "denominator" ? "numerator" : "denominator";
    const lhs = d.order === 2 ? (d.direction ? "H[" + d.direction + "] = " : "\\nabla^2 f = ")
                              : "\\frac{\\partial f}{\\partial " + d.wrt_latex + "} = ";
    $("layout-main-title").textContent = d.layout + " layout (" + d.layouts[d.layout].shape + ")";
    typeset($("result-main"), (d.layouts[d.layout].lhs_latex || lhs) + d.layouts[d.layout].latex,
            d.layouts[d.layout].result);
    $("layout-other-title").textContent = other + " layout (" + d.layouts[other].shape + ")";
    typeset($("result-other"), (d.layouts[other].lhs_latex || lhs) + d.layouts[other].latex,
            d.layouts[other].result);
    $("result-kind").textContent = d.kind + " derivative with respect to " + d.wrt +
      (d.assumptions.length ? ", assuming " + d.assumptions.join("; ") : "");
    $("result-shapes").textContent = "shapes: " +
      Object.entries(d.shapes_text).map(([n, s]) => n + " " + s).join(", ");

    const where = d.shared.where || [];
    $("shared").hidden = !where.length;
    if (where.length) {
      typeset($("shared-math"), d.shared.latex, d.shared.result);
      fillWhere($("shared-where"), where);
    }
    fillWhere($("where"), d.where);
    const steps = $("steps");
    steps.textContent = "";
    for (const s of d.steps) {
      const li = document.createElement("li");
      li.className = "step " + s.kind + (s.number ? "" : " continued");
      const math = document.createElement("div");
      math.className = "step-math";
      if (s.number) {
        const n = document.createElement("span");
        n.className = "step-number";
        n.textContent = s.number + ".";
        math.appendChild(n);
        math.appendChild(inline("\\displaystyle " + (s.target_latex || s.target) + " = " + (s.latex || ""),
                                s.target + " = " + s.expression));
      } else {
        math.appendChild(inline("= " + (s.latex || ""), "= " + s.expression));
      }
      li.appendChild(math);
      if (s.rule) {
        const why = document.createElement("div");
        why.className = "step-rule";
        why.textContent = "by " + s.rule;
        if (s.source) {
          const src = document.createElement("span");
          src.className = "source";
          src.textContent = "  [" + s.source + "]";
          why.appendChild(src);
        }
        li.appendChild(why);
      }
      steps.appendChild(li);
    }
    $("numpy").textContent = d.numpy || ("(no code: " + d.numpy_error + ")");
    $("result-checked").textContent = d.checked ? "Checked before it was shown: " + d.checked.text : "";
    $("cli").textContent = d.cli;
    $("result-panel").hidden = false;
  }

  function fillWhere(ul, defs) {
    ul.textContent = "";
    defs.forEach((w, k) => {
      const li = document.createElement("li");
      li.appendChild(inline(w.name + " = " + (w.latex || ""), w.name + " = " + w.definition));
      ul.appendChild(li);
    });
    if (defs.length) ul.firstChild.prepend(document.createTextNode("where "));
  }

  // ------------------------------------------------------------ check a claim

  async function checkClaim() {
    updatePermalink();
    const s = state();
    const payload = Object.assign(request(s), {claim: s.claim});
    delete payload.direction;
    $("check-button").disabled = true;
    $("verdict").hidden = true;
    let answer;
    try {
      answer = await post("/api/check", payload);
    } catch (err) {
      answer = {ok: false, body: {error: "cannot reach the server: " + err.message}};
    } finally {
      $("check-button").disabled = false;
    }
    if (!answer.ok) { showError($("claim-error"), answer.body); return; }
    showError($("claim-error"), null);
    const v = answer.body;
    const head = $("verdict-head");
    head.textContent = v.ok ? "✓ correct" : "✗ " + v.status + (v.kind ? " (" + v.kind + ")" : "");
    head.className = "verdict " + (v.ok ? "good" : "bad");
    $("diagnosis").textContent = v.diagnosis;
    typeset($("claim-math"), v.claim_latex, v.claim);
    typeset($("expected-math"), v.expected_latex, v.expected || "(matcalc could not derive it)");
    $("evidence").textContent = v.evidence;
    const notes = $("notes");
    notes.textContent = "";
    for (const n of v.notes.concat(v.rescue ? ["right if you assume: " + v.rescue] : [])) {
      const li = document.createElement("li");
      li.textContent = n;
      notes.appendChild(li);
    }
    $("verdict").hidden = false;
    $("verdict").dataset.status = v.status;
  }

  // ------------------------------------------------------------ check a derivation

  async function checkDerivation() {
    updatePermalink();
    const s = state();
    $("derivation-button").disabled = true;
    $("derivation-result").hidden = true;
    let answer;
    try {
      answer = await post("/api/check-derivation", {derivation: s.derivation, input: s.input});
    } catch (err) {
      answer = {ok: false, body: {error: "cannot reach the server: " + err.message}};
    } finally {
      $("derivation-button").disabled = false;
    }
    if (!answer.ok) { showError($("derivation-error"), answer.body); return; }
    showError($("derivation-error"), null);
    const v = answer.body;
    const head = $("derivation-head");
    head.textContent = (v.ok ? "✓ " : "✗ ") + v.diagnosis;
    head.className = "verdict " + (v.ok ? "good" : "bad");
    const ol = $("derivation-lines");
    ol.textContent = "";
    for (const step of v.steps) {
      const li = document.createElement("li");
      li.className = step.ok ? "ok" : "bad";
      const mark = document.createElement("span");
      mark.className = "mark";
      mark.textContent = (step.ok ? "ok" : "BAD") + "  line " + step.line;
      li.appendChild(mark);
      li.appendChild(inline(step.latex, step.text));
      if (!step.ok) {
        const why = document.createElement("div");
        why.className = "step-rule";
        why.textContent = step.diagnosis;
        li.appendChild(why);
      }
      ol.appendChild(li);
    }
    $("derivation-result").hidden = false;
  }

  // ------------------------------------------------------------ check a document

  let documentName = "";

  async function checkDocument() {
    $("document-button").disabled = true;
    $("document-result").hidden = true;
    let answer;
    try {
      answer = await post("/api/check-document", {document: $("document").value, name: documentName});
    } catch (err) {
      answer = {ok: false, body: {error: "cannot reach the server: " + err.message}};
    } finally {
      $("document-button").disabled = false;
    }
    if (!answer.ok) { showError($("document-error"), answer.body); return; }
    showError($("document-error"), null);
    const v = answer.body;
    const c = v.counts;
    const head = $("document-head");
    head.textContent = (v.ok ? "✓ " : "✗ ") + v.equations.length + " equations: " + c.CORRECT + " correct, " +
      c.WRONG + " wrong, " + c.UNREAD + " unread";
    head.className = "verdict " + (v.ok ? "good" : "bad");
    const ol = $("document-lines");
    ol.textContent = "";
    const marks = {CORRECT: "✓", WRONG: "✗", UNREAD: "?"};
    for (const e of v.equations) {
      const li = document.createElement("li");
      li.className = e.verdict === "CORRECT" ? "ok" : (e.verdict === "WRONG" ? "bad" : "unread");
      const mark = document.createElement("span");
      mark.className = "mark";
      mark.textContent = marks[e.verdict] + "  " + (e.cell !== undefined ? "cell " + e.cell + " " : "") + "line " + e.line;
      li.appendChild(mark);
      // a link of an aligned chain keeps its & and \\: typeset it as the aligned rows it is
      const tex = /&|\\\\/.test(e.latex) && !/\\begin\{/.test(e.latex) ?
        "\\begin{aligned}" + e.latex + "\\end{aligned}" : e.latex;
      li.appendChild(inline(tex, e.latex));
      const why = document.createElement("div");
      why.className = "step-rule";
      why.textContent = e.verdict + ": " + e.why;
      li.appendChild(why);
      ol.appendChild(li);
    }
    $("document-result").hidden = false;
  }

  function readDocumentFile() {
    const f = $("document-file").files[0];
    if (!f) return;
    documentName = f.name;
    f.text().then((t) => { $("document").value = t; });
  }

  // ------------------------------------------------------------ examples and wiring

  async function loadExamples() {
    const nav = $("examples");
    const response = await fetch("/api/examples");
    const {examples} = await response.json();
    for (const ex of examples) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = ex.title;
      b.dataset.example = ex.id;
      b.addEventListener("click", () => {
        setState({expression: ex.expression, wrt: ex.wrt, shapes: ex.shapes, assume: ex.assume,
                  layout: ex.layout, order: "1", direction: "", input: "auto", claim: ex.claim,
                  derivation: ex.derivation});
        $("verdict").hidden = true;
        $("derivation-result").hidden = true;
        scheduleDerive(0);
      });
      nav.appendChild(b);
    }
    return examples;
  }

  async function start() {
    for (const f of ["expression", "wrt", "shapes", "assume", "direction"]) {
      $(f).addEventListener("input", () => scheduleDerive());
    }
    for (const f of ["layout", "order", "input"]) $(f).addEventListener("change", () => scheduleDerive(0));
    for (const f of ["claim", "derivation"]) $(f).addEventListener("input", updatePermalink);
    $("claim").addEventListener("keydown", (e) => { if (e.key === "Enter") checkClaim(); });
    $("check-button").addEventListener("click", checkClaim);
    $("derivation-button").addEventListener("click", checkDerivation);
    $("document-button").addEventListener("click", checkDocument);
    $("document-file").addEventListener("change", readDocumentFile);
    $("copy-code").addEventListener("click", async () => {
      const text = $("numpy").textContent;
      try {
        await navigator.clipboard.writeText(text);
      } catch (err) {  // no clipboard permission (plain http on another host): select the text instead
        const range = document.createRange();
        range.selectNodeContents($("numpy"));
        const sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
      }
      $("copy-code").textContent = "Copied";
      setTimeout(() => { $("copy-code").textContent = "Copy"; }, 1200);
    });
    window.addEventListener("hashchange", () => { if (loadFromHash()) runAll(); });
    const examples = await loadExamples();
    if (!loadFromHash() && examples.length) {
      const ex = examples[0];
      setState({expression: ex.expression, wrt: ex.wrt, shapes: ex.shapes, assume: ex.assume,
                layout: ex.layout, claim: "", derivation: ex.derivation});
    }
    runAll();
    document.body.dataset.ready = "yes";
  }

  function runAll() {
    scheduleDerive(0);
    if ($("claim").value.trim()) checkClaim();
    if ($("derivation").value.trim() && new URLSearchParams(location.hash.slice(1)).has("deriv")) checkDerivation();
  }

  document.addEventListener("DOMContentLoaded", start);
})();
