"""``Client``: the blocking client over the standard library's ``http.client``.

No third-party import: for AWS Lambda, small containers, or an install
without httpx (``pip install --no-deps cognito-raw``). The client lives in
``cognito_raw._clients.stdlib_client``; this is its public import path.
"""

from __future__ import annotations

from ._clients.stdlib_client import Client

__all__ = ["Client"]
