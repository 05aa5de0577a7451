"""Imports every capability's tables so that the metadata is complete (Alembic, tests)."""

from domain.accounts import models as accounts_models  # noqa: F401
from domain.audit import models as audit_models  # noqa: F401
from domain.base import metadata

__all__ = ["metadata"]
