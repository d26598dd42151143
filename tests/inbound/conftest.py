import pytest

from .support import INBOUND_DOMAIN


@pytest.fixture
def inbound_domain(app):
    """Reply by email on, at INBOUND_DOMAIN."""
    app.config["INBOUND_EMAIL_DOMAIN"] = INBOUND_DOMAIN
    yield INBOUND_DOMAIN
    app.config["INBOUND_EMAIL_DOMAIN"] = ""
