"""The package's shape, as the module map in `knock/__init__.py` promises it.

Imports are read from the source (every `import`, also those under `if TYPE_CHECKING:` and
inside functions), so a cycle cannot hide behind a type-checking guard.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "knock"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _imports(module: str) -> Iterator[tuple[str, int]]:
    """Yield every Knock module `module` imports, with the line."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from knock.core import limits` imports the module knock.core.limits.
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target.startswith("knock") and target != module:
                yield target, node.lineno


GRAPH = {module: {target for target, _ in _imports(module)} for module in MODULES}


def _outside(module: str, allowed: tuple[str, ...]) -> list[str]:
    return [
        f"{module}:{line} imports {target}"
        for target, line in _imports(module)
        if not target.startswith(allowed)
    ]


def test_the_core_imports_nothing_of_knock_outside_the_core() -> None:
    core = [m for m in MODULES if m.startswith("knock.core")]
    assert core, "the core was not found"
    assert [bad for m in core for bad in _outside(m, ("knock.core",))] == []


def test_the_web_layer_and_the_cli_know_the_services_and_core_values_only() -> None:
    web = [m for m in MODULES if m.startswith(("knock.web", "knock.cli"))]
    wrong = [
        f"{m}:{line} imports {target}"
        for m in web
        for target, line in _imports(m)
        if target.startswith(("knock.store", "knock.matrix"))
    ]
    assert wrong == []


@pytest.mark.parametrize("lower", ["knock.core", "knock.store", "knock.matrix"])
def test_lower_layers_never_import_the_services_or_the_edges(lower: str) -> None:
    modules = [m for m in MODULES if m.startswith(lower)]
    edges = ("knock.services", "knock.web", "knock.cli")
    wrong = [
        f"{m}:{line} imports {target}"
        for m in modules
        for target, line in _imports(m)
        if target.startswith(edges)
    ]
    assert wrong == []


def test_no_module_imports_itself_through_others() -> None:
    cycles = []
    for start in MODULES:
        seen: set[str] = set()
        stack = [(start, (start,))]
        while stack:
            module, path = stack.pop()
            for target in GRAPH[module]:
                if target == start:
                    cycles.append(" -> ".join([*path, start]))
                elif target not in seen:
                    seen.add(target)
                    stack.append((target, (*path, target)))
    # A package's __init__ importing its own submodules is how a package exports; keep the rest.
    real = [c for c in cycles if not _package_export(c)]
    assert real == []


def _package_export(cycle: str) -> bool:
    first, second = cycle.split(" -> ")[:2]
    return second.startswith(first + ".") or first.startswith(second + ".")


def test_no_service_attribute_is_assigned_from_outside_the_service() -> None:
    """Collaborators arrive through constructors: `other.attr = value` is wiring after the fact.

    Checked for every attribute a service (or the homeserver client) sets in its `__init__`.
    """
    wired = set()
    for module, path in MODULES.items():
        if module.startswith(("knock.services", "knock.matrix")):
            wired |= _constructor_attributes(ast.parse(path.read_text(), str(path)))
    assert {"intake", "moderation_rooms", "relogin", "store"} <= wired
    assigned = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets = node.targets if isinstance(node, ast.Assign) else []
            targets += [node.target] if isinstance(node, ast.AnnAssign | ast.AugAssign) else []
            for target in _flat(targets):
                if (
                    isinstance(target, ast.Attribute)
                    and not _is_own(target.value)
                    and target.attr in wired
                ):
                    owner = ast.unparse(target.value)
                    assigned.append(f"{module}:{node.lineno} sets {owner}.{target.attr}")
    assert assigned == []


def _constructor_attributes(tree: ast.Module) -> set[str]:
    names = set()
    for cls in (node for node in ast.walk(tree) if isinstance(node, ast.ClassDef)):
        for init in (f for f in cls.body if isinstance(f, ast.FunctionDef)):
            if init.name != "__init__":
                continue
            for node in ast.walk(init):
                targets = node.targets if isinstance(node, ast.Assign) else []
                targets += [node.target] if isinstance(node, ast.AnnAssign) else []
                for target in _flat(targets):
                    if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
                        names.add(target.attr)
    return names


def _is_own(value: ast.expr) -> bool:
    """`self.x = ...`, or the web app's own state bag (`api.state.x = ...`, Starlette's way)."""
    own = isinstance(value, ast.Name) and value.id in ("self", "cls")
    return own or (isinstance(value, ast.Attribute) and value.attr == "state")


def _flat(targets: list[ast.expr]) -> Iterator[ast.expr]:
    for target in targets:
        if isinstance(target, ast.Tuple | ast.List):
            yield from _flat(list(target.elts))
        else:
            yield target
