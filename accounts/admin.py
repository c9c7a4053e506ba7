from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts.models import AuditEvent, User
from config.admin import ReadOnlyAdmin


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ("email",)
    list_display = ("email", "display_name", "is_active", "is_staff", "date_joined", "last_login")
    list_filter = ("is_active", "is_staff", "is_superuser")
    search_fields = ("email", "display_name")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("display_name", "time_zone")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Readable, searchable, and impossible to edit: the log is evidence."""

    list_display = ("created_at", "actor_email", "action", "ip_address")
    list_filter = ("action",)
    search_fields = ("actor_email", "ip_address", "action")
    date_hierarchy = "created_at"
    readonly_fields = ("created_at", "actor", "actor_email", "action", "ip_address", "user_agent", "details")
    list_select_related = ("actor",)
