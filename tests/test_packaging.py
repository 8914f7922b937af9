"""The distribution ships every package the code imports, under import names of its own.

The test run imports the checkout, so a package missing from pyproject.toml would only fail for
a user; and the generic SDP layer (the folder ``solvers/``) installs as ``lipsdp_solvers``, so a
user's own ``solvers.py`` (or the unrelated PyPI distribution ``solvers``) cannot shadow it.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_subpackage_is_listed_in_pyproject():
    folders = {name: folder for name, folder in SETUPTOOLS.get("package-dir", {}).items()}
    folders.setdefault("lipsdp", "lipsdp")
    found = {
        ".".join((name, *init.parent.relative_to(ROOT / folder).parts))
        for name, folder in folders.items()
        for init in (ROOT / folder).rglob("__init__.py")
    }
    assert found <= set(SETUPTOOLS["packages"]), (
        f"packages missing from pyproject.toml: {sorted(found - set(SETUPTOOLS['packages']))}")
    assert folders["lipsdp_solvers"] == "solvers"


@pytest.mark.skipif(os.environ.get("LIPSDP_SKIP_INSTALL_TEST") == "1",
                    reason="LIPSDP_SKIP_INSTALL_TEST=1")
def test_an_installed_copy_imports_beside_a_users_solvers_py(tmp_path):
    # A fresh venv gets a clean copy of this checkout installed (no build/ left-overs; no
    # dependencies: those come from the running environment, appended by a .pth file after the
    # venv's own site-packages).
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", "build", "dist", "*.egg-info", "__pycache__", ".*cache", ".venv*", "results"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    venv_site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True).stdout.strip()
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
         "--target", venv_site, str(src)],
        check=True, capture_output=True, text=True, cwd=tmp_path)
    Path(venv_site, "running_environment.pth").write_text("\n".join(site.getsitepackages()))
    work = tmp_path / "work"
    work.mkdir()
    (work / "solvers.py").write_text("raise ImportError('the user\\'s own solvers.py')\n")
    script = textwrap.dedent("""
        import numpy as np, lipsdp, lipsdp_solvers
        print(lipsdp.__file__)
        print(lipsdp_solvers.__file__)
        print(lipsdp.solve([np.eye(2), 2 * np.eye(2)]).value)
    """)
    out = subprocess.run([str(python), "-c", script], cwd=work, capture_output=True, text=True,
                         env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert out.returncode == 0, out.stderr
    lipsdp_file, solvers_file, value = out.stdout.split()
    assert lipsdp_file.startswith(venv_site)
    assert solvers_file.startswith(venv_site)
    assert float(value) == pytest.approx(2.0, rel=1e-9)
