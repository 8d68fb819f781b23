"""Command line: easel serve | worker | keys create|list|revoke | models."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from easel.config import load_settings
from easel.observability.logs import configure_logging


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    from easel.db.migrate import SchemaOutOfDate
    from easel.engines.config import EnginesConfigError

    try:
        return args.handler(args)
    except (EnginesConfigError, SchemaOutOfDate) as exc:  # the user's to fix: no traceback
        print(f"easel: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="easel", description="Self-hosted DashScope-compatible image server")
    sub = parser.add_subparsers(dest="command")

    serve = sub.add_parser("serve", help="run the HTTP server (with in-process workers)")
    serve.add_argument("--host", default=None, help="bind address (default EASEL_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (default EASEL_PORT or 8000)")
    serve.add_argument("--workers", type=int, default=None, help="task worker threads (0 = API only)")
    serve.set_defaults(handler=_serve)

    worker = sub.add_parser("worker", help="run task workers only (scale-out, shared database)")
    worker.add_argument("--workers", type=int, default=None, help="worker threads")
    worker.add_argument("--lanes", default=None,
                        help="comma-separated queue lanes to serve, e.g. upscale,general (default: the general "
                             "lane and every engine task this machine's engines.toml can run)")
    worker.add_argument("--metrics-port", type=int, default=None,
                        help="serve this process's Prometheus metrics on this port (default EASEL_METRICS_PORT)")
    worker.set_defaults(handler=_worker)

    keys = sub.add_parser("keys", help="manage API keys")
    keys_sub = keys.add_subparsers(dest="keys_command")
    create = keys_sub.add_parser("create", help="create a key and print it (shown only once)")
    create.add_argument("--name", default="", help="a label for the key")
    create.set_defaults(handler=_keys_create)
    listing = keys_sub.add_parser("list", help="list keys (never their secrets)")
    listing.set_defaults(handler=_keys_list)
    revoke = keys_sub.add_parser("revoke", help="revoke a key by its id or prefix")
    revoke.add_argument("key", help="key id (key-...) or the key's first 10 characters")
    revoke.set_defaults(handler=_keys_revoke)
    callback = keys_sub.add_parser("callback", help="set a key's default webhook URL and make its signing secret")
    callback.add_argument("key", help="key id (key-...) or the key's first 10 characters")
    callback.add_argument("url", nargs="?", default=None, help="default callback URL for the key's tasks")
    callback.add_argument("--clear", action="store_true", help="remove the default URL (the secret stays)")
    callback.add_argument("--secret", action="store_true", help="make a new signing secret (printed once)")
    callback.set_defaults(handler=_keys_callback)

    migrate = sub.add_parser("migrate", help="bring the database schema to this version (EASEL_AUTO_MIGRATE=0)")
    migrate.add_argument("--sql", action="store_true", help="print the SQL for an empty database instead")
    migrate.add_argument("--status", action="store_true", help="print the current and the newest revision")
    migrate.set_defaults(handler=_migrate)

    models = sub.add_parser("models", help="list the models and what the configured engines can do")
    models.add_argument("--json", action="store_true", help="print the raw listing (as GET /api/v1/models)")
    models.set_defaults(handler=_models)

    pull = sub.add_parser("pull", help="download the hub weights engines.toml names into $EASEL_HOME/models")
    pull.add_argument("hub_ids", nargs="*", metavar="HUB_ID", help="pull these org/name ids instead of the config's")
    pull.add_argument("--revision", default=None, help="branch, tag or commit of the named HUB_IDs (default main)")
    pull.add_argument("--update", action="store_true", help="ask the hub for newer commits of complete copies too")
    pull.set_defaults(handler=_pull)

    from easel.cli_remote import add_remote_parsers
    from easel.cli_run import add_run_parser

    add_run_parser(sub)  # easel run: one request on this machine's engines, no server
    add_remote_parsers(sub)  # easel submit | wait | tasks: against a running server
    return parser


def _keyring():
    from easel.auth.keys import KeyRing
    from easel.db.session import Database

    settings = load_settings()
    return KeyRing(Database(settings.database_url, settings.auto_migrate))


def _migrate(args: argparse.Namespace) -> int:
    from sqlalchemy import create_engine

    from easel.db import migrate

    url = load_settings().database_url
    if args.sql:
        print(migrate.upgrade_sql(url), end="")
        return 0
    if url.startswith("sqlite"):
        Path(url.split("///", 1)[-1]).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url)
    try:
        if args.status:
            now, newest = migrate.current(engine), migrate.head()
            print(f"database revision: {now or 'none'}; newest: {newest}"
                  + ("" if now == newest else " (run `easel migrate`)"))
            return 0
        done = migrate.upgrade(engine)
    finally:
        engine.dispose()
    print(f"database revision: {done.after} (was {done.before or 'none'})" if done else
          f"database revision: {migrate.head()} (already the newest)")
    return 0


def _keys_create(args: argparse.Namespace) -> int:
    _info, secret = _keyring().create(args.name)
    print(secret)
    return 0


def _keys_list(_args: argparse.Namespace) -> int:
    for key in _keyring().list():
        state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
        print(f"{key.id}\t{key.prefix}...\t{key.name or '-'}\t{key.created_at:%Y-%m-%d %H:%M}\t{state}")
    return 0


def _keys_revoke(args: argparse.Namespace) -> int:
    if _keyring().revoke(args.key):
        print(f"revoked {args.key}")
        return 0
    print(f"no active key matches {args.key!r}", file=sys.stderr)
    return 1


def _keys_callback(args: argparse.Namespace) -> int:
    from easel.webhooks.cli import configure_key_callback

    return configure_key_callback(load_settings(), args.key, args.url, clear=args.clear, rotate=args.secret)


def _models(args: argparse.Namespace) -> int:
    from easel.catalog.registry import model_listing
    from easel.cli_models import print_listing
    from easel.engines.config import load_engines_config
    from easel.engines.manager import Engines

    settings = load_settings()
    engines = Engines(load_engines_config(settings.home, settings.superres_model, settings.inpaint_onnx_path))
    return print_listing(model_listing(engines), args.json)


def _pull(args: argparse.Namespace) -> int:
    from easel.engines.config import EnginesConfigError, load_engines_config
    from easel.engines.pull import run_pull

    settings = load_settings()
    try:
        config = load_engines_config(settings.home, settings.superres_model, settings.inpaint_onnx_path)
    except EnginesConfigError as exc:
        print(f"easel pull: {exc}", file=sys.stderr)
        return 1
    return run_pull(config, args.hub_ids, args.revision, args.update)


def _serve(args: argparse.Namespace) -> int:
    from easel.app import create_app
    from easel.http_server import serve

    overrides = {k: v for k, v in {"host": args.host, "port": args.port, "workers": args.workers}.items()
                 if v is not None}
    settings = load_settings().with_overrides(**overrides)
    configure_logging(settings.log_format, settings.log_level)
    _first_key(settings)
    app = create_app(settings)
    serve(app, settings)  # uvicorn with header/body/keep-alive timeouts for slow clients
    return 0


def _first_key(settings) -> None:
    """On a first start with no keys, create one and print it once."""
    from easel.auth.keys import KeyRing
    from easel.db.session import Database

    db = Database(settings.database_url, settings.auto_migrate)
    try:
        ring = KeyRing(db)
        if ring.count_active() == 0:
            _info, secret = ring.create("first key")
            if settings.log_format == "json":  # every line a JSON object, this one too
                logging.getLogger("easel").warning("No API keys existed, so Easel created one. It is shown only "
                                                   "this once: %s", secret)
                return
            print(
                "\nNo API keys existed, so Easel created one. It is shown only this once:\n\n"
                f"    {secret}\n\n"
                f"    export DASHSCOPE_HTTP_BASE_URL=http://{settings.host}:{settings.port}/api/v1\n"
                f"    export DASHSCOPE_API_KEY={secret}\n",
                flush=True,
            )
    finally:
        db.dispose()


def _worker(args: argparse.Namespace) -> int:
    from easel.observability.scrape import serve_worker_metrics
    from easel.queue import make_queue
    from easel.services import Services
    from easel.tasks.retention import Janitor
    from easel.webhooks.delivery import WebhookDispatcher
    from easel.webhooks.render import RENDERERS

    settings = load_settings()
    if args.metrics_port is not None:
        settings = settings.with_overrides(metrics_port=args.metrics_port)
    configure_logging(settings.log_format, settings.log_level)
    services = Services.build(settings)
    if settings.metrics_port:
        serve_worker_metrics(settings.host, settings.metrics_port)
    webhooks = WebhookDispatcher(services, RENDERERS)
    lanes = args.lanes.split(",") if args.lanes else None
    try:
        pool = make_queue(services, args.workers if args.workers is not None else max(1, settings.workers), lanes)
    except ValueError as exc:  # an unknown lane name
        print(f"easel worker: {exc}", file=sys.stderr)
        return 2
    janitor = Janitor(services)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    pool.start()
    janitor.start()
    webhooks.start()
    logging.getLogger("easel.worker").info("easel worker: %d threads, lanes %s, on %s", pool.size,
                                           ",".join(pool.lanes), settings.database_url.split("@")[-1])
    stop.wait()
    pool.stop()
    janitor.stop()
    webhooks.stop()
    services.close()
    return 0


if __name__ == "__main__":
    os._exit(main())
