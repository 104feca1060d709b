"""An independent, in-process Trident1 POS API and AIQ SMS gateway, written from the contracts
(``docs/external-apis.md``) and driven by an explicit history.

Nothing here comes from the project's sandbox: records are whatever the test puts in, and the
server is as hostile as the contract allows:

* every page holds a random number of records in ``1..limit``, however many remain;
* a page may start again with the last record of the previous page (repeated across a boundary);
* a mutation registered with :meth:`FakeTrident1.during_listing` is applied between two page
  requests, so a record already listed in its old version is listed again, later, in its new one;
* windows apply to ``updated_at`` (refunds: ``created_at``), ``updated_since`` inclusive,
  ``updated_before`` exclusive; ``updated_before`` later than the server clock is a 400, so is a
  reversed window, a limit outside 1..500 or a cursor replayed with other parameters;
* optional transient faults (503, 429 with ``Retry-After: 0``) that the client must retry.

The fake keeps a log of every record it served (:attr:`FakeTrident1.served`): the reference
model works from what the API really returned, which the contract leaves open.

It plugs into the real clients through a ``requests`` transport adapter (:class:`FakeTransport`)
mounted on a :class:`requests.Session`: no sockets, no threads.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import itertools
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

CENT = Decimal("0.01")
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
LISTINGS = ("sales", "refunds", "customers")


def z(moment: datetime) -> str:
    """UTC RFC 3339 with ``Z``, as the contract writes ``updated_at``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset")
    return moment.astimezone(UTC)


def money(value: Decimal) -> str:
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


# ---------------------------------------------------------------------------------------------
# Record builders: well-formed records by the contract's arithmetic (to the cent).


def build_sale(*, sale_id: str, location: dict, at: datetime, lines: list[tuple[str, str, bool]],
               customer: dict | None, status: str = "completed", discount_id: str = "D-10") -> dict:
    """A sale rung at ``at``; ``lines`` are (quantity, unit_price, discounted 10 %)."""
    items, subtotal, disc_total, tax_total = [], Decimal(0), Decimal(0), Decimal(0)
    for n, (qty, price, discounted) in enumerate(lines, start=1):
        gross = (Decimal(qty) * Decimal(price)).quantize(CENT, rounding=ROUND_HALF_UP)
        disc = (gross / 10).quantize(CENT, rounding=ROUND_HALF_UP) if discounted else Decimal("0.00")
        tax = ((gross - disc) * Decimal("0.08")).quantize(CENT, rounding=ROUND_HALF_UP)
        items.append({"line_id": n, "sku": f"SKU-{n}", "name": f"Item {n}", "category": "Knives",
                      "quantity": f"{Decimal(qty):.3f}", "unit_price": money(Decimal(price)),
                      "discount": money(disc), "tax": money(tax), "total": money(gross - disc + tax)})
        subtotal += gross
        disc_total += disc
        tax_total += tax
    total = subtotal - disc_total + tax_total
    local = at.astimezone(ZoneInfo(location["timezone"]))
    return {
        "id": sale_id, "location_id": location["id"], "receipt_number": f"R{sale_id}", "status": status,
        "created_at": local.isoformat(timespec="seconds"), "updated_at": z(at),
        "customer": copy.deepcopy(customer),
        "items": items,
        "discounts": ([{"discount_id": discount_id, "code": "TENOFF", "name": "10% off",
                        "amount": money(disc_total), "in_store_only": False}] if disc_total else []),
        "payments": [{"method": "card", "amount": money(total)}],
        "subtotal": money(subtotal), "discount_total": money(disc_total), "tax_total": money(tax_total),
        "total": money(total), "currency": "USD",
    }


def eligible(sale: dict) -> Decimal:
    return Decimal(sale["subtotal"]) - Decimal(sale["discount_total"])


def build_refund(*, refund_id: str, sale: dict, location: dict, at: datetime, amount: Decimal) -> dict:
    """A refund of merchandise ``amount`` (after discounts, before tax), tax pro rata."""
    tax = (Decimal(sale["tax_total"]) * amount / eligible(sale)).quantize(CENT, rounding=ROUND_HALF_UP)
    local = at.astimezone(ZoneInfo(location["timezone"]))
    return {"id": refund_id, "sale_id": sale["id"], "location_id": sale["location_id"],
            "created_at": local.isoformat(timespec="seconds"), "amount": money(amount), "tax": money(tax),
            "total": money(amount + tax), "items": [], "reason": "changed mind"}


# ---------------------------------------------------------------------------------------------
# Trident1


@dataclass
class Account:
    """One Trident1 store account (one credential)."""

    name: str
    api_key: str
    locations: list[dict]
    discounts: list[dict]
    sales: dict[str, dict] = field(default_factory=dict)
    refunds: dict[str, dict] = field(default_factory=dict)
    customers: dict[str, dict] = field(default_factory=dict)

    @property
    def store_name(self) -> str:
        return self.name

    def records(self, kind: str) -> dict[str, dict]:
        return {"sales": self.sales, "refunds": self.refunds, "customers": self.customers}[kind]


def order_key(kind: str, record: dict) -> tuple[datetime, str]:
    return parse(record["created_at"] if kind == "refunds" else record["updated_at"]), record["id"]


class BadRequest(Exception):
    pass


@dataclass
class Served:
    account: str
    kind: str
    record: dict


@dataclass
class Hook:
    account: str
    kind: str
    at_request: int  # the listing's n-th page request (1 = the first page) runs it first
    apply: Callable[[], None]
    fired: bool = False


class FakeTrident1:
    """The Trident1 side: accounts, a server clock, hostile paging, a log of what was served."""

    def __init__(self, accounts: list[Account], clock: datetime, *, seed: int = 0):
        self.accounts = {a.name: a for a in accounts}
        self.clock = clock
        self.rng = random.Random(seed)
        self.repeat_rate = 0.3
        self.fault_rate = 0.0
        self.served: list[Served] = []
        self.hooks: list[Hook] = []
        self.requests: list[tuple[str, str, dict]] = []
        self._listing_requests: dict[tuple[str, str], int] = {}

    # ----------------------------------------------------------------- history
    def put(self, account: str, kind: str, record: dict) -> None:
        """Create or replace a record (a new version when its updated_at moved)."""
        self.accounts[account].records(kind)[record["id"]] = copy.deepcopy(record)

    def during_listing(self, account: str, kind: str, at_request: int, apply: Callable[[], None]) -> None:
        """Apply ``apply`` just before the listing's ``at_request``-th page is computed."""
        self.hooks.append(Hook(account, kind, at_request, apply))

    def flush_hooks(self) -> int:
        """Mutations whose listing ended before their page: they happen anyway (after it)."""
        fired = 0
        for hook in self.hooks:
            if not hook.fired:
                hook.fired = True
                hook.apply()
                fired += 1
        self.hooks = []
        return fired

    def start_run(self, seed: int, repeat_rate: float = 0.3, fault_rate: float = 0.0) -> None:
        self.rng = random.Random(seed)
        self.repeat_rate, self.fault_rate = repeat_rate, fault_rate
        self.served = []
        self._listing_requests = {}

    # ----------------------------------------------------------------- HTTP
    def handle(self, method: str, url: str, headers: CaseInsensitiveDict, body: bytes | None):
        parts = urlsplit(url)
        account = self.accounts.get(parts.hostname.split(".", 1)[0]) if parts.hostname else None
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        self.requests.append((method, parts.path, query))
        if account is None:
            return 404, {"error": {"code": "not_found", "message": f"unknown host {parts.hostname}"}}, {}
        if headers.get("Authorization") != f"Bearer {account.api_key}":
            return 401, {"error": {"code": "unauthorized", "message": "API key missing, wrong or revoked"}}, {}
        if headers.get("X-Trident1-Store") != account.store_name:
            return 403, {"error": {"code": "forbidden", "message": "key not valid for this store"}}, {}
        if method != "GET" or not parts.path.startswith("/api/v1/"):
            return 404, {"error": {"code": "not_found", "message": f"unknown path {parts.path}"}}, {}
        kind = parts.path[len("/api/v1/"):]
        if self.fault_rate and kind in LISTINGS and self.rng.random() < self.fault_rate:
            if self.rng.random() < 0.5:
                return 503, {"error": {"code": "unavailable", "message": "try again"}}, {}
            return 429, {"error": {"code": "rate_limited", "message": "slow down"}}, {"Retry-After": "0"}
        try:
            if kind == "locations":
                return 200, {"data": copy.deepcopy(account.locations), "next_cursor": None}, {}
            if kind == "discounts":
                return 200, {"data": copy.deepcopy(account.discounts), "next_cursor": None}, {}
            if kind in LISTINGS:
                return 200, self._page(account, kind, query), {}
        except BadRequest as exc:
            return 400, {"error": {"code": "bad_request", "message": str(exc)}}, {}
        return 404, {"error": {"code": "not_found", "message": f"unknown path {parts.path}"}}, {}

    def _page(self, account: Account, kind: str, query: dict[str, str]) -> dict:
        try:
            since, before = parse(query["updated_since"]), parse(query["updated_before"])
        except (KeyError, ValueError) as exc:
            raise BadRequest(f"updated_since and updated_before must be RFC 3339 times ({exc})") from None
        if since > before:
            raise BadRequest("updated_since is later than updated_before")
        if before > self.clock:
            raise BadRequest("updated_before is later than the server's clock")
        try:
            limit = int(query.get("limit", "100"))
        except ValueError:
            raise BadRequest("limit is not an integer") from None
        if not 1 <= limit <= 500:
            raise BadRequest("limit must be 1..500")
        params = json.dumps(sorted((k, v) for k, v in query.items() if k != "cursor"))
        digest = hashlib.sha1(params.encode()).hexdigest()[:10]
        after, inclusive = None, False
        if query.get("cursor"):
            try:
                state = json.loads(base64.urlsafe_b64decode(query["cursor"].encode()))
            except ValueError:
                raise BadRequest("cursor is not one of ours") from None
            if state["q"] != digest:
                raise BadRequest("cursor used with other parameters")
            after, inclusive = (parse(state["t"]), state["id"]), state["incl"]
        # Mutations "while being paged": the listing's n-th request sees them.
        key = (account.name, kind)
        n = 1 if after is None else self._listing_requests.get(key, 0) + 1
        self._listing_requests[key] = n
        for hook in self.hooks:
            if not hook.fired and (hook.account, hook.kind) == (account.name, kind) and hook.at_request <= n:
                hook.fired = True
                hook.apply()
        rows = sorted((r for r in account.records(kind).values()
                       if since <= order_key(kind, r)[0] < before), key=lambda r: order_key(kind, r))
        if after is not None:
            rows = [r for r in rows if (order_key(kind, r) >= after if inclusive else order_key(kind, r) > after)]
        size = self.rng.randint(1, limit)
        page, rest = rows[:size], rows[size:]
        nxt = None
        if rest and page:
            last = order_key(kind, page[-1])
            repeat = self.rng.random() < self.repeat_rate
            nxt = base64.urlsafe_b64encode(json.dumps(
                {"t": z(last[0]), "id": last[1], "incl": repeat, "q": digest}).encode()).decode()
        for r in page:
            self.served.append(Served(account.name, kind, copy.deepcopy(r)))
        return {"data": copy.deepcopy(page), "next_cursor": nxt}

    def served_records(self, account: str, kind: str) -> list[dict]:
        return [s.record for s in self.served if s.account == account and s.kind == kind]


# ---------------------------------------------------------------------------------------------
# AIQ SMS gateway


class FakeGateway:
    """POST /v1/messages (idempotency key wins) and GET /v1/replies (since inclusive, paged)."""

    def __init__(self, token: str, now: datetime, *, tick: timedelta = timedelta(seconds=1), seed: int = 0):
        self.token = token
        self.now = now  # the gateway's clock: each POST takes ``tick``
        self.tick = tick
        self.rng = random.Random(seed)
        self.messages: dict[str, dict] = {}  # idempotency key → the one message really sent
        self.posts: list[dict] = []  # every POST, repeats included
        self.replies: list[dict] = []
        self._ids = itertools.count(1)

    def reply(self, phone: str, body: str, at: datetime) -> None:
        self.replies.append({"id": f"rpl_{len(self.replies) + 1}", "from": phone, "body": body,
                             "received_at": z(at)})

    def clock(self) -> datetime:
        """When the next message would be sent (what a sender's real clock reads)."""
        return self.now

    def handle(self, method: str, url: str, headers: CaseInsensitiveDict, body: bytes | None):
        parts = urlsplit(url)
        if headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {"error": {"code": "unauthorized", "message": "token missing or wrong"}}, {}
        if method == "POST" and parts.path == "/v1/messages":
            return self._send(headers, body)
        if method == "GET" and parts.path == "/v1/replies":
            return self._replies(dict(parse_qsl(parts.query)))
        return 404, {"error": {"code": "not_found", "message": parts.path}}, {}

    def _send(self, headers: CaseInsensitiveDict, body: bytes | None):
        key = headers.get("Idempotency-Key")
        if not key:
            return 400, {"error": {"code": "missing_idempotency_key", "message": "required"}}, {}
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            return 400, {"error": {"code": "bad_request", "message": "body is not JSON"}}, {}
        now = self.now
        self.now += self.tick
        self.posts.append({"key": key, "to": payload.get("to"), "at": now})
        if key in self.messages:
            return 200, {"id": self.messages[key]["id"], "status": "queued"}, {}
        to = payload.get("to") or ""
        if not E164.match(to):
            return 400, {"error": {"code": "invalid_number", "message": f"{to!r} is not E.164"}}, {}
        msg = {"id": f"msg_{next(self._ids):05d}", "key": key, "to": to, "body": payload.get("body"),
               "kind": payload.get("kind"), "persona_id": payload.get("persona_id"),
               "store_id": payload.get("store_id"), "at": now}
        self.messages[key] = msg
        return 201, {"id": msg["id"], "status": "queued"}, {}

    def _replies(self, query: dict[str, str]):
        since = parse(query["since"]) if query.get("since") else None
        now = self.now
        rows = sorted((r for r in self.replies if parse(r["received_at"]) <= now
                       and (since is None or parse(r["received_at"]) >= since)),
                      key=lambda r: (r["received_at"], r["id"]))
        offset = int(query.get("cursor") or 0)
        size = self.rng.randint(1, 3)
        page = rows[offset:offset + size]
        nxt = str(offset + size) if offset + size < len(rows) else None
        return 200, {"data": copy.deepcopy(page), "next_cursor": nxt}, {}


# ---------------------------------------------------------------------------------------------
# requests transport


class FakeTransport(BaseAdapter):
    """Routes a session's requests to in-process handlers by host; no socket is opened."""

    def __init__(self, routes: dict[str, Any]):
        super().__init__()
        self.routes = routes

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):  # noqa: PLR0913
        host = urlsplit(request.url).hostname or ""
        handler = self.routes.get(host) or self.routes.get(host.split(".", 1)[1] if "." in host else host)
        if handler is None:
            raise requests.ConnectionError(f"no fake serves {host}")
        body = request.body.encode() if isinstance(request.body, str) else request.body
        status, payload, headers = handler.handle(request.method, request.url, request.headers, body)
        resp = requests.Response()
        resp.status_code = status
        resp._content = json.dumps(payload).encode()
        resp.headers = CaseInsensitiveDict({"Content-Type": "application/json", **headers})
        resp.encoding = "utf-8"
        resp.url = request.url
        resp.request = request
        return resp

    def close(self) -> None:
        pass


def session_for(routes: dict[str, Any]) -> requests.Session:
    session = requests.Session()
    adapter = FakeTransport(routes)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
