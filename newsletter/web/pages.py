"""The Jinja2 environment of the web pages (``templates/web``): autoescaped, strict.

Built once by the app factory and handed to every package's routes, so all public pages
share one layout and one set of globals (the publication's name and language).
"""

from __future__ import annotations

import jinja2
from starlette.templating import Jinja2Templates

from newsletter.config import Settings
from newsletter.render.environment import long_date
from newsletter.resources import data_path
from newsletter.topics import topic_label


def page_templates(settings: Settings) -> Jinja2Templates:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(data_path("templates") / "web"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["long_date"] = long_date  # one date format: emails, pages, subjects
    labels = dict(settings.topic_labels)
    environment.filters["topic_label"] = lambda topic: topic_label(str(topic), labels)
    environment.globals.update(
        newsletter_name=settings.newsletter_name,
        language=settings.language,
        postal_address=settings.postal_address,
        contact_email=settings.reply_to or settings.from_email,  # as every email's footer
    )
    return Jinja2Templates(env=environment)
