"""Thin resolvers per capability; `build()` returns the served schema.

Every module in this package is imported, and the parts its classes registered with
`resolvers.roots` are composed — a new capability needs no edit here.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache

import strawberry

_INFRA = {"base", "context", "loaders", "node", "roots"}


def import_all() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name not in _INFRA:
            importlib.import_module(f"{__name__}.{info.name}")


@lru_cache(maxsize=1)
def build() -> strawberry.Schema:
    from resolvers import roots
    from resolvers.node import NodeQuery
    from schema.root import build_schema

    import_all()

    # Registration order follows import order, which a test or a tool importing one
    # resolver module early would change: sort, so the served SDL is always the same.
    def ordered(classes: list[type]) -> list[type]:
        return sorted(classes, key=lambda c: (c.__module__, c.__qualname__))

    schema = build_schema(
        queries=[NodeQuery, *ordered(roots.queries)],
        mutations=ordered(roots.mutations),
        subscriptions=ordered(roots.subscriptions),
        types=ordered(roots.types),
    )
    if roots.shared_subscription_fields:
        from resolvers.shared_streams import SharedStreams

        schema.stream_sharer = SharedStreams(roots.shared_subscription_fields)  # type: ignore[attr-defined]
    return schema
