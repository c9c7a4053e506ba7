"""The plan catalogue: every plan, its prices and its limits, as data.

Prices are integer cents. A limit of `None` means unlimited. Yearly prices are ten months'
worth: two months free.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class PlanCode(StrEnum):
    FREE = "free"
    STARTER = "starter"
    PRO = "pro"
    ENTERPRISE = "enterprise"


class ApiAccess(StrEnum):
    READ = "read"
    FULL = "full"


MONTHS_PAID_PER_YEAR = 10


@dataclass(frozen=True)
class Limit:
    """One limit a plan sets: its key in `Plan.limits`, and how a trader reads it."""

    key: str
    label: str
    unit: str
    one: str = ""  # the unit for a count of one, when it differs

    def count(self, value: int) -> str:
        return f"{value:,} {self.one if value == 1 and self.one else self.unit}"


LIVE_BOTS = Limit("live_bots", "Live bots running", "live bots", "live bot")
PAPER_BOTS = Limit("paper_bots", "Paper bots running", "paper bots", "paper bot")
EXCHANGE_ACCOUNTS = Limit("exchange_accounts", "Exchange accounts", "exchange accounts", "exchange account")
BACKTESTS = Limit("backtests_per_month", "Backtests this month", "backtests a month", "backtest a month")
API_RATE = Limit("api_requests_per_minute", "API requests per minute", "requests a minute")
API_WRITE = Limit("api_full_access", "API trading access", "full API access")
WEBHOOKS = Limit("webhooks", "Webhooks and Telegram", "webhook endpoints")
TEAM_SEATS = Limit("team_seats", "Team seats", "seats")

COUNTED_LIMITS = (LIVE_BOTS, PAPER_BOTS, EXCHANGE_ACCOUNTS, BACKTESTS)


@dataclass(frozen=True)
class Plan:
    code: PlanCode
    name: str
    monthly_cents: int
    tagline: str
    live_bots: int | None
    paper_bots: int | None
    exchange_accounts: int | None
    backtests_per_month: int | None
    api_access: ApiAccess
    api_requests_per_minute: int | None
    webhooks: bool
    team_seats: int

    @property
    def yearly_cents(self) -> int:
        return self.monthly_cents * MONTHS_PAID_PER_YEAR

    @property
    def is_free(self) -> bool:
        return self.monthly_cents == 0

    def allowed(self, limit: Limit) -> int | None:
        """The allowed count for a counted limit; None is unlimited."""
        value: int | None = getattr(self, limit.key)
        return value


PLANS: dict[PlanCode, Plan] = {
    plan.code: plan
    for plan in (
        Plan(
            code=PlanCode.FREE,
            name="Free",
            monthly_cents=0,
            tagline="Learn grid trading on paper.",
            live_bots=0,
            paper_bots=3,
            exchange_accounts=1,
            backtests_per_month=5,
            api_access=ApiAccess.READ,
            api_requests_per_minute=60,
            webhooks=False,
            team_seats=1,
        ),
        Plan(
            code=PlanCode.STARTER,
            name="Starter",
            monthly_cents=29_00,
            tagline="Your first live grids.",
            live_bots=3,
            paper_bots=10,
            exchange_accounts=2,
            backtests_per_month=50,
            api_access=ApiAccess.FULL,
            api_requests_per_minute=300,
            webhooks=True,
            team_seats=1,
        ),
        Plan(
            code=PlanCode.PRO,
            name="Pro",
            monthly_cents=99_00,
            tagline="A portfolio of grids across accounts.",
            live_bots=15,
            paper_bots=50,
            exchange_accounts=5,
            backtests_per_month=500,
            api_access=ApiAccess.FULL,
            api_requests_per_minute=1_000,
            webhooks=True,
            team_seats=1,
        ),
        Plan(
            code=PlanCode.ENTERPRISE,
            name="Enterprise",
            monthly_cents=299_00,
            tagline="No limits, and a team.",
            live_bots=None,
            paper_bots=None,
            exchange_accounts=None,
            backtests_per_month=None,
            api_access=ApiAccess.FULL,
            api_requests_per_minute=None,
            webhooks=True,
            team_seats=5,
        ),
    )
}
ORDER = tuple(PLANS)  # cheapest first
TRIAL_PLAN = PlanCode.PRO
FALLBACK_PLAN = PlanCode.FREE


def plan_for(code: str) -> Plan:
    """The plan for a stored code; an unknown code (a plan since retired) reads as Free."""
    try:
        return PLANS[PlanCode(code)]
    except ValueError:
        return PLANS[FALLBACK_PLAN]


def _lifts(plan: Plan, limit: Limit, needed: int) -> bool:
    if limit is API_WRITE:
        return plan.api_access is ApiAccess.FULL
    if limit is WEBHOOKS:
        return plan.webhooks
    allowed = plan.allowed(limit)
    return allowed is None or allowed >= needed


def cheapest_lifting(limit: Limit, needed: int) -> Plan | None:
    """The cheapest plan that allows `needed` of `limit`: the one a refusal suggests."""
    return next((PLANS[code] for code in ORDER if _lifts(PLANS[code], limit, needed)), None)


def dollars(cents: int) -> str:
    """Whole dollars when round, as on the pricing page: 2900 -> "$29", 2950 -> "$29.50"."""
    whole, part = divmod(cents, 100)
    return f"${whole:,}" if not part else f"${whole:,}.{part:02d}"


def _count(value: int | None, limit: Limit) -> str:
    if value is None:
        return f"Unlimited {limit.unit}"
    return limit.count(value) if value else f"No {limit.unit}"


def features(plan: Plan) -> list[str]:
    """The plan's limits in words, one line each, as the pricing page lists them."""
    rate = (
        "unlimited requests"
        if plan.api_requests_per_minute is None
        else f"{plan.api_requests_per_minute:,} requests/min"
    )
    access = "Read-only API" if plan.api_access is ApiAccess.READ else "Full API"
    seats = "1 seat" if plan.team_seats == 1 else f"{plan.team_seats} team seats"
    return [
        _count(plan.live_bots, LIVE_BOTS),
        _count(plan.paper_bots, PAPER_BOTS),
        _count(plan.exchange_accounts, EXCHANGE_ACCOUNTS),
        _count(plan.backtests_per_month, BACKTESTS),
        f"{access}, {rate}",
        "Webhooks and Telegram alerts" if plan.webhooks else "No webhooks or Telegram alerts",
        seats,
    ]


@dataclass(frozen=True)
class Offer:
    """A plan as offered for one billing period."""

    plan: Plan
    period: str  # "monthly" or "yearly"

    @property
    def cents(self) -> int:
        return self.plan.yearly_cents if self.period == "yearly" else self.plan.monthly_cents

    @property
    def price(self) -> str:
        return dollars(self.cents)

    @property
    def per(self) -> str:
        return "/year" if self.period == "yearly" else "/month"

    @property
    def saving(self) -> str:
        """What a year costs less than twelve months, or empty."""
        saved = self.plan.monthly_cents * 12 - self.plan.yearly_cents
        return dollars(saved) if self.period == "yearly" and saved else ""

    @property
    def features(self) -> list[str]:
        return features(self.plan)
