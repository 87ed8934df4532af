"""The live server fixture (uvicorn on loopback) for the ``/api/v1`` tests."""

from __future__ import annotations

from tests.subscribers.conftest import serve  # noqa: F401  (the server fixture)
