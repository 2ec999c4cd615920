"""MiniGo settings.

Everything comes from environment variables through the typed helpers in minigo.env. With
nothing set MiniGo runs embedded (SQLite, in-memory channel layer, eager Celery);
DATABASE_URL and REDIS_URL switch to PostgreSQL and Redis with real Celery workers.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from edge_agent import protocol
from minigo.env import envbool, envfloat, envint, envlist, envstr
from minigo.local_state import lazy_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent
# Named here, made by minigo.local_state.ensure_folders() (manage.py runs it): importing the
# settings creates nothing.
VAR_DIR = Path(envstr("MINIGO_VAR_DIR", str(BASE_DIR / "var")))

# Without SECRET_KEY, a random key kept in VAR_DIR/secret_key, made when first used: sessions
# survive restarts and no two installs share a key.
SECRET_KEY = envstr("SECRET_KEY") or lazy_secret_key(VAR_DIR)
DEBUG = envbool("DEBUG", False)
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "store",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "minigo.request_limits.RefuseNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "minigo.urls"
WSGI_APPLICATION = "minigo.wsgi.application"
ASGI_APPLICATION = "minigo.asgi.application"

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
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = envstr("DATABASE_URL")
if DATABASE_URL:
    try:
        _db = dj_database_url.parse(DATABASE_URL, conn_max_age=envint("DB_CONN_MAX_AGE", 60))
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {exc}") from None
    if _db["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured("DATABASE_URL must be a postgres:// URL")
    _db["CONN_HEALTH_CHECKS"] = True
    # A server started by an end-to-end test serves the test database (MINIGO_DB_NAME).
    _db["NAME"] = envstr("MINIGO_DB_NAME") or _db["NAME"]
    _test_name = envstr("MINIGO_TEST_DB_NAME")
    if _test_name:
        _db["TEST"] = {"NAME": _test_name}
else:
    _db = {
        "ENGINE": "django.db.backends.sqlite3",
        # MINIGO_DB_NAME: a server started by an end-to-end test serves the test database.
        "NAME": envstr("MINIGO_DB_NAME", str(VAR_DIR / "minigo.sqlite3")),
        "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        # A file, not memory, so that a daphne server started by a test in another process
        # sees the same test database.
        "TEST": {"NAME": envstr("MINIGO_TEST_DB_NAME", str(VAR_DIR / "test-minigo.sqlite3"))},
    }
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer and Celery --------------------------------------------------------
REDIS_URL = envstr("REDIS_URL")
if REDIS_URL and not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured("REDIS_URL must be a redis:// or rediss:// URL")

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # redis-py ≥ 6 times socket reads out after 5 s by default, exactly the
                # channel layer's blocking-pop timeout: idle sockets would die with
                # "Timeout reading from redis". Reads may block longer than that pop.
                "hosts": [{"address": REDIS_URL, "socket_timeout": 30}],
                "prefix": envstr("MINIGO_CHANNEL_PREFIX", "minigo"),
                "capacity": envint("MINIGO_CHANNEL_CAPACITY", 1000, minimum=10),
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
# Nothing reads a task's return value (tasks report through the database and the live
# channels), so none is written to the result backend; a task that someone waits on opts in
# with ignore_result=False.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER", not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
# Invariant 1: a worker that dies mid-task must leave the message on the broker so another
# worker runs it again; the tasks are idempotent, so the repeat cannot apply anything twice.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": envint("CELERY_VISIBILITY_TIMEOUT", 600)}
# A broker that goes away (Redis restarted, the network dropped) is waited for, forever,
# at start-up and while running; a task cut off by the loss is cancelled, since acks_late
# leaves its message to be delivered again. Workers run with --without-gossip
# --without-mingle --without-heartbeat (Makefile, deploy/systemd): those broadcast
# features are where kombu's reconnect raised "Unrecoverable error: AttributeError" and
# ended the worker. A worker that dies anyway is restarted by its supervisor.
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_BROKER_CHANNEL_ERROR_RETRY = True
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# The periodic jobs, in seconds. Celery beat runs them with workers; embedded, the server's
# own thread runs the same table (minigo.embedded_beat).
CELERY_BEAT_SCHEDULE = {
    "expire-frames": {"task": "store.tasks.expire_frames", "schedule": 3600.0},
    "mark-devices-offline": {"task": "store.tasks.mark_stale_devices_offline", "schedule": 30.0},
    # Shelf events still waiting past their window are decided (embedded, this is how they
    # are; with workers each has its own final run queued, and this catches those lost with
    # the broker: store.tasks.settle_shelf_events).
    "settle-shelf-events": {
        "task": "store.tasks.settle_shelf_events",
        "schedule": 1.0,
        # A run queued behind a backlog is dropped rather than run late: the next one is due.
        "options": {"expires": 10.0},
    },
    # Visits of shoppers who left unseen end (MINIGO["VISIT_IDLE_S"]).
    "close-idle-visits": {
        "task": "store.tasks.close_idle_visits",
        "schedule": 60.0,
        "options": {"expires": 60.0},
    },
    # Receipts of visits whose evidence is complete (or past the deadline) are issued; the
    # watermark reports and decided events trigger it at once, this catches the rest.
    "settle-receipts": {
        "task": "store.tasks.settle_receipts",
        "schedule": 2.0,
        "options": {"expires": 10.0},
    },
    # Frames whose task was lost with the broker's queue are queued again.
    "recover-frames": {"task": "store.tasks.recover_frames", "schedule": 60.0},
    # Checked every 15 minutes; the mail itself goes out once per store-local day.
    "stock-report": {"task": "store.tasks.send_stock_report", "schedule": 900.0},
    # Tab stores mail last month's statement to those who owe, once a month.
    "tab-statements": {"task": "store.tasks.send_tab_statements", "schedule": 900.0},
}

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": envstr("MINIGO_CHANNEL_PREFIX", "minigo"),
        },
    }
    # Frames' pixels until processed: in Redis, which every worker reaches (services/pixels.py).
    CACHES["frames"] = {**CACHES["default"], "TIMEOUT": None}
else:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        # Embedded, tasks run in the server process at once; no culling of waiting pixels.
        "frames": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "frames",
            "TIMEOUT": None,
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        },
    }

# --- Auth, sessions, security ---------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", False)
X_FRAME_OPTIONS = "DENY"
# Behind nginx terminating TLS (deploy/): trust its X-Forwarded-Proto, so Django knows the
# request was HTTPS (CSRF origin checks, secure redirects). Only behind such a proxy.
if envbool("MINIGO_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

LANGUAGE_CODE = "en-us"
TIME_ZONE = envstr("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Served by WhiteNoise straight from the source folders, so no collectstatic step is needed.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(envstr("MEDIA_ROOT", str(VAR_DIR / "media")))
DATA_UPLOAD_MAX_MEMORY_SIZE = envint("MINIGO_UPLOAD_MAX_BYTES", 10 * 1024 * 1024, minimum=1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = DATA_UPLOAD_MAX_MEMORY_SIZE

# Mail holds password-reset links and receipts (address and items): printing it on the
# server's output would put them in every log collector, past the log redaction. So the
# console backend is for DEBUG only; otherwise mail goes to files (EMAIL_FILE_PATH) until an
# SMTP server is configured (EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend).
_CONSOLE_MAIL = "django.core.mail.backends.console.EmailBackend"
EMAIL_BACKEND = envstr(
    "EMAIL_BACKEND", _CONSOLE_MAIL if DEBUG else "django.core.mail.backends.filebased.EmailBackend"
)
if EMAIL_BACKEND == _CONSOLE_MAIL and not DEBUG:
    raise ImproperlyConfigured(
        "EMAIL_BACKEND console prints reset links and receipts to the server's output: "
        "use it only with DEBUG=true; use the file or smtp backend otherwise"
    )
# Used by the file-based backend (end-to-end tests read the receipt emails from here).
EMAIL_FILE_PATH = envstr("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
EMAIL_HOST = envstr("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = envstr("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = envstr("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = envbool("EMAIL_USE_SSL", False)
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "MiniGo <receipts@minigo.local>")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "store.api.errors.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "store.api.pagination.BoundedLimitOffsetPagination",
    "PAGE_SIZE": 100,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "MiniGo API",
    "DESCRIPTION": "A self-hosted just-walk-out store.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"redact": {"()": "minigo.logging_filters.RedactSecrets"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]}
    },
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
        # Task and wake timings for the load bench (minigo/trace.py).
        "minigo.trace": {"level": "DEBUG" if envbool("MINIGO_TRACE", False) else "WARNING"},
    },
}

# --- MiniGo ---------------------------------------------------------------------------------
_ws_max = envint("MINIGO_WS_MAX_MESSAGE_BYTES", protocol.DEFAULT_WS_MAX_MESSAGE_BYTES, minimum=8192)
_frame_max = envint("MINIGO_FRAME_MAX_BYTES", _ws_max - protocol.MAX_HEADER_BYTES - 4, minimum=1024)
if _frame_max + protocol.MAX_HEADER_BYTES + 4 > _ws_max:
    raise ImproperlyConfigured(
        "MINIGO_FRAME_MAX_BYTES must leave room for the frame header within "
        "MINIGO_WS_MAX_MESSAGE_BYTES (raise daphne's --websocket-max-message-size with it)"
    )

MINIGO = {
    # Attribution below this confidence goes to the review queue (invariant 5).
    "ATTRIBUTION_THRESHOLD": envfloat("MINIGO_ATTRIBUTION_THRESHOLD", 0.8, minimum=0.0),
    # Seconds around a shelf event in which faces seen by that shelf's camera count.
    "ATTRIBUTION_WINDOW_S": envfloat("MINIGO_ATTRIBUTION_WINDOW_S", 3.0, minimum=0.0),
    # How long past its window a doubtful shelf event waits for late camera frames (frames
    # and weight events race) before it is decided, and goes to review if still in doubt.
    "ATTRIBUTION_GRACE_S": envfloat("MINIGO_ATTRIBUTION_GRACE_S", 1.0, minimum=0.0),
    # A visit whose shopper no camera has seen for this long ends where they were last seen:
    # they left while the exit camera missed every frame of them (its receipt is issued then).
    "VISIT_IDLE_S": envfloat("MINIGO_VISIT_IDLE_S", 1800.0, minimum=60.0),
    # Replay only: accept frames whose header says what the camera "sees" (synthetic
    # scenarios). Off in production: a device must never be able to claim identities.
    "ACCEPT_SEES": envbool("MINIGO_ACCEPT_SEES", envbool("MINIGO_DEMO", False)),
    # Demo server (`make demo`): accepts `sees` frames, and shoppers a replay creates get a
    # known password so anyone can watch a replayed shopper's phone. Never in production.
    "DEMO": envbool("MINIGO_DEMO", False),
    "FACE_TOLERANCE": envfloat("MINIGO_FACE_TOLERANCE", 0.5, minimum=0.0),
    # Faces are detected on a copy of the frame at most this many pixels on its longer side.
    "FACE_DETECT_MAX_SIDE": envint("MINIGO_FACE_DETECT_MAX_SIDE", 640, minimum=160),
    # The largest websocket message daphne takes (its --websocket-max-message-size, 1 MiB by
    # default): a frame over it would be dropped with the connection, before MiniGo could
    # answer, and the agent would send it first again forever. So frames are at most what
    # fits in one message, and devices learn the limit from their config.
    "WS_MAX_MESSAGE_BYTES": _ws_max,
    "FRAME_MAX_BYTES": _frame_max,
    "FRAME_MAX_PIXELS": envint("MINIGO_FRAME_MAX_PIXELS", 4096 * 4096, minimum=64 * 64),
    # Frames are kept only when this is on (for retraining data), and then expire.
    "KEEP_FRAMES": envbool("MINIGO_KEEP_FRAMES", False),
    "FRAME_RETENTION_HOURS": envint("MINIGO_FRAME_RETENTION_HOURS", 72, minimum=1),
    # A frame still pending this long after it arrived is queued again (its task was lost).
    "FRAME_RECOVER_AFTER_S": envint("MINIGO_FRAME_RECOVER_AFTER_S", 300, minimum=10),
    # A frame still pending this long is marked failed; its pixels, waiting in the "frames"
    # cache until processed (store/services/pixels.py), expire with it.
    "FRAME_PENDING_TTL_S": envint("MINIGO_FRAME_PENDING_TTL_S", 6 * 3600, minimum=60),
    # Faces on shelf frames on demand (store/services/ondemand.py): one frame per shelf this
    # often for "last seen" (0: never), and how long past the window a deferred frame's pixels
    # wait for an event that may still ask for them.
    "FACES_LAST_SEEN_EVERY_S": envint("MINIGO_FACES_LAST_SEEN_EVERY_S", 5, minimum=0),
    "FACES_DEFERRED_SLACK_S": envint("MINIGO_FACES_DEFERRED_SLACK_S", 30, minimum=0),
    # Product detection: onnxruntime threads per worker process, and how far around a weight
    # event the shelf camera's frames are compared with it.
    "DETECTOR_THREADS": envint("MINIGO_DETECTOR_THREADS", 1, minimum=1),
    "DETECTION_WINDOW_S": envfloat("MINIGO_DETECTION_WINDOW_S", 10.0, minimum=0.0),
    # A receipt waits for every shelf device to report past the exit time; a shelf silent
    # this long after the exit gets the receipt issued as provisional (its evidence amends it).
    "SETTLE_DEADLINE_S": envfloat("MINIGO_SETTLE_DEADLINE_S", 60.0, minimum=0.0),
    "DEVICE_OFFLINE_AFTER_S": envint("MINIGO_DEVICE_OFFLINE_AFTER_S", 60, minimum=5),
    # The largest HTTP request body (a kiosk's photos, a detector model upload); larger ones
    # are refused with 413 before anything parses them. nginx's client_max_body_size in
    # deploy/ matches it.
    "BODY_MAX_BYTES": envint("MINIGO_BODY_MAX_BYTES", 64 * 1024 * 1024, minimum=1024 * 1024),
    # How far ahead of the server's clock a device's event times may be.
    "CLOCK_SKEW_S": envfloat("MINIGO_CLOCK_SKEW_S", protocol.MAX_CLOCK_SKEW_S, minimum=1.0),
    "QR_TTL_S": envint("MINIGO_QR_TTL_S", 120, minimum=10),
    "CURRENCY": envstr("MINIGO_CURRENCY", "EUR"),
    "LOW_STOCK_DEFAULT": envint("MINIGO_LOW_STOCK_DEFAULT", 3, minimum=0),
    # The store's own clock for sale hours (no alcohol 22:00-06:00), best-before dates and the
    # daily cash-up; an IANA name such as "Europe/Berlin". Defaults to TIME_ZONE.
    "STORE_TIME_ZONE": envstr("MINIGO_STORE_TIME_ZONE", TIME_ZONE),
    # Companions announced by a payer ("+2") join when the entry gate sees them within this
    # many seconds of the payer; an announcement lapses after the TTL if nobody came.
    "GROUP_WINDOW_S": envfloat("MINIGO_GROUP_WINDOW_S", 5.0, minimum=0.0),
    "GROUP_ANNOUNCE_TTL_S": envint("MINIGO_GROUP_ANNOUNCE_TTL_S", 600, minimum=10),
    "GROUP_MAX_COMPANIONS": envint("MINIGO_GROUP_MAX_COMPANIONS", 8, minimum=1),
    # The daily low-stock and expiring-soon mail is sent from this store-local hour on.
    "STOCK_REPORT_HOUR": envint("MINIGO_STOCK_REPORT_HOUR", 6, minimum=0),
    # Embedded (no Redis): run the periodic jobs (deciding picks whose camera window has
    # closed, devices going offline, frames expiring) in a thread of the server process.
    "EMBEDDED_BEAT": envbool("MINIGO_EMBEDDED_BEAT", True),
    # Rate limits: attempts per window (seconds).
    "LOGIN_LIMIT": envint("MINIGO_LOGIN_LIMIT", 10, minimum=1),
    "LOGIN_WINDOW_S": envint("MINIGO_LOGIN_WINDOW_S", 300, minimum=1),
    "ENROL_LIMIT": envint("MINIGO_ENROL_LIMIT", 20, minimum=1),
    "ENROL_WINDOW_S": envint("MINIGO_ENROL_WINDOW_S", 3600, minimum=1),
    "FRAME_RATE_LIMIT": envint("MINIGO_FRAME_RATE_LIMIT", 600, minimum=1),
    "FRAME_RATE_WINDOW_S": envint("MINIGO_FRAME_RATE_WINDOW_S", 60, minimum=1),
}
