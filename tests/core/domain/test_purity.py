"""The kernel imports nothing but the standard library (and itself)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import core.domain

KERNEL = Path(core.domain.__file__).parent


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_the_kernel_imports_only_the_standard_library():
    modules = sorted(KERNEL.glob("*.py"))
    assert {m.stem for m in modules} >= {"months", "money", "canonical", "problems", "codes"}
    for module in modules:
        for name in _imports(module):
            top = name.split(".")[0]
            assert top in sys.stdlib_module_names or name.startswith("core.domain"), (module.name, name)
