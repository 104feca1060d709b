"""Every query name the code uses resolves on both databases, and every query is used
(a typo or a dead query fails here, not in production)."""

from __future__ import annotations

import ast
import importlib.util
import re

import pytest

from trident1_aiq.warehouse import DIALECTS, SECTIONS, SQL_DIR, read_sections, split_statements, sql_text

from ..conftest import ROOT

pytestmark = pytest.mark.unit

FOLDERS = sorted(p.name for p in SQL_DIR.iterdir() if p.is_dir() and p.name != "migrations")
NAME_RE = re.compile(rf"^({'|'.join(FOLDERS)})/\w+$")
SOURCES = [*sorted((ROOT / "plugins" / "trident1_aiq").rglob("*.py")), *sorted((ROOT / "benchmarks").glob("*.py"))]


def referenced() -> dict[str, list[str]]:
    """Query names written as string literals in the product and the benchmarks → where."""
    found: dict[str, list[str]] = {}
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and NAME_RE.match(node.value):
                found.setdefault(node.value, []).append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def defined() -> set[str]:
    """Every query of include/sql outside migrations/: files of their own and named sections."""
    names = {"bootstrap"}
    for folder in FOLDERS:
        for path in (SQL_DIR / folder).glob("*.sql"):
            stem = path.name.split(".")[0]
            if stem == SECTIONS:
                names |= {f"{folder}/{q}" for q in read_sections(path)}
            else:
                names.add(f"{folder}/{stem}")
    return names


def test_the_scan_finds_what_the_code_uses():
    names = referenced()
    assert {"load/lock", "loyalty/insert_entry", "optin/latest_reply", "load/merge_sales"} <= set(names)
    assert len(names) > 60


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_referenced_query_resolves(dialect):
    missing = []
    for name, where in sorted(referenced().items()):
        try:
            sql_text(name, dialect)
        except KeyError as exc:
            missing.append(f"{name} ({', '.join(where)}): {exc}")
    assert missing == []
    assert split_statements(sql_text("bootstrap", dialect))


def test_an_unknown_name_fails_loudly():
    with pytest.raises(KeyError, match="load/no_such_query"):
        sql_text("load/no_such_query", "sqlite")


def test_every_query_is_used():
    assert sorted(defined() - set(referenced()) - {"bootstrap"}) == []


def test_query_names_are_written_literally():
    """A name built at run time (an f-string) would escape the checks above."""
    built = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
                head = str(node.values[0].value)
                if re.match(rf"^({'|'.join(FOLDERS)})/", head):
                    built.append(f"{path.relative_to(ROOT)}:{node.lineno}: f{head!r}…")
    assert built == []


def test_a_variant_always_has_its_shared_query():
    """A dialect variant overrides a shared query; a name defined for one database only would fail on the other."""
    orphans = []
    for path in SQL_DIR.rglob("*.sql"):
        parts = path.name.split(".")
        if len(parts) == 3 and parts[1] in DIALECTS:
            if parts[0] == SECTIONS:
                shared = read_sections(path.with_name(f"{SECTIONS}.sql"))
                orphans += [f"{path.parent.name}/{q}" for q in read_sections(path) if q not in shared]
            elif not path.with_name(f"{parts[0]}.sql").exists():
                orphans.append(str(path.relative_to(SQL_DIR)))
    assert orphans == []


def test_files_of_their_own_are_migrations_merges_and_explained_statements():
    spec = importlib.util.spec_from_file_location("explain", ROOT / "benchmarks" / "explain.py")
    explain = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(explain)
    explained = {name for _, name, _ in explain.HOT}
    own = {f"{p.parent.name}/{p.name.split('.')[0]}" for folder in FOLDERS for p in (SQL_DIR / folder).glob("*.sql")
           if p.name.split(".")[0] != SECTIONS}
    merges = {n for n in own if n.split("/")[1].startswith("merge_")}
    assert own - explained - merges == set()
    assert explained <= own  # what is EXPLAINed is worth a file (the report names it)
