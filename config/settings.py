"""One settings module, read from the environment.

An environment that says nothing is production: DEBUG off, and the process refuses to start without
a real ``SECRET_KEY`` (or with DEBUG on). ``CAREBUNDLE_ENV=development`` (set by ``make run``,
``make test``, scripts/run.sh and ``config.settings_test``) turns on the development defaults: DEBUG
and a fixed key. Either way the embedded defaults need no service: SQLite in ``var/`` and Celery on
kombu's filesystem transport; ``DATABASE_URL`` and ``REDIS_URL`` switch to PostgreSQL and Redis.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("CAREBUNDLE_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


CAREBUNDLE_ENV = os.environ.get("CAREBUNDLE_ENV", "production").strip().lower() or "production"
if CAREBUNDLE_ENV not in {"development", "production"}:
    raise ImproperlyConfigured(f"CAREBUNDLE_ENV is 'development' or 'production', not {CAREBUNDLE_ENV!r}.")
DEVELOPMENT = CAREBUNDLE_ENV == "development"
DEBUG = env_bool("DEBUG", DEVELOPMENT)
DEVELOPMENT_SECRET_KEY = "dev-only-insecure-key-carebundle-do-not-use-in-production"  # noqa: S105
SECRET_KEY = os.environ.get("SECRET_KEY", DEVELOPMENT_SECRET_KEY if DEVELOPMENT else "")
if not DEVELOPMENT:
    # A deployment that forgot its environment must not come up with a debug page or a public key.
    _refusals = [
        "DEBUG is on" if DEBUG else "",
        "SECRET_KEY is not set" if not SECRET_KEY else "",
        "SECRET_KEY is the development key" if SECRET_KEY == DEVELOPMENT_SECRET_KEY else "",
    ]
    if any(_refusals):
        raise ImproperlyConfigured(
            "Refusing to start in production: "
            + "; ".join(r for r in _refusals if r)
            + ". Set a secret SECRET_KEY and leave DEBUG off; on a developer machine run with "
            "CAREBUNDLE_ENV=development (make run and make test set it)."
        )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

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
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "django_htmx",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "core",
    "accounts",
    "bundles",
    "pricing",
    "contracts",
    "enrollment",
    "payments",
    "claims",
    "performance",
    "web",
    "notifications",
]

MIDDLEWARE = [
    "core.middleware.RequestLogMiddleware",  # first: it times and logs every answer, static files too
    "django.middleware.security.SecurityMiddleware",
    "core.middleware.SecurityHeadersMiddleware",
    "core.middleware.UploadLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified(): a code was given this session
    "accounts.middleware.SessionTimeoutMiddleware",  # after authentication: it ends idle sessions
    "accounts.time_zone.TimeZoneMiddleware",  # pages' times in the user's zone (read from the session)
    # After the timeout (an ended session needs no code): sends a user with two-factor sign-in to the
    # code page, and one whose organisation requires it to its setup (accounts.two_factor).
    "accounts.middleware.TwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "core.middleware.ExceptionResponseMiddleware",  # 413 and 503 for pages instead of a 500
    "axes.middleware.AxesMiddleware",  # last: it turns a lockout into the locked-out page
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "web.context_processors.navigation",
            ],
        },
    },
]

VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{VAR_DIR / 'carebundle.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
        # A pooled connection that PostgreSQL dropped (a restart) is replaced, not reused.
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded database is shared by the web server and the Celery worker. WAL lets them read while
    # one writes; an immediate transaction takes the write lock at its start, so that two transactions
    # never both read and then both try to write (SQLite fails such an upgrade at once, without
    # waiting); the busy timeout (seconds) makes a writer wait for the lock instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL"}
    )
    # A file, not memory, so that a Celery worker process in the tests sees the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "accounts.backends.LockoutBackend",  # django-axes: counts failures, refuses locked-out logins
    "django.contrib.auth.backends.ModelBackend",
]
# Five wrong passwords for one username from one address lock it for 15 minutes.
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = 0.25  # hours
# Never the username alone: that would let anyone lock anyone out.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "core.net.client_ip"  # the trusted-proxy rule (TRUSTED_PROXY_COUNT)
AXES_USERNAME_CALLABLE = "accounts.backends.lockout_username"  # never stores more than a username holds
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# How many proxies in front of the app append the client's address to X-Forwarded-For. 0 (no proxy):
# the header is ignored. One rule (core.net.client_ip) for the login throttle, django-axes and the
# request log; DRF's NUM_PROXIES below is the same number.
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))
# A session ends after this long without a request (accounts.middleware), and SESSION_COOKIE_AGE
# (seconds; Django's default, two weeks) after its login whatever the activity.
SESSION_IDLE_TIMEOUT_MINUTES = float(os.environ.get("SESSION_IDLE_TIMEOUT_MINUTES", "30"))
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_COOKIE_AGE", str(60 * 60 * 24 * 14)))
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "America/Los_Angeles")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns on every request when it is missing
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Security (production values when DEBUG is off; `check --deploy` stays clean) ---
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page's meta tag, not the cookie
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(60 * 60 * 24 * 365)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
SECURE_REDIRECT_EXEMPT = [r"^health/$", r"^healthz$", r"^readyz$"]

# --- REST API ---
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "core.api.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "core.schema.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
}
# Uploads (rosters, experience, utilisation, 834s) above this are refused with a 413.
MAX_UPLOAD_BYTES = int(os.environ.get("MAX_UPLOAD_BYTES", str(200 * 1024 * 1024)))
# The largest X12 file (834 eligibility, 837 encounters) read; an 834 upload may be this big (it is read
# as a stream, so memory does not grow with it). Default 2 GB: a plan of 5 million members sends ~1.2 GB.
X12_MAX_BYTES = int(os.environ.get("CAREBUNDLE_X12_MAX_BYTES", str(2 * 1024**3)))
# Uploaded files up to this size are parsed in the request; every larger one by a Celery worker (the
# answer is 202 and the upload's status says when it is done), so no request spends long on a file.
UPLOAD_SYNC_MAX_BYTES = int(os.environ.get("UPLOAD_SYNC_MAX_BYTES", str(64 * 1024)))
# Provider-facing performance hides counts from 1 to this (performance/suppression.py); 0 shows them.
SMALL_COUNT_SUPPRESSION = int(os.environ.get("SMALL_COUNT_SUPPRESSION", "10"))
DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
API_TOKEN_TTL_HOURS = int(os.environ.get("API_TOKEN_TTL_HOURS", "24"))
# Two-factor sign-in (django-otp, accounts.two_factor): the name authenticator apps show for the account.
OTP_TOTP_ISSUER = "carebundle"
# An invitation's link works this long after it was (re)sent.
INVITATION_TTL_DAYS = int(os.environ.get("INVITATION_TTL_DAYS", "14"))

SPECTACULAR_SETTINGS = {
    "TITLE": "carebundle API",
    "DESCRIPTION": (
        "Bundled payment pricing and contract management for home-based and outpatient palliative "
        "care. Authenticate with `POST /api/v1/auth/token/` and send `Authorization: Token <token>`. "
        "A user in several organisations picks one with the `X-Organization` header (its id). "
        "Every error has the body `{code, message, details}`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Several models have a `status` with their own choices; name each enum after its model.
    "ENUM_NAME_OVERRIDES": {
        "BundleVersionStatusEnum": "bundles.models.BundleVersionStatus",
        "AssumptionSetVersionStatusEnum": "pricing.models.AssumptionSetVersionStatus",
        "ContractStatusEnum": "contracts.models.ContractStatus",
        "ContractVersionStatusEnum": "contracts.models.VersionStatus",
        "BaselineMethodEnum": "contracts.rules.BASELINE_METHOD_CODES",
        "WorkItemKindEnum": "core.worklist.KIND_CODES",
        "InvitationStatusEnum": "accounts.models.InvitationStatus",
    },
    "APPEND_COMPONENTS": {
        "securitySchemes": {
            "tokenAuth": {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "`Token <token>` from POST /api/v1/auth/token/",
            }
        }
    },
}

# --- Celery: Redis when REDIS_URL is set, otherwise an embedded filesystem broker ---
REDIS_URL = os.environ.get("REDIS_URL", "")
CELERY_DATA_DIR = VAR_DIR / "celery"
#: Redis gives an unacknowledged message (acks_late: its worker died) to another worker after this long.
CELERY_REDIS_VISIBILITY_TIMEOUT = 60 * 60
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {"visibility_timeout": CELERY_REDIS_VISIBILITY_TIMEOUT}
else:
    for sub in ("in", "processed", "results", "control"):
        (CELERY_DATA_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_DATA_DIR / "in"),
        "data_folder_out": str(CELERY_DATA_DIR / "in"),
        "processed_folder": str(CELERY_DATA_DIR / "processed"),
        "store_processed": False,
        "control_folder": str(CELERY_DATA_DIR / "control"),
    }
    CELERY_RESULT_BACKEND = f"file://{CELERY_DATA_DIR / 'results'}"
CELERY_TASK_ACKS_LATE = True  # a worker killed mid-task leaves the message for a retry
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ALWAYS_EAGER = False
# Two queues: heavy work (minutes of CPU: pricing runs and their analyses, big uploads, a month's
# payment runs, rate sheet zips, claims completion) goes to "heavy", everything else (notifications,
# sweeps, heartbeats, reminders) stays on "celery", so light tasks never wait behind a pricing run.
# A worker started without -Q consumes both (`make run`, a small deployment); docker-compose.yml
# runs a worker for each, scaled separately (docs/operations.md).
HEAVY_QUEUE = "heavy"
HEAVY_TASKS = (
    "pricing.run_pricing",
    "pricing.run_sensitivity",
    "pricing.process_experience_upload",
    "enrollment.process_roster",
    "enrollment.process_eligibility_file",
    "payments.calculate_run",
    "core.run_bulk_item",
    "claims.process_claims_upload",
    "claims.compute_completion",
    "performance.process_utilization_upload",
)
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = (Queue(CELERY_TASK_DEFAULT_QUEUE), Queue(HEAVY_QUEUE))
CELERY_TASK_ROUTES = {name: {"queue": HEAVY_QUEUE} for name in HEAVY_TASKS}
# Every task has time limits. The soft one raises SoftTimeLimitExceeded inside the task, which then
# records the failure on its row (a run, a submission) instead of leaving it half done; the hard one
# kills the worker process a minute later if even that hangs. Long tasks (pricing runs, ingests,
# payment runs, rate sheet zips) set longer limits on their decorator. Every limit stays below the
# Redis visibility timeout (above), or a task still running would be delivered to a second worker.
CELERY_TASK_SOFT_TIME_LIMIT = int(os.environ.get("CELERY_TASK_SOFT_TIME_LIMIT", str(5 * 60)))
CELERY_TASK_TIME_LIMIT = int(os.environ.get("CELERY_TASK_TIME_LIMIT", str(6 * 60)))
CELERY_BEAT_SCHEDULE: dict = {
    # Readiness (/readyz) needs a worker to have run this lately (core.health).
    "core-heartbeat": {"task": "core.heartbeat", "schedule": 60, "options": {"expires": 55}},
    # Active contracts whose end date has come become expired (contracts.services.contracts_expire_due).
    "contracts-expire-due": {
        "task": "contracts.expire_due",
        "schedule": 60 * 60 * 24,
        "options": {"expires": 60 * 60},
    },
    # A missing roster: providers are e-mailed a few days before the due day (enrollment.services).
    "enrollment-roster-reminders": {
        "task": "enrollment.send_roster_reminders",
        "schedule": 60 * 60 * 24,
        "options": {"expires": 60 * 60},
    },
    # Months past their due day without an accepted roster are marked late.
    "enrollment-mark-late": {
        "task": "enrollment.mark_late_rosters",
        "schedule": 60 * 60 * 24,
        "options": {"expires": 60 * 60},
    },
    # After the roster due day, each contract month with an accepted roster gets its payment run
    # (payments.services.payment_runs_start_due); runs stuck calculating are queued again.
    "payments-start-due-runs": {
        "task": "payments.start_due_runs",
        "schedule": 60 * 60 * 6,
        "options": {"expires": 60 * 60},
    },
    # Pricing runs queued or running with no sign of life for 15 minutes (their whole worker died; Redis
    # would give the message back only after its visibility timeout) are queued again
    # (pricing.services.pricing_runs_requeue_stalled).
    # Each member's worklist becomes notifications (and e-mails, as chosen) and each organisation's
    # webhook deliveries, once per item (notifications.services.notifications_sweep).
    "notifications-sweep": {
        "task": "notifications.sweep",
        "schedule": 60 * 5,
        "options": {"expires": 60 * 5},
    },
    # The partitioned history tables (core.partitions): next months' partitions made ahead, months past
    # PARTITION_RETENTION_MONTHS detached to the archive schema (docs/operations.md, "Partitioned history").
    "core-ensure-partitions": {
        "task": "core.ensure_partitions",
        "schedule": 60 * 60 * 24,
        "options": {"expires": 60 * 60},
    },
    "pricing-requeue-stalled-runs": {
        "task": "pricing.requeue_stalled_runs",
        "schedule": 60 * 10,
        "options": {"expires": 60 * 10},
    },
}
#: PostgreSQL only (core.partitions): months of partitions kept made ahead of the current one, and the
#: months kept attached before a month partition is detached to the archive schema (0: never detached).
#: 120 months: ten years, the longest the plan's records are kept (docs/operations.md, "Partitioned history").
PARTITION_MONTHS_AHEAD = int(os.environ.get("PARTITION_MONTHS_AHEAD", "3"))
PARTITION_RETENTION_MONTHS = int(os.environ.get("PARTITION_RETENTION_MONTHS", "120"))
#: /readyz fails when no worker has run the heartbeat task for this long (seconds).
READINESS_WORKER_SECONDS = int(os.environ.get("READINESS_WORKER_SECONDS", "180"))
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
#: Where people reach the site: the links in e-mails and webhook bodies start with it.
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000")
#: Webhooks may go to private and loopback addresses (and over http): a developer's machine or a test's
#: local receiver; never in production, where an endpoint inside our network would be an SSRF.
WEBHOOK_ALLOW_PRIVATE_ADDRESSES = env_bool("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", DEBUG)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "carebundle <no-reply@carebundle.local>")
# The SMTP server of a deployment (Django's names); the console backend needs none of them.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)

# Logs: one JSON object per line in production (LOG_FORMAT=json), readable text in development; each
# line carries the request id, also in the tasks a request starts (core.observability).
LOG_FORMAT = os.environ.get("LOG_FORMAT", "text" if DEVELOPMENT else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "core.observability.RequestIdFilter"}},
    "formatters": {
        "json": {"()": "core.observability.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": "json" if LOG_FORMAT == "json" else "text",
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.request": {"level": "ERROR"},
        "axes": {"level": "WARNING"},
        # One line per request (core.middleware.RequestLogMiddleware) at INFO; a development server
        # logs its own, so there only when asked for.
        "carebundle.request": {
            "level": os.environ.get(
                "REQUEST_LOG_LEVEL", "WARNING" if DEVELOPMENT else os.environ.get("LOG_LEVEL", "INFO")
            )
        },
    },
}
# The worker logs through the configuration above (JSON, request ids), not Celery's own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# Metrics (core.metrics) at /metrics for a scraper sending "Authorization: Bearer <METRICS_TOKEN>";
# not served without a token outside development. A worker serves its own on WORKER_METRICS_PORT.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
METRICS_QUEUES = os.environ.get("METRICS_QUEUES", f"celery,{HEAVY_QUEUE}").split(",")
WORKER_METRICS_PORT = int(os.environ.get("WORKER_METRICS_PORT", "0"))

#: Where `manage.py backup` writes its folders without --output (core/backup.py, docs/operations.md).
BACKUP_DIR = Path(os.environ.get("BACKUP_DIR", VAR_DIR / "backups"))

# Errors to Sentry when SENTRY_DSN is set. Member data (PHI) never leaves: no user details, no
# request bodies, no local variables in stack traces.
SENTRY_DSN = os.environ.get("SENTRY_DSN", "")
if SENTRY_DSN:
    import sentry_sdk

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        environment=os.environ.get("SENTRY_ENVIRONMENT", CAREBUNDLE_ENV),
        traces_sample_rate=float(os.environ.get("SENTRY_TRACES_SAMPLE_RATE", "0")),
        send_default_pii=False,
        max_request_body_size="never",
        include_local_variables=False,
    )
