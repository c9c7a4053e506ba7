"""The notifications page, the bell, the preferences page and the unsubscribe link, without
JavaScript: plain links and form posts."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import signing
from django.test import Client

from accounts.tests.api import bearer
from notifications import preferences, record
from notifications.events import Channel, Kind, Mode
from notifications.models import Notification, QuietHours
from notifications.unsubscribe import SALT, token_for


@pytest.fixture(autouse=True)
def _no_celery(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(record, "enqueue", lambda delivery_ids: None)


def announce(user: Any, kind: str, key: str, title: str) -> Notification:
    notification = record.record(user.pk, kind, key, title=title, link="/bots/1/")
    assert notification is not None
    return notification


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_bell_counts_unread_and_the_page_lists_only_mine_with_filters(world: Any) -> None:
    announce(world.owner, Kind.BOT_ERROR, "a", "BTC grid: bot error")
    announce(world.owner, Kind.BOT_STARTED, "b", "BTC grid: bot started")
    announce(world.outsider, Kind.BOT_ERROR, "a", "Stranger grid: bot error")
    client = client_for(world.owner)

    page = client.get("/notifications/")
    html = page.content.decode()
    assert page.status_code == 200
    assert '<span class="bell-count" data-bell-count >2</span>' in html
    assert "BTC grid: bot error" in html
    assert "BTC grid: bot started" in html
    assert "Stranger grid" not in html

    critical = client.get("/notifications/", {"severity": "critical"}).content.decode()
    assert "BTC grid: bot error" in critical
    assert "BTC grid: bot started" not in critical
    started = client.get("/notifications/", {"kind": "bot.started"}).content.decode()
    assert "BTC grid: bot error" not in started
    assert "BTC grid: bot started" in started


def test_mark_one_read_then_all_and_another_traders_is_a_404(world: Any) -> None:
    error = announce(world.owner, Kind.BOT_ERROR, "a", "BTC grid: bot error")
    announce(world.owner, Kind.BOT_STARTED, "b", "BTC grid: bot started")
    theirs = announce(world.outsider, Kind.BOT_ERROR, "a", "Stranger grid: bot error")
    client = client_for(world.owner)

    response = client.post(f"/notifications/{error.pk}/read/", {"next": "/notifications/?unread=on"})
    assert response.status_code == 302
    assert response["Location"] == "/notifications/?unread=on"
    error.refresh_from_db()
    assert error.read_at is not None
    unread = client.get("/notifications/", {"unread": "on"}).content.decode()
    assert "BTC grid: bot error" not in unread
    assert "BTC grid: bot started" in unread

    assert client.post(f"/notifications/{theirs.pk}/read/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None
    # An address elsewhere is not followed back.
    response = client.post("/notifications/read-all/", {"next": "https://evil.example/"})
    assert response["Location"] == "/notifications/"
    assert not Notification.objects.filter(user=world.owner, read_at__isnull=True).exists()
    assert Notification.objects.filter(user=world.outsider, read_at__isnull=True).count() == 1
    assert "data-bell-count hidden>0</span>" in client.get("/notifications/").content.decode()


def test_the_settings_page_saves_the_matrix_and_quiet_hours(world: Any) -> None:
    client = client_for(world.owner)
    page = client.get("/account/notifications/")
    assert page.status_code == 200
    form = page.context["form"]
    data = {name: form[name].initial for name in form.fields if "__" in name}
    assert data["order.filled__email"] == "off"
    assert data["bot.error__email"] == "on"
    data.update(
        {
            "order.filled__in_app": "on",
            "bot.started__in_app": "off",
            "quiet_start": "22:00",
            "quiet_end": "07:00",
        }
    )

    response = client.post("/account/notifications/", data)
    assert response.status_code == 302
    matrix = preferences.matrix_for(world.owner.pk)
    assert matrix[("order.filled", "in_app")] == "on"
    assert matrix[("bot.started", "in_app")] == "off"
    assert matrix[("bot.error", "email")] == "on"
    quiet = QuietHours.objects.get(user=world.owner)
    assert (str(quiet.start), str(quiet.end)) == ("22:00:00", "07:00:00")
    # The outsider's matrix is untouched.
    assert preferences.matrix_for(world.outsider.pk)[("order.filled", "in_app")] == "off"

    half = {**data, "quiet_start": "23:00", "quiet_end": ""}
    response = client.post("/account/notifications/", half)
    assert response.status_code == 200
    assert "Give both ends of the quiet hours, or neither." in response.content.decode()
    assert str(QuietHours.objects.get(user=world.owner).start) == "22:00:00"

    cleared = {**data, "quiet_start": "", "quiet_end": ""}
    assert client.post("/account/notifications/", cleared).status_code == 302
    assert not QuietHours.objects.filter(user=world.owner).exists()


def test_unsubscribe_asks_on_get_turns_off_one_kind_on_post_and_refuses_a_forged_link(world: Any) -> None:
    anonymous = Client(enforce_csrf_checks=True)
    url = f"/notifications/unsubscribe/{token_for(world.owner.pk, Kind.BOT_STOPPED)}/"
    page = anonymous.get(url)
    assert page.status_code == 200
    assert "Stop “Bot stopped” emails?" in page.content.decode()
    assert preferences.matrix_for(world.owner.pk)[(Kind.BOT_STOPPED, Channel.EMAIL)] == Mode.ON

    done = anonymous.post(url)
    assert done.status_code == 200
    assert "Unsubscribed" in done.content.decode()
    matrix = preferences.matrix_for(world.owner.pk)
    assert matrix[(Kind.BOT_STOPPED, Channel.EMAIL)] == Mode.OFF
    assert matrix[(Kind.BOT_STOPPED, Channel.IN_APP)] == Mode.ON
    assert matrix[(Kind.BOT_ERROR, Channel.EMAIL)] == Mode.ON
    assert preferences.matrix_for(world.outsider.pk)[(Kind.BOT_STOPPED, Channel.EMAIL)] == Mode.ON

    token = token_for(world.outsider.pk, Kind.BOT_ERROR)
    value, signature = token.rsplit(":", 1)
    forged_value = signing.b64_encode(f'[{world.outsider.pk},"bot.stopped"]'.encode()).decode()
    forged = [
        f"{forged_value}:{token.split(':', 1)[1]}",  # another kind under the original signature
        f"{value}:{'A' * len(signature)}",
        signing.dumps([world.outsider.pk, "bot.error"], salt="another.purpose"),
        "not-a-token",
    ]
    for bad in forged:
        response = anonymous.post(f"/notifications/unsubscribe/{bad}/")
        assert response.status_code == 400, bad
        assert "This link does not work" in response.content.decode()
    assert signing.loads(token, salt=SALT) == [world.outsider.pk, "bot.error"]
    assert preferences.matrix_for(world.outsider.pk)[(Kind.BOT_ERROR, Channel.EMAIL)] == Mode.ON
    assert preferences.matrix_for(world.outsider.pk)[(Kind.BOT_STOPPED, Channel.EMAIL)] == Mode.ON


def test_the_api_lists_filters_and_marks_read_only_the_callers_notifications(world: Any) -> None:
    error = announce(world.owner, Kind.BOT_ERROR, "a", "BTC grid: bot error")
    started = announce(world.owner, Kind.BOT_STARTED, "b", "BTC grid: bot started")
    theirs = announce(world.outsider, Kind.BOT_ERROR, "a", "Stranger grid: bot error")
    client = bearer(world.owner)

    listed = client.get("/api/v1/notifications/").json()
    assert [item["id"] for item in listed["results"]] == [started.pk, error.pk]
    assert listed["results"][1]["severity"] == "critical"
    critical = client.get("/api/v1/notifications/", {"severity": "critical"}).json()
    assert [item["id"] for item in critical["results"]] == [error.pk]
    assert client.get("/api/v1/notifications/", {"kind": "nope"}).status_code == 400

    assert client.get(f"/api/v1/notifications/{theirs.pk}/").status_code == 404
    assert client.post(f"/api/v1/notifications/{theirs.pk}/read/").status_code == 404
    marked = client.post(f"/api/v1/notifications/{error.pk}/read/")
    assert marked.status_code == 200
    assert marked.json()["read_at"] is not None
    unread = client.get("/api/v1/notifications/", {"unread": "true"}).json()
    assert [item["id"] for item in unread["results"]] == [started.pk]

    assert client.post("/api/v1/notifications/read-all/").json() == {"marked_read": 1}
    theirs.refresh_from_db()
    assert theirs.read_at is None
