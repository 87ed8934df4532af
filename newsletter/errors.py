"""The error tree: every failure the system reports on purpose is one of these.

    NewsletterError
    ├── ConfigurationError        a setting is missing or wrong
    │   └── UnsupportedFeature    the provider cannot honour an option the campaign asks for
    ├── NotFoundError             a named thing (brief, campaign, subscriber …) does not exist
    ├── ConflictError             the request contradicts the current state (edit a sent campaign)
    ├── InvalidToken              a signed link was altered, is for another purpose, or expired
    ├── InvalidInput              a value from a person, form or file is unacceptable: which, why
    ├── BriefFormatError          a brief file is malformed; carries every problem as FILE:LINE: why
    ├── RenderError               a template or MJML failed to compile; names template and line
    ├── DeliveryError             a provider call failed
    │   ├── ProviderRetryable     429, 5xx, connection refused: try again later
    │   ├── ProviderRejected      400 and friends: permanent, with the provider's reason
    │   ├── ProviderAuthError     401/403: credentials are wrong, stop sending
    │   └── ProviderAmbiguous     timeout after the request was sent: it may have been accepted
    └── WebhookVerificationError  a webhook's signature or timestamp is wrong

Low-level exceptions are wrapped with ``raise … from exc`` so the cause stays visible.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from newsletter.delivery.base import RecipientResult
    from newsletter.render.template_problems import TemplateProblem


class NewsletterError(Exception):
    """Base of every error the system raises on purpose; ``str()`` is one readable line."""


class ConfigurationError(NewsletterError):
    """A setting is missing or has a value the system cannot use."""


class UnsupportedFeature(ConfigurationError):
    """The configured provider cannot honour an option the settings ask of it (SendGrid
    categories or tracking through SMTP): raised when a campaign is frozen, not at send time,
    because a choice of settings, not a provider call, is what is wrong; a person fixes the
    settings or says the option may be ignored (``NEWSLETTER_IGNORE_UNSUPPORTED``)."""

    def __init__(self, provider: str, features: Iterable[str]) -> None:
        self.provider = provider
        self.features = tuple(sorted(features))
        listed = ", ".join(self.features)
        super().__init__(
            f"the {provider} provider cannot honour {listed}: choose another provider or "
            f"setting, or set NEWSLETTER_IGNORE_UNSUPPORTED={','.join(self.features)} "
            "to send without"
        )


class NotFoundError(NewsletterError):
    """A named object does not exist."""


class ConflictError(NewsletterError):
    """The request is valid but contradicts the current state of the object."""


class InvalidToken(NewsletterError):
    """A signed token failed verification; ``expired`` tells a stale link from a forged one."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        self.expired = expired
        super().__init__(message)


class InvalidInput(NewsletterError):
    """A value given to us is not acceptable; ``field`` names it, ``reason`` says why.

    ``also`` carries further problems found in the same input, so that a form can show
    each next to its field. The web layer turns it into a ``422`` whose ``detail`` lists
    them; the CLI prints ``field: reason`` on one line.
    """

    def __init__(self, field: str, reason: str, *, also: Sequence[InvalidInput] = ()) -> None:
        self.field = field
        self.reason = reason
        self.also = tuple(also)
        super().__init__("; ".join(f"{f}: {r}" for f, r in self.problems))

    @property
    def problems(self) -> list[tuple[str, str]]:
        """Every (field, reason), this one first."""
        return [(self.field, self.reason), *((p.field, p.reason) for p in self.also)]

    @classmethod
    def collect(cls, problems: Sequence[InvalidInput]) -> InvalidInput:
        """One error carrying several problems (the first is the headline)."""
        first, *rest = problems
        return cls(first.field, first.reason, also=rest)


def problem_detail(exc: InvalidInput) -> list[dict[str, Any]]:
    """The ``detail`` of an HTTP 422: one entry per field, shaped like FastAPI's own."""
    return [
        {
            "loc": ["body"] if field == "body" else ["body", field],
            "msg": reason,
            "type": "value_error",
        }
        for field, reason in exc.problems
    ]


@dataclass(frozen=True)
class Problem:
    """One thing wrong in an input file, located as precisely as the format allows."""

    source: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line is not None else self.source
        return f"{where}: {self.message}"


class BriefFormatError(NewsletterError):
    """A brief (or a set of briefs being imported together) is malformed."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        if not self.problems:
            raise ValueError("BriefFormatError needs at least one problem")
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def single(cls, source: str, line: int | None, message: str) -> BriefFormatError:
        return cls([Problem(source, line, message)])


class RenderError(NewsletterError):
    """A template or the MJML compiler failed; the message names the template and line.
    ``problem``: for a subject or preheader template, the mistake in words and its place."""

    def __init__(
        self,
        template: str,
        line: int | None,
        message: str,
        *,
        problem: TemplateProblem | None = None,
    ) -> None:
        self.template = template
        self.line = line
        self.problem = problem
        where = f"{template}:{line}" if line is not None else template
        super().__init__(f"{where}: {message}")


class DeliveryError(NewsletterError):
    """A provider could not deliver a batch, or part of it.

    ``settled`` holds the outcomes of recipients the provider finished *before* the failure
    (SMTP sends one message at a time, so a batch can break half-way): record those as
    usual; the error applies to every other recipient of the batch. SendGrid's single
    request per batch always raises with nothing settled.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        settled: Sequence[RecipientResult] = (),
    ) -> None:
        self.status = status
        self.settled: tuple[RecipientResult, ...] = tuple(settled)
        super().__init__(message)


class ProviderRetryable(DeliveryError):
    """Temporary failure (rate limit, server error, connection refused): retry after a pause."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        settled: Sequence[RecipientResult] = (),
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, status=status, settled=settled)


class ProviderRejected(DeliveryError):
    """Permanent failure for this request, with the provider's reasons."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        reasons: Sequence[str] = (),
        settled: Sequence[RecipientResult] = (),
    ) -> None:
        self.reasons = tuple(reasons)
        super().__init__(message, status=status, settled=settled)


class ProviderAuthError(DeliveryError):
    """The provider refused our credentials: sending must stop until a person fixes them."""


class ProviderAmbiguous(DeliveryError):
    """The request may or may not have been accepted (e.g. timeout after sending)."""


class WebhookVerificationError(NewsletterError):
    """A webhook request failed signature or freshness verification."""
