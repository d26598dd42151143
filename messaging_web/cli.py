"""Flask CLI commands under `flask messaging ...`: seed-demo, create-admin."""
from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from .extensions import db
from .services import accounts, demo
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


def register_cli(app: Flask) -> None:
    app.cli.add_command(messaging_cli)
