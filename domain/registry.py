"""Imports every capability's tables so that the metadata is complete (Alembic, tests).

Each `domain/<capability>/models.py` is found and imported: nothing to edit here.
"""

from __future__ import annotations

import importlib
import pkgutil

import domain
from domain.base import metadata


def import_all_models() -> None:
    for info in pkgutil.iter_modules(domain.__path__):
        if info.ispkg:
            try:
                importlib.import_module(f"domain.{info.name}.models")
            except ModuleNotFoundError as exc:
                if exc.name != f"domain.{info.name}.models":
                    raise


import_all_models()

__all__ = ["metadata"]
