"""The second login step: users with 2FA are not logged in until they pass it."""

from __future__ import annotations

from allauth.account.stages import LoginStage
from allauth.core.internal.httpkit import headed_redirect_response

from accounts.twofactor import has_two_factor

TWO_FACTOR_STAGE_KEY = "gridwise_two_factor"


class TwoFactorStage(LoginStage):
    key = TWO_FACTOR_STAGE_KEY
    urlname = "two_factor_authenticate"

    def handle(self) -> tuple:
        user = self.login.user
        if user is not None and has_two_factor(user):
            return headed_redirect_response(self.urlname), True
        return None, True
