"""docs/warehouse.md documents exactly the schema: every table, view and column, nothing more."""

from __future__ import annotations

import re

import pytest

from ..factories import ROOT

pytestmark = pytest.mark.integration


def documented() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    current = None
    for line in (ROOT / "docs" / "warehouse.md").read_text().splitlines():
        heading = re.match(r"^### (\w+)\s*$", line)
        if heading:
            current = heading.group(1)
            out[current] = set()
            continue
        cell = re.match(r"^\| (\w+) \|", line)
        if current and cell and cell.group(1) not in ("column",):
            out[current].add(cell.group(1))
    return out


def test_data_dictionary_matches_schema(warehouse):
    actual = {t: set(cols) for t, cols in warehouse.tables().items()}
    docs = documented()
    assert sorted(set(actual) - set(docs)) == [], "tables missing from docs/warehouse.md"
    assert sorted(set(docs) - set(actual)) == [], "documented tables that do not exist"
    for table, cols in actual.items():
        assert cols == docs[table], f"{table}: undocumented {cols - docs[table]}, stale {docs[table] - cols}"
