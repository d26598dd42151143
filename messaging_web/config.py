"""Settings read from the environment, with defaults for the embedded setup (SQLite, file outbox)."""
from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_INSTANCE_DIR = PACKAGE_DIR.parent / "instance"


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def _development_secret_key(instance_dir: Path) -> str:
    """A random key made on first run and kept in the instance folder: a published constant would let
    anyone forge a session cookie for anyone's development server."""
    path = instance_dir / "dev-secret-key"
    key = _read_secret_key(path)
    if key:
        return key
    instance_dir.mkdir(parents=True, exist_ok=True)
    # Written whole into a file of its own (mkstemp: mode 0600), then linked into place: processes that
    # start together (the web server, a worker) all keep the key that got there first, none reads half a file.
    descriptor, written = tempfile.mkstemp(dir=instance_dir, prefix=".dev-secret-key-")
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(48) + "\n")
        try:
            os.link(written, path)
        except FileExistsError:
            if not _read_secret_key(path):
                os.replace(written, path)  # an empty or cut-short key file is not kept
    finally:
        Path(written).unlink(missing_ok=True)
    key = _read_secret_key(path)
    if not key:
        raise RuntimeError(f"could not write a development secret key to {path}")
    return key


def _read_secret_key(path: Path) -> str | None:
    try:
        key = path.read_text().strip()
    except FileNotFoundError:
        return None
    return key if len(key) >= 32 else None


def load_config(overrides: dict | None = None) -> dict:
    """Build the Flask config from environment variables; `overrides` win (tests, CLI)."""
    overrides = dict(overrides or {})
    env = overrides.get("MESSAGING_ENV") or os.environ.get("MESSAGING_ENV", "production")
    instance_dir = Path(
        overrides.get("INSTANCE_DIR") or os.environ.get("MESSAGING_INSTANCE_DIR") or DEFAULT_INSTANCE_DIR
    )
    development = env in {"development", "testing"}
    config = {
        "MESSAGING_ENV": env,
        "INSTANCE_DIR": str(instance_dir),
        "SECRET_KEY": overrides.get("SECRET_KEY") or os.environ.get("SECRET_KEY")
        or (_development_secret_key(instance_dir) if development else None),
        "SQLALCHEMY_DATABASE_URI": os.environ.get("DATABASE_URL")
        or f"sqlite:///{instance_dir / 'messaging.sqlite3'}",
        # A pooled connection idle longer than this is pinged before use (a dead one is replaced);
        # one used more recently is trusted, as HikariCP does, sparing every request a round trip.
        "DATABASE_PING_AFTER_IDLE_SECONDS": float(os.environ.get("DATABASE_PING_AFTER_IDLE_SECONDS", "1")),
        # The pool per web process. Under gevent one process serves thousands of greenlets: a request that finds
        # the pool taken waits at most DATABASE_POOL_TIMEOUT seconds, then gets "busy, try again" (a 503), not
        # a 30-second hang; live streams take at most LIVE_DB_CONCURRENCY of these connections at a time.
        "DATABASE_POOL_SIZE": _int("DATABASE_POOL_SIZE", 10),
        "DATABASE_POOL_OVERFLOW": _int("DATABASE_POOL_OVERFLOW", 10),
        "DATABASE_POOL_TIMEOUT": float(os.environ.get("DATABASE_POOL_TIMEOUT", "5")),
        # Comma-separated Fernet keys: the first encrypts, all decrypt (see services/secrets.py).
        "MESSAGING_ENCRYPTION_KEYS": os.environ.get("MESSAGING_ENCRYPTION_KEYS", ""),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE", not development),
        "REMEMBER_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE", not development),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "MAX_CONTENT_LENGTH": _int("MAX_CONTENT_LENGTH", 64 * 1024 * 1024),
        "WTF_CSRF_TIME_LIMIT": None,
        # Login throttling: wrong passwords per (address, email) in a window.
        "LOGIN_RATE_LIMIT": os.environ.get("LOGIN_RATE_LIMIT", "8 per 5 minutes"),
        # Failed sign-ins per client address, whatever the email (password spraying).
        "LOGIN_ADDRESS_RATE_LIMIT": os.environ.get("LOGIN_ADDRESS_RATE_LIMIT", "30 per 5 minutes"),
        # The template editors' "send a test", per signed-in user (the button must not be a spam cannon).
        "TEMPLATE_TEST_RATE_LIMIT": os.environ.get("TEMPLATE_TEST_RATE_LIMIT", "10 per minute"),
        # Per signed-in account (web/rate_limits.py). The editors preview after a 400 ms pause in typing,
        # so they can never ask for more than 25 previews in 10 seconds; a script without the pause can.
        "TEMPLATE_PREVIEW_RATE_LIMIT": os.environ.get("TEMPLATE_PREVIEW_RATE_LIMIT", "25 per 10 seconds"),
        # The settings wizard's test email connects to the host and port the store typed in.
        "EMAIL_SETTINGS_VERIFY_RATE_LIMIT": os.environ.get("EMAIL_SETTINGS_VERIFY_RATE_LIMIT",
                                                           "5 per minute; 30 per hour"),
        # Messages posted (answers and new conversations together), and of those, the ones carrying files.
        "MESSAGE_POST_RATE_LIMIT": os.environ.get("MESSAGE_POST_RATE_LIMIT", "30 per minute"),
        "UPLOAD_RATE_LIMIT": os.environ.get("UPLOAD_RATE_LIMIT", "10 per minute"),
        # memory:// counts per process; production sets redis://... so that every process shares the counts.
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_HEADERS_ENABLED": False,
        # While the shared store (Redis) is down, limits are counted per process instead of every limited
        # request failing with a 500 (login, posting a message): a Redis restart must not stop the portals.
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        # Email: the platform's own sender, used for platform mail and stores without verified settings.
        "MAIL_PROVIDER": os.environ.get("MAIL_PROVIDER", "file"),
        "MAIL_OUTBOX_DIR": os.environ.get("MAIL_OUTBOX_DIR") or str(instance_dir / "outbox"),
        "MAIL_DEFAULT_SENDER_EMAIL": os.environ.get("MAIL_DEFAULT_SENDER_EMAIL", "no-reply@platform.example"),
        "MAIL_DEFAULT_SENDER_NAME": os.environ.get("MAIL_DEFAULT_SENDER_NAME", "Messaging Platform"),
        "MAIL_SERVER": os.environ.get("MAIL_SERVER", "localhost"),
        "MAIL_PORT": _int("MAIL_PORT", 25),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME"),
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD"),
        "MAIL_USE_TLS": _bool("MAIL_USE_TLS", False),
        "MAIL_USE_SSL": _bool("MAIL_USE_SSL", False),
        # Dispatcher: "inprocess" (embedded default) or "celery" (production, needs CELERY_BROKER_URL).
        "EMAIL_DISPATCHER": os.environ.get("EMAIL_DISPATCHER", "inprocess"),
        # Run the periodic jobs (sweeps and retries, batched notifications) in this process: for `make run`,
        # where no Celery beat runs. Leave off wherever beat runs, and in tests.
        "EMBEDDED_SCHEDULER": _bool("EMBEDDED_SCHEDULER", False),
        "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0"),
        "CELERY_QUEUE": os.environ.get("CELERY_QUEUE", "messaging_web"),
        # Delivery: attempts before an email is marked failed, first retry delay (doubling each time).
        "EMAIL_MAX_ATTEMPTS": _int("EMAIL_MAX_ATTEMPTS", 5),
        "EMAIL_RETRY_BASE_SECONDS": _int("EMAIL_RETRY_BASE_SECONDS", 60),
        "EMAIL_BATCH_SIZE": _int("EMAIL_BATCH_SIZE", 50),
        # A pending row untouched this long lost its hand-off; a claim this old lost its worker.
        "EMAIL_SWEEP_AFTER_SECONDS": _int("EMAIL_SWEEP_AFTER_SECONDS", 120),
        "EMAIL_CLAIM_TIMEOUT_SECONDS": _int("EMAIL_CLAIM_TIMEOUT_SECONDS", 900),
        # Open pixel and tracked links in the HTML part (served under PUBLIC_BASE_URL/t/...).
        "EMAIL_TRACKING": _bool("EMAIL_TRACKING", True),
        "SMTP_TIMEOUT": float(os.environ.get("SMTP_TIMEOUT", "10")),
        # Stores' SMTP hosts on loopback/private addresses are refused outside development and tests.
        "SMTP_ALLOW_INTERNAL_HOSTS": _bool("SMTP_ALLOW_INTERNAL_HOSTS", development),
        "SENDGRID_API_URL": os.environ.get("SENDGRID_API_URL", "https://api.sendgrid.com"),
        "MAILGUN_API_URL_US": os.environ.get("MAILGUN_API_URL_US", "https://api.mailgun.net"),
        "MAILGUN_API_URL_EU": os.environ.get("MAILGUN_API_URL_EU", "https://api.eu.mailgun.net"),
        "SES_ENDPOINT_URL": os.environ.get("SES_ENDPOINT_URL") or None,
        # How old the signature of a provider's event webhook may be (stores enter the keys in the wizard).
        "WEBHOOK_MAX_AGE_SECONDS": _int("WEBHOOK_MAX_AGE_SECONDS", 900),
        # Where SES's SNS notifications may have their signing certificate and subscription URL.
        "SNS_URL_PATTERN": os.environ.get(
            "SNS_URL_PATTERN", r"^https://sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/"
        ),
        # Deliverability (services/email/suppression.py, deliverability.py): soft bounces in a row that
        # suppress an address; complaint and hard-bounce rates (in % of sent) that warn and alert, and
        # the fewest emails sent in a period before a rate is judged at all.
        "SOFT_BOUNCE_LIMIT": _int("SOFT_BOUNCE_LIMIT", 3),
        "COMPLAINT_RATE_WARN": float(os.environ.get("COMPLAINT_RATE_WARN", "0.1")),
        "COMPLAINT_RATE_CRITICAL": float(os.environ.get("COMPLAINT_RATE_CRITICAL", "0.3")),
        "BOUNCE_RATE_WARN": float(os.environ.get("BOUNCE_RATE_WARN", "2")),
        "BOUNCE_RATE_CRITICAL": float(os.environ.get("BOUNCE_RATE_CRITICAL", "5")),
        "DELIVERABILITY_MIN_SENT": _int("DELIVERABILITY_MIN_SENT", 100),
        "PUBLIC_BASE_URL": os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000"),
        "UPLOAD_DIR": os.environ.get("UPLOAD_DIR") or str(instance_dir / "uploads"),
        "PAGE_SIZE": _int("PAGE_SIZE", 25),
        # Conversations: longest message accepted, how often an open thread asks for new messages,
        # and how long notification emails wait to batch a thread's new messages into one.
        "MESSAGE_MAX_LENGTH": _int("MESSAGE_MAX_LENGTH", 10_000),
        "CONVERSATION_POLL_SECONDS": _int("CONVERSATION_POLL_SECONDS", 3),
        # Live conversations (services/live/): the bus that carries events between web processes (empty:
        # in-process, for `make run`; production: redis://.../n, every process then sees every post), how
        # often an idle stream sends a keep-alive comment, re-checks that its account may still follow it, and
        # is ended for the browser to reconnect (with Last-Event-ID); how long "is typing" and presence last.
        "LIVE_BUS_URL": os.environ.get("LIVE_BUS_URL", ""),
        "LIVE_BUS_CHANNEL": os.environ.get("LIVE_BUS_CHANNEL", "messaging_web:live"),
        "LIVE_KEEPALIVE_SECONDS": float(os.environ.get("LIVE_KEEPALIVE_SECONDS", "15")),
        "LIVE_RECHECK_SECONDS": float(os.environ.get("LIVE_RECHECK_SECONDS", "120")),
        "LIVE_STREAM_MAX_SECONDS": float(os.environ.get("LIVE_STREAM_MAX_SECONDS", "1800")),
        # Streams reading the database at once, per process (catch-ups after a restart come all together), and
        # how long a stream gathers its account's badge changes into one frame.
        "LIVE_DB_CONCURRENCY": _int("LIVE_DB_CONCURRENCY", 6),
        "LIVE_BADGE_COALESCE_SECONDS": float(os.environ.get("LIVE_BADGE_COALESCE_SECONDS", "0.5")),
        "LIVE_TYPING_SECONDS": _int("LIVE_TYPING_SECONDS", 5),
        "LIVE_PRESENCE_SECONDS": _int("LIVE_PRESENCE_SECONDS", 90),
        # The composer says "typing" at most every 3 s; this bounds what a script can make the bus carry.
        "LIVE_TYPING_RATE_LIMIT": os.environ.get("LIVE_TYPING_RATE_LIMIT", "40 per minute"),
        "CONVERSATION_NOTIFY_DELAY_SECONDS": _int("CONVERSATION_NOTIFY_DELAY_SECONDS", 120),
        # Attachments (services/attachments.py): limits, image handling, and where the bytes live.
        "ATTACHMENT_MAX_FILE_SIZE": _int("ATTACHMENT_MAX_FILE_SIZE", 10 * 1024 * 1024),
        "ATTACHMENT_MAX_FILES": _int("ATTACHMENT_MAX_FILES", 10),
        "ATTACHMENT_MAX_TOTAL_SIZE": _int("ATTACHMENT_MAX_TOTAL_SIZE", 25 * 1024 * 1024),
        # Pillow's own default is ~89 million pixels; a photo from a phone is 12 to 50 million.
        "ATTACHMENT_MAX_IMAGE_PIXELS": _int("ATTACHMENT_MAX_IMAGE_PIXELS", 40_000_000),
        "ATTACHMENT_THUMBNAIL_SIZE": _int("ATTACHMENT_THUMBNAIL_SIZE", 320),
        # Pixels decoded for all the images of one message (ten phone photos decode at a reduced scale).
        "ATTACHMENT_MAX_MESSAGE_PIXELS": _int("ATTACHMENT_MAX_MESSAGE_PIXELS", 50_000_000),
        # The sandbox (services/sandbox/): worker processes that render tenant templates and decode uploads,
        # each with this much address space, at this CPU priority; how long a job may take is the
        # template budget (2 s) or SANDBOX_IMAGE_SECONDS, and a request waits SANDBOX_WAIT_SECONDS for a
        # free worker before it is told to try again (background work waits longer).
        "SANDBOX_WORKERS": _int("SANDBOX_WORKERS", 2),
        "SANDBOX_MEMORY_MB": _int("SANDBOX_MEMORY_MB", 512),
        "SANDBOX_NICE": _int("SANDBOX_NICE", 19),
        "SANDBOX_IMAGE_SECONDS": float(os.environ.get("SANDBOX_IMAGE_SECONDS", "5")),
        "SANDBOX_WAIT_SECONDS": float(os.environ.get("SANDBOX_WAIT_SECONDS", "2")),
        "SANDBOX_BACKGROUND_WAIT_SECONDS": float(os.environ.get("SANDBOX_BACKGROUND_WAIT_SECONDS", "120")),
        "ATTACHMENT_STORAGE": os.environ.get("ATTACHMENT_STORAGE", "local"),
        "ATTACHMENT_S3_BUCKET": os.environ.get("ATTACHMENT_S3_BUCKET", ""),
        "ATTACHMENT_S3_ENDPOINT_URL": os.environ.get("ATTACHMENT_S3_ENDPOINT_URL") or None,
        "ATTACHMENT_S3_REGION": os.environ.get("ATTACHMENT_S3_REGION") or None,
        "ATTACHMENT_S3_PREFIX": os.environ.get("ATTACHMENT_S3_PREFIX", ""),
        "ATTACHMENT_S3_PRESIGN_SECONDS": _int("ATTACHMENT_S3_PRESIGN_SECONDS", 60),
        "ATTACHMENT_S3_REDIRECT": _bool("ATTACHMENT_S3_REDIRECT", True),
        # "json": one JSON line per request and email event on stderr (messaging_web/structured_logs.py).
        "LOG_FORMAT": os.environ.get("LOG_FORMAT", "text" if development else "json"),
        # /metrics (Prometheus) answers to "Authorization: Bearer <token>"; without one, to this machine only.
        "METRICS_TOKEN": os.environ.get("METRICS_TOKEN", ""),
        # Platform admins may open store-customer threads read-only (each view audited); off: they cannot.
        "PLATFORM_MODERATION": _bool("PLATFORM_MODERATION", True),
        # Reply by email (services/inbound/): the domain reply addresses live at (empty: the feature is off
        # and notifications keep the sender's Reply-To), the largest email and most MIME parts accepted,
        # and what each provider's inbound webhook is verified with.
        "INBOUND_EMAIL_DOMAIN": os.environ.get("INBOUND_EMAIL_DOMAIN", ""),
        "INBOUND_EMAIL_MAX_BYTES": _int("INBOUND_EMAIL_MAX_BYTES", 20 * 1024 * 1024),
        "INBOUND_EMAIL_MAX_PARTS": _int("INBOUND_EMAIL_MAX_PARTS", 100),
        "SENDGRID_INBOUND_SECRET": os.environ.get("SENDGRID_INBOUND_SECRET", ""),
        "MAILGUN_INBOUND_SIGNING_KEY": os.environ.get("MAILGUN_INBOUND_SIGNING_KEY", ""),
        "SES_INBOUND_TOPIC_ARN": os.environ.get("SES_INBOUND_TOPIC_ARN", ""),
        "SES_INBOUND_S3_REGION": os.environ.get("SES_INBOUND_S3_REGION") or None,
        "SES_INBOUND_S3_ENDPOINT_URL": os.environ.get("SES_INBOUND_S3_ENDPOINT_URL") or None,
    }
    config.update(overrides)
    return config
