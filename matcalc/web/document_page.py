"""A checked document as one self-contained HTML page (`matcalc check --document FILE --format html`).

The document is shown as written — headings, paragraphs, lists, quotes and code blocks of its Markdown,
its math typeset by the KaTeX that matcalc vendors (static/katex: script, style and fonts inlined, so the
page works offline and alone) — and under every span that states something, each of its equations marked
✓ (CORRECT), ✗ (WRONG) or ? (UNREAD) with the reason beside it. No text of the document reaches the page
unescaped: prose is HTML-escaped, math is handed to KaTeX as text, never as markup.
"""

from __future__ import annotations

import base64
import html
import json
import re
from functools import lru_cache
from pathlib import Path

from ..check.documents.spans import cells_of, find_spans

KATEX = Path(__file__).parent / "static" / "katex"
MARKS = {"CORRECT": ("✓", "ok"), "WRONG": ("✗", "bad"), "UNREAD": ("?", "unread")}

STYLE = """
body{font:15px/1.55 system-ui,sans-serif;max-width:58rem;margin:2rem auto;padding:0 1rem;color:#222}
pre{background:#f6f6f6;padding:.6rem;overflow:auto}.cell{border-left:3px solid #ddd;padding-left:.8rem;margin:1rem 0}
.checks{list-style:none;margin:.2rem 0 .8rem 0;padding:.3rem .6rem;background:#fafafa;border:1px solid #eee}
.checks li{margin:.15rem 0;font-size:13px}.ok .mark{color:#18794e}.bad .mark{color:#c62828}.unread .mark{color:#8a6d00}
.mark{font-weight:bold;display:inline-block;width:1.2em}.why{color:#555}.bad .why{color:#a11}
.label{color:#999;font-size:11px}.code pre{background:#f3f6fa}
.summary{padding:.5rem .8rem;background:#f0f4ff;border:1px solid #cdd}blockquote{border-left:3px solid #ccc;margin:0;padding-left:.8rem}
"""

SCRIPT = """
document.querySelectorAll('[data-tex]').forEach(function(el){
  try { katex.render(el.getAttribute('data-tex'), el, {displayMode: el.dataset.display === '1', throwOnError: false}); }
  catch (e) { el.textContent = el.getAttribute('data-tex'); }
});
"""


@lru_cache(maxsize=1)
def _katex() -> tuple[str, str]:
    css = (KATEX / "katex.min.css").read_text(encoding="utf-8")

    def font(m):
        name = m.group(1)
        path = KATEX / "fonts" / name
        if not path.exists() or not name.endswith(".woff2"):
            return "url()"
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return f"url(data:font/woff2;base64,{data})"

    css = re.sub(r"url\(fonts/([^)]+)\)", font, css)
    js = (KATEX / "katex.min.js").read_text(encoding="utf-8")
    return css, js.replace("</script", "<\\/script")


def document_html(text: str, report, title: str = "document") -> str:
    css, js = _katex()
    by_span: dict = {}
    for e in report.equations:
        by_span.setdefault((e.cell, e.span_line), []).append(e)
    parts = []
    shown = cells_of(text, title)
    code = _code_cells(text) if shown and shown[0][0] is not None else {}
    for cell, body, tex in shown:
        while code and min(code) < cell:
            parts.append(code.pop(min(code)))
        spans = find_spans(body, tex, cell)
        parts.append(_render(body, spans, by_span, cell, tex))
    parts.extend(code[k] for k in sorted(code))
    c = report.counts()
    read, total = report.derivative_counts()
    summary = (f"<p class='summary'>{len(report.equations)} equations: {c['CORRECT']} ✓ correct, "
               f"{c['WRONG']} ✗ wrong, {c['UNREAD']} ? unread; derivative claims read {read}/{total}.</p>")
    return ("<!doctype html><html><head><meta charset='utf-8'><title>" + html.escape(title) + " — matcalc</title>"
            f"<style>{css}</style><style>{STYLE}</style></head><body><h1>matcalc: {html.escape(title)}</h1>"
            + summary + "".join(parts) + f"<script>{js}</script><script>{SCRIPT}</script></body></html>")


def _render(body: str, spans, by_span, cell, tex: bool) -> str:
    out = []
    pos = 0
    pending: list = []
    starts = {s.start: s for s in spans}
    del starts
    for s in spans:
        open_len = _delimiter_length(body, s)
        out.append(_prose(body[pos:s.start - open_len], tex))
        out.append(f"<span data-tex=\"{html.escape(s.latex, quote=True)}\" data-display=\"{int(s.display)}\"></span>")
        close = _closing_length(body, s)
        pos = s.end + close
        eqs = by_span.get((cell, s.line), [])
        if eqs:
            pending.extend(eqs)
            by_span[(cell, s.line)] = []
        if pending and (s.display or "\n" in body[pos:pos + 200].split("$")[0]):
            out.append(_checks(pending))
            pending = []
    out.append(_prose(body[pos:], tex))
    if pending:
        out.append(_checks(pending))
    inner = "".join(out)
    return f"<div class='cell' data-cell='{cell}'><div class='label'>[{cell}] markdown</div>{inner}</div>" \
        if cell is not None else inner


def _code_cells(text: str) -> dict:
    """A notebook's code cells, shown as written (never run), by their index among all cells."""
    out = {}
    for k, c in enumerate(json.loads(text)["cells"]):
        if isinstance(c, dict) and c.get("cell_type") != "markdown":
            src = c.get("source", "")
            src = "".join(x for x in src if isinstance(x, str)) if isinstance(src, list) else str(src)
            out[k] = (f"<div class='cell code' data-cell='{k}'><div class='label'>[{k}] {html.escape(str(c.get('cell_type')))}"
                      f"</div><pre>{html.escape(src)}</pre></div>")
    return out


def _delimiter_length(body: str, s) -> int:
    for d in ("$$", "$", "\\(", "\\["):
        if body[max(0, s.start - len(d)):s.start] == d:
            return len(d)
    m = re.search(r"\\begin\{[a-z*]+\}$", body[max(0, s.start - 30):s.start])
    return len(m.group(0)) if m else 0


def _closing_length(body: str, s) -> int:
    for d in ("$$", "$", "\\)", "\\]"):
        if body.startswith(d, s.end):
            return len(d)
    m = re.match(r"\\end\{[a-z*]+\}", body[s.end:s.end + 30])
    return len(m.group(0)) if m else 0


def _checks(eqs) -> str:
    items = []
    for e in eqs:
        mark, cls = MARKS[e.verdict]
        where = (f"cell {e.cell}, " if e.cell is not None else "") + f"line {e.line}" + (f", link {e.link}" if e.link else "")
        items.append(f"<li class='{cls}'><span class='mark'>{mark}</span>"
                     f"<span data-tex=\"{html.escape(e.latex, quote=True)}\" data-display=\"0\"></span> "
                     f"<span class='why'>— {html.escape(e.verdict)} ({html.escape(where)}): {html.escape(e.why)}"
                     + (f" [{html.escape('; '.join(e.assumed))}]" if e.assumed else "") + "</span></li>")
    return "<ul class='checks'>" + "".join(items) + "</ul>"


def _prose(t: str, tex: bool) -> str:
    """A minimal Markdown: headings, code fences, quotes, paragraphs; everything escaped."""
    if not t:
        return ""
    out, in_code = [], False
    for ln in t.split("\n"):
        s = ln.strip()
        if s.startswith("```") or s.startswith("~~~"):
            out.append("</pre>" if in_code else "<pre>")
            in_code = not in_code
            continue
        if in_code:
            out.append(html.escape(ln) + "\n")
            continue
        m = re.match(r"(#{1,6})\s+(.*)", s)
        if m and not tex:
            n = len(m.group(1))
            out.append(f"<h{n + 1}>{html.escape(m.group(2))}</h{n + 1}>")
            continue
        if not s:
            out.append("<br>")
            continue
        s = re.sub(r"<img\b[^>]*>|!\[[^\]]*\]\([^)]*\)", "[image]", s)
        s = re.sub(r"<script\b.*?</script>|</?script[^>]*>", "", s)
        text = html.escape(s if not s.startswith(">") else s[1:].strip())
        text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
        out.append(("<blockquote>" + text + "</blockquote>") if s.startswith(">") else text + " ")
    if in_code:
        out.append("</pre>")
    return "".join(out)


def document_json(report) -> str:
    return json.dumps(report.as_dict(), ensure_ascii=False)


__all__ = ["document_html", "document_json"]
