"""``AsyncClient``: the async client for Pyodide, sending through JavaScript's ``fetch``.

No httpx, no sockets: for Pyodide in a browser, under Node.js, and in
Cloudflare Python Workers. The client lives in
``cognito_raw._clients.fetch_client``; this is its public import path.
"""

from __future__ import annotations

from ._clients.fetch_client import FORBIDDEN_HEADERS, AsyncClient

__all__ = ["FORBIDDEN_HEADERS", "AsyncClient"]
