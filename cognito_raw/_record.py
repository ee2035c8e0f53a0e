"""A frozen, slotted value class without ``dataclasses``.

Importing ``dataclasses`` pulls in ``inspect`` and costs more than the rest of
the core put together; a Lambda cold start pays for every import. Values in
the core subclass ``Record``: equality, hashing, immutability and pickling by
the names in ``_fields``. Their ``__init__`` sets fields with ``_set``.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, ClassVar


def slot_setters(cls: type[Record], *names: str) -> tuple[Callable[[Any, Any], None], ...]:
    """The slots' own setters, for a subclass's ``__init__``.

    Calling a slot descriptor's ``__set__`` skips the attribute lookup that
    ``object.__setattr__`` does: measurably faster on the per-call path.
    """
    return tuple(cls.__dict__[name].__set__ for name in names)


def _restore(cls: type[Record], values: tuple[Any, ...]) -> Record:
    self = object.__new__(cls)
    for name, value in zip(cls._fields, values, strict=True):
        object.__setattr__(self, name, value)
    return self


class Record:
    """Base of the core's immutable values."""

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()

    def _set(self, name: str, value: object) -> None:
        object.__setattr__(self, name, value)

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Record)  # noqa: S101 - narrows for the type checker
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot delete {name!r}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (type(self), self._values()))

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__name__}({shown})"
