"""The distribution ships every package the code imports (the test run imports the checkout,
so a package missing from pyproject.toml would only fail for a user)."""

from __future__ import annotations

from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_listed_in_pyproject():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
                 ["packages"])
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("lipsdp", "solvers")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert found <= listed, f"packages missing from pyproject.toml: {sorted(found - listed)}"
