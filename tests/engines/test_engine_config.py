"""engines.toml parsing, backend resolution, capability answers and the model manager's budget."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import ClassVar

import pytest
from PIL import Image

from easel.catalog.registry import MODELS, model_listing
from easel.engines import registry
from easel.engines.base import Backend, EngineContext, EngineRequest, EngineTask, NullContext
from easel.engines.config import (
    BackendConfig,
    EnginesConfig,
    EnginesConfigError,
    load_engines_config,
    parse_engines_config,
    weights_path,
)
from easel.engines.manager import Engines
from easel.errors import EngineUnavailable


def engines_from(text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **shortcuts: str | None) -> Engines:
    path = tmp_path / "engines.toml"
    path.write_text(text)
    monkeypatch.setenv("EASEL_ENGINES", str(path))
    return Engines(load_engines_config(tmp_path, **shortcuts))  # type: ignore[arg-type]


def test_no_file_serves_the_cpu_engines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EASEL_ENGINES", raising=False)
    engines = Engines(load_engines_config(tmp_path))
    assert engines.backend(EngineTask.UPSCALE).name == "realesrgan"  # type: ignore[union-attr]
    assert engines.backend(EngineTask.ERASE).name == "coherence"  # type: ignore[union-attr]
    assert engines.problem(EngineTask.STYLIZE) is None
    for task in (EngineTask.FILL, EngineTask.INSTRUCT_EDIT):
        problem = engines.problem(task)
        assert problem and f"[{task.value}]" in problem and "generative" in problem


def test_shortcuts_still_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EASEL_ENGINES", raising=False)
    engines = Engines(load_engines_config(tmp_path, "animevideov3", str(tmp_path / "lama.onnx")))
    assert "animevideov3" in engines.describe(EngineTask.UPSCALE)
    problem = engines.problem(EngineTask.ERASE)
    assert problem and "EASEL_INPAINT_ONNX" in problem and "lama.onnx" in problem


@pytest.mark.parametrize(("text", "words"), [
    ("[fill\n", ["not valid TOML"]),
    ("[paint]\nbackend = 'flux-fill'\n", ["[paint]", "not an engine task"]),
    ("[fill]\nweights = '/x'\n", ["[fill]", "backend", "required"]),
    ("[fill]\nbackend = 'flux-fill'\ndevice = 'tpu'\n", ["device"]),
    ("[fill]\nbackend = 'flux-fill'\nstep = 3\n", ["step", "xtra"]),
    ("memory_budget_gb = -1\n", ["memory_budget_gb"]),
])
def test_bad_files_name_the_problem(text: str, words: list[str], tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(EnginesConfigError) as err:
        engines_from(text, tmp_path, monkeypatch)
    for word in words:
        assert word in str(err.value)


def test_unknown_or_unfit_backend_is_unavailable_with_the_reason(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    engines = engines_from("[fill]\nbackend = 'dalle'\n[instruct_edit]\nbackend = 'realesrgan'\n", tmp_path,
                           monkeypatch)
    assert "unknown backend 'dalle'" in (engines.problem(EngineTask.FILL) or "")
    assert "does not do instruct_edit" in (engines.problem(EngineTask.INSTRUCT_EDIT) or "")
    # a broken [fill] does not hand erase to a missing model: the CPU eraser still serves removals
    assert engines.backend(EngineTask.ERASE).name == "coherence"  # type: ignore[union-attr]


def test_a_fill_backend_also_erases_and_outpaints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    weights = tmp_path / "pipe"
    weights.mkdir()
    subs = ("transformer", "vae", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "scheduler")
    index = {"_class_name": "FluxFillPipeline", **{sub: ["diffusers", "X"] for sub in subs}}
    (weights / "model_index.json").write_text(json.dumps(index))
    for sub in subs:
        (weights / sub).mkdir()
    engines = engines_from(f"[fill]\nbackend = 'flux-fill'\nweights = '{weights}'\n", tmp_path, monkeypatch)
    fill = engines.backend(EngineTask.FILL)
    if engines.problem(EngineTask.FILL):
        pytest.fail(engines.problem(EngineTask.FILL))
    assert engines.backend(EngineTask.ERASE) is fill and engines.backend(EngineTask.OUTPAINT) is fill
    assert engines.generative(EngineTask.ERASE)
    assert engines.backend(EngineTask.STYLIZE).name == "neural-style"  # type: ignore[union-attr]


def test_missing_weights_are_named_at_create_and_in_the_listing(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    engines = engines_from("[instruct_edit]\nbackend = 'flux2-klein'\nweights = '/models/nowhere'\n", tmp_path,
                           monkeypatch)
    listing = model_listing(engines)
    assert "/models/nowhere" in listing["engines"]["instruct_edit"]
    edit = next(m for m in listing["data"] if m["model"] == "wanx2.1-imageedit")
    assert edit["functions"]["description_edit"].startswith("not available") and "/models/nowhere" in \
        edit["functions"]["description_edit"]
    valid = MODELS["wanx2.1-imageedit"].validate({"input": {"function": "description_edit", "prompt": "加一顶帽子",
                                                            "base_image_url": "https://example.com/a.png"}})
    gap = MODELS["wanx2.1-imageedit"].capability_gap(valid, engines)
    assert gap is not None and gap.code == "EngineUnavailable" and "/models/nowhere" in gap.message


def test_hub_ids_resolve_under_the_models_dir(tmp_path: Path) -> None:
    assert weights_path("black-forest-labs/FLUX.2-klein", tmp_path) == tmp_path / "black-forest-labs/FLUX.2-klein"
    assert weights_path("/models/x", tmp_path) == Path("/models/x")


class _Counting(Backend):
    """A stand-in with a known size, to watch the manager load and evict."""

    name = "counting"
    tasks: ClassVar[frozenset[EngineTask]] = frozenset({EngineTask.FILL, EngineTask.INSTRUCT_EDIT})
    generative = True
    loads: ClassVar[list[str]] = []
    unloads: ClassVar[list[str]] = []

    def load(self) -> None:
        self.loads.append(self.config.weights or "")

    def unload(self) -> None:
        self.unloads.append(self.config.weights or "")

    def memory_bytes(self) -> int:
        return 600 * 1024**2

    def run(self, task: EngineTask, request: EngineRequest, ctx: EngineContext) -> list[Image.Image]:
        return [request.image] * request.n


def test_manager_loads_once_and_evicts_least_recently_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.BACKENDS, "counting", (__name__, "_Counting"))
    _Counting.loads.clear()
    _Counting.unloads.clear()
    config = EnginesConfig(tables={EngineTask.FILL: BackendConfig(backend="counting", weights="a"),
                                   EngineTask.INSTRUCT_EDIT: BackendConfig(backend="counting", weights="b")},
                           memory_budget_gb=1.0)
    engines = Engines(config)
    request = EngineRequest(image=Image.new("RGB", (8, 8)))
    threads = [threading.Thread(target=engines.run, args=(EngineTask.FILL, request, NullContext())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert _Counting.loads == ["a"], "concurrent first uses load one copy"
    engines.run(EngineTask.INSTRUCT_EDIT, request, NullContext())
    assert _Counting.unloads == ["a"], "two 600 MB backends do not fit 1 GB: the older one is unloaded"
    engines.run(EngineTask.FILL, request, NullContext())
    assert _Counting.loads == ["a", "b", "a"] and _Counting.unloads == ["a", "b"]


def test_load_failure_is_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken(_Counting):
        def load(self) -> None:
            raise EngineUnavailable("/models/x is not a diffusers folder.")

    monkeypatch.setitem(registry.BACKENDS, "broken", (__name__, "_Broken"))
    monkeypatch.setattr(sys.modules[__name__], "_Broken", Broken, raising=False)
    engines = Engines(EnginesConfig(tables={EngineTask.FILL: BackendConfig(backend="broken", weights="x")}))
    assert engines.problem(EngineTask.FILL) is None
    with pytest.raises(EngineUnavailable):
        engines.run(EngineTask.FILL, EngineRequest(image=Image.new("RGB", (8, 8))), NullContext())
    assert "/models/x is not a diffusers folder" in (engines.problem(EngineTask.FILL) or "")


def test_easel_models_reads_the_same_file(tmp_path: Path) -> None:
    path = tmp_path / "engines.toml"
    path.write_text("[fill]\nbackend = 'sdxl-inpaint'\nweights = '/models/sdxl-missing'\n")
    env = {"EASEL_HOME": str(tmp_path), "EASEL_ENGINES": str(path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "easel", "models"], env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert "/models/sdxl-missing" in out.stdout


def test_parse_defaults() -> None:
    config = parse_engines_config({"fill": {"backend": "flux-fill", "weights": "/w", "device": "cuda:1"}}, None,
                                  Path("/h"))
    table = config.table(EngineTask.FILL)
    assert table is not None and table.torch_dtype_name == "bfloat16" and table.max_batch == 1


def test_remove_watermark_uses_the_configured_eraser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """It used to call the classical inpainter directly, ignoring EASEL_INPAINT_ONNX."""
    monkeypatch.delenv("EASEL_ENGINES", raising=False)
    engines = Engines(load_engines_config(tmp_path, inpaint_onnx=str(tmp_path / "lama.onnx")))
    model = MODELS["wanx2.1-imageedit"]
    valid = model.validate({"input": {"function": "remove_watermark", "prompt": "去除水印",
                                      "base_image_url": "https://example.com/a.png"}})
    gap = model.capability_gap(valid, engines)
    assert gap is not None and "EASEL_INPAINT_ONNX" in gap.message
