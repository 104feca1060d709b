"""Settings validation (rules 1, 3, 7) and connections."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from trident1_aiq.settings.config import (
    VARIABLES,
    ConfigError,
    clean_website,
    default_variable_text,
    demo_variables,
    load_settings,
    trident1_credential,
)

pytestmark = pytest.mark.unit


def _with(**overrides: object) -> dict[str, str | None]:
    return {k: json.dumps(v) if not isinstance(v, str) else v for k, v in overrides.items()}


def _problems(raw: dict[str, str | None]) -> list[str]:
    """The problems of the demo Variables with ``raw`` replacing some of them."""
    with pytest.raises(ConfigError) as err:
        load_settings(demo_variables(raw))
    return err.value.problems


def test_defaults_in_config_folder_are_valid():
    s = load_settings(demo_variables())
    assert "trident1_acme" in s.integration.credentials
    assert s.mapping_for("trident1_acme")["LOC-1"] == "den-downtown"


@pytest.mark.parametrize("typed", ["acme.trident1pos.com", "https://acme.trident1pos.com",
                                   "https://acme.trident1pos.com/", " http://acme.trident1pos.com// "])
def test_rule1_website_without_scheme_or_trailing_slash(typed):
    assert clean_website(typed) == "acme.trident1pos.com"
    cred = trident1_credential("trident1_acme", host=typed, schema=None, port=None, password="k",
                               extra={"store_name": "Acme"})
    assert cred.base_url == "https://acme.trident1pos.com/api/v1"


def test_rule1_credential_needs_key_and_store_name_and_never_shows_key():
    with pytest.raises(ConfigError) as err:
        trident1_credential("trident1_acme", host="x.com", schema=None, port=None, password="", extra={})
    text = str(err.value)
    assert "trident1_acme" in text and "store_name" in text and "API key" in text
    cred = trident1_credential("trident1_acme", host="x.com", schema="http", port=8080,
                               password="s3cr3t-key", extra={"store_name": "a"})
    assert "s3cr3t-key" not in repr(cred) and "s3cr3t-key" not in str(cred.__dict__.get("api_key"))
    assert cred.base_url == "http://x.com:8080/api/v1"


def test_rule7_mapping_to_missing_store_names_the_entry():
    maps = json.loads(default_variable_text("trident1_store_mappings"))
    maps.append({"credential": "trident1_acme", "location_id": "LOC-4", "store_id": "nowhere"})
    problems = _problems(_with(trident1_store_mappings=maps))
    assert problems == [
        "trident1_store_mappings[4].store_id: retail store 'nowhere' does not exist in aiq_retail_stores"
    ]


def test_rule7_location_mapped_twice_names_both_entries():
    maps = json.loads(default_variable_text("trident1_store_mappings"))
    maps.append({"credential": "trident1_acme", "location_id": "LOC-1", "store_id": "nyc-soho"})
    (problem,) = _problems(_with(trident1_store_mappings=maps))
    assert "trident1_store_mappings[4]" in problem and "LOC-1" in problem and "[0]" in problem


def test_rule7_malformed_json_names_the_variable():
    (problem,) = _problems({"aiq_retail_stores": '[{"id": "x",'})
    assert problem.startswith("aiq_retail_stores: malformed JSON")


def test_rule7_every_problem_reported_at_once_with_json_paths():
    integ = json.loads(default_variable_text("trident1_integration"))
    integ["lookback_hours"] = -1
    integ["surprise"] = True
    integ["marketing"]["max_requests"] = "lots"
    stores = json.loads(default_variable_text("aiq_retail_stores"))
    stores[1]["timezone"] = "Mars/Olympus"
    problems = _problems(_with(trident1_integration=integ, aiq_retail_stores=stores))
    joined = "\n".join(problems)
    assert "trident1_integration.lookback_hours" in joined
    assert "trident1_integration.surprise" in joined
    assert "trident1_integration.marketing.max_requests" in joined
    assert "aiq_retail_stores[1].timezone" in joined and "Mars/Olympus" in joined
    assert len(problems) == 4


def test_rule7_mapping_credential_must_be_configured():
    maps = [{"credential": "trident1_other", "location_id": "L", "store_id": "den-downtown"}]
    (problem,) = _problems(_with(trident1_store_mappings=maps))
    assert "trident1_store_mappings[0].credential" in problem


def test_huge_variable_rejected_before_parsing():
    (problem,) = _problems({"aiq_discounts": "[" + " " * 1_000_001 + "]"})
    assert problem.startswith("aiq_discounts: larger than")


def test_rule3_first_opt_in_not_before_enabled_at_plus_24h():
    s = load_settings(demo_variables())
    assert s.integration.marketing.first_send_at() == datetime(2026, 1, 2, 15, 0, tzinfo=UTC)


def test_rule3_marketing_enabled_needs_dates():
    integ = json.loads(default_variable_text("trident1_integration"))
    integ["marketing"] = {"enabled": True}
    (problem,) = _problems(_with(trident1_integration=integ))
    assert problem.startswith("trident1_integration.marketing")


@pytest.mark.parametrize("missing", VARIABLES)
def test_rule7_a_variable_not_set_is_an_error_naming_it_never_the_demo_files(missing):
    raw = demo_variables()
    del raw[missing]
    with pytest.raises(ConfigError) as err:
        load_settings(raw)
    (problem,) = err.value.problems
    assert problem.startswith(f"{missing}: the Airflow Variable is not set")


def test_rule7_nothing_set_names_all_four_variables():
    with pytest.raises(ConfigError) as err:
        load_settings({})
    assert [p.split(":", 1)[0] for p in err.value.problems] == list(VARIABLES)
