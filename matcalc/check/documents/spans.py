r"""Finding the math in a document: Markdown (`$$…$$`, `$…$`, `\(…\)`, `\[…\]`), LaTeX (also `equation`,
`align`, `gather`, `multline` and their starred forms), a notebook's Markdown cells; code blocks, inline code,
`verbatim`, `%` comments, HTML `<script>`/`<style>` and images skipped. Each span keeps its offset, its
1-based line, and the prose before it (for the cases, layouts and assumptions said in words).

A span is then cut into chains (`split`): rows at `\\`, statements at `\qquad`, `\quad` and top-level commas
between relations, expressions at every top-level relation (`=`, `\in`, `\ne`, `\le`, `<`, arrows). A row
that starts with `=` continues the chain of the row before (`aligned`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from ...errors import MatcalcError

MAX_DOCUMENT = 1_000_000
ENVS = "equation|equation\\*|align|align\\*|gather|gather\\*|multline|multline\\*|eqnarray|eqnarray\\*"


@dataclass
class Span:
    cell: int | None          # notebooks: index among all cells
    start: int                # offsets in the cell's (or file's) text, of the math inside its delimiters
    end: int
    line: int
    text: str                 # the cell's or file's whole text (offsets refer to it)
    display: bool
    before: str = ""          # prose since the previous span (or the start of its section)
    after: str = ""           # the rest of the span's line
    heading: bool = False     # a heading (or a rule, a blockquote's start) stands between the previous span and this
    section: str = ""         # the heading the span is under
    section_line: int = 0     # the line of the last section heading (`#`, `##`, `\section`) before the span
    order: int = 0            # its line counted through the whole document (in a notebook: all its Markdown cells)

    @property
    def latex(self) -> str:
        return self.text[self.start:self.end]


@dataclass
class Piece:
    """One expression of a chain: its offsets and the relation that follows it ('' for the last)."""
    start: int
    end: int
    rel: str = ""


@dataclass
class Chain:
    pieces: list = field(default_factory=list)
    continues: bool = False   # a row starting with '='


# ---------------------------------------------------------------- documents


def cells_of(text: str, name: str = "") -> list[tuple[int | None, str, bool]]:
    """(cell index, text, is_tex) for each part of a document to search for math."""
    if len(text) > MAX_DOCUMENT:
        raise MatcalcError(f"the document is longer than {MAX_DOCUMENT:,} characters")
    if name.endswith(".ipynb") or text.lstrip().startswith("{") and '"cells"' in text[:5000]:
        try:
            nb = json.loads(text)
            cells = nb["cells"]
        except (ValueError, KeyError, TypeError):
            raise MatcalcError("the notebook is not valid JSON with a 'cells' list") from None
        if not isinstance(cells, list):
            raise MatcalcError("the notebook's 'cells' is not a list")
        out = []
        for k, c in enumerate(cells):
            if not isinstance(c, dict) or c.get("cell_type") != "markdown":
                continue
            src = c.get("source", "")
            if isinstance(src, list) and all(isinstance(x, str) for x in src):
                src = "".join(src)
            if not isinstance(src, str):
                raise MatcalcError(f"the notebook's cell {k} has a source that is not text")
            out.append((k, src, False))
        return out
    tex = name.endswith(".tex") or bool(re.search(r"\\documentclass|\\begin\{document\}", text[:20000]))
    return [(None, text, tex)]


def _blank(chars: list, a: int, b: int) -> None:
    for i in range(a, b):
        if chars[i] != "\n":
            chars[i] = " "


def masked(text: str, tex: bool) -> str:
    """The text with everything that is not prose or math blanked out (same offsets)."""
    out = list(text)
    if tex:
        for m in re.finditer(r"\\begin\{(verbatim|lstlisting|minted|comment)\}.*?\\end\{\1\}", text, re.S):
            _blank(out, m.start(), m.end())
        s = "".join(out)
        for m in re.finditer(r"(?<!\\)%[^\n]*", s):
            _blank(out, m.start(), m.end())
        return "".join(out)
    pos, fence = 0, None
    for ln in text.split("\n"):
        stripped = ln.lstrip()
        if fence is None and (stripped.startswith("```") or stripped.startswith("~~~")):
            fence = stripped[:3]
            _blank(out, pos, pos + len(ln))
        elif fence is not None:
            if stripped.startswith(fence):
                fence = None
            _blank(out, pos, pos + len(ln))
        elif ln.startswith("    ") and not stripped.startswith(("$", "\\", "-", "*", "1", ">")) and False:
            _blank(out, pos, pos + len(ln))
        pos += len(ln) + 1
    s = "".join(out)
    for pat in (r"<script\b.*?</script>", r"<style\b.*?</style>", r"<img\b[^>]*>", r"!\[[^\]]*\]\([^)]*\)",
                r"<!--.*?-->"):
        for m in re.finditer(pat, s, re.S | re.I):
            _blank(out, m.start(), m.end())
    s = "".join(out)
    for m in re.finditer(r"(`+)(?!`)(.+?)(?<!`)\1(?!`)", s):
        _blank(out, m.start(), m.end())
    return "".join(out)


def find_spans(text: str, tex: bool, cell: int | None = None) -> list[Span]:
    s = masked(text, tex)
    found = []
    i, n = 0, len(s)
    while i < n:
        if s.startswith("$$", i):
            j = s.find("$$", i + 2)
            if j < 0:
                break
            found.append((i + 2, j, True, j + 2))
            i = j + 2
            continue
        if s[i] == "$" and (i == 0 or s[i - 1] != "\\"):
            j = i + 1
            while j < n and not (s[j] == "$" and s[j - 1] != "\\"):
                j += 1
            if j >= n:
                break
            found.append((i + 1, j, False, j + 1))
            i = j + 1
            continue
        if s.startswith("\\(", i):
            j = s.find("\\)", i + 2)
            if j < 0:
                break
            found.append((i + 2, j, False, j + 2))
            i = j + 2
            continue
        if s.startswith("\\[", i):
            j = s.find("\\]", i + 2)
            if j < 0:
                break
            found.append((i + 2, j, True, j + 2))
            i = j + 2
            continue
        if tex and s.startswith("\\begin{", i):
            m = re.match(r"\\begin\{(" + ENVS + r")\}", s[i:])
            if m:
                end = "\\end{" + m.group(1) + "}"
                j = s.find(end, i)
                if j < 0:
                    break
                found.append((i + m.end(), j, True, j + len(end)))
                i = j + len(end)
                continue
        i += 1
    spans = []
    prev = 0
    section, section_line = "", 0
    for a, b, display, after_end in found:
        prose = s[prev:a]
        heading, section, section_line = _headings(text, prose, prev, section, section_line)
        line_end = text.find("\n", b)
        line_end = len(text) if line_end < 0 else line_end
        line = text.count("\n", 0, a) + 1
        spans.append(Span(cell, a, b, line, text, display,
                          before=_prose(prose), after=_prose(s[after_end:line_end]), heading=heading,
                          section=section, section_line=section_line, order=line))
        prev = after_end
    return spans


HEADING = re.compile(r"(?m)^(#{1,6}\s.*|\s*-{3,}\s*|\s*\*{3,}\s*|>.*)$|\\(?:sub)*section\*?\{[^}]*\}")


def _headings(text: str, prose: str, at: int, section: str, section_line: int) -> tuple[bool, str, int]:
    """Whether a heading (or a rule, a quote) is in `prose` (which starts at offset `at` of `text`), and the
    section and section line after it."""
    heading = False
    for m in HEADING.finditer(prose):
        heading = True
        if m.group(0).lstrip().startswith("#") or m.group(0).startswith("\\"):
            section = m.group(0).strip()
            if re.match(r"#{1,2}\s|\\section", section):
                section_line = text.count("\n", 0, at + m.start()) + 1
    return heading, section, section_line


def document_spans(text: str, name: str = "") -> list[tuple[int | None, str, list[Span]]]:
    """Each part of the document (the file, or a notebook's Markdown cells) with its spans, in order. A notebook
    reads as one document: a heading in a cell of its own (as notebooks have them) starts the section of the cells
    after it and ends their case, and `order` and `section_line` count lines through all its Markdown cells."""
    out = []
    offset, section, section_line, pending = 0, "", 0, False
    for cell, body, tex in cells_of(text, name):
        spans = find_spans(body, tex, cell)
        if cell is None:
            out.append((cell, body, spans))
            continue
        for k, s in enumerate(spans):
            s.order = offset + s.line
            s.section_line = offset + s.section_line if s.section_line else section_line
            s.section = s.section or section
            if k == 0 and pending:
                s.heading = True
        rest = masked(body, tex)[spans[-1].end:] if spans else masked(body, tex)
        start = len(body) - len(rest)
        heading, last, last_line = _headings(body, rest, start, "", 0)
        if spans:
            section, section_line = spans[-1].section, spans[-1].section_line
            pending = heading
        else:
            pending = pending or heading
        section = last or section
        section_line = offset + last_line if last_line else section_line
        offset += body.count("\n") + 1
        out.append((cell, body, spans))
    return out


def _prose(t: str) -> str:
    return re.sub(r"\s+", " ", t).strip()


# ---------------------------------------------------------------- cutting a span into chains

RELATIONS = ["\\Leftarrow", "\\Rightarrow", "\\rightarrow", "\\leftarrow", "\\to", "\\neq", "\\ne", "\\in",
             "\\leq", "\\le", "\\geq", "\\ge", "\\approx", "=", "<", ">"]
GROUPS = ("\\qquad", "\\quad")


def _depths(t: str, a: int, b: int):
    """(position, depth) of every character position that can start a token, in t[a:b]."""
    depth, i = 0, a
    while i < b:
        if t.startswith("\\begin{", i):
            j = t.find("}", i)
            j = b if j < 0 else j
            yield i, depth
            depth += 1
            i = j + 1
            continue
        if t.startswith("\\end{", i):
            j = t.find("}", i)
            j = b if j < 0 else j
            depth -= 1
            yield i, depth
            i = j + 1
            continue
        if t.startswith("\\left\\{", i) or t.startswith("\\{", i):
            yield i, depth
            depth += 1
            i += 7 if t.startswith("\\left\\{", i) else 2
            continue
        if t.startswith("\\right.", i) or t.startswith("\\}", i):
            depth -= 1
            yield i, depth
            i += 7 if t.startswith("\\right.", i) else 2
            continue
        if t.startswith("\\\\", i):
            yield i, depth
            i += 2
            continue
        if t[i] == "\\" and i + 1 < b and not t[i + 1].isalpha():
            yield i, depth
            i += 2
            continue
        c = t[i]
        if c in "{([":
            yield i, depth
            depth += 1
        elif c in "})]":
            depth -= 1
            yield i, depth
        else:
            yield i, depth
        i += 1


def _top(t: str, a: int, b: int, pats) -> list[tuple[int, int, str]]:
    out, skip = [], a
    for i, d in _depths(t, a, b):
        if i < skip or d != 0:
            continue
        for p in pats:
            if t.startswith(p, i):
                if p[0] == "\\" and p[-1].isalpha() and i + len(p) < len(t) and t[i + len(p)].isalpha():
                    continue
                out.append((i, i + len(p), p))
                skip = i + len(p)
                break
    return out


def _trim(t: str, a: int, b: int) -> tuple[int, int]:
    while a < b and t[a] in " \t\n&":
        a += 1
    while b > a and t[b - 1] in " \t\n,.;&":
        b -= 1
    return a, b


def _unwrap(t: str, a: int, b: int) -> tuple[int, int]:
    """Strip `\\begin{equation|aligned|split|gathered}` wrappers, a trailing `\\label{..}`, `\\left\\{ … \\right.`."""
    a, b = _trim(t, a, b)
    while True:
        changed = False
        m = re.search(r"\\label\{[^}]*\}\s*$", t[a:b])
        if m:
            a, b = _trim(t, a, a + m.start())
            changed = True
        m = re.match(r"\\begin\{(equation\*?|aligned|split|gathered|align\*?)\}", t[a:b])
        if m:
            end = "\\end{%s}" % m.group(1)
            j = t.rfind(end, a, b)
            if j >= 0 and re.fullmatch(r"\s*(\\label\{[^}]*\})?\s*", t[j + len(end):b]):
                a, b = _trim(t, a + m.end(), j)
                changed = True
        if t.startswith("\\left\\{", a) and (t[a:b].endswith("\\right") or t[a:b].endswith("\\right.")):
            b = t.rfind("\\right", a, b)
            a, b = _trim(t, a + 7, b)
            changed = True
        if not changed:
            return a, b


def _strip_tags(t: str, a: int, b: int) -> tuple[int, int]:
    m = re.search(r"\\(label\{[^}]*\}|nonumber|notag)\s*$", t[a:b])
    while m:
        a, b = _trim(t, a, a + m.start())
        m = re.search(r"\\(label\{[^}]*\}|nonumber|notag)\s*$", t[a:b])
    return a, b


def split(t: str, a: int, b: int) -> list[Chain]:
    """The chains of a span t[a:b] (see the module's docstring)."""
    a, b = _unwrap(t, a, b)
    rows = _top(t, a, b, ["\\\\"])
    starts = [a] + [e for _, e, _ in rows]
    ends = [s for s, _, _ in rows] + [b]
    chains: list[Chain] = []
    for s, e in zip(starts, ends):
        s2, e2 = _trim(t, s, e)
        if s2 >= e2:
            continue
        cont = t.startswith("=", s2) and bool(chains)
        gpos = _top(t, s2, e2, list(GROUPS))
        gs = [s2] + [x for _, x, _ in gpos]
        ge = [x for x, _, _ in gpos] + [e2]
        for gi, (g1, g2) in enumerate(zip(gs, ge)):
            g1, g2 = _trim(t, g1, g2)
            if g1 >= g2:
                continue
            rp = _top(t, g1, g2, RELATIONS)
            es = [g1] + [x for _, x, _ in rp]
            ee = [x for x, _, _ in rp] + [g2]
            pieces = []
            for k, (x, y) in enumerate(zip(es, ee)):
                x, y = _strip_tags(t, *_trim(t, x, y))
                pieces.append(Piece(x, y, rp[k][2] if k < len(rp) else ""))
            if gi == 0 and cont and chains:      # `&= c` on the next row: the same chain goes on
                chains[-1].pieces.extend(pieces[1:] if pieces[0].start >= pieces[0].end else pieces)
            else:
                chains.append(Chain(pieces, continues=pieces[0].start >= pieces[0].end))
    return chains


def line_of(t: str, offset: int) -> int:
    return t.count("\n", 0, offset) + 1


__all__ = ["Span", "Piece", "Chain", "cells_of", "document_spans", "find_spans", "split", "line_of", "masked"]
