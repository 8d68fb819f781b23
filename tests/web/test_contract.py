"""The machine-readable contracts in GET /api/v1/models are the ones the server enforces.

A request built only from a contract (defaults, examples, first enum values) must pass the model's own
validation, and each published bound must be exactly where validation starts refusing.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from easel.api.relight.errors import RelightError
from easel.api.relight.protocol import parse_task_list
from easel.catalog.contract import contract_of
from easel.catalog.registry import MODELS
from easel.errors import EaselError

IMAGE = "http://127.0.0.1:9/image.png"
HAN = re.compile(r"[\u4e00-\u9fff]")


def sample(prop: dict[str, Any]) -> Any:
    """The value a form starts with for a required field."""
    if "x-image" in prop:
        return IMAGE
    if prop.get("default") is not None:
        return prop["default"]
    if prop.get("examples"):
        return prop["examples"][0]
    if "enum" in prop:
        return prop["enum"][0]
    return {"string": "把房子变成冰雕风格", "integer": prop.get("minimum", 1), "number": prop.get("minimum", 1.0),
            "boolean": False}[prop["type"]]


def request_from(contract: dict[str, Any], model: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    parts: dict[str, dict[str, Any]] = {"input": {}, "parameters": {}}
    for part in parts:
        schema = contract.get(part, {})
        for name in schema.get("required", []):
            parts[part][name] = sample(schema["properties"][name])
    for where, value in (overrides or {}).items():
        part, name = where.split(".", 1)
        parts[part][name] = value
    if contract["request"] == "messages":
        content = [{"image": parts["input"]["image"]}, {"text": parts["input"]["text"]}]
        return {"model": model, "input": {"messages": [{"role": "user", "content": content}]},
                "parameters": parts["parameters"]}
    if contract["request"] == "task_list":
        return {"data": {"task_list": [parts["input"]]}}
    return {"model": model, **parts}


def check(model: str, body: dict[str, Any]) -> None:
    if model == "relight":
        parse_task_list(body)
    else:
        MODELS[model].validate(body)


CONTRACTS = {name: contract_of(model) for name, model in MODELS.items()}


def test_every_model_publishes_a_contract_with_seed_names() -> None:
    for name, contract in CONTRACTS.items():
        assert contract is not None, name
        for part in ("input", "parameters"):
            for field, prop in contract.get(part, {}).get("properties", {}).items():
                assert HAN.search(prop["title"]) or field == "mask", f"{name} {part}.{field}: {prop['title']!r}"
                if "enum" in prop and "x-enum-titles" in prop:
                    assert {str(v) for v in prop["enum"]} == set(prop["x-enum-titles"]), f"{name} {field}"


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_a_request_built_from_the_contract_is_accepted(name: str) -> None:
    contract = CONTRACTS[name]
    assert contract is not None
    overrides = {}
    if name == "wanx-background-generation-v2":
        overrides = {"input.ref_prompt": "纯白背景"}  # the contract's note: ref_image_url or ref_prompt
    check(name, request_from(contract, name, overrides))
    for fn, info in contract.get("functions", {}).items():
        extra = {"input.function": fn, **({"input.mask_image_url": IMAGE} if info["needs_mask"] else {})}
        check(name, request_from(contract, name, extra))


def bounds(prop: dict[str, Any]) -> list[tuple[Any, Any]]:
    """(the last accepted value, the first refused one) at each published bound of a field."""
    if "enum" in prop:
        return []
    if prop.get("type") in ("integer", "number"):
        step = 1 if prop["type"] == "integer" else 0.01
        return ([(prop["maximum"], prop["maximum"] + step)] if "maximum" in prop else []) + \
               ([(prop["minimum"], prop["minimum"] - step)] if "minimum" in prop else [])
    if prop.get("type") == "string" and "maxLength" in prop and "x-image" not in prop:
        return [("光" * prop["maxLength"], "光" * (prop["maxLength"] + 1))]
    return []


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_published_bounds_are_the_enforced_ones(name: str) -> None:
    contract = CONTRACTS[name]
    assert contract is not None
    base = {"input.ref_prompt": "纯白背景", "input.title": "标题"} if name == "wanx-background-generation-v2" else {}
    checked = 0
    for part in ("input", "parameters"):
        for field, prop in contract.get(part, {}).get("properties", {}).items():
            for accepted, refused in bounds(prop):
                where = f"{part}.{field}"
                check(name, request_from(contract, name, {**base, where: accepted}))
                with pytest.raises((EaselError, RelightError)):
                    check(name, request_from(contract, name, {**base, where: refused}))
                checked += 1
    if name != "wanx-style-repaint-v1":  # its only number is the style_index enum
        assert checked, f"{name} publishes no bounds"


def test_function_masks_and_parameters_follow_the_seed() -> None:
    functions = CONTRACTS["wanx2.1-imageedit"]["functions"]  # type: ignore[index]
    assert [f for f, info in functions.items() if info["needs_mask"]] == ["description_edit_with_mask"]
    assert functions["expand"]["parameters"][-4:] == ["top_scale", "bottom_scale", "left_scale", "right_scale"]
    mask = CONTRACTS["relight"]["input"]["properties"]["mask"]["x-mask"]  # type: ignore[index]
    assert mask["paint"] == [255, 255, 255] and mask["background"] == [0, 0, 0]
