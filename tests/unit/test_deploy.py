"""The deployable pieces, checked against the tree (CI has no Docker daemon to build the image):

* the Dockerfile installs the runtime pins only and copies dags, the package, its SQL and the
  default Variables, in a layout where the package finds them, and not the sandbox, tests or
  benchmarks;
* requirements are split: runtime (the image, pyproject's dependencies) and dev (adds the tools);
* the wheel's package data mapping (pyproject.toml) lands where ``trident1_aiq.paths`` looks;
* docker-compose.yml's init stops at the first error, the worker has a healthcheck and a Fernet
  key is required.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from ..factories import ROOT

pytestmark = pytest.mark.unit

PRODUCT = {"dags", "plugins/trident1_aiq", "plugins/trident1_console.py", "include", "config"}
NOT_IN_IMAGE = ("tests", "benchmarks", "plugins/trident1_sandbox")
#: Test, lint and benchmark tools: never in the image or the runtime pins.
DEV_TOOLS = {"pytest", "pytest-timeout", "hypothesis", "ruff", "pyinstrument"}
#: Prints where the package finds its files, run in a fresh interpreter from an unrelated folder.
PROBE = ("import json, trident1_aiq.paths as p; "
         "print(json.dumps({'package': str(p.PACKAGE_DIR), 'sql': str(p.SQL_DIR), 'config': str(p.CONFIG_DIR)}))")


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def instructions(path: Path) -> list[tuple[str, list[str]]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    out, pending = [], ""
    for line in path.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        word, _, rest = pending.strip().partition(" ")
        out.append((word.upper(), shlex.split(rest)))
        pending = ""
    return out


def copies(path: Path) -> list[tuple[list[str], str]]:
    """(sources, destination) of each COPY, flags such as --chown dropped."""
    out = []
    for word, args in instructions(path):
        if word == "COPY":
            plain = [a for a in args if not a.startswith("--")]
            out.append((plain[:-1], plain[-1]))
    return out


def pins(path: Path) -> dict[str, str]:
    """name → version of a requirements file, following ``-r`` includes; every line must be ``==``."""
    found: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-r "):
            found.update(pins(path.parent / line[3:].strip()))
            continue
        name, sep, version = line.partition("==")
        assert sep and version, f"{path.name}: {line!r} is not pinned exactly"
        found[norm(name.split("[")[0])] = version
    return found


def probe(pythonpath: Path, cwd: Path) -> dict[str, Path]:
    proc = subprocess.run([sys.executable, "-c", PROBE], cwd=cwd, env={"PYTHONPATH": str(pythonpath)},
                          capture_output=True, text=True, timeout=60, check=True)
    import json

    return {k: Path(v) for k, v in json.loads(proc.stdout).items()}


def assert_finds_its_files(found: dict[str, Path], inside: Path) -> None:
    for key in ("package", "sql", "config"):
        assert found[key].is_relative_to(inside), (key, found[key])
    migrations = sorted(p.name for p in (found["sql"] / "migrations").glob("*.sql"))
    assert migrations == sorted(p.name for p in (ROOT / "include" / "sql" / "migrations").glob("*.sql"))
    assert {p.name for p in found["config"].glob("*.json")} == {p.name for p in (ROOT / "config").glob("*.json")}


# ------------------------------------------------------------------ Dockerfile


def test_image_copies_the_product_and_nothing_else(tmp_path):
    steps = copies(ROOT / "Dockerfile")
    sources = {src for srcs, _ in steps for src in srcs}
    for src in sources:
        assert (ROOT / src).exists(), f"Dockerfile copies {src}, which is not in the tree"
    assert sources >= PRODUCT | {"requirements-runtime.txt"}
    # Build the image's file system from the COPY lines (an ADD or a bare `COPY plugins` would show here).
    image = tmp_path / "image"
    for srcs, dest in steps:
        for src in srcs:
            target = image / dest.lstrip("/")
            if (ROOT / src).is_dir():
                shutil.copytree(ROOT / src, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(ROOT / src, target)
    assert not [w for w, _ in instructions(ROOT / "Dockerfile") if w == "ADD"]
    names = {p.name for p in image.rglob("*")}
    assert "trident1_sandbox" not in names and "conftest.py" not in names and "bench.py" not in names
    plugins = next(p for p in image.rglob("trident1_aiq") if p.is_dir()).parent
    env = " ".join(" ".join(a) for w, a in instructions(ROOT / "Dockerfile") if w == "ENV")
    assert f"PYTHONPATH=/{plugins.relative_to(image)}" in env
    # The package finds its SQL and default Variables where the image puts them.
    assert_finds_its_files(probe(plugins, tmp_path), image)


def test_image_installs_the_runtime_pins_only():
    installs = [a for w, a in instructions(ROOT / "Dockerfile") if w == "RUN" and "pip" in a]
    assert installs, "the Dockerfile installs nothing"
    for args in installs:
        files = [args[i + 1] for i, a in enumerate(args) if a == "-r"]
        assert [Path(f).name for f in files] == ["requirements-runtime.txt"], args
        named = [a for a in args[args.index("install") + 1:] if not a.startswith("-") and a not in files]
        assert named == [], f"the Dockerfile installs {named} besides the runtime pins"
    runtime, dev = pins(ROOT / "requirements-runtime.txt"), pins(ROOT / "requirements.txt")
    assert DEV_TOOLS <= set(dev) and not DEV_TOOLS & set(runtime)
    assert {k: v for k, v in dev.items() if k in runtime} == runtime  # dev = runtime + tools, same versions
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert all(path in ignored for path in NOT_IN_IMAGE)


# ------------------------------------------------------------------ the package


def test_project_dependencies_are_the_runtime_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = pins(ROOT / "requirements-runtime.txt")
    for dep in project["dependencies"]:
        name, sep, version = dep.partition("==")
        assert sep, f"{dep} is not pinned exactly"
        assert runtime.get(norm(name.split("[")[0])) == version, dep
    assert not {norm(d.split("==")[0]) for d in project["dependencies"]} & DEV_TOOLS


def test_wheel_layout_is_where_the_package_looks(tmp_path):
    """Lay the files out as pyproject's package-dir / package-data install them; the package finds them there."""
    setup = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "trident1_sandbox" not in " ".join(setup["packages"])
    site = tmp_path / "site-packages"
    for package in setup["packages"]:
        src = ROOT / setup["package-dir"][package]
        patterns = setup.get("package-data", {}).get(package, ["*.py"])
        for pattern in patterns:
            for path in src.glob(pattern):
                target = site / package.replace(".", "/") / path.relative_to(src)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(path, target)
    assert_finds_its_files(probe(site, tmp_path), site)


# ------------------------------------------------------------------ docker-compose.yml


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_init_stops_at_the_first_failure(compose):
    init = compose["services"]["airflow-init"]
    script = init["command"][-1]
    assert init["entrypoint"] == "/bin/bash" and script.splitlines()[0].startswith("set -e")
    assert "_AIRFLOW_DB_MIGRATE" not in (ROOT / "docker-compose.yml").read_text()  # dead with this entrypoint
    # Rule 7: the demo's Variables are stored explicitly, then checked as the DAG will read them.
    assert "airflow variables set" in script and "config check --from-airflow" in script


def test_compose_worker_has_a_healthcheck_and_the_fernet_key_is_required(compose):
    check = compose["services"]["airflow-worker"]["healthcheck"]
    assert "inspect ping" in " ".join(check["test"])
    fernet = compose["x-airflow-common"]["environment"]["AIRFLOW__CORE__FERNET_KEY"]
    assert re.fullmatch(r"\$\{AIRFLOW__CORE__FERNET_KEY:\?[^}]+\}", fernet), fernet
