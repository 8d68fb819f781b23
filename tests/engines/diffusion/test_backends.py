"""The diffusers backends on tiny random-weight pipelines saved as real folders (see tiny_models)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from easel.engines.base import EngineRequest, EngineTask, NullContext, TaskCanceled
from easel.engines.config import BackendConfig
from easel.engines.diffusion.common import ERASE_NEGATIVE, ERASE_PROMPT, DiffusionBackend, fit_area
from easel.engines.registry import backend_class
from easel.errors import EngineUnavailable
from tests.engines.diffusion import tiny_models

os.environ.setdefault("HF_HUB_OFFLINE", "1")

EDIT = ["flux2-klein", "qwen-image-edit", "qwen-image-edit-plus"]
FILL = ["flux2-klein-inpaint", "qwen-image-edit-inpaint", "flux-fill", "sdxl-inpaint"]
ALL = EDIT + FILL
AREA = 64 * 64


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tiny-diffusers")


def make(name: str, root: Path, **overrides: Any) -> DiffusionBackend:
    weights = overrides.pop("weights", None) or str(tiny_models.build(name, root))
    config = BackendConfig(backend=name, weights=weights, max_area=AREA, steps=2, **overrides)
    backend = backend_class(name)(config)
    assert isinstance(backend, DiffusionBackend)
    return backend


_loaded: dict[str, DiffusionBackend] = {}


@pytest.fixture
def loaded(tiny_root: Path) -> Any:
    """A loaded backend per name, shared by the tests (loading is most of a tiny run's cost)."""

    def get(name: str) -> DiffusionBackend:
        if name not in _loaded:
            _loaded[name] = make(name, tiny_root)
            _loaded[name].load()
        return _loaded[name]

    return get


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    rng = np.random.default_rng(1)
    base = np.linspace(0, 255, 512, dtype=np.float32)
    pixels = np.stack([np.add.outer(base, base) / 2, np.tile(base, (512, 1)), rng.random((512, 512)) * 255], -1)
    return Image.fromarray(pixels.astype(np.uint8))


@pytest.fixture(scope="module")
def hole() -> np.ndarray:
    mask = np.zeros((512, 512), dtype=bool)
    mask[120:330, 160:400] = True
    return mask


def task_of(name: str) -> EngineTask:
    return EngineTask.FILL if name in FILL else EngineTask.INSTRUCT_EDIT


def request(name: str, photo: Image.Image, hole: np.ndarray, **fields: Any) -> EngineRequest:
    return EngineRequest(image=photo, prompt="a red apple on a table", mask=hole if name in FILL else None, **fields)


class Canceling(NullContext):
    def __init__(self, at: int) -> None:
        super().__init__()
        self.at = at

    def progress(self, done: int, total: int) -> None:
        super().progress(done, total)
        if done >= self.at:
            raise TaskCanceled()


class CountingPipe:
    """Stands in for a pipeline: counts calls, keeps their arguments and output sizes."""

    def __init__(self, pipe: Any) -> None:
        self.pipe = pipe
        self.calls: list[dict[str, Any]] = []
        self.sizes: list[tuple[int, int]] = []

    def __call__(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        out = self.pipe(**kwargs)
        self.sizes.extend(image.size for image in out.images)
        return out

    def __getattr__(self, item: str) -> Any:
        return getattr(self.pipe, item)


# --- every backend -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_run_returns_n_distinct_images(name: str, loaded: Any, photo: Image.Image, hole: np.ndarray) -> None:
    size = None if name in FILL else (96, 80)
    images = loaded(name).run(task_of(name), request(name, photo, hole, n=2, seed=5, size=size), NullContext())
    assert len(images) == 2
    assert all(image.mode == "RGB" and image.size == (size or photo.size) for image in images)
    first, second = (np.asarray(image) for image in images)
    assert (first != second).any()
    if name in FILL:
        original = np.asarray(photo)
        for result in (first, second):
            assert np.array_equal(result[~hole], original[~hole])
            assert (result[hole] != original[hole]).any()


@pytest.mark.parametrize("name", ALL)
def test_same_seed_same_image(name: str, loaded: Any, photo: Image.Image, hole: np.ndarray) -> None:
    backend = loaded(name)
    pair = backend.run(task_of(name), request(name, photo, hole, n=2, seed=11), NullContext())
    alone = backend.run(task_of(name), request(name, photo, hole, seed=11), NullContext())[0]
    # the first image of a request is its seed's image, whatever n is (up to batched float rounding)
    assert np.abs(np.asarray(pair[0], np.int16) - np.asarray(alone, np.int16)).max() <= 2


@pytest.mark.parametrize("name", ["flux-fill", "qwen-image-edit-plus"])
def test_image_i_is_seed_plus_i(name: str, loaded: Any, photo: Image.Image, hole: np.ndarray) -> None:
    # not true of qwen-image-edit-inpaint, whose pipeline samples the VAE with the first generator only
    backend = loaded(name)
    pair = backend.run(task_of(name), request(name, photo, hole, n=2, seed=11), NullContext())
    second = backend.run(task_of(name), request(name, photo, hole, seed=12), NullContext())[0]
    assert np.abs(np.asarray(pair[1], np.int16) - np.asarray(second, np.int16)).max() <= 2


@pytest.mark.parametrize("name", ALL)
def test_progress_counts_up_and_cancel_stops(name: str, loaded: Any, photo: Image.Image, hole: np.ndarray) -> None:
    backend = loaded(name)
    ctx = NullContext()
    backend.run(task_of(name), request(name, photo, hole, steps=3), ctx)
    done = [d for d, _ in ctx.steps]
    assert done == list(range(1, len(done) + 1)) and len(done) >= 2
    assert {total for _, total in ctx.steps} == {done[-1]}
    canceling = Canceling(at=1)
    with pytest.raises(TaskCanceled):
        backend.run(task_of(name), request(name, photo, hole, steps=3), canceling)
    assert [d for d, _ in canceling.steps] == [1]


@pytest.mark.parametrize("name", ALL)
def test_truncated_weights_fail_load_naming_the_path(name: str, tiny_root: Path) -> None:
    folder = tiny_models.broken("truncated", name, tiny_root)
    backend = make(name, tiny_root, weights=str(folder))
    assert backend.check() is None  # judged from the files' presence only
    with pytest.raises(EngineUnavailable) as caught:
        backend.load()
    assert str(folder) in caught.value.message and name in caught.value.message
    assert backend.memory_bytes() == 0


@pytest.mark.parametrize("name", ["sdxl-inpaint", "qwen-image-edit"])
def test_weights_of_another_size_fail_load(name: str, tiny_root: Path) -> None:
    folder = tiny_models.broken("shape", name, tiny_root)
    with pytest.raises(EngineUnavailable, match="expected shape") as caught:
        make(name, tiny_root, weights=str(folder)).load()
    assert str(folder) in caught.value.message


@pytest.mark.parametrize("name", ["flux-fill", "qwen-image-edit-plus"])
def test_missing_component_is_reported_by_check(name: str, tiny_root: Path) -> None:
    folder = tiny_models.broken("missing", name, tiny_root)
    backend = make(name, tiny_root, weights=str(folder))
    reason = backend.check()
    assert reason is not None and str(folder) in reason and "transformer" in reason
    with pytest.raises(EngineUnavailable, match="transformer"):
        backend.load()


def test_hub_ids_resolve_under_the_models_dir(tiny_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = BackendConfig(backend="flux-fill", weights="black-forest-labs/FLUX.1-Fill-dev")
    given = backend_class("flux-fill")(config, models_dir=tiny_root)
    assert given.path == tiny_root / "black-forest-labs/FLUX.1-Fill-dev"
    assert "easel pull black-forest-labs/FLUX.1-Fill-dev" in (given.check() or "")
    monkeypatch.setattr(DiffusionBackend, "default_models_dir", tiny_root / "home")
    assert backend_class("flux-fill")(config).path == tiny_root / "home/black-forest-labs/FLUX.1-Fill-dev"


def test_check_without_weights_or_folder(tiny_root: Path) -> None:
    unset = backend_class("flux-fill")(BackendConfig(backend="flux-fill"))
    assert "no weights configured" in (unset.check() or "")
    gone = tiny_root / "nowhere"
    reason = make("flux-fill", tiny_root, weights=str(gone)).check()
    assert reason is not None and str(gone) in reason and "does not exist" in reason
    with pytest.raises(EngineUnavailable, match="does not exist"):
        make("flux-fill", tiny_root, weights=str(gone)).load()


@pytest.mark.parametrize(("name", "other"), [("sdxl-inpaint", "flux-fill"), ("qwen-image-edit-plus", "qwen-image-edit"),
                                             ("flux-fill", "flux2-klein-inpaint")])
def test_wrong_architecture_is_reported_by_check(name: str, other: str, tiny_root: Path) -> None:
    folder = tiny_models.build(other, tiny_root)
    reason = make(name, tiny_root, weights=str(folder)).check()
    assert reason is not None and str(folder) in reason and tiny_models.PIPELINES[other] in reason


@pytest.mark.parametrize(("name", "released"), [("flux2-klein-inpaint", "flux2-klein"),
                                                ("qwen-image-edit-inpaint", "qwen-image-edit")])
def test_released_edit_folders_serve_the_inpaint_backends(name: str, released: str, tiny_root: Path,
                                                          photo: Image.Image, hole: np.ndarray) -> None:
    backend = make(name, tiny_root, weights=str(tiny_models.build(released, tiny_root)))
    assert backend.check() is None
    [image] = backend.run(EngineTask.FILL, request(name, photo, hole), NullContext())
    assert np.array_equal(np.asarray(image)[~hole], np.asarray(photo)[~hole])


def test_unreadable_qwen_processor_fails_load(tiny_root: Path) -> None:
    folder = tiny_root / "qwen-no-tokenizer"
    if not folder.exists():
        import shutil

        shutil.copytree(tiny_models.build("qwen-image-edit", tiny_root), folder)
        for file in (folder / "processor").glob("tokenizer*"):
            file.unlink()
    with pytest.raises(EngineUnavailable) as caught:
        make("qwen-image-edit", tiny_root, weights=str(folder)).load()
    assert str(folder) in caught.value.message


# --- the masked tasks ----------------------------------------------------------------------------------------


def test_outpaint_pads_the_canvas_and_keeps_the_original(loaded: Any, photo: Image.Image) -> None:
    scales = (1.0, 1.25, 1.25, 1.25)  # top, bottom, left, right
    req = EngineRequest(image=photo, prompt="a wide landscape", params={"scales": scales})
    [image] = loaded("flux-fill").run(EngineTask.OUTPAINT, req, NullContext())
    assert image.size == (768, 640)
    result = np.asarray(image)
    assert np.array_equal(result[0:512, 128:640], np.asarray(photo))


def test_erase_uses_the_neutral_prompts(loaded: Any, photo: Image.Image, hole: np.ndarray) -> None:
    backend = loaded("sdxl-inpaint")
    backend.pipe = spy = CountingPipe(backend.pipe)
    try:
        req = EngineRequest(image=photo, prompt="ignored", negative_prompt="ignored", mask=hole)
        backend.run(EngineTask.ERASE, req, NullContext())
    finally:
        backend.pipe = spy.pipe
    assert spy.calls[0]["prompt"] == [ERASE_PROMPT]
    assert spy.calls[0]["negative_prompt"] == [ERASE_NEGATIVE]


def test_qwen_condition_area_follows_max_area(loaded: Any, photo: Image.Image, hole: np.ndarray) -> None:
    import diffusers.pipelines.qwenimage.pipeline_qwenimage_edit_inpaint as module

    backend = loaded("qwen-image-edit-inpaint")
    backend.pipe = spy = CountingPipe(backend.pipe)
    try:
        backend.run(EngineTask.FILL, request("qwen-image-edit-inpaint", photo, hole), NullContext())
    finally:
        backend.pipe = spy.pipe
    # this pipeline ignores height/width and generates at its condition area: the work area, not 1024^2
    assert spy.sizes == [(64, 64)]
    assert module.calculate_dimensions(1024 * 1024, 1.0)[:2] == (1024, 1024)  # nothing patched globally


def test_refuses_masked_tasks_without_their_inputs(tiny_root: Path, photo: Image.Image) -> None:
    backend = make("sdxl-inpaint", tiny_root)
    assert "needs a mask" in (backend.refuses(EngineTask.FILL, EngineRequest(image=photo)) or "")
    assert "scales" in (backend.refuses(EngineTask.OUTPAINT, EngineRequest(image=photo)) or "")
    assert "does not do" in (backend.refuses(EngineTask.INSTRUCT_EDIT, EngineRequest(image=photo)) or "")
    assert backend.refuses(EngineTask.OUTPAINT, EngineRequest(image=photo, params={"scales": (1, 1, 1, 1.5)})) is None


def test_work_size_keeps_aspect_and_multiples() -> None:
    assert fit_area((1024, 512), 64 * 64, 16) == (80, 48)
    assert fit_area((512, 512), 64 * 64, 16, min_side=64) == (64, 64)
    assert fit_area((2000, 100), 64 * 64, 16, min_side=64) == (272, 64)  # the minimum side wins over the area


def test_strength_sets_guidance_for_edit_pipelines(loaded: Any, photo: Image.Image) -> None:
    backend = loaded("qwen-image-edit")
    ctx = NullContext()
    weak = backend._job(EngineTask.INSTRUCT_EDIT, EngineRequest(image=photo, prompt="x", strength=0.0), ctx)
    strong = backend._job(EngineTask.INSTRUCT_EDIT, EngineRequest(image=photo, prompt="x", strength=1.0), ctx)
    assert (weak.guidance, strong.guidance) == (1.0, 7.0) and weak.strength is None
    assert ctx.notes


# --- batching --------------------------------------------------------------------------------------------------


def run_together(backend: DiffusionBackend, requests: list[EngineRequest], contexts: list[NullContext]) -> list[Any]:
    results: list[Any] = [None] * len(requests)

    def work(i: int) -> None:
        try:
            results[i] = backend.run(EngineTask.FILL, requests[i], contexts[i])
        except TaskCanceled as exc:
            results[i] = exc

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


@pytest.fixture
def batching(tiny_root: Path) -> DiffusionBackend:
    backend = make("flux-fill", tiny_root, max_batch=3, batch_wait_ms=3000)
    backend.load()
    return backend


def test_compatible_requests_share_one_call(batching: DiffusionBackend, loaded: Any, photo: Image.Image,
                                            hole: np.ndarray) -> None:
    other = photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    requests = [EngineRequest(image=photo, prompt="an apple", mask=hole, seed=1),
                EngineRequest(image=other, prompt="a pear", mask=hole, seed=4, n=2)]
    alone = [loaded("flux-fill").run(EngineTask.FILL, r, NullContext()) for r in requests]  # same weights, unbatched
    batching.pipe = spy = CountingPipe(batching.pipe)
    together = run_together(batching, requests, [NullContext(), NullContext()])
    assert len(spy.calls) == 1 and len(spy.calls[0]["prompt"]) == 3
    for solo, shared in zip(alone, together, strict=True):
        assert len(shared) == len(solo)
        for a, b in zip(solo, shared, strict=True):  # each sample as if alone (up to batched float rounding)
            assert np.abs(np.asarray(a, np.int16) - np.asarray(b, np.int16)).max() <= 2


def test_a_cancelled_member_leaves_the_batch_running(batching: DiffusionBackend, photo: Image.Image,
                                                     hole: np.ndarray) -> None:
    batching.pipe = spy = CountingPipe(batching.pipe)
    requests = [EngineRequest(image=photo, prompt="an apple", mask=hole, steps=3, n=2),
                EngineRequest(image=photo, prompt="a pear", mask=hole, steps=3)]
    stays, leaves = NullContext(), Canceling(at=1)
    kept, dropped = run_together(batching, requests, [stays, leaves])
    assert len(spy.calls) == 1
    assert isinstance(dropped, TaskCanceled) and len(leaves.steps) == 1
    assert len(kept) == 2 and [d for d, _ in stays.steps] == [1, 2, 3]


def test_unbatchable_pipelines_run_one_request_per_call(tiny_root: Path, photo: Image.Image) -> None:
    backend = make("qwen-image-edit", tiny_root, max_batch=4, batch_wait_ms=200)
    backend.load()
    backend.pipe = spy = CountingPipe(backend.pipe)
    requests = [EngineRequest(image=photo, prompt=p) for p in ("make it blue", "make it red")]
    results: list[Any] = []
    threads = [threading.Thread(target=lambda r=r: results.append(
        backend.run(EngineTask.INSTRUCT_EDIT, r, NullContext()))) for r in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(spy.calls) == 2 and len(results) == 2


# --- accelerators and the cheap import -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["qwen-image-edit", "flux-fill"])
def test_first_block_cache_runs(name: str, tiny_root: Path, photo: Image.Image, hole: np.ndarray) -> None:
    backend = make(name, tiny_root, cache="first-block", cache_threshold=0.5)
    backend.load()
    assert backend.pipe.transformer.is_cache_enabled
    with pytest.raises(TaskCanceled):
        backend.run(task_of(name), request(name, photo, hole, steps=3), Canceling(at=1))
    images = [backend.run(task_of(name), request(name, photo, hole, steps=3), NullContext())[0] for _ in range(2)]
    assert np.array_equal(np.asarray(images[0]), np.asarray(images[1]))  # no residuals kept between calls


@pytest.mark.parametrize("name", ["sdxl-inpaint", "flux2-klein"])
def test_first_block_cache_refused_where_it_cannot_work(name: str, tiny_root: Path) -> None:
    backend = make(name, tiny_root, cache="first-block")
    assert "not available" in (backend.check() or "")
    with pytest.raises(EngineUnavailable, match="not available"):
        backend.load()


def test_compile_compiles_the_denoiser(tiny_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    compiled: list[type] = []
    monkeypatch.setattr(torch.nn.Module, "compile", lambda self, **kw: compiled.append(type(self)))
    make("sdxl-inpaint", tiny_root, compile=True).load()
    assert [c.__name__ for c in compiled] == ["UNet2DConditionModel"]


def test_modules_import_without_torch() -> None:
    code = ("import sys; from easel.engines.registry import BACKENDS, backend_class\n"
            "[backend_class(n) for n, (m, _) in BACKENDS.items() if m.startswith('easel.engines.diffusion')]\n"
            "assert 'torch' not in sys.modules and 'diffusers' not in sys.modules, 'heavy import'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[3], timeout=60)


def test_unload_frees(tiny_root: Path) -> None:
    backend = make("flux-fill", tiny_root)
    backend.load()
    assert backend.memory_bytes() > 0
    backend.unload()
    assert backend.pipe is None and backend.memory_bytes() == 0
