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
a dataclass. As a dataclass's, the constructor is written as source once per
class, so it binds its arguments as any function does.
"""

from __future__ import annotations

import keyword

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
    return cls._make(dict(zip(cls._fields, values, strict=True)), check=False)


def _has_post_init(cls: type[Record]) -> bool:
    return cls.__post_init__ is not Record.__post_init__


def _check_class(cls: type[Record]) -> None:
    # What the written constructor relies on. A field is a public identifier:
    # its name goes into the source, and a leading "_" is kept for the
    # helpers' names there and Record's own attributes. Every rule names a
    # field (a misspelt one would check nothing), and the constructor is
    # Record's to write.
    for name in cls._fields:
        if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_"):
            raise TypeError(f"{cls.__name__}: {name!r} cannot be a field (a public identifier)")
    unknown = sorted(set(cls._rules) - set(cls._fields))
    if unknown:
        raise TypeError(f"{cls.__name__}: _rules names no field {unknown}")
    if "__init__" in cls.__dict__:
        raise TypeError(f"{cls.__name__}: a Record writes its own __init__; use __post_init__")


def _parameters(cls: type[Record]) -> str:
    # The constructor's parameter list: "a, b=_default_b", after "*, " for a
    # keyword-only class. Positional fields, as in a dataclass, may not put
    # one without a default after one with.
    params = [f"{name}=_default_{name}" if name in cls._defaults else name for name in cls._fields]
    if cls._kw_only and params:
        return "*, " + ", ".join(params)
    defaulted = [name in cls._defaults for name in cls._fields]
    if defaulted != sorted(defaulted):
        raise TypeError(f"{cls.__name__}: a field without a default follows one with a default")
    return ", ".join(params)


def _write_functions(cls: type[Record]) -> tuple[Callable[..., None], Callable[..., Any]]:
    # As dataclasses does, each class's constructor is written out as source
    # once: a call then binds its arguments as any function's do (the
    # interpreter reports a missing, unknown or repeated argument), and each
    # rule is applied in field order, so the first bad field is the one named.
    # Field names are checked identifiers (_check_class); defaults and rules
    # reach the source by name, never as text. ``_raw`` builds a value
    # without rules or __post_init__ (``unchecked()``, unpickling).
    names = cls._fields
    checked = ", ".join(
        f"{name!r}: _rule_{name}({name})" if name in cls._rules else f"{name!r}: {name}"
        for name in names
    )
    raw = ", ".join(f"{name!r}: {name}" for name in names)
    # As in a dataclass, __post_init__ is called only where a class defines one.
    post_init = "    _record_self.__post_init__()\n" if _has_post_init(cls) else ""
    params = _parameters(cls)
    keyword_only = "*, " + params.removeprefix("*, ") if params else ""
    source = (
        f"def __init__(_record_self, {params}):\n"
        f"    _set(_record_self, '__dict__', {{{checked}}})\n"
        f"{post_init}"
        f"def _raw(_record_cls, {keyword_only}):\n"
        "    _record_self = _new(_record_cls)\n"
        f"    _set(_record_self, '__dict__', {{{raw}}})\n"
        "    return _record_self\n"
    )
    namespace: dict[str, Any] = {"_set": object.__setattr__, "_new": object.__new__}
    namespace.update({f"_default_{name}": value for name, value in cls._defaults.items()})
    namespace.update({f"_rule_{name}": rule for name, rule in cls._rules.items()})
    exec(source, namespace)  # noqa: S102 - field names are checked identifiers (_check_class)
    init, raw_values = namespace["__init__"], namespace["_raw"]
    # The interpreter's TypeErrors name a function by its __qualname__.
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    raw_values.__qualname__ = cls.__qualname__
    init.__module__ = raw_values.__module__ = cls.__module__
    return init, raw_values


@dataclass_transform(kw_only_default=True, frozen_default=True)
class Record:
    """Base of the core's immutable values."""

    _fields: ClassVar[tuple[str, ...]] = ()
    _defaults: ClassVar[Mapping[str, object]] = {}
    _kw_only: ClassVar[bool] = True
    _rules: ClassVar[Mapping[str, Callable[[Any], Any]]] = {}
    _raw: ClassVar[Callable[..., Any]]

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
        cls._defaults = defaults
        cls._kw_only = cls._kw_only if kw_only is None else kw_only
        _check_class(cls)
        init, cls._raw = _write_functions(cls)
        cls.__init__ = init  # type: ignore[method-assign]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Replaced in every subclass by the constructor _write_functions writes.
        raise TypeError("Record is a base class: define a subclass with fields")

    def __post_init__(self) -> None:
        """Checks that involve several fields, or every field alike; raise to refuse."""

    @classmethod
    def _make(cls, values: Mapping[str, Any], *, check: bool = True) -> Self:
        # A value from keyword values; check=False skips _rules and __post_init__.
        if check:
            return cls(**values)
        record: Self = cls._raw(cls, **values)
        return record

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
