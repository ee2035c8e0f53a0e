"""cognito-raw: Amazon Cognito UpdateAuthEventFeedback without an AWS SDK.

The protocol core (``build_request``, ``parse_response``, the request model,
the endpoint rules and the exceptions) imports only the standard library. The
httpx-backed clients are imported lazily, on first use of their names.
"""

from __future__ import annotations

from ._endpoints import check_endpoint_url, resolve_endpoint
from ._errors import (
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
from ._model import FeedbackValue, UpdateAuthEventFeedbackRequest, UpdateAuthEventFeedbackResponse
from ._protocol import (
    HttpRequest,
    build_request,
    is_retryable,
    parse_response,
    redact_body,
    sanitize_error_code,
)
from ._version import __version__

__all__ = [
    "CognitoError",
    "FeedbackValue",
    "HttpRequest",
    "InternalErrorException",
    "InvalidParameterException",
    "NotAuthorizedException",
    "OperationNotEnabledException",
    "ProtocolError",
    "RequestTimeoutError",
    "ResourceNotFoundException",
    "ServiceError",
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
