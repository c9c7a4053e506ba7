"""Concurrent placing, cancelling and matching on PostgreSQL keep the books exact."""

from __future__ import annotations

import contextlib
import random
import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum

from exchanges.base import ExchangeError, OrderRequest, OrderType, Side
from exchanges.paper import market
from exchanges.paper.exchange import PaperExchange
from exchanges.paper.models import PaperBalance, PaperFill, PaperOrder
from exchanges.paper.service import open_paper_account

START = {"USDT": Decimal("50000"), "BTC": Decimal("2")}


def trader(exchange: PaperExchange, seed: int, errors: list[BaseException]) -> None:
    rng = random.Random(seed)
    try:
        for i in range(40):
            side = rng.choice([Side.BUY, Side.SELL])
            price = Decimal(20000 + rng.randint(-30, 30) * 10)
            request = OrderRequest("BTCUSDT", side, OrderType.LIMIT, Decimal("0.01"), f"t{seed}-{i}", price)
            with contextlib.suppress(ExchangeError):  # refusals (funds, filters) are part of the scenario
                exchange.place_order(request)
            if rng.random() < 0.4:
                exchange.cancel_all_orders("BTCUSDT")
    except BaseException as exc:  # noqa: BLE001 - reported to the main thread
        errors.append(exc)
    finally:
        connection.close()


def mover(seed: int, errors: list[BaseException]) -> None:
    rng = random.Random(seed)
    try:
        for _ in range(60):
            market.set_price("BTCUSDT", Decimal(20000 + rng.randint(-40, 40) * 10), volume=Decimal("0.015"))
    except BaseException as exc:  # noqa: BLE001
        errors.append(exc)
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_concurrent_trading_keeps_every_balance_exact() -> None:
    market.set_price("BTCUSDT", Decimal("20000"))
    account = open_paper_account("busy", START)
    errors: list[BaseException] = []
    threads = [
        threading.Thread(target=trader, args=(PaperExchange(account), seed, errors)) for seed in (1, 2)
    ]
    threads += [threading.Thread(target=mover, args=(seed, errors)) for seed in (3, 4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors

    fills = PaperFill.objects.filter(account=account)
    assert fills.count() > 10, "the scenario should trade"
    bought = sum((f.quantity - f.fee for f in fills.filter(side="buy")), Decimal(0))
    sold = sum((f.quantity for f in fills.filter(side="sell")), Decimal(0))
    spent = sum((f.quantity * f.price for f in fills.filter(side="buy")), Decimal(0))
    received = sum((f.quantity * f.price - f.fee for f in fills.filter(side="sell")), Decimal(0))
    balances = {b.asset: b for b in PaperBalance.objects.filter(account=account)}
    assert balances["BTC"].free + balances["BTC"].locked == START["BTC"] + bought - sold
    assert balances["USDT"].free + balances["USDT"].locked == START["USDT"] - spent + received

    open_orders = PaperOrder.objects.filter(account=account, status__in=["new", "partially_filled"])
    locked_quote = open_orders.filter(side="buy").aggregate(s=Sum("locked_amount"))["s"] or 0
    locked_base = open_orders.filter(side="sell").aggregate(s=Sum("locked_amount"))["s"] or 0
    assert balances["USDT"].locked == locked_quote
    assert balances["BTC"].locked == locked_base
    for order in PaperOrder.objects.filter(account=account):
        assert 0 <= order.filled_quantity <= order.quantity
        assert order.fills.aggregate(q=Sum("quantity"))["q"] or order.filled_quantity == 0
