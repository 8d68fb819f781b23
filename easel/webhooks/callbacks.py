"""The callback URL of a create: the X-Easel-Callback header, else the key's default (`easel keys callback`).

Checked before anything is stored, through the same SSRF guard as input URLs (EASEL_URL_ALLOWLIST
admits private hosts), so a bad URL is a 400 on the create rather than a delivery that can never land.
"""

from __future__ import annotations

import asyncio

from fastapi import Request

from easel.api.common import public_base_url, services_of
from easel.errors import EaselError, InvalidParameter, InvalidURL
from easel.inputs.fetch import split_http_url, vet_destination, vet_destination_async
from easel.tasks.store import Owner
from easel.webhooks.signing import CALLBACK_HEADER
from easel.webhooks.store import TASK, KeySettings, WebhookStore

MAX_URL = 2048


async def callback_of(request: Request, owner: Owner) -> str | None:
    """The checked callback URL for a create on a DashScope route, or None. The key's settings are cached
    (most creates ask for no callback), read off the event loop on a miss."""
    services = services_of(request)
    store = services.webhooks
    settings = store.cached(owner.key_id) or await asyncio.to_thread(store.settings_for, owner.key_id)
    url = _requested(request.headers.get(CALLBACK_HEADER), settings)
    if url is not None and url != settings.default_url:  # a default was checked when it was set, and at delivery
        try:
            await vet_destination_async(url, services.settings.url_allowlist)
        except EaselError as exc:
            raise _refused(exc) from None
    return url


def callback_of_sync(header: str | None, store: WebhookStore, key_id: str, allowlist: tuple[str, ...]) -> str | None:
    """callback_of() for a route that runs on a worker thread (the relight submit)."""
    settings = store.settings_for(key_id)
    url = _requested(header, settings)
    return vet_callback(url, allowlist) if url is not None and url != settings.default_url else url


async def register_callback(request: Request, owner: Owner, task_id: str, url: str) -> None:
    """Owe a delivery to `url` when the task ends (after the task is stored: an id is needed)."""
    services = services_of(request)
    await asyncio.to_thread(services.webhooks.register, TASK, task_id, owner.key_id, url, public_base_url(request))


def refuse_callback_on_sync_call(request: Request) -> None:
    """A synchronous call answers with its result; a callback asked of it would never be made."""
    if CALLBACK_HEADER.lower() in request.headers:
        raise InvalidParameter(f"{CALLBACK_HEADER} is for asynchronous creates; this call answers with its result "
                               "and sends no webhook.")


def vet_callback(url: str, allowlist: tuple[str, ...]) -> str:
    """The URL if it may be called (syntax and SSRF guard); InvalidURL otherwise."""
    url = check_callback_syntax(url)
    try:
        vet_destination(url, allowlist)
    except EaselError as exc:
        raise _refused(exc) from None
    return url


def check_callback_syntax(url: str) -> str:
    url = url.strip()
    if not url or len(url) > MAX_URL or not url.isprintable():
        raise InvalidURL(f"{CALLBACK_HEADER} must be an http(s) URL of at most {MAX_URL} printable characters.")
    try:
        split_http_url(url)
    except InvalidURL as exc:
        raise _refused(exc) from None
    return url


def _requested(header: str | None, settings: KeySettings) -> str | None:
    """The header's URL (syntax-checked) or the key's default; the guard is the caller's to run."""
    if header is None:
        return settings.default_url
    url = check_callback_syntax(header)
    if settings.secret is None:
        raise InvalidParameter(
            f"{CALLBACK_HEADER} needs a webhook secret for this API key, to sign the deliveries; an administrator "
            "creates one with `easel keys callback <key> --secret` (or sets a default URL with `easel keys "
            "callback <key> <url>`).")
    return url


def _refused(exc: EaselError) -> InvalidURL:
    # the guard's messages speak of fetching images; the rules are the same for a callback
    return InvalidURL(f"{CALLBACK_HEADER}: {exc.message.replace('image URL', 'callback URL')}")
