"""Trident1 client against the local sandbox: paging, dedupe, retries, errors (docs/external-apis.md)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests

from trident1_aiq.ingest.client import RetryPolicy, Trident1Client, Trident1Error
from trident1_aiq.ingest.entities import SALE
from trident1_sandbox import data
from trident1_sandbox.app import Faults

from ..factories import DAY, NOW, credential_for

pytestmark = pytest.mark.unit
SINCE = NOW - timedelta(days=2)


def client(server, name="acme", key=None, attempts=6, sleeps=None, **kw):
    waits = sleeps if sleeps is not None else []
    return Trident1Client(credential_for(server, name, key), retry=RetryPolicy(attempts=attempts, jitter=lambda: 0.5),
                          sleep=waits.append, **kw)


def expected_ids(server, since=SINCE, before=NOW):
    st = server.state
    return sorted(str(r["id"]) for r in data.list_sales(st.stores["acme"], st.volume, since, before, st.now))


def test_pagination_follows_cursor_until_null(sandbox):
    c = client(sandbox, page_limit=37)
    records = c.window(SALE.path, SINCE, NOW)
    assert sorted(str(r["id"]) for r in records) == expected_ids(sandbox)
    assert c.http.requests_made >= len(records) // 37  # really paged


def test_both_auth_headers_are_sent(sandbox):
    from trident1_aiq.settings.config import trident1_credential
    cred = trident1_credential("trident1_acme", host=f"127.0.0.1:{sandbox.port}", schema="http", port=None,
                               password="sandbox-acme-key", extra={"store_name": "bolt"})
    with pytest.raises(Trident1Error) as err:
        Trident1Client(cred).locations()
    assert "403" in str(err.value)  # the key is acme's: the store header was checked too


def test_duplicates_across_pages_are_removed(sandbox):
    sandbox.state.faults = Faults(duplicate_pages=True)
    records = client(sandbox, page_limit=25).window(SALE.path, SINCE, NOW)
    ids = [str(r["id"]) for r in records if r.get("id")]
    assert len(ids) == len(set(ids))
    assert sorted(str(r["id"]) for r in records) == expected_ids(sandbox)


def test_dedupe_keeps_latest_updated_at():
    from trident1_aiq.ingest.client import dedupe_latest

    old = {"id": "S-1", "updated_at": "2026-11-25T10:00:00Z", "status": "completed"}
    new = {"id": "S-1", "updated_at": "2026-11-26T10:00:00Z", "status": "refunded"}
    assert dedupe_latest([new, old]) == [new]
    assert dedupe_latest([old, new]) == [new]


# Rule 8's edge cases, each a listing of (id, updated_at) in the order read and the positions
# of the records that survive: the newest version of an id wins, the first listed on a tie; a
# record whose version cannot be read (missing, without a zone, not a time) takes no part in
# the ordering: it is kept, for validation to quarantine, and never replaces a readable one.
T = "2026-11-25T10:00:00"
RULE8_CASES = {
    "newer after older": ([("S-1", T + "Z"), ("S-1", "2026-11-25T10:00:01Z")], [1]),
    "older after newer": ([("S-1", "2026-11-25T10:00:01Z"), ("S-1", T + "Z")], [0]),
    "three versions out of order": ([("S-1", T + "Z"), ("S-1", "2026-11-25T12:00:00Z"),
                                     ("S-1", "2026-11-25T11:00:00Z")], [1]),
    "exact repeat": ([("S-1", T + "Z"), ("S-1", T + "Z")], [0]),
    "equal time, different payload: the first listed": ([("S-1", T + "Z", "voided"), ("S-1", T + "Z")], [0]),
    "equal instant in another offset": ([("S-1", T + "Z"), ("S-1", "2026-11-25T05:00:00-05:00")], [0]),
    "offset makes the later clock reading older": ([("S-1", T + "Z"), ("S-1", "2026-11-25T11:00:00+02:00")], [0]),
    "one microsecond newer": ([("S-1", T + "Z"), ("S-1", T + ".000001Z")], [1]),
    "unzoned then zoned": ([("S-1", T), ("S-1", T + "Z")], [0, 1]),
    "zoned then unzoned": ([("S-1", T + "Z"), ("S-1", T)], [0, 1]),
    "missing version": ([("S-1", T + "Z"), ("S-1", None)], [0, 1]),
    "blank version": ([("S-1", ""), ("S-1", T + "Z")], [0, 1]),
    "invalid version": ([("S-1", "yesterday"), ("S-1", T + "Z"), ("S-1", "2026-13-45T10:00:00Z")], [0, 1, 2]),
    "a number is no version": ([("S-1", 1764064800), ("S-1", T + "Z")], [0, 1]),
    "two unreadable versions of one id": ([("S-1", T), ("S-1", T)], [0, 1]),
    "no id: all kept": ([(None, T + "Z"), (None, T + "Z"), ("  ", T + "Z")], [0, 1, 2]),
    "ids trimmed, numbers as text": ([(" S-1 ", T + "Z"), ("S-1", "2026-11-25T10:00:01Z"), (7, T + "Z"),
                                      ("7", T + "Z")], [1, 2]),
    "other ids untouched": ([("S-1", T + "Z"), ("S-2", T + "Z"), ("S-1", "2026-11-25T10:00:01Z")], [2, 1]),
}


def _listing(spec):
    out = []
    for n, (rid, version, *status) in enumerate(spec):
        rec = {"id": rid, "n": n, "status": status[0] if status else "completed"}
        if version is not None:
            rec["updated_at"] = version
        out.append(rec)
    return out


@pytest.mark.parametrize(("spec", "survivors"), RULE8_CASES.values(), ids=RULE8_CASES.keys())
def test_rule8_newest_version_wins_the_edge_cases(spec, survivors):
    """One rule, one table: the whole listing at once (dedupe_latest), and streamed in chunks of every
    size (pipeline.chunked: a newer version replaces its older one within a chunk, the merge across)."""
    from trident1_aiq.ingest.client import LatestSeen, dedupe_latest, record_id, record_version
    from trident1_aiq.ingest.pipeline import chunked
    from trident1_aiq.runs import RunCounts

    listing = _listing(spec)
    assert [r["n"] for r in dedupe_latest(listing)] == survivors
    for size in range(1, len(listing) + 1):
        superseded: list[dict] = []
        chunks = list(chunked(iter([listing[:1], listing[1:]]), size, RunCounts("ingest"), LatestSeen(),
                              superseded=superseded.append))
        passed = [r["n"] for chunk in chunks for r in chunk]
        # What passes is each survivor plus, in an earlier chunk, an older version the merge replaces.
        assert set(survivors) <= set(passed)
        assert len(passed) + len(superseded) <= len(listing)
        if size >= len(listing):
            assert passed == survivors
        for chunk in chunks:  # never two ordered versions of one id in one chunk
            ordered = [record_id(r) for r in chunk if record_id(r) and record_version(r)]
            assert len(ordered) == len(set(ordered))


def test_rule8_the_version_is_read_as_every_time_is_read():
    """record_version is parse_time in UTC: no zone, no version (the comparison never mixes naive
    and aware times, which raised TypeError); an entity without versions has none."""
    from datetime import UTC, datetime

    from trident1_aiq.ingest.client import record_version, supersedes

    assert record_version({"updated_at": "2026-11-25T05:00:00-05:00"}) == datetime(2026, 11, 25, 10, tzinfo=UTC)
    assert record_version({"updated_at": T}) is None
    assert record_version({"updated_at": T + "Z"}, None) is None
    assert record_version({"created_at": T + "Z"}) is None  # no fall-back to another field
    assert record_version({"created_at": T + "Z"}, "created_at") is not None
    assert record_version(["not", "a", "record"]) is None
    later, earlier = record_version({"updated_at": T + ".5Z"}), record_version({"updated_at": T + "Z"})
    assert supersedes(later, earlier) and not supersedes(earlier, later) and not supersedes(later, later)
    assert not supersedes(None, earlier) and not supersedes(later, None) and not supersedes(None, None)


def test_rule8_an_entity_without_versions_keeps_the_first_listing():
    """Refunds and the catalogue never change once created: a repeat is skipped, whatever it says."""
    from trident1_aiq.ingest.client import LatestSeen, dedupe_latest

    first = {"id": "R-1", "created_at": T + "Z", "amount": "5.00"}
    again = {"id": "R-1", "created_at": "2026-11-26T10:00:00Z", "amount": "9.00"}
    assert dedupe_latest([first, again], version=None) == [first]
    seen = LatestSeen(version=None)
    assert [seen.accept(r) for r in (first, again, {"id": None}, {"id": None})] == [True, False, True, True]

def test_rule8_streaming_dedupe_passes_each_version_once_and_never_an_older_one():
    """LatestSeen: a repeat is skipped, a newer version passes, an older one after it does not."""
    from trident1_aiq.ingest.client import LatestSeen

    seen = LatestSeen()
    old = {"id": "S-1", "updated_at": "2026-11-25T10:00:00Z"}
    new = {"id": "S-1", "updated_at": "2026-11-26T10:00:00Z"}
    anonymous = {"id": None, "updated_at": "2026-11-25T10:00:00Z"}
    assert [seen.accept(r) for r in (old, dict(old), new, old, new, anonymous, anonymous)] == [
        True, False, True, False, False, True, True]
    assert seen.skipped == 3


def test_streaming_dedupe_memory_is_bounded():
    from trident1_aiq.ingest.client import LatestSeen

    seen = LatestSeen(window=3)
    assert all(seen.accept({"id": f"S-{n}", "updated_at": "2026-11-25T10:00:00Z"}) for n in range(10))
    assert len(seen.versions) == 3 and not seen.accept({"id": "S-9", "updated_at": "2026-11-25T10:00:00Z"})


def test_streamed_pages_deduped_equal_the_listing(sandbox):
    from trident1_aiq.ingest.client import LatestSeen

    sandbox.state.faults = Faults(duplicate_pages=True)
    seen = LatestSeen()
    streamed = [r for page in client(sandbox, page_limit=25).iter_window("/sales", SINCE, NOW)
                for r in page if seen.accept(r)]
    assert sorted(str(r["id"]) for r in streamed) == expected_ids(sandbox)
    assert seen.skipped > 0


def test_429_waits_retry_after_then_succeeds(sandbox):
    sandbox.state.faults = Faults(script=["429", "429"], retry_after=3)
    waits: list[float] = []
    c = client(sandbox, sleeps=waits)
    assert c.locations()
    assert waits == [3.0, 3.0]


def test_retry_after_is_capped(sandbox):
    sandbox.state.faults = Faults(script=["429"], retry_after=3600)
    waits: list[float] = []
    c = Trident1Client(credential_for(sandbox, "acme"), retry=RetryPolicy(max_retry_after=60), sleep=waits.append)
    c.locations()
    assert waits == [60.0]


@pytest.mark.parametrize("fault", ["500", "502", "503", "504", "nonjson", "truncated", "nodata", "reset"])
def test_transient_fault_then_success(sandbox, fault):
    sandbox.state.faults = Faults(script=[fault])
    c = client(sandbox)
    assert sorted(str(r["id"]) for r in c.window(SALE.path, SINCE, NOW)) == expected_ids(sandbox)
    assert c.http.retries == 1


def test_invalid_json_retried_then_fails_clearly(sandbox):
    sandbox.state.faults = Faults(script=["nonjson"] * 5)
    waits: list[float] = []
    with pytest.raises(Trident1Error) as err:
        client(sandbox, attempts=3, sleeps=waits).locations()
    assert "not valid JSON" in str(err.value) and "gave up after 3 attempts" in str(err.value)
    assert len(waits) == 2  # exponential back-off between the three attempts
    assert waits[1] > waits[0]


def test_timeout_is_transient(sandbox):
    sandbox.state.faults = Faults(script=["timeout"], timeout_s=1.5)
    c = client(sandbox, timeout=(2.0, 0.5))
    assert c.locations()
    assert c.http.retries == 1


def test_401_names_the_connection_never_the_key_and_is_not_retried(sandbox):
    c = client(sandbox, key="wrong-key-XYZZY-123")
    with pytest.raises(Trident1Error) as err:
        c.locations()
    text = str(err.value)
    assert "401" in text and "trident1_acme" in text
    assert "XYZZY" not in text and "sandbox-acme-key" not in text
    assert c.http.requests_made == 1


def test_400_is_not_retried(sandbox):
    c = client(sandbox)
    with pytest.raises(Trident1Error) as err:
        c.window(SALE.path, NOW, NOW - timedelta(hours=1))  # since after before
    assert "400" in str(err.value) and c.http.requests_made == 1


def test_404_is_not_retried(sandbox):
    c = client(sandbox)
    with pytest.raises(Trident1Error) as err:
        list(c.iter_pages("/nothing"))
    assert "404" in str(err.value) and c.http.requests_made == 1


def test_window_parameters_follow_the_contract(sandbox):
    day_start = NOW.replace(hour=0) - timedelta(days=1)
    assert DAY == day_start.date()
    records = client(sandbox).window(SALE.path, day_start, NOW.replace(hour=0))
    assert all(day_start.strftime("%Y-%m-%d") <= r["updated_at"][:10] for r in records)


class _Canned(requests.adapters.BaseAdapter):
    """Answers every request with one body (bytes), status 200."""

    def __init__(self, body: bytes):
        super().__init__()
        self.body = body

    def send(self, request, **kwargs):
        resp = requests.Response()
        resp.status_code, resp._content, resp.request, resp.url = 200, self.body, request, request.url
        resp.headers["Content-Type"] = "application/json"
        return resp

    def close(self):
        pass


@pytest.mark.parametrize("body, pages", [
    (b'{"data": [{"id": "S-1", "total": "1.00"}], "next_cursor": null}', [[{"id": "S-1", "total": "1.00"}]]),
    # NaN is not JSON, but the json module reads it: the record reaches validation (quarantined), the page is not lost
    (b'{"data": [{"id": "S-2", "total": NaN}], "next_cursor": null}', "nan"),
])
def test_a_page_is_decoded_once_and_nan_still_reaches_validation(body, pages):
    from trident1_aiq.settings.config import trident1_credential

    session = requests.Session()
    session.mount("http://", _Canned(body))
    cred = trident1_credential("trident1_x", host="t1.invalid", schema="http", port=None, password="k",
                               extra={"store_name": "s"})
    got = list(Trident1Client(cred, session=session).iter_pages("/sales"))
    if pages == "nan":
        assert got[0][0]["id"] == "S-2" and got[0][0]["total"] != got[0][0]["total"]  # NaN
    else:
        assert got == pages


def test_a_page_that_is_not_json_is_a_transient_error():
    from trident1_aiq.ingest.client import RetriesExhausted
    from trident1_aiq.settings.config import trident1_credential

    session = requests.Session()
    session.mount("http://", _Canned(b"<html>gateway</html>"))
    cred = trident1_credential("trident1_x", host="t1.invalid", schema="http", port=None, password="k",
                               extra={"store_name": "s"})
    client = Trident1Client(cred, session=session, retry=RetryPolicy(attempts=2, jitter=lambda: 0.0), sleep=lambda s: None)
    with pytest.raises(RetriesExhausted, match="not valid JSON"):
        list(client.iter_pages("/sales"))
