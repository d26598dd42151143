"""Flask CLI commands under `flask messaging ...`: seed-demo, create-admin, load-templates, worker, sweep, ..."""
from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from .extensions import db
from .services import accounts, demo, template_catalog
from .services.errors import ValidationError

messaging_cli = AppGroup("messaging", help="messaging_web administration.")


@messaging_cli.command("seed-demo")
def seed_demo_command():
    """Create the demo admin, stores, teams and customers (safe to run again)."""
    logins = demo.seed_demo()
    db.session.commit()
    click.echo(f"Demo logins (password for all: {demo.DEMO_PASSWORD}):")
    for login in logins:
        click.echo(f"  {login.portal:<22} {login.path:<24} {login.email}")


@messaging_cli.command("create-admin")
@click.option("--email", prompt=True)
@click.option("--name", prompt=True)
@click.password_option()
def create_admin_command(email: str, name: str, password: str):
    """Create a platform admin."""
    try:
        user = accounts.create_admin(email, name, password)
    except ValidationError as exc:
        raise click.ClickException(exc.message) from exc
    db.session.commit()
    click.echo(f"Created platform admin {user.email}.")


@messaging_cli.command("load-templates")
def load_templates_command():
    """Load the shipped default email templates (en, fr, de); templates already present are left as they are."""
    try:
        report = template_catalog.load_default_templates()
    except ValidationError as exc:
        raise click.ClickException(f"A shipped template is invalid: {exc.message}") from exc
    db.session.commit()
    click.echo(f"Created {len(report.created)} templates, kept {len(report.kept)} that exist already.")
    for label in report.created:
        click.echo(f"  + {label}")


@messaging_cli.command("worker")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option("--batch", default=None, type=int, help="Rows claimed per batch (EMAIL_BATCH_SIZE).")
@click.option("--poll", default=2.0, show_default=True, help="Seconds to wait when nothing is due.")
def worker_command(once: bool, batch: int | None, poll: float):
    """Deliver queued emails from the database (no Celery needed); several may run at once."""
    import signal

    from .services.email import delivery

    stopping = []

    def _stop(_signum, _frame):
        # Finish the batch in hand (its rows are claimed: leaving mid-batch would strand them), then exit.
        stopping.append(True)

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        sent, failed, retrying = _work(delivery, once, batch, poll, stopping)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if stopping:
        click.echo("Stopped.")
    click.echo(f"Sent {sent}, failed {failed}, retrying later {retrying}.")


def _work(delivery, once: bool, batch: int | None, poll: float, stopping: list) -> tuple[int, int, int]:
    import time

    from .services import conversation_notifications
    from .services.scheduler import NOTIFY_EVERY_SECONDS, SWEEP_EVERY_SECONDS

    sent = failed = retrying = 0
    last_sweep = last_notify = 0.0
    while not stopping:
        if time.monotonic() - last_sweep > SWEEP_EVERY_SECONDS:
            report = delivery.sweep()
            last_sweep = time.monotonic()
            if report.abandoned:
                click.echo(f"Marked {len(report.abandoned)} abandoned email(s) as possibly delivered.")
            if report.released:
                click.echo(f"Released {len(report.released)} email(s) a stopped worker had not started.")
        if time.monotonic() - last_notify > NOTIFY_EVERY_SECONDS:
            # Batched conversation emails whose window has passed become pending rows, delivered below.
            conversation_notifications.flush_due_notifications()
            db.session.commit()
            last_notify = time.monotonic()
        result = delivery.deliver_due(batch)
        sent, failed, retrying = sent + len(result.sent), failed + len(result.failed), retrying + len(result.retrying)
        if result.attempted:
            continue
        if once:
            break
        time.sleep(poll)
    return sent, failed, retrying


@messaging_cli.command("notify-conversations")
@click.option("--every", default=0.0, help="Keep running, flushing every this many seconds (0: once).")
def notify_conversations_command(every: float):
    """Queue the batched new-message emails whose delay window has passed (the worker does this too)."""
    import time

    from .services import conversation_notifications

    while True:
        report = conversation_notifications.flush_due_notifications()
        db.session.commit()
        click.echo(f"Queued {len(report.sent)} conversation notification(s); skipped {report.skipped}.")
        if not every:
            break
        time.sleep(every)


@messaging_cli.command("sweep")
def sweep_command():
    """Hand over pending emails whose hand-off was lost; mark abandoned sends as possibly delivered."""
    from .services.email import delivery, dispatcher

    report = delivery.sweep()
    if report.redispatch:
        dispatcher.dispatch(report.redispatch)
    click.echo(f"Re-dispatched {len(report.redispatch)} email(s) ({len(report.released)} a stopped worker had not "
               f"started); {len(report.abandoned)} abandoned send(s) marked as possibly delivered.")


@messaging_cli.command("rotate-keys")
def rotate_keys_command():
    """Re-encrypt every saved provider secret with the first key of MESSAGING_ENCRYPTION_KEYS."""
    from .services.secrets import SecretUnreadable, rotate_keys

    try:
        count = rotate_keys()
    except SecretUnreadable as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"Re-encrypted {count} secret(s) with the first key.")


@messaging_cli.command("inbound-smtp")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=2525, show_default=True, type=int)
@click.option("--processes", default=1, show_default=True, type=int, help="Processes sharing the port.")
def inbound_smtp_command(host: str, port: int, processes: int):
    """Receive replies to conversation notifications by SMTP (for INBOUND_EMAIL_DOMAIN) until stopped."""
    from flask import current_app

    from .services.inbound.smtp_receiver import run_receivers

    app = current_app._get_current_object()  # type: ignore[attr-defined]  # the app itself, for the threads
    if not app.config.get("INBOUND_EMAIL_DOMAIN"):
        raise click.ClickException("Set INBOUND_EMAIL_DOMAIN first: the receiver takes mail only for that domain.")
    domain = app.config["INBOUND_EMAIL_DOMAIN"]
    run_receivers(app, host, port, processes=max(1, processes), ready=lambda: click.echo(
        f"Receiving replies for @{domain} on {host}:{port} in {processes} process(es) (Ctrl-C to stop)."))


def register_cli(app: Flask) -> None:
    app.cli.add_command(messaging_cli)
