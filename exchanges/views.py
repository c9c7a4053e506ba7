from __future__ import annotations

from allauth.core import ratelimit
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from accounts.models import User
from accounts.verification import verified_email_required
from billing import entitlements
from billing.pages import refuse
from exchanges import actions
from exchanges.balances import available_balances
from exchanges.forms import ExchangeAccountForm
from exchanges.models import ExchangeAccount

TOO_MANY_CHECKS = "Too many key checks in the last hour. Wait a while, then try again."


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _own_account(request: HttpRequest, pk: int) -> ExchangeAccount:
    """Another trader's account does not exist, as far as this request can tell."""
    return get_object_or_404(ExchangeAccount.objects.owned_by(_user(request)), pk=pk)


@login_required
def account_list(request: HttpRequest) -> HttpResponse:
    accounts = ExchangeAccount.objects.owned_by(_user(request))
    return render(request, "exchanges/account_list.html", {"accounts": accounts})


def _may_check_key(request: HttpRequest) -> bool:
    """Each check calls the exchange on our IP; a user may not make us hammer it."""
    return ratelimit.consume(request, action="exchange_key_check", user=request.user)


@sensitive_post_parameters("api_key", "api_secret")
@verified_email_required
def account_add(request: HttpRequest) -> HttpResponse:
    form = ExchangeAccountForm(_user(request), request.POST or None)
    try:
        # Before the key check: a plan with no room should not cost a call to the venue. On the
        # empty form it says so before the trader types a key in.
        entitlements.check_add_exchange_account(_user(request))
    except entitlements.PlanLimitReached as exc:
        refuse(request, exc)
        status = 403 if request.method == "POST" else 200
        return render(request, "exchanges/account_form.html", {"form": form}, status=status)
    if request.method == "POST" and form.is_valid() and form.account is not None:
        if form.account.needs_keys and not _may_check_key(request):
            form.add_error(None, TOO_MANY_CHECKS)
            return render(request, "exchanges/account_form.html", {"form": form}, status=429)
        check = actions.check_new_account(form.account)
        if check.ok:
            try:
                account = actions.do_add_account(request, form.account, check)
            except ValidationError as exc:
                form.add_error(None, exc)
            except entitlements.PlanLimitReached as exc:
                refuse(request, exc)
                return render(request, "exchanges/account_form.html", {"form": form}, status=403)
            else:
                messages.success(request, f"“{account.label}” is connected.")
                for warning in check.warnings:
                    messages.warning(request, warning)
                return redirect("exchange_account_detail", pk=account.pk)
        for error in check.errors:
            form.add_error(check.field, error)
    status = 400 if form.errors else 200
    return render(request, "exchanges/account_form.html", {"form": form}, status=status)


@login_required
def account_detail(request: HttpRequest, pk: int) -> HttpResponse:
    account = _own_account(request, pk)
    context = {"account": account, "balances": available_balances(account)}
    return render(request, "exchanges/account_detail.html", context)


@login_required
def account_balances(request: HttpRequest, pk: int) -> HttpResponse:
    """One account's balances for its row in the list, loaded after the page so that a slow
    venue delays only its own row; without htmx, the account's page, which shows them."""
    account = _own_account(request, pk)
    if not request.htmx:  # type: ignore[attr-defined]
        return redirect("exchange_account_detail", pk=account.pk)
    context = {"account": account, "balances": available_balances(account)}
    return render(request, "exchanges/includes/balances_inline.html", context)


@login_required
@require_POST
def account_recheck(request: HttpRequest, pk: int) -> HttpResponse:
    account = _own_account(request, pk)
    if not _may_check_key(request):
        messages.error(request, TOO_MANY_CHECKS)
        return redirect("exchange_account_detail", pk=account.pk)
    check = actions.check_key(account)
    actions.do_record_check(request, account, check)
    if check.ok:
        messages.success(request, "The key still has the right permissions.")
    else:
        messages.error(request, "The check did not pass; see below.")
    return redirect("exchange_account_detail", pk=account.pk)


@login_required
def account_delete(request: HttpRequest, pk: int) -> HttpResponse:
    account = _own_account(request, pk)
    try:
        actions.check_can_delete_account(account)
        if request.method == "POST":
            actions.do_delete_account(request, account)
            messages.success(request, f"“{account.label}” was removed. Its API key is deleted from Gridwise.")
            return redirect("exchange_accounts")
    except actions.AccountInUse as exc:
        context = {"account": account, "in_use": str(exc), "bots": account.bots.order_by("name")}
        status = 409 if request.method == "POST" else 200
        return render(request, "exchanges/account_confirm_delete.html", context, status=status)
    return render(request, "exchanges/account_confirm_delete.html", {"account": account})
