"""Deliverability: what receivers check before they trust our mail (DKIM, DNS records).

``dkim`` makes a signing key, prints its DNS record and signs each message the SMTP and
outbox providers build; ``dns_check`` reads a domain's SPF, DKIM, DMARC, MX and PTR records
and says which a receiver would accept. Kernel code: nothing here knows about campaigns.
"""
