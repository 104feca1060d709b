"""The entity declarations agree with the warehouse and the run book they name."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from trident1_aiq.ingest.entities import ENTITIES
from trident1_aiq.runs import MEASURES
from trident1_aiq.warehouse import Warehouse, sqlite_url

pytestmark = pytest.mark.unit


def test_each_entity_key_is_its_tables_primary_key(tmp_path):
    wh = Warehouse(sqlite_url(tmp_path / "w.db"))
    wh.migrate()
    insp = inspect(wh.engine)
    try:
        for e in ENTITIES:
            assert tuple(insp.get_pk_constraint(e.table)["constrained_columns"]) == e.key, e.name
    finally:
        wh.dispose()


def test_entities_count_into_ingest_measures_and_merge_completely():
    assert [e.name for e in ENTITIES] == ["customer", "sale", "refund"]  # personas first, refunds after their sales
    for e in ENTITIES:
        assert e.read in MEASURES["ingest"]
        assert e.path.startswith("/") and e.key[0] == "credential"
        merges = (e.stage, e.merged, e.release, e.known, e.validate)
        assert all(merges) if e.merge else not any(merges), e.name  # a merged entity is declared whole
        assert e.located or not e.merge  # what is merged is mapped to a store by its location
