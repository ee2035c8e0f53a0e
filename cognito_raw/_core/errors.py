"""The exception tree: everything cognito-raw raises.

```
CognitoError
├── ValidationError (also ValueError)      bad input; nothing was sent
├── TransportError                         the network failed (after retries)
│   └── RequestTimeoutError                connect/read/total time ran out
├── ProtocolError                          the reply is not a Cognito answer
└── ServiceError                           an error reply: code, message, status_code,
    │                                      request_id, retryable
    ├── InvalidParameterException          + reason_code
    ├── ResourceNotFoundException
    ├── TooManyRequestsException
    ├── NotAuthorizedException
    ├── UserNotFoundException
    ├── UserPoolAddOnNotEnabledException
    ├── OperationNotEnabledException       (added to the model with botocore 1.44)
    └── InternalErrorException
```

Exceptions hold plain data only (no httpx objects), take keyword-only arguments,
and do no work beyond building their message. They pickle through one
``__reduce__``, which restores ``args`` and the fields without calling the
keyword-only constructor (the default would call it with ``args``).

An unmodeled code (``SerializationException``, ``ThrottlingException``, ...)
raises a plain ``ServiceError`` with ``.code`` kept. The code to class table is
``ERROR_CLASSES``, the only such mapping in the package.
"""

from __future__ import annotations

# typing costs milliseconds at import; annotations alone need it (PEP 563).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any, Final

__all__ = [
    "ERROR_CLASSES",
    "CognitoError",
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
    "UserNotFoundException",
    "UserPoolAddOnNotEnabledException",
    "ValidationError",
]


def _rebuild(cls: type[BaseException], args: tuple[Any, ...]) -> BaseException:
    # The fields follow as pickle state (BaseException.__setstate__).
    return cls.__new__(cls, *args)


class CognitoError(Exception):
    """Base class of every exception cognito-raw raises.

    ``attempts`` is how many attempts the call made and ``errors`` the
    exceptions of the attempts before the last, set by the clients on what
    they raise after planning a call (0: nothing was sent). A
    ``ValidationError`` raised before any attempt keeps the class default.
    """

    attempts: int = 1
    errors: tuple[CognitoError, ...] = ()

    def __init__(self, message: str) -> None:
        super().__init__(message)

    def __reduce__(self) -> tuple[Callable[..., BaseException], tuple[Any, ...], dict[str, Any]]:
        return (_rebuild, (type(self), self.args), self.__dict__)


class ValidationError(CognitoError, ValueError):
    """Bad input: the request was not sent.

    ``field`` names the offending member (``"user_pool_id"``, ``"username"``,
    ...) and ``rule`` the constraint it broke. The message never contains the
    value of ``username`` or ``feedback_token``.
    """

    field: str
    rule: str

    def __init__(self, *, field: str, rule: str) -> None:
        self.field = field
        self.rule = rule
        super().__init__(f"{field}: {rule}")


class TransportError(CognitoError):
    """The request could not be delivered, or no reply came back.

    ``attempts`` is how many attempts were made (0: nothing was sent);
    ``errors`` holds the exceptions of the attempts before the last one.
    ``retryable`` is False for a failure that another attempt cannot mend,
    such as a server certificate that fails verification.
    """

    attempts: int
    errors: tuple[CognitoError, ...]
    retryable: bool

    def __init__(
        self,
        message: str,
        *,
        attempts: int = 1,
        errors: tuple[CognitoError, ...] = (),
        retryable: bool = True,
    ) -> None:
        self.attempts = attempts
        self.errors = errors
        self.retryable = retryable
        super().__init__(message)

    def __str__(self) -> str:
        base = str(self.args[0])
        if self.attempts == 0:
            return f"{base} (nothing was sent)"
        return base if self.attempts == 1 else f"{base} (after {self.attempts} attempts)"


class RequestTimeoutError(TransportError):
    """A connect, read, write or total timeout ran out."""


class ProtocolError(CognitoError):
    """The reply is not a Cognito answer (a redirect, a 2xx with a non-JSON body...).

    Never treated as success: the feedback may not have been recorded.
    """

    status_code: int | None
    request_id: str | None

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        request_id: str | None = None,
        attempts: int = 1,
        errors: tuple[CognitoError, ...] = (),
    ) -> None:
        self.status_code = status_code
        self.request_id = request_id
        self.attempts = attempts
        self.errors = errors
        super().__init__(message)


class ServiceError(CognitoError):
    """Cognito (or something in front of it) answered with an error.

    ``code`` is the sanitised error code and ``message`` the reply's own
    message, each ``None`` when the reply carried none (an empty body, an HTML
    page): neither ever holds a text of ours. ``hint`` is what the core
    noticed about such a reply ("the reply body is empty"), for people: only
    ``str()`` shows it. ``retryable`` is the core's verdict, which the
    clients' retry loop follows; ``retry_after`` the server's requested delay
    in seconds, or ``None``. ``attempts`` and ``errors`` are filled in by the
    clients.
    """

    code: str | None
    message: str | None
    status_code: int
    request_id: str | None
    retryable: bool
    retry_after: float | None
    hint: str | None
    attempts: int
    errors: tuple[CognitoError, ...]

    def __init__(
        self,
        *,
        code: str | None,
        message: str | None,
        status_code: int,
        request_id: str | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
        hint: str | None = None,
        attempts: int = 1,
        errors: tuple[CognitoError, ...] = (),
    ) -> None:
        self.code = code
        self.message = message
        self.status_code = status_code
        self.request_id = request_id
        self.retryable = retryable
        self.retry_after = retry_after
        self.hint = hint
        self.attempts = attempts
        self.errors = errors
        super().__init__(message or "")

    def __str__(self) -> str:
        parts = [f"HTTP {self.status_code}"]
        if self.request_id:
            parts.append(f"request ID {self.request_id}")
        if self.attempts > 1:
            parts.append(f"after {self.attempts} attempts")
        if self.hint:
            parts.append(self.hint)
        head = self.code or "error reply without a code"
        text = f"{head}: {self.message}" if self.message else head
        return f"{text} ({', '.join(parts)})"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, "
            f"status_code={self.status_code!r}, request_id={self.request_id!r}, "
            f"retryable={self.retryable!r})"
        )


class InvalidParameterException(ServiceError):
    """Cognito rejected a parameter; ``reason_code`` is its free-form reason."""

    reason_code: str | None

    def __init__(self, *, reason_code: str | None = None, **kwargs: Any) -> None:
        self.reason_code = reason_code
        super().__init__(**kwargs)


class ResourceNotFoundException(ServiceError):
    """The user pool does not exist (in this region)."""


class TooManyRequestsException(ServiceError):
    """Throttled: the account's request rate for this category was exceeded."""


class NotAuthorizedException(ServiceError):
    """The feedback token is not valid for this event (or has expired)."""


class UserNotFoundException(ServiceError):
    """The user does not exist in the pool."""


class UserPoolAddOnNotEnabledException(ServiceError):
    """Threat protection is not enabled for the user pool."""


class OperationNotEnabledException(ServiceError):
    """The operation is not available here (e.g. in a secondary replica region)."""


class InternalErrorException(ServiceError):
    """Cognito failed internally (HTTP 500); safe to retry."""


# The one code -> class table. Keys are the wire codes of the modeled errors
# of UpdateAuthEventFeedback (spec/cognito-idp.json, "errors").
ERROR_CLASSES: Final[Mapping[str, type[ServiceError]]] = {
    cls.__name__: cls
    for cls in (
        InvalidParameterException,
        ResourceNotFoundException,
        TooManyRequestsException,
        NotAuthorizedException,
        UserNotFoundException,
        UserPoolAddOnNotEnabledException,
        OperationNotEnabledException,
        InternalErrorException,
    )
}
