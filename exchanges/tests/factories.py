from __future__ import annotations

from accounts.models import User
from exchanges.models import CheckOutcome, Environment, ExchangeAccount, ExchangeName

# Shaped like Bybit's: an 18-character key and a 36-character secret.
API_KEY = "XkQ7pL2mN9vR4tW8yZ"
API_SECRET = "s3cr3tVALUEabcdefghijklmnopqrstu0123"


def make_bybit_account(
    owner: User,
    *,
    label: str = "Bybit main",
    api_key: str = API_KEY,
    api_secret: str = API_SECRET,
    environment: str = Environment.TESTNET,
) -> ExchangeAccount:
    """A stored Bybit account, as the add action leaves it after an accepted check."""
    account = ExchangeAccount(owner=owner, label=label, exchange=ExchangeName.BYBIT, environment=environment)
    account.set_credentials(api_key, api_secret)
    account.record_check(CheckOutcome.OK, [])
    account.save()
    return account
