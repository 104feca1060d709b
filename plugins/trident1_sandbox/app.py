"""The local sandbox: Trident1 API v1 and the AIQ messaging gateway v1 in one FastAPI app.

Start it with ``python -m trident1_sandbox`` (see ``--help``). Tests start it
in-process on a free port (``serve_in_thread``). Admin endpoints under
``/_sandbox`` pin the clock, switch faults on and off, script SMS replies and show
what the gateway received.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import random
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from . import data
from .data import DEFAULT_STORES, StoreSpec, Volume

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
FAULT_KINDS = ("429", "500", "502", "503", "504", "nonjson", "truncated", "nodata", "timeout", "reset")


@dataclass
class Faults:
    rate: float = 0.0
    kinds: tuple[str, ...] = FAULT_KINDS
    retry_after: int = 1
    duplicate_pages: bool = False
    slow_ms: int = 0
    timeout_s: float = 3.0
    seed: int = 7
    #: Faults served first, in order, whatever the rate (for tests): e.g. ["429", "", "500"] ("" = no fault).
    script: list[str] = field(default_factory=list)


@dataclass
class SandboxState:
    stores: dict[str, StoreSpec] = field(default_factory=lambda: dict(DEFAULT_STORES))
    volume: Volume = field(default_factory=Volume)
    now: datetime | None = None  # None: the real clock
    faults: Faults = field(default_factory=Faults)
    gateway_token: str = "sandbox-sms-token"
    invalid_numbers: set[str] = field(default_factory=set)
    reply_script: dict[str, tuple[str, float]] = field(default_factory=dict)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)  # idempotency key → message
    message_log: list[dict[str, Any]] = field(default_factory=list)  # every POST, repeats included
    replies: list[dict[str, Any]] = field(default_factory=list)
    requests_served: int = 0
    faults_served: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: Store accounts whose API is down: every request of theirs answers 500 (fleet tests).
    down: set[str] = field(default_factory=set)
    #: Listings computed for a pinned clock, reused by the following pages (a big day is
    #: generated once, not once per page). Keyed by everything that shapes the listing.
    listings: OrderedDict[tuple, list[dict[str, Any]]] = field(default_factory=OrderedDict)

    def clock(self) -> datetime:
        return self.now or datetime.now(UTC)


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def _parse_time(value: str | None, name: str) -> datetime:
    if not value:
        raise ValueError(f"{name} is required")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{name} is not an RFC 3339 timestamp") from None
    if moment.tzinfo is None:
        raise ValueError(f"{name} needs a UTC offset")
    return moment


def _cursor(offset: int, params_key: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset, "k": params_key}).encode()).decode()


def _uncursor(cursor: str, params_key: str) -> int:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if decoded["k"] != params_key:
            raise ValueError
        return int(decoded["o"])
    except (ValueError, KeyError, TypeError):
        raise ValueError("cursor is invalid or does not belong to these parameters") from None


def create_app(state: SandboxState | None = None) -> FastAPI:
    state = state or SandboxState()
    app = FastAPI(title="Trident1 + AIQ gateway sandbox", docs_url="/_sandbox/docs")
    app.state.sandbox = state

    # ---------------------------------------------------------------- faults
    async def maybe_fault(request: Request) -> Response | None:
        with state.lock:
            state.requests_served += 1
            n = state.requests_served
            f = state.faults
            kind = f.script.pop(0) if f.script else None
            if kind is None and f.rate > 0:
                rng = random.Random(f"{f.seed}|{n}")
                if rng.random() < f.rate:
                    kind = rng.choice(list(f.kinds))
            if kind:
                state.faults_served += 1
        if f.slow_ms:
            await asyncio.sleep(f.slow_ms / 1000)
        if not kind:
            return None
        if kind == "429":
            return _error(429, "rate_limited", "slow down", {"Retry-After": str(f.retry_after)})
        if kind in ("500", "502", "503", "504"):
            return _error(int(kind), "server_error", "try again")
        if kind == "nonjson":
            return PlainTextResponse("<html>upstream proxy error</html>", status_code=200)
        if kind == "truncated":
            return Response('{"data": [{"id": "S-1", "sta', status_code=200, media_type="application/json")
        if kind == "nodata":
            return JSONResponse({"message": "maintenance"}, status_code=200)
        if kind == "timeout":
            await asyncio.sleep(f.timeout_s)
            return _error(504, "timeout", "too slow")
        if kind == "reset":  # the connection dies mid-body: the server aborts it
            async def dying():
                yield b'{"data": [{"id": "S-1"'
                raise ConnectionResetError("sandbox: connection reset by fault injection")

            return StreamingResponse(dying(), status_code=200, media_type="application/json")
        raise AssertionError(kind)

    def store_for(request: Request) -> StoreSpec | JSONResponse:
        name = request.headers.get("X-Trident1-Store", "")
        if name in state.down:
            return _error(500, "server_error", "this account's API is down")
        auth = request.headers.get("Authorization", "")
        key = auth[7:] if auth.startswith("Bearer ") else ""
        store = state.stores.get(name)
        if store and key == store.api_key:
            return store
        if any(s.api_key == key for s in state.stores.values()):
            return _error(403, "forbidden", "API key is not valid for this store")
        return _error(401, "unauthorized", "API key missing, wrong or revoked")

    def paged(records: list[dict], request: Request, limit: int) -> dict:
        q = request.query_params
        key = hashlib.sha1(
            json.dumps(sorted((k, v) for k, v in q.items() if k != "cursor")).encode()
        ).hexdigest()[:12]
        offset = _uncursor(q["cursor"], key) if q.get("cursor") else 0
        page = records[offset: offset + limit]
        if state.faults.duplicate_pages and offset > 0:
            page = records[max(0, offset - 2): offset] + page  # repeated across the boundary
        nxt = offset + limit
        return {"data": [data.public(r) for r in page], "next_cursor": _cursor(nxt, key) if nxt < len(records) else None}

    def cached_listing(kind: str, store: StoreSpec, since: datetime, before: datetime, now: datetime,
                       loc: str | None) -> list[dict]:
        key = (kind, store, state.volume, since, before, now, loc)
        if state.now is not None:
            with state.lock:
                if key in state.listings:
                    state.listings.move_to_end(key)
                    return state.listings[key]
        if kind == "sales":
            records = data.list_sales(store, state.volume, since, before, now, loc)
        elif kind == "refunds":
            records = data.list_refunds(store, state.volume, since, before, now, loc)
        else:
            records = data.list_customers(store, state.volume, since, before, now)
        if state.now is not None:
            with state.lock:
                state.listings[key] = records
                while len(state.listings) > 6:
                    state.listings.popitem(last=False)
        return records

    def listing(kind: str):
        async def handler(request: Request):
            fault = await maybe_fault(request)
            if fault:
                return fault
            store = store_for(request)
            if isinstance(store, JSONResponse):
                return store
            q = request.query_params
            now = state.clock()
            try:
                limit = int(q.get("limit", "100"))
                if not 1 <= limit <= 500:
                    raise ValueError("limit must be 1..500")
                if kind in ("locations", "discounts"):
                    records = data.list_locations(store) if kind == "locations" else list(data.DISCOUNTS)
                    return {"data": records, "next_cursor": None}
                since = _parse_time(q.get("updated_since"), "updated_since")
                before = _parse_time(q.get("updated_before"), "updated_before")
                if since > before:
                    raise ValueError("updated_since is later than updated_before")
                if before > now + timedelta(seconds=5):
                    raise ValueError("updated_before is later than the server's clock")
                loc = q.get("location_id")
                if loc and loc not in {x.id for x in store.locations}:
                    return _error(404, "not_found", f"unknown location {loc}")
                records = cached_listing(kind, store, since, before, now, loc)
                return JSONResponse(paged(records, request, limit))
            except ValueError as exc:
                return _error(400, "bad_request", str(exc))

        return handler

    for kind in ("locations", "discounts", "sales", "refunds", "customers"):
        app.add_api_route(f"/api/v1/{kind}", listing(kind), methods=["GET"], name=f"trident1_{kind}")

    @app.api_route("/api/v1/{path:path}", methods=["GET", "POST"])
    async def unknown(path: str):
        return _error(404, "not_found", f"unknown path /api/v1/{path}")

    # ---------------------------------------------------------------- gateway
    def gateway_auth(request: Request) -> JSONResponse | None:
        if request.headers.get("Authorization") != f"Bearer {state.gateway_token}":
            return _error(401, "unauthorized", "token missing or wrong")
        return None

    ids = itertools.count(1)

    @app.post("/v1/messages")
    async def send(request: Request):
        fault = await maybe_fault(request)
        if fault:
            return fault
        denied = gateway_auth(request)
        if denied:
            return denied
        key = request.headers.get("Idempotency-Key")
        if not key:
            return _error(400, "missing_idempotency_key", "Idempotency-Key header is required")
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "bad_request", "body is not JSON")
        now = state.clock()
        with state.lock:
            state.message_log.append({"key": key, "to": body.get("to"), "at": now.isoformat()})
            if key in state.messages:
                return JSONResponse({"id": state.messages[key]["id"], "status": "queued"}, status_code=200)
            to = body.get("to") or ""
            if not E164.match(to) or to in state.invalid_numbers:
                return _error(400, "invalid_number", f"{to!r} is not a valid mobile number")
            msg = {"id": f"msg_{next(ids):06d}", "to": to, "body": body.get("body", ""),
                   "kind": body.get("kind"), "persona_id": body.get("persona_id"),
                   "store_id": body.get("store_id"), "key": key, "sent_at": now.isoformat()}
            state.messages[key] = msg
            if to in state.reply_script:
                text, after = state.reply_script[to]
                _add_reply(state, to, text, now + timedelta(seconds=after))
        return JSONResponse({"id": msg["id"], "status": "queued"}, status_code=201)

    @app.get("/v1/replies")
    async def replies(request: Request):
        fault = await maybe_fault(request)
        if fault:
            return fault
        denied = gateway_auth(request)
        if denied:
            return denied
        q = request.query_params
        try:
            since = _parse_time(q["since"], "since") if q.get("since") else None
        except ValueError as exc:
            return _error(400, "bad_request", str(exc))
        now = state.clock()
        with state.lock:
            rows = [r for r in state.replies
                    if _parse_time(r["received_at"], "r") <= now
                    and (since is None or _parse_time(r["received_at"], "r") >= since)]
        rows.sort(key=lambda r: (r["received_at"], r["id"]))
        try:
            return paged(rows, request, 100)
        except ValueError as exc:
            return _error(400, "bad_request", str(exc))

    # ---------------------------------------------------------------- admin
    @app.get("/_sandbox/state")
    async def show_state():
        f = state.faults
        return {"now": state.clock().isoformat(), "pinned": state.now is not None,
                "volume": vars(state.volume), "faults": {k: v for k, v in vars(f).items()},
                "requests_served": state.requests_served, "faults_served": state.faults_served,
                "stores": {n: [loc.id for loc in s.locations] for n, s in state.stores.items()}}

    @app.post("/_sandbox/config")
    async def configure(request: Request):
        body = await request.json()
        with state.lock:
            if "now" in body:
                state.now = _parse_time(body["now"], "now") if body["now"] else None
            if "faults" in body:
                state.faults = Faults(**{**vars(Faults()), **body["faults"]})
            if "volume" in body:
                state.volume = Volume(**{**vars(Volume()), **body["volume"]})
            if "invalid_numbers" in body:
                state.invalid_numbers = set(body["invalid_numbers"])
            if "reply_script" in body:
                state.reply_script = {k: (v["body"], float(v.get("after_s", 60))) for k, v in body["reply_script"].items()}
        return await show_state()

    @app.get("/_sandbox/messages")
    async def messages():
        return {"messages": list(state.messages.values()), "log": state.message_log, "replies": state.replies}

    @app.post("/_sandbox/replies")
    async def inject_reply(request: Request):
        body = await request.json()
        at = _parse_time(body["received_at"], "received_at") if body.get("received_at") else state.clock()
        with state.lock:
            return _add_reply(state, body["from"], body["body"], at)

    return app


def _add_reply(state: SandboxState, phone: str, text: str, at: datetime) -> dict[str, Any]:
    reply = {"id": f"rpl_{len(state.replies) + 1}", "from": phone, "body": text,
             "received_at": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    state.replies.append(reply)
    return reply


class ServerThread:
    """Run the sandbox with uvicorn in a daemon thread (tests, benchmarks, demos)."""

    def __init__(self, state: SandboxState | None = None, host: str = "127.0.0.1", port: int = 0):
        import socket

        import uvicorn

        self.state = state or SandboxState()
        if port == 0:
            with socket.socket() as s:
                s.bind((host, 0))
                port = s.getsockname()[1]
        self.host, self.port = host, port
        config = uvicorn.Config(create_app(self.state), host=host, port=port, log_level="warning",
                                access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ServerThread:
        import time

        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("sandbox did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
