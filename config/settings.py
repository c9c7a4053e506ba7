"""Gridwise settings: everything comes from environment variables.

With neither DATABASE_URL nor REDIS_URL set, the project runs in its
embedded shape (SQLite, in-memory channel layer and broker) so that one
command serves a working product. Production values are checked at import:
an unsafe combination refuses to start.
"""

from __future__ import annotations

import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from config.database import connection_settings, sqlite_database
from config.safety import INSECURE_SECRET_KEY_PREFIX, DeploymentSettings, production_problems

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

EMBEDDED = not env.str("DATABASE_URL", default="") and not env.str("REDIS_URL", default="")
DATA_DIR = Path(env.str("DATA_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DEBUG", default=EMBEDDED)
SECRET_KEY = env.str("SECRET_KEY", default=f"{INSECURE_SECRET_KEY_PREFIX}gridwise-local-only")
ALLOWED_HOSTS: list[str] = env.list(
    "ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Fernet keys for exchange credentials: the first encrypts, all decrypt. Empty in
# debug means one derived from SECRET_KEY (exchanges.credentials).
CREDENTIALS_KEYS: list[str] = env.list("CREDENTIALS_KEYS", default=[])

_problems = production_problems(
    DeploymentSettings(
        debug=DEBUG,
        secret_key=SECRET_KEY,
        allowed_hosts=ALLOWED_HOSTS,
        database_configured=bool(env.str("DATABASE_URL", default="")),
        redis_configured=bool(env.str("REDIS_URL", default="")),
        email_configured=bool(env.str("EMAIL_URL", default="")),
        credentials_keys=CREDENTIALS_KEYS,
    )
)
if _problems:
    raise ImproperlyConfigured(
        "Refusing to start with an unsafe production configuration:\n- " + "\n- ".join(_problems)
    )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "django_htmx",
    "template_partials",
    "django_celery_beat",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "allauth",
    "allauth.account",
    "allauth.usersessions",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "config",
    "accounts",
    "djstripe",
    "billing",
    "bots",
    "exchanges",
    "trading",
    "notifications",
    "risk",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.middleware.UserSessionActivityMiddleware",  # allauth's, throttled
    "accounts.middleware.UserTimezoneMiddleware",
    "config.busy.DatabaseBusyMiddleware",  # last: it runs the view, once more if the database is locked
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "notifications.context.bell",
                "billing.context.payment_banner",
            ],
        },
    }
]

# Databases -------------------------------------------------------------------

if EMBEDDED:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {"default": sqlite_database(DATA_DIR / "gridwise.sqlite3")}
else:
    DATABASES = {"default": env.db("DATABASE_URL", default="sqlite:///" + str(DATA_DIR / "gridwise.sqlite3"))}
    DATABASES["default"].update(connection_settings(DATABASES["default"], os.environ))

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis: channel layer, cache and Celery broker ---------------------------------

REDIS_URL = env.str("REDIS_URL", default="")
CACHE_URL = env.str("CACHE_URL", default=REDIS_URL)
# Every key Gridwise writes to Redis (cache, sessions, channel layer, Celery's queues) starts
# with this, so several sites, or a test run beside a running stack, can share one server.
REDIS_KEY_PREFIX = env.str("REDIS_KEY_PREFIX", default="")

CHANNEL_LAYER_READ_TIMEOUT = 30  # seconds; above channels-redis's blocking pop (5 s)

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # channels-redis waits for messages with a 5 s blocking pop; redis-py 8's default
            # 5 s read timeout cut it short and killed every socket idle that long.
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": CHANNEL_LAYER_READ_TIMEOUT}],
                "prefix": f"{REDIS_KEY_PREFIX}asgi",
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

if CACHE_URL:
    CACHES = {
        "default": {
            "BACKEND": "config.cache.NamespacedRedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": REDIS_KEY_PREFIX,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

if CACHE_URL:
    # Every request reads its session: from the shared cache, falling back to the database,
    # which every write still reaches, so a cache flush signs nobody out. Never over a
    # per-process cache: a session ended in one process would live on in another's.
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# A Redis stream that receives every tick's timing (bots.metrics); empty records nothing.
BOT_TICK_STREAM = env.str("BOT_TICK_STREAM", default="")
# Dispatched ticks per Celery message (bots.tasks.tick_bots): fewer messages, less overhead per
# tick; more bots share one worker process's turn.
BOT_TICKS_PER_MESSAGE = env.int("BOT_TICKS_PER_MESSAGE", default=10)
# One message per priority worker process: a price move's wake-ups are shared between them.
FILL_WAKE_UP_MESSAGES = env.int(
    "FILL_WAKE_UP_MESSAGES", default=env.int("PRIORITY_WORKER_CONCURRENCY", default=2)
)

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://localhost/")
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
# One task reserved per worker process, so a fill's wake-up on the priority queue never waits
# behind routine ticks already reserved. bench/engine.py (1,000 bots) measured prefetch 4 at
# ~160 ticks/s against ~130, but with fill -> counter-order p95 near 2 s under that load.
CELERY_WORKER_PREFETCH_MULTIPLIER = env.int("CELERY_WORKER_PREFETCH_MULTIPLIER", default=1)
# Celery's Django fixup closes every database connection around every task unless this is set;
# connections are recycled as Django does for requests instead (config/celery.py).
CELERY_DB_REUSE_MAX = 1_000_000
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
# Wake-ups after a fill, traders' start and stop, and the dispatcher itself go to the priority
# queue, which workers drain first (`-Q priority,celery,webhooks`): a backlog of routine ticks
# never delays a counter-order or an emergency stop. Webhook sends (and their sweeps) have a
# queue of their own, drained after ticks, so a backlog of sends never holds up a tick; a site
# with slow receivers gives it dedicated workers (`-Q webhooks`).
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_PRIORITY_QUEUE = "priority"
CELERY_WEBHOOKS_QUEUE = "webhooks"
CELERY_WORKER_QUEUES = f"{CELERY_PRIORITY_QUEUE},{CELERY_TASK_DEFAULT_QUEUE},{CELERY_WEBHOOKS_QUEUE}"
# Seconds a task a worker took may stay unacknowledged before Redis hands it to another worker:
# a killed worker's tick runs again this soon (kombu's default is an hour). Longer than a tick
# takes; countdowns stay under half of it, or the broker would hand them out early.
TASK_VISIBILITY_TIMEOUT = env.int("TASK_VISIBILITY_TIMEOUT", default=30)
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
    "queue_order_strategy": "priority",
    "visibility_timeout": TASK_VISIBILITY_TIMEOUT,
    # Each worker looks for such messages this often; kombu's default scans every 100 s.
    "unacked_restore_interval": max(1, TASK_VISIBILITY_TIMEOUT // 3),
    "unacked_restore_throttle": 1,
}
if REDIS_KEY_PREFIX:
    CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] = REDIS_KEY_PREFIX
CELERY_TASK_ROUTES = {
    "bots.tasks.dispatch_due_bots": {"queue": CELERY_PRIORITY_QUEUE},
    "bots.webhooks.tasks.*": {"queue": CELERY_WEBHOOKS_QUEUE},
    "notifications.tasks.*": {"queue": CELERY_WEBHOOKS_QUEUE},  # deliveries never wait behind ticks
}
CELERY_BEAT_SCHEDULER = env.str(
    "CELERY_BEAT_SCHEDULER",
    default="celery.beat:Scheduler" if EMBEDDED else "django_celery_beat.schedulers:DatabaseScheduler",
)
CELERY_BEAT_SCHEDULE = {
    "purge-expired-sessions": {
        "task": "accounts.tasks.purge_expired_sessions",
        "schedule": 3600.0,
    },
    "sweep-notifications": {
        "task": "notifications.tasks.sweep_due_notifications",
        "schedule": 60.0,
    },
    "prune-notifications": {
        "task": "notifications.tasks.prune_old_notifications",
        "schedule": 86400.0,
    },
    "prune-telegram-updates": {
        "task": "notifications.tasks.prune_telegram_updates",
        "schedule": 3600.0,
    },
    "check-daily-loss-limits": {
        "task": "risk.tasks.check_daily_loss_limits",
        "schedule": 30.0,
    },
    "check-price-alerts": {
        "task": "notifications.tasks.check_price_alerts",
        "schedule": env.float("PRICE_ALERT_INTERVAL", default=15.0),
    },
    # Each trader's summary goes out within this long after their chosen hour begins.
    "send-daily-summaries": {
        "task": "notifications.tasks.send_daily_summaries",
        "schedule": 300.0,
    },
    "dispatch-bots": {
        "task": "bots.tasks.dispatch_due_bots",
        "schedule": env.float("BOT_DISPATCH_INTERVAL", default=1.0),
    },
    "advance-paper-markets": {
        "task": "exchanges.tasks.advance_paper_markets",
        "schedule": env.float("PAPER_FEED_INTERVAL", default=2.0),
    },
    "prune-paper-ticks": {
        "task": "exchanges.tasks.prune_paper_ticks",
        "schedule": 86400.0,
    },
    # Webhook retries due within half of TASK_VISIBILITY_TIMEOUT ride a countdown message;
    # this sends the later ones, and any whose message or worker was lost.
    "sweep-webhook-deliveries": {
        "task": "bots.webhooks.tasks.sweep_due_deliveries",
        "schedule": 30.0,
    },
    # Cancels a stop could not confirm (the venue was down), asked about again until settled.
    "settle-unconfirmed-cancels": {
        "task": "bots.tasks.settle_unconfirmed_cancels",
        "schedule": 30.0,
        "options": {"queue": CELERY_PRIORITY_QUEUE},
    },
    "prune-webhook-deliveries": {
        "task": "bots.webhooks.tasks.prune_old_deliveries",
        "schedule": 86400.0,
    },
    # Plans that shrank (a grace period or a trial ended): the bots beyond the new limits stop.
    "enforce-plan-limits": {
        "task": "billing.tasks.enforce_plan_limits",
        "schedule": 900.0,
    },
    # Backtests whose worker died mid-run (their heartbeat stopped), back to the queue.
    "requeue-stale-backtests": {
        "task": "bots.backtests.tasks.requeue_stale_backtests",
        "schedule": 60.0,
    },
}

# Backtests ----------------------------------------------------------------------

# The most candles one backtest may cover (the window's length over the candle interval).
BACKTEST_MAX_CANDLES = env.int("BACKTEST_MAX_CANDLES", default=600_000)
# The most candidate grids one parameter optimisation may try.
BACKTEST_MAX_RUNS = env.int("BACKTEST_MAX_RUNS", default=2000)
# The highest leverage a trader may choose for a futures grid (the symbol's own limit still applies).
FUTURES_MAX_LEVERAGE = env.int("FUTURES_MAX_LEVERAGE", default=20)

# Exchanges ----------------------------------------------------------------------

# A custom base URL makes the server send signed requests wherever a user points it;
# allow it only where that is wanted (development, a simulator demo).
ALLOW_CUSTOM_EXCHANGE_URLS = env.bool("ALLOW_CUSTOM_EXCHANGE_URLS", default=DEBUG)

# Webhooks -----------------------------------------------------------------------

# Off, a webhook URL whose host resolves to a private, loopback, link-local, multicast or
# reserved address is refused, when registered and again before every send (SSRF).
WEBHOOKS_ALLOW_PRIVATE_URLS = env.bool("WEBHOOKS_ALLOW_PRIVATE_URLS", default=DEBUG)
WEBHOOK_TIMEOUT = env.float("WEBHOOK_TIMEOUT", default=5.0)  # seconds to connect, and again to read
WEBHOOK_LOG_RETENTION_DAYS = env.int("WEBHOOK_LOG_RETENTION_DAYS", default=30)

# Paper trading ----------------------------------------------------------------

# Real candle series, shipped gzipped in the repository (exchanges/data/README.md). A symbol with
# no series there runs on a seeded random walk, and the pages say so.
PRICE_DATA_DIR = Path(env.str("PRICE_DATA_DIR", default=str(BASE_DIR / "exchanges" / "data")))
PAPER_FEED = env.str("PAPER_FEED", default="replay")  # replay (random walk without data), bybit, none
BYBIT_PUBLIC_URL = env.str("BYBIT_PUBLIC_URL", default="")  # the bybit feed's address; empty is mainnet
PAPER_FEED_INTERVAL = env.float("PAPER_FEED_INTERVAL", default=2.0)  # seconds per feed step
PAPER_MARKET_SLIPPAGE = env.str("PAPER_MARKET_SLIPPAGE", default="0.0005")  # market orders, a fraction
PAPER_TICK_RETENTION_DAYS = env.int("PAPER_TICK_RETENTION_DAYS", default=30)

# Auth ------------------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"

ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
# Traders may log in before verifying; connecting exchange keys is what
# requires a verified address (accounts.verification).
ACCOUNT_EMAIL_VERIFICATION = "optional"
ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED = False
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = False
# A duplicate sign-up is told plainly that the address is taken.
ACCOUNT_PREVENT_ENUMERATION = False
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_RATE_LIMITS = {
    "login_failed": env.str("LOGIN_FAILED_RATE_LIMIT", default="10/m/ip,5/5m/key"),
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    "confirm_email": "1/3m/key",
    # Not allauth's own: every API-key check calls the exchange, so it is bounded per user.
    "exchange_key_check": env.str("KEY_CHECK_RATE_LIMIT", default="20/h/user"),
}
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Gridwise] "
USERSESSIONS_TRACK_ACTIVITY = True
# Seconds a live socket trusts its session between checks that it still exists (accounts.live_sessions).
LIVE_SESSION_RECHECK_SECONDS = env.float("LIVE_SESSION_RECHECK_SECONDS", default=5.0)

OTP_TOTP_ISSUER = "Gridwise"
# Off: wrong codes are throttled per user by accounts.twofactor, which owns every code check.
OTP_TOTP_THROTTLE_FACTOR = 0
OTP_STATIC_THROTTLE_FACTOR = 0
# The admin never shows a device's secret key, its QR code or backup codes.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# The scripts API (config/api.py) ---------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.api.authentication.BearerTokenAuthentication",
        # The browser's session, with DRF's CSRF check on unsafe methods.
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.api.permissions.HasScope"],
    "DEFAULT_THROTTLE_CLASSES": ["accounts.api.throttling.ApiRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["accounts.api.parsers.DepthLimitedJSONParser"],
    "DEFAULT_PAGINATION_CLASS": "accounts.api.pagination.ApiCursorPagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
    "URL_FORMAT_OVERRIDE": None,
}
# Requests per period for browser sessions and anonymous callers (accounts.api.throttling); a
# token's rate is its owner's plan's (billing.plans).
API_THROTTLE_RATES: dict[str, str] = {
    "user": env.str("API_RATE_PER_USER", default="240/min"),
    "anon": env.str("API_RATE_ANONYMOUS", default="30/min"),
}
API_IDEMPOTENCY_TTL = env.int("API_IDEMPOTENCY_TTL", default=24 * 3600)  # seconds a key is remembered
# Days of the Pro trial every new account starts with (billing.entitlements).
BILLING_TRIAL_DAYS = env.int("BILLING_TRIAL_DAYS", default=14)
# Days a past-due plan keeps its limits after the first failed payment; then it reads as Free.
BILLING_GRACE_DAYS = env.int("BILLING_GRACE_DAYS", default=7)
# Stripe, through dj-stripe (docs/configuration.md). With no STRIPE_API_BASE in the embedded shape
# or the tests, a localstripe process is started and the SDK pointed at it (billing.stripe_server).
STRIPE_LIVE_MODE = env.bool("STRIPE_LIVE_MODE", default=False)
_LOCAL_STRIPE_KEY = "sk_test_localstripe0gridwise0demo0key"
STRIPE_SECRET_KEY = env.str(
    "STRIPE_SECRET_KEY", default=env.str("STRIPE_TEST_SECRET_KEY", default=_LOCAL_STRIPE_KEY if DEBUG else "")
)
STRIPE_TEST_SECRET_KEY = STRIPE_SECRET_KEY
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="")
if STRIPE_API_BASE:
    STRIPE_API_HOST = STRIPE_API_BASE  # dj-stripe points the SDK there
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="whsec_gridwise_local" if DEBUG else "")
# The webhook URL is /stripe/webhook/<STRIPE_WEBHOOK_UUID>/ (dj-stripe's endpoint).
STRIPE_WEBHOOK_UUID = env.str("STRIPE_WEBHOOK_UUID", default="6a0c3f7e-5b8e-4d2a-9a51-3d0f2f1b7c11")
# "checkout": Stripe's hosted Checkout. "card": our own card page that creates the subscription
# through the API, for localstripe, which has no hosted Checkout.
BILLING_CHECKOUT = env.str("BILLING_CHECKOUT", default="card" if EMBEDDED else "checkout")
DJSTRIPE_SUBSCRIBER_MODEL = "accounts.User"
DJSTRIPE_FOREIGN_KEY_TO_FIELD = "id"
DJSTRIPE_WEBHOOK_VALIDATION = "verify_signature"
# Verified events are recorded once and handled by billing.webhooks (it says why).
DJSTRIPE_WEBHOOK_EVENT_CALLBACK = "billing.webhooks.process_trigger"
# dj-stripe's schema from migrations generated for it (billing/djstripe_schema/migrations says why).
MIGRATION_MODULES = {"djstripe": "billing.djstripe_schema.migrations"}
SPECTACULAR_SETTINGS = {
    "TITLE": "Gridwise API",
    "DESCRIPTION": (
        "Run grid bots from scripts. Authenticate with `Authorization: Bearer <token>` (tokens from "
        "Account → API tokens). Tokens carry scopes: `read` for GET, `trade` for anything that changes "
        "something. Decimals travel as strings. Mutating calls accept an `Idempotency-Key` header: "
        "a retry with the same key and body returns the first answer. Errors are always "
        '`{"error": {"code", "message", "fields"}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and its docs are public: they describe the API, they open nothing.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI and Redoc from our own static files (drf-spectacular-sidecar), not a CDN: the
    # docs work offline and load no third-party script.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # No badge from the public validator: the docs load nothing from another host.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "ExitActionEnum": ["keep_base", "sell_base"],
        "BacktestStatusEnum": "bots.backtests.models.BacktestStatus",
        "SpacingEnum": ["arithmetic", "geometric"],
        "DirectionEnum": ["long", "short"],  # a grid's and a DCA bot's; a position's side
        "SideEnum": "trading.api.serializers.SIDE_CHOICES",  # an order's or a fill's
        "AlertDirectionEnum": "notifications.models.AlertDirection",
        "GridStrategyEnum": ["grid"],
        "DcaStrategyEnum": ["dca"],
        "FuturesGridStrategyEnum": ["futures_grid"],
    },
}

# Email -----------------------------------------------------------------------

EMAIL_URL = env.str("EMAIL_URL", default="consolemail://")
vars().update(env.email_url_config(EMAIL_URL))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Gridwise <no-reply@gridwise.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Links in notification emails (the page, one-click unsubscribe) start with this address.
NOTIFICATIONS_SITE_URL = env.str("NOTIFICATIONS_SITE_URL", default="http://localhost:8000")
NOTIFICATIONS_RETRY_BASE_SECONDS = env.float("NOTIFICATIONS_RETRY_BASE_SECONDS", default=10.0)
NOTIFICATIONS_RETENTION_DAYS = env.int("NOTIFICATIONS_RETENTION_DAYS", default=90)

# Telegram (notifications.telegram) -----------------------------------------------
# Unset token: Telegram is off and the settings page says so. The API base is Telegram's unless a
# local Bot API server stands in (tests; `manage.py run_telegram_api`). The zero-config run
# starts one of its own when no token is set (TELEGRAM_LOCAL_API).
TELEGRAM_BOT_TOKEN = env.str("TELEGRAM_BOT_TOKEN", default="")
TELEGRAM_BOT_USERNAME = env.str("TELEGRAM_BOT_USERNAME", default="")
TELEGRAM_API_BASE = env.str("TELEGRAM_API_BASE", default="https://api.telegram.org")
# Sent by Telegram in X-Telegram-Bot-Api-Secret-Token with every webhook call; unset refuses them all.
TELEGRAM_WEBHOOK_SECRET = env.str("TELEGRAM_WEBHOOK_SECRET", default="")
TELEGRAM_LOCAL_API = env.bool("TELEGRAM_LOCAL_API", default=EMBEDDED and not TELEGRAM_BOT_TOKEN)
TELEGRAM_LOCAL_API_PORT = env.int("TELEGRAM_LOCAL_API_PORT", default=0)  # 0: any free port
# Telegram's limits: about one message a second to a chat, thirty a second in all.
TELEGRAM_CHAT_INTERVAL = env.float("TELEGRAM_CHAT_INTERVAL", default=1.0)
TELEGRAM_GLOBAL_PER_SECOND = env.float("TELEGRAM_GLOBAL_PER_SECOND", default=30.0)

# Security --------------------------------------------------------------------

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_TLS_PROXY", default=False) else None
)
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# I18N and static files -------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    # Front-end packages are installed by npm at setup, never committed.
    ("vendor/htmx", BASE_DIR / "node_modules" / "htmx.org" / "dist"),
    ("vendor/htmx-ext-ws", BASE_DIR / "node_modules" / "htmx-ext-ws" / "dist"),
    ("vendor/lightweight-charts", BASE_DIR / "node_modules" / "lightweight-charts" / "dist"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # httpx logs each request's URL at INFO, and a Bot API URL holds the bot's token.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}
