"""WSGI entry point: `gunicorn wsgi:app`."""
from messaging_web import create_app

app = create_app()
