"""DKIM (RFC 6376): the signing key, the DNS record that publishes it, and each signature.

Receivers (Gmail, Yahoo, Outlook) reject bulk mail that is not authenticated and aligned:
the SMTP and outbox providers sign every message with the key named by the settings
(``NEWSLETTER_DKIM_DOMAIN``, ``NEWSLETTER_DKIM_SELECTOR``, ``NEWSLETTER_DKIM_KEY_FILE``),
relaxed/relaxed, over the headers a receiver and a reader rely on. SendGrid signs its own.

dkimpy does the canonicalisation and the header hashing (the parts that must match every
verifier bit for bit); the RSA operation itself is OpenSSL's through ``cryptography`` with
the key parsed once per provider: dkimpy's pure-Python RSA and its per-call key parsing
cost many times OpenSSL's (``docs/benchmarks.md``, DKIM signing).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from dkim import hash_headers, rfc822_parse
from dkim.canonicalization import (
    CanonicalizationPolicy,
    correct_empty_body,
    strip_trailing_lines,
)

from newsletter.config import Settings
from newsletter.errors import ConfigurationError

SIGNED_HEADERS = (
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "content-type",
    "list-id",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "reply-to",
    "feedback-id",
)
"""Signed when present, in this order; ``from`` is signed once more, so that a second From
header added on the way breaks the signature (RFC 6376 8.15)."""

KEY_BITS = 2048
MIN_KEY_BITS = 1024  # receivers ignore shorter keys (RFC 8301)
TXT_STRING = 255  # longest character-string in a TXT record (RFC 1035 3.3)
_LINE = 78
_RELAXED = CanonicalizationPolicy.from_c_value(b"relaxed/relaxed")
_SUSPECT = re.compile(rb"  | \r")  # two spaces, or a space before a line end
_TRAILING_SPACES = re.compile(rb" +\r\n")
_SPACES = re.compile(rb"  +")
_NAME = re.compile(r"(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_-]{1,63})*")


@dataclass(frozen=True)
class DkimConfig:
    """The three settings that turn signing on; all or none must be set."""

    domain: str
    selector: str
    key_file: Path

    @property
    def record_name(self) -> str:
        """The DNS name receivers query: ``selector._domainkey.domain``."""
        return f"{self.selector}._domainkey.{self.domain}"


def dkim_config(settings: Settings) -> DkimConfig | None:
    """The DKIM settings, ``None`` when signing is off, ``ConfigurationError`` when half set."""
    values = {
        "NEWSLETTER_DKIM_DOMAIN": settings.dkim_domain,
        "NEWSLETTER_DKIM_SELECTOR": settings.dkim_selector,
        "NEWSLETTER_DKIM_KEY_FILE": settings.dkim_key_file,
    }
    missing = [name for name, value in values.items() if not value]
    if len(missing) == len(values):
        return None
    if missing:
        raise ConfigurationError(
            f"DKIM signing needs all three of NEWSLETTER_DKIM_DOMAIN, _SELECTOR and _KEY_FILE; "
            f"{', '.join(missing)} unset"
        )
    assert settings.dkim_domain and settings.dkim_selector and settings.dkim_key_file
    return DkimConfig(
        domain=dns_name(settings.dkim_domain, "NEWSLETTER_DKIM_DOMAIN"),
        selector=dns_name(settings.dkim_selector, "NEWSLETTER_DKIM_SELECTOR"),
        key_file=Path(os.path.abspath(settings.dkim_key_file)),
    )


def dns_name(value: str, what: str) -> str:
    """``value`` as a lower-case DNS name in ASCII (IDNA), or ``ConfigurationError``."""
    name = value.strip().rstrip(".").lower()
    try:
        name = name.encode("idna").decode("ascii") if not name.isascii() else name
    except UnicodeError as exc:
        raise ConfigurationError(f"{what}: {value!r} is not a domain name ({exc})") from exc
    if not _NAME.fullmatch(name):
        raise ConfigurationError(f"{what}: {value!r} is not a domain name")
    return name


def aligned(from_email: str, dkim_domain: str) -> bool:
    """Relaxed alignment (DMARC, RFC 7489 3.1.1): ``d=`` is the From domain or a parent."""
    domain = from_email.rpartition("@")[2].strip().rstrip(".").lower()
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            return False
    return domain == dkim_domain or domain.endswith("." + dkim_domain)


def alignment_problem(settings: Settings) -> str | None:
    """Why the configured DKIM key cannot sign our mail (half set, or not aligned), if so.

    Only the SMTP and outbox providers sign: with SendGrid the settings are not used.
    """
    if settings.provider == "sendgrid":
        return None
    try:
        config = dkim_config(settings)
    except ConfigurationError as exc:
        return str(exc)
    if config is None or aligned(settings.from_email, config.domain):
        return None
    return (
        f"DKIM domain {config.domain} does not align with the From address "
        f"{settings.from_email}: receivers apply DMARC to the From domain, so d= must be it "
        f"or a parent of it (set NEWSLETTER_DKIM_DOMAIN to its domain)"
    )


# keys


def generate_key() -> rsa.RSAPrivateKey:
    """A new RSA key of :data:`KEY_BITS` bits (what every receiver verifies)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)


def write_private_key(path: Path, key: rsa.RSAPrivateKey, *, force: bool = False) -> None:
    """Write ``key`` (PEM, PKCS#8) to ``path``, mode 0600 from the first byte.

    Refuses to replace an existing file unless ``force``: a replaced key invalidates the
    published record and every signature in flight. Missing folders are made (mode 0700).
    """
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    if path.exists() and not force:
        raise ConfigurationError(
            f"a DKIM key already exists at {path}: refused (pass --force to replace it, "
            "then publish the new record)"
        )
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        if force:
            os.replace(temporary, path)
        else:
            os.link(temporary, path)  # fails if another process made it meanwhile
    except FileExistsError:
        raise ConfigurationError(f"a DKIM key already exists at {path}: refused") from None
    except OSError as exc:
        raise ConfigurationError(f"cannot write the DKIM key {path}: {exc.strerror}") from exc
    finally:
        temporary.unlink(missing_ok=True)


def load_private_key(path: Path) -> rsa.RSAPrivateKey:
    """The RSA key in ``path``; refused if others may read it, a link, or not a usable key."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        raise ConfigurationError(
            f"no DKIM key at {path} (NEWSLETTER_DKIM_KEY_FILE): make one with "
            "`newsletter dkim keygen`"
        ) from None
    except OSError as exc:
        raise ConfigurationError(f"cannot read the DKIM key {path}: {exc.strerror}") from exc
    with os.fdopen(fd, "rb") as handle:
        mode = os.fstat(handle.fileno()).st_mode
        if not stat.S_ISREG(mode) or mode & 0o077:
            raise ConfigurationError(
                f"the DKIM key {path} is not a regular file readable by its owner only "
                f"(mode {stat.S_IMODE(mode):04o}): refused; run chmod 600 {path}"
            )
        data = handle.read(64 * 1024)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(
            f"the DKIM key {path} is not an unencrypted PEM private key"
        ) from exc
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < MIN_KEY_BITS:
        raise ConfigurationError(
            f"the DKIM key {path} must be an RSA key of at least {MIN_KEY_BITS} bits"
        )
    return key


def public_key_b64(key: rsa.RSAPrivateKey | rsa.RSAPublicKey) -> str:
    """The ``p=`` value: the public key's SubjectPublicKeyInfo (DER), base64."""
    public = key.public_key() if isinstance(key, rsa.RSAPrivateKey) else key
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode("ascii")


def dns_record(key: rsa.RSAPrivateKey) -> str:
    """The TXT record's text: ``v=DKIM1; k=rsa; p=…``."""
    return f"v=DKIM1; k=rsa; p={public_key_b64(key)}"


def txt_strings(text: str) -> list[str]:
    """``text`` cut into the ≤255-character strings one TXT record is made of."""
    return [text[i : i + TXT_STRING] for i in range(0, len(text), TXT_STRING)] or [""]


def zone_line(name: str, text: str) -> str:
    """``name. IN TXT ( "…" "…" )``: the record as a zone file (and most DNS panels) take it."""
    quoted = " ".join(f'"{part}"' for part in txt_strings(text))
    return f"{name}. IN TXT {quoted}"


# signing


class DkimSigner:
    """Signs finished messages with one key; made once per provider, shared by its threads."""

    def __init__(self, domain: str, selector: str, key: rsa.RSAPrivateKey) -> None:
        self.domain = domain
        self.selector = selector
        self._key = key
        self._d = domain.encode("ascii")
        self._s = selector.encode("ascii")

    @classmethod
    def from_settings(cls, settings: Settings) -> DkimSigner | None:
        """The configured signer (key read now), ``None`` if DKIM is off; misaligned or
        half-configured DKIM is a ``ConfigurationError`` before anything is sent."""
        problem = alignment_problem(settings)
        if problem:
            raise ConfigurationError(problem)
        config = dkim_config(settings)
        if config is None:
            return None
        return cls(config.domain, config.selector, load_private_key(config.key_file))

    def check_from(self, from_email: str) -> None:
        """``ValueError`` unless this key may sign mail from ``from_email`` (alignment)."""
        if not aligned(from_email, self.domain):
            raise ValueError(
                f"the From address {from_email} does not align with the DKIM domain "
                f"{self.domain}: it would fail DMARC"
            )

    def sign(self, message: bytes, linesep: bytes = b"\r\n") -> bytes:
        """``message`` with a ``DKIM-Signature`` header in front (lines end with ``linesep``)."""
        end = message.find(linesep + linesep)
        if end < 0:
            raise ValueError("the message has no blank line between its header and body")
        head, body = message[: end + len(linesep)], message[end + 2 * len(linesep) :]
        if linesep != b"\r\n":
            body = body.replace(linesep, b"\r\n")
        body_hash = hashlib.sha256(relaxed_body(body)).digest()
        headers = _RELAXED.canonicalize_headers(rfc822_parse(head)[0])
        present = {name for name, _ in headers}
        signed = [name.encode() for name in SIGNED_HEADERS if name.encode() in present]
        signed.append(b"from")
        folded = self._folded_tags(signed, base64.b64encode(body_hash), linesep)
        hasher = hashlib.sha256()
        hash_headers(hasher, _RELAXED, headers, signed, (b"DKIM-Signature", folded[15:]), {})
        signature = self._key.sign(hasher.digest(), padding.PKCS1v15(), Prehashed(hashes.SHA256()))
        return folded + _folded_value(base64.b64encode(signature), folded, linesep) + message

    def _folded_tags(self, signed: list[bytes], body_hash: bytes, linesep: bytes) -> bytes:
        """``DKIM-Signature: v=1; … b=`` folded at 78 columns; ``h=`` may break at colons."""
        pieces = [b"v=1;", b"a=rsa-sha256;", b"c=relaxed/relaxed;", b"d=" + self._d + b";"]
        pieces += [b"s=" + self._s + b";", b"t=%d;" % int(time.time())]
        names = [b"h=" + signed[0], *signed[1:]]
        pieces += [name + b":" for name in names[:-1]] + [names[-1] + b";"]
        pieces += [b"bh=" + body_hash + b";", b"b="]
        lines = [b"DKIM-Signature:"]
        in_h = False
        for piece in pieces:
            glue = b"" if in_h and lines[-1].endswith(b":") else b" "
            if len(lines[-1]) + len(glue) + len(piece) > _LINE and len(lines[-1]) > 1:
                lines.append(b"")
                glue = b" "
            lines[-1] += glue + piece
            in_h = piece.startswith(b"h=") or (in_h and piece.endswith(b":"))
        return linesep.join(lines)


def relaxed_body(body: bytes) -> bytes:
    """The relaxed canonical body (RFC 6376 3.4.4), exactly as dkimpy makes it, faster.

    dkimpy rewrites every run of spaces, even a lone space into a space, which is most of
    its signing time for a digest. Without tabs, only two spaces in a row or a space before
    a line end change anything; one search finds whether there is any (figures in
    ``docs/benchmarks.md``, DKIM signing). Tabs take dkimpy's own path. A property test
    holds this equal to dkimpy's result.
    """
    if b"\t" in body:
        return bytes(_RELAXED.canonicalize_body(body))
    if _SUSPECT.search(body):
        body = _SPACES.sub(b" ", _TRAILING_SPACES.sub(b"\r\n", body))
    return bytes(correct_empty_body(strip_trailing_lines(body)))


def _folded_value(value: bytes, before: bytes, linesep: bytes) -> bytes:
    """The signature after ``b=``, folded with whitespace (which verifiers strip from b=)."""
    room = max(_LINE - len(before.rsplit(linesep, 1)[-1]), 0)
    chunks = [value[:room]] if room else [b""]
    chunks += [value[i : i + _LINE - 1] for i in range(room, len(value), _LINE - 1)]
    return (linesep + b" ").join(chunks) + linesep
