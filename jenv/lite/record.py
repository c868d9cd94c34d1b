"""Small immutable records for the modules on the login fast path.

``typing.NamedTuple`` needs ``typing`` and ``collections.namedtuple`` needs
``collections``; each import costs more than everything else `jenv token`
does on a valid token (see bench/run.py).  :func:`record` builds the same
kind of class (a tuple subclass with named, read-only fields, defaults,
``_replace`` and ``_asdict``) from builtins alone.
"""

from __future__ import annotations

__all__ = ["record"]

_MISSING = object()


def record(name: str, fields: str, defaults: tuple = ()) -> type:
    """A tuple subclass ``name`` with the space-separated ``fields``; the last ``len(defaults)`` are optional.

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
    return type(name, (tuple,), namespace)
