"""Trident1 POS API v1 client (the interface: docs/external-apis.md).

Auth headers, cursor pagination and de-duplication of records listed twice, on the
retrying HTTP core shared with the SMS client (``trident1_aiq.http_client``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from trident1_aiq.http_client import HttpError, HttpJsonClient, RetriesExhausted, RetryPolicy, TransientError
from trident1_aiq.ingest.normalize import parse_time, to_utc
from trident1_aiq.settings.config import Trident1Credential

__all__ = ["SKIP", "HttpError", "LatestSeen", "NewestBatch", "RetriesExhausted", "RetryPolicy", "TransientError",
           "Trident1Client", "Trident1Error", "dedupe_latest", "record_id", "record_version", "supersedes"]

PAGE_LIMIT = 500

#: The Trident1 client's errors are the HTTP core's (status and error code on each).
Trident1Error = HttpError


def record_version(rec: Any, field: str | None = "updated_at") -> datetime | None:
    """Rule 8: the version a listed record carries: ``rec[field]`` read as every time is read
    (:func:`~trident1_aiq.ingest.normalize.parse_time`: RFC 3339 with an offset), in UTC.

    None when the field is missing, has no zone or does not parse, or the entity has no
    versions (``field`` None). Such a record takes no part in "the newest wins": it never
    replaces a version nor is replaced, and validation quarantines it with its reason.
    """
    if field is None or not isinstance(rec, dict):
        return None
    return to_utc(parse_time(rec.get(field)))


def supersedes(new: datetime | None, old: datetime | None) -> bool:
    """Rule 8: version ``new`` replaces ``old`` only when both are known and ``new`` is later.

    An equal version is a repeat: the one met first stays (the merge, ``load/changed_sales``,
    writes only a strictly newer ``updated_at``; the warehouse look-up, ``pipeline.skip_known``,
    skips the same or an older one).
    """
    return new is not None and old is not None and new > old


def record_id(rec: Any) -> str | None:
    """A listed record's identity (the contract's ``id``), trimmed; None when it has no usable id."""
    rid = rec.get("id") if isinstance(rec, dict) else None
    if isinstance(rid, (str, int)) and not isinstance(rid, bool) and str(rid).strip():
        return str(rid).strip()
    return None


#: What :meth:`LatestSeen.offer` returns for a record already passed in the same or a newer version.
SKIP = object()


class LatestSeen:
    """Rule 8 over a listing read page by page: each id passes once per newer version.

    A record passes unless the same id already passed with the same or a newer version
    (:func:`supersedes`); a newer version passes again and replaces the older one (in the
    chunk, :class:`NewestBatch`, or else by the merge). For an entity without versions
    (``version`` None: refunds, the catalogue) the first listing of an id wins. A record with
    no usable id or no readable version always passes and is never remembered: validation
    quarantines it. Remembers the last ``window`` ids only (None: all), a short string and a
    datetime each, never the records, so memory does not follow the day: duplicates the API
    serves around a page boundary are caught here, and a repeat from further back is caught by
    the warehouse look-up (``pipeline.skip_known``) as unchanged.
    """

    def __init__(self, window: int | None = 50_000, version: str | None = "updated_at") -> None:
        self.window = window
        self.version = version
        self.versions: OrderedDict[str, datetime | None] = OrderedDict()
        self.skipped = 0

    def offer(self, rec: Any) -> object:
        """:data:`SKIP`, or the id of a record that passes (None for one outside the ordering)."""
        rid = record_id(rec)
        if rid is None:
            return None
        version = record_version(rec, self.version)
        if version is None and self.version is not None:
            return None
        if rid in self.versions and not supersedes(version, self.versions[rid]):
            self.skipped += 1
            return SKIP
        self.versions[rid] = version
        self.versions.move_to_end(rid)
        if self.window is not None and len(self.versions) > self.window:
            self.versions.popitem(last=False)
        return rid

    def accept(self, rec: Any) -> bool:
        return self.offer(rec) is not SKIP


class NewestBatch:
    """A batch of listed records holding each id once, in its newest version (rule 8).

    What :func:`dedupe_latest` returns and what each of ``pipeline.chunked``'s chunks holds:
    a record :class:`LatestSeen` passes again (a newer version) takes its older version's
    place; records outside the ordering are all kept, in the order read.
    """

    def __init__(self, seen: LatestSeen) -> None:
        self.seen = seen
        self.records: list[dict[str, Any]] = []
        self._at: dict[str, int] = {}  # record id → its position in ``records``

    def add(self, rec: Any) -> dict[str, Any] | None:
        """Add ``rec`` unless it is a repeat; return the older version it replaced here, if any."""
        rid = self.seen.offer(rec)
        if rid is SKIP:
            return None
        if isinstance(rid, str):
            at = self._at.get(rid)
            if at is not None:
                older, self.records[at] = self.records[at], rec
                return older
            self._at[rid] = len(self.records)
        self.records.append(rec)
        return None


def dedupe_latest(records: list[dict[str, Any]], version: str | None = "updated_at") -> list[dict[str, Any]]:
    """Keep one record per ``id``, its newest ``version`` (rule 8; on a tie the first listed).

    Records without a usable id or version are all kept: validation quarantines them.
    """
    batch = NewestBatch(LatestSeen(window=None, version=version))
    for rec in records:
        batch.add(rec)
    return batch.records


class Trident1Client:
    def __init__(self, credential: Trident1Credential, *, page_limit: int = PAGE_LIMIT, **kwargs: Any):
        self.credential = credential
        self.page_limit = page_limit
        self.http = HttpJsonClient(
            credential.conn_id,
            credential.base_url,
            {
                "Authorization": f"Bearer {credential.api_key.get_secret_value()}",
                "X-Trident1-Store": credential.store_name,
            },
            **kwargs,
        )

    def iter_pages(self, path: str, params: dict[str, Any] | None = None) -> Iterator[list[dict]]:
        """Yield each page's records until ``next_cursor`` is null."""
        params = dict(params or {})
        cursor: str | None = None
        while True:
            query = dict(params, cursor=cursor) if cursor else params
            # A 200 without a `data` list is a transient fault, never "no records".
            _, body = self.http.request("GET", path, check=_is_page, params=query)
            yield body["data"]
            cursor = body.get("next_cursor")
            if not cursor:
                return

    def list(self, path: str, params: dict[str, Any] | None = None) -> list[dict]:
        records: list[dict] = []
        for page in self.iter_pages(path, params):
            records.extend(page)
        return dedupe_latest(records, version=None)  # the catalogue has no versions: the first listing wins

    def window(self, path: str, since: datetime, before: datetime) -> list[dict]:
        return dedupe_latest([r for page in self.iter_window(path, since, before) for r in page])

    def iter_window(self, path: str, since: datetime, before: datetime) -> Iterator[list[dict]]:
        """The window's pages as they arrive (no dedupe: see :class:`LatestSeen`)."""
        return self.iter_pages(
            path,
            {"updated_since": _rfc3339(since), "updated_before": _rfc3339(before), "limit": self.page_limit},
        )

    def locations(self) -> list[dict]:
        return self.list("/locations")

    def discounts(self) -> list[dict]:
        return self.list("/discounts")


def _is_page(body: Any) -> bool:
    return isinstance(body, dict) and isinstance(body.get("data"), list)


def _rfc3339(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("window bounds must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
