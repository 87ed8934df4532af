"""What the renderer's tests share: a context, compiled variants, a recipient, parsed HTML."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from typing import Any

import lxml.html
import pytest

from newsletter.briefs.document import Brief
from newsletter.render.compile import compile_variant
from newsletter.render.context import CompileContext
from newsletter.render.options import VariantOptions
from newsletter.render.recipient import RecipientInfo, RecipientValues
from newsletter.render.variant import CompiledVariant, FilledEmail
from newsletter.tokens import TokenSigner

PUBLIC_URL = "https://news.example.org"
SECRET = "render-tests-secret-0123456789abcdef"


def context(**changes: Any) -> CompileContext:
    base = CompileContext(
        issue_date=date(2026, 11, 20),
        newsletter_name="The Briefing",
        public_url=PUBLIC_URL,
        reply_to="editors@news.example.org",
        postal_address="The Briefing, 12 Harbour Street, Lisbon, Portugal",
    )
    return replace(base, **changes)


def compile_(
    briefs: Sequence[Brief], options: VariantOptions | None = None, **changes: Any
) -> CompiledVariant:
    return compile_variant(briefs, options or VariantOptions(), context(**changes))


def fill(variant: CompiledVariant, first_name: str | None = "Ana") -> FilledEmail:
    values = RecipientValues(TokenSigner(SECRET), PUBLIC_URL)
    recipient = RecipientInfo("sub-123", first_name, view_id="camp-1-sub-123", tracking_id="dlv-9")
    return variant.fill(values.values_for(variant, recipient))


def parse(html: str) -> Any:
    return lxml.html.document_fromstring(html)


def visible_text(html: str) -> str:
    """The body's text (the preview text included), whitespace folded."""
    return " ".join(parse(html).body.text_content().split())


@pytest.fixture
def signer() -> TokenSigner:
    return TokenSigner(SECRET)
