"""create_app(): the FastAPI application with its routers, workers and janitor."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from easel import __version__
from easel.api.common import install_error_handlers, new_request_id
from easel.api.dashscope.router import router as dashscope_router
from easel.api.events import router as events_router
from easel.api.files import router as files_router
from easel.api.guard import RequestGuard
from easel.api.health import router as health_router
from easel.api.openai.router import router as openai_router
from easel.api.openapi import install_docs
from easel.api.playground import install_playground
from easel.api.relight.router import install_relight_errors
from easel.api.relight.router import router as relight_router
from easel.catalog.registry import model_listing
from easel.config import Settings, load_settings
from easel.observability.http import ObservabilityMiddleware
from easel.observability.scrape import router as metrics_router
from easel.queue import make_queue
from easel.services import Services
from easel.tasks.retention import Janitor
from easel.tasks.writer import TaskWriter
from easel.webhooks.delivery import WebhookDispatcher
from easel.webhooks.render import RENDERERS

log = logging.getLogger("easel")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    services = Services.build(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = make_queue(services, settings.workers) if settings.workers > 0 else None
        janitor = Janitor(services)
        if pool is not None:
            pool.start()
        janitor.start()
        webhooks = WebhookDispatcher(services, RENDERERS)  # POSTs to callback URLs when tasks end
        webhooks.start()
        app.state.pool = pool
        app.state.writer = TaskWriter(services.store, asyncio.get_running_loop())
        app.state.ready = True
        # What start-up built lives as long as the process: out of the collector's sight, a full
        # collection no longer walks it (135 000 objects, ~50 ms each time, on the create path).
        gc.freeze()
        try:
            yield
        finally:
            app.state.ready = False
            janitor.stop()
            webhooks.stop()
            if pool is not None:
                pool.stop()
            services.close()

    app = FastAPI(title="Easel", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.services = services
    app.state.pool = None
    app.state.ready = False
    # Outside routing and authentication: body caps and URL checks apply to every request.
    app.add_middleware(RequestGuard, upload_max_bytes=settings.upload_max_bytes)
    # Outermost: request id, access log, request metrics, for every answer, refusals included.
    app.add_middleware(ObservabilityMiddleware, access_log=settings.access_log)
    install_error_handlers(app)
    install_relight_errors(app)
    app.include_router(dashscope_router)
    app.include_router(relight_router)
    app.include_router(files_router)
    app.include_router(events_router)
    app.include_router(openai_router)
    app.include_router(health_router)  # /readyz
    app.include_router(metrics_router)  # /metrics (Prometheus)
    install_docs(app)  # /openapi.json written from what the server does, /docs offline

    @app.get("/healthz")
    def healthz(request: Request) -> JSONResponse:
        ready = bool(request.app.state.ready)
        return JSONResponse({"status": "ok" if ready else "starting"}, status_code=200 if ready else 503)

    @app.get("/api/v1/models")
    def models() -> JSONResponse:
        return JSONResponse({"request_id": new_request_id(), **model_listing(services.engines)})

    install_playground(app)  # the web playground at /, its files under /web/

    return app
