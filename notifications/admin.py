from __future__ import annotations

from django.contrib import admin

from config.admin import ReadOnlyAdmin
from notifications.models import Delivery, Notification


class DeliveryInline(admin.TabularInline):
    model = Delivery
    extra = 0
    can_delete = False
    fields = ("channel", "status", "attempts", "last_error", "next_attempt_at", "completed_at")
    readonly_fields = fields
    max_num = 0


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "user", "kind", "severity", "title", "read_at")
    list_filter = ("kind", "severity")
    search_fields = ("user__email", "title")
    inlines = (DeliveryInline,)


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    """Where a send that keeps failing shows its last error."""

    list_display = ("created_at", "notification", "channel", "status", "attempts", "last_error")
    list_filter = ("channel", "status")
    search_fields = ("notification__user__email",)
