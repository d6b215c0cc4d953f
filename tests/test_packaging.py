"""The install names every package: a clean install (CI builds a wheel) gets only the listed ones."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_directory_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    listed = set(config["packages"])
    on_disk = {".".join(init.parent.relative_to(ROOT).parts) for init in (ROOT / "matcalc").rglob("__init__.py")}
    assert on_disk, "no package found under matcalc/"
    missing = sorted(on_disk - listed)
    assert not missing, f"packages with an __init__.py not named in pyproject.toml [tool.setuptools] packages: {missing}"
    # every listed package exists (matcalc.rules is the rules/ directory, mapped in package-dir)
    mapped = config.get("package-dir", {})
    for name in listed:
        where = ROOT / mapped[name] if name in mapped else ROOT.joinpath(*name.split("."))
        assert where.is_dir(), f"{name} is listed but {where} is not a directory"
