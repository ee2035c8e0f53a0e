"""``python -m cognito_raw``: show the protocol core at work, offline.

Builds one UpdateAuthEventFeedback request and decodes two recorded Cognito
replies (a success and a real error form), sending nothing.
"""

from __future__ import annotations

import sys

from . import ServiceError, UpdateAuthEventFeedbackRequest, build_request, parse_response


def main() -> int:
    """Print a built request (secrets redacted) and two decoded replies."""
    request = UpdateAuthEventFeedbackRequest(
        user_pool_id="us-east-1_AbC123xyz",
        username="alice@example.com",
        event_id="c2c2cf89-c0d3-482d-aba6-99d78a5b0bfe",
        feedback_token="bm90LWEtcmVhbC10b2tlbg==",  # noqa: S106 - a made-up example
        feedback_value="invalid",
    )
    http = build_request(request)
    out = sys.stdout.write
    out(f"{http.method} {http.url}\n")
    for name, value in http.headers.items():
        out(f"{name}: {value}\n")
    out(f"\n{http.redacted_body()}\n\n")
    ok = parse_response(200, {"x-amzn-RequestId": "8f0c6a1e-0000-4000-8000-000000000001"}, b"{}")
    out(f"200 -> {ok!r}\n")
    try:
        parse_response(
            400,
            {
                "x-amzn-RequestId": "5090ed1c-b098-47e5-8397-e2f3ef4b41d5",
                "x-amzn-ErrorType": "NotAuthorizedException:",
            },
            b'{"__type":"NotAuthorizedException","message":"Invalid feedback token."}',
        )
    except ServiceError as exc:
        out(f"400 -> {type(exc).__name__}: {exc.message} (retryable={exc.retryable})\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
