"""The package's import graph: the kernel stands alone, and no module imports itself in a circle.

Parsed, not imported (``ast``): every ``import`` counts, at module level or inside a function,
except those under ``if TYPE_CHECKING:`` (never executed). Importing ``a.b.c`` also runs the
``__init__`` of ``a`` and ``a.b``; those implicit edges are left out, as a package importing its
own submodules is how a package is built, not a circle. The generated Flux bindings are not ours
to shape and are left out of the cycle check.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

PACKAGE = "sre_constructs"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE
# The generated Flux bindings, wherever they live (top-level ``imports`` or inside the package).
_BINDINGS = re.compile(r"(^|\.)_?imports(\.|$)")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}
    return {name: path for name, path in found.items() if not _BINDINGS.search(name)}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, skipping the bodies of ``if TYPE_CHECKING:``."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Fully qualified names this module imports: a submodule where one is named, else the module."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in _import_nodes(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
            continue
        if node.level:
            base = name.split(".")
            base = base if is_package else base[:-1]
            base = base[: len(base) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
        else:
            target = node.module or ""
        for alias in node.names:
            sub = f"{target}.{alias.name}"
            found.add(sub if sub in modules else target)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def test_the_kernel_imports_nothing_above_it() -> None:
    offenders = [
        f"{name} imports {target}"
        for name, targets in sorted(_graph().items())
        if name.startswith(f"{PACKAGE}.kernel")
        for target in sorted(targets)
        if (target == PACKAGE or target.startswith(f"{PACKAGE}."))
        and not target.startswith(f"{PACKAGE}.kernel")
        and not _BINDINGS.search(target)
    ]
    assert offenders == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module, or a module importing itself."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle() -> None:
    assert _cycles(_graph()) == []


def test_the_checks_see_what_they_should() -> None:
    graph = _graph()
    # Relative, absolute, function-level and TYPE_CHECKING imports resolve as described above.
    assert f"{PACKAGE}.kernel.errors" in graph[f"{PACKAGE}.kernel.tree_check"]
    assert f"{PACKAGE}.kernel.graph" in graph[f"{PACKAGE}.kernel.platform_chart"]  # inside a method
    assert f"{PACKAGE}.kernel.component" not in graph[f"{PACKAGE}.kernel.graph"]  # TYPE_CHECKING only
    assert f"{PACKAGE}.services.backup" in graph[f"{PACKAGE}.airgap"]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"a"}}) == [["a"]]
