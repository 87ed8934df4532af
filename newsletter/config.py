"""Settings from the environment (``NEWSLETTER_*``): the only place that reads configuration.

Every other module receives a :class:`Settings` (or asks :func:`get_settings`) instead of
reading ``os.environ``; tests build their own ``Settings`` or clear the cache.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import secrets
import stat
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from newsletter.errors import ConfigurationError
from newsletter.topics import parse_topic_labels

log = logging.getLogger("newsletter.config")

ProviderName = Literal["outbox", "smtp", "sendgrid"]
# RFC 2919's list-id: a list-label and a namespace, dot-atoms with at least one dot.
LIST_ID = re.compile(r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)+")

SECRET_FILE_NAME = ".newsletter-secret"  # noqa: S105  (a file name, not a secret)
MIN_KEY_BYTES = 32
_DATABASE_SCHEMES = ("sqlite", "postgresql", "postgres")


class ProviderLimits(BaseModel):
    """One provider's own sending limits (``NEWSLETTER_SEND_LIMITS``); an unset one falls
    back to the matching ``NEWSLETTER_SEND_LIMIT_PER_*``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    per_second: float | None = Field(default=None, gt=0)
    per_hour: int | None = Field(default=None, gt=0)
    per_day: int | None = Field(default=None, gt=0)


class Settings(BaseSettings):
    """Everything an operator can configure, with embedded defaults that need no account."""

    model_config = SettingsConfigDict(env_prefix="NEWSLETTER_", extra="ignore")

    # storage
    database_url: str = Field(
        default="sqlite:///newsletter.db",
        description="SQLAlchemy URL; default is a SQLite file in the working directory.",
    )

    read_database_url: str | None = Field(
        default=None,
        description=(
            "Where reports and segment counts read from: a read replica of the main database "
            "(PostgreSQL streaming replication), so that they never load the primary. Unset: "
            "the main database. Never written to and never migrated: its schema must be at the "
            "code's revision (a replica is, once it has caught up). Figures lag the primary by "
            "the replica's delay."
        ),
    )

    database_pool_size: int = Field(
        default=10,
        ge=1,
        le=500,
        description=(
            "Connections a web process keeps per pool (on PostgreSQL it has two: the signup "
            "fast path's and the rest's); requests beyond it wait instead of reconnecting."
        ),
    )

    # identity of the publication
    newsletter_name: str = Field(
        default="The Briefing", description="The publication's name, in every email and page."
    )
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Base URL of the web app, used in every link an email carries.",
    )
    from_email: str = Field(
        default="briefing@example.org", description="Sender address of every email."
    )
    from_name: str = Field(default="The Briefing", description="Sender name of every email.")
    reply_to: str | None = Field(default=None, description="The 'reply to the editors' address.")
    postal_address: str | None = Field(
        default=None, description="Sender's postal address, shown in every footer (bulk mail law)."
    )
    language: str = Field(
        default="en", description="Language of emails and pages (lang attribute; rtl for ar/he/fa)."
    )

    # email compilation
    email_size_budget: int = Field(
        default=100_000,
        ge=10_000,
        description="Largest HTML part in bytes; Gmail clips above ~102 KB. Briefs that do not "
        "fit are listed as links to the web version.",
    )
    utm_enabled: bool = Field(
        default=False, description="Add UTM parameters to the links to sources in emails."
    )
    utm_source: str = Field(default="newsletter", description="utm_source of tracked links.")
    utm_medium: str = Field(default="email", description="utm_medium of tracked links.")
    utm_campaign: str = Field(
        default="issue-{issue_date}",
        description="utm_campaign; {issue_date} becomes the issue's date (YYYY-MM-DD).",
    )
    debug: bool = Field(default=False, description="Show tracebacks for internal errors.")

    # secrets
    secret_key: SecretStr | None = Field(
        default=None,
        description=(
            "Signs links and sessions; at least 32 bytes (shorter keys are refused). Unset: "
            "a random key kept in the key file (NEWSLETTER_SECRET_KEY_FILE)."
        ),
    )
    secret_key_file: Path | None = Field(
        default=None,
        description=(
            "Where the generated key is kept when NEWSLETTER_SECRET_KEY is unset: made on "
            "first use (mode 0600) and refused if it is a symbolic link, readable by group "
            "or others, or under 32 bytes. Unset: .newsletter-secret in the SQLite "
            "database's folder; with PostgreSQL set this or NEWSLETTER_SECRET_KEY."
        ),
    )

    # delivery
    provider: ProviderName = Field(
        default="outbox",
        description="Where mail goes: 'outbox' (a local Maildir, no account), 'smtp', 'sendgrid'.",
    )
    outbox: Path = Field(default=Path("outbox"), description="Maildir the outbox provider writes.")
    smtp_url: str | None = Field(
        default=None,
        description=(
            "smtp://user:pass@host:587 (STARTTLS when offered; ?starttls=require|never) or"
            " smtps://user:pass@host:465 (TLS); ?cafile=PATH trusts a private CA."
        ),
    )
    sendgrid_api_key: SecretStr | None = Field(
        default=None,
        description="SendGrid API key (with Mail Send permission).",
        validation_alias=AliasChoices("NEWSLETTER_SENDGRID_API_KEY", "SENDGRID_API_KEY"),
    )
    sendgrid_host: str = Field(
        default="https://api.sendgrid.com",
        description="Base URL of the SendGrid v3 API; tests point it at the fake server.",
    )
    sendgrid_sandbox: bool = Field(
        default=False, description="Sandbox mode: SendGrid validates each request, sends nothing."
    )
    sendgrid_timeout: float = Field(
        default=30.0,
        gt=0,
        description="Seconds to wait for SendGrid; past it a sent request's outcome is unknown.",
    )
    smtp_timeout: float = Field(
        default=30.0, gt=0, description="Seconds to wait for each SMTP connect, command or reply."
    )
    dkim_domain: str | None = Field(
        default=None,
        description=(
            "The d= of DKIM signatures on SMTP and outbox mail: the From address's domain or "
            "a parent of it (refused otherwise). Signing is on when the three DKIM settings "
            "are set; see docs/deliverability.md."
        ),
    )
    dkim_selector: str | None = Field(
        default=None,
        description="The s= of DKIM signatures: the key's record is at SELECTOR._domainkey.DOMAIN.",
    )
    dkim_key_file: Path | None = Field(
        default=None,
        description=(
            "The DKIM private key (PEM, mode 0600: others' access is refused), as written by "
            "`newsletter dkim keygen`."
        ),
    )
    sendgrid_return_path: str | None = Field(
        default=None,
        description=(
            "The em… host of SendGrid's domain authentication (e.g. em1234.example.org); "
            "`newsletter domain check` then checks its CNAME too."
        ),
    )
    bounce_domain: str | None = Field(
        default=None,
        description=(
            "Domain that receives bounces (its MX is checked): SMTP and outbox mail goes out "
            "from bounces+REF@this domain (VERP); unset: the From domain."
        ),
    )
    bounce_mailbox: str | None = Field(
        default=None,
        description=(
            "Where `newsletter bounces poll` reads bounces and complaints when given neither "
            "--imap nor --maildir: imaps://user:pass@host/INBOX (imap:// only on a trusted "
            "network; ?cafile=PATH trusts a private CA) or a Maildir folder."
        ),
    )
    bounce_poll_seconds: float = Field(
        default=300.0,
        gt=0,
        description="How often `newsletter bounces poll` (without --once) reads the mailbox.",
    )
    bounce_max_bytes: int = Field(
        default=1_000_000,
        ge=10_000,
        description=(
            "Largest bounce mailbox message read; larger ones are moved to the review folder "
            "unread."
        ),
    )
    dns_resolver: str | None = Field(
        default=None,
        description=(
            "DNS server `newsletter domain check` asks, as HOST or HOST:PORT (e.g. "
            "127.0.0.1:5353); unset: the system's resolvers."
        ),
    )
    dns_timeout: float = Field(
        default=5.0, gt=0, le=60, description="Seconds a DNS check waits for one answer."
    )
    sendgrid_webhook_public_key: str | None = Field(
        default=None,
        description=(
            "The Signed Event Webhook's verification key (base64, from SendGrid's mail "
            "settings). POST /webhooks/sendgrid accepts only batches signed with it; unset, "
            "SendGrid events are off (every batch gets 403) and `serve` says so at start."
        ),
    )
    sendgrid_webhook_max_age: int = Field(
        default=600,
        ge=1,
        description=(
            "Seconds a signed webhook batch stays acceptable after its timestamp (either "
            "way, for clock skew); older ones get 403. Replays are harmless (events are "
            "de-duplicated), this only bounds how long a captured request can be replayed."
        ),
    )
    webhook_max_body_bytes: int = Field(
        default=5_000_000,
        ge=16_384,
        description="Largest webhook batch accepted (SendGrid posts up to about 768 KB).",
    )
    soft_bounce_limit: int = Field(
        default=3,
        ge=0,
        description=(
            "Suppress an address after this many deliveries in a row soft-bounced (blocked "
            "or deferred, never delivered); 0: soft bounces never suppress."
        ),
    )
    sunset_issues: int = Field(
        default=0,
        ge=0,
        le=1000,
        description=(
            "Sunset policy: ask readers with no human open or click in the last this many "
            "issues they were sent whether to stay, and lapse them (no more mail) if they do "
            "not answer; 0: the policy is off. 8 is a common choice."
        ),
    )
    sunset_days: int = Field(
        default=90,
        ge=0,
        le=3650,
        description=(
            "Sunset policy: the first of those issues must be at least this many days old "
            "(so a weekly send asks no one after a busy fortnight); 0: no minimum."
        ),
    )
    sunset_grace_days: int = Field(
        default=14,
        ge=1,
        le=365,
        description=(
            "Sunset policy: days a reader has to answer 'keep me subscribed' (counted from "
            "the question) before they lapse."
        ),
    )
    tracking_scanner_seconds: float = Field(
        default=20.0,
        ge=0,
        description=(
            "A click sooner than this after the message was sent is a link scanner's: "
            "recorded, flagged, not counted as a reader's."
        ),
    )
    event_payload_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        description=(
            "Days a tracking event's raw provider payload (with its user agent) is kept; "
            "`newsletter events prune` drops older ones and keeps the normalised event."
        ),
    )

    # sending campaigns
    tracking: Literal["auto", "provider", "first-party", "off"] = Field(
        default="auto",
        description=(
            "Open/click tracking: 'auto' lets SendGrid track the opens of its sends and uses our "
            "own click redirects (they know each link's brief, section and narrative) and, for "
            "SMTP and the outbox, our own pixel; 'provider', 'first-party' or 'off' force one."
        ),
    )
    ignore_unsupported: Annotated[list[Literal["categories", "tracking"]], NoDecode] = Field(
        default_factory=list,
        description=(
            "Options the provider cannot honour that a campaign may be sent without, "
            "comma-separated ('categories', 'tracking'); any other such option refuses the "
            "freeze (e.g. NEWSLETTER_TRACKING=provider with SMTP)."
        ),
    )
    send_lanes: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Provider requests in flight per worker (PostgreSQL; SQLite uses one).",
    )
    send_batch_size: int = Field(
        default=1000, ge=1, le=1000, description="Recipients per provider request (≤ 1000)."
    )
    send_rate: float | None = Field(
        default=None, gt=0, description="Messages per second per worker; unset: no limit."
    )
    send_limit_per_second: float | None = Field(
        default=None,
        gt=0,
        description=(
            "Messages per second to each provider (SendGrid; the outbox; SMTP per host), "
            "shared by every worker through the database; unset: no limit."
        ),
    )
    send_limit_per_hour: int | None = Field(
        default=None,
        gt=0,
        description=(
            "Messages per clock hour (UTC) to each provider, shared by every worker; when "
            "spent, campaigns wait for the next hour and say so. Unset: no limit."
        ),
    )
    send_limit_per_day: int | None = Field(
        default=None,
        gt=0,
        description=(
            "Messages per day (UTC) to each provider, shared by every worker; when spent, "
            "campaigns wait for the next day and say so. Unset: no limit."
        ),
    )
    send_limits: dict[str, ProviderLimits] = Field(
        default_factory=dict,
        description=(
            "Limits of particular providers, overriding NEWSLETTER_SEND_LIMIT_PER_* for them: "
            "JSON keyed by 'sendgrid', 'outbox', 'smtp' or 'smtp:HOST', e.g. "
            '{"smtp:relay.example.org": {"per_second": 14, "per_day": 50000}}.'
        ),
    )
    warmup_start: int | None = Field(
        default=None,
        gt=0,
        description=(
            "Warm-up of a new From domain: messages it may send on its first sending day "
            "(e.g. 1000), each later day NEWSLETTER_WARMUP_FACTOR times the day before; the "
            "first day is recorded the first time the domain sends. Unset: no warm-up."
        ),
    )
    warmup_factor: float = Field(
        default=1.5,
        ge=1,
        le=10,
        description="How much a warming-up domain's daily limit grows each day (1.5: +50 %).",
    )
    send_lease_seconds: float = Field(
        default=300.0,
        gt=0,
        description=(
            "How long a claimed batch belongs to its worker; past it, rows still 'sending' "
            "become 'unknown' (settled by the provider's events, else resent only on purpose)."
        ),
    )
    subject_test_min_cell: int = Field(
        default=1000,
        ge=1,
        description=(
            "The fewest recipients a subject test's cell may have: a campaign whose cells "
            "would be smaller is refused at the freeze (too few clicks to tell subjects apart)."
        ),
    )
    subject_test_confidence: float = Field(
        default=0.95,
        gt=0.5,
        lt=1,
        description=(
            "How sure the two-proportion test must be that the best subject's unique human "
            "click rate beats the next one's to call it the winner; else the first subject wins."
        ),
    )
    unknown_quarantine_minutes: float = Field(
        default=30.0,
        gt=0,
        description=(
            "How long an 'unknown' delivery waits for the provider's events before a campaign "
            "sent with --retry-unknown-after may resend it; no campaign may ask for less (the "
            "provider's events must have had time to arrive)."
        ),
    )
    send_retry_attempts: int = Field(
        default=6, ge=1, le=50, description="Tries per batch on 429/5xx/connection refused."
    )
    send_retry_base_delay: float = Field(
        default=1.0, ge=0, description="First backoff in seconds (doubles each try, jittered)."
    )
    send_retry_max_delay: float = Field(
        default=60.0, ge=0, description="Longest wait between tries, also caps a 429's reset."
    )
    unsubscribe_mailto: str | None = Field(
        default=None,
        description="Address for the mailto: form of List-Unsubscribe (unset: URL form only).",
    )
    list_id: str | None = Field(
        default=None,
        description=(
            "The List-Id of every campaign (RFC 2919), e.g. 'briefing.example.org'; unset: "
            "the newsletter's name as a slug, a dot, and the From address's domain."
        ),
    )
    compliance_checks: bool = Field(
        default=True,
        description=(
            "Refuse to start a campaign through smtp or sendgrid without a postal address, "
            "an https public URL (List-Unsubscribe) and a List-Id. Off only for test set-ups "
            "against local fake servers; the outbox is never checked."
        ),
    )
    worker_poll_seconds: float = Field(
        default=5.0, gt=0, description="How often an idle worker or scheduler looks for work."
    )

    # the pre-send check (campaigns.preflight)
    link_check_timeout: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="Seconds the pre-send check waits for one link or image to answer.",
    )
    link_check_concurrency: int = Field(
        default=8, ge=1, le=64, description="Links and images the pre-send check asks at once."
    )
    link_check_limit: int = Field(
        default=300,
        ge=0,
        le=5000,
        description="Most distinct links (and as many images) one pre-send check asks; the "
        "rest are listed as not checked.",
    )

    # the weekly digest
    digest_grace_days: int = Field(
        default=7,
        ge=0,
        le=365,
        description=(
            "A weekly digest holds the ready briefs updated in its week or this many days "
            "before it; older ready briefs are left out (and named) unless included on purpose."
        ),
    )

    # subscribers and the public signup pages
    topics: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description=(
            "Topics a reader may choose, comma-separated (e.g. 'europe,climate'); "
            "the topics of stored briefs are offered too."
        ),
    )
    topic_labels: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict,
        description=(
            "How topics are written on pages, comma-separated topic=Label "
            "(e.g. 'ai=AI,middle-east=Middle East'); others are title-cased, known "
            "acronyms (US, UK, EU, AI…) in capitals."
        ),
    )
    thank_you_url: str | None = Field(
        default=None,
        description="Where a signup form post is redirected; unset: our 'check your inbox' page.",
    )
    confirmation_expiry_hours: int = Field(
        default=72, ge=1, le=24 * 90, description="How long a confirmation link stays valid."
    )
    confirmation_resend_minutes: int = Field(
        default=10,
        ge=0,
        description="A pending address gets at most one confirmation mail per this many minutes.",
    )
    confirmation_max_attempts: int = Field(
        default=5, ge=1, le=100, description="Tries to send one confirmation mail before giving up."
    )
    signup_rate_limit: int = Field(
        default=10, ge=0, description="Signup posts allowed per client IP per period; 0: no limit."
    )
    signup_rate_period: int = Field(
        default=60, ge=1, description="The rate-limit period in seconds."
    )
    fresh_link_rate_limit: int = Field(
        default=5,
        ge=0,
        description="Requests for a fresh preferences link allowed per client IP per "
        "fresh_link_rate_period; 0: no limit.",
    )
    fresh_link_rate_period: int = Field(
        default=600, ge=1, description="The fresh-link rate-limit period in seconds."
    )
    fresh_link_resend_minutes: int = Field(
        default=15,
        ge=0,
        description="A subscribed address gets at most one fresh preferences link per this "
        "many minutes, however often it is asked for.",
    )
    max_body_bytes: int = Field(
        default=16_384, ge=1_024, description="Largest request body the web app accepts (else 413)."
    )
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description=(
            "Proxies (comma-separated addresses or networks, '*' for any) whose "
            "X-Forwarded-For and X-Forwarded-Proto the app believes; from any other peer "
            "those headers are ignored. The signup rate limit and the editor's login "
            "throttle count per client address."
        ),
    )

    # the editor web app
    serve_worker: bool = Field(
        default=True,
        description=(
            "`newsletter serve` also runs a scheduler and send worker in a background "
            "thread (the one-process embedded set-up); production turns it off and runs "
            "`newsletter worker --schedule` processes instead."
        ),
    )
    editor_session_idle_minutes: int = Field(
        default=60,
        ge=1,
        le=24 * 60,
        description="An editor's session ends after this many minutes without a request.",
    )
    editor_session_max_hours: int = Field(
        default=12,
        ge=1,
        le=24 * 30,
        description="An editor's session ends this long after login, however active.",
    )
    editor_cookie_same_site: Literal["lax", "strict"] = Field(
        default="lax",
        description=(
            "SameSite of the editor session cookie (it is always HttpOnly, and Secure when "
            "the public URL is https)."
        ),
    )
    editor_login_free_failures: int = Field(
        default=3,
        ge=1,
        le=100,
        description=(
            "Failed logins to one account from one client address before each further "
            "attempt from there must wait (the first delay, doubling with each further "
            "failure); other addresses are not slowed, and a success clears the count."
        ),
    )
    editor_login_address_free_failures: int = Field(
        default=20,
        ge=1,
        le=10_000,
        description=(
            "Failed logins from one client address, whatever the account, before each "
            "further attempt from there must wait (the first delay, then doubling)."
        ),
    )
    editor_login_first_delay_seconds: int = Field(
        default=1,
        ge=1,
        le=3600,
        description="The login throttle's first wait, once the free failures are used up.",
    )
    editor_login_max_delay_seconds: int = Field(
        default=300,
        ge=1,
        le=24 * 3600,
        description="The longest wait the login throttle imposes between two attempts.",
    )
    editor_login_forget_minutes: int = Field(
        default=60,
        ge=1,
        le=7 * 24 * 60,
        description=(
            "A count of failed logins is forgotten after this long without a failure "
            "(counted from the end of its last wait)."
        ),
    )
    editor_login_rate_limit: int = Field(
        default=10,
        ge=0,
        description="Login attempts allowed per client IP per minute (in this process); 0: none.",
    )
    editor_upload_max_bytes: int = Field(
        default=2_200_000,
        ge=16_384,
        description=(
            "Largest brief upload request (the body-size limit of that one form; briefs "
            "themselves are at most 1 MB each)."
        ),
    )
    editor_brief_form_max_bytes: int = Field(
        default=3_100_000,
        ge=16_384,
        description=(
            "Largest post of the brief edit form, new-brief form and its live preview (the "
            "body-size limit of those forms). A form posts each byte of non-Latin text as "
            "three (`%D0%91`), so the default is three times the largest brief file (1 MB) "
            "and room for the field names."
        ),
    )
    editor_import_max_bytes: int = Field(
        default=20_000_000,
        ge=16_384,
        description=(
            "Largest subscriber CSV upload in the editor (the body-size limit of that one "
            "form); larger lists go through `newsletter subscribers import`."
        ),
    )
    api_key_rate_limit: int = Field(
        default=120,
        ge=0,
        le=100_000,
        description=(
            "Requests a minute a new API key may make unless it is created with its own "
            "limit (counted in the database, so shared by every server process and host); "
            "0: no limit."
        ),
    )
    api_max_body_bytes: int = Field(
        default=1_100_000,
        ge=16_384,
        description=(
            "Largest request body under /api/v1 (a brief is at most 1 MB; a bulk add of "
            "subscribers is bounded by this too)."
        ),
    )
    api_bulk_max_subscribers: int = Field(
        default=1000,
        ge=1,
        le=10_000,
        description="Most subscribers one bulk add through /api/v1 may carry.",
    )
    editor_test_send_max: int = Field(
        default=5, ge=1, le=50, description="Addresses one 'send a test' may go to."
    )
    editor_timezone: str = Field(
        default="UTC",
        description="Time zone (IANA name) the editor pages show and read times in.",
    )
    webhook_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=60,
        description=(
            "Seconds an outbound webhook request may take in all (connect, send, the answer "
            "and the start of its body; not per read) before the attempt counts as failed "
            "and is retried later."
        ),
    )
    webhooks_allow_private_addresses: bool = Field(
        default=False,
        description=(
            "Let webhook endpoints use plain http and hosts that resolve to loopback, private "
            "or link-local addresses (off: such URLs are refused, at registration and before "
            "every attempt)."
        ),
    )

    default_time_zone: str = Field(
        default="UTC",
        description=(
            "Time zone (IANA name) of subscribers who have none of their own: where a campaign "
            "sent at the readers' local time reaches them."
        ),
    )

    @field_validator("editor_timezone", "default_time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use e.g. Europe/Berlin)") from exc
        return value

    @field_validator("list_id")
    @classmethod
    def _list_id_shape(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().strip("<>").lower()
        if not LIST_ID.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a List-Id: write a label and a domain, e.g. briefing.example.org"
            )
        return value

    @field_validator("public_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("ignore_unsupported", mode="before")
    @classmethod
    def _split_ignored(cls, value: object) -> object:
        if isinstance(value, str):
            return sorted({item.strip().lower() for item in value.split(",")} - {""})
        return value

    @field_validator("send_limits")
    @classmethod
    def _provider_keys(cls, value: dict[str, ProviderLimits]) -> dict[str, ProviderLimits]:
        """Keys name a provider, or an SMTP relay host: a typo must not drop a limit."""
        keys = {}
        for key, limits in value.items():
            kind, colon, host = key.strip().lower().partition(":")
            if kind not in get_args(ProviderName) or (colon and (kind != "smtp" or not host)):
                raise ValueError(
                    f"{key!r} is not a provider: use sendgrid, outbox, smtp or smtp:HOST"
                )
            keys[f"{kind}{colon}{host}"] = limits
        return keys

    @field_validator("topic_labels", mode="before")
    @classmethod
    def _parse_topic_labels(cls, value: object) -> object:
        return parse_topic_labels(value) if isinstance(value, str) else value

    @field_validator("topics", mode="before")
    @classmethod
    def _split_topics(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list):
            return sorted({str(item).strip().lower() for item in value} - {""})
        return value

    def signing_key(self) -> str:
        """The key for signed tokens: from the environment, or a generated one kept on disk.

        The on-disk fallback makes the embedded default work with no configuration while
        links stay valid across restarts; production sets ``NEWSLETTER_SECRET_KEY``.
        """
        if self.secret_key is not None:
            value = self.secret_key.get_secret_value()
            _check_key_length(value, "NEWSLETTER_SECRET_KEY")
            return value
        return _local_secret(self.key_file())

    def key_file(self) -> Path:
        """Where the generated key lives: the configured file, or next to the SQLite file.

        Next to the data, not in the working directory, so that a command run from another
        folder finds the same key instead of making one that breaks every mailed link.
        A PostgreSQL database has no folder here, and processes on several hosts would
        each make their own key: the operator must choose.
        """
        if self.secret_key_file is not None:
            return Path(os.path.abspath(self.secret_key_file))
        folder = _sqlite_folder(self.database_url)
        if folder is None:
            raise ConfigurationError(
                "NEWSLETTER_SECRET_KEY is not set and the database is not a SQLite file, so "
                "there is no folder to keep a generated key in: set NEWSLETTER_SECRET_KEY "
                f"({MIN_KEY_BYTES}+ random bytes, the same for every process) or "
                "NEWSLETTER_SECRET_KEY_FILE"
            )
        return folder / SECRET_FILE_NAME


def _check_key_length(value: str, source: str) -> None:
    size = len(value.encode("utf-8"))
    if size < MIN_KEY_BYTES:
        raise ConfigurationError(
            f"{source} holds a {size}-byte key: it must be at least {MIN_KEY_BYTES} bytes "
            "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )


def _sqlite_folder(database_url: str) -> Path | None:
    """The absolute folder of a SQLite database file; ``None`` for other databases."""
    try:
        url = make_url(database_url)
    except ArgumentError:
        return None
    name = url.database
    if url.get_backend_name() != "sqlite" or not name or name == ":memory:":
        return None
    if name.startswith("file:") or url.query.get("mode") == "memory":
        return None
    return Path(os.path.abspath(name)).parent


def _local_secret(path: Path) -> str:
    """The key kept in ``path``, made there (and announced) the first time."""
    existing = _read_key_file(path)
    if existing is not None:
        return existing
    if _create_key_file(path, secrets.token_urlsafe(32)):
        log.warning("created a new secret key in %s (keep it: every mailed link needs it)", path)
    existing = _read_key_file(path)  # ours, or the one another process made first
    if existing is None:
        raise ConfigurationError(f"the secret key file {path} vanished while it was made")
    return existing


def _read_key_file(path: Path) -> str | None:
    """The key in ``path`` (``None`` if there is no file), refusing files others could
    read or replace: a symbolic link, a group/world-accessible mode, a short key."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP or path.is_symlink():
            raise ConfigurationError(
                f"the secret key file {path} is a symbolic link: refused (use the file itself)"
            ) from None
        raise ConfigurationError(f"cannot read the secret key file {path}: {exc.strerror}") from exc
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ConfigurationError(f"the secret key file {path} is not a regular file")
        if info.st_mode & 0o077:
            raise ConfigurationError(
                f"the secret key file {path} is open to group or others (mode "
                f"{stat.S_IMODE(info.st_mode):04o}): refused; run chmod 600 {path}"
            )
        data = handle.read(64 * 1024)
    try:
        value = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ConfigurationError(f"the secret key file {path} is not UTF-8 text") from None
    _check_key_length(value, f"the secret key file {path}")
    return value


def _create_key_file(path: Path, value: str) -> bool:
    """Write ``value`` to a new file at ``path``, readable by its owner only from the first
    byte; ``False`` if another process made it first. The key is written to a private
    temporary file that is then linked into place, so nobody ever reads a half-written key.
    """
    temporary = path.with_name(f"{path.name}.{secrets.token_hex(8)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(temporary, flags, 0o600)
        try:
            os.write(fd, (value + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(temporary, path)
        except FileExistsError:
            return False
        finally:
            temporary.unlink(missing_ok=True)
    except OSError as exc:
        raise ConfigurationError(
            f"NEWSLETTER_SECRET_KEY is not set and the key file {path} cannot be made: "
            f"{exc.strerror or exc}"
        ) from exc
    return True


def env_names(name: str, field: FieldInfo) -> list[str]:
    """The environment variables that set a field (aliases first)."""
    alias = field.validation_alias
    choices = getattr(alias, "choices", None)
    if choices:
        return [str(choice) for choice in choices]
    return [f"NEWSLETTER_{name.upper()}"]


def without_password(url: str) -> str:
    """``url`` with any password in it replaced by ``***``, parsed the way its user parses
    it: SQLAlchemy for database URLs, :func:`urllib.parse.urlsplit` for the rest (SMTP).

    A password that the parser cuts short (an unescaped ``@``, ``/``, ``?`` or ``#`` in it)
    is hidden up to the last ``@`` too, so no piece of it shows either.
    """
    scheme = url.partition("://")[0].split("+")[0].lower()
    if scheme in _DATABASE_SCHEMES:
        try:
            parsed = make_url(url)
        except (ArgumentError, ValueError):  # ValueError: a port that is not a number
            return _hidden_up_to_last_at(url)
        if parsed.password is None:
            return url
        if "@" in (parsed.host or ""):
            return _hidden_up_to_last_at(url)
        return parsed.render_as_string(hide_password=True)
    try:
        parts = urlsplit(url)
        if parts.password is not None:
            user, _, host = parts.netloc.rpartition("@")
            return urlunsplit(parts._replace(netloc=f"{user.partition(':')[0]}:***@{host}"))
        parts.port  # noqa: B018  (raises when the netloc is not host:port)
    except ValueError:
        return _hidden_up_to_last_at(url)
    return url


def _hidden_up_to_last_at(url: str) -> str:
    scheme, _, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    return f"{scheme}://{userinfo.partition(':')[0]}:***@{host}"


def shown(value: Any) -> str:
    """A setting's value as people may see it: secrets only as set or unset, URLs with
    their password as ``***``."""
    if isinstance(value, SecretStr):
        return "(set)"
    if value is None:
        return "(unset)"
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "(none)"
    if isinstance(value, dict):  # as it is written: topic=Label,…
        return ",".join(f"{k}={v}" for k, v in value.items()) or "(none)"
    if isinstance(value, str) and "://" in value:
        return without_password(value)
    return str(value)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment once."""
    return Settings()
