"""Trident1 POS API v1 client (the interface: docs/external-apis.md).

Auth headers, cursor pagination, de-duplication of records listed twice, and
retries (tenacity) on 429 (honouring ``Retry-After``, capped), 5xx, connection
errors, timeouts and 200 responses that are not the expected JSON. 400, 401,
403 and 404 fail at once. Error messages name the connection id and the path,
never the API key.
"""

from __future__ import annotations

import logging
import random
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec
import requests
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
)

from .config import Trident1Credential

log = logging.getLogger(__name__)

PAGE_LIMIT = 500


class Trident1Error(RuntimeError):
    """A permanent error, or a transient one that outlasted the retry budget."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.code = status, code


class RetriesExhausted(Trident1Error):
    """A transient fault outlasted the retry budget: a later retry of the task may succeed."""


class TransientError(Trident1Error):
    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 120.0
    jitter: Callable[[], float] = field(default=random.random, compare=False)

    def wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, TransientError) and exc.retry_after is not None:
            return min(exc.retry_after, self.max_retry_after)
        backoff = min(self.max_delay, self.base_delay * 2 ** (state.attempt_number - 1))
        return backoff * (0.5 + self.jitter() / 2)


def _error(resp: requests.Response) -> tuple[str | None, str]:
    """(code, text) of an error body ``{"error": {"code", "message"}}``."""
    try:
        err = resp.json().get("error") or {}
        return err.get("code"), f"{err.get('code', '?')}: {err.get('message', '')}".strip()
    except (ValueError, AttributeError):
        return None, resp.text[:200]


def _error_text(resp: requests.Response) -> str:
    return _error(resp)[1]


def _retry_after(resp: requests.Response) -> float | None:
    value = resp.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


class HttpJsonClient:
    """The retrying JSON-over-HTTP core shared by the Trident1 and gateway clients."""

    def __init__(
        self,
        conn_id: str,
        base_url: str,
        headers: dict[str, str],
        *,
        retry: RetryPolicy | None = None,
        timeout: tuple[float, float] = (10.0, 60.0),
        session: requests.Session | None = None,
        sleep: Callable[[float], None] | None = None,
    ):
        self.conn_id = conn_id
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.headers.update(headers)
        self.session.headers["Accept"] = "application/json"
        self._sleep = sleep
        self.requests_made = 0
        self.retries = 0

    def _once(
        self, method: str, path: str, check: Callable[[Any], bool] | None, **kwargs: Any
    ) -> tuple[int, Any]:
        where = f"{self.conn_id}: {method} {path}"
        self.requests_made += 1
        try:
            resp = self.session.request(method, self.base_url + path, timeout=self.timeout, **kwargs)
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
            # resets, refused connections, timeouts, a body cut off mid-stream: all transient
            raise TransientError(f"{where}: {type(exc).__name__}") from None
        status = resp.status_code
        if status == 429:
            raise TransientError(f"{where}: 429 rate limited", _retry_after(resp))
        if status >= 500:
            raise TransientError(f"{where}: {status} {_error_text(resp)}")
        code, text = _error(resp) if status >= 400 else (None, "")
        if status in (401, 403):
            raise Trident1Error(
                f"{where}: {status} the credentials of connection {self.conn_id!r} were refused "
                f"({text}); check the connection's password (and store name)", status, code)
        if status >= 400:
            raise Trident1Error(f"{where}: {status} {text}", status, code)
        try:
            # msgspec decodes a page several times faster than the json module, each page once.
            body = msgspec.json.decode(resp.content)
        except msgspec.DecodeError:
            try:  # the json module also reads NaN and Infinity, which JSON has not: such a value is quarantined
                body = resp.json()
            except ValueError:
                raise TransientError(f"{where}: {status} response is not valid JSON") from None
        if check is not None and not check(body):
            raise TransientError(f"{where}: {status} response lacks the expected fields")
        return status, body

    def request(
        self, method: str, path: str, check: Callable[[Any], bool] | None = None, **kwargs: Any
    ) -> tuple[int, Any]:
        """One request with retries; ``check`` rejects a 200 body of the wrong shape."""
        retrying = Retrying(
            retry=retry_if_exception_type(TransientError),
            stop=stop_after_attempt(self.retry.attempts),
            wait=self.retry.wait,
            sleep=self._sleep or _default_sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            return retrying(self._once, method, path, check, **kwargs)
        except TransientError as exc:
            raise RetriesExhausted(f"{exc} (gave up after {self.retry.attempts} attempts)") from None

    def _log_retry(self, state: RetryCallState) -> None:
        self.retries += 1
        exc = state.outcome.exception() if state.outcome else None
        log.warning("retrying after: %s (attempt %d)", exc, state.attempt_number)


def _default_sleep(seconds: float) -> None:
    time.sleep(seconds)


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
