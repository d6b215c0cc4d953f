"""The installed package is the source tree: CI installs from scratch, so a subpackage missing from
pyproject's explicit list works in the editable dev install and breaks every user's import."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _declared() -> set[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return set(config["tool"]["setuptools"]["packages"])


def test_every_subpackage_is_declared():
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "matcalc").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    missing = on_disk - _declared()
    assert not missing, f"add to [tool.setuptools] packages: {sorted(missing)}"


def test_every_declared_package_exists():
    for name in _declared() - {"matcalc.rules"}:
        assert (ROOT / Path(*name.split(".")) / "__init__.py").is_file(), name
    assert any((ROOT / "rules").glob("*.toml"))
