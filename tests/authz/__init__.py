"""Authorization cases, one module per capability (`tests/authz/<cap>.py`), all
imported here so that `tests/test_authz_sweep.py` sees every case. Keeping them apart
lets capabilities add cases without touching each other's files."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.support import GraphQLClient

Vars = Callable[[GraphQLClient], dict[str, Any]]


@dataclass
class Case:
    document: str
    variables: Vars = lambda api: {}
    own: bool = False
    merchant_ok: bool = False


CASES: dict[str, Case] = {}


def case(field: str, document: str, variables: Vars | None = None, **kw: Any) -> None:
    CASES[field] = Case(document, variables or (lambda api: {}), **kw)


def load_all() -> dict[str, Case]:
    for mod in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{mod.name}")
    return CASES
