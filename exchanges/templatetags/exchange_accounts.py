"""Lets shared pages (the dashboard) ask about exchange accounts without `accounts` importing them."""

from __future__ import annotations

from typing import Any

from django import template

from exchanges.models import ExchangeAccount

register = template.Library()


@register.simple_tag
def has_exchange_account(user: Any) -> bool:
    return user.is_authenticated and ExchangeAccount.objects.owned_by(user).exists()
