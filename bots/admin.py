from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.audit import record_event
from bots import actions
from bots.models import Bot, BotEvent
from config.admin import PlainDecimalsAdmin


class BotEventInline(admin.TabularInline):
    model = BotEvent
    extra = 0
    fields = ("created_at", "kind", "message")
    readonly_fields = fields
    ordering = ("-created_at",)
    max_num = 0
    can_delete = False
    show_change_link = False


@admin.register(Bot)
class BotAdmin(PlainDecimalsAdmin):
    """Staff see every bot and can stop them; they never edit a running strategy."""

    list_display = (
        "name",
        "owner",
        "symbol",
        "status",
        "exchange_account",
        "started_at",
        "consecutive_failures",
    )
    list_filter = ("status", "symbol")
    search_fields = ("name", "owner__email", "symbol")
    list_select_related = ("owner", "exchange_account")
    readonly_fields = [field.name for field in Bot._meta.fields]
    inlines = (BotEventInline,)
    actions = ("emergency_stop",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Emergency stop: cancel every order now")
    def emergency_stop(self, request: HttpRequest, queryset: QuerySet[Bot]) -> None:
        stopped = 0
        for bot in queryset.filter(status__in=actions.STOPPABLE):
            try:
                actions.do_emergency_stop(bot)
            except actions.InvalidTransition:
                continue
            record_event(
                "staff_emergency_stop", request=request, details={"bot_id": bot.pk, "owner": bot.owner.email}
            )
            stopped += 1
        self.message_user(request, f"Emergency stop sent to {stopped} bot(s).", messages.WARNING)
