"""The OpenAPI document (/openapi.json) and the offline API docs (/docs).

FastAPI's generated document describes what its dependency solver would check (422 on every path
parameter) and leaves out the routes Easel registers without it: the creates, the synchronous call, the
OpenAI routes, the event stream. Here the document is written from what the server does: one operation
per route, request bodies from the catalog's own contracts (the same pydantic models the creates
validate with, so there is one source of truth), and the error statuses and shapes each surface really
answers. tests/api/test_openapi.py checks that every served route is described, and a bounded
schemathesis run checks the server against the document.

/docs is Swagger UI from the swagger-ui-bundle package, served by Easel: an offline machine has no CDN.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from easel import __version__
from easel.api.dashscope.router import ASYNC_SERVICES
from easel.api.relight.protocol import MAX_PROMPT, MAX_TASKS, RelightTaskIn
from easel.catalog.registry import MODELS

DOCS_ASSETS = "/docs/assets"
DASHSCOPE_ERRORS = (400, 401, 403, 404, 413, 500)
TASK_STATUSES = ["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN"]
# JSON Schema's names for the bounds pydantic writes under its own names inside unions
_BOUND_NAMES = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}

Schema = dict[str, Any]


def install_docs(app: FastAPI) -> None:
    """Serve /openapi.json from this module and /docs with locally shipped Swagger UI files."""
    from swagger_ui_bundle import swagger_ui_path

    app.openapi = lambda: openapi_document(app)  # type: ignore[method-assign]
    app.mount(DOCS_ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json", title="Easel API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js", swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png")


def openapi_document(app: FastAPI) -> Schema:
    if app.openapi_schema is None:
        app.openapi_schema = build_document()
    return app.openapi_schema


def build_document() -> Schema:
    components = Components()
    paths: dict[str, dict[str, Schema]] = {}
    for service in ASYNC_SERVICES:
        paths[f"/api/v1/services/aigc/{service}"] = {"post": create_operation(service, components)}
    paths["/api/v1/services/aigc/multimodal-generation/generation"] = {"post": sync_operation(components)}
    paths.update(task_paths())
    paths.update(file_paths())
    paths.update(relight_paths(components))
    paths.update(openai_paths())
    paths.update(operations_paths())
    return {
        "openapi": "3.1.0",
        "info": {"title": "Easel", "version": __version__,
                 "description": "Self-hosted image editing with the DashScope, relight market and OpenAI "
                                "Images wire protocols."},
        "paths": paths,
        "components": {"schemas": {**components.schemas, **WIRE_SCHEMAS}, "securitySchemes": SECURITY},
    }


class Components:
    """Request schemas of the catalog's contract models, each registered once under its class name."""

    def __init__(self) -> None:
        self.schemas: dict[str, Schema] = {}

    def ref(self, model: type[BaseModel]) -> Schema:
        if model.__name__ not in self.schemas:
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, definition in schema.pop("$defs", {}).items():
                self.schemas[name] = json_schema_bounds(definition)
            self.schemas[model.__name__] = json_schema_bounds(schema)
        return {"$ref": f"#/components/schemas/{model.__name__}"}


def json_schema_bounds(schema: Any) -> Any:
    """pydantic leaves `ge`/`le` unrenamed on the members of an optional field's anyOf."""
    if isinstance(schema, dict):
        return {_BOUND_NAMES.get(k, k): json_schema_bounds(v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [json_schema_bounds(v) for v in schema]
    return schema


# --- DashScope ---------------------------------------------------------------------------------------------


def create_operation(service: str, components: Components) -> Schema:
    models = [m for m in MODELS.values() if service in m.routes and not m.synchronous]
    bodies = [model_body(m.name, m.input_model, m.parameters_model, components) for m in models]
    return {
        "summary": f"Create an asynchronous task ({', '.join(m.name for m in models)})",
        "tags": ["DashScope"],
        "security": [{"DashScopeKey": []}],
        "parameters": [
            header("X-DashScope-Async", "Must be `enable`: these services only run as tasks.", True, ["enable"]),
            header("X-DashScope-OssResourceResolve", "`enable` when inputs are oss:// keys from /api/v1/uploads.",
                   False, ["enable"]),
            header("X-Easel-Callback", "A URL Easel POSTs the task to when it ends (signed webhook).", False),
        ],
        "requestBody": json_body(bodies[0] if len(bodies) == 1 else {"oneOf": bodies}),
        "responses": {"200": json_response("The task was created; it is always PENDING at first.",
                                           "TaskCreated"),
                      **dashscope_errors((*DASHSCOPE_ERRORS, 429))},
    }


def model_body(name: str, input_model: type[BaseModel] | None, parameters_model: type[BaseModel] | None,
               components: Components) -> Schema:
    properties: Schema = {"model": {"type": "string", "enum": [name]}}
    required = ["model"]
    if input_model is not None:
        properties["input"] = components.ref(input_model)
        required.append("input")
    if parameters_model is not None:
        properties["parameters"] = components.ref(parameters_model)
    return {"type": "object", "title": name, "properties": properties, "required": required}


def sync_operation(components: Components) -> Schema:
    models = [m for m in MODELS.values() if m.synchronous]
    bodies = []
    for model in models:
        body = model_body(model.name, None, model.parameters_model, components)
        body["properties"]["input"] = {"$ref": "#/components/schemas/MessagesInput"}
        body["required"].append("input")
        bodies.append(body)
    return {
        "summary": f"Edit an image and wait for the result ({', '.join(m.name for m in models)})",
        "tags": ["DashScope"],
        "security": [{"DashScopeKey": []}],
        "requestBody": json_body(bodies[0] if len(bodies) == 1 else {"oneOf": bodies}),
        "responses": {"200": json_response("The edited image.", "SyncAnswer"),
                      **dashscope_errors((*DASHSCOPE_ERRORS, 429, 504))},
    }


def task_paths() -> dict[str, dict[str, Schema]]:
    task_id = path_parameter("task_id", "The task id a create answered.")
    authed = {"tags": ["DashScope"], "security": [{"DashScopeKey": []}]}
    return {
        "/api/v1/tasks/{task_id}": {"get": {
            **authed, "summary": "Query a task (UNKNOWN when it does not exist or is not yours)",
            "parameters": [task_id],
            "responses": {"200": json_response("The task.", "TaskBody"), **dashscope_errors((400, 401, 500))}}},
        "/api/v1/tasks/{task_id}/cancel": {"post": {
            **authed, "summary": "Cancel a PENDING or RUNNING task", "parameters": [task_id],
            "responses": {"200": json_response("Cancelled.", "RequestId"), **dashscope_errors((400, 401, 500))}}},
        "/api/v1/tasks/{task_id}/events": {"get": {
            **authed, "summary": "Follow a task as Server-Sent Events (status, progress, end)",
            "parameters": [task_id],
            "responses": {"200": {"description": "`status`, `progress` and `end` events until the task ends.",
                                  "content": {"text/event-stream": {"schema": {
                                      "$ref": "#/components/schemas/ServerSentEvent"}}}},
                          **dashscope_errors((400, 401, 500))}}},
        "/api/v1/tasks": {"get": {
            **authed, "summary": "List your tasks",
            # an empty value means the parameter's default, as the server reads it
            "parameters": [
                query("page_no", {"anyOf": [{"type": "integer", "minimum": 1, "maximum": 1_000_000},
                                            {"const": ""}]}),
                query("page_size", {"anyOf": [{"type": "integer", "minimum": 1, "maximum": 100}, {"const": ""}]}),
                query("status", {"type": "string", "enum": [*TASK_STATUSES[:-1], ""]}),
                query("model_name", {"type": "string"}),
                query("start_time", {"type": "string", "pattern": "^([0-9]{14})?$"}, "YYYYMMDDhhmmss"),
                query("end_time", {"type": "string", "pattern": "^([0-9]{14})?$"}, "YYYYMMDDhhmmss"),
            ],
            "responses": {"200": json_response("One page of tasks.", "TaskList"),
                          **dashscope_errors((400, 401, 500))}}},
    }


def file_paths() -> dict[str, dict[str, Schema]]:
    return {
        "/api/v1/uploads": {"get": {
            "tags": ["Files"], "summary": "Get an upload policy (the dashscope SDK's file upload)",
            "security": [{"DashScopeKey": []}],
            "parameters": [query("action", {"type": "string", "enum": ["getPolicy"]}),
                           query("model", {"type": "string"})],
            "responses": {"200": json_response("A policy for one object under upload_dir.", "UploadPolicy"),
                          **dashscope_errors((400, 401, 500))}}},
        "/api/v1/uploads/oss": {"post": {
            "tags": ["Files"], "summary": "Upload one file with a policy (OSS-style form POST)",
            "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object", "required": ["key", "policy", "Signature", "file"],
                "properties": {"key": {"type": "string"}, "policy": {"type": "string"},
                               "Signature": {"type": "string"}, "OSSAccessKeyId": {"type": "string"},
                               "x-oss-forbid-overwrite": {"type": "string"},
                               "file": {"type": "string", "format": "binary"}}}}}},
            "responses": {"200": {"description": "Stored; use oss://{key} as an input URL."},
                          **dashscope_errors((400, 403, 409, 411, 413, 500))}}},
        "/files/{key}": {"get": {
            "tags": ["Files"], "summary": "Download a result through its signed link",
            "parameters": [path_parameter("key", "The stored file's key."),
                           query("Expires", {"type": "string"}, required=True),
                           query("Signature", {"type": "string"}, required=True)],
            "responses": {"200": {"description": "The file.", "content": {
                "image/png": {}, "image/jpeg": {}, "image/webp": {}, "application/octet-stream": {}}},
                **dashscope_errors((400, 403, 404, 500))}}},
    }


# --- relight market API ------------------------------------------------------------------------------------


def relight_paths(components: Components) -> dict[str, dict[str, Schema]]:
    task = components.ref(RelightTaskIn)
    submit_body = {"type": "object", "required": ["data"], "properties": {"data": {
        "type": "object", "required": ["task_list"],
        "properties": {"task_list": {"type": "array", "items": task, "minItems": 1, "maxItems": MAX_TASKS}}}}}
    query_body = {"type": "object", "required": ["data"], "properties": {"data": {
        "type": "object", "required": ["result_key"], "properties": {"result_key": {"type": "string",
                                                                                     "minLength": 1}}}}}
    nonce = header("X-Ca-Nonce", "A fresh random value per request (replay guard), at most 128 characters.", True)
    common = {"tags": ["Relight (光影控制)"], "security": [{"AppCode": []}], "parameters": [nonce]}
    errors = relight_errors((400, 401, 403, 404, 413, 500))
    return {
        "/api/v1/relight/submit": {"post": {
            **common, "summary": f"Submit 1-{MAX_TASKS} relight tasks (prompts up to {MAX_PROMPT} characters)",
            "requestBody": json_body(submit_body),
            "responses": {"200": json_response("The batch's result_key.", "RelightEnvelope"), **errors}}},
        "/api/v1/relight/query": {"post": {
            **common, "summary": "Query a batch by its result_key",
            "requestBody": json_body(query_body),
            "responses": {"200": json_response("The batch's tasks.", "RelightEnvelope"), **errors}}},
    }


def relight_errors(statuses: tuple[int, ...]) -> Schema:
    return {str(s): json_response("23500xxx code from the seed's table.", "RelightEnvelope") for s in statuses}


# --- OpenAI-compatible -------------------------------------------------------------------------------------


def openai_paths() -> dict[str, dict[str, Schema]]:
    errors = {str(s): json_response("OpenAI's error object.", "OpenAIError") for s in (400, 401, 403, 413, 500)}
    form = {"type": "object", "required": ["image", "prompt"], "properties": {
        "image": {"oneOf": [{"type": "string", "format": "binary"},
                            {"type": "array", "items": {"type": "string", "format": "binary"}}]},
        "mask": {"type": "string", "format": "binary", "description": "Transparent pixels mark what to edit."},
        "prompt": {"type": "string"}, "model": {"type": "string"}, "n": {"type": "integer", "minimum": 1},
        "size": {"type": "string"}, "response_format": {"type": "string", "enum": ["url", "b64_json"]}}}
    return {
        "/v1/images/edits": {"post": {
            "tags": ["OpenAI"], "summary": "Edit images (OpenAI Images API)", "security": [{"DashScopeKey": []}],
            "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": form}}},
            "responses": {"200": json_response("The edited images.", "ImagesResponse"), **errors}}},
        "/v1/models": {"get": {
            "tags": ["OpenAI"], "summary": "Model ids for /v1/images/edits", "security": [{"DashScopeKey": []}],
            "responses": {"200": json_response("The model list.", "OpenAIModelList"), **errors}}},
    }


# --- operations --------------------------------------------------------------------------------------------


def operations_paths() -> dict[str, dict[str, Schema]]:
    plain = {"tags": ["Operations"]}
    return {
        "/api/v1/models": {"get": {**plain, "summary": "Models, their functions and the engines serving them",
                                   "responses": {"200": json_response("The listing.", "ModelListing")}}},
        "/healthz": {"get": {**plain, "summary": "The process is up",
                             "responses": {"200": json_response("Up.", "Health"),
                                           "503": json_response("Starting or stopping.", "Health")}}},
        "/readyz": {"get": {**plain, "summary": "Database, storage and configured engines",
                            "responses": {"200": json_response("Ready (or degraded engines).", "Readiness"),
                                          "503": json_response("A dependency is down.", "Readiness")}}},
        "/metrics": {"get": {**plain, "summary": "Prometheus metrics (Bearer EASEL_METRICS_TOKEN when it is set)",
                             "responses": {"200": {"description": "Prometheus text exposition.", "content": {
                                 "text/plain": {"schema": {"type": "string"}}}},
                                 **dashscope_errors((401,))}}},
        "/": {"get": {"tags": ["Playground"], "summary": "The web playground (static page, files under /web/)",
                      "responses": {"200": {"description": "The page.", "content": {
                          "text/html": {"schema": {"type": "string"}}}}}}},
    }


# --- building blocks ---------------------------------------------------------------------------------------


def header(name: str, description: str, required: bool, enum: list[str] | None = None) -> Schema:
    schema: Schema = {"type": "string"}
    if enum:
        schema["enum"] = enum
    return {"name": name, "in": "header", "required": required, "description": description, "schema": schema}


def query(name: str, schema: Schema, description: str = "", required: bool = False) -> Schema:
    return {"name": name, "in": "query", "required": required, "description": description, "schema": schema}


def path_parameter(name: str, description: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "string", "minLength": 1}}


def json_body(schema: Schema) -> Schema:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def json_response(description: str, schema_name: str) -> Schema:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}}}


def dashscope_errors(statuses: tuple[int, ...]) -> Schema:
    return {str(s): json_response("DashScope error: request_id, code, message.", "Error") for s in statuses}


def _obj(properties: Schema, required: list[str] | None = None) -> Schema:
    return {"type": "object", "properties": properties, "required": required or list(properties)}


_STR = {"type": "string"}
_INT = {"type": "integer"}
_TIME = {"type": ["string", "null"]}

WIRE_SCHEMAS: dict[str, Schema] = {
    "Error": _obj({"request_id": _STR, "code": _STR, "message": _STR}),
    "RequestId": _obj({"request_id": _STR}),
    "TaskCreated": _obj({"request_id": _STR, "output": _obj({"task_id": _STR,
                                                              "task_status": {"type": "string",
                                                                              "enum": ["PENDING"]}})}),
    "TaskOutput": _obj({
        "task_id": _STR, "task_status": {"type": "string", "enum": TASK_STATUSES},
        "submit_time": _TIME, "scheduled_time": _TIME, "start_time": _TIME, "end_time": _TIME,
        "progress": {"type": "integer", "minimum": 0, "maximum": 100},
        "results": {"type": "array", "items": {"type": "object"}},
        "task_metrics": _obj({"TOTAL": _INT, "SUCCEEDED": _INT, "FAILED": _INT}),
        "code": _STR, "message": _STR,
    }, ["task_id", "task_status"]),
    "TaskBody": _obj({"request_id": _STR, "output": {"$ref": "#/components/schemas/TaskOutput"},
                      "usage": {"type": "object"}}, ["request_id", "output"]),
    # the data of one event: `status`, `progress`, or `end` (the task as GET /api/v1/tasks/{id} answers)
    "TaskEvent": {"anyOf": [
        _obj({"task_id": _STR, "task_status": {"type": "string", "enum": TASK_STATUSES}}),
        _obj({"task_id": _STR, "progress": {"type": "integer", "minimum": 0, "maximum": 100}}),
        {"$ref": "#/components/schemas/TaskBody"}]},
    "ServerSentEvent": _obj({"event": {"type": "string", "enum": ["status", "progress", "end"]},
                             "data": {"type": "string", "contentMediaType": "application/json",
                                      "contentSchema": {"$ref": "#/components/schemas/TaskEvent"}}}),
    "TaskList": _obj({"request_id": _STR, "data": {"type": "array", "items": {"type": "object"}},
                      "tasks": {"type": "array", "items": {"type": "object"}}, "total": _INT,
                      "total_page": _INT, "page_no": _INT, "page_size": _INT}),
    "SyncAnswer": _obj({"request_id": _STR, "output": _obj({"choices": {"type": "array", "items": {
        "type": "object"}}}), "usage": {"type": "object"}}),
    "MessagesInput": _obj({"messages": {"type": "array", "minItems": 1, "items": _obj({
        "role": {"type": "string", "enum": ["user", "system", "assistant"]},
        "content": {"type": "array", "items": {"type": "object"}}})}}),
    "UploadPolicy": _obj({"request_id": _STR, "data": _obj({
        "policy": _STR, "signature": _STR, "upload_dir": _STR, "upload_host": _STR,
        "expire_in_seconds": _INT, "max_file_size_mb": _INT}, ["policy", "signature", "upload_dir",
                                                              "upload_host"])}),
    "RelightEnvelope": _obj({"success": {"type": "boolean"}, "code": {"type": ["integer", "string"]},
                             "message": _STR, "requestId": _STR, "severity": _STR, "data": {"type": "object"}},
                            ["success", "code", "message", "requestId"]),
    "ImagesResponse": _obj({"created": _INT, "data": {"type": "array", "items": _obj(
        {"url": _STR, "b64_json": _STR}, [])}}),
    "OpenAIError": _obj({"error": _obj({"message": _STR, "type": _STR, "param": {"type": ["string", "null"]},
                                        "code": {"type": ["string", "null"]}}, ["message", "type"])}),
    "OpenAIModelList": _obj({"object": _STR, "data": {"type": "array", "items": _obj(
        {"id": _STR, "object": _STR, "created": _INT, "owned_by": _STR})}}),
    "ModelListing": _obj({"request_id": _STR, "data": {"type": "array", "items": {"type": "object"}},
                          "engines": {"type": "object"}}),
    "Health": _obj({"status": _STR}),
    "Readiness": _obj({"status": _STR}),
}

SECURITY: Schema = {
    "DashScopeKey": {"type": "http", "scheme": "bearer", "description": "An Easel API key (`easel keys create`)."},
    "AppCode": {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "`APPCODE <key>`: the relight market API's scheme, with an Easel key."},
}
