"""Carevax settings: one module, configured from the environment (12-factor).

With ``DEBUG=true`` and nothing else set, the portal runs on a laptop with SQLite and Celery
on kombu's filesystem transport under ``var/``. With ``DEBUG`` off every secret and every
service address must be supplied, and a missing one stops start-up with a message naming it.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# Local state: the SQLite file, file cache, mail files, Celery's filesystem queue and beat's
# schedule. A container mounts a volume here; tests point it at a temporary folder.
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DEBUG", default=False)


def required(name: str, *, dev_default: str) -> str:
    """Read a setting that production must supply; only DEBUG may fall back to a default."""
    value = env.str(name, default="")
    if value:
        return value
    if DEBUG:
        return dev_default
    raise ImproperlyConfigured(
        f"The environment variable {name} is required when DEBUG is off. "
        f"Set {name} (see README.md, 'Configuration'), or set DEBUG=true for local development."
    )


SECRET_KEY = required("SECRET_KEY", dev_default="dev-only-insecure-key-do-not-use-in-production")
SITE_URL = required("SITE_URL", dev_default="http://127.0.0.1:8000").rstrip("/")
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"] if DEBUG else []
)
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "The environment variable ALLOWED_HOSTS is required when DEBUG is off "
        "(a comma-separated list of host names)."
    )
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[SITE_URL])

INSTALLED_APPS = [
    # django.contrib.admin, with every admin action written to the audit trail.
    "portal.apps.AuditedAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.forms",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "import_export",
    "portal",
    "workers",
    "employers",
    "bookings",
]
if DEBUG:
    # seed_demo and demo_totp: never installed in production (they know demo passwords).
    INSTALLED_APPS.append("demo")
    # manage.py bench NAME: benchmarks at national scale (they start workers, drop indexes).
    INSTALLED_APPS.append("benchmarks")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "portal.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "portal.middleware.AuditContextMiddleware",
    "portal.access_audit.PersonalDataAccessMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "portal.middleware.RequireMFAMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

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
                "portal.context_processors.service",
            ],
        },
    },
]
# Every form renders through the NHS.UK field templates (label, hint, inline error).
FORM_RENDERER = "portal.forms.NHSUKFormRenderer"

# Production must name its database: a silent SQLite fallback would lose data on redeploy.
DATABASES = {
    "default": env.db_url_config(
        required("DATABASE_URL", dev_default=f"sqlite:///{VAR_DIR / 'carevax.sqlite3'}")
    )
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "portal.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Several workers on several machines need a real broker; only DEBUG may run without Redis.
REDIS_URL = required("REDIS_URL", dev_default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
else:
    # A file cache is shared by web, worker and beat processes on one laptop.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
NODE_MODULES = BASE_DIR / "node_modules"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("nhsuk", NODE_MODULES / "nhsuk-frontend" / "dist" / "nhsuk"),
    ("htmx", NODE_MODULES / "htmx.org" / "dist"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "portal.storage.StaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "/media/"
WHITENOISE_USE_FINDERS = DEBUG
# Find files per request with DEBUG on instead of indexing every static file (node_modules
# included) each time a handler starts: the test suite starts one per test client.
WHITENOISE_AUTOREFRESH = DEBUG

# --- Security -----------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=60 * 60 * 8)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # /healthz is probed over plain HTTP inside the cluster.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# How many proxies of ours stand in front of web, each appending the address it saw to
# X-Forwarded-For (1 behind the TLS proxy the README asks for). 0 believes no header and
# takes the connection's address. Rate limits and the audit trail use it (portal.client_address).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT must be 0 or more.")

# --- Accounts (django-allauth) ------------------------------------------------------------
SITE_NAME = "Carevax"
SERVICE_NAME = "Book a COVID-19 vaccination for social care staff"
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_ADAPTER = "portal.accounts.AccountAdapter"
ACCOUNT_FORMS = {
    "login": "portal.accounts.SignInForm",
    "signup": "portal.accounts.EmployerSignupForm",
    "reset_password": "portal.accounts.PasswordResetRequestForm",
}
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "Carevax: "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "http" if DEBUG else "https"
# allauth reads the client address through AccountAdapter.get_client_ip (our client_ip);
# its own setting says the same for any allauth code that reads the header itself.
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_COUNT
# Our throttle (portal.throttle) slows wrong passwords per email and address;
# allauth's per-address limit stays as a second guard. Its default per-email limit is left
# out on purpose: anyone could use it to lock the owner out.
ACCOUNT_RATE_LIMITS = {"login_failed": "20/m/ip"}
# Staff list files checked (uploads, and leads' eligibility previews) per hour: by one account,
# and for one organisation (an employer, or a lead's authority). 0 means no limit.
UPLOAD_LIMIT_PER_ACCOUNT = env.int("UPLOAD_LIMIT_PER_ACCOUNT", default=30)
UPLOAD_LIMIT_PER_ORGANISATION = env.int("UPLOAD_LIMIT_PER_ORGANISATION", default=60)
# Wrong passwords one address may try for one email before it waits between tries: 1 second,
# then twice as long after each further failure, at most LOGIN_THROTTLE_MAX_MINUTES.
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_THROTTLE_MAX = timedelta(minutes=env.int("LOGIN_THROTTLE_MAX_MINUTES", default=15))
# Failures for one email from all addresses in a day after which every address that has
# failed for it waits the longest wait; an address with no failures still gets its try.
LOGIN_ACCOUNT_FAILURE_LIMIT = env.int("LOGIN_ACCOUNT_FAILURE_LIMIT", default=100)
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Carevax"
MFA_ADAPTER = "portal.accounts.MFAAdapter"
MFA_FORMS = {
    "activate_totp": "portal.accounts.TOTPActivateForm",
    "authenticate": "portal.accounts.TOTPAuthenticateForm",
}
# Roles that cannot reach their pages until they have enrolled an authenticator app.
MFA_REQUIRED_ROLES = ["local_lead", "nhs_team", "administrator"]
COLLEAGUE_INVITATION_MAX_AGE = timedelta(days=env.int("COLLEAGUE_INVITATION_DAYS", default=7))

# --- Email and GOV.UK Notify --------------------------------------------------------------
# EMAIL_URL carries the SMTP password, and sign-up cannot work without real mail, so only
# DEBUG may fall back (to files under var/mail).
EMAIL_CONFIG = env.email_url_config(
    required("EMAIL_URL", dev_default="filemail://" + str(VAR_DIR / "mail"))
)
vars().update(EMAIL_CONFIG)
if EMAIL_CONFIG.get("EMAIL_BACKEND", "").endswith("filebased.EmailBackend"):
    EMAIL_FILE_PATH = str(VAR_DIR / "mail")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Carevax <noreply@carevax.nhs.uk>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
NOTIFY_API_KEY = env.str("NOTIFY_API_KEY", default="")
NOTIFY_BASE_URL = env.str("NOTIFY_BASE_URL", default="https://api.notifications.service.gov.uk")
# Notify sends what we render: one generic template per channel whose whole content is
# ((subject)) and ((body)) for email, ((body)) for text messages.
NOTIFY_EMAIL_TEMPLATE_ID = env.str("NOTIFY_EMAIL_TEMPLATE_ID", default="")
NOTIFY_SMS_TEMPLATE_ID = env.str("NOTIFY_SMS_TEMPLATE_ID", default="")
# Which channels go through Notify when it is on; email may stay on EMAIL_URL's server.
NOTIFY_CHANNELS = env.list("NOTIFY_CHANNELS", default=["email", "sms"])
NOTIFY_TIMEOUT = env.int("NOTIFY_TIMEOUT", default=20)
# The bearer token Notify sends with delivery receipts (set the same value in Notify's
# callback settings); empty turns the receipt endpoint away.
NOTIFY_CALLBACK_TOKEN = env.str("NOTIFY_CALLBACK_TOKEN", default="")
if NOTIFY_API_KEY:
    for _name in ["NOTIFY_EMAIL_TEMPLATE_ID", "NOTIFY_SMS_TEMPLATE_ID"] + (
        [] if DEBUG else ["NOTIFY_CALLBACK_TOKEN"]
    ):
        if not vars()[_name]:
            raise ImproperlyConfigured(
                f"NOTIFY_API_KEY is set, so {_name} is required too (see README.md, "
                "'Configuration')."
            )
    if set(NOTIFY_CHANNELS) - {"email", "sms"}:
        raise ImproperlyConfigured("NOTIFY_CHANNELS may name only email and sms.")
# Without Notify, text messages go to files under var/sms (or the console) with DEBUG on;
# with DEBUG off there is no such fallback and text messages are marked failed, saying why.
SMS_BACKEND = env.str("SMS_BACKEND", default="file" if DEBUG else "")
if SMS_BACKEND not in {"", "file", "console"}:
    raise ImproperlyConfigured("SMS_BACKEND must be file, console or empty.")
SMS_FILE_PATH = str(VAR_DIR / "sms")


def _rate_limits(text: str) -> dict[str, float | None]:
    """Parse ``email=50/s,sms=10/m`` into messages per second per channel (None: no limit)."""
    limits: dict[str, float | None] = {"email": None, "sms": None}
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        channel, _, rate = part.partition("=")
        count, _, unit = rate.strip().partition("/")
        per = {"s": 1, "m": 60, "h": 3600}.get(unit.strip() or "s")
        if channel.strip() not in limits or per is None or not count.strip().isdigit():
            raise ImproperlyConfigured(
                f"MESSAGE_RATE_LIMITS: cannot read {part!r}; write e.g. email=50/s,sms=10/s "
                "(0 means no limit)."
            )
        limits[channel.strip()] = int(count) / per or None
    return limits


# Messages per second per channel, shared by every worker (a token bucket in Redis).
MESSAGE_RATE_LIMITS = _rate_limits(env.str("MESSAGE_RATE_LIMITS", default="email=50/s,sms=50/s"))
# Ids per send task; a killed worker's claimed chunk waits for its lease to run out.
MESSAGE_TASK_CHUNK = env.int("MESSAGE_TASK_CHUNK", default=50)
# SMTP connections one worker process sends a chunk over at once (their conversations overlap;
# decision 0007). Keep it within what the relay allows one client (Postfix: 50).
MESSAGE_SMTP_CONNECTIONS = env.int("MESSAGE_SMTP_CONNECTIONS", default=10)
MESSAGE_MAX_ATTEMPTS = env.int("MESSAGE_MAX_ATTEMPTS", default=5)
# The first retry waits this long, each next one twice as long (at most an hour).
MESSAGE_RETRY_SECONDS = env.int("MESSAGE_RETRY_SECONDS", default=30)
# A claim older than this belongs to a worker presumed dead; the sweep takes it back.
MESSAGE_LEASE_SECONDS = env.int("MESSAGE_LEASE_SECONDS", default=300)
# A message still waiting this long after it was queued is queued again by the sweep.
MESSAGE_REQUEUE_SECONDS = env.int("MESSAGE_REQUEUE_SECONDS", default=60)
MESSAGE_SWEEP_SECONDS = env.int("MESSAGE_SWEEP_SECONDS", default=60)
if MESSAGE_LEASE_SECONDS <= 2 * NOTIFY_TIMEOUT:
    raise ImproperlyConfigured(
        "MESSAGE_LEASE_SECONDS must be more than twice NOTIFY_TIMEOUT, so a claim cannot run "
        "out while a request to Notify is still open."
    )
# Extra folders searched before bookings/templates for message templates (tests use their own).
MESSAGE_TEMPLATE_DIRS = env.list("MESSAGE_TEMPLATE_DIRS", default=[])

# --- Invitations to workers ----------------------------------------------------------------
# A worker's link stops working this many days after it is sent (a resend starts again).
INVITATION_EXPIRY_DAYS = env.int("INVITATION_EXPIRY_DAYS", default=28)
# Reminders to workers who have not booked: days after sending, one reminder per entry.
INVITATION_REMINDER_DAYS = [
    int(day) for day in env.list("INVITATION_REMINDER_DAYS", default=["3", "7"])
]
INVITATION_MAX_REMINDERS = env.int("INVITATION_MAX_REMINDERS", default=2)
# Invitations released (and messages queued) per transaction.
INVITATION_RELEASE_CHUNK = env.int("INVITATION_RELEASE_CHUNK", default=5000)

# --- Celery -------------------------------------------------------------------------------
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
else:
    # A real worker and beat with no broker to install: messages are files under var/.
    CELERY_BROKER_URL = "filesystem://"
    _celery_dir = VAR_DIR / "celery"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_celery_dir / "queue"),
        "data_folder_out": str(_celery_dir / "queue"),
        "processed_folder": str(_celery_dir / "processed"),
        # kombu keeps its exchange table here; left unset it writes ./control in the cwd.
        "control_folder": str(_celery_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Messages wait in a queue per channel, so a slow channel never holds up another; a worker
# started without -Q takes every queue listed here.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = [Queue("celery"), Queue("outbox.email"), Queue("outbox.sms")]
CELERY_BEAT_SCHEDULE = {
    "clear-expired-colleague-invitations": {
        "task": "portal.tasks.expire_colleague_invitations_task",
        "schedule": crontab(minute=15, hour=3),
    },
    "sweep-message-outbox": {
        "task": "bookings.tasks.sweep_messages_task",
        "schedule": timedelta(seconds=MESSAGE_SWEEP_SECONDS),
    },
    # Release more invitations as capacity frees or is added, and follow message outcomes.
    "release-campaign-invitations": {
        "task": "bookings.tasks.release_active_campaigns_task",
        "schedule": timedelta(minutes=env.int("INVITATION_RELEASE_MINUTES", default=10)),
    },
    "send-invitation-reminders": {
        "task": "bookings.tasks.send_invitation_reminders_task",
        "schedule": crontab(minute=0, hour="9-17"),
    },
    "expire-invitations": {
        "task": "bookings.tasks.expire_invitations_task",
        "schedule": crontab(minute=30, hour=2),
    },
}
# A worker counts as live while its heartbeat is younger than this.
WORKER_HEARTBEAT_INTERVAL = env.int("WORKER_HEARTBEAT_INTERVAL", default=10)
WORKER_HEARTBEAT_STALE_AFTER = env.int("WORKER_HEARTBEAT_STALE_AFTER", default=60)

# --- API ----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "portal.accounts.MFAEnrolledTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Carevax API",
    "DESCRIPTION": "Read access to Carevax data, scoped to the caller's role.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Public on purpose (the footer links to it): it names endpoints and fields, no records,
    # and integrators read it before they have a token. The API itself needs sign-in.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
