"""Webhook endpoints under account settings: list and add, one endpoint with its log, one delivery."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from django_htmx.middleware import HtmxDetails

from accounts.models import User
from billing.entitlements import PlanLimitReached
from billing.pages import refuse
from bots.webhooks import actions
from bots.webhooks.forms import EndpointForm
from bots.webhooks.models import MAX_ENDPOINTS_PER_USER, WebhookEndpoint, signing_secrets

LOG_LENGTH = 50


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _endpoint(request: HttpRequest, pk: int) -> WebhookEndpoint:
    return get_object_or_404(WebhookEndpoint.objects.owned_by(_user(request)), pk=pk)


@login_required
def endpoint_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = EndpointForm(request.POST or None, initial={"enabled": True})
    if request.method == "POST" and form.is_valid():
        try:
            endpoint = actions.do_create_endpoint(user, **form.endpoint_fields(), request=request)
        except PlanLimitReached as exc:
            refuse(request, exc)
            return redirect("webhooks")
        except actions.EndpointLimitReached as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Endpoint added. Its signing secret is below.")
            return redirect("webhook_detail", pk=endpoint.pk)
    context = {
        "endpoints": WebhookEndpoint.objects.owned_by(user),
        "form": form,
        "max_endpoints": MAX_ENDPOINTS_PER_USER,
    }
    return render(request, "bots/webhooks/list.html", context, status=400 if form.errors else 200)


@login_required
def endpoint_detail(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint(request, pk)
    initial = {key: getattr(endpoint, key) for key in ("url", "description", "events", "enabled")}
    form = EndpointForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        actions.do_update_endpoint(endpoint, **form.endpoint_fields())
        messages.success(request, "Endpoint saved.")
        return redirect("webhook_detail", pk=endpoint.pk)
    htmx: HtmxDetails | None = getattr(request, "htmx", None)
    template = (
        "bots/webhooks/detail.html#delivery-log"
        if htmx and request.method == "GET"
        else "bots/webhooks/detail.html"
    )
    context = {
        "endpoint": endpoint,
        "form": form,
        "secrets": signing_secrets(endpoint),
        "deliveries": endpoint.deliveries.prefetch_related("attempts")[:LOG_LENGTH],
    }
    return render(request, template, context, status=400 if form.errors else 200)


@login_required
def delivery_detail(request: HttpRequest, pk: int, delivery_pk: int) -> HttpResponse:
    endpoint = _endpoint(request, pk)
    delivery = get_object_or_404(endpoint.deliveries, pk=delivery_pk)
    context = {"endpoint": endpoint, "delivery": delivery, "attempts": delivery.attempts.all()}
    return render(request, "bots/webhooks/delivery.html", context)


@login_required
@require_POST
def endpoint_ping(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint(request, pk)
    actions.do_send_ping(endpoint)
    messages.success(request, "Test ping queued; its result appears in the delivery log below.")
    return redirect("webhook_detail", pk=endpoint.pk)


@login_required
@require_POST
def endpoint_rotate(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint(request, pk)
    actions.do_rotate_secret(endpoint, request=request)
    messages.success(
        request, "New signing secret made. For 24 hours we sign with both, so switch your receiver now."
    )
    return redirect("webhook_detail", pk=endpoint.pk)


@login_required
@require_POST
def endpoint_delete(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint(request, pk)
    actions.do_delete_endpoint(endpoint, request=request)
    messages.success(request, "Endpoint deleted; nothing more is sent to it.")
    return redirect("webhooks")
