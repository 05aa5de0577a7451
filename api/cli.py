"""`linli`: serve, migrate, seed-demo, schema, simulate."""

from __future__ import annotations

import argparse
import asyncio
import sys

from core.settings import get_settings


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.observability import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=None,
        access_log=False,
        lifespan="on",
        ws_max_size=1 << 20,
        # Compressing small JSON frames costs more CPU than it saves on a LAN; with a
        # thousand alert subscribers it was a quarter of the fan-out.
        ws_per_message_deflate=False,
    )
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from api.migrate import upgrade

    upgrade(args.url or get_settings().database_url, args.revision)
    return 0


def _seed(args: argparse.Namespace) -> int:
    from api.seed import run_seed

    return asyncio.run(run_seed(get_settings(), if_empty=args.if_empty))


def _schema(_: argparse.Namespace) -> int:
    import resolvers
    from api.app import _load_capabilities
    from schema.root import sdl

    _load_capabilities()
    sys.stdout.write(sdl(resolvers.build()))
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from device_bridge.simulate import main as simulate_main

    return simulate_main(args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="linli", description="Linli community backend")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the API server (uvicorn)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1)
    p.set_defaults(fn=_serve)

    p = sub.add_parser("migrate", help="apply database migrations (alembic upgrade)")
    p.add_argument("--revision", default="heads")
    p.add_argument("--url", default=None, help="database URL (default: LINLI_DATABASE_URL)")
    p.set_defaults(fn=_migrate)

    p = sub.add_parser("seed-demo", help="create the demo community and print its logins")
    p.add_argument("--if-empty", action="store_true", help="only when no organization exists")
    p.set_defaults(fn=_seed)

    p = sub.add_parser("schema", help="print the GraphQL SDL")
    p.set_defaults(fn=_schema)

    p = sub.add_parser("simulate", help="simulated devices publishing to a running server")
    p.add_argument("--url", default="http://127.0.0.1:8000", help="server base URL (HTTP ingest)")
    p.add_argument("--mqtt", default=None, help="MQTT URL; publish there instead of HTTP")
    p.add_argument("--community", default=None, help="community id (default: Demo Garden)")
    p.add_argument(
        "--scenario", default="normal", choices=["normal", "fire", "stuck-elevator", "silent"]
    )
    p.add_argument("--rate", type=float, default=10.0, help="readings per second")
    p.add_argument("--seconds", type=float, default=30.0)
    p.set_defaults(fn=_simulate)

    args = parser.parse_args(argv)
    return int(args.fn(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
