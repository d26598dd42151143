"""gunicorn's settings for production: `gunicorn -c gunicorn.conf.py wsgi:app` (README, "Running in production").

gevent workers: every open tab holds a live stream (server-sent events, web/live_views.py) that waits most of
its life; as a greenlet it costs a few dozen kilobytes, where a sync worker would be taken whole. psycopg 3
and redis-py cooperate with gevent once gunicorn's worker has monkey-patched the standard library, which it
does before it imports the app (so: no preload_app).
"""
import os

bind = f"{os.environ.get('WEB_HOST', '127.0.0.1')}:{os.environ.get('WEB_PORT', '8000')}"
workers = int(os.environ.get("WEB_WORKERS", "2"))  # one per core
worker_class = "gevent"
# Open streams and requests per worker; each needs a file descriptor (raise `ulimit -n` to match).
worker_connections = int(os.environ.get("WEB_WORKER_CONNECTIONS", "10000"))
# A gevent worker is judged by its heartbeat, not by how long a request lasts: streams are not cut by it.
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("WEB_GRACEFUL_TIMEOUT", "10"))
keepalive = 5
# The app logs one JSON line per request itself (structured_logs); gunicorn's own access log only if asked.
accesslog = os.environ.get("WEB_ACCESS_LOG") or None
