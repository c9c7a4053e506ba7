from __future__ import annotations

from exchanges.paper.models import PaperAccount, PaperBalance, PaperFill, PaperMarket, PaperOrder, PaperTick

__all__ = ["PaperAccount", "PaperBalance", "PaperFill", "PaperMarket", "PaperOrder", "PaperTick"]
