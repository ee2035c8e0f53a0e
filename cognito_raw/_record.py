"""The core's immutable values, without ``dataclasses``.

Owns ``Record``: a frozen value class whose fields are its annotations, each
named once. Importing ``dataclasses`` pulls in ``inspect``, which would cost a
cold start more than the rest of the core together (``tests/test_imports.py``
keeps the core free of it), and more than the stdlib client's whole margin
over a bare ``http.client`` call: the call driver's values are Records too.

A ``Record`` subclass gets, from its annotations alone: a constructor
(keyword-only unless the class says ``kw_only=False``) whose defaults are the
class attributes, equality and hashing over the fields, immutability,
pickling and a ``repr``. ``_rules`` maps a field to the function that checks
and normalises its value at construction; ``__post_init__`` runs after, as in
a dataclass.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any, ClassVar

    from typing_extensions import Self, dataclass_transform  # typing's own from 3.11
else:
    # The decorator only informs type checkers; at run time it is a no-op, so
    # the core needs neither typing nor typing_extensions.
    def dataclass_transform(**_options: object) -> Callable[[type], type]:
        return lambda cls: cls


def _own_fields(klass: type) -> list[str]:
    # Under PEP 563 annotations are strings; ClassVars are not fields.
    annotations = klass.__dict__.get("__annotations__", {})  # noqa: RUF063 - inspect is heavy
    return [name for name, kind in annotations.items() if not str(kind).startswith("ClassVar")]


def _restore(cls: type[Record], values: tuple[Any, ...]) -> Record:
    record: Record = cls._make(dict(zip(cls._fields, values, strict=True)), check=False)
    return record


@dataclass_transform(kw_only_default=True, frozen_default=True)
class Record:
    """Base of the core's immutable values."""

    _fields: ClassVar[tuple[str, ...]] = ()
    _field_set: ClassVar[frozenset[str]] = frozenset()
    _defaults: ClassVar[Mapping[str, object]] = {}
    _kw_only: ClassVar[bool] = True
    _rules: ClassVar[Mapping[str, Callable[[Any], Any]]] = {}

    def __init_subclass__(cls, *, kw_only: bool | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # As a dataclass does: the fields of every Record base first, in
        # order, then this class's own; a default may come from any of them,
        # the nearest winning. kw_only is inherited unless the class says.
        fields: dict[str, None] = {}
        defaults: dict[str, object] = {}
        for klass in reversed(cls.__mro__):
            if not (isinstance(klass, type) and issubclass(klass, Record)) or klass is Record:
                continue
            fields.update(dict.fromkeys(_own_fields(klass)))
            defaults.update(
                {name: klass.__dict__[name] for name in fields if name in klass.__dict__}
            )
        cls._fields = tuple(fields)
        cls._field_set = frozenset(fields)
        cls._defaults = defaults
        cls._kw_only = cls._kw_only if kw_only is None else kw_only

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        values = self._bind(args, kwargs)
        # _rules lists its fields in field order: the first bad one is reported.
        for name, rule in self._rules.items():
            values[name] = rule(values[name])
        # The fields are the instance's dict, set at once: __setattr__ refuses
        # every write.
        object.__setattr__(self, "__dict__", values)
        self.__post_init__()

    def __post_init__(self) -> None:
        """Checks that involve several fields, or every field alike; raise to refuse."""

    @classmethod
    def _bind(cls, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        # The arguments as a dict of every field, as a dataclass's __init__
        # would take them, with the same kind of TypeError for a wrong call.
        if args:
            if cls._kw_only or len(args) > len(cls._fields):
                raise TypeError(f"{cls.__name__}() takes keyword arguments only")
            positional = dict(zip(cls._fields, args, strict=False))
            if positional.keys() & kwargs.keys():
                raise TypeError(f"{cls.__name__}() got multiple values for an argument")
            kwargs = positional | kwargs
        values = {**cls._defaults, **kwargs} if cls._defaults else kwargs
        if values.keys() != cls._field_set:
            unknown = sorted(values.keys() - cls._field_set)
            missing = [name for name in cls._fields if name not in values]
            what = f"unexpected {unknown}" if unknown else f"missing {missing}"
            raise TypeError(f"{cls.__name__}() got keyword arguments {what}")
        return values

    @classmethod
    def _make(cls, values: Mapping[str, Any], *, check: bool = True) -> Self:
        # A value from keyword values; check=False skips _rules.
        if check:
            return cls(**values)
        self = object.__new__(cls)
        object.__setattr__(self, "__dict__", cls._bind((), dict(values)))
        return self

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
