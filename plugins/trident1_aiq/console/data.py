"""What the console's pages show, read from the warehouse and the Variables' texts.

Plain functions with plain arguments (a :class:`Warehouse`, Variable texts, dates):
no Airflow here, so they are tested without an api-server. The FastAPI layer
(``app.py``) only gathers their inputs, checks permissions and renders.
"""

from __future__ import annotations

import json
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from trident1_aiq.settings.config import (
    VAR_INTEGRATION,
    VAR_MAPPINGS,
    VAR_STORES,
    VARIABLES,
    ConfigError,
    Settings,
    load_settings,
    parse_json_variable,
)
from trident1_aiq.warehouse import Warehouse, parse_db_time

#: Days the health page draws, ending with yesterday (the latest day a run can have covered).
HEALTH_DAYS = 30
#: The guide's promise: personas (and so sales) within 24 hours of the sale.
DEFAULT_FRESHNESS_HOURS = 24
QUARANTINE_PAGE = 50


# ------------------------------------------------------------------ Variables as data


def _parsed(name: str, text: str | None) -> Any:
    """A Variable's JSON, or None when it is not set or malformed (:func:`variable_problems` says why)."""
    if text is None:
        return None
    try:
        return parse_json_variable(name, text)
    except ConfigError:
        return None


def variable_problems(texts: dict[str, str | None]) -> list[str]:
    """Each Variable that is set but does not parse, by name: shown on every page (the page itself still
    renders what it can, so that an admin can see and repair it)."""
    problems: list[str] = []
    for name in VARIABLES:
        text = texts.get(name)
        if text is not None:
            try:
                parse_json_variable(name, text)
            except ConfigError as exc:
                problems.extend(exc.problems)
    return problems


def parse_list(text: str | None, name: str = VAR_MAPPINGS) -> list[dict[str, Any]]:
    """A Variable holding a JSON list of objects, leniently: anything else reads as empty
    (the validator reports what is wrong; the page still shows what it can)."""
    data = _parsed(name, text)
    return [d for d in data if isinstance(d, dict)] if isinstance(data, list) else []


def credentials_of(integration_text: str | None) -> list[str]:
    data = _parsed(VAR_INTEGRATION, integration_text)
    creds = data.get("credentials") if isinstance(data, dict) else None
    return [c for c in creds if isinstance(c, str)] if isinstance(creds, list) else []


def freshness_hours(integration_text: str | None) -> int:
    data = _parsed(VAR_INTEGRATION, integration_text)
    value = data.get("freshness_hours", DEFAULT_FRESHNESS_HOURS) if isinstance(data, dict) else None
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= 24 * 365:
        return value
    return DEFAULT_FRESHNESS_HOURS


# ------------------------------------------------------------------ store mappings page


@dataclass
class LocationRow:
    credential: str
    location_id: str
    name: str | None
    timezone: str | None
    active: bool | None
    last_seen_at: datetime | None
    held_records: int
    store_id: str | None  # from the Variable, i.e. what the next run will use
    store_name: str | None
    reported: bool = True  # False: mapped in the Variable but not (yet) reported by the API


@dataclass
class MappingsPage:
    credentials: list[str]
    locations: dict[str, list[LocationRow]]
    stores: list[dict[str, str]]  # id, name: the drop-down
    held_next_run: int  # open held records of locations the Variable maps: the next run loads them
    held_unmapped: int
    problems: list[str] = field(default_factory=list)  # the current configuration's, if any


def mappings_page(wh: Warehouse, texts: dict[str, str | None]) -> MappingsPage:
    """Every reported location per credential, its mapping in the Variable, what is held for it."""
    mappings = parse_list(texts.get(VAR_MAPPINGS))
    stores = parse_list(texts.get(VAR_STORES), VAR_STORES)
    store_name = {str(s.get("id")): str(s.get("name") or "") for s in stores if s.get("id")}
    mapped = {(str(m.get("credential")), str(m.get("location_id"))): str(m.get("store_id"))
              for m in mappings if m.get("credential") and m.get("location_id")}
    with wh.begin() as conn:
        rows = wh.query(conn, "console/locations")
        held = {(r["credential"], r["location_id"]): int(r["held_records"])
                for r in wh.query(conn, "console/held_by_location")}
    creds = credentials_of(texts.get(VAR_INTEGRATION))
    out: dict[str, list[LocationRow]] = {c: [] for c in creds}
    seen: set[tuple[str, str]] = set()
    for r in rows:
        key = (r["credential"], r["location_id"])
        seen.add(key)
        sid = mapped.get(key)
        out.setdefault(r["credential"], []).append(LocationRow(
            credential=r["credential"], location_id=r["location_id"], name=r["name"], timezone=r["timezone"],
            active=None if r["active"] is None else bool(r["active"]), last_seen_at=parse_db_time(r["last_seen_at"]),
            held_records=int(r["held_records"]), store_id=sid, store_name=store_name.get(sid or "")))
    for (cred, loc), sid in sorted(mapped.items()):
        if (cred, loc) not in seen:  # rule 6: allowed (a store not open yet), shown as a warning
            out.setdefault(cred, []).append(LocationRow(
                credential=cred, location_id=loc, name=None, timezone=None, active=None, last_seen_at=None,
                held_records=held.get((cred, loc), 0), store_id=sid, store_name=store_name.get(sid),
                reported=False))
    problems: list[str] = []
    try:
        load_settings({name: texts.get(name) for name in VARIABLES})
    except ConfigError as exc:
        problems = exc.problems
    return MappingsPage(
        credentials=sorted(out),
        locations={c: out[c] for c in sorted(out)},
        stores=[{"id": sid, "name": store_name[sid]} for sid in sorted(store_name)],
        held_next_run=sum(n for key, n in held.items() if key in mapped),
        held_unmapped=sum(n for key, n in held.items() if key not in mapped),
        problems=problems,
    )


def reported_locations(wh: Warehouse) -> set[tuple[str, str]]:
    with wh.begin() as conn:
        return {(r["credential"], r["location_id"]) for r in wh.query(conn, "console/locations")}


def current_list(name: str, text: str | None) -> list[Any]:
    """The list a console save starts from; :class:`ConfigError` (nothing saved) when the Variable is not
    set, does not parse or is not a list: writing a one-entry list over it would lose every other entry."""
    if text is None:
        raise ConfigError([f"{name}: the Variable is not set, so saving would replace every entry it should "
                           f"hold with this one alone; set it first (Admin → Variables; start from "
                           f"config/{name}.json)"])
    current = parse_json_variable(name, text)
    if not isinstance(current, list):
        raise ConfigError([f"{name}: is not a JSON list; fix it in Admin → Variables first"])
    return current


def add_store(current_text: str | None, store: dict[str, Any]) -> list[Any]:
    """The retail store list with ``store`` added at the end; every entry kept (see :func:`current_list`)."""
    current = current_list(VAR_STORES, current_text)
    if any(isinstance(s, dict) and s.get("id") == store.get("id") for s in current):
        raise ConfigError([f"{VAR_STORES}: retail store {store.get('id')!r} already exists: pick it in the "
                           "drop-down, or choose another id"])
    return [*current, store]


def new_store(*, store_id: str, name: str, phone: str, email: str, line1: str, city: str, state: str,
              postal_code: str, country: str, timezone: str) -> dict[str, Any]:
    """A retail store entry (rule 5) from the console's form; the DAG's validator checks it when saved."""
    return {"id": store_id.strip(), "name": name.strip(), "phone": phone.strip(), "email": email.strip(),
            "address": {"line1": line1.strip(), "city": city.strip(), "state": state.strip(),
                        "postal_code": postal_code.strip(), "country": country.strip().upper()},
            "timezone": timezone.strip()}


def trigger_day_problem(day: date, today: date, earliest: date | None, history_days: int) -> str | None:
    """Why a run for business ``day`` cannot be triggered, or None: the day must have ended (UTC), and
    be one the integration can have data for: not before the DAG's start_date, at most ``history_days``
    back."""
    if day >= today:
        return f"{day.isoformat()} has not ended yet: pick a day that has ended."
    oldest = today - timedelta(days=history_days)
    if earliest is not None and earliest > oldest:
        oldest = earliest
    if day < oldest:
        return (f"{day.isoformat()} is before {oldest.isoformat()}, the first day a run can have data for "
                f"(the DAG's start_date, and at most {history_days} days back): pick a later day.")
    return None


def edit_mappings(current_text: str | None, credential: str, location_id: str,
                  store_id: str | None) -> list[dict[str, Any]]:
    """The mapping list with (credential, location_id) set to ``store_id`` (None: unmapped).

    Every other entry is kept as it is, in its place, whatever it holds (the page may not have shown
    it); a new mapping goes at the end. A Variable that is not set or does not parse is refused
    (:func:`current_list`): saving over it would drop the mappings it holds or should hold.
    """
    current = current_list(VAR_MAPPINGS, current_text)
    out: list[Any] = []
    placed = False
    for entry in current:
        same = (isinstance(entry, dict) and entry.get("credential") == credential
                and entry.get("location_id") == location_id)
        if not same:
            out.append(entry)
        elif store_id is not None and not placed:
            out.append(dict(entry, store_id=store_id))
            placed = True
    if store_id is not None and not placed:
        out.append({"credential": credential, "location_id": location_id, "store_id": store_id})
    return out


def mappings_text(mappings: list[Any]) -> str:
    """The Variable's text: one entry per line, as the files in config/ are written."""
    if not mappings:
        return "[]"
    return "[\n" + ",\n".join("  " + json.dumps(m, ensure_ascii=False) for m in mappings) + "\n]"


def validate_edit(texts: dict[str, str | None], new_mappings: list[dict[str, Any]],
                  reported: set[tuple[str, str]], credential: str, location_id: str,
                  store_id: str | None, new_stores: list[Any] | None = None) -> tuple[Settings | None, list[str]]:
    """The DAG's own validator on all four Variables with the edited mapping list, plus: a location
    is mapped from the console only when its credential reported it (rule 6 lets an admin map a
    location ahead of time, but only by editing the Variable)."""
    problems: list[str] = []
    if store_id is not None and (credential, location_id) not in reported:
        problems.append(f"{VAR_MAPPINGS}: location {location_id!r} is not one that {credential!r} reported "
                        "(trident1_locations)")
    raw = {name: texts.get(name) for name in VARIABLES}
    raw[VAR_MAPPINGS] = mappings_text(new_mappings)
    if new_stores is not None:
        raw[VAR_STORES] = mappings_text(new_stores)
    settings = None
    try:
        settings = load_settings(raw)
    except ConfigError as exc:
        problems.extend(exc.problems)
    return (None if problems else settings), problems


# ------------------------------------------------------------------ integration health page


@dataclass
class DayCell:
    day: date
    state: str  # "ok" (a successful run covered the day), "failed" (only failed runs), "missing" (no run)
    sales: int = 0
    refunds: int = 0
    held: int = 0  # records of that business day held for a mapping (still_held of them still open)
    still_held: int = 0
    quarantined: int = 0  # rejected records of that business day (still open: still_quarantined)
    still_quarantined: int = 0


@dataclass
class LocationHealth:
    credential: str
    location_id: str
    name: str | None
    store_id: str | None
    days: list[DayCell]
    open_held: int  # open held records, whatever their day: what the Quarantine page lists as held
    open_rejected: int  # open rejected records, whatever their day: the Quarantine page's rejected
    newest_sale: datetime | None
    stale: bool  # mapped, and no sale loaded within the freshness promise
    last_run: dict[str, Any] | None  # this location's counts in its credential's latest run

    @property
    def sales(self) -> int:
        return sum(c.sales for c in self.days)

    @property
    def refunds(self) -> int:
        return sum(c.refunds for c in self.days)


@dataclass
class CredentialHealth:
    credential: str
    locations: list[LocationHealth]
    last_run: dict[str, Any] | None
    days_missing: int
    days_failed: int
    points_earned: int
    points_reversed: int
    opt_ins_sent: int


def health_window(today: date, days: int = HEALTH_DAYS) -> tuple[date, date]:
    """The last ``days`` business days that a run could have covered: up to yesterday."""
    last = today - timedelta(days=1)
    return last - timedelta(days=days - 1), last


def _day(value: Any) -> date:
    return value if isinstance(value, date) and not isinstance(value, datetime) else date.fromisoformat(str(value)[:10])


def _seconds(start: Any, end: Any) -> float | None:
    s, e = parse_db_time(start), parse_db_time(end)
    return (e - s).total_seconds() if s and e else None


def health(wh: Warehouse, texts: dict[str, str | None], now: datetime,
           days: int = HEALTH_DAYS) -> list[CredentialHealth]:
    """The last ``days`` days per credential and location: sales loaded, refunds, held and quarantined
    records, which days a run covered (a day no run covered is *missing*, never zero sales),
    freshness, the latest run, points and opt-in texts."""
    first, last = health_window(now.astimezone(UTC).date(), days)
    window = {"first": first, "last": last}
    mappings = parse_list(texts.get(VAR_MAPPINGS))
    mapped = {(str(m.get("credential")), str(m.get("location_id"))): str(m.get("store_id")) for m in mappings}
    max_age = timedelta(hours=freshness_hours(texts.get(VAR_INTEGRATION)))
    with wh.begin() as conn:
        locations = wh.query(conn, "console/locations")
        sales = wh.query(conn, "console/sales_by_day", window)
        refunds = wh.query(conn, "console/refunds_by_day", window)
        quarantine = wh.query(conn, "console/quarantine_by_day", window)
        runs = wh.query(conn, "console/runs_by_day", window)
        last_runs = {r["credential"]: r for r in wh.query(conn, "console/last_runs")}
        newest = {(r["credential"], r["location_id"]): parse_db_time(r["newest_sale"])
                  for r in wh.query(conn, "console/newest_sales")}
        open_q: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
        for r in wh.query(conn, "console/open_quarantine_by_location"):
            open_q[(r["credential"], r["location_id"] or "?")]["held" if r["held"] else "rejected"] = int(r["n"])
        last_locs: dict[tuple[str, str], dict[str, Any]] = {}
        for cred, r in last_runs.items():
            for loc in wh.query(conn, "console/last_run_locations", {"run_id": r["run_id"], "credential": cred}):
                last_locs[(cred, loc["location_id"])] = loc

    covered: dict[str, dict[date, str]] = defaultdict(dict)
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in runs:
        d = _day(r["day"])
        if r["status"] == "success":
            covered[r["credential"]][d] = "ok"
        elif r["status"] == "failed" and covered[r["credential"]].get(d) != "ok":
            covered[r["credential"]][d] = "failed"
        # Every run's own figures add up: a rerun of a day credits what the earlier runs did not
        # (the ledger is idempotent), so the window's points are the sum over all its runs.
        for k in ("points_earned", "points_reversed", "opt_ins_sent"):
            totals[r["credential"]][k] += int(r[k] or 0)
    star = covered.pop("*", {})  # a configuration failure stopped every credential that day

    def counts(rows: list[dict[str, Any]]) -> dict[tuple[str, str], dict[date, int]]:
        out: dict[tuple[str, str], dict[date, int]] = defaultdict(dict)
        for r in rows:
            out[(r["credential"], r["location_id"] or "?")][_day(r["day"])] = int(r["n"])
        return out

    s_by, r_by = counts(sales), counts(refunds)
    q_by: dict[tuple[str, str], dict[date, dict[str, Any]]] = defaultdict(lambda: defaultdict(dict))
    for r in quarantine:
        q_by[(r["credential"], r["location_id"] or "?")][_day(r["day"])]["held" if r["held"] else "q"] = r

    names = {(r["credential"], r["location_id"]): r["name"] for r in locations}
    keys = set(names) | set(mapped) | set(s_by) | set(q_by) | set(open_q)
    creds = sorted({k[0] for k in keys} | set(credentials_of(texts.get(VAR_INTEGRATION))) | set(covered))
    result = []
    for cred in creds:
        states = dict(star)
        states.update(covered.get(cred, {}))
        locs = []
        for key in sorted(k for k in keys if k[0] == cred):
            cells = []
            d = first
            while d <= last:
                qh = q_by.get(key, {}).get(d, {}).get("held")
                qq = q_by.get(key, {}).get(d, {}).get("q")
                cells.append(DayCell(
                    day=d, state=states.get(d, "missing"), sales=s_by.get(key, {}).get(d, 0),
                    refunds=r_by.get(key, {}).get(d, 0), held=int(qh["n"]) if qh else 0,
                    still_held=int(qh["still_open"]) if qh else 0, quarantined=int(qq["n"]) if qq else 0,
                    still_quarantined=int(qq["still_open"]) if qq else 0))
                d += timedelta(days=1)
            store = mapped.get(key)
            newest_sale = newest.get(key)
            locs.append(LocationHealth(
                credential=cred, location_id=key[1], name=names.get(key), store_id=store, days=cells,
                open_held=open_q.get(key, {}).get("held", 0), open_rejected=open_q.get(key, {}).get("rejected", 0),
                newest_sale=newest_sale,
                stale=bool(store) and (newest_sale is None or newest_sale < now - max_age),
                last_run=last_locs.get(key)))
        lr = last_runs.get(cred)
        if lr is not None:
            lr = dict(lr, seconds=_seconds(lr["started_at"], lr["finished_at"]),
                      started_at=parse_db_time(lr["started_at"]), finished_at=parse_db_time(lr["finished_at"]))
        day_states = [states.get(first + timedelta(days=i), "missing") for i in range(days)]
        result.append(CredentialHealth(
            credential=cred, locations=locs, last_run=lr, days_missing=day_states.count("missing"),
            days_failed=day_states.count("failed"), points_earned=totals[cred]["points_earned"],
            points_reversed=totals[cred]["points_reversed"], opt_ins_sent=totals[cred]["opt_ins_sent"]))
    return result


# ------------------------------------------------------------------ quarantine page


@dataclass(frozen=True)
class QuarantineFilter:
    credential: str = ""
    entity: str = ""
    reason: str = ""
    location: str = ""
    day: str = ""  # ISO business day of the record (rule 9; the UTC day first met if it has none), or ""
    kind: str = ""  # "", "held" or "rejected"
    page: int = 1

    def params(self) -> dict[str, Any]:
        day_value = None
        if self.day:
            day_value = date.fromisoformat(self.day)
        return {"credential": self.credential, "entity": self.entity, "reason": self.reason,
                "location": self.location, "day": self.day, "day_value": day_value, "kind": self.kind}


class BadFilter(ValueError):
    """A query string value no filter can hold (a NUL or another control character): a 400, not a
    database error (PostgreSQL refuses NUL in text)."""


def _control_free(values: dict[str, str]) -> None:
    for name, value in values.items():
        if any(unicodedata.category(ch) == "Cc" for ch in f"{name}{value}"):
            raise BadFilter(f"the filter {name[:40]!r} holds a control character (e.g. NUL); no record has one")


def clean_filter(values: dict[str, str]) -> QuarantineFilter:
    """Filter values from a query string; anything malformed is dropped, not echoed; a control
    character anywhere is :class:`BadFilter`."""
    _control_free(values)

    def text(name: str, limit: int = 250) -> str:
        v = (values.get(name) or "").strip()
        return v[:limit]

    day = text("day", 10)
    try:
        day = date.fromisoformat(day).isoformat() if day else ""
    except ValueError:
        day = ""
    kind = text("kind")
    try:
        page = max(1, min(10_000, int(values.get("page") or 1)))
    except ValueError:
        page = 1
    return QuarantineFilter(credential=text("credential"), entity=text("entity", 20), reason=text("reason", 50),
                            location=text("location"), day=day, kind=kind if kind in ("held", "rejected") else "",
                            page=page)


@dataclass
class QuarantinePage:
    rows: list[dict[str, Any]]
    total: int
    filter: QuarantineFilter
    facets: dict[str, list[str]]
    pages: int


#: Payload fields shown to everyone: ids, states, times, money and product lines. Every other value
#: (the customer, names, phones, e-mails, birth dates, addresses, notes, anything new) is masked for a
#: user who may not see personal data (deny by default; docs/admin-guide.md, "Who sees personal data").
SAFE_PAYLOAD_KEYS = frozenset({
    "id", "location_id", "receipt_number", "status", "created_at", "updated_at", "voided_at", "sale_id",
    "refund_id", "line_id", "sku", "category", "quantity", "unit_price", "discount", "tax", "total", "subtotal",
    "discount_total", "tax_total", "amount", "currency", "method", "discount_id", "code", "in_store_only",
    "items", "discounts", "payments", "type", "value"})
#: Under these lists, ``name`` is a product's or a discount's, not a person's.
_PRODUCT_LISTS = frozenset({"items", "discounts"})
MASK = "•••"


def mask_payload(value: Any, key: str | None = None, parent: str | None = None) -> Any:
    """``value`` (a record's payload) with every value of a field outside :data:`SAFE_PAYLOAD_KEYS`
    replaced by :data:`MASK`; the shape (keys, lists, nulls) is kept so that the reason stays readable."""
    if key is not None and key not in SAFE_PAYLOAD_KEYS and not (key == "name" and parent in _PRODUCT_LISTS):
        if isinstance(value, dict | list):
            return mask_payload(value, None, "masked")
        return None if value is None else MASK
    if parent == "masked":  # inside a masked subtree (e.g. the customer): every leaf
        if isinstance(value, dict):
            return {k: mask_payload(v, None, "masked") for k, v in value.items()}
        if isinstance(value, list):
            return [mask_payload(v, None, "masked") for v in value]
        return None if value is None else MASK
    if isinstance(value, dict):
        return {k: mask_payload(v, str(k), parent) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_payload(v, None, key or parent) for v in value]
    return value if key is not None else (None if value is None else MASK)


def quarantine_page(wh: Warehouse, flt: QuarantineFilter, per_page: int = QUARANTINE_PAGE, *,
                    personal_data: bool = False) -> QuarantinePage:
    """One page of open quarantine rows; payloads masked (:func:`mask_payload`) unless ``personal_data``
    (the viewer's role may see personal data)."""
    params = flt.params()
    with wh.begin() as conn:
        total = int(wh.query(conn, "console/quarantine_count", params)[0]["n"])
        pages = max(1, -(-total // per_page))
        if flt.page > pages:  # a page past the end (an old link, a hand-typed one) shows the last page
            flt = replace(flt, page=pages)
        rows = wh.query(conn, "console/quarantine_open",
                        dict(params, limit=per_page, offset=(flt.page - 1) * per_page))
        facet_rows = wh.query(conn, "console/quarantine_facets")
    out = []
    for r in rows:
        try:
            reasons = json.loads(r["reasons"])
        except (TypeError, json.JSONDecodeError):
            reasons = [str(r["reasons"])]
        try:
            parsed = json.loads(r["payload"])
        except (TypeError, ValueError, RecursionError):
            parsed = str(r["payload"])
        if not personal_data:
            parsed = mask_payload(parsed)
        payload = parsed if isinstance(parsed, str) else json.dumps(parsed, indent=2, ensure_ascii=False,
                                                                    sort_keys=True)
        out.append(dict(r, reasons=reasons, payload=payload, held=bool(r["held"]),
                        quarantined_at=parse_db_time(r["quarantined_at"]),
                        last_seen_at=parse_db_time(r["last_seen_at"]),
                        quarantined_on=_day(r["quarantined_on"]) if r["quarantined_on"] else None,
                        day=_day(r["day"]) if r["day"] else None))
    facets = {
        "credential": sorted({r["credential"] for r in facet_rows}),
        "entity": sorted({r["entity"] for r in facet_rows}),
        "reason": sorted({r["reason_code"] for r in facet_rows if r["reason_code"]}),
        "day": sorted({_day(r["day"]).isoformat() for r in facet_rows if r["day"]},
                      reverse=True),
    }
    return QuarantinePage(rows=out, total=total, filter=flt, facets=facets, pages=pages)
