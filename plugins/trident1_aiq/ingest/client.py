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
from trident1_aiq.settings.config import Trident1Credential

__all__ = ["HttpError", "LatestSeen", "RetriesExhausted", "RetryPolicy", "TransientError", "Trident1Client",
           "Trident1Error", "dedupe_latest", "record_id"]

PAGE_LIMIT = 500

#: The Trident1 client's errors are the HTTP core's (status and error code on each).
Trident1Error = HttpError


def _version(record: dict[str, Any]) -> datetime | None:
    for key in ("updated_at", "created_at"):
        value = record.get(key)
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                return None
    return None


def record_id(rec: Any) -> str | None:
    """A listed record's identity (the contract's ``id``), trimmed; None when it has no usable id."""
    rid = rec.get("id") if isinstance(rec, dict) else None
    if isinstance(rid, (str, int)) and not isinstance(rid, bool) and str(rid).strip():
        return str(rid).strip()
    return None


def dedupe_latest(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep one record per ``id``: the greatest ``updated_at`` (the later one on a tie).

    Records without a usable id are all kept: validation quarantines them.
    """
    by_id: dict[str, dict[str, Any]] = {}
    anonymous: list[dict[str, Any]] = []
    for rec in records:
        rid = record_id(rec)
        if rid is None:
            anonymous.append(rec)
            continue
        old = by_id.get(rid)
        if old is None:
            by_id[rid] = rec
            continue
        v_old, v_new = _version(old), _version(rec)
        if v_old is None or (v_new is not None and v_new >= v_old):
            by_id[rid] = rec
    return list(by_id.values()) + anonymous


class LatestSeen:
    """Streaming form of :func:`dedupe_latest` for a listing read page by page.

    A record passes unless the same id already passed with the same or a newer
    version (``updated_at``); a newer version passes again and the merge replaces
    the older one (rule 8). Remembers the last ``window`` ids only (a short string
    each, never the records), so memory does not follow the day: duplicates the
    API serves around a page boundary are caught here, and a repeat from further
    back is caught by the warehouse look-up (``pipeline.skip_known``) as unchanged.
    """

    def __init__(self, window: int = 50_000) -> None:
        self.window = window
        self.versions: OrderedDict[str, str | None] = OrderedDict()
        self.skipped = 0

    def accept(self, rec: Any) -> bool:
        rid = record_id(rec)
        if rid is None:
            return True
        raw = rec.get("updated_at") or rec.get("created_at")
        raw = raw if isinstance(raw, str) else None
        if rid not in self.versions:
            self._remember(rid, raw)
            return True
        old = self.versions[rid]
        v_old = _version({"updated_at": old}) if old else None
        v_new = _version(rec)
        if raw != old and (v_old is None or (v_new is not None and v_new > v_old)):
            self._remember(rid, raw)
            return True
        self.skipped += 1
        return False

    def _remember(self, rid: str, version: str | None) -> None:
        self.versions[rid] = version
        self.versions.move_to_end(rid)
        if len(self.versions) > self.window:
            self.versions.popitem(last=False)


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
        return dedupe_latest(records)

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
