"""Which prices a paper market runs on, where a trader meets it.

{% load feeds %}
{% paper_feed account %}            → every paper market of the account's venue
{% paper_feed account bot.symbol %} → one market; nothing for a real venue
"""

from __future__ import annotations

from typing import Any

from django import template

from exchanges.models import ExchangeAccount, ExchangeName
from exchanges.paper.feeds import describe_feed
from exchanges.paper.instruments import INSTRUMENTS

register = template.Library()


@register.inclusion_tag("exchanges/includes/paper_feed.html")
def paper_feed(account: ExchangeAccount | None, symbol: str | None = None) -> dict[str, Any]:
    if account is None or account.exchange != ExchangeName.PAPER:
        return {"feeds": []}
    symbols = [symbol] if symbol else list(INSTRUMENTS)
    return {"feeds": [describe_feed(name) for name in symbols if name in INSTRUMENTS]}
