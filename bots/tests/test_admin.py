from __future__ import annotations

import re

import pytest
from django.test import Client
from django.utils import timezone

from accounts import twofactor
from accounts.models import AuditEvent
from accounts.tests.factories import make_user
from accounts.tests.helpers import sign_in, totp_code
from bots import actions
from bots.models import Bot, BotStatus
from trading.tests.factories import make_fills


@pytest.fixture
def staff_client(db: None) -> Client:
    staff = make_user(email="ops@example.com", is_staff=True, is_superuser=True)
    device = twofactor.pending_totp_device(staff)
    twofactor.enable_two_factor(device)
    client = Client()
    sign_in(client, staff.email)
    client.post("/accounts/2fa/authenticate/", {"code": totp_code(device)})
    return client


def test_staff_emergency_stop_from_the_admin_is_audited(staff_client: Client, paper_bot: Bot) -> None:
    actions.do_start_bot(paper_bot)

    response = staff_client.post(
        "/admin/bots/bot/", {"action": "emergency_stop", "_selected_action": [paper_bot.pk]}, follow=True
    )

    assert response.status_code == 200
    paper_bot.refresh_from_db()
    assert paper_bot.status == BotStatus.STOPPING
    event = AuditEvent.objects.get(action="staff_emergency_stop")
    assert event.actor_email == "ops@example.com"
    assert event.details["bot_id"] == paper_bot.pk


def test_bots_orders_and_fills_are_readable_not_editable(staff_client: Client, paper_bot: Bot) -> None:
    assert staff_client.get("/admin/bots/bot/").status_code == 200
    assert staff_client.get(f"/admin/bots/bot/{paper_bot.pk}/change/").status_code == 200
    assert staff_client.get("/admin/bots/bot/add/").status_code == 403
    assert staff_client.get("/admin/trading/order/").status_code == 200
    assert staff_client.get("/admin/trading/fill/").status_code == 200


def test_the_admin_index_has_one_section_per_app_name(staff_client: Client) -> None:
    html = staff_client.get("/admin/").content.decode()

    captions = re.findall(r'<caption>\s*<a [^>]*class="section"[^>]*>([^<]+)</a>', html)
    assert len(captions) == len(set(captions)), captions
    assert "Users and security" in captions


def test_admin_shows_decimals_plainly(staff_client: Client, paper_bot: Bot) -> None:
    fill = make_fills(paper_bot, 1, start=timezone.now(), price="54000.5", quantity="0.000125")[0]

    pages = {
        "fills": staff_client.get("/admin/trading/fill/").content.decode(),
        "fill": staff_client.get(f"/admin/trading/fill/{fill.pk}/change/").content.decode(),
        "orders": staff_client.get("/admin/trading/order/").content.decode(),
        "order": staff_client.get(f"/admin/trading/order/{fill.order_id}/change/").content.decode(),
        "bot": staff_client.get(f"/admin/bots/bot/{paper_bot.pk}/change/").content.decode(),
    }

    for name, html in pages.items():
        padded = re.findall(r"\d\.\d*0000\b", html)
        assert padded == [], (name, padded[:3])
        assert not re.search(r"\dE-\d", html), name
    assert "54,000.5" in pages["fills"]
    assert "0.000125" in pages["fill"]
    assert "54,000.5" in pages["order"]
    assert "54,000" in pages["bot"]
