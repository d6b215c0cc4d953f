"""Where each label of expected.toml sits: the math spans of a document, the links of a chain, and `add`,
which records an entry (file, line, latex, ...) with its numeric check. Written with the corpus, outside
matcalc: it shares no code with check/documents (its own span finder and chain splitter).
"""
import json
import re
from pathlib import Path

DOC = str(Path(__file__).resolve().parent.parent / "data" / "documents") + "/"


# ---------------------------------------------------------------- code and comments blanked (same offsets)
def strip_code_md(text):
    """Blank out fenced code blocks and inline code, keeping offsets."""
    out = list(text)
    lines = text.split("\n")
    pos = 0; infence = False
    for ln in lines:
        if ln.lstrip().startswith("```"):
            infence = not infence
            for i in range(pos, pos+len(ln)): out[i] = " "
        elif infence:
            for i in range(pos, pos+len(ln)): out[i] = " "
        pos += len(ln) + 1
    s = "".join(out)
    for m in re.finditer(r"`[^`\n]*`", s):
        for i in range(m.start(), m.end()): out[i] = " "
    return "".join(out)

def strip_tex(text):
    out = list(text)
    for m in re.finditer(r"\\begin\{verbatim\}.*?\\end\{verbatim\}", text, re.S):
        for i in range(m.start(), m.end()):
            if out[i] != "\n": out[i] = " "
    for m in re.finditer(r"(?<!\\)%[^\n]*", text):
        for i in range(m.start(), m.end()): out[i] = " "
    return "".join(out)

ENVS = "equation|equation\\*|align|align\\*|gather|gather\\*|multline|multline\\*"

# ---------------------------------------------------------------- spans with offsets
def span_offsets(text, tex=False):
    s = strip_tex(text) if tex else strip_code_md(text)
    res = []; i = 0; n = len(s)
    while i < n:
        if s.startswith("$$", i):
            j = s.find("$$", i+2); res.append((i+2, j)); i = j+2; continue
        if s[i] == "$" and (i == 0 or s[i-1] != "\\"):
            j = i+1
            while j < n and not (s[j] == "$" and s[j-1] != "\\"): j += 1
            res.append((i+1, j)); i = j+1; continue
        if s.startswith("\\(", i):
            j = s.find("\\)", i+2); res.append((i+2, j)); i = j+2; continue
        if s.startswith("\\[", i):
            j = s.find("\\]", i+2); res.append((i+2, j)); i = j+2; continue
        if tex:
            m = re.match(r"\\begin\{(" + ENVS + r")\}", s[i:])
            if m:
                env = m.group(1); end = "\\end{" + env + "}"
                j = s.find(end, i); res.append((i+m.end(), j)); i = j+len(end); continue
        i += 1
    return res

# ---------------------------------------------------------------- splitting
OPEN = {"{": "}", "(": ")", "[": "]"}
RELS = ["\\Leftarrow", "\\Rightarrow", "\\rightarrow", "\\leftarrow", "\\neq", "\\ne", "\\in", "\\le", "=", "<"]
def _depth_scan(t, a, b):
    """yield (pos, depth) for each char position in t[a:b]; handles \\{ \\} \\left\\{..\\right. and \\begin/\\end."""
    depth = 0; i = a
    while i < b:
        if t.startswith("\\begin{", i):
            j = t.index("}", i); yield i, depth; depth += 1; i = j+1; continue
        if t.startswith("\\end{", i):
            j = t.index("}", i); depth -= 1; yield i, depth; i = j+1; continue
        if t.startswith("\\left\\{", i) or t.startswith("\\{", i):
            yield i, depth; depth += 1; i += 7 if t.startswith("\\left\\{", i) else 2; continue
        if t.startswith("\\right.", i) or t.startswith("\\}", i):
            depth -= 1; yield i, depth; i += 7 if t.startswith("\\right.", i) else 2; continue
        if t.startswith("\\\\", i):
            yield i, depth; i += 2; continue
        if t[i] == "\\" and i+1 < b and not t[i+1].isalpha():
            yield i, depth; i += 2; continue   # escaped char like \, \; \|
        c = t[i]
        if c in "{([": yield i, depth; depth += 1; i += 1; continue
        if c in "})]": depth -= 1; yield i, depth; i += 1; continue
        yield i, depth; i += 1

def _top_positions(t, a, b, pats, base_depth=0):
    out = []
    skip_to = a
    for i, d in _depth_scan(t, a, b):
        if i < skip_to or d != base_depth: continue
        for p in pats:
            if t.startswith(p, i):
                if p[0] == "\\" and p[-1].isalpha() and i+len(p) < len(t) and t[i+len(p)].isalpha():
                    continue
                out.append((i, i+len(p), p)); skip_to = i+len(p); break
    return out

def _trim(t, a, b):
    while a < b and t[a] in " \t\n&": a += 1
    while b > a and t[b-1] in " \t\n,.;&": b -= 1
    return a, b

def _unwrap(t, a, b):
    """strip \\begin{equation|aligned|...} wrappers, \\label{..}, \\left\\{ ... \\right. ; return list of (a,b,inner_is_aligned)."""
    a, b = _trim(t, a, b)
    while True:
        changed = False
        # remove trailing \label{...}
        m = re.search(r"\\label\{[^}]*\}\s*$", t[a:b])
        if m: b = a + m.start(); a, b = _trim(t, a, b); changed = True
        m = re.match(r"\\begin\{(equation\*?|aligned|split|gathered)\}", t[a:b])
        if m:
            env = m.group(1); end = "\\end{%s}" % env
            j = t.rfind(end, a, b)
            rest = t[j+len(end):b]
            if re.fullmatch(r"\s*(\\label\{[^}]*\})?\s*", rest):
                a, b = _trim(t, a+m.end(), j); changed = True
        if t.startswith("\\left\\{", a) and (t[a:b].endswith("\\right") or t[a:b].endswith("\\right.")):
            b = t.rfind("\\right", a, b); a, b = _trim(t, a+7, b); changed = True
        m = re.search(r"\\label\{[^}]*\}", t[a:b])
        if not changed: break
    return a, b

def _strip_label(t, a, b):
    m = re.search(r"\\(label\{[^}]*\}|nonumber|notag)\s*$", t[a:b])
    while m:
        a, b = _trim(t, a, a + m.start())
        m = re.search(r"\\(label\{[^}]*\}|nonumber|notag)\s*$", t[a:b])
    return a, b

def split_span(t, a, b, groupseps=("\\qquad", "\\quad"), rels=RELS):
    """Return a list of chains; each chain is a list of (start, end) expression ranges."""
    a, b = _unwrap(t, a, b)
    rows = []
    pos = _top_positions(t, a, b, ["\\\\"])
    starts = [a] + [e for _, e, _ in pos]; ends = [s for s, _, _ in pos] + [b]
    for s, e in zip(starts, ends):
        rows.append((s, e))
    chains = []
    for (s, e) in rows:
        s2, e2 = _trim(t, s, e)
        if s2 >= e2: continue
        cont = t.startswith("=", s2) and chains
        gpos = _top_positions(t, s2, e2, list(groupseps))
        gs = [s2] + [x for _, x, _ in gpos]; ge = [x for x, _, _ in gpos] + [e2]
        for gi, (g1, g2) in enumerate(zip(gs, ge)):
            g1, g2 = _trim(t, g1, g2)
            if g1 >= g2: continue
            rp = _top_positions(t, g1, g2, rels)
            es = [g1] + [x for _, x, _ in rp]; ee = [x for x, _, _ in rp] + [g2]
            exprs = [_strip_label(t, *_trim(t, x, y)) for x, y in zip(es, ee)]
            if gi == 0 and cont and chains:
                chains[-1].extend(exprs[1:]) if exprs[0][0] >= exprs[0][1] else chains[-1].extend(exprs)
            else:
                chains.append(exprs)
    return chains

# ---------------------------------------------------------------- documents
class Doc:
    def __init__(self, name, cells=None):
        self.name = name
        self.path = DOC + name
        if name.endswith(".ipynb"):
            nb = json.load(open(self.path, encoding="utf-8"))
            self.cells = ["".join(c["source"]) if c["cell_type"] == "markdown" else None for c in nb["cells"]]
        else:
            self.cells = [open(self.path, encoding="utf-8").read()]
        self.tex = name.endswith(".tex")
        self.spans = []  # (cell, line, a, b)
        for ci, t in enumerate(self.cells):
            if t is None: continue
            for a, b in span_offsets(t, self.tex):
                self.spans.append((ci, t.count("\n", 0, a)+1, a, b))

    def find(self, line, nth=0, cell=0):
        c = [s for s in self.spans if s[0] == cell and s[1] == line]
        return c[nth]

    def text(self, cell=0): return self.cells[cell]

def line_of(t, off): return t.count("\n", 0, off) + 1

# ---------------------------------------------------------------- entries
ENTRIES = {}   # file -> list of entry dicts
def add(doc, line, role, truth, why, nth=0, link=None, cell=0, latex=None, **kw):
    """link: None -> whole span; (chain_index, k) -> k-th link (1-based) of that chain; ('x', chain, e) -> expression e alone"""
    ci, ln, a, b = doc.find(line, nth, cell)
    t = doc.text(ci)
    if latex is None:
        if link is None:
            a2, b2 = _trim(t, a, b)
            lat = t[a2:b2]; start = a2
        else:
            ch = split_span(t, a, b, **kw.pop("split", {}))
            if link[0] == "x":
                x1, x2 = ch[link[1]][link[2]]
                lat = t[x1:x2]; start = x1
            else:
                c, k = link
                exprs = ch[c]
                if exprs[0][0] >= exprs[0][1]:  # continuation: empty first expression
                    pass
                x1 = exprs[k-1][0]; x2 = exprs[k][1]
                if x1 >= exprs[k-1][1]:  # empty head (continuation line "= ...")
                    x1 = t.rfind("=", a, exprs[k][0])
                lat = t[x1:x2]; start = x1
                kw.setdefault("link", f"{k}/{len(exprs)-1}")
                if line_of(t, start) != line_of(t, a): kw.setdefault("span_line", line_of(t, a))
    else:
        start = t.find(latex, a)
        assert 0 <= start < b, (doc.name, line, latex)
        lat = latex
    kw.pop("split", None)
    e = dict(file=doc.name, line=line_of(t, start), latex=lat, role=role, truth=truth, why=why)
    if doc.name.endswith(".ipynb"):
        e = dict(file=doc.name, cell=ci, line=line_of(t, start), latex=lat, role=role, truth=truth, why=why)
    for key in ("case", "layout", "link", "vs_head", "continues", "span_line", "delimiters", "check", "planted"):
        if key in kw and kw[key] is not None: e[key] = kw[key]
    e["_num"] = kw.get("num")
    ENTRIES.setdefault(doc.name, []).append(e)
    return e

def chains(doc, line, nth=0, cell=0, **split):
    ci, ln, a, b = doc.find(line, nth, cell)
    t = doc.text(ci)
    return [[t[x:y] for x, y in ch] for ch in split_span(t, a, b, **split)]
