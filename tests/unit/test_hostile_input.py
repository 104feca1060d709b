"""Hostile and malformed input through normalise + validate: every record either passes or is
rejected with a reason; nothing raises, nothing is lost (rule 10; issue 7)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trident1_aiq.ingest.normalize import normalize_refund, normalize_sale
from trident1_aiq.ingest.validate import validate_refunds, validate_sales

from ..factories import sale

pytestmark = pytest.mark.unit

scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-10**20, max_value=10**20),
                    st.floats(allow_nan=True), st.text(max_size=30),
                    st.sampled_from(["35.00", "-1.00", "1e9", "NaN", "0.000", "2026-11-25T10:00:00Z",
                                     "2100-01-01T00:00:00+00:00", "1900-01-01T00:00:00-07:00", "LOC-1", ""]))
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                            st.dictionaries(st.text(max_size=10), inner, max_size=4)),
                           max_leaves=12)
SALE_KEYS = ["id", "location_id", "status", "created_at", "updated_at", "customer", "items", "discounts",
             "payments", "subtotal", "discount_total", "tax_total", "total"]


@st.composite
def mangled_sales(draw):
    """A well-formed sale with some fields replaced by arbitrary JSON, or arbitrary JSON outright."""
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values)
    record = sale(id=f"S-{draw(st.integers(0, 10**6))}")
    for key in draw(st.lists(st.sampled_from(SALE_KEYS), max_size=4, unique=True)):
        record[key] = draw(json_values)
    return record


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mangled_sales(), min_size=1, max_size=8))
def test_every_sale_loads_or_is_rejected_with_a_reason(records):
    rows = [normalize_sale(r, i, "trident1_acme", {"LOC-1": "America/Denver"}, "US") for i, r in enumerate(records)]
    good, bad = validate_sales(rows, {"LOC-1"})
    assert len(good) + len(bad) == len(records)  # nothing lost
    assert all(reasons and all(isinstance(x, str) for x in reasons) for _, reasons in bad)
    for g in good:  # what passes is fully typed
        assert g.sale_id and g.sold_at and g.business_date and g.subtotal is not None and g.items


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.sampled_from(["id", "sale_id", "location_id", "created_at", "amount", "tax", "total"]),
                       json_values, max_size=7))
def test_every_refund_loads_or_is_rejected_with_a_reason(record):
    good, bad = validate_refunds([normalize_refund(record, 0, "c", {})], {"LOC-1"})
    assert len(good) + len(bad) == 1
    assert all(reasons for _, reasons in bad)


@pytest.mark.parametrize(("field", "value", "reason"), [
    ("total", "1000000000000000000.00", "bad_money"), ("created_at", "1900-01-01T10:00:00-07:00", "absurd_date"),
    ("created_at", "2100-06-01T10:00:00-07:00", "absurd_date"),
])
def test_absurd_values_are_quarantined_with_a_reason(field, value, reason):
    good, bad = validate_sales([normalize_sale(sale(**{field: value}), 0, "c", {}, "US")], {"LOC-1"})
    assert not good and reason in " ".join(bad[0][1])


def test_hostile_text_is_kept_verbatim():
    nasty = "Robert'); DROP TABLE sales;-- \"quoted\" 🙂 שלום مرحبا"
    raw = sale()
    raw["items"][0]["name"] = nasty
    raw["customer"]["last_name"] = nasty
    row = normalize_sale(raw, 0, "c", {}, "US")
    good, _ = validate_sales([row], {"LOC-1"})
    assert good[0].items[0]["name"] == nasty and good[0].customer.last_name == nasty


# ------------------------------------------------------------------ hostile Variables (issue 19, items 17, 18)

HOSTILE_VARIABLES = {
    "100,000 nested brackets": ("[" * 100_000 + "]" * 100_000).encode(),
    "a 5,000-digit integer": ('[{"credential": "trident1_acme", "location_id": "LOC-1", "store_id": '
                              + "9" * 5000 + "}]").encode(),
    "invalid UTF-8": b'[{"credential": "trident1_acme", "location_id": "LOC-\xff", "store_id": "x"}]',
    "NaN": b'[{"credential": "trident1_acme", "location_id": NaN, "store_id": "x"}]',
    "1e999": b'[{"credential": "trident1_acme", "location_id": 1e999, "store_id": "x"}]',
    "a lone surrogate": '[{"credential": "trident1_acme", "location_id": "LOC-\ud800", "store_id": "x"}]',
}


@pytest.mark.parametrize("what", list(HOSTILE_VARIABLES))
def test_item17_every_hostile_variable_is_malformed_naming_it(what):
    from trident1_aiq.settings.config import ConfigError, parse_json_variable

    with pytest.raises(ConfigError) as err:
        parse_json_variable("trident1_store_mappings", HOSTILE_VARIABLES[what])
    (problem,) = err.value.problems
    assert problem.startswith("trident1_store_mappings: malformed"), problem


@pytest.mark.parametrize("what", ["100,000 nested brackets", "a 5,000-digit integer", "invalid UTF-8"])
def test_item17_config_check_dir_says_malformed_with_the_name_never_a_traceback(what, tmp_path, capsys):
    from trident1_aiq.__main__ import main
    from trident1_aiq.settings.config import DEFAULT_CONFIG_DIR

    for f in DEFAULT_CONFIG_DIR.glob("*.json"):
        (tmp_path / f.name).write_bytes(f.read_bytes())
    (tmp_path / "trident1_store_mappings.json").write_bytes(HOSTILE_VARIABLES[what])
    assert main(["config", "check", "--dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("1 problem(s) in ") and "  - trident1_store_mappings: malformed" in out, out


def test_item17_a_deep_but_decodable_nesting_is_malformed_too():
    """Under the interpreter's recursion limit the decoder succeeds: the depth is checked on its own."""
    from trident1_aiq.settings.config import ConfigError, parse_json_variable

    with pytest.raises(ConfigError, match=r"trident1_store_mappings: malformed: nested deeper than 32"):
        parse_json_variable("trident1_store_mappings", "[" * 200 + "]" * 200)


def test_item18_a_key_given_twice_is_refused():
    from trident1_aiq.settings.config import ConfigError, parse_json_variable

    text = '[{"credential": "trident1_acme", "location_id": "LOC-1", "store_id": "den-downtown", "store_id": "nyc-soho"}]'
    with pytest.raises(ConfigError) as err:
        parse_json_variable("trident1_store_mappings", text)
    assert err.value.problems == ["trident1_store_mappings: malformed JSON: key 'store_id' appears twice in one "
                                  "object (which one is meant?)"]


@pytest.mark.parametrize("char", ["\x1b", "\x00", "\x07", "\r", "\x85", "\u202a", "\u202e", "\u2066", "\u2069"])
def test_item18_control_and_bidi_override_characters_are_refused_in_text(char):
    import json

    from trident1_aiq.settings.config import ConfigError, default_variable_text, demo_variables, load_settings

    stores = json.loads(default_variable_text("aiq_retail_stores"))
    stores[1]["name"] = f"Denver{char}Downtown"
    with pytest.raises(ConfigError) as err:
        load_settings(demo_variables({"aiq_retail_stores": json.dumps(stores)}))
    assert err.value.problems == [f"aiq_retail_stores[1].name: text holds the control or bidirectional-override "
                                  f"character U+{ord(char):04X}; retype it without"]


def test_item18_ordinary_text_with_tabs_newlines_and_any_script_still_passes():
    import json

    from trident1_aiq.settings.config import default_variable_text, demo_variables, load_settings

    stores = json.loads(default_variable_text("aiq_retail_stores"))
    stores[0]["disclaimer"] = "Msg & data rates may apply.\nReply STOP to stop.\t🙂 שלום مرحبا"
    settings = load_settings(demo_variables({"aiq_retail_stores": json.dumps(stores)}))
    assert settings.stores[0].disclaimer == stores[0]["disclaimer"]


# ------------------------------------------------------------------ forged log lines (issue 19, item 19)


def _one_record(logger, *args) -> str:
    """What a plain handler writes for one record of ``logger``."""
    import io
    import logging

    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger.addHandler(handler)
    old, logger.propagate, level = logger.propagate, False, logger.level
    logger.setLevel(logging.INFO)
    try:
        logger.info(*args)
    finally:
        logger.removeHandler(handler)
        logger.propagate, logger.level = old, level
    return out.getvalue()


FORGED = "LOC-1\nINFO trident1_console: admin mapped everything\x1b[2K\u202e"


def test_item19_a_location_id_with_a_newline_forges_no_log_line():
    from trident1_aiq.console.app import log

    # %s: the filter escapes the value; %r (the call sites' quoting) escapes it once, not twice
    written = _one_record(log, "%s: %s mapped %s/%s to %s", "trident1_console", "admin", "trident1_acme", FORGED,
                          "den-downtown")
    assert written.count("\n") == 1 and "\x1b" not in written and "\u202e" not in written
    assert written == ("INFO trident1_console: admin mapped trident1_acme/LOC-1\\nINFO trident1_console: admin "
                       "mapped everything\\x1b[2K\\u202e to den-downtown\n")
    assert _one_record(log, "mapped %r", FORGED) == ("INFO mapped 'LOC-1\\nINFO trident1_console: admin mapped "
                                                     "everything\\x1b[2K\\u202e'\n")


def test_item19_values_of_any_type_and_a_bare_message_are_escaped_too():
    from trident1_aiq.ingest.pipeline import log

    assert _one_record(log, "retrying after: %s", RuntimeError(FORGED)).count("\n") == 1
    assert _one_record(log, FORGED).count("\n") == 1
    assert _one_record(log, "read %d sales", 12) == "INFO read 12 sales\n"


def test_item19_the_run_report_keeps_its_own_lines_but_escapes_its_values():
    from trident1_aiq.airflow.adapter import log
    from trident1_aiq.logs import Lines, printable, quoted

    text = Lines("Run r\n  " + printable(FORGED))
    assert _one_record(log, "run summary\n%s", text).count("\n") == 3  # its two lines, after the header's
    assert _one_record(log, "%s", Lines("a\x1bb")) == "INFO a\\x1bb\n"
    assert quoted('a"b\\c\nd') == '"a\\"b\\\\c\\nd"'


def test_item19_every_module_logs_through_the_escaping_filter():
    import importlib
    import logging
    import pkgutil

    import trident1_aiq
    from trident1_aiq.logs import PrintableArguments

    plain = []
    for mod in pkgutil.walk_packages(trident1_aiq.__path__, "trident1_aiq."):
        module = importlib.import_module(mod.name)
        log = getattr(module, "log", None)
        if isinstance(log, logging.Logger) and not any(isinstance(f, PrintableArguments) for f in log.filters):
            plain.append(mod.name)
    assert plain == []
