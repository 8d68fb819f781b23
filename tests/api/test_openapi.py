"""The OpenAPI document describes what the server does, /docs works offline, and a bounded schemathesis run
against a real server finds no server error and no answer outside the document."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from easel.api.openapi import build_document
from tests.conftest import EaselServer

# Served, but not API operations: the document itself, the docs page and its files, and the copies of
# DashScope paths with a trailing slash (the aio SDK's spelling of the same operation).
NOT_OPERATIONS = re.compile(r"^(/openapi\.json|/docs.*|.+/)$")


def served_operations() -> set[tuple[str, str]]:
    from easel.app import create_app

    served = set()
    for route in flat_routes(create_app().routes):
        path = getattr(route, "path", "")
        if NOT_OPERATIONS.match(path) or path == "/api/v1/relight/{rest:path}":  # the 404 catch-all
            continue
        for method in getattr(route, "methods", None) or ():  # mounts (static files) have none
            if method != "HEAD":
                served.add((method.lower(), path.replace(":path}", "}")))
    return served


def flat_routes(routes: list) -> list:
    """Routes of included routers too (FastAPI includes them lazily, as wrappers of the router)."""
    flat = []
    for route in routes:
        router = getattr(route, "original_router", None)
        flat.extend(flat_routes(router.routes) if router is not None else [route])
    return flat


def test_every_served_route_is_documented(tmp_path_factory: pytest.TempPathFactory,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EASEL_HOME", str(tmp_path_factory.mktemp("openapi-home")))
    documented = {(method, path) for path, ops in build_document()["paths"].items() for method in ops}
    missing = served_operations() - documented
    assert not missing, f"served but not in /openapi.json: {sorted(missing)}"
    assert ("post", "/api/v1/services/aigc/image2image/image-synthesis") in documented
    assert ("post", "/api/v1/services/aigc/multimodal-generation/generation") in documented


def test_document_is_valid_and_uses_the_contracts(server: EaselServer) -> None:
    from openapi_spec_validator import validate

    doc = httpx.get(server.url + "/openapi.json").json()
    validate(doc)
    text = str(doc)
    assert "422" not in {code for ops in doc["paths"].values() for op in ops.values() for code in op["responses"]}
    assert "HTTPValidationError" not in text
    create = doc["paths"]["/api/v1/services/aigc/image2image/image-synthesis"]["post"]
    titles = {body["title"] for body in create["requestBody"]["content"]["application/json"]["schema"]["oneOf"]}
    assert titles == {"wanx2.1-imageedit", "wanx-x-painting"}
    params = doc["components"]["schemas"]["ImageEditParameters"]["properties"]
    assert params["n"]["maximum"] == 4 and params["strength"]["maximum"] == 1.0
    seed = params["seed"]["anyOf"][0]
    assert seed["minimum"] == 0 and "ge" not in seed  # JSON Schema's names, not pydantic's


def test_docs_page_loads_only_local_assets(server: EaselServer) -> None:
    page = httpx.get(server.url + "/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/") and not s.startswith("//") for s in sources), sources
    for source in sources:
        asset = httpx.get(server.url + source)
        assert asset.status_code == 200 and len(asset.content) > 100, source


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EaselServer, str]]:
    # No workers: generated tasks stay PENDING instead of running engines; synchronous calls give up fast.
    env = {"EASEL_WORKERS": "0", "EASEL_SYNC_TIMEOUT_S": "2"}
    srv = EaselServer(tmp_path_factory.mktemp("easel-fuzz"), env).start()
    yield srv, srv.new_key("fuzz")
    srv.stop()


@pytest.fixture(scope="module")
def fuzz_schema(fuzz_server: tuple[EaselServer, str]) -> schemathesis.BaseSchema:
    srv, _key = fuzz_server
    return schemathesis.openapi.from_url(srv.url + "/openapi.json")


# Not negative_data_rejection: it counts an ignored unknown query parameter as accepting invalid input,
# while ignoring them is ordinary HTTP. Negative cases still must get no 5xx and only documented answers.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Negative cases (requests the document forbids, which must get a 4xx) exist where there is input to break.
RUNS = [(method.upper(), path, mode) for path, ops in build_document()["paths"].items() for method, op in ops.items()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        if mode == GenerationMode.POSITIVE or op.get("parameters") or op.get("requestBody")]


@pytest.mark.parametrize(("method", "path", "mode"), RUNS)
def test_server_matches_its_document(method: str, path: str, mode: GenerationMode,
                                     fuzz_schema: schemathesis.BaseSchema,
                                     fuzz_server: tuple[EaselServer, str]) -> None:
    srv, key = fuzz_server
    operation = fuzz_schema[path][method]
    relight = path.startswith("/api/v1/relight/")

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=25, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def call(case: schemathesis.Case) -> None:
        headers = {"Authorization": f"{'APPCODE' if relight else 'Bearer'} {key}"}
        if relight:
            headers["X-Ca-Nonce"] = secrets.token_hex(8)  # a replayed nonce is refused, by design
        case.call_and_validate(base_url=srv.url, headers=headers, checks=CHECKS, timeout=30)

    call()
