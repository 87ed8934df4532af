"""Sign Event Webhook batches as SendGrid does, for tests and benchmarks.

SendGrid's Signed Event Webhook signs ``timestamp + body`` with ECDSA (P-256, SHA-256) and
sends the base64 signature and the timestamp in two headers; its settings page shows the
public key as base64 DER. :class:`SendGridKey` is such a key pair, made fresh per use.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from campaigns.webhook_auth import SIGNATURE_HEADER, TIMESTAMP_HEADER


@dataclass
class SendGridKey:
    """A P-256 key pair; signs ``timestamp + body`` with ECDSA/SHA-256 like SendGrid."""

    private: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )

    @property
    def public_key(self) -> str:
        """The base64 DER public key, as SendGrid's settings page shows it."""
        der = self.private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(der).decode("ascii")

    def headers(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        """The headers SendGrid would post ``body`` with (signed now, or at ``timestamp``)."""
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        signature = self.private.sign(stamp.encode("ascii") + body, ec.ECDSA(hashes.SHA256()))
        return {
            SIGNATURE_HEADER: base64.b64encode(signature).decode("ascii"),
            TIMESTAMP_HEADER: stamp,
            "Content-Type": "application/json",
        }
