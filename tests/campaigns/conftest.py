"""Fixtures for campaign tests: the fake servers from tests/fakes (and the SMTP server of
tests/delivery), Dovecot, the web app under uvicorn, readers of an issue sent to the outbox, three issues for the list-health tests."""

from tests.campaigns.bounce_mail import readers  # noqa: F401
from tests.campaigns.health_data import three_issues  # noqa: F401  (list-health data)
from tests.delivery.conftest import smtp_server, smtp_server_factory  # noqa: F401
from tests.fakes.dovecot import dovecot, dovecot_server  # noqa: F401
from tests.fakes.fixtures import sendgrid_process, sendgrid_server  # noqa: F401
from tests.subscribers.conftest import serve  # noqa: F401
