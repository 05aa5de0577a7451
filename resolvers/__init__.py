"""Thin resolvers per capability; `build()` returns the served schema."""

from __future__ import annotations

from functools import lru_cache

import strawberry


@lru_cache(maxsize=1)
def build() -> strawberry.Schema:
    from resolvers import accounts
    from resolvers.node import NodeQuery
    from schema import accounts as account_types
    from schema.root import build_schema

    return build_schema(
        queries=[NodeQuery, accounts.AccountsQuery],
        mutations=[accounts.AccountsMutation],
        subscriptions=[],
        types=[
            account_types.User,
            account_types.Unit,
            account_types.Building,
            account_types.Community,
            account_types.AuditEntry,
        ],
    )
