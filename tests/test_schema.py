"""The served schema: committed SDL, and the app contract it must contain."""

from __future__ import annotations

import pytest

import resolvers
from api.app import _load_capabilities
from schema.root import SDL_PATH, sdl
from tests.contract import differences, load_contract

# Contract items not served yet, by the capability (issue) that will serve them. Each
# capability empties its part; an entry that is already served fails the test, so the
# list cannot go stale.
PENDING: dict[str, list[str]] = {
    # booking (issue 4)
    "booking": [],
    # parking (issue 6)
    "parking": [],
}


@pytest.fixture(scope="module")
def served():
    _load_capabilities()
    return resolvers.build()


def test_committed_sdl_matches_served_schema(served):
    committed = SDL_PATH.read_text(encoding="utf-8")
    assert committed == sdl(served), "schema/schema.graphql is stale: run `make schema`"


def test_served_schema_contains_the_contract(served):
    diffs = differences(load_contract(), served._schema)
    pending = {item for items in PENDING.values() for item in items}
    unexpected = {k: v for k, v in diffs.items() if k not in pending}
    assert not unexpected, f"contract items missing or incompatible: {unexpected}"
    stale = sorted(
        item
        for item in pending
        if item not in diffs and item.split(".")[0].split("@")[0] not in diffs
    )
    assert not stale, f"served now, remove from PENDING: {stale}"


def test_committed_contract_copy_is_current():
    from tests.contract import _COPY, _SHARED

    if _SHARED.exists():
        assert _COPY.read_text(encoding="utf-8") == _SHARED.read_text(encoding="utf-8"), (
            "the contract changed: copy ../shared/contract/app-contract.graphql to schema/"
        )
