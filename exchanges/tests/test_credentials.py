"""Credentials are Fernet tokens at rest, readable through every configured key, rotatable."""

from __future__ import annotations

import io

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings

from exchanges import credentials
from exchanges.credentials import CredentialsUnreadable, read_credentials
from exchanges.models import ExchangeAccount
from exchanges.tests.factories import API_KEY, API_SECRET, make_bybit_account

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


def test_round_trip_with_the_derived_key() -> None:
    token = credentials.encrypt(API_SECRET)
    assert API_SECRET not in token
    assert credentials.decrypt(token) == API_SECRET


def test_the_derived_key_depends_on_secret_key() -> None:
    token = credentials.encrypt(API_SECRET)
    another_secret_key = "another-secret-key-entirely-0123456789-abcdefghijklmn"
    with override_settings(SECRET_KEY=another_secret_key), pytest.raises(CredentialsUnreadable):
        credentials.decrypt(token)


def test_the_repr_of_credentials_hides_them() -> None:
    keys = credentials.Credentials(API_KEY, API_SECRET)
    assert API_KEY not in repr(keys)
    assert API_SECRET not in repr(keys)


@pytest.mark.django_db
def test_the_database_holds_only_ciphertext(world) -> None:
    make_bybit_account(world.owner)

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM exchanges_exchangeaccount")
        row = " ".join(str(value) for value in cursor.fetchone())

    assert API_KEY not in row
    assert API_SECRET not in row
    assert API_KEY[-4:] in row  # key_last4 is the only part kept in clear
    account = ExchangeAccount.objects.get()
    assert (read_credentials(account).api_key, read_credentials(account).api_secret) == (API_KEY, API_SECRET)


@pytest.mark.django_db
def test_rotation_re_encrypts_everything_under_the_new_key(world) -> None:
    with override_settings(CREDENTIALS_KEYS=[OLD_KEY]):
        make_bybit_account(world.owner, label="one")
        make_bybit_account(world.owner, label="two", api_key="SECONDKEY123456789", api_secret="second-secret")
    old_tokens = set(ExchangeAccount.objects.values_list("api_secret_encrypted", flat=True))

    with override_settings(CREDENTIALS_KEYS=[NEW_KEY, OLD_KEY]):
        # Before rotating, the old ciphertext still decrypts.
        assert read_credentials(ExchangeAccount.objects.get(label="one")).api_secret == API_SECRET
        output = io.StringIO()
        call_command("rotate_credentials", stdout=output)

    assert "2 exchange account(s)" in output.getvalue()

    secrets = dict(ExchangeAccount.objects.values_list("label", "api_secret_encrypted"))
    assert not old_tokens & set(secrets.values())
    assert Fernet(NEW_KEY.encode()).decrypt(secrets["two"].encode()) == b"second-secret"
    with pytest.raises(InvalidToken):
        Fernet(OLD_KEY.encode()).decrypt(secrets["one"].encode())
    with override_settings(CREDENTIALS_KEYS=[NEW_KEY]):
        one = read_credentials(ExchangeAccount.objects.get(label="one"))
    assert (one.api_key, one.api_secret) == (API_KEY, API_SECRET)


@pytest.mark.django_db
def test_rotation_without_the_old_key_changes_nothing(world) -> None:
    with override_settings(CREDENTIALS_KEYS=[OLD_KEY]):
        make_bybit_account(world.owner)
    before = ExchangeAccount.objects.values_list("api_key_encrypted", "api_secret_encrypted").get()

    with (
        override_settings(CREDENTIALS_KEYS=[NEW_KEY]),
        pytest.raises(CommandError, match="Nothing was changed"),
    ):
        call_command("rotate_credentials", stdout=io.StringIO())

    assert ExchangeAccount.objects.values_list("api_key_encrypted", "api_secret_encrypted").get() == before
