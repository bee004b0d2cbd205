"""The import graph of engine/ and app/: no cycles, and the engine never imports the app.

Every import statement counts, also those inside functions (a function-level import is a cycle that is only
hidden until the function runs). Importing `a.b.c` runs `a/__init__.py` and `a/b/__init__.py` first, so a
package's __init__ is an edge too. Layers and rules: docs/architecture.md.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("engine", "app")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The longest prefix of `name` that is one of our modules (`from x import y` may name a function y)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Our modules that `module` imports anywhere in its file."""
    is_pkg = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from .x import y
                base = module.split(".") if is_pkg else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            names = [f"{stem}.{a.name}" for a in node.names] + [stem]
        for name in names:
            target = _resolve(name, modules)
            if target is None:
                continue
            parts = target.split(".")
            for i in range(1, len(parts) + 1):  # the packages above the target run first
                found.add(".".join(parts[:i]))
    found = (found & set(modules)) - {module}
    # A package importing its own submodules is how packages work, and a submodule needs its package to be
    # loaded anyway: only edges that leave this module's own package tree (or enter a sibling) count.
    return {m for m in found if not module.startswith(m + ".")}


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    return {m: imports_of(m, p, modules) for m, p in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph.get(m, ())):
            if state.get(n) == 1:
                return stack[stack.index(n) :] + [n]
            if n not in state:
                found = visit(n)
                if found:
                    return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def test_no_import_cycles():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_engine_never_imports_the_app():
    graph = import_graph()
    bad = sorted(
        f"{m} -> {n}" for m, deps in graph.items() if m.startswith("engine") for n in deps if n.startswith("app")
    )
    assert not bad, bad


def test_widgets_never_import_the_main_window():
    graph = import_graph()
    bad = sorted(m for m, deps in graph.items() if m.startswith("app.widgets") and "app.main" in deps)
    assert not bad, bad


def test_the_checker_sees_function_level_imports_and_cycles(tmp_path):
    """The walker finds an import inside a function, and the search reports a two-module cycle."""
    src = tmp_path / "m.py"
    src.write_text("def f():\n    from engine.cli import common\n    return common\n")
    modules = {"engine.cli": ROOT / "engine/cli/__init__.py", "engine.cli.common": ROOT / "engine/cli/common.py"}
    assert imports_of("m", src, {**modules, "m": src}) == {"engine.cli", "engine.cli.common"}
    assert find_cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
