"""A real DNS server on loopback (dnslib) that answers from a zone text, over UDP and TCP.

Tests start it through ``tests/deliverability/conftest.py`` on an ephemeral port (the same
port for UDP and TCP, as resolvers expect) and swap its zone between checks. Names in the
zone answer their own types; a name that exists with other types answers NOERROR with no
records (NODATA), any other name NXDOMAIN, as an authoritative server does.
"""

from __future__ import annotations

import socket
import threading

from dnslib import QTYPE, RCODE, RR, DNSRecord
from dnslib.server import BaseResolver, DNSHandler, DNSLogger, DNSServer


class ZoneFixture(BaseResolver):  # type: ignore[misc]
    """Answers from the records of a zone text; :meth:`load` replaces them."""

    def __init__(self, zone: str = "") -> None:
        self.records: list[RR] = []
        self.queries: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self.load(zone)

    def load(self, zone: str) -> None:
        records = list(RR.fromZone(zone)) if zone.strip() else []
        with self._lock:
            self.records = records

    def resolve(self, request: DNSRecord, handler: DNSHandler) -> DNSRecord:
        reply = request.reply()
        qname, qtype = request.q.qname, QTYPE[request.q.qtype]
        with self._lock:
            self.queries.append((str(qname).rstrip(".").lower(), qtype))
            found = [rr for rr in self.records if rr.rname == qname]
        for rr in found:
            if QTYPE[rr.rtype] in (qtype, "CNAME") or qtype == "ANY":
                reply.add_answer(rr)
        if not found:
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


class LoopbackDns:
    """UDP and TCP servers on 127.0.0.1 and one ephemeral port, each in a thread."""

    def __init__(self, zone: str = "") -> None:
        self.zone = ZoneFixture(zone)
        quiet = DNSLogger("-request,-reply,-truncated,-error,-recv,-send,-data", logf=_ignore)
        for _ in range(20):  # the UDP port may be taken for TCP by someone else: try another
            udp = DNSServer(self.zone, address="127.0.0.1", port=0, logger=quiet)
            self.port = int(udp.server.server_address[1])
            try:
                tcp = DNSServer(self.zone, address="127.0.0.1", port=self.port, tcp=True,
                                logger=quiet)  # fmt: skip
            except OSError:
                udp.server.server_close()
                continue
            self._servers = (udp, tcp)
            break
        else:
            raise RuntimeError("no port free for both UDP and TCP on 127.0.0.1")

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT``, as ``NEWSLETTER_DNS_RESOLVER`` takes it."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        for server in self._servers:
            server.start_thread()
        with socket.create_connection(("127.0.0.1", self.port), timeout=5):
            pass  # TCP is listening; UDP was bound before the thread started

    def stop(self) -> None:
        for server in self._servers:
            server.stop()
            server.server.server_close()


def _ignore(_: str) -> None:
    """dnslib's logger prints by default; the tests want silence."""
