"""Capabilities mark their root parts; `resolvers.build()` finds them all."""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T", bound=type)

queries: list[type] = []
mutations: list[type] = []
subscriptions: list[type] = []
types: list[type] = []


def query(cls: T) -> T:
    queries.append(cls)
    return cls


def mutation(cls: T) -> T:
    mutations.append(cls)
    return cls


def subscription(cls: T) -> T:
    subscriptions.append(cls)
    return cls


def extra_types(*classes: type) -> None:
    """Types reachable only through interfaces (Node) must be named to the schema."""
    types.extend(classes)


# Subscription fields whose subscribers may share one execution (see
# resolvers/shared_streams.py): their result depends only on the document, the
# variables and the caller's roles, never on who exactly the (staff) caller is.
shared_subscription_fields: set[str] = set()


def share_subscription(field_name: str) -> None:
    shared_subscription_fields.add(field_name)
