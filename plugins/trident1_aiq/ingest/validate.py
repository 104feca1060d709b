"""Great Expectations 1.x suites that split a batch into good rows and rejects (rule 10).

Normalisation computes typed values and consistency-check columns (differences in
integer cents); the suites below state what a loadable record is. Each
expectation carries its quarantine reason in ``meta``; the frame's index is the
records' numbers and ``result_format`` is COMPLETE, so every failing row is known
(``unexpected_index_list``) and one bad record never blocks the good ones.

GX's cost is mostly fixed per expectation and batch, not per row: the frame holds
only the checked columns, built column-wise, and GX is asked for nothing it does not
need (no per-row dicts, no query text).

GX is imported lazily, once per process, and runs on an ephemeral context.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from operator import attrgetter, itemgetter
from typing import Any

from trident1_aiq.ingest.deferred import GX_UNUSED, deferred
from trident1_aiq.ingest.normalize import SALE_STATUSES, RefundRow, SaleRow

MAX_CENTS = 100_000_000  # $1,000,000: a larger sale or refund is not plausible
#: Differences up to one cent are rounding (a sale adds up "to the cent": docs/external-apis.md).
TOLERANCE = 1


@dataclass(frozen=True)
class Check:
    kind: str  # not_null | between | in_set
    column: str
    reason: str
    kwargs: tuple[tuple[str, Any], ...] = ()


def _between(column: str, reason: str, lo: int | None, hi: int | None) -> Check:
    return Check("between", column, reason, (("min_value", lo), ("max_value", hi)))


def _diff(column: str, what: str) -> Check:
    return _between(column, f"lines_do_not_add_up: {what} (beyond one cent)", -TOLERANCE, TOLERANCE)


def sale_checks(known_locations: set[str]) -> list[Check]:
    checks = [
        Check("not_null", "sale_id", "missing_id: the sale has no id"),
        Check("not_null", "sold_at", "bad_time: created_at is missing or not an RFC 3339 time with offset"),
        Check("not_null", "updated_at", "bad_time: updated_at is missing or not an RFC 3339 time"),
        Check("in_set", "status", "bad_status: status is not one of " + ", ".join(SALE_STATUSES),
              (("value_set", list(SALE_STATUSES)),)),
        Check("not_null", "status", "bad_status: status is missing"),
        Check("not_null", "location_id", "unknown_location: the sale has no location_id"),
        Check("in_set", "location_id", "unknown_location: location_id is not in the store's /locations",
              (("value_set", sorted(known_locations)),)),
        Check("not_null", "max_line_diff_cents", "bad_lines: items are missing or not parseable"),
        _between("max_line_diff_cents", "lines_do_not_add_up: an item's total is not quantity × unit_price − discount + tax", 0, TOLERANCE),
        _diff("subtotal_diff_cents", "subtotal is not Σ quantity × unit_price"),
        _diff("discount_diff_cents", "discount_total is not Σ item discount"),
        Check("not_null", "discounts_applied_diff_cents", "bad_discounts: a discount has no id or amount"),
        _diff("discounts_applied_diff_cents", "discount_total is not Σ discounts[].amount"),
        _diff("tax_diff_cents", "tax_total is not Σ item tax"),
        _diff("total_diff_cents", "total is not subtotal − discount_total + tax_total"),
        _diff("payments_diff_cents", "total is not Σ payments[].amount"),
        _between("completed_total_cents", "negative_total: a completed sale has a negative total", 0, None),
        _between("total_cents", "absurd_amount: total beyond ±$1,000,000", -MAX_CENTS, MAX_CENTS),
        _between("min_quantity_milli", "bad_quantity: a line has a zero, negative or absurd quantity", 1, 10_000_000),
        _between("sold_year", "absurd_date: created_at is before 2000 or after 2099", 2000, 2099),
        _between("parse_note_count", "unparseable: see the notes", 0, 0),
    ]
    for field in ("subtotal", "discount_total", "tax_total", "total"):
        checks.append(Check("not_null", field, f"bad_money: {field} is missing or not a money amount"))
    return checks


def refund_checks(known_locations: set[str]) -> list[Check]:
    return [
        Check("not_null", "refund_id", "missing_id: the refund has no id"),
        Check("not_null", "sale_id", "missing_sale_id: the refund names no sale"),
        Check("not_null", "refunded_at", "bad_time: created_at is missing or not an RFC 3339 time"),
        Check("not_null", "location_id", "unknown_location: the refund has no location_id"),
        Check("in_set", "location_id", "unknown_location: location_id is not in the store's /locations",
              (("value_set", sorted(known_locations)),)),
        Check("not_null", "total_diff_cents", "bad_money: amount, tax or total is missing or not a money amount"),
        _diff("total_diff_cents", "total is not amount + tax"),
        _between("min_amount_cents", "negative_amount: a refund amount is negative", 0, None),
        _between("total_cents", "absurd_amount: total beyond $1,000,000", None, MAX_CENTS),
        _between("refund_year", "absurd_date: created_at is before 2000 or after 2099", 2000, 2099),
        _between("parse_note_count", "unparseable: see the notes", 0, 0),
    ]


_local = threading.local()
_prefetch_lock = threading.Lock()
_prefetched: threading.Thread | None = None


def prefetch() -> None:
    """Start importing Great Expectations in the background (once per process).

    The import costs seconds of CPU; started when a task begins, it runs while
    the extract waits on the network, and the first validation finds it done (or
    waits for the rest). Nothing else happens in that thread: the context is made
    lazily in the thread that validates.
    """
    global _prefetched
    with _prefetch_lock:
        if _prefetched is None:
            _prefetched = threading.Thread(target=_import_gx, name="gx-import", daemon=True)
            _prefetched.start()


def preload() -> None:
    """Import Great Expectations now, in this thread, and wait for it: a process that forks its
    tasks (``make run``'s executor) pays the import once and every task inherits it. Never fork
    while :func:`prefetch`'s thread may still be importing (a child would inherit the import lock)."""
    prefetch()
    assert _prefetched is not None
    _prefetched.join()


def _import_gx() -> None:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    try:
        with deferred(*GX_UNUSED):  # peak RSS: see deferred.py
            import great_expectations  # noqa: F401
        import pandas  # noqa: F401
    except Exception:  # noqa: BLE001 - the validating thread imports again and reports the error
        return


def _batch_definition():
    """One ephemeral GX context per thread: GX objects are not safe to share between threads."""
    if getattr(_local, "gx", None) is None:
        _local.gx = _new_batch_definition()
    return _local.gx


def _new_batch_definition():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import logging

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    with deferred(*GX_UNUSED):  # peak RSS: see deferred.py
        import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    asset = context.data_sources.add_pandas("trident1").add_dataframe_asset("records")
    return gx, asset.add_batch_definition_whole_dataframe("whole")


class ValidationFailed(RuntimeError):
    """GX itself failed on an expectation: no row can be trusted, the batch stops."""


#: GX's result: every failing row (COMPLETE) as the frame's index values (the rows' numbers),
#: with no per-row dicts and no query text (``return_unexpected_index_query``) built.
RESULT_FORMAT = {"result_format": "COMPLETE", "partial_unexpected_count": 0, "return_unexpected_index_query": False}


def masks(frame: Any, checks: list[Check]) -> list[Any]:
    """Each check's failing rows as a boolean mask over ``frame`` (vectorised, no per-row Python),
    with Great Expectations' semantics: ``not_null`` fails on a null (None or NaN); ``between``
    (inclusive, a bound of None is open) and ``in_set`` ignore nulls."""
    import pandas as pd

    out = []
    for c in checks:
        column = frame[c.column]
        null = column.isna()
        if c.kind == "not_null":
            out.append(null)
            continue
        kw = dict(c.kwargs)
        present = column[~null]
        bad = pd.Series(False, index=present.index)
        try:
            if c.kind == "between":
                if kw.get("min_value") is not None:
                    bad |= present.lt(kw["min_value"])
                if kw.get("max_value") is not None:
                    bad |= present.gt(kw["max_value"])
            elif c.kind == "in_set":
                bad = ~present.isin(kw["value_set"])
            else:  # a new kind of check must say how it is screened
                raise ValueError(f"no mask for check kind {c.kind!r}")
        except TypeError as exc:  # as GX would: a column of the wrong type fails the batch
            raise ValidationFailed(f"check {c.kind} on {c.column} raised: {exc}") from exc
        out.append(bad.reindex(frame.index, fill_value=False))
    return out


def run_checks(columns: dict[str, list[Any]], rows: list[int], checks: list[Check]) -> dict[int, list[str]]:
    """Return ``{row: [reasons]}`` for every row that fails at least one check.

    ``columns`` holds one list per checked column, aligned with ``rows`` (the records' numbers,
    which become the frame's index, so GX reports failing rows by number).

    Great Expectations' cost is fixed per expectation and batch (building its metric graph),
    not per row, so the chunk is first screened by :func:`masks`: GX then validates one batch
    of the rows some check fails, with the expectations those rows fail. A clean chunk, the
    usual case, needs no GX batch at all; a chunk with rejects pays for their expectations only.
    ``tests/unit/test_validate.py`` proves the screen and GX's whole suite agree.
    """
    if not rows:
        return {}
    import pandas as pd

    frame = pd.DataFrame(columns, index=rows)
    failing = [(c, m) for c, m in zip(checks, masks(frame, checks), strict=True) if m.any()]
    if not failing:
        return {}
    suspect = failing[0][1]
    for _, m in failing[1:]:
        suspect = suspect | m
    return gx_checks(frame[suspect], [c for c, _ in failing])


def gx_checks(frame: Any, checks: list[Check]) -> dict[int, list[str]]:
    """Validate ``frame`` with one GX suite of ``checks`` in one batch: ``{row: [reasons]}``."""
    gx, batch_definition = _batch_definition()
    factories = {
        "not_null": gx.expectations.ExpectColumnValuesToNotBeNull,
        "between": gx.expectations.ExpectColumnValuesToBeBetween,
        "in_set": gx.expectations.ExpectColumnValuesToBeInSet,
    }
    suite = gx.ExpectationSuite(
        name="trident1_records",
        expectations=[
            factories[c.kind](column=c.column, meta={"reason": c.reason}, **dict(c.kwargs)) for c in checks
        ],
    )
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(suite, result_format=RESULT_FORMAT)
    bad: dict[int, list[str]] = {}
    for res in result.results:
        if res.exception_info and res.exception_info.get("raised_exception"):
            raise ValidationFailed(
                f"expectation {res.expectation_config.type} on "
                f"{res.expectation_config.kwargs.get('column')} raised: "
                f"{res.exception_info.get('exception_message')}"
            )
        if res.success:
            continue
        reason = res.expectation_config.meta["reason"]
        for hit in res.result.get("unexpected_index_list") or []:
            bad.setdefault(int(hit), []).append(reason)
    return bad


def presence_only(checks: list[Check]) -> frozenset[str]:
    """Columns whose only checks are ``not_null``: they enter the frame as 1 (present) or
    None, which is all those checks read (amounts are checked in integer cents, times
    through ``sold_year`` / ``refund_year``). A numeric column is also what pandas and GX
    test for nulls fastest."""
    nullness = {c.column for c in checks if c.kind == "not_null"}
    return frozenset(nullness - {c.column for c in checks if c.kind != "not_null"})


def _tuple_getter(make: Any, names: list[str]) -> Any:
    """``attrgetter`` / ``itemgetter`` of ``names`` that always returns a tuple."""
    if not names:
        return lambda _obj: ()
    if len(names) == 1:
        one = make(names[0])
        return lambda obj: (one(obj),)
    return make(*names)


def frame_columns(objs: list[SaleRow] | list[RefundRow], checks: list[Check]) -> dict[str, list[Any]]:
    """The checked columns of ``objs``: ``parse_note_count``, one of the row's consistency
    ``checks``, or the row's attribute of that name (1 or None for :func:`presence_only`).

    Each row is read once into a tuple (C getters; one visit per object is what keeps this
    cheap on a large chunk), then the tuples are transposed into columns.
    """
    names = list(dict.fromkeys(c.column for c in checks))
    if not objs:
        return {name: [] for name in names}
    in_checks = objs[0].checks
    from_checks = [n for n in names if n in in_checks]
    from_attrs = [n for n in names if n not in in_checks and n != "parse_note_count"]
    get_attrs = _tuple_getter(attrgetter, from_attrs)
    get_checks = _tuple_getter(itemgetter, from_checks)

    def read(obj: SaleRow | RefundRow) -> tuple:
        try:
            checked = get_checks(obj.checks)
        except KeyError:  # a row without some check: null, as a missing dict key was
            checked = tuple(obj.checks.get(n) for n in from_checks)
        return (*get_attrs(obj), *checked, len(obj.parse_notes))

    values = dict(zip([*from_attrs, *from_checks, "parse_note_count"], zip(*map(read, objs), strict=True), strict=True))
    presence = presence_only(checks)
    columns: dict[str, list[Any]] = {}
    for name in names:
        column = values[name]
        columns[name] = [None if v is None else 1 for v in column] if name in presence else list(column)
    return columns


def _reasons(obj: SaleRow | RefundRow, reasons: list[str]) -> list[str]:
    out = sorted(set(reasons))
    return out + [f"note: {n}" for n in obj.parse_notes]


def _validate(objs: list, checks: list[Check]) -> tuple[list, list]:
    bad = run_checks(frame_columns(objs, checks), [o.row for o in objs], checks)
    good = [o for o in objs if o.row not in bad]
    rejects = [(o, _reasons(o, bad[o.row])) for o in objs if o.row in bad]
    return good, rejects


def validate_sales(sales: list[SaleRow], known_locations: set[str]) -> tuple[list[SaleRow], list[tuple[SaleRow, list[str]]]]:
    return _validate(sales, sale_checks(known_locations))


def validate_refunds(refunds: list[RefundRow], known_locations: set[str]) -> tuple[list[RefundRow], list[tuple[RefundRow, list[str]]]]:
    return _validate(refunds, refund_checks(known_locations))
