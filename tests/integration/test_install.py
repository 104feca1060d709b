"""`make install` installs the package editable (issue 19, item 14): `.venv/bin/python -m trident1_aiq …`
works from any shell, without the Makefile's PYTHONPATH; the wheel still leaves the development tools out."""

from __future__ import annotations

import os
import re
import shutil
import site
import subprocess
import sys
import zipfile

import pytest

from ..factories import ROOT

pytestmark = pytest.mark.integration


def _install_line() -> list[str]:
    """The Makefile's editable install of the package, as arguments after ``python``."""
    recipe = (ROOT / "Makefile").read_text()
    (line,) = re.findall(r"^\t\$\(PY\) (-m pip install .*-e \.)", recipe, re.MULTILINE)
    return line.split("#", 1)[0].split()


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A new venv holding the test run's dependencies (a .pth to them), then the Makefile's install line."""
    made = [p for p in (ROOT / "trident1_aiq.egg-info", ROOT / "build") if not p.exists()]  # by setuptools, in-tree
    where = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True, timeout=300)
    python = where / "bin" / "python"
    target = subprocess.run([str(python), "-c", "import site; print(site.getsitepackages()[0])"], check=True,
                            capture_output=True, text=True).stdout.strip()
    (where / target / "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run([str(python), *_install_line()], cwd=ROOT, env=env, check=True, timeout=600,
                   capture_output=True)
    yield python
    for path in made:
        shutil.rmtree(path, ignore_errors=True)


def test_item14_python_m_trident1_aiq_works_from_any_shell(venv, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = subprocess.run([str(venv), "-c", "import trident1_aiq.paths as p; print(p.PACKAGE_DIR, p.SQL_DIR)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=True).stdout.split()
    assert where == [str(ROOT / "plugins" / "trident1_aiq"), str(ROOT / "include" / "sql")]  # the checkout, edited live
    done = subprocess.run([str(venv), "-m", "trident1_aiq", "config", "check", "--dir", str(ROOT / "config")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0 and done.stdout.startswith("ok: 2 credential(s)"), done.stdout + done.stderr


def test_item14_the_wheel_still_leaves_the_development_tools_out(venv, tmp_path):
    subprocess.run([str(venv), "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)], check=True,
                   timeout=600, capture_output=True)
    (wheel,) = tmp_path.glob("trident1_aiq-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert not [n for n in names if n.startswith(("trident1_aiq/dev/", "trident1_sandbox/", "tests/", "dags/"))]
    assert "trident1_aiq/__main__.py" in names and "trident1_aiq/sql/migrations/001_core.sql" in names
