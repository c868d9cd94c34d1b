"""Small immutable records for the modules on the login fast path.

``typing.NamedTuple`` needs ``typing`` and ``collections.namedtuple`` needs
``collections``; each import costs more than everything else `jenv token`
does on a valid token (see bench/run.py).  :func:`record` builds the same
kind of class (a tuple subclass with named, read-only fields, defaults,
``_replace`` and ``_asdict``) from builtins alone.

:func:`options_record` builds a command's options as such a record, from either front door's arguments.
jenv has two: :mod:`jenv.cli` parses a command line with docopt, whose dictionary holds every option of
the usage (a missing one as None or False, a ``[default: ...]`` filled in), and :mod:`jenv.login` reads
the login forms' few spellings itself, without docopt (whose import costs a login more than its own
work), so its dictionary holds only what was typed.  A command reads neither dictionary: it declares its
options once, each field with its option and its default, and ``from_args`` builds the record from
either.  The usage text's ``[default: ...]`` documents the same default; tests/commands/test_command_options.py
holds the two equal, reading the usage with docopt's own parser.  (Not ``dataclasses``: the login forms
build these records, and ``dataclasses`` imports ``inspect`` and ``re``.)
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, Mapping

__all__ = ["record", "Option", "options_record"]

_MISSING = object()


def record(name: str, fields: str, defaults: tuple = (), extra: "Dict[str, Any] | None" = None) -> type:
    """A tuple subclass ``name`` with the space-separated ``fields``; the last ``len(defaults)`` are optional;
    ``extra`` adds names to the class (one class, where a subclass would cost a second one).

    Subclass it to add methods, with ``__slots__ = ()``::

        class Endpoint(record("Endpoint", "host port source")):
            __slots__ = ()
    """
    names = tuple(fields.split())
    required = len(names) - len(defaults)
    if required < 0:
        raise ValueError(f"{name}: more defaults than fields")

    def __new__(cls, *args, **kwargs):
        if len(args) > len(names):
            raise TypeError(f"{name}() takes {len(names)} arguments, {len(args)} given")
        values = list(args) + [_MISSING] * (len(names) - len(args))
        for key, value in kwargs.items():
            if key not in names:
                raise TypeError(f"{name}() got an unexpected keyword argument {key!r}")
            index = names.index(key)
            if values[index] is not _MISSING:
                raise TypeError(f"{name}() got multiple values for argument {key!r}")
            values[index] = value
        for index, value in enumerate(values):
            if value is _MISSING:
                if index < required:
                    raise TypeError(f"{name}() missing required argument {names[index]!r}")
                values[index] = defaults[index - required]
        return tuple.__new__(cls, values)

    def __repr__(self) -> str:
        inner = ", ".join(f"{field}={value!r}" for field, value in zip(names, self))
        return f"{type(self).__name__}({inner})"

    def _replace(self, **changes):
        return type(self)(**dict(self._asdict(), **changes))

    def _asdict(self) -> dict:
        return dict(zip(names, self))

    def __getnewargs__(self) -> tuple:
        return tuple(self)

    namespace = {"__slots__": (), "_fields": names, "__new__": __new__, "__repr__": __repr__,
                 "_replace": _replace, "_asdict": _asdict, "__getnewargs__": __getnewargs__}
    for index, field in enumerate(names):
        namespace[field] = property(lambda self, index=index: tuple.__getitem__(self, index), doc=field)
    namespace.update(extra or {})
    return type(name, (tuple,), namespace)


class Option(record("Option", "name default convert", (None, None))):
    """One field of an options record: the command-line ``name`` (``--min-valid``, ``-u``, ``<file>``,
    or a command word such as ``token-init``), its ``default`` as the usage writes it, and ``convert``
    (value, name) -> the field's typed value, applied to the default too."""

    __slots__ = ()

    def value(self, args: Mapping[str, Any]) -> Any:
        """This option's typed value in ``args`` (either front door's dictionary).

        Absent or None is the default; so is an empty value where the default is not None (``--dir=``
        reads as ``--dir`` left out, as it always has)."""
        given = args.get(self.name)
        if given is None or (given == "" and self.default is not None):
            given = self.default
        if isinstance(given, list):  # docopt's <args>...
            given = tuple(given)
        return given if self.convert is None or given is None else self.convert(given, self.name)


def options_record(name: str, fields: Dict[str, Option]) -> type:
    """A record class ``name`` with one field per entry of ``fields`` (in order), each defaulting to its
    option's default (converted), plus ``OPTIONS`` (the table) and ``from_args``.

    Subclass it to add methods, with ``__slots__ = ()``."""
    defaults = tuple(option.default if option.convert is None or option.default is None
                     else option.convert(option.default, option.name) for option in fields.values())

    def from_args(cls, args: Mapping[str, Any]):
        """The record of the options in ``args``: docopt's dictionary or the login forms' (the one place
        where a command reads its arguments)."""
        return cls(**{field: option.value(args) for field, option in cls.OPTIONS.items()})

    return record(name, " ".join(fields), defaults, {"OPTIONS": dict(fields), "from_args": classmethod(from_args)})

