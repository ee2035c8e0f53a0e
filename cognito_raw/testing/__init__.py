"""Tools for testing code that calls UpdateAuthEventFeedback.

``cognito_raw.testing.strategies`` holds hypothesis strategies (install the
``testing`` extra for hypothesis).
"""

from __future__ import annotations

__all__: list[str] = []
