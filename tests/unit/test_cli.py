"""`python -m trident1_aiq config check`: the DAG's validator, offline, every problem at once."""

from __future__ import annotations

import json
import shutil

import pytest

from trident1_aiq.__main__ import main
from trident1_aiq.settings.config import DEFAULT_CONFIG_DIR

pytestmark = pytest.mark.unit


def test_config_check_passes_on_the_defaults(capsys):
    assert main(["config", "check", "--dir", str(DEFAULT_CONFIG_DIR)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ok: 2 credential(s), 4 store(s), 4 mapping(s)")
    assert "Connections and Trident1 not checked" in out  # says what it did not read


def test_config_check_needs_a_source():
    """No silent default: the admin says what to check."""
    with pytest.raises(SystemExit):
        main(["config", "check"])


def test_config_check_a_missing_file_is_a_missing_variable(tmp_path, capsys):
    for f in DEFAULT_CONFIG_DIR.glob("*.json"):
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "aiq_discounts.json").unlink()
    assert main(["config", "check", "--dir", str(tmp_path)]) == 1
    assert "aiq_discounts: the Airflow Variable is not set" in capsys.readouterr().out


def test_config_check_prints_every_problem_with_its_location(tmp_path, capsys):
    for f in DEFAULT_CONFIG_DIR.glob("*.json"):
        shutil.copy(f, tmp_path / f.name)
    maps = json.loads((tmp_path / "trident1_store_mappings.json").read_text())
    maps[1]["store_id"] = "atlantis"
    maps.append(dict(maps[0]))
    (tmp_path / "trident1_store_mappings.json").write_text(json.dumps(maps))
    (tmp_path / "aiq_discounts.json").write_text('[{"id": "x", "name": "X", "credential": "trident1_acme"}]')
    assert main(["config", "check", "--dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("3 problem(s) in ")
    assert "trident1_store_mappings[1].store_id: retail store 'atlantis' does not exist" in out
    assert "trident1_store_mappings[4]: location 'LOC-1' of 'trident1_acme' is already mapped" in out
    assert "aiq_discounts[0].trident1_discount_id: Field required" in out
