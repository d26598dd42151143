"""Flask CLI commands under `flask messaging ...`: seed-demo, create-admin, load-templates."""
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


def register_cli(app: Flask) -> None:
    app.cli.add_command(messaging_cli)
