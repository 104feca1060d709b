"""The console's security through Airflow's real auth: the api-server's own app (plugins loaded from
plugins/, the simple auth manager, Airflow's ``get_user`` and ``requires_access_*`` dependencies) in a
FastAPI TestClient, with the session's migrated metadata DB and a SQLite warehouse.

Anonymous → 401, a viewer may read but not save or trigger, CSRF tokens are checked, hostile ids and
names are escaped on the page and cannot inject into the Variable, and a refused save writes nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from trident1_aiq.settings.config import VAR_MAPPINGS, VAR_STORES, VARIABLES, default_variable_text
from trident1_aiq.warehouse import Warehouse, sqlite_url

pytestmark = [pytest.mark.integration]
HOSTILE_LOC = 'LOC-"><script>alert(1)</script>'
HOSTILE_NAME = "<img src=x onerror=alert('name')>"
PASSWORDS = {"admin": "admin-pw-1", "viewer": "viewer-pw-1", "op": "op-pw-1"}


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    """Airflow's api-server app with the console plugin, users admin (Admin), op (Op), viewer (Viewer)."""
    tmp = tmp_path_factory.mktemp("console-security")
    pw_file = tmp / "passwords.json"
    pw_file.write_text(json.dumps(PASSWORDS))
    env = {
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin,op:op,viewer:viewer",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(pw_file),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__API_AUTH__JWT_SECRET": "test-jwt-secret-" + "0123456789abcdef" * 4,
        "AIRFLOW__API__SECRET_KEY": "test-secret-key-0123456789",
        "AIRFLOW_CONN_WAREHOUSE_DEFAULT": json.dumps({"conn_type": "sqlite", "host": str(tmp / "warehouse.db")}),
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, env=os.environ.copy(),
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=300)
    wh = Warehouse(sqlite_url(tmp / "warehouse.db"))
    wh.migrate()
    seed_warehouse(wh)
    from airflow.api_fastapi.app import create_app, purge_cached_app
    from airflow.models.variable import Variable
    from fastapi.testclient import TestClient

    for name in VARIABLES:
        Variable.set(name, default_variable_text(name))
    purge_cached_app()
    client = TestClient(create_app("core"))
    try:
        yield client, wh
    finally:
        for name in VARIABLES:
            Variable.delete(name)
        purge_cached_app()
        wh.dispose()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def seed_warehouse(wh: Warehouse) -> None:
    now = datetime.now(UTC)
    locs = [("trident1_acme", loc, name) for loc, name in
            (("LOC-1", "Downtown"), ("LOC-2", "SoHo"), ("LOC-3", "Venice"), ("LOC-4", "Scottsdale"),
             (HOSTILE_LOC, HOSTILE_NAME))] + [("trident1_bolt", "LOC-1", "Loop")]
    with wh.begin() as conn:
        wh.execute(conn, "INSERT INTO trident1_locations (credential, location_id, name, timezone, active, last_seen_at) "
                         "VALUES (:c, :l, :n, 'America/Phoenix', TRUE, :now)",
                   [{"c": c, "l": loc, "n": n, "now": now} for c, loc, n in locs])
        wh.execute(conn, "INSERT INTO quarantine (quarantine_id, credential, entity, record_key, location_id, held, "
                         "reasons, reason_code, payload, run_id, first_run_id, quarantined_at, quarantined_on, "
                         "last_seen_at) VALUES (:q, 'trident1_acme', 'sale', :q, :l, TRUE, :r, 'unmapped_location', "
                         ":p, 'run-1', 'run-1', :now, :today, :now)",
                   [{"q": f"S-{i}", "l": "LOC-4" if i < 3 else HOSTILE_LOC, "now": now, "today": now.date(),
                     "r": json.dumps(["unmapped_location: <b>no mapping</b>"]),
                     "p": json.dumps({"id": f"S-{i}", "note": "<script>alert('payload')</script>"})}
                    for i in range(4)])


def login(client, user: str) -> None:
    client.cookies.clear()
    r = client.post("/auth/token", json={"username": user, "password": PASSWORDS[user]})
    assert r.status_code == 201, r.text
    client.cookies.set("_token", r.json()["access_token"])


def form_token(client) -> tuple[str, str]:
    import re

    page = client.get("/trident1/mappings")
    assert page.status_code == 200, page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    fingerprint = re.search(r'name="fingerprint" value="([^"]+)"', page.text).group(1)
    return csrf, fingerprint


def mappings() -> str:
    from airflow.models.variable import Variable

    return Variable.get(VAR_MAPPINGS)


def audit_rows(user: str) -> list:
    from airflow.models import Log
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return [(r.event, r.owner, r.extra) for r in
                session.scalars(select(Log).where(Log.owner == user, Log.event == "patch_variable")).all()]


def save(client, csrf, fingerprint, location="LOC-4", store="den-downtown", credential="trident1_acme"):
    return client.post("/trident1/mappings", data={"csrf_token": csrf, "fingerprint": fingerprint,
                                                   "credential": credential, "location_id": location,
                                                   "store_id": store})


@pytest.mark.parametrize("path", ["/trident1/mappings", "/trident1/health", "/trident1/quarantine", "/trident1/"])
def test_anonymous_is_refused(console, path):
    client, _ = console
    client.cookies.clear()
    r = client.get(path, follow_redirects=False)
    assert r.status_code == 401
    assert "Sign in to Airflow" in r.text  # with a link to Airflow's login page


def test_anonymous_and_forged_posts_write_nothing(console):
    client, _ = console
    before = mappings()
    client.cookies.clear()
    assert save(client, "x", "y").status_code == 401
    assert client.post("/trident1/trigger", data={"day": "2026-11-25"}).status_code == 401
    client.cookies.set("_token", "not-a-jwt")
    assert save(client, "x", "y").status_code == 403
    assert mappings() == before


def test_viewer_reads_but_cannot_save_or_trigger(console):
    client, _ = console
    login(client, "viewer")
    page = client.get("/trident1/mappings")
    assert page.status_code == 200 and 'id="read-only"' in page.text
    csrf, fingerprint = form_token(client)  # the viewer's own valid token: the refusal is about permission
    before = mappings()
    r = save(client, csrf, fingerprint)
    assert r.status_code == 403 and "permission to edit the Variable trident1_store_mappings" in r.text
    assert client.post("/trident1/trigger", data={"csrf_token": csrf, "day": "2026-11-25"}).status_code == 403
    assert mappings() == before
    assert client.get("/trident1/health").status_code == 200
    assert client.get("/trident1/quarantine").status_code == 200


def test_csrf_token_is_required_and_bound_to_the_user(console):
    client, _ = console
    login(client, "op")
    op_csrf, fingerprint = form_token(client)
    login(client, "admin")
    before = mappings()
    for token in ("", "forged", op_csrf, op_csrf[:-2] + ("AA" if not op_csrf.endswith("AA") else "BB")):
        r = save(client, token, fingerprint)
        assert r.status_code == 403, token
        assert "CSRF" in r.text
    assert mappings() == before


def test_admin_saves_a_mapping_and_the_audit_log_names_them(console):
    client, _ = console
    login(client, "op")  # Op may edit Variables in the simple auth manager
    csrf, fingerprint = form_token(client)
    r = save(client, csrf, fingerprint)
    assert r.status_code == 200, r.text
    assert "Saved: trident1_acme location LOC-4" in r.text
    entries = json.loads(mappings())
    assert {"credential": "trident1_acme", "location_id": "LOC-4", "store_id": "den-downtown"} in entries
    assert len(entries) == 5  # the four of config/ kept, one added
    events = audit_rows("op")
    assert events and '"key": "trident1_store_mappings"' in events[-1][2] and '"val": "***"' in events[-1][2]
    assert 'id="held-next-run"><b>3</b>' in r.text  # LOC-4's three held records load on the next run
    # Unmapping again (the drop-down's "not mapped") takes the entry away.
    csrf, fingerprint = form_token(client)
    assert save(client, csrf, fingerprint, store="").status_code == 200
    assert not any(e["location_id"] == "LOC-4" for e in json.loads(mappings()))


@pytest.mark.parametrize(("location", "store", "credential", "message"), [
    ("LOC-4", "nowhere", "trident1_acme", "retail store 'nowhere' does not exist in aiq_retail_stores"),
    ("LOC-9", "den-downtown", "trident1_acme", "location 'LOC-9' is not one that 'trident1_acme' reported"),
    ("LOC-1", "den-downtown", "trident1_nobody", "'trident1_nobody' is not in trident1_integration.credentials"),
    ("LOC-4", 'den-downtown", "x": "y', "trident1_acme", "does not exist in aiq_retail_stores"),
    ("LOC-4", "den-downtown", 'trident1_acme", "store_id": "evil', "is not a credential connection id"),
])
def test_invalid_mappings_are_refused_with_the_validators_message(console, location, store, credential, message):
    import html

    client, _ = console
    login(client, "admin")
    csrf, fingerprint = form_token(client)
    before = mappings()
    r = save(client, csrf, fingerprint, location=location, store=store, credential=credential)
    assert r.status_code == 400, r.text
    assert "Nothing was saved" in r.text and message in html.unescape(r.text)
    assert mappings() == before


def test_a_configuration_already_broken_is_not_saved_over(console):
    """The Variable holds a location mapped twice (a hand edit): the validator's message, nothing written."""
    from airflow.models.variable import Variable

    client, _ = console
    good = mappings()
    broken = json.loads(good) + [{"credential": "trident1_acme", "location_id": "LOC-2", "store_id": "la-venice"}]
    Variable.set(VAR_MAPPINGS, json.dumps(broken))
    try:
        login(client, "admin")
        csrf, fingerprint = form_token(client)
        r = save(client, csrf, fingerprint)
        assert r.status_code == 400
        assert "location 'LOC-2' of 'trident1_acme' is already mapped" in r.text.replace("&#39;", "'")
        assert json.loads(mappings()) == broken
    finally:
        Variable.set(VAR_MAPPINGS, good)


def test_a_variable_changed_meanwhile_is_not_overwritten(console):
    from airflow.models.variable import Variable

    client, _ = console
    login(client, "admin")
    csrf, fingerprint = form_token(client)
    good = mappings()
    Variable.set(VAR_MAPPINGS, good.replace("LOC-3", "LOC-3 "))  # someone else edits it
    try:
        r = save(client, csrf, fingerprint)
        assert r.status_code == 409 and "changed since you opened the page" in r.text
        assert "LOC-3 " in mappings()
    finally:
        Variable.set(VAR_MAPPINGS, good)


def test_a_variable_set_in_the_environment_is_not_written(console, monkeypatch):
    client, _ = console
    login(client, "admin")
    csrf, fingerprint = form_token(client)
    monkeypatch.setenv("AIRFLOW_VAR_TRIDENT1_STORE_MAPPINGS", mappings())
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        stored = session.scalar(select(Variable).where(Variable.key == VAR_MAPPINGS)).val
    r = save(client, csrf, fingerprint)
    assert r.status_code == 409 and "EnvironmentVariablesBackend" in r.text
    with create_session() as session:
        assert session.scalar(select(Variable).where(Variable.key == VAR_MAPPINGS)).val == stored


def test_hostile_ids_and_names_are_escaped_and_cannot_inject(console):
    client, _ = console
    login(client, "admin")
    for path in ("/trident1/mappings", "/trident1/health", "/trident1/quarantine"):
        body = client.get(path).text
        assert "<script>" not in body and "<img src=x" not in body and "<b>no mapping</b>" not in body, path
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get("/trident1/mappings").text
    page = client.get("/trident1/quarantine", params={"location": '"><script>alert(2)</script>'})
    assert "<script>alert(2)" not in page.text and "&#34;&gt;&lt;script&gt;alert(2)" in page.text
    csrf, fingerprint = form_token(client)
    r = save(client, csrf, fingerprint, location=HOSTILE_LOC)  # a reported location, however odd its id
    assert r.status_code == 200, r.text
    entries = json.loads(mappings())
    mine = [e for e in entries if e["location_id"] == HOSTILE_LOC]
    assert mine == [{"credential": "trident1_acme", "location_id": HOSTILE_LOC, "store_id": "den-downtown"}]
    assert all(set(e) == {"credential", "location_id", "store_id"} for e in entries)
    csrf, fingerprint = form_token(client)
    assert save(client, csrf, fingerprint, location=HOSTILE_LOC, store="").status_code == 200


def test_pages_forbid_framing_by_other_sites_and_scripts(console):
    client, _ = console
    login(client, "viewer")
    csp = client.get("/trident1/health").headers["content-security-policy"]
    assert "frame-ancestors 'self'" in csp and "default-src 'none'" in csp


def test_trigger_refuses_a_day_that_has_not_ended(console):
    from datetime import UTC, datetime

    client, _ = console
    login(client, "admin")
    csrf, _ = form_token(client)
    today = datetime.now(UTC).date().isoformat()
    r = client.post("/trident1/trigger", data={"csrf_token": csrf, "day": today})
    assert r.status_code == 400 and "has not ended yet" in r.text


# ------------------------------------------------------------------ issue 19: saving safely (items 5, 8, 22)


def _set_raw(key: str, value: bytes | str | None) -> None:
    """Put ``value`` in the metadata DB's variable row as is (unencrypted), e.g. bytes that are not UTF-8."""
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session
    from sqlalchemy import delete, update

    with create_session() as session:
        if value is None:
            session.execute(delete(Variable).where(Variable.key == key))
        else:
            session.execute(update(Variable).where(Variable.key == key).values(_val=value, is_encrypted=False))


@pytest.mark.parametrize("hostile", [None, "[", "[" * 20_000, "[" + "1" * 5_000 + "]", b"[\xff\xfe]"],
                         ids=["not-set", "truncated", "20k-brackets", "5000-digits", "not-utf8"])
def test_a_missing_or_hostile_variable_is_shown_and_never_saved_over(console, hostile):
    """Items 5 and 17: pages still render and name the Variable; a save is refused and writes nothing."""
    from airflow.models.variable import Variable

    client, _ = console
    good = mappings()
    login(client, "admin")
    try:
        if hostile is None:
            Variable.delete(VAR_MAPPINGS)
        elif isinstance(hostile, bytes):
            _set_raw(VAR_MAPPINGS, hostile)
        else:
            Variable.set(VAR_MAPPINGS, hostile)
        page = client.get("/trident1/mappings")
        assert page.status_code == 200, page.text[-2000:]
        assert VAR_MAPPINGS in page.text and ("malformed" in page.text or "not set" in page.text)
        health = client.get("/trident1/health")
        assert health.status_code == 200
        if hostile is not None:
            assert 'id="variable-problems"' in health.text and f"{VAR_MAPPINGS}: malformed" in health.text
        csrf, fingerprint = form_token(client)
        r = save(client, csrf, fingerprint)
        assert r.status_code == 400 and "Nothing was saved" in r.text, r.text[-2000:]
        assert audit_rows("admin") == audit_rows("admin")  # (read twice: no row appears in between)
        from airflow.utils.session import create_session
        from sqlalchemy import select

        with create_session() as session:
            row = session.scalar(select(Variable).where(Variable.key == VAR_MAPPINGS))
            stored = None if row is None else row._val
        if hostile is None:
            assert stored is None
        elif isinstance(hostile, str):
            assert Variable.get(VAR_MAPPINGS) == hostile
    finally:
        Variable.set(VAR_MAPPINGS, good)


def test_two_admins_saving_at_once_lose_no_edit(console):
    """Item 5: two saves from pages opened on the same Variable, sent at the same moment, 8 times: one is
    saved, the other told the Variable changed since it opened the page; never both "Saved"."""
    import threading

    from airflow.models.variable import Variable
    from fastapi.testclient import TestClient

    client, _ = console
    good = mappings()
    other = TestClient(client.app)
    login(client, "admin")
    login(other, "op")
    edits = {"admin": ("LOC-4", "den-downtown"), "op": ("LOC-3", "chi-loop")}
    lost = 0
    try:
        for _ in range(8):
            Variable.set(VAR_MAPPINGS, good)
            forms = {"admin": (client, *form_token(client)), "op": (other, *form_token(other))}
            barrier = threading.Barrier(2)
            results: dict[str, object] = {}

            def post(who: str, forms=forms, barrier=barrier, results=results) -> None:
                c, csrf, fp = forms[who]
                barrier.wait()
                results[who] = save(c, csrf, fp, location=edits[who][0], store=edits[who][1])

            threads = [threading.Thread(target=post, args=(who,)) for who in forms]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            final = json.loads(mappings())
            for who, r in results.items():
                entry = {"credential": "trident1_acme", "location_id": edits[who][0], "store_id": edits[who][1]}
                if r.status_code == 200 and "Saved:" in r.text and entry not in final:
                    lost += 1
            assert sorted(r.status_code for r in results.values()) == [200, 409]
            loser = next(r for r in results.values() if r.status_code == 409)
            assert "changed since you opened the page" in loser.text
        assert lost == 0
    finally:
        Variable.set(VAR_MAPPINGS, good)


def test_unmapping_a_location_never_mapped_changes_nothing(console):
    """Item 22: "nothing to change", no write, no audit row."""
    client, _ = console
    login(client, "admin")
    before, audits = mappings(), len(audit_rows("admin"))
    csrf, fingerprint = form_token(client)
    r = save(client, csrf, fingerprint, location="LOC-4", store="")
    assert r.status_code == 200 and "Nothing to change" in r.text and "Saved" not in r.text
    assert mappings() == before and len(audit_rows("admin")) == audits


@pytest.mark.parametrize("day", ["0001-01-01", "2020-01-01"])
def test_trigger_refuses_a_day_the_integration_cannot_have_data_for(console, day):
    client, _ = console
    login(client, "admin")
    csrf, _ = form_token(client)
    r = client.post("/trident1/trigger", data={"csrf_token": csrf, "day": day})
    assert r.status_code == 400 and f"{day} is before" in r.text and "first day a run can have data for" in r.text


def test_a_new_retail_store_for_a_new_location_from_the_console(console):
    """Item 8: the store is added to aiq_retail_stores and the location mapped to it, in one save; a store
    the validator refuses writes neither Variable."""
    from airflow.models.variable import Variable

    client, _ = console
    good_maps, good_stores = mappings(), Variable.get(VAR_STORES)
    login(client, "op")
    page = client.get("/trident1/mappings")
    assert 'class="new-store" data-key="trident1_acme/LOC-4"' in page.text  # an unmapped, reported location
    import re

    stores_fp = re.search(r'name="stores_fingerprint" value="([^"]+)"', page.text).group(1)
    csrf, fingerprint = form_token(client)
    form = {"csrf_token": csrf, "fingerprint": fingerprint, "stores_fingerprint": stores_fp,
            "credential": "trident1_acme", "location_id": "LOC-4", "store_id": "phx-scottsdale",
            "store_name": "Scottsdale", "phone": "+1 480 555 0100", "email": "scottsdale@example.com",
            "line1": "1 Main St", "city": "Scottsdale", "state": "AZ", "postal_code": "85251", "country": "US",
            "timezone": "Nowhere/Atlantis"}
    try:
        bad = client.post("/trident1/stores", data=form)
        assert bad.status_code == 400 and "unknown time zone" in bad.text
        assert (mappings(), Variable.get(VAR_STORES)) == (good_maps, good_stores)
        ok = client.post("/trident1/stores", data=dict(form, timezone="America/Phoenix"))
        assert ok.status_code == 200 and "Saved: retail store phx-scottsdale" in ok.text, ok.text[-1500:]
        stores = json.loads(Variable.get(VAR_STORES))
        assert stores[:-1] == json.loads(good_stores) and stores[-1]["id"] == "phx-scottsdale"
        assert {"credential": "trident1_acme", "location_id": "LOC-4", "store_id": "phx-scottsdale"} in \
            json.loads(mappings())
        assert '"key": "aiq_retail_stores"' in " ".join(
            e for _, _, e in _audit_rows_any("op")) and len(json.loads(mappings())) == len(json.loads(good_maps)) + 1
        again = client.post("/trident1/stores", data=dict(form, timezone="America/Phoenix"))
        assert again.status_code == 409  # the page it came from is out of date: refused
        login(client, "viewer")
        assert client.post("/trident1/stores", data=dict(form, csrf_token=form_token(client)[0])).status_code == 403
    finally:
        Variable.set(VAR_MAPPINGS, good_maps)
        Variable.set(VAR_STORES, good_stores)


def _audit_rows_any(user: str) -> list:
    from airflow.models import Log
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return [(r.event, r.owner, r.extra or "") for r in session.scalars(select(Log).where(Log.owner == user)).all()]


# ------------------------------------------------------------------ issue 19: CSRF, filters, personal data


def test_csrf_token_is_bound_to_the_login_session_and_dies_with_logout(console):
    """Item 21: a token from another session of the same user, or from before a logout, is refused."""
    client, _ = console
    login(client, "admin")
    old_csrf, fingerprint = form_token(client)
    client.get("/api/v2/auth/logout", follow_redirects=False)
    login(client, "admin")  # a new session (a new jti)
    before = mappings()
    r = save(client, old_csrf, fingerprint)
    assert r.status_code == 403 and "another login session" in r.text
    assert mappings() == before


def test_a_form_from_another_origin_is_refused(console):
    client, _ = console
    login(client, "admin")
    csrf, fingerprint = form_token(client)
    before = mappings()
    r = client.post("/trident1/mappings", headers={"Origin": "https://evil.example"},
                    data={"csrf_token": csrf, "fingerprint": fingerprint, "credential": "trident1_acme",
                          "location_id": "LOC-4", "store_id": "den-downtown"})
    assert r.status_code == 403 and "another site" in r.text
    assert mappings() == before
    same = client.post("/trident1/mappings", headers={"Origin": "http://testserver"},
                       data={"csrf_token": csrf, "fingerprint": fingerprint, "credential": "trident1_acme",
                             "location_id": "LOC-4", "store_id": ""})
    assert same.status_code == 200  # this origin: accepted (nothing to change here)


@pytest.mark.parametrize("query", ["location=%00", "credential=a%00b", "reason=%07", "day=%1b"])
def test_a_control_character_in_a_filter_is_a_400(console, query):
    """Item 20 (PostgreSQL refuses NUL in text: tests/integration/test_console_data.py checks that path)."""
    client, _ = console
    login(client, "viewer")
    r = client.get(f"/trident1/quarantine?{query}")
    assert r.status_code == 400 and "control character" in r.text


def test_personal_data_only_for_roles_that_may_read_connections(console):
    """Item 6: a viewer sees the payload masked, Op (who may read Connections) sees it whole."""
    client, wh = console
    payload = {"id": "S-P", "location_id": "LOC-1", "total": "12.00", "customer": {
        "id": "C-7", "first_name": "Ana", "last_name": "Núñez", "phone": "(303) 555-0101",
        "email": "ana.nunez@example.com", "birth_date": "1990-04-01"}}
    with wh.begin() as conn:
        wh.execute(conn, "INSERT INTO quarantine (quarantine_id, credential, entity, record_key, location_id, held, "
                         "reasons, reason_code, payload, run_id, first_run_id, quarantined_at, quarantined_on, "
                         "last_seen_at) VALUES ('P-1', 'trident1_acme', 'sale', 'S-P', 'LOC-1', FALSE, '[]', "
                         "'bad_money', :p, 'run-1', 'run-1', :now, :today, :now)",
                   {"p": json.dumps(payload), "now": datetime.now(UTC), "today": datetime.now(UTC).date()})
    try:
        personal = ("ana.nunez@example.com", "555-0101", "Núñez", "1990-04-01", "C-7")
        login(client, "viewer")
        masked = client.get("/trident1/quarantine", params={"kind": "rejected"}).text
        assert 'id="masked"' in masked and "•••" in masked and "12.00" in masked
        assert not [p for p in personal if p in masked]
        login(client, "op")
        whole = client.get("/trident1/quarantine", params={"kind": "rejected"}).text
        assert 'id="masked"' not in whole and all(p in whole for p in personal)
    finally:
        with wh.begin() as conn:
            wh.execute(conn, "DELETE FROM quarantine WHERE quarantine_id = 'P-1'")


def test_a_warehouse_not_migrated_is_said_and_not_created(console, monkeypatch, tmp_path):
    """Item 7: a page view never writes: no migration, no file, no table; a clear message instead."""
    client, _ = console
    for db in (tmp_path / "missing.db", tmp_path / "empty.db"):
        if db.name == "empty.db":
            import sqlite3

            sqlite3.connect(db).close()
        monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE_DEFAULT", json.dumps({"conn_type": "sqlite", "host": str(db)}))
        login(client, "admin")
        for path in ("/trident1/mappings", "/trident1/health", "/trident1/quarantine"):
            r = client.get(path)
            assert r.status_code == 503 and "is not migrated yet" in r.text and "check_config" in r.text, path
            if path.endswith("mappings"):
                assert 'id="trigger"' in r.text  # the first run can be started from here
        if db.name == "missing.db":
            assert not db.exists()
        else:
            assert Warehouse(sqlite_url(db)).tables() == {}


@pytest.mark.postgres
def test_concurrent_saves_on_a_postgresql_metadata_db_lose_no_edit(tmp_path):
    """Item 5 on PostgreSQL, where the save locks the Variable's row (SELECT … FOR UPDATE): 8 tries of two
    saves at once, each time one saved and one told the Variable changed, no edit lost."""
    from tests.factories import drop_pg_database, make_pg_database, require_postgres

    require_postgres()
    name, url = make_pg_database()
    env = dict(os.environ, AIRFLOW_HOME=str(tmp_path), AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=url)
    try:
        subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=600)
        proc = subprocess.run([sys.executable, str(Path(__file__).with_name("concurrent_saves_runner.py")), "8"],
                              check=False, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        tries = json.loads(proc.stdout.strip().splitlines()[-1])
        assert len(tries) == 8
        for t in tries:
            assert sorted(t["results"].values()) == ["changed", "saved"] and t["lost"] == [], t
    finally:
        drop_pg_database(name)


@pytest.fixture
def parsed_dag(console):
    """The DAG parsed into the metadata DB as the dag-processor writes it (paused, its next run due);
    its runs removed afterwards."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db
    from airflow.models import DagModel, DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import delete, update

    from trident1_aiq.console.airflow_side import DAG_ID

    def parse():
        manager = DagBundlesManager()
        manager.sync_bundles_to_db()
        bundle = manager.get_bundle("dags-folder")
        bundle.initialize()
        sync_bag_to_db(BundleDagBag(dag_folder=bundle.path, bundle_path=bundle.path, bundle_name=bundle.name),
                       bundle.name, bundle.version)

    def reset():
        with create_session() as session:
            session.execute(delete(DagRun).where(DagRun.dag_id == DAG_ID))
            session.execute(update(DagModel).where(DagModel.dag_id == DAG_ID).values(is_paused=True))
        parse()  # next_dagrun recomputed from the (no) scheduled runs, as at every parse

    reset()
    yield parse
    reset()


def _runs_and_due(session):
    """The DAG's runs (run type, business day) and whether the scheduler would now create a scheduled one."""
    from airflow.models import DagModel, DagRun
    from sqlalchemy import select

    from trident1_aiq.console.airflow_side import DAG_ID, _interval_day

    runs = sorted((str(r.run_type).rsplit(".", 1)[-1].lower(), (r.conf or {}).get("business_date") or _interval_day(r))
                  for r in session.scalars(select(DagRun).where(DagRun.dag_id == DAG_ID)))
    due, _ = DagModel.dags_needing_dagruns(session)
    return runs, DAG_ID in {dm.dag_id for dm in due}


@pytest.mark.parametrize("days_back", [1, 3])
def test_trigger_with_unpause_is_the_only_run_of_its_day_and_comes_first(console, parsed_dag, days_back):
    """Unpausing a catchup=False DAG makes the scheduler create the latest interval's scheduled run at once.
    The console's Trigger of that day is that run (one run of the day, the admin's, which does the work);
    of an older day, a manual run while the scheduler holds its own back (max_active_runs) until it ends.
    The dag-processor's next parse keeps it so."""
    from airflow.models import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from trident1_aiq.console.airflow_side import DAG_ID

    client, _ = console
    day = (datetime.now(UTC).date() - timedelta(days=days_back)).isoformat()
    with create_session() as session:
        assert session.scalar(select(DagModel.is_paused).where(DagModel.dag_id == DAG_ID)) is True
    login(client, "admin")
    csrf, _ = form_token(client)
    r = client.post("/trident1/trigger", data={"csrf_token": csrf, "day": day, "unpause": "yes"})
    assert r.status_code == 200 and f"for {day}" in r.text, r.text[-2000:]
    for reparse in (False, True):
        if reparse:
            parsed_dag()
        with create_session() as session:
            assert session.scalar(select(DagModel.is_paused).where(DagModel.dag_id == DAG_ID)) is False
            runs, due = _runs_and_due(session)
        kind = "scheduled" if days_back == 1 else "manual"
        assert runs == [(kind, day)], runs  # the admin's run, the only one
        assert due is False, "the scheduler would start a second run now"
