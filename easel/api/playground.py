"""The web playground: static files shipped in easel/web/, served at / (page) and /web/ (its assets).

The page talks to the same public API as any client (uploads, create, events, tasks, relight), so it
needs nothing server-side beyond these files. No CDN and no build step: the files are what runs.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
# Scripts and styles only from these files. Images and uploads may live elsewhere: results signed by an
# S3 store, an upload_host under EASEL_PUBLIC_URL.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: http: https:; "
       "connect-src 'self' http: https:; frame-ancestors 'none'")


def install_playground(app: FastAPI) -> None:
    app.mount("/web", StaticFiles(directory=WEB_DIR), name="web")

    @app.get("/", include_in_schema=False)
    def playground() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", headers={"Content-Security-Policy": CSP,
                                                             "Cache-Control": "no-cache"})
