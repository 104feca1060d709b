"""Regression tests for the defects of issue 11 that concern the ingest (rules 6, 8), on both
databases: each failed before its fix."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta

import pytest

from trident1_aiq.ingest.client import Trident1Client
from trident1_aiq.ingest.pipeline import ingest_credential, prepare_run, run_window
from trident1_aiq.settings.config import default_variable_text, demo_settings

from ..factories import DAY, NOW, credential_for, ingest, scalar

pytestmark = pytest.mark.integration


class ChangesWhilePaged:
    """The real client, except that a few records are listed again, later in the listing, in a
    newer version — as Trident1 does when a record changes while the listing is paged."""

    def __init__(self, client: Trident1Client, changes: dict[str, int]):
        self.client, self.changes = client, changes  # path → how many records change
        self.changed: dict[str, list[dict]] = {}

    def __getattr__(self, name):
        return getattr(self.client, name)

    def iter_window(self, path, since, before):
        pages = list(self.client.iter_window(path, since, before))
        n = self.changes.get(path, 0)
        if not n:
            yield from pages
            return
        first = [r for r in pages[0] if isinstance(r, dict) and r.get("id")][:n]
        newer = []
        for rec in first:
            rec2 = copy.deepcopy(rec)
            bumped = datetime.fromisoformat(rec["updated_at"].replace("Z", "+00:00")) + timedelta(seconds=1)
            rec2["updated_at"] = bumped.strftime("%Y-%m-%dT%H:%M:%SZ")
            if path == "/sales":
                rec2["status"] = "voided"
            else:
                rec2["last_name"] = "Changed"
            newer.append(rec2)
        self.changed[path] = newer
        yield from pages[:-1]
        yield pages[-1] + newer


def _ingest(wh, client, settings, run_id="r1", chunk_size=None):
    return ingest_credential(wh=wh, client=client, settings=settings, credential="trident1_acme", run_id=run_id,
                             window=run_window(DAY, settings.integration.lookback_hours, NOW), now=NOW,
                             chunk_size=chunk_size)


@pytest.mark.parametrize("chunk_size", [None, 100])
def test_defect1_a_record_changed_while_paged_loads_its_newest_version(warehouse, sandbox, settings, chunk_size):
    """Both versions in one chunk crashed the merge (UNIQUE sale_items); across chunks the newer wins too."""
    prepare_run(warehouse, settings, NOW)
    client = ChangesWhilePaged(Trident1Client(credential_for(sandbox, "acme")), {"/sales": 3, "/customers": 2})
    summary = _ingest(warehouse, client, settings, chunk_size=chunk_size)
    for rec in client.changed["/sales"]:
        row = scalar(warehouse, "SELECT status FROM sales WHERE sale_id = :s", s=rec["id"])
        assert row == "voided" or rec["location_id"] not in settings.mapping_for("trident1_acme")
        lines = scalar(warehouse, "SELECT COUNT(*) FROM sale_items WHERE sale_id = :s", s=rec["id"])
        assert lines in (0, len(rec["items"]))
    assert summary["loaded"] > 100 and len(client.changed["/customers"]) == 2
    again = _ingest(warehouse, client, settings, run_id="r2", chunk_size=chunk_size)  # a rerun changes nothing
    assert again["loaded"] == 0 and again["updated"] == 0


def test_defect6_held_records_released_on_the_first_run_after_the_mapping_is_fixed(warehouse, sandbox):
    """LOC-4 mapped, then mistyped (LOC-04: its records are held again, many already loaded), then
    fixed: the first run after the fix releases every held record, changed or not."""
    maps = json.loads(default_variable_text("trident1_store_mappings"))
    good = demo_settings({"trident1_store_mappings": json.dumps(
        [*maps, {"credential": "trident1_acme", "location_id": "LOC-4", "store_id": "la-venice"}])})
    typo = demo_settings({"trident1_store_mappings": json.dumps(
        [*maps, {"credential": "trident1_acme", "location_id": "LOC-04", "store_id": "la-venice"}])})
    open_held = "SELECT COUNT(*) FROM quarantine WHERE held = TRUE AND released_at IS NULL"

    prepare_run(warehouse, good, NOW)
    ingest(warehouse, sandbox, good, run_id="r1")
    loaded = scalar(warehouse, "SELECT COUNT(*) FROM sales WHERE location_id = 'LOC-4'")
    assert loaded > 0 and scalar(warehouse, open_held) == 0

    prepare_run(warehouse, typo, NOW)
    second = ingest(warehouse, sandbox, typo, run_id="r2")
    assert scalar(warehouse, open_held) >= loaded  # re-held, though already loaded
    notes = scalar(warehouse, "SELECT notes FROM etl_runs WHERE run_id = 'r2' AND credential = 'trident1_acme'")
    assert "LOC-04" in notes and "warning" in notes  # rule 6: the likely typo is named in the run report
    assert second["held"] >= loaded

    prepare_run(warehouse, good, NOW)
    third = ingest(warehouse, sandbox, good, run_id="r3", day=DAY - timedelta(days=1))  # whatever day it processes
    assert scalar(warehouse, open_held) == 0
    assert third["released"] >= loaded
    assert scalar(warehouse, "SELECT COALESCE(SUM(held_records), 0) FROM location_mappings "
                             "WHERE store_id IS NOT NULL") == 0
    after = scalar(warehouse, "SELECT COUNT(*) FROM sales WHERE location_id = 'LOC-4'")
    assert after >= loaded
    fourth = ingest(warehouse, sandbox, good, run_id="r4", day=DAY - timedelta(days=1))
    assert scalar(warehouse, open_held) == 0 and fourth["released"] == 0
    assert scalar(warehouse, "SELECT COUNT(*) FROM sales WHERE location_id = 'LOC-4'") == after
