"""civicdesk settings: every value comes from an environment variable (docs/configuration.md)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("CIVICDESK_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


# pytest (8.2+) announces itself in PYTEST_VERSION: the suite runs with CIVICDESK_ENV=test.
CIVICDESK_ENV = (
    (
        os.environ.get("CIVICDESK_ENV")
        or ("test" if "PYTEST_VERSION" in os.environ else "development")
    )
    .strip()
    .lower()
)
if CIVICDESK_ENV not in {"development", "test", "production"}:
    raise ImproperlyConfigured("CIVICDESK_ENV must be development, test or production")
PRODUCTION = CIVICDESK_ENV == "production"

DEBUG = env_bool("DEBUG", default=CIVICDESK_ENV == "development")
_DEV_SECRET = "civicdesk-development-only-insecure-secret-key-do-not-use-in-production"
SECRET_KEY = os.environ.get("SECRET_KEY", "" if PRODUCTION else _DEV_SECRET)
if PRODUCTION and (not SECRET_KEY or SECRET_KEY == _DEV_SECRET):
    raise ImproperlyConfigured("SECRET_KEY must be set to a long random value in production")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_htmx",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "simple_history",
    "phonenumber_field",
    "civicdesk.core",
    "civicdesk.identity",
    "civicdesk.notifications",
    "civicdesk.registry",
    "civicdesk.cases",
    "civicdesk.ledger",
    "civicdesk.metering",
    "civicdesk.tariffs",
    "civicdesk.billing",
    "civicdesk.portal",
    "civicdesk.backoffice",
    "civicdesk.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "civicdesk.identity.middleware.SessionTimeoutMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "civicdesk.core.middleware.OperatorTimezoneMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "civicdesk.identity.middleware.UserLanguageMiddleware",
    "civicdesk.identity.middleware.StaffMFAMiddleware",
    "civicdesk.identity.middleware.SessionTrackingMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]

if PRODUCTION:
    # gunicorn serves the collected static files itself; runserver and tests use staticfiles.
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "civicdesk.config.urls"
WSGI_APPLICATION = "civicdesk.config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "civicdesk" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "civicdesk.core.context_processors.site",
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------------
_default_sqlite = f"sqlite:///{VAR_DIR / 'civicdesk.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", _default_sqlite),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL, a busy timeout and immediate write transactions: the embedded default stays usable
    # with a web process and in-process tasks writing at once.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
        ),
    }
    DATABASES["default"]["TEST"] = {"NAME": os.environ.get("SQLITE_TEST_NAME") or None}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- cache ----------------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- identity and security ------------------------------------------------------------------
AUTH_USER_MODEL = "identity.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
if CIVICDESK_ENV == "test":
    # Tests create hundreds of users; argon2's deliberate cost would dominate the suite.
    # Production and development keep argon2 (tests prove it is the default hasher there).
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]
AUTH_PASSWORD_VALIDATORS = [
    # OWASP ASVS 2.1: at least 8 characters, 64+ allowed, breached/common passwords refused,
    # no composition rules.
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "civicdesk.identity.passwords.MaximumLengthValidator", "OPTIONS": {"max_length": 128}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "identity:login"
LOGIN_REDIRECT_URL = "portal:home"
LOGOUT_REDIRECT_URL = "portal:home"

AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "civicdesk.identity.views.lockout_response"
AXES_VERBOSE = False
AXES_ENABLED = env_bool("AXES_ENABLED", True)

SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_IDLE_TIMEOUT = env_int("SESSION_IDLE_TIMEOUT", 30 * 60)
SESSION_ABSOLUTE_TIMEOUT = env_int("SESSION_ABSOLUTE_TIMEOUT", 12 * 60 * 60)
SESSION_COOKIE_AGE = SESSION_IDLE_TIMEOUT
SESSION_SAVE_EVERY_REQUEST = False
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

OTP_TOTP_ISSUER = os.environ.get("OTP_TOTP_ISSUER", "civicdesk")
VERIFICATION_CODE_TTL = env_int("VERIFICATION_CODE_TTL", 15 * 60)
VERIFICATION_CODE_MAX_ATTEMPTS = env_int("VERIFICATION_CODE_MAX_ATTEMPTS", 5)
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 60 * 60)
API_TOKEN_TTL_DAYS = env_int("API_TOKEN_TTL_DAYS", 30)

if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    if env_bool("SECURE_PROXY_SSL_HEADER", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- i18n -----------------------------------------------------------------------------------
LANGUAGE_CODE = os.environ.get("LANGUAGE_CODE", "en")
LANGUAGES = [
    ("en", _("English")),
    ("af", _("Afrikaans")),
    ("uk", _("Ukrainian")),
    ("ru", _("Russian")),
]
LOCALE_PATHS = [BASE_DIR / "civicdesk" / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")  # the database and logs stay in UTC
LANGUAGE_COOKIE_NAME = "civicdesk_language"
LANGUAGE_COOKIE_SECURE = PRODUCTION
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"

# --- static and media -----------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "static"))
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "/media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# --- e-mail and SMS -------------------------------------------------------------------------
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 20)
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "civicdesk <no-reply@civicdesk.local>")
SERVER_EMAIL = os.environ.get("SERVER_EMAIL", DEFAULT_FROM_EMAIL)

SMS_BACKEND = os.environ.get(
    "SMS_BACKEND",
    "civicdesk.notifications.sms."
    + ("LocmemSmsBackend" if CIVICDESK_ENV == "test" else "ConsoleSmsBackend"),
)
SMS_SENDER = os.environ.get("SMS_SENDER", "civicdesk")
TWILIO_ACCOUNT_SID = os.environ.get("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = os.environ.get("TWILIO_AUTH_TOKEN", "")
TWILIO_API_BASE = os.environ.get("TWILIO_API_BASE", "https://api.twilio.com")
AFRICASTALKING_USERNAME = os.environ.get("AFRICASTALKING_USERNAME", "")
AFRICASTALKING_API_KEY = os.environ.get("AFRICASTALKING_API_KEY", "")
AFRICASTALKING_API_BASE = os.environ.get(
    "AFRICASTALKING_API_BASE", "https://api.africastalking.com"
)
AFRICASTALKING_INBOUND_TOKEN = os.environ.get("AFRICASTALKING_INBOUND_TOKEN", "")
SMS_INBOUND_SECRET = os.environ.get("SMS_INBOUND_SECRET", "" if PRODUCTION else "dev-sms-secret")
NOTIFICATION_MAX_ATTEMPTS = env_int("NOTIFICATION_MAX_ATTEMPTS", 5)

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    "sweep-slas": {
        "task": "civicdesk.cases.tasks.sweep_slas",
        "schedule": env_int("SLA_SWEEP_SECONDS", 300),
    },
    "reconcile-payments": {
        "task": "civicdesk.ledger.tasks.payments_reconcile_task",
        "schedule": env_int("PAYMENTS_RECONCILE_SECONDS", 300),
    },
    "purge-idempotency-keys": {
        "task": "civicdesk.core.tasks.purge_idempotency_keys",
        "schedule": 60 * 60,
    },
    # Both are idempotent: estimates for the last period whose window closed, and reminders of
    # meter verifications coming due (each meter reminded once).
    "estimate-readings": {
        "task": "civicdesk.metering.tasks.estimates_generate_task",
        "schedule": crontab(hour=2, minute=15),
    },
    "meter-verification-reminders": {
        "task": "civicdesk.metering.tasks.meter_verification_reminders_task",
        "schedule": crontab(hour=9, minute=0),
    },
}

# --- payment gateways (options from environment variables; see the module) ---------------
from civicdesk.ledger.gateway_settings import PAYMENT_GATEWAYS  # noqa: E402, F401

# A payment the gateway has never heard of is cancelled after this many hours.
PAYMENTS_EXPIRE_AFTER_HOURS = env_int("PAYMENTS_EXPIRE_AFTER_HOURS", 24)

# --- API ------------------------------------------------------------------------------------
# How long Idempotency-Keys of money-moving requests are kept (civicdesk.core.idempotency).
IDEMPOTENCY_KEY_TTL = timedelta(hours=env_int("IDEMPOTENCY_KEY_TTL_HOURS", 48))
if IDEMPOTENCY_KEY_TTL.total_seconds() < 24 * 60 * 60:
    raise ImproperlyConfigured("IDEMPOTENCY_KEY_TTL_HOURS must be at least 24")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "civicdesk.identity.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "civicdesk.core.api.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("API_THROTTLE_ANON", "120/min"),
        "user": os.environ.get("API_THROTTLE_USER", "1200/min"),
        "auth": os.environ.get("API_THROTTLE_AUTH", "20/min"),
        "sms": os.environ.get("API_THROTTLE_SMS", "30000/min"),
    },
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "civicdesk.core.api.problem_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "civicdesk API",
    "DESCRIPTION": "Residents, accounts, billing, payments and cases. Errors are RFC 9457 "
    "application/problem+json: 400 when a request does not match this schema, 422 when it does "
    "but a rule refuses it; `errors` names the fields. Authenticate with "
    "`Authorization: Bearer <token>` from `POST /api/v1/auth/token`.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Swagger UI from the sidecar package's static files: no CDN, works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "ServiceTypeEnum": "civicdesk.registry.models.organisation.ServiceType.choices",
        "LinkMethodEnum": "civicdesk.registry.models.links.LinkMethod.choices",
        "LinkStartMethodEnum": "civicdesk.registry.models.links.LINK_START_METHODS",
        "CaseStatusEnum": "civicdesk.cases.models.Status.choices",
        "CaseChannelEnum": "civicdesk.cases.models.Channel.choices",
        "CasePriorityEnum": "civicdesk.cases.models.Priority.choices",
        "CaseCreateChannelEnum": "civicdesk.cases.api.STAFF_CHANNELS",
        "DecisionEnum": "civicdesk.ledger.models.claims.RefundApproval.Decision",
        "ReadingReviewDecisionEnum": "civicdesk.metering.api.readings.DECISIONS",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "civicdesk.core.api.add_problem_responses",
        "civicdesk.core.api.document_empty_form_values",
    ],
}

# --- logging --------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        # Eager tasks (no broker) still build a kombu connection object, which warns.
        "kombu.connection": {
            "level": "ERROR" if not os.environ.get("CELERY_BROKER_URL") else "WARNING"
        },
        "celery.app.trace": {"level": "WARNING"},
    },
}

CIVICDESK_DEMO_PASSWORD = "civicdesk-demo"
