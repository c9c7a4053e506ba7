from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import twofactor
from accounts.models import AppendOnlyError, AuditAction, AuditEvent, User
from accounts.tests.factories import PASSWORD, make_user
from accounts.tests.helpers import sign_in, totp_code

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_with_device() -> tuple[User, TOTPDevice]:
    staff = make_user(email="staff@example.com", is_staff=True, is_superuser=True)
    device = twofactor.pending_totp_device(staff)
    twofactor.enable_two_factor(device)
    return staff, device


def test_staff_without_a_second_factor_cannot_reach_admin(client: Client) -> None:
    staff = make_user(email="staff@example.com", is_staff=True, is_superuser=True)
    client.force_login(staff)

    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert client.get(response["Location"]).status_code == 403  # told how to set up 2FA


def test_staff_verified_by_totp_reaches_admin(client: Client, staff_with_device) -> None:
    staff, device = staff_with_device
    sign_in(client, staff.email)
    client.post("/accounts/2fa/authenticate/", {"code": totp_code(device)})

    assert client.get("/admin/").status_code == 200


def test_audit_log_is_readable_and_not_editable_in_admin(client: Client, staff_with_device) -> None:
    staff, device = staff_with_device
    sign_in(client, staff.email)
    client.post("/accounts/2fa/authenticate/", {"code": totp_code(device)})
    event = AuditEvent.objects.filter(action=AuditAction.LOGIN).latest("id")

    listing = client.get("/admin/accounts/auditevent/")
    assert listing.status_code == 200
    assert staff.email in listing.content.decode()
    detail = client.get(f"/admin/accounts/auditevent/{event.pk}/change/")
    assert detail.status_code == 200
    assert b'name="_save"' not in detail.content
    assert (
        client.post(f"/admin/accounts/auditevent/{event.pk}/change/", {"action": "tampered"}).status_code
        == 403
    )
    assert client.get(f"/admin/accounts/auditevent/{event.pk}/delete/").status_code == 403
    assert client.get("/admin/accounts/auditevent/add/").status_code == 403
    event.refresh_from_db()
    assert event.action == AuditAction.LOGIN


def test_audit_events_record_ip_and_user_agent(world) -> None:
    client = Client(HTTP_USER_AGENT="Mozilla/5.0 TestPhone", REMOTE_ADDR="203.0.113.9")
    sign_in(client, world.owner.email, "not-the-password")
    sign_in(client, world.owner.email)

    failed, login = AuditEvent.objects.filter(actor=world.owner).order_by("id")
    assert failed.action == AuditAction.LOGIN_FAILED
    assert failed.details == {"email": world.owner.email, "reason": "bad_password"}
    assert login.action == AuditAction.LOGIN
    assert (login.ip_address, login.user_agent) == ("203.0.113.9", "Mozilla/5.0 TestPhone")


def test_failed_login_for_unknown_email_is_recorded_without_actor(client: Client) -> None:
    sign_in(client, "nobody@example.com", "whatever-password")
    event = AuditEvent.objects.get(action=AuditAction.LOGIN_FAILED)
    assert event.actor is None
    assert event.details["email"] == "nobody@example.com"


def test_password_change_is_audited(client: Client, world) -> None:
    client.force_login(world.owner)
    response = client.post(
        "/accounts/password/change/",
        {
            "oldpassword": PASSWORD,
            "password1": "an-even-longer-passphrase-7",
            "password2": "an-even-longer-passphrase-7",
        },
    )
    assert response.status_code == 302
    assert AuditEvent.objects.filter(actor=world.owner, action=AuditAction.PASSWORD_CHANGED).count() == 1
    world.owner.refresh_from_db()
    assert world.owner.check_password("an-even-longer-passphrase-7")


def test_audit_events_cannot_be_changed_or_deleted_through_the_orm(world) -> None:
    event = AuditEvent.objects.create(actor=world.owner, actor_email=world.owner.email, action="login")
    event.action = "tampered"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(action="tampered")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).delete()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE accounts_auditevent SET action = 'tampered' WHERE id = %s",
        "DELETE FROM accounts_auditevent WHERE id = %s",
    ],
)
def test_postgres_refuses_raw_rewrites_of_audit_events(world, statement: str) -> None:
    event = AuditEvent.objects.create(actor=world.owner, actor_email=world.owner.email, action="login")
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement, [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).action == "login"


def test_deleting_a_user_keeps_their_audit_trail(world) -> None:
    AuditEvent.objects.create(actor=world.outsider, actor_email=world.outsider.email, action="login")
    world.outsider.delete()
    event = AuditEvent.objects.get(actor_email="outsider@example.com")
    assert event.actor is None
