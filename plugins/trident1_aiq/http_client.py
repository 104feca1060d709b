"""The JSON-over-HTTP core shared by the Trident1 client and the SMS gateway client.

One request with retries (tenacity) on 429 (honouring ``Retry-After``, capped), 5xx, connection
errors, timeouts and 200 responses that are not the expected JSON; 400, 401, 403 and 404 fail at
once. Error messages name the connection id and the path, never the key or token.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
import requests
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
)

from trident1_aiq.logs import get_logger

log = get_logger(__name__)


class HttpError(RuntimeError):
    """A permanent error, or a transient one that outlasted the retry budget."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.code = status, code


class RetriesExhausted(HttpError):
    """A transient fault outlasted the retry budget: a later retry of the task may succeed."""


class TransientError(HttpError):
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
            raise HttpError(
                f"{where}: {status} the credentials of connection {self.conn_id!r} were refused "
                f"({text}); check the connection's password (and store name)", status, code)
        if status >= 400:
            raise HttpError(f"{where}: {status} {text}", status, code)
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
