"""Settings, read from the environment (every variable is listed in .env.example).

With nothing configured s2svpn runs self-contained: SQLite under ``./var/``, an embedded Redis as
Celery broker and cache (run by ``manage.py up`` on a unix socket under ``./var/redis/``), and a
generated ``SECRET_KEY`` and field-encryption key in ``./var/`` (mode 0600, written at first start
by ``s2svpn.vardir.prepare``, which the entry points call). ``DATABASE_URL`` switches to
PostgreSQL, ``REDIS_URL`` to Redis. Importing this module writes nothing, and a value that cannot
be read is an ``ImproperlyConfigured`` naming its variable.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from s2svpn import vardir

BASE_DIR = vardir.BASE_DIR
TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off"}


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    word = value.strip().lower()
    if word not in TRUE | FALSE:
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a yes/no value: use one of 1/0, true/false, yes/no, on/off."
        )
    return word in TRUE


def _number(name: str, default, kind, what: str):
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return kind(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not {what}.") from None


def env_int(name: str, default: int) -> int:
    return _number(name, default, int, "a whole number")


def env_float(name: str, default: float) -> float:
    return _number(name, default, float, "a number")


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


def env_secret(name: str, default: str = "") -> str:
    """``NAME`` or the contents of the file named by ``NAME_FILE`` (Docker secrets)."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as err:
            raise ImproperlyConfigured(
                f"{name}_FILE={path!r} cannot be read ({err.strerror or err})."
            ) from None
    return os.environ.get(name, default)


VAR_DIR = vardir.var_dir()

DEBUG = env_bool("S2SVPN_DEBUG", False)
# Empty until the first start generated it (Django then refuses to run, naming SECRET_KEY).
SECRET_KEY = env_secret("SECRET_KEY") or vardir.read_generated(vardir.SECRET_KEY_FILE)
# Comma-separated Fernet keys, newest first: new values are encrypted with the first, all are
# tried for decryption (MultiFernet). Rotate: prepend a new key, run `manage.py rotate_keys`.
FIELD_ENCRYPTION_KEYS = env_list("S2SVPN_FIELD_ENCRYPTION_KEYS") or [
    key for key in [vardir.read_generated(vardir.FIELD_KEY_FILE)] if key
]

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "axes",
    "csp",
    "s2svpn",
    "wizard",
    "monitor",
    "audit",  # last: its post_migrate gives the Administrator every app's permissions
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "s2svpn.middleware.BrokerDownMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "audit.middleware.CurrentUserMiddleware",
    # last, as django-axes asks: it turns a locked-out login into the lockout page
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "s2svpn.urls"
WSGI_APPLICATION = "s2svpn.wsgi.application"
ASGI_APPLICATION = "s2svpn.asgi.application"

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
                "csp.context_processors.nonce",
            ],
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL") or f"sqlite:///{VAR_DIR / 's2svpn.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Web, worker and beat share the file: wait for locks instead of failing at once.
    # WAL lets readers run beside the one writer; synchronous=NORMAL is safe with WAL and saves an
    # fsync per commit (the run engine commits a few times per step).
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out user or address
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
TIME_ZONE = env("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Security headers for a real deployment (S2SVPN_DEBUG off). Behind a TLS-terminating proxy set
# S2SVPN_SECURE_PROXY=1 so Django trusts X-Forwarded-Proto.
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("S2SVPN_SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("S2SVPN_SECURE_COOKIES", True)
    SECURE_HSTS_SECONDS = env_int("S2SVPN_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_SSL_REDIRECT = env_bool("S2SVPN_SSL_REDIRECT", False)
if env_bool("S2SVPN_SECURE_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Login throttling (django-axes, https://django-axes.readthedocs.io/): after this many failed
# logins in a row a username, and separately an address, is locked out for the cool-off time.
# The admin lists the attempts; `manage.py axes_reset_username NAME` / `axes_reset_ip ADDR` /
# `axes_reset` unlock.
AXES_FAILURE_LIMIT = env_int("S2SVPN_LOGIN_FAILURES", 5)
AXES_COOLOFF_TIME = env_float("S2SVPN_LOGIN_COOLOFF_MINUTES", 15.0) / 60  # hours
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each on its own: per user, per address
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_SENSITIVE_PARAMETERS = ["password"]
if env_bool("S2SVPN_SECURE_PROXY", False):
    AXES_IPWARE_PROXY_COUNT = 1  # the address the TLS-terminating proxy saw

# Content-Security-Policy (django-csp 4, https://django-csp.readthedocs.io/): scripts and styles
# from this origin only; an inline script needs the per-response nonce (there is none today).
# htmx is told not to inject its indicator <style> (meta htmx-config in base.html).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}


# Celery broker and cache: the Redis at REDIS_URL, else the embedded Redis that `manage.py up`
# runs on a unix socket under var/ (s2svpn/broker.py): one code path either way.
EMBEDDED_REDIS_SOCKET = VAR_DIR / "redis" / "redis.sock"
REDIS_URL = env("REDIS_URL")
EMBEDDED_REDIS = not REDIS_URL
# kombu spells a unix socket redis+socket:///path, redis-py (the cache) unix:///path.
CELERY_BROKER_URL = (REDIS_URL or f"unix://{EMBEDDED_REDIS_SOCKET}").replace(
    "unix://", "redis+socket://", 1
)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
# Several s2svpn instances (or test sessions) can share one Redis under different prefixes.
if env("S2SVPN_BROKER_PREFIX"):
    CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] = env("S2SVPN_BROKER_PREFIX")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL or f"unix://{EMBEDDED_REDIS_SOCKET}",
    }
}
# A worker never gives up on a broker that went away (Celery's default is 100 attempts).
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# Beat skips a periodic task whose previous copy is still queued (s2svpn/beat.py).
CELERY_BEAT_SCHEDULER = "s2svpn.beat:Scheduler"
# Workers record a heartbeat row this often; one silent for S2SVPN_WORKER_DEAD_AFTER seconds is
# dead (its steps are re-dispatched); /healthz/ says "worker": "missing" after S2SVPN_WORKER_MISSING.
S2SVPN_WORKER_HEARTBEAT = env_float("S2SVPN_WORKER_HEARTBEAT", 2.0)
S2SVPN_WORKER_DEAD_AFTER = env_float("S2SVPN_WORKER_DEAD_AFTER", 10.0)
S2SVPN_WORKER_MISSING = env_float("S2SVPN_WORKER_MISSING", 60.0)
# A re-check this many seconds overdue (its message lost with a worker or the broker) is sent again.
S2SVPN_RECHECK_SLACK = env_float("S2SVPN_RECHECK_SLACK", 5.0)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes the database connection around every task unless this is set;
# reuse it (CONN_MAX_AGE still applies): a new SQLite/PostgreSQL connection per task costs more
# than most of our tasks do.
CELERY_DB_REUSE_MAX = env_int("S2SVPN_DB_REUSE_MAX", 1000)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# How often the monitor polls every site, and how long it keeps history.
S2SVPN_POLL_INTERVAL = env_int("S2SVPN_POLL_INTERVAL", 60)
S2SVPN_RETENTION_DAYS = env_int("S2SVPN_RETENTION_DAYS", 30)
# Per-call timeout (default min(20, interval/3)), poller threads, the cycle's time budget
# (default: the interval), how often Azure's BGP long-running reads are polled.
S2SVPN_POLL_TIMEOUT = env_float("S2SVPN_POLL_TIMEOUT", 0.0) or None
S2SVPN_POLL_WORKERS = env_int("S2SVPN_POLL_WORKERS", 128)
S2SVPN_POLL_CYCLE_BUDGET = env_float("S2SVPN_POLL_CYCLE_BUDGET", 0.0) or None
S2SVPN_POLL_LRO_INTERVAL = env_float("S2SVPN_POLL_LRO_INTERVAL", 0.25)
# Azure's pace (monitor.pace, monitor.azure_half): ARM requests per second the monitor may spend
# per subscription (shared by every shard through the cache; ARM refills reads at 25/s, POST
# actions count as writes at 10/s), seconds between BGP table reads of a site (the budget may
# slow it down), when a started BGP read is given up, the re-check wait when a 202 has no
# Retry-After, and sites per shard task of a cycle.
S2SVPN_ARM_READS_PER_S = env_float("S2SVPN_ARM_READS_PER_S", 20.0)
S2SVPN_ARM_WRITES_PER_S = env_float("S2SVPN_ARM_WRITES_PER_S", 5.0)
S2SVPN_BGP_CADENCE = env_float("S2SVPN_BGP_CADENCE", 300.0)
S2SVPN_BGP_DEADLINE = env_float("S2SVPN_BGP_DEADLINE", 300.0)
S2SVPN_BGP_RECHECK = env_float("S2SVPN_BGP_RECHECK", 10.0)
S2SVPN_POLL_SHARD = env_int("S2SVPN_POLL_SHARD", 250)
# Flapping: this many transitions within this many minutes send one "flapping" alert.
S2SVPN_FLAP_COUNT = env_int("S2SVPN_FLAP_COUNT", 6)
S2SVPN_FLAP_MINUTES = env_float("S2SVPN_FLAP_MINUTES", 30.0)
S2SVPN_STATUS_PAGE_SIZE = env_int("S2SVPN_STATUS_PAGE_SIZE", 12)
# Public URL of this instance, for links in alerts (e.g. https://s2svpn.home.arpa).
S2SVPN_BASE_URL = env("S2SVPN_BASE_URL")
# How often beat looks for runs whose worker died and resumes them.
S2SVPN_RESUME_INTERVAL = env_float("S2SVPN_RESUME_INTERVAL", 10.0)
# Nameservers for the DDNS check (comma-separated IPs, optional :port); empty = system resolver.
S2SVPN_DNS_SERVERS = env_list("S2SVPN_DNS_SERVERS")
S2SVPN_DNS_TIMEOUT = env_float("S2SVPN_DNS_TIMEOUT", 3.0)
# Monthly cost estimate overrides: "VpnGw1AZ=0.19,VpnGw2AZ=0.49" (USD per gateway hour).
S2SVPN_COST_OVERRIDES = env("S2SVPN_COST_OVERRIDES")
# Sandboxes (`manage.py sandbox`, started by `make run`): where they listen and how fast they are.
S2SVPN_SANDBOX_HOST = env("S2SVPN_SANDBOX_HOST", "127.0.0.1")
S2SVPN_SANDBOX_ARM_PORT = env_int("S2SVPN_SANDBOX_ARM_PORT", 8443)
S2SVPN_SANDBOX_PFSENSE_PORT = env_int("S2SVPN_SANDBOX_PFSENSE_PORT", 8444)
S2SVPN_SANDBOX_DNS_PORT = env_int("S2SVPN_SANDBOX_DNS_PORT", 8453)  # UDP, the sandbox's DDNS zone
S2SVPN_SANDBOX_PROFILE = env("S2SVPN_SANDBOX_PROFILE", "default")  # real | default | fast
S2SVPN_SANDBOX_DIR = Path(env("S2SVPN_SANDBOX_DIR", str(VAR_DIR / "sandbox")))
# A role definition JSON file the ARM sandbox enforces (empty: no authorization checks)
S2SVPN_SANDBOX_ARM_ROLE = env("S2SVPN_SANDBOX_ARM_ROLE", "")
# Multiplies every ARM sandbox duration and Retry-After (0.01: the `real` profile 100x faster)
S2SVPN_SANDBOX_TIME_SCALE = env_float("S2SVPN_SANDBOX_TIME_SCALE", 1.0)

# Alerts: Django's email backend plus Apprise URLs per site.
EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "s2svpn@localhost")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        "azure": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        "axes": {"level": "WARNING"},  # lockouts are warnings; every login would be INFO
    },
}

# Run engine: how long a worker may hold a step before another may take it over, retry limits.
S2SVPN_STEP_LEASE = env_float("S2SVPN_STEP_LEASE", 120.0)
S2SVPN_STEP_MAX_ATTEMPTS = env_int("S2SVPN_STEP_MAX_ATTEMPTS", 8)
S2SVPN_STEP_BACKOFF = env_float("S2SVPN_STEP_BACKOFF", 2.0)
# A run holds its firewall for its whole push; one whose steps stop running for this long (its
# workers are gone) loses it, so another site's push is not blocked for ever (wizard.firewall).
S2SVPN_FIREWALL_LEASE = env_float("S2SVPN_FIREWALL_LEASE", 300.0)
# How long the final check waits for the tunnel and BGP to come up before the run fails.
S2SVPN_VERIFY_SECONDS = env_float("S2SVPN_VERIFY_SECONDS", 900.0)
CELERY_BEAT_SCHEDULE = {
    "resume-runs": {"task": "wizard.tasks.resume_runs", "schedule": S2SVPN_RESUME_INTERVAL},
}
