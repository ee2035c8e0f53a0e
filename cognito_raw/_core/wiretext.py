"""A request as text: its HTTP/1.1 wire form or a curl command, secrets redacted unless asked.

Owns ``show_request``, shared by the CLI's ``--dry-run`` and the demo.
"""

from __future__ import annotations

import shlex

from .protocol import HttpRequest, redact_body

__all__ = ["show_request"]


def show_request(http: HttpRequest, *, curl: bool, secrets: bool) -> str:
    """An HTTP request as text (or a curl command); secrets redacted unless asked."""
    body = http.body.decode() if secrets else redact_body(http.body)
    if curl:
        parts = ["curl", "-sS", "-X", http.method, http.url]
        for name, value in http.headers.items():
            if name != "Content-Length":  # curl computes it
                parts += ["-H", f"{name}: {value}"]
        parts += ["--data-binary", body]
        return " ".join(shlex.quote(part) for part in parts)
    lines = [f"{http.method} {http.url} HTTP/1.1"]
    lines += [f"{name}: {value}" for name, value in http.headers.items()]
    return "\n".join(lines) + "\n\n" + body
