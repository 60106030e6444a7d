"""One registry mechanism for everything that is looked up by name.

Channels, codecs, metrics, ... each get a :class:`Registry` instance. A name
resolves, in this order, to

1. a class or factory registered with :meth:`Registry.register`;
2. an entry point in the registry's group (e.g. ``semlink.channels``) of any
   installed distribution;
3. a dotted path ``"package.module:ClassName"`` (or ``"package.module.ClassName"``)
   to a class in the user's own module.

Duplicate names are refused; a failed look-up lists what is available.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def first_line(obj: Any) -> str:
    """First non-empty line of ``obj``'s docstring (one-line description)."""
    doc = (getattr(obj, "__doc__", None) or "").strip()
    return doc.splitlines()[0].strip() if doc else ""


class Registry(Generic[T]):
    """Name -> factory map with entry-point and dotted-path fallbacks.

    :param kind: what is registered, used in messages (e.g. ``"channel"``).
    :param group: entry-point group searched for names not registered in code,
        e.g. ``"semlink.channels"``; `None` disables entry points.
    """

    def __init__(self, kind: str, group: str | None = None) -> None:
        self.kind = kind
        self.group = group
        self._items: dict[str, Callable[..., T]] = {}
        self._descriptions: dict[str, str] = {}

    def register(
        self, name: str, description: str | None = None
    ) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator registering a class or factory under ``name``."""

        def decorator(factory: Callable[..., T]) -> Callable[..., T]:
            self.add(name, factory, description)
            return factory

        return decorator

    def add(
        self, name: str, factory: Callable[..., T], description: str | None = None
    ) -> None:
        """Register ``factory`` under ``name``; refuse duplicates."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"{self.kind} name must be a non-empty string, got {name!r}")
        if name in self._items and self._items[name] is not factory:
            raise ValueError(
                f"a {self.kind} named {name!r} is already registered "
                f"({self._items[name]!r}); choose another name"
            )
        self._items[name] = factory
        self._descriptions[name] = description or first_line(factory)

    def _entry_points(self) -> dict[str, Any]:
        if self.group is None:
            return {}
        return {ep.name: ep for ep in entry_points(group=self.group)}

    def names(self) -> list[str]:
        """Registered and entry-point names, sorted."""
        return sorted(set(self._items) | set(self._entry_points()))

    def registered(self) -> dict[str, str]:
        """Name -> one-line description of the names registered in code (no entry points), sorted."""
        return dict(sorted(self._descriptions.items()))

    def describe(self) -> dict[str, str]:
        """Name -> one-line description for every available name."""
        out = dict(self._descriptions)
        for name, ep in self._entry_points().items():
            if name not in out:
                try:
                    out[name] = first_line(ep.load())
                except Exception as exc:  # a broken plug-in must not hide the others
                    out[name] = f"(entry point {ep.value} failed to load: {exc})"
        return dict(sorted(out.items()))

    def __contains__(self, name: str) -> bool:
        return name in self._items or name in self._entry_points()

    def get(self, name: str) -> Callable[..., T]:
        """Resolve ``name`` to its class or factory (see module docstring)."""
        if name in self._items:
            return self._items[name]
        eps = self._entry_points()
        if name in eps:
            return eps[name].load()
        if ":" in name or "." in name:
            return _import_dotted(name, self.kind)
        raise KeyError(
            f"unknown {self.kind} {name!r}. Available: {', '.join(self.names()) or '(none)'}. "
            f"A {self.kind} of your own can be given as 'your_module:YourClass', or "
            + (f"exposed by a package as an entry point in group '{self.group}'."
               if self.group else "registered in code.")
        )

    def create(self, name: str, **params: Any) -> T:
        """Instantiate the factory registered as ``name`` with ``params``."""
        factory = self.get(name)
        try:
            return factory(**params)
        except TypeError as exc:
            raise TypeError(f"{self.kind} {name!r}: bad parameters {params!r}: {exc}") from exc


def _import_dotted(path: str, kind: str) -> Any:
    if ":" in path:
        module_name, _, attr = path.partition(":")
    else:
        module_name, _, attr = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise KeyError(
            f"{kind} {path!r}: cannot import module {module_name!r} ({exc}). "
            "Make sure it is on PYTHONPATH or installed."
        ) from exc
    obj = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError as exc:
            raise KeyError(f"{kind} {path!r}: module {module_name!r} has no {attr!r}") from exc
    return obj
