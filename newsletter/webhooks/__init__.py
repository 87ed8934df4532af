"""Outbound webhooks: endpoints that other systems register, and the signed messages queued
for them in the transaction of the change they report (see docs/webhooks.md)."""
