"""The notifications page, the preferences page and the unsubscribe link."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from accounts.models import User
from notifications import actions, preferences, summary
from notifications.events import CONFIGURABLE_CHANNELS, Channel, Kind, Mode
from notifications.forms import NotificationFilterForm, PreferencesForm
from notifications.models import DailySummary, QuietHours
from notifications.telegram import views as telegram_views
from notifications.unsubscribe import read_token

PAGE_SIZE = 50


@login_required
def notification_list(request: HttpRequest) -> HttpResponse:
    filters = NotificationFilterForm(request.GET or None)
    chosen = filters.cleaned_data if filters.is_valid() else {}
    notifications = actions.filtered(
        actions.caller_id(request),
        kind=chosen.get("kind", ""),
        severity=chosen.get("severity", ""),
        unread=bool(chosen.get("unread")),
    )
    page = Paginator(notifications, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "notifications/list.html", {"filters": filters, "page": page})


def _back(request: HttpRequest) -> HttpResponseRedirect:
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("notifications")
    return HttpResponseRedirect(target)


@login_required
@require_POST
def notification_read(request: HttpRequest, pk: int) -> HttpResponse:
    notification = get_object_or_404(actions.owned(actions.caller_id(request)), pk=pk)
    actions.do_mark_read(
        actions.caller_id(request), actions.owned(actions.caller_id(request)).filter(pk=notification.pk)
    )
    return _back(request)


@login_required
@require_POST
def notification_read_all(request: HttpRequest) -> HttpResponse:
    count = actions.do_mark_read(actions.caller_id(request), actions.owned(actions.caller_id(request)))
    messages.success(request, f"Marked {count} notification{'s' if count != 1 else ''} as read.")
    return _back(request)


@login_required
def notification_settings(request: HttpRequest) -> HttpResponse:
    user_id = actions.caller_id(request)
    quiet = QuietHours.objects.filter(user_id=user_id).first()
    initial: dict[str, object] = {"quiet_start": quiet.start, "quiet_end": quiet.end} if quiet else {}
    schedule = DailySummary.objects.filter(user_id=user_id).first()
    initial["summary_hour"] = str(schedule.hour) if schedule else ""
    form = PreferencesForm(request.POST or None, initial=initial, matrix=preferences.matrix_for(user_id))
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            preferences.save_matrix(user_id, form.choices())
            start, end = form.cleaned_data["quiet_start"], form.cleaned_data["quiet_end"]
            if start and end:
                QuietHours.objects.update_or_create(user_id=user_id, defaults={"start": start, "end": end})
            else:
                QuietHours.objects.filter(user_id=user_id).delete()
            summary.do_save_schedule(request.user, form.cleaned_data["summary_hour"])  # type: ignore[arg-type]
        messages.success(request, "Notification settings saved.")
        return HttpResponseRedirect(reverse("notification_settings"))
    return render(
        request,
        "notifications/settings.html",
        {
            "form": form,
            "channels": CONFIGURABLE_CHANNELS,
            "webhook_label": Channel.WEBHOOK.label,
            "telegram": telegram_views.section(request),
        },
    )


@csrf_exempt  # the signed token is the authority; mail clients post here without a session (RFC 8058)
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    found = read_token(token)
    if found is None or found.kind not in Kind.values or not User.objects.filter(pk=found.user_id).exists():
        return render(request, "notifications/unsubscribe.html", {"invalid": True}, status=400)
    context = {"kind_label": Kind(found.kind).label, "token": token}
    if request.method == "POST":
        preferences.set_mode(found.user_id, found.kind, Channel.EMAIL, Mode.OFF)
        return render(request, "notifications/unsubscribe.html", {**context, "done": True})
    # A GET only asks: mail scanners open links, and must not unsubscribe anyone.
    return render(request, "notifications/unsubscribe.html", context)
