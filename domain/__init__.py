"""Business rules per capability. Imports only `core` (and SQLModel/SQLAlchemy)."""
