"""Compose the root Schema from the capabilities' Query/Mutation/Subscription parts.

The resolvers package passes its parts in: schema/ knows the types, resolvers/ knows
how to fetch them, and the imports still run one way.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import strawberry
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

SDL_PATH = Path(__file__).with_name("schema.graphql")


def build_schema(
    queries: Sequence[type],
    mutations: Sequence[type],
    subscriptions: Sequence[type] = (),
    types: Sequence[type] = (),
) -> strawberry.Schema:
    query = merge_types("Query", tuple(queries))
    mutation = merge_types("Mutation", tuple(mutations)) if mutations else None
    subscription = merge_types("Subscription", tuple(subscriptions)) if subscriptions else None
    return strawberry.Schema(
        query=query,
        mutation=mutation,
        subscription=subscription,
        types=list(types),
        config=StrawberryConfig(auto_camel_case=True),
    )


def sdl(schema: strawberry.Schema) -> str:
    return schema.as_str().rstrip() + "\n"
