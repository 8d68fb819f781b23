"""reference_to_image backends on tiny random weights saved as real files: qwen-image-edit-plus (multi-image
input) and sdxl-ip-adapter (SDXL base + IP-Adapter + CLIP image encoder)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from easel.engines.base import EngineRequest, EngineTask, NullContext, TaskCanceled
from easel.engines.config import BackendConfig, parse_engines_config
from easel.engines.diffusion.common import DiffusionBackend, fit_area
from easel.engines.diffusion.sdxl_ip_adapter import SdxlIpAdapter
from easel.engines.manager import Engines
from easel.engines.registry import backend_class
from easel.errors import EngineUnavailable, InvalidParameter
from tests.engines.diffusion import tiny_models, tiny_reference
from tests.engines.diffusion.test_backends import Canceling, CountingPipe

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REF = EngineTask.REFERENCE_TO_IMAGE
AREA = 64 * 64
BACKENDS = ["qwen-image-edit-plus", "sdxl-ip-adapter"]
SCENE = "卡通形象小心翼翼地探出头"


@pytest.fixture(scope="session")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tiny-reference")


def config(name: str, root: Path, **overrides: Any) -> BackendConfig:
    if name == "sdxl-ip-adapter":
        overrides.setdefault("weights", str(tiny_reference.sdxl_base(root)))
        overrides.setdefault("ip_adapter", str(tiny_reference.ip_adapter(root)))
        overrides.setdefault("image_encoder", str(tiny_reference.image_encoder(root)))
    else:
        overrides.setdefault("weights", str(tiny_models.build(name, root)))
    return BackendConfig(backend=name, max_area=AREA, steps=2, **overrides)


def make(name: str, root: Path, **overrides: Any) -> DiffusionBackend:
    backend = backend_class(name)(config(name, root, **overrides))
    assert isinstance(backend, DiffusionBackend)
    return backend


_loaded: dict[str, DiffusionBackend] = {}


@pytest.fixture
def loaded(root: Path) -> Any:
    def get(name: str) -> DiffusionBackend:
        if name not in _loaded:
            _loaded[name] = make(name, root)
            _loaded[name].load()
        return _loaded[name]

    return get


def character(kind: int) -> Image.Image:
    """Two different "characters": a noise field, or bands of colour, 96x64."""
    if kind == 0:
        pixels = np.random.default_rng(3).random((64, 96, 3)) * 255
    else:
        pixels = np.zeros((64, 96, 3))
        pixels[:, :48] = (250, 40, 40)
        pixels[:, 48:] = (30, 60, 240)
    return Image.fromarray(pixels.astype(np.uint8))


def ask(image: Image.Image, **fields: Any) -> EngineRequest:
    return EngineRequest(image=image, prompt=SCENE, **fields)


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def differ(a: Image.Image, b: Image.Image) -> float:
    return float(np.abs(pixels(a) - pixels(b)).mean())


# --- both backends -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", BACKENDS)
def test_the_reference_changes_the_picture(name: str, loaded: Any) -> None:
    backend = loaded(name)
    first = backend.run(REF, ask(character(0), seed=4), NullContext())[0]
    again = backend.run(REF, ask(character(0), seed=4), NullContext())[0]
    other = backend.run(REF, ask(character(1), seed=4), NullContext())[0]
    assert differ(first, again) == 0.0  # the same seed repeats
    # same seed and prompt, another character: another picture (tiny random weights move it only a little)
    assert differ(first, other) > 0.0


@pytest.mark.parametrize("name", BACKENDS)
def test_n_distinct_images_at_the_characters_aspect(name: str, loaded: Any) -> None:
    backend = loaded(name)
    images = backend.run(REF, ask(character(0), n=2, seed=9), NullContext())
    work = fit_area((96, 64), AREA, backend._multiple(), backend.min_side)
    assert len(images) == 2 and all(i.mode == "RGB" and i.size == work for i in images)
    assert work[0] > work[1]  # landscape, like the character image
    assert differ(images[0], images[1]) > 1.0
    second = backend.run(REF, ask(character(0), seed=10), NullContext())[0]
    assert np.abs(pixels(images[1]) - pixels(second)).max() <= 2  # image i is seed + i


@pytest.mark.parametrize("name", BACKENDS)
def test_requested_size_is_generated_at_its_aspect(name: str, loaded: Any) -> None:
    backend = loaded(name)
    backend.pipe = spy = CountingPipe(backend.pipe)
    try:
        image = backend.run(REF, ask(character(0), size=(60, 120)), NullContext())[0]
    finally:
        backend.pipe = spy.pipe
    assert image.size == (60, 120)
    width, height = spy.calls[0]["width"], spy.calls[0]["height"]
    assert height > width  # generated portrait, not the landscape character squeezed


@pytest.mark.parametrize("name", BACKENDS)
def test_more_references_steer_too(name: str, loaded: Any) -> None:
    backend = loaded(name)
    alone = backend.run(REF, ask(character(0), seed=2), NullContext())[0]
    backend.pipe = spy = CountingPipe(backend.pipe)
    try:
        both = backend.run(REF, ask(character(0), seed=2, params={"references": [character(1)]}), NullContext())[0]
    finally:
        backend.pipe = spy.pipe
    assert differ(alone, both) > 0.0
    images = spy.calls[0]["image"] if name == "qwen-image-edit-plus" else spy.calls[0]["ip_adapter_image"][0]
    assert len(images) == 2


@pytest.mark.parametrize("name", BACKENDS)
def test_progress_and_cancel(name: str, loaded: Any) -> None:
    backend = loaded(name)
    ctx = NullContext()
    backend.run(REF, ask(character(0), steps=3), ctx)
    done = [d for d, _ in ctx.steps]
    assert done == list(range(1, len(done) + 1)) and len(done) >= 2
    canceling = Canceling(at=1)
    with pytest.raises(TaskCanceled):
        backend.run(REF, ask(character(0), steps=3), canceling)
    assert [d for d, _ in canceling.steps] == [1]


def test_references_must_be_images(loaded: Any) -> None:
    with pytest.raises(InvalidParameter, match="references"):
        loaded("sdxl-ip-adapter").run(REF, ask(character(0), params={"references": ["http://x/a.png"]}),
                                      NullContext())


# --- qwen-image-edit-plus -------------------------------------------------------------------------------------


def test_qwen_plus_prompt_names_the_character_picture(loaded: Any) -> None:
    backend = loaded("qwen-image-edit-plus")
    backend.pipe = spy = CountingPipe(backend.pipe)
    try:
        backend.run(REF, ask(character(0)), NullContext())
        backend.run(REF, ask(character(0), params={"references": [character(1).resize((40, 80))]}), NullContext())
    finally:
        backend.pipe = spy.pipe
    one, two = spy.calls
    assert "Picture 1" in one["prompt"] and SCENE in one["prompt"] and "Picture 2" not in one["prompt"]
    assert "Picture 2" in two["prompt"]
    # each image keeps its own aspect in the work area
    character_size, reference_size = (image.size for image in two["image"])
    assert character_size[0] > character_size[1] and reference_size[1] > reference_size[0]


def test_qwen_plus_edits_refuse_references(root: Path) -> None:
    backend = make("qwen-image-edit-plus", root)
    request = EngineRequest(image=character(0), prompt="x", params={"references": [character(1)]})
    assert "reference_to_image" in (backend.refuses(EngineTask.INSTRUCT_EDIT, request) or "")
    assert backend.refuses(REF, request) is None


def test_qwen_plus_edits_keep_the_input_size(loaded: Any) -> None:
    image = loaded("qwen-image-edit-plus").run(EngineTask.INSTRUCT_EDIT, ask(character(0)), NullContext())[0]
    assert image.size == (96, 64)


def test_backends_without_references_refuse_them(root: Path) -> None:
    backend = make("qwen-image-edit", root)
    request = EngineRequest(image=character(0), prompt="x", params={"references": [character(1)]})
    assert "reference images" in (backend.refuses(EngineTask.INSTRUCT_EDIT, request) or "")


# --- sdxl-ip-adapter ------------------------------------------------------------------------------------------


def test_reference_weight_scales_the_adapter(loaded: Any) -> None:
    backend = loaded("sdxl-ip-adapter")

    def run(kind: int, weight: float) -> Image.Image:
        return backend.run(REF, ask(character(kind), seed=1, params={"reference_weight": weight}), NullContext())[0]

    # at weight 0 the adapter adds nothing, so the character cannot matter; at 1 it does
    assert differ(run(0, 0.0), run(1, 0.0)) == 0.0
    assert differ(run(0, 1.0), run(1, 1.0)) > 1.0
    assert differ(run(0, 1.0), run(0, 0.5)) > 0.0
    with pytest.raises(InvalidParameter, match="reference_weight"):
        run(0, 1.5)


def test_bin_adapter_and_adapter_folder_load_the_same_weights(root: Path, loaded: Any) -> None:
    bin_file = tiny_reference.ip_adapter(root, name="ip-adapter_tiny.bin")
    folder = root / "adapter-folder"
    (folder / "image_encoder").mkdir(parents=True, exist_ok=True)
    shutil.copy(bin_file, folder / "ip-adapter_tiny.bin")
    shutil.copytree(tiny_reference.image_encoder(root), folder / "image_encoder", dirs_exist_ok=True)
    # a folder with its one weights file and the encoder beside it, as h94/IP-Adapter lays them out
    backend = make("sdxl-ip-adapter", root, ip_adapter=str(folder), image_encoder=None)
    assert backend.check() is None
    backend.load()
    image = backend.run(REF, ask(character(0), seed=6), NullContext())[0]
    reference = loaded("sdxl-ip-adapter").run(REF, ask(character(0), seed=6), NullContext())[0]
    assert differ(image, reference) == 0.0


def test_a_path_inside_a_pulled_repo_resolves_under_the_models_dir(root: Path) -> None:
    models = root / "models"
    inside = models / "h94" / "IP-Adapter" / "sdxl_models"
    inside.mkdir(parents=True, exist_ok=True)
    shutil.copy(tiny_reference.ip_adapter(root), inside / "ip-adapter_sdxl.safetensors")
    shutil.copytree(tiny_reference.image_encoder(root), inside / "image_encoder", dirs_exist_ok=True)
    table = config("sdxl-ip-adapter", root, ip_adapter="h94/IP-Adapter/sdxl_models/ip-adapter_sdxl.safetensors",
                   image_encoder=None)
    backend = SdxlIpAdapter(table, models_dir=models)
    assert backend.adapter_file() == (inside / "ip-adapter_sdxl.safetensors", None)
    assert backend.encoder_path(inside / "ip-adapter_sdxl.safetensors") == inside / "image_encoder"
    assert backend.check() is None


def test_adapter_scale_comes_from_extra(root: Path) -> None:
    backend = make("sdxl-ip-adapter", root, extra={"ip_adapter_scale": 0.8})
    assert isinstance(backend, SdxlIpAdapter)
    assert backend.scale(None) == pytest.approx(0.8) and backend.scale(0.5) == pytest.approx(0.4)
    assert make("sdxl-ip-adapter", root).scale(None) == pytest.approx(0.6)
    reason = make("sdxl-ip-adapter", root, extra={"ip_adapter_scale": 3}).check()
    assert reason is not None and "ip_adapter_scale" in reason


def _check(root: Path, **overrides: Any) -> str:
    reason = make("sdxl-ip-adapter", root, **overrides).check()
    assert reason is not None
    return reason


def test_check_names_missing_adapter_and_encoder(root: Path) -> None:
    assert "ip_adapter" in _check(root, ip_adapter=None)
    missing = root / "nowhere" / "ip-adapter_sdxl.safetensors"
    assert str(missing) in _check(root, ip_adapter=str(missing))
    lone = root / "lone"
    lone.mkdir(exist_ok=True)
    shutil.copy(tiny_reference.ip_adapter(root), lone / "a.safetensors")
    reason = _check(root, ip_adapter=str(lone), image_encoder=None)
    assert "image_encoder" in reason and str(lone / "image_encoder") in reason
    assert str(root / "no-encoder") in _check(root, image_encoder=str(root / "no-encoder"))


def test_check_asks_which_file_of_a_folder(root: Path) -> None:
    two = root / "two-adapters"
    two.mkdir(exist_ok=True)
    for name in ("a.safetensors", "b.safetensors"):
        shutil.copy(tiny_reference.ip_adapter(root), two / name)
    assert "extra.ip_adapter_file" in _check(root, ip_adapter=str(two))
    chosen = make("sdxl-ip-adapter", root, ip_adapter=str(two), extra={"ip_adapter_file": "b.safetensors"})
    assert chosen.check() is None
    assert "c.safetensors" in _check(root, ip_adapter=str(two), extra={"ip_adapter_file": "c.safetensors"})


def test_check_refuses_a_file_that_is_not_an_ip_adapter(root: Path) -> None:
    path = tiny_reference.not_an_adapter(root)
    reason = _check(root, ip_adapter=str(path))
    assert "not an IP-Adapter" in reason and str(path) in reason
    garbage = root / "garbage.safetensors"
    garbage.write_bytes(b"\xff" * 64)
    assert "cannot be read" in _check(root, ip_adapter=str(garbage))


def test_check_refuses_an_encoder_that_does_not_fit(root: Path) -> None:
    wrong = tiny_reference.image_encoder(root, projection_dim=16)
    reason = _check(root, image_encoder=str(wrong))
    assert "projection_dim 16" in reason and "32" in reason and str(wrong) in reason
    text_encoder = tiny_reference.sdxl_base(root) / "text_encoder"
    assert "CLIPVisionModelWithProjection" in _check(root, image_encoder=str(text_encoder))


def test_check_refuses_an_adapter_for_another_unet(root: Path) -> None:
    other = root / "other-unet"
    if not other.exists():
        shutil.copytree(tiny_reference.sdxl_base(root), other)
        config_file = other / "unet" / "config.json"
        unet = json.loads(config_file.read_text())
        unet["cross_attention_dim"] = 128
        config_file.write_text(json.dumps(unet))
    assert "cross-attention dim 64" in _check(root, weights=str(other))


def test_truncated_adapter_fails_load_naming_it(root: Path) -> None:
    cut = root / "cut.safetensors"
    data = tiny_reference.ip_adapter(root).read_bytes()
    cut.write_bytes(data[: len(data) - 200])
    backend = make("sdxl-ip-adapter", root, ip_adapter=str(cut))
    assert backend.check() is None  # the header is whole; the tensors are not
    with pytest.raises(EngineUnavailable, match="sdxl-ip-adapter"):
        backend.load()


def test_engines_resolve_reference_to_image(root: Path, tmp_path: Path) -> None:
    plus = tiny_models.build("qwen-image-edit-plus", root)
    derived = Engines(parse_engines_config(
        {"instruct_edit": {"backend": "qwen-image-edit-plus", "weights": str(plus)}}, None, tmp_path))
    assert derived.problem(REF) is None and derived.backend(REF) is derived.backend(EngineTask.INSTRUCT_EDIT)
    none = Engines(parse_engines_config({}, None, tmp_path))
    problem = none.problem(REF) or ""
    assert "[reference_to_image]" in problem and "sdxl-ip-adapter" in problem and "qwen-image-edit-plus" in problem
    table = config("sdxl-ip-adapter", root).model_dump(exclude_none=True)
    explicit = Engines(parse_engines_config({"reference_to_image": table}, None, tmp_path))
    assert explicit.problem(REF) is None and explicit.backend(REF).name == "sdxl-ip-adapter"
