"""Compose the root Schema from the capabilities' Query/Mutation/Subscription parts.

The resolvers package passes its parts in: schema/ knows the types, resolvers/ knows
how to fetch them, and the imports still run one way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import strawberry
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

SDL_PATH = Path(__file__).with_name("schema.graphql")


class LinliSchema(strawberry.Schema):
    """strawberry's Schema, plus an optional `stream_sharer` (set by resolvers.build) that
    lets subscribers with the same document, variables and visibility share one
    execution of their subscription instead of running it once each."""

    stream_sharer: Any = None

    async def stream(  # type: ignore[override]
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        operation_extensions: dict[str, Any] | None = None,
        allowed_operation_types: Iterable[Any] | None = None,
    ) -> Any:
        def start() -> Any:
            return super(LinliSchema, self).stream(
                query,
                variable_values=variable_values,
                context_value=context_value,
                root_value=root_value,
                operation_name=operation_name,
                operation_extensions=operation_extensions,
                allowed_operation_types=allowed_operation_types,
            )

        sharer = self.stream_sharer
        if sharer is not None and query is not None:
            key = sharer.key(query, variable_values, context_value, operation_name)
            if key is not None:
                return await sharer.join(key, start)
        return await start()


def build_schema(
    queries: Sequence[type],
    mutations: Sequence[type],
    subscriptions: Sequence[type] = (),
    types: Sequence[type] = (),
) -> strawberry.Schema:
    query = merge_types("Query", tuple(queries))
    mutation = merge_types("Mutation", tuple(mutations)) if mutations else None
    subscription = merge_types("Subscription", tuple(subscriptions)) if subscriptions else None
    return LinliSchema(
        query=query,
        mutation=mutation,
        subscription=subscription,
        types=list(types),
        config=StrawberryConfig(auto_camel_case=True),
    )


def sdl(schema: strawberry.Schema) -> str:
    return schema.as_str().rstrip() + "\n"
