"""MedConnect settings.

Every value comes from the environment or from a `.env` file beside this
project (see `.env.example`, which documents each variable). Defaults are the
safe ones: DEBUG off, HTTPS-only cookies and HSTS unless HTTPS is turned off.
"""

import os
import secrets
import tempfile
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

# A relative DATA_DIR is taken from the project folder.
DATA_DIR = BASE_DIR / env.str("DATA_DIR", default="data")
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """Use SECRET_KEY, or a random key kept in the data folder.

    A per-install key means a fresh checkout never runs on a known key, and
    sessions survive restarts without anyone having to invent one.
    """
    if key := env.str("SECRET_KEY", default=""):
        return key
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "crispy_forms",
    "crispy_bootstrap5",
    # django-axes, under a Portuguese section name in the admin.
    "accounts.apps.AxesConfig",
    "csp",
    "accounts",
    "rooms",
    "clinical",
    "billing",
    "closings",
    "medconnect",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Before the timeout below, so it still sees who was signed in when it logs them out.
    "accounts.middleware.PrivatePagesMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # After messages: an expired session is told why on the login page.
    "accounts.middleware.SessionTimeoutMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, so it sees the outcome of every authentication attempt.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "medconnect.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "medconnect.asgi.application"

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
                "medconnect.context_processors.clinic",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------
# SQLite by default, tuned for a web server with a few concurrent writers:
# WAL lets readers run beside a writer, IMMEDIATE transactions take the write
# lock up front (no "database is locked" on upgrade), and the timeout waits
# for the lock instead of failing.
SQLITE_PATH = DATA_DIR / "medconnect.sqlite3"
# An empty variable (as in a copied .env.example) means "use the default".
DATABASES = {
    "default": env.db_url_config(env.str("DATABASE_URL", default="") or f"sqlite:///{SQLITE_PATH}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # Browser tests run Daphne in another process, which needs a file; one per
    # test run, so two runs side by side never share it.
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(tempfile.gettempdir()) / f"medconnect-test-{os.getpid()}.sqlite3")
    }
# Keep connections open between requests: under Daphne, views and the
# WebSocket consumers' database calls share a few threads, and reopening a
# connection each time doubled the cost of admitting a call participant.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Channels -----------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Authentication -----------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # The manager matches the e-mail case-insensitively (UserManager.get_by_natural_key).
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    # The first guesses of a password spray ("MedConnect2026", "Clinica2026").
    {"NAME": "accounts.validators.SiteNamePasswordValidator"},
]
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=60 * 60 * 24)
INVITATION_TIMEOUT = env.int("INVITATION_TIMEOUT", default=60 * 60 * 24 * 7)

# Lock out a (username, IP) pair, never a username alone: a stranger guessing
# a doctor's password from elsewhere must not lock the doctor out.
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_CALLABLE = "accounts.backends.axes_username"
AXES_LOCKOUT_TEMPLATE = "registration/lockout.html"
AXES_CLIENT_IP_CALLABLE = "accounts.backends.client_ip"
# accounts/admin.py shows axes' tables, named and dated for the clinic.
AXES_ENABLE_ADMIN = False
# A second, higher limit per IP across all usernames: one address trying one
# password on many accounts (a spray) is locked too. Set it well above
# AXES_FAILURE_LIMIT, since a clinic's staff may share one public address.
AXES_HANDLER = "accounts.lockout.SprayAwareAxesHandler"
AXES_IP_FAILURE_LIMIT = env.int("AXES_IP_FAILURE_LIMIT", default=20)
# How many proxies in front of Daphne append to X-Forwarded-For. 0 means the
# header is never trusted (anyone could forge it to dodge or cause lockouts).
PROXY_COUNT = env.int("PROXY_COUNT", default=0)
# WebSocket handshakes one client address may open per minute, in each server
# process (a burst of that many at once, then refilled evenly).
WS_HANDSHAKES_PER_MINUTE = env.int("WS_HANDSHAKES_PER_MINUTE", default=600)

# --- Security -----------------------------------------------------------------
HTTPS = env.bool("HTTPS", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Database sessions, read with one written-out query (accounts/sessions.py).
SESSION_ENGINE = "accounts.sessions"
SESSION_COOKIE_HTTPONLY = True
# Clinic computers are shared: a session ends after this long without a
# request (the pages warn a couple of minutes before, and a call in progress
# keeps it alive), and in any case this long after signing in.
SESSION_IDLE_TIMEOUT_MINUTES = env.int("SESSION_IDLE_TIMEOUT_MINUTES", default=30)
SESSION_IDLE_WARNING_MINUTES = 2
SESSION_MAX_AGE_HOURS = env.float("SESSION_MAX_AGE_HOURS", default=12)
SESSION_COOKIE_AGE = int(SESSION_MAX_AGE_HOURS * 3600)
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS and env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
BEHIND_PROXY = env.bool("BEHIND_PROXY", default=False)
if BEHIND_PROXY:
    # Only trust X-Forwarded-Proto when a TLS proxy in front of Daphne sets it.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:", "blob:"],
        "font-src": [SELF],
        "media-src": [SELF, "blob:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# Uploads: photos are at most 5 MB; anything bigger is refused by the form
# before Pillow sees it.
PHOTO_MAX_BYTES = 5 * 1024 * 1024
PHOTO_MAX_SIDE = 512
PHOTO_MAX_PIXELS = env.int("PHOTO_MAX_PIXELS", default=40_000_000)
# Each person may send this many photos per window; more gets a 429 page.
PHOTO_UPLOAD_LIMIT = env.int("PHOTO_UPLOAD_LIMIT", default=10)
PHOTO_UPLOAD_WINDOW_MINUTES = env.int("PHOTO_UPLOAD_WINDOW_MINUTES", default=10)
# Request bodies and uploaded files past 1 MB wait on disk, not in memory, so
# a burst of near-limit uploads does not grow the server's memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
# Form fields other than files (Django's default): the longest clinical note
# is far below it.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(2.5 * 1024 * 1024)

# --- E-mail -------------------------------------------------------------------
# With no EMAIL_URL, messages go to the console (the password-reset link is
# printed where `make run` runs); invitations are then shown, not e-mailed.
EMAIL_URL = env.str("EMAIL_URL", default="")
EMAIL_CONFIGURED = bool(EMAIL_URL)
vars().update(env.email_url_config(EMAIL_URL or "consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="MedConnect <no-reply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Internationalization -----------------------------------------------------
LANGUAGE_CODE = "pt-br"
LANGUAGES = [("pt-br", _("Brazilian Portuguese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = env.str("TIME_ZONE", default="America/Sao_Paulo")
USE_THOUSAND_SEPARATOR = True

CLINIC_NAME = env.str("CLINIC_NAME", default="MedConnect")
# The PIX payment code carries the merchant city: at most 15 characters, accents dropped.
CLINIC_CITY = env.str("CLINIC_CITY", default="Sao Paulo")

# --- Video calls ---------------------------------------------------------------
# An empty STUN_URLS means no STUN server (a LAN-only clinic, or the tests,
# which must not reach outside the machine).
STUN_URLS = [u for u in env.list("STUN_URLS", default=["stun:stun.l.google.com:19302"]) if u]
TURN_URLS = [u for u in env.list("TURN_URLS", default=[]) if u]
TURN_SECRET = env.str("TURN_SECRET", default="")
TURN_TTL_SECONDS = env.int("TURN_TTL_SECONDS", default=6 * 3600)
# Open rooms with nobody in them for this long are finalized by `finalize_stale_rooms`.
STALE_ROOM_HOURS = env.float("STALE_ROOM_HOURS", default=12)

# How long an admin's emergency access (break-glass) to one patient's record lasts.
EMERGENCY_ACCESS_MINUTES = env.int("EMERGENCY_ACCESS_MINUTES", default=30)

# --- Static and private media -------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Profile photos and other private files live outside any public URL; views
# that check access stream them.
PRIVATE_MEDIA_ROOT = BASE_DIR / (env.str("PRIVATE_MEDIA_ROOT", default="") or DATA_DIR / "private")
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": PRIVATE_MEDIA_ROOT, "base_url": None},
    },
    "staticfiles": {
        "BACKEND": (
            "medconnect.storage.StaticStorage"
            if env.bool("STATIC_MANIFEST", default=not DEBUG)
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        ),
    },
}
WHITENOISE_USE_FINDERS = DEBUG

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

# --- Database reset -------------------------------------------------------------
# `manage.py reset_database` and the admins' reset page delete every doctor,
# patient, consultation, record and billing record (admins stay), after a backup
# into RESET_BACKUP_DIR. On by default for a local or demo install; a clinic in
# production turns it off: medical records must be kept for 20 years (Lei 13.787/2018).
ALLOW_DATABASE_RESET = env.bool("ALLOW_DATABASE_RESET", default=True)
# A relative path is taken from the project folder.
RESET_BACKUP_DIR = BASE_DIR / (env.str("RESET_BACKUP_DIR", default="") or DATA_DIR / "backups")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.request": {"level": "ERROR"},
        "axes": {"level": "WARNING"},
    },
}
