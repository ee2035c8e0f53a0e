"""cognito-raw: Amazon Cognito UpdateAuthEventFeedback without an AWS SDK.

The protocol core (``build_request``, ``parse_response``, the request model,
the endpoint rules and the exceptions) imports only the standard library. The
httpx-backed clients are imported lazily, on first use of their names. For
edge runtimes: ``cognito_raw.stdlib.Client`` (``http.client``, no third-party
import) and ``cognito_raw.fetch.AsyncClient`` (JavaScript's ``fetch`` under
Pyodide).
"""

from __future__ import annotations

from ._core.endpoints import check_endpoint_url, resolve_endpoint
from ._core.errors import (
    CognitoError,
    InternalErrorException,
    InvalidParameterException,
    NotAuthorizedException,
    OperationNotEnabledException,
    ProtocolError,
    RequestTimeoutError,
    ResourceNotFoundException,
    ServiceError,
    TooManyRequestsException,
    TransportError,
    UserNotFoundException,
    UserPoolAddOnNotEnabledException,
    ValidationError,
)
from ._core.model import (
    FeedbackValue,
    UpdateAuthEventFeedbackRequest,
    UpdateAuthEventFeedbackResponse,
)
from ._core.protocol import (
    HttpRequest,
    build_request,
    is_retryable,
    parse_response,
    redact_body,
    sanitize_error_code,
)
from ._version import __version__

# typing costs milliseconds at import; annotations alone need it (PEP 563).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

if TYPE_CHECKING:
    from ._call.config import COGNITO_USER_RESOURCE_UPDATE_RPS, RetryPolicy, Timeout
    from ._call.driver import AttemptInfo
    from ._call.limiter import RateLimiter
    from ._clients.httpx_client import AsyncClient, Client

# Loaded on first use: the clients import httpx, and the retry machinery
# imports dataclasses and threading; the sans-I/O core (and a Lambda cold
# start that only builds requests) pays for neither.
_LAZY = {
    "AsyncClient": "_clients.httpx_client",
    "Client": "_clients.httpx_client",
    "COGNITO_USER_RESOURCE_UPDATE_RPS": "_call.config",
    "AttemptInfo": "_call.driver",
    "RateLimiter": "_call.limiter",
    "RetryPolicy": "_call.config",
    "Timeout": "_call.config",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'cognito_raw' has no attribute {name!r}")
    import importlib  # noqa: PLC0415 - deferred on purpose

    value = getattr(importlib.import_module(f"cognito_raw.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "COGNITO_USER_RESOURCE_UPDATE_RPS",
    "AsyncClient",
    "AttemptInfo",
    "Client",
    "CognitoError",
    "FeedbackValue",
    "HttpRequest",
    "InternalErrorException",
    "InvalidParameterException",
    "NotAuthorizedException",
    "OperationNotEnabledException",
    "ProtocolError",
    "RateLimiter",
    "RequestTimeoutError",
    "ResourceNotFoundException",
    "RetryPolicy",
    "ServiceError",
    "Timeout",
    "TooManyRequestsException",
    "TransportError",
    "UpdateAuthEventFeedbackRequest",
    "UpdateAuthEventFeedbackResponse",
    "UserNotFoundException",
    "UserPoolAddOnNotEnabledException",
    "ValidationError",
    "__version__",
    "build_request",
    "check_endpoint_url",
    "is_retryable",
    "parse_response",
    "redact_body",
    "resolve_endpoint",
    "sanitize_error_code",
]
