"""Scoped API keys for the newsroom's systems (``/api/v1``): the table and the service."""
