from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter


class AccountAdapter(DefaultAccountAdapter):
    def get_login_stages(self) -> list[str]:
        # After allauth's own stages (email verification when mandatory).
        return [*super().get_login_stages(), "accounts.stages.TwoFactorStage"]
