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
    schema = build_schema(
        queries=[NodeQuery, *roots.queries],
        mutations=roots.mutations,
        subscriptions=roots.subscriptions,
        types=roots.types,
    )
    if roots.shared_subscription_fields:
        from resolvers.shared_streams import SharedStreams

        schema.stream_sharer = SharedStreams(roots.shared_subscription_fields)  # type: ignore[attr-defined]
    return schema
