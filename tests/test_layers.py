"""The package's layers: data flows one way, and no module imports its way back (issue 20).

Read from the source with `ast`, every import statement counts — at the top of a module or inside a
function — because an import hidden in a function is still a dependency: moving it into a function
hides a cycle, it does not remove it. A module may import the shared leaves at the package root,
modules of its own subpackage, and the layers below its own; never a layer above, and no chain of
imports may lead back to where it started.
"""

import ast
from pathlib import Path

import matcalc

PACKAGE = Path(matcalc.__file__).parent

# bottom to top; a layer imports only from the ones before it (and from itself)
LAYERS = ("", "language", "engine", "compile", "check", "api", "train", "web", "cli", "notebook", "top")
LEAVES = {"errors", "budget", "tables"}          # the shared leaves at the root, importing no layer


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules that `name` imports anywhere in its text."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in known else module for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in known:          # matcalc.language.expr.Node -> matcalc.language.expr
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def layer_of(name: str) -> str:
    parts = name.split(".")
    if name in ("matcalc", "matcalc.__main__", "matcalc.testing"):   # faces of the library, like __init__
        return "top"
    if len(parts) == 2 and parts[1] not in LAYERS:
        assert parts[1] in LEAVES, f"{name} sits at the package root but is not a shared leaf"
        return ""
    return parts[1]


def graph() -> dict[str, set[str]]:
    known = set(modules())
    return {name: imports(name, path, known) for name, path in modules().items()}


def test_every_module_belongs_to_a_layer():
    for name in modules():
        assert layer_of(name) in LAYERS, name


def test_no_module_imports_a_layer_above_its_own():
    upward = []
    for name, targets in graph().items():
        mine = LAYERS.index(layer_of(name))
        for t in targets:
            theirs = LAYERS.index(layer_of(t))
            if theirs > mine or (theirs == mine and mine == 0 and t.split(".")[-1] not in LEAVES):
                upward.append(f"{name} -> {t}")
    assert not upward, "upward imports:\n" + "\n".join(sorted(upward))


def test_no_import_cycle():
    g = graph()
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(g[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(g):
        if v not in index:
            visit(v)
    # a package __init__ that re-exports its modules is not a cycle with them when they never import it
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_no_module_is_over_700_lines():
    long = {name: n for name, path in modules().items() if (n := len(path.read_text().splitlines())) > 700}
    assert not long, long


def test_each_subpackage_says_what_it_is_for():
    for layer in LAYERS[1:-1]:
        init = PACKAGE / layer / "__init__.py"
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert len(doc.split()) >= 25, f"{layer}/__init__.py needs a docstring saying what the part is for"
