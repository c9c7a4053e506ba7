"""Demo data for the embedded shape. Later features add their own demo objects."""

from __future__ import annotations

from dataclasses import dataclass

from allauth.account.models import EmailAddress
from django.db import transaction

from accounts.models import User
from bots.demo import seed_demo_bot
from exchanges.actions import do_open_demo_account

DEMO_EMAIL = "demo@gridwise.local"
# The embedded shape binds to localhost with a throwaway SQLite file, so a
# memorable password is a convenience, not a risk.
DEMO_PASSWORD = "gridwise-demo"  # noqa: S105 - local demo only, printed at start


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str


@transaction.atomic
def seed_demo() -> DemoLogin:
    user, _ = User.objects.get_or_create(email=DEMO_EMAIL, defaults={"display_name": "Demo trader"})
    user.set_password(DEMO_PASSWORD)
    user.save(update_fields=["password"])
    EmailAddress.objects.update_or_create(
        user=user, email=DEMO_EMAIL, defaults={"verified": True, "primary": True}
    )
    do_open_demo_account(user)
    seed_demo_bot(user)
    return DemoLogin(DEMO_EMAIL, DEMO_PASSWORD)
