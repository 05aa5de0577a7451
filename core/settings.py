"""Settings from the environment (prefix ``LINLI_``) and an optional ``.env`` file."""

from __future__ import annotations

import json
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LINLI_", env_file=".env", extra="ignore")

    env: Literal["dev", "test", "prod"] = "dev"
    database_url: str = "sqlite+aiosqlite:///./linli.db"
    database_pool_size: int = 10
    database_echo: bool = False

    # One master secret; the JWT key, the SM4 data key and the blind-index key are
    # derived from it (HKDF), so operators manage a single value. Required in prod;
    # in dev it is generated once into `secrets_file` so restarts keep data readable.
    secret_key: SecretStr | None = None
    secrets_file: Path = Path(".linli-secrets.json")

    access_token_ttl_seconds: int = 900
    refresh_token_ttl_days: int = 30
    login_max_failures: int = 5
    login_lockout_seconds: int = 900
    invite_ttl_days: int = 14

    # GraphQL protections
    # False only to measure what the limits cost (`make bench`); never in production.
    graphql_protections: bool = True
    graphql_max_depth: int = 12
    graphql_max_aliases: int = 30
    graphql_max_tokens: int = 4000
    graphql_max_body_bytes: int = 256 * 1024
    graphql_document_cache_size: int = 2048
    graphql_max_subscriptions_per_connection: int = 20

    # Background work started by the app lifespan (tests drive jobs by hand).
    background_jobs: bool = True
    # Per-job interval overrides in seconds, by job name (JSON in the environment, e.g.
    # LINLI_JOB_INTERVALS='{"payments.pending_webhook_events": 1}'): staging and the
    # recovery tests shorten sweeps that production runs rarely.
    job_intervals: dict[str, float] = {}
    # Event bus for subscriptions across processes: memory | postgres | redis
    bus: Literal["memory", "postgres", "redis"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"

    mqtt_url: str | None = None
    mqtt_shared_group: str | None = None
    # Device bridge: readings per database transaction, and how many decoded messages
    # may wait for the database before the bridge stops taking more from the broker.
    mqtt_batch_size: int = 500
    # Stable per bridge process so that its broker session (subscriptions, queued
    # messages) survives a restart; default: host name and process id.
    mqtt_client_id: str | None = None
    mqtt_queue_size: int = 20000
    # Raw device readings are deleted after this many days (hourly roll-ups stay).
    device_readings_retention_days: int = 30

    stripe_api_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_api_base: str = "https://api.stripe.com"
    # A stored webhook event still unprocessed this long after it arrived is taken over
    # by the pending-events sweep (its own process died or Stripe was down).
    stripe_webhook_retry_after_seconds: int = 30

    fcm_credentials: Path | None = None
    # Lets tests and staging point firebase_admin at a stub of the FCM v1 API.
    fcm_endpoint: str | None = None
    fcm_batch_size: int = 500  # messages per send_each call (FCM allows at most 500)
    fcm_timeout_seconds: float = 30.0

    # The notification outbox worker (see docs/notifications.md).
    outbox_poll_seconds: float = 5.0
    outbox_batch_size: int = 500
    outbox_concurrency: int = 1  # sweeps in flight per process
    outbox_lease_seconds: int = 120
    outbox_max_attempts: int = 8
    outbox_backoff_seconds: float = 30.0
    outbox_backoff_cap_seconds: float = 3600.0
    push_token_max_age_days: int = 60
    outbox_keep_days: int = 30

    # Benchmarks: answer each HTTP request with an x-sql-count header (round-trips).
    count_sql: bool = False
    # Benchmarks: serve /bench/* plain-Starlette twins of GraphQL queries (same SQL).
    bench_routes: bool = False

    # Uploads (complaint photos): local disk by default, behind core.storage.BlobStorage.
    upload_dir: Path = Path("var/uploads")
    upload_max_bytes: int = 5 * 1024 * 1024
    upload_max_files: int = 6

    public_base_url: str = "http://127.0.0.1:8000"
    log_level: str = "INFO"
    log_json: bool = True

    def master_secret(self) -> bytes:
        if self.secret_key is not None:
            value = self.secret_key.get_secret_value()
            if len(value) < 32:
                raise ValueError("LINLI_SECRET_KEY must be at least 32 characters")
            return value.encode()
        if self.env == "prod":
            raise ValueError("LINLI_SECRET_KEY is required when LINLI_ENV=prod")
        return _dev_secret(self.secrets_file)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _dev_secret(path: Path) -> bytes:
    if path.exists():
        return json.loads(path.read_text())["secret_key"].encode()
    value = secrets.token_urlsafe(48)
    path.write_text(json.dumps({"secret_key": value}))
    path.chmod(0o600)
    return value.encode()


@lru_cache
def get_settings() -> Settings:
    return Settings()
