from __future__ import annotations

from datetime import timedelta
from typing import Any

from allauth.account import views as allauth_views
from allauth.account.internal.decorators import login_stage_required
from allauth.usersessions.models import UserSession
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST
from django_htmx.middleware import HtmxDetails
from django_otp import login as otp_login

from accounts import actions, tokens, twofactor
from accounts.audit import record_failed_login
from accounts.forms import ApiTokenForm, CodeForm, ProfileForm
from accounts.models import ApiToken, User
from accounts.stages import TWO_FACTOR_STAGE_KEY

SECOND_FACTOR_LABEL = "Authenticator or backup code"


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


@login_required
def profile(request: HtmxHttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST or None, instance=_user(request))
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Profile saved.")
        if not request.htmx:
            return redirect("profile")
    template = "accounts/profile.html#profile-form" if request.htmx else "accounts/profile.html"
    return render(request, template, {"form": form})


def _security_page(request: HttpRequest, **forms: CodeForm) -> HttpResponse:
    user = _user(request)
    context = {
        "two_factor": twofactor.has_two_factor(user),
        "backup_codes_left": twofactor.remaining_backup_codes(user),
        "sessions": UserSession.objects.purge_and_list(user),
        "disable_form": forms.get("disable_form") or CodeForm(label=SECOND_FACTOR_LABEL),
        "regenerate_form": forms.get("regenerate_form") or CodeForm(label=SECOND_FACTOR_LABEL),
    }
    return render(request, "accounts/security.html", context, status=400 if forms else 200)


@login_required
def security(request: HttpRequest) -> HttpResponse:
    return _security_page(request)


@login_required
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if twofactor.has_two_factor(user):
        messages.info(request, "Two-factor authentication is already on.")
        return redirect("security")
    device = twofactor.pending_totp_device(user)
    form = CodeForm(request.POST or None, label="Code from your app")
    if request.method == "POST" and form.is_valid():
        check = twofactor.check_totp_code(device, form.cleaned_data["code"])
        if check.ok:
            codes = actions.do_enable_two_factor(request, device)
            messages.success(request, "Two-factor authentication is on.")
            return render(request, "accounts/backup_codes.html", {"codes": codes})
        form.add_error("code", check.error)
    context = {
        "form": form,
        "qr_svg": twofactor.qr_code_svg(device),
        "secret": twofactor.secret_for_manual_entry(device),
    }
    return render(request, "accounts/two_factor_setup.html", context, status=400 if form.errors else 200)


def _second_factor_form(request: HttpRequest) -> tuple[CodeForm, bool]:
    """The posted code form, and whether its code is a valid second factor right now."""
    form = CodeForm(request.POST, label=SECOND_FACTOR_LABEL)
    if not form.is_valid():
        return form, False
    check = twofactor.check_second_factor(_user(request), form.cleaned_data["code"])
    if not check.ok:
        form.add_error("code", check.error)
    return form, check.ok


@login_required
@require_POST
def two_factor_disable(request: HttpRequest) -> HttpResponse:
    form, verified = _second_factor_form(request)
    if not verified:
        return _security_page(request, disable_form=form)
    actions.do_disable_two_factor(request, _user(request))
    messages.success(request, "Two-factor authentication is off.")
    return redirect("security")


@login_required
@require_POST
def backup_codes_regenerate(request: HttpRequest) -> HttpResponse:
    form, verified = _second_factor_form(request)
    if not verified:
        return _security_page(request, regenerate_form=form)
    codes = actions.do_regenerate_backup_codes(request, _user(request))
    return render(request, "accounts/backup_codes.html", {"codes": codes})


@login_stage_required(stage=TWO_FACTOR_STAGE_KEY, redirect_urlname="account_login")
def two_factor_authenticate(request: HttpRequest) -> HttpResponse:
    stage = request._login_stage  # type: ignore[attr-defined]
    user: User = stage.login.user
    if request.method == "POST" and "cancel" in request.POST:
        return stage.abort()
    form = CodeForm(request.POST or None, label=SECOND_FACTOR_LABEL)
    if request.method == "POST" and form.is_valid():
        check = twofactor.check_second_factor(user, form.cleaned_data["code"])
        if check.ok:
            response = stage.exit()
            otp_login(request, check.device)
            return response
        record_failed_login(request, email=user.email, reason="bad_second_factor")
        form.add_error("code", check.error)
    status = 400 if form.errors else 200
    return render(request, "accounts/two_factor_authenticate.html", {"form": form}, status=status)


class ConfirmEmailView(allauth_views.ConfirmEmailView):
    """allauth's view, but a stale link posted back gets the explanatory page, not a bare 404."""

    def post(self, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return super().post(*args, **kwargs)
        except Http404:
            self.object = None
            return self.render_to_response(self.get_context_data(), status=404)


# Personal API tokens -------------------------------------------------------------


def _api_tokens_page(request: HttpRequest, form: ApiTokenForm, issued: str | None = None) -> HttpResponse:
    context = {"tokens": ApiToken.objects.owned_by(_user(request)), "form": form, "issued": issued}
    status = 400 if form.errors else 201 if issued else 200
    response = render(request, "accounts/api_tokens.html", context, status=status)
    if issued:
        response["Cache-Control"] = "no-store"  # the one copy of the token must not be cached
    return response


@login_required
def api_tokens(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _api_tokens_page(request, ApiTokenForm())
    form = ApiTokenForm(request.POST)
    if not form.is_valid():
        return _api_tokens_page(request, form)
    days = ApiTokenForm.EXPIRY_DAYS.get(form.cleaned_data["expires"])
    expires_at = timezone.now() + timedelta(days=days) if days else None
    try:
        issued = tokens.do_create_token(
            _user(request),
            form.cleaned_data["name"],
            form.cleaned_data["scopes"].split(","),
            expires_at=expires_at,
            request=request,
        )
    except tokens.TokenError as exc:
        form.add_error(None, str(exc))
        return _api_tokens_page(request, form)
    return _api_tokens_page(request, ApiTokenForm(), issued=issued.plaintext)


@login_required
@require_POST
def api_token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken.objects.owned_by(_user(request)), pk=pk)
    if tokens.do_revoke_token(token, request=request):
        message = f"Token {token.prefix}… “{token.name}” is revoked; scripts using it now fail."
        messages.success(request, message)
    return redirect("api_tokens")
