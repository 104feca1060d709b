"""SMS double opt-in (rules 2, 3, 22–26): replies, expiry, eligibility, sending.

Order within a run: ingest replies (so a STOP received since the last run is
known before anything is sent), expire, create requests, send. One clock: ``clock()``,
the real time. It is read immediately before each send and alone judges whether a text
may go out (quiet hours, rule 24; the first-send gate, rule 3) — a text is an
irreversible act, judged when it happens — and it stamps what the step does when it does
it (a reply's ``processed_at``, a request's ``requested_at``, the expiry cutoff of rule 25).
The run's fixed instant (``run_after``) is not used here: a backfill or catch-up run is due
in the past, and a request it makes today was not requested then. What must be stable
across retries is keyed, not timed: a request is (persona, attempt), its gateway key
``optin:<persona>:<attempt>``, and a rerun's ``ON CONFLICT DO NOTHING`` keeps the first row. Texting a person who did not consent,
or twice, is the worst bug this project can have; the guards are:

* one request row per (persona, attempt), primary key; at most ``max_requests``
  attempts, the next only after the previous expired;
* the gateway's ``Idempotency-Key`` is ``optin:<persona>:<attempt>``: a retried
  or re-run send returns the same message id and texts nobody;
* each send is committed on its own, right after the gateway accepts it;
* the opt-out list is checked immediately before every send.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from trident1_aiq import runs
from trident1_aiq.http_client import RetriesExhausted
from trident1_aiq.logs import get_logger
from trident1_aiq.messaging.sms import GatewayClient, InvalidNumber
from trident1_aiq.runs import RunCounts
from trident1_aiq.settings.config import Settings
from trident1_aiq.warehouse import Warehouse, parse_db_time

log = get_logger(__name__)

CONFIRM = frozenset({"YES", "Y", "START"})
STOP = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
REPLY_WINDOW = timedelta(days=7)
QUIET_START, QUIET_END = time(8, 0), time(21, 0)


def reply_action(body: Any) -> str:
    """Rule 25: keywords matched case-insensitively after trimming; anything else is ignored."""
    word = body.strip().upper() if isinstance(body, str) else ""
    if word in CONFIRM:
        return "confirm"
    if word in STOP:
        return "stop"
    return "ignore"


def within_send_hours(now: datetime, timezone: str | None) -> bool:
    """Rule 24: from 08:00 to before 21:00 in the store's local time."""
    local = now.astimezone(ZoneInfo(timezone or "UTC")).time()
    return QUIET_START <= local < QUIET_END


def message_text(store_name: str | None, disclaimer: str | None) -> str:
    """Rule 26: names the store, says how to confirm and how to stop; adds the disclaimer."""
    name = store_name or "our store"
    text = (f"{name}: reply YES to get offers and news by text from {name}. "
            "Reply STOP to opt out. Msg & data rates may apply.")
    return f"{text} {disclaimer.strip()}" if disclaimer and disclaimer.strip() else text


def request_key(persona_id: str, attempt: int) -> str:
    return f"optin:{persona_id}:{attempt}"


def ingest_replies(wh: Warehouse, gateway: GatewayClient, now: datetime, counts: RunCounts) -> None:
    with wh.begin() as conn:
        latest = wh.query(conn, "optin/latest_reply")[0]["received_at"]
    since = parse_db_time(latest)
    replies = gateway.replies(since.strftime("%Y-%m-%dT%H:%M:%SZ") if since else None)
    rows = []
    for r in replies:
        at = parse_db_time(str(r.get("received_at", "")).replace("Z", "+00:00")) if r.get("received_at") else None
        if not r.get("id") or not r.get("from") or at is None:
            continue
        rows.append({"reply_id": str(r["id"]), "from_phone": str(r["from"])[:20], "body": str(r.get("body"))[:2000],
                     "action": reply_action(r.get("body")), "received_at": at})
    with wh.begin() as conn:
        if rows:
            wh.run(conn, "optin/insert_reply", rows)
        for r in wh.query(conn, "optin/unprocessed_replies"):
            at = parse_db_time(r["received_at"])
            params = {"phone": r["from_phone"], "at": at, "reply_id": r["reply_id"]}
            if r["action"] == "confirm":
                res = wh.run(conn, "optin/confirm", dict(params, window_start=at - REPLY_WINDOW))
                counts.add("confirmed", res.rowcount or 0)
            elif r["action"] == "stop":
                wh.run(conn, "optin/suppress", params)
                res = wh.run(conn, "optin/opt_out", params)
                counts.add("opted_out", max(1, res.rowcount or 0))
            wh.run(conn, "optin/reply_processed", {"reply_id": r["reply_id"], "now": now})
            counts.add("replies")


def expire(wh: Warehouse, now: datetime, counts: RunCounts) -> None:
    with wh.begin() as conn:
        res = wh.run(conn, "optin/expire", {"cutoff": now - REPLY_WINDOW})
        counts.add("expired", res.rowcount or 0)


def create_requests(wh: Warehouse, settings: Settings, run_id: str, now: datetime, counts: RunCounts) -> None:
    mk = settings.integration.marketing
    with wh.begin() as conn:
        wh.run(conn, "optin/lock")
        rows = [dict(r, attempt=1) for r in wh.query(conn, "optin/first_candidates",
                                                     {"purchased_after": mk.purchased_after})]
        rows += wh.query(conn, "optin/next_attempts", {"max_requests": mk.max_requests,
                                                       "purchased_after": mk.purchased_after})
        if rows:
            wh.run(conn, "optin/insert_request", [
                {"persona_id": r["persona_id"], "attempt": int(r["attempt"]), "phone": r["phone"],
                 "store_id": r["store_id"], "idempotency_key": request_key(r["persona_id"], int(r["attempt"])),
                 "now": now, "run_id": run_id} for r in rows])
        counts.add("created", len(rows))


def real_clock() -> datetime:
    return datetime.now(UTC)


def send_blocker(at: datetime, timezone: str | None, settings: Settings) -> str | None:
    """Why a text may not go out at ``at`` (the real time of the send), or None (rules 3, 24)."""
    first = settings.integration.marketing.first_send_at()
    if first is None or at < first:
        return "before enabled_at + 24 h"
    if not timezone:  # no store (or no time zone) to judge quiet hours by: never guess UTC
        return "store time zone unknown"
    if not within_send_hours(at, timezone):
        return "quiet hours"
    return None


def send_pending(wh: Warehouse, gateway: GatewayClient, settings: Settings, counts: RunCounts,
                 clock: Callable[[], datetime] = real_clock) -> None:
    with wh.begin() as conn:
        pending = wh.query(conn, "optin/pending", {"purchased_after": settings.integration.marketing.purchased_after})
    for req in pending:
        ident = {"persona_id": req["persona_id"], "attempt": req["attempt"]}
        if not int(req["eligible"]):  # its only purchase was voided since: not texted (rule 22)
            with wh.begin() as conn:  # never sent: withdrawn, so a later purchase may ask again
                wh.run(conn, "optin/withdraw", ident)
            counts.add("suppressed")
            continue
        with wh.begin() as conn:  # the opt-out list, checked right before the send
            if wh.query(conn, "optin/is_opted_out", {"phone": req["phone"]})[0]["n"]:
                wh.run(conn, "optin/mark_opted_out", ident)
                counts.add("suppressed")
                continue
        sent_at = clock()  # the real time, immediately before the send: it alone decides
        if send_blocker(sent_at, req["timezone"], settings):
            counts.add("deferred")  # stays pending for the next run
            continue
        try:
            message_id = gateway.send(to=req["phone"], body=message_text(req["store_name"], req["disclaimer"]),
                                      idempotency_key=req["idempotency_key"], persona_id=req["persona_id"],
                                      store_id=req["store_id"])
        except InvalidNumber as exc:
            with wh.begin() as conn:
                wh.run(conn, "optin/mark_failed", dict(ident, error=str(exc)[:500]))
            counts.add("failed")
            continue
        except RetriesExhausted as exc:  # stays pending; the same key makes the next try safe
            counts.errors.append(str(exc))
            continue
        record_sent(wh, ident, message_id, sent_at)
        counts.add("sent", at=req["store_id"])


def record_sent(wh: Warehouse, ident: dict[str, Any], message_id: str, now: datetime) -> None:
    with wh.begin() as conn:
        wh.run(conn, "optin/mark_sent", dict(ident, message_id=message_id, now=now))


def run_opt_in(wh: Warehouse, gateway: GatewayClient | None, settings: Settings, run_id: str,
               clock: Callable[[], datetime] | None = None) -> RunCounts:
    """One run's opt-in work; ``clock`` is the real time (default: the system clock), read
    when each step acts and before each send."""
    clock = clock or real_clock
    counts = RunCounts("opt_in")
    integ, mk = settings.integration, settings.integration.marketing
    if not integ.age_compliant:
        counts.notes.append("age_compliant is false: no opt-in requests (rule 2)")
    elif not mk.enabled:
        counts.notes.append("marketing is not enabled: no opt-in requests")
    if gateway is None:
        counts.notes.append("no gateway connection: opt-ins skipped")
        return counts
    # Replies and expiry are processed whatever the settings: a STOP is always honoured.
    ingest_replies(wh, gateway, clock(), counts)
    expire(wh, clock(), counts)
    if counts.notes:
        log.warning("%s", "; ".join(counts.notes))
        return counts
    if clock() < mk.first_send_at():
        counts.notes.append(f"marketing enabled at {mk.enabled_at.isoformat()}: the first double opt-in goes "
                            f"out from {mk.first_send_at().isoformat()} (rule 3)")
        return counts
    create_requests(wh, settings, run_id, clock(), counts)
    send_pending(wh, gateway, settings, counts, clock)
    runs.record_opt_ins_sent(wh, run_id, settings, counts)
    log.info("opt-in: %s", counts.summary())
    return counts
