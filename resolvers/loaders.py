"""Per-request DataLoaders. Capabilities register batch functions by name; a type's
field then calls `info.context.loaders.<name>.load(key)` and list sizes never change
the number of database round-trips."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from strawberry.dataloader import DataLoader

if TYPE_CHECKING:
    from resolvers.context import Context

BatchFn = Callable[["Context", list[Any]], Awaitable[list[Any]]]
_registry: dict[str, BatchFn] = {}


def loader(name: str) -> Callable[[BatchFn], BatchFn]:
    def register(fn: BatchFn) -> BatchFn:
        if name in _registry and _registry[name] is not fn:
            raise ValueError(f"loader {name!r} registered twice")
        _registry[name] = fn
        return fn

    return register


class Loaders:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._made: dict[str, DataLoader[Any, Any]] = {}

    def __getattr__(self, name: str) -> DataLoader[Any, Any]:
        made = self._made.get(name)
        if made is None:
            try:
                fn = _registry[name]
            except KeyError:
                raise AttributeError(name) from None
            made = DataLoader(load_fn=partial(fn, self._ctx))
            self._made[name] = made
        return made

    def clear(self) -> None:
        for made in self._made.values():
            made.clear_all()
