"""One-click unsubscribe links: signed, so a link turns off only its own trader's event type."""

from __future__ import annotations

from dataclasses import dataclass

from django.core import signing

SALT = "notifications.unsubscribe"


@dataclass(frozen=True)
class Unsubscribe:
    user_id: int
    kind: str


def token_for(user_id: int, kind: str) -> str:
    return signing.dumps([user_id, kind], salt=SALT, compress=False)


def read_token(token: str) -> Unsubscribe | None:
    try:
        user_id, kind = signing.loads(token, salt=SALT)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if not isinstance(user_id, int) or not isinstance(kind, str):
        return None
    return Unsubscribe(user_id, kind)
