"""docs/docker-compose.yml is documentation (no Docker engine here), so this checks that it says what Easel
does: it parses, every command is one the CLI accepts, the lanes exist, every EASEL_* setting is one Easel
reads, the GPU worker's engines.toml is valid, and the image installs extras that exist."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import pytest
import yaml

from easel.cli import _parser
from easel.engines.config import parse_engines_config
from easel.queue.lanes import LANES
from tests.conftest import ROOT

DOCS = ROOT / "docs"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DOCS / "docker-compose.yml").read_text())


def easel_services(compose: dict) -> dict[str, dict]:
    return {name: svc for name, svc in compose["services"].items() if str(svc.get("command", "")).startswith("easel")}


def test_the_layout_has_api_nodes_workers_and_a_migration(compose: dict) -> None:
    services = easel_services(compose)
    commands = {name: shlex.split(svc["command"]) for name, svc in services.items()}
    assert commands["migrate"] == ["easel", "migrate"]
    assert commands["api"][:2] == ["easel", "serve"] and commands["api"][-2:] == ["--workers", "0"]
    assert {"worker-cpu", "worker-gpu"} <= {n for n, c in commands.items() if c[1] == "worker"}
    assert {"postgres", "minio"} <= set(compose["services"])


def test_every_command_is_one_the_cli_accepts(compose: dict) -> None:
    parser = _parser()
    for name, svc in easel_services(compose).items():
        args = parser.parse_args(shlex.split(svc["command"])[1:])  # exits (fails the test) on a bad flag
        lanes = getattr(args, "lanes", None)
        if lanes:
            assert set(str(lanes).split(",")) <= set(LANES), (name, lanes)


def test_every_setting_is_one_easel_reads(compose: dict) -> None:
    source = "".join(path.read_text() for path in (ROOT / "easel").rglob("*.py"))
    for name, svc in easel_services(compose).items():
        for variable in svc["environment"]:
            if variable.startswith("EASEL_"):
                assert f'"{variable}"' in source, f"{name}: {variable} is not a setting Easel reads"
    shared = [svc["environment"] for svc in easel_services(compose).values()]
    assert all(env["EASEL_SECRET"] == shared[0]["EASEL_SECRET"] for env in shared), "one secret for every node"
    assert all(env["EASEL_DATABASE_URL"].startswith("postgresql") for env in shared)


def test_the_gpu_engines_file_is_valid(compose: dict, tmp_path: Path) -> None:
    mounted = [v for v in compose["services"]["worker-gpu"]["volumes"] if str(v).endswith("engines.toml:ro")]
    (source,) = [DOCS / str(v).split(":")[0].removeprefix("./") for v in mounted]
    config = parse_engines_config(tomllib.loads(source.read_text()), source, tmp_path)
    assert {task.value for task in config.tables} == {"instruct_edit", "fill"}
    assert all(table.device == "cuda" for table in config.tables.values())


def test_the_image_installs_extras_that_exist() -> None:
    dockerfile = (DOCS / "Dockerfile").read_text()
    extras = re.search(r"pip install [^\n]*'\.\[([a-z0-9,]+)\]'", dockerfile)
    assert extras, "the Dockerfile installs the project with extras"
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert set(extras.group(1).split(",")) <= set(declared)
