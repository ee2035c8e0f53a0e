"""The exception tree: shape, pickling and messages."""

from __future__ import annotations

import pickle

import pytest

import cognito_raw
from cognito_raw import (
    CognitoError,
    InvalidParameterException,
    ProtocolError,
    RequestTimeoutError,
    ServiceError,
    TransportError,
    ValidationError,
)
from cognito_raw._core.errors import ERROR_CLASSES


def test_tree() -> None:
    assert issubclass(ValidationError, CognitoError)
    assert issubclass(ValidationError, ValueError)
    assert issubclass(RequestTimeoutError, TransportError)
    assert issubclass(TransportError, CognitoError)
    assert issubclass(ProtocolError, CognitoError)
    assert not issubclass(ProtocolError, ServiceError)
    for code, cls in ERROR_CLASSES.items():
        assert cls.__name__ == code
        assert issubclass(cls, ServiceError)
        assert getattr(cognito_raw, code) is cls


def test_tree_is_drawn_in_the_docstring() -> None:
    doc = cognito_raw._core.errors.__doc__ or ""
    for cls in (ValidationError, TransportError, RequestTimeoutError, ProtocolError, ServiceError):
        assert cls.__name__ in doc
    for code in ERROR_CLASSES:
        assert code in doc


@pytest.mark.parametrize(
    "error",
    [
        CognitoError("x"),
        ValidationError(field="event_id", rule="r"),
        TransportError("connection refused", attempts=3, errors=(CognitoError("a"),)),
        RequestTimeoutError("read timed out", attempts=2),
        ProtocolError("HTTP 302", status_code=302, request_id="r"),
        ServiceError(code="X", message="m", status_code=400, request_id="r", retryable=True),
        InvalidParameterException(
            code="InvalidParameterException", message="m", status_code=400, reason_code="R"
        ),
        *(cls(code=code, message="m", status_code=400) for code, cls in ERROR_CLASSES.items()),
    ],
)
def test_every_exception_pickles(error: CognitoError) -> None:
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is type(error)
    assert str(clone) == str(error)
    assert {k: repr(v) for k, v in vars(clone).items()} == {
        k: repr(v) for k, v in vars(error).items()
    }


def test_transport_error_message_counts_attempts() -> None:
    assert str(TransportError("refused", attempts=3)) == "refused (after 3 attempts)"
    assert str(TransportError("refused")) == "refused"


def test_service_error_str() -> None:
    error = ServiceError(code=None, message="", status_code=502, request_id=None)
    assert str(error) == "error reply without a code (HTTP 502)"
    error = ServiceError(code="X", message="m", status_code=400, request_id="r", attempts=3)
    assert str(error) == "X: m (HTTP 400, request ID r, after 3 attempts)"
