"""The house: the packages import one way along the pipeline, and no modules import in a circle.

Every import counts, also one inside a function or under TYPE_CHECKING: a lazy import is still
a dependency a reader must follow.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Lowest first: a module may import from its own layer and the layers before it, never after.
LAYERS = ("embeddings", "qa.config", "qa.text", "qa.reading", "qa.storage", "qa.indexing",
          "qa.answering", "qa.app", "api")


def module_name(path: Path) -> str:
    """The dotted name a file is imported by."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    """Every module of the product (bench/ and training/ sit on top and may import anything)."""
    return {module_name(p): p for top in ("qa", "api", "embeddings")
            for p in sorted((ROOT / top).rglob("*.py"))}


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The project modules a file imports, resolved to modules (not names inside them)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


def graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports (a package's own `__init__` left out)."""
    modules = project_modules()
    known = set(modules)
    return {name: {m for m in imports_of(path, known) if m != name and not name.startswith(m + ".")}
            for name, path in modules.items()}


def layer(module: str) -> int:
    """The index in LAYERS of the layer a module belongs to."""
    for i, prefix in reversed(list(enumerate(LAYERS))):
        if module == prefix or module.startswith(prefix + "."):
            return i
    raise AssertionError(f"{module} belongs to no layer: add it to LAYERS")


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_no_module_imports_a_layer_above_its_own():
    upward = [f"{m} imports {dep}" for m, deps in sorted(graph().items()) for dep in sorted(deps)
              if layer(dep) > layer(m)]
    assert not upward, "imports against the pipeline's direction:\n" + "\n".join(upward)


def test_no_modules_import_each_other_in_a_circle():
    assert not circles(graph())


def test_every_package_says_what_it_owns():
    for init in sorted((ROOT / "qa").rglob("__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and len(doc.split()) >= 15, f"{init.relative_to(ROOT)} has no docstring"


@pytest.mark.parametrize("edges, expected", [
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
    ({"a": {"b"}, "b": set()}, []),
])
def test_the_circle_finder_finds_circles_and_only_circles(edges, expected):
    assert circles(edges) == expected


def test_the_layer_check_sees_an_upward_import(tmp_path):
    known = {"qa.reading.documents", "qa.app.service"}
    source = tmp_path / "x.py"
    source.write_text("def f():\n    from qa.app.service import Verbatim\n")
    found = imports_of(source, known)
    assert found == {"qa.app.service"}
    assert layer("qa.app.service") > layer("qa.reading.documents")
