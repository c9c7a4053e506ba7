from __future__ import annotations

import pytest

from accounts.models import User
from accounts.tests.factories import make_user


@pytest.fixture
def trader(db: None) -> User:
    return make_user(email="risky@example.com")
