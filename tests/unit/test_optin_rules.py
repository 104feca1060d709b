"""SMS double opt-in rules that are pure functions: reply keywords, send hours, message text
(rules 24–26; the database and gateway side is tests/integration/test_optin.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from trident1_aiq.messaging.optin import message_text, reply_action, send_blocker, within_send_hours
from trident1_aiq.settings.config import demo_settings

pytestmark = pytest.mark.unit


#: Rule 25's keywords, each its own case, as typed (trimmed, any case).
RULE25_REPLIES = {"YES": "confirm", "Y": "confirm", "START": "confirm", "STOP": "stop", "STOPALL": "stop",
                  "UNSUBSCRIBE": "stop", "CANCEL": "stop", "END": "stop", "QUIT": "stop"}


@pytest.mark.parametrize(("keyword", "action"), RULE25_REPLIES.items())
@pytest.mark.parametrize("typed", ["{}", "{} ", " {}\n", "lower", "Title"])
def test_rule25_keywords(keyword, action, typed):
    body = keyword.lower() if typed == "lower" else keyword.title() if typed == "Title" else typed.format(keyword)
    assert reply_action(body) == action


@pytest.mark.parametrize("body", ["yes please", "YES!", "stop it", "S T O P", "NO", "HELP", "", "   ", None])
def test_rule25_anything_else_is_ignored(body):
    assert reply_action(body) == "ignore"


def test_rule24_send_hours_boundaries():
    tz = "America/Denver"  # UTC−7 in November
    assert not within_send_hours(datetime(2026, 11, 20, 14, 59, tzinfo=UTC), tz)  # 07:59
    assert within_send_hours(datetime(2026, 11, 20, 15, 0, tzinfo=UTC), tz)  # 08:00
    assert within_send_hours(datetime(2026, 11, 21, 3, 59, tzinfo=UTC), tz)  # 20:59
    assert not within_send_hours(datetime(2026, 11, 21, 4, 0, tzinfo=UTC), tz)  # 21:00


def test_rule26_message_names_store_confirm_stop_and_disclaimer():
    text = message_text("Mile High Downtown", "Must be 21+.")
    assert "Mile High Downtown" in text and "YES" in text and "STOP" in text and text.endswith("Must be 21+.")
    assert "None" not in message_text("Empire SoHo", None)


def test_rule24_no_send_when_the_store_time_zone_is_unknown():
    """Quiet hours need the store's clock: without it nothing is sent (never judged as UTC)."""
    settings = demo_settings()
    noon_utc = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    assert send_blocker(noon_utc, None, settings) == "store time zone unknown"
    assert send_blocker(noon_utc, "Europe/London", settings) is None
