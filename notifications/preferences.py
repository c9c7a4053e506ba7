"""Which channels a trader wants for each kind of event, and when to keep quiet."""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Mapping

from django.core.cache import cache
from django.db import transaction

from notifications.events import CONFIGURABLE_CHANNELS, Channel, Kind, Mode, default_mode
from notifications.models import Preference, QuietHours

PREFERENCES_TTL = 600

Matrix = dict[tuple[str, str], str]


def _key(user_id: int) -> str:
    return f"notifications:preferences:{user_id}"


def matrix_for(user_id: int) -> Matrix:
    """Every (kind, channel) cell with the trader's choice or the default; cached, since every
    event of every bot asks."""
    cached = cache.get(_key(user_id))
    if cached is not None:
        return dict(cached)
    matrix: Matrix = {
        (kind.value, channel.value): default_mode(kind, channel).value
        for kind in Kind
        for channel in CONFIGURABLE_CHANNELS
    }
    for kind, channel, mode in Preference.objects.filter(user_id=user_id).values_list(
        "kind", "channel", "mode"
    ):
        matrix[(kind, channel)] = mode
    cache.set(_key(user_id), matrix, PREFERENCES_TTL)
    return matrix


def forget(user_id: int) -> None:
    cache.delete(_key(user_id))
    transaction.on_commit(lambda: cache.delete(_key(user_id)))


def save_matrix(user_id: int, choices: Mapping[tuple[str, str], str]) -> None:
    with transaction.atomic():
        for (kind, channel), mode in choices.items():
            Preference.objects.update_or_create(
                user_id=user_id, kind=kind, channel=channel, defaults={"mode": mode}
            )
        forget(user_id)


def set_mode(user_id: int, kind: str, channel: str, mode: Mode) -> None:
    save_matrix(user_id, {(kind, channel): mode.value})


def wanted_channels(user_id: int, kind: str) -> list[str]:
    matrix = matrix_for(user_id)
    wanted = [channel.value for channel in CONFIGURABLE_CHANNELS if matrix[(kind, channel)] != Mode.OFF]
    if Channel.TELEGRAM in wanted and not _telegram_reachable(user_id):
        wanted.remove(Channel.TELEGRAM)  # no chat to send to: no delivery to fail
    return wanted


def _telegram_reachable(user_id: int) -> bool:
    from notifications.telegram.linking import is_reachable

    return is_reachable(user_id)


def is_quiet(quiet: QuietHours | None, time_zone: str, now: datetime.datetime) -> bool:
    if quiet is None or quiet.start == quiet.end:
        return False
    try:
        zone = zoneinfo.ZoneInfo(time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    local = now.astimezone(zone).time()
    if quiet.start < quiet.end:
        return quiet.start <= local < quiet.end
    return local >= quiet.start or local < quiet.end  # the hours span midnight
