"""The dependency rule, checked: each package imports only itself and the layers below it."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Highest first: a package may import the ones after it, never the ones before.
LAYERS = (
    "config",
    "webhooks",
    "lithic_integration",
    "transactions",
    "cards",
    "spending",
    "accounts",
    "core",
)


def top_level_imports(path: Path) -> set[str]:
    """The top-level names of every module `path` imports, at module level or inside code."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def test_the_layer_check_sees_imports_inside_functions(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from webhooks.models import W\n    import cards.models\n")
    assert top_level_imports(module) == {"webhooks", "cards"}


def test_no_package_imports_a_layer_above_it():
    upward = [
        f"{path.relative_to(ROOT)} imports {name}"
        for rank, package in enumerate(LAYERS)
        for path in sources(package)
        for name in sorted(top_level_imports(path) & set(LAYERS[:rank]))
    ]
    assert upward == []


def test_only_the_integration_package_calls_the_lithic_sdk():
    callers = [
        str(path.relative_to(ROOT))
        for package in LAYERS
        if package != "lithic_integration"
        for path in sources(package)
        if "lithic" in top_level_imports(path)
    ]
    assert callers == []
