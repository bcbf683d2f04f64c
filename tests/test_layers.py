"""One rule of the layers that import-linter cannot express (its contracts are in
``pyproject.toml``; ``make test`` runs ``lint-imports``): a domain never imports another
package's private names. A name used by another domain is public and lives in its natural home;
within one package, private names are the package's own business.

A package here is ``rules_fr``, ``bloctel``, or ``app.X`` (a domain package such as
``app.calls``, or a top-level module such as ``app.db``).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("app", "bloctel", "rules_fr")


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _module_of(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _package(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "app" and len(parts) > 1 else parts[0]


def _absolute(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def private_imports() -> list[str]:
    """``file:line: importer imports module.name`` for each private name crossing packages."""
    found = []
    for source in SOURCES:
        for path in sorted((ROOT / source).rglob("*.py")):
            importer = _module_of(path)
            mine = _package(importer)
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom):
                    module = _absolute(importer, path.name == "__init__.py", node)
                    targets = [(module, a.name) for a in node.names]
                elif isinstance(node, ast.Import):
                    targets = [(a.name, "") for a in node.names]
                else:
                    continue
                for module, name in targets:
                    if module.split(".")[0] not in SOURCES or _package(module) == mine:
                        continue
                    dotted = f"{module}.{name}" if name else module
                    if any(_private(p) for p in dotted.split(".")[1:]):
                        where = path.relative_to(ROOT)
                        found.append(f"{where}:{node.lineno}: {importer} imports {dotted}")
    return found


def test_no_package_imports_another_packages_private_names() -> None:
    offenders = private_imports()
    assert not offenders, "private names crossing packages:\n" + "\n".join(offenders)


def test_the_check_sees_a_private_import() -> None:
    """The walk itself: a private name of another package is caught, the package's own is not."""
    node = ast.parse("from app.calls.service import _x\nfrom . import _y\n").body
    assert _absolute("app.erasure.service", False, node[0]) == "app.calls.service"  # type: ignore[arg-type]
    assert _absolute("app.erasure.service", False, node[1]) == "app.erasure"  # type: ignore[arg-type]
    assert _package("app.calls.service") == "app.calls" and _package("app.db") == "app.db"
    assert _package("bloctel.plan") == "bloctel"
    assert _private("_x") and not _private("__all__")
