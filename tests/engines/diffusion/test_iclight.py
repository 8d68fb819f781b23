"""The ic-light backend on a tiny random-weight SD1.5 folder and offset files saved for real (tiny_iclight)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from easel.engines.base import EngineRequest, EngineTask, NullContext, TaskCanceled
from easel.engines.config import BackendConfig, parse_engines_config
from easel.engines.diffusion.iclight import ConcatConds, IcLight, light_from_prompt, light_gradient
from easel.engines.manager import Engines
from easel.errors import EngineUnavailable
from tests.engines.diffusion import tiny_iclight

os.environ.setdefault("HF_HUB_OFFLINE", "1")

RELIGHT = EngineTask.RELIGHT
AREA = 64 * 64


@pytest.fixture(scope="session")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tiny-iclight")


def make(root: Path, **fields: Any) -> IcLight:
    config = {"backend": "ic-light", "weights": str(tiny_iclight.build_sd15(root)), "max_area": AREA, "steps": 3,
              "fc": str(tiny_iclight.build_offset("fc", root)), "fbc": str(tiny_iclight.build_offset("fbc", root)),
              **fields}
    return IcLight(BackendConfig(**{k: v for k, v in config.items() if v is not None}))


@pytest.fixture(scope="module")
def both(root: Path) -> IcLight:
    backend = make(root)
    backend.load()
    return backend


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    rng = np.random.default_rng(2)
    ramp = np.linspace(0, 255, 120, dtype=np.float32)
    pixels = np.stack([np.tile(ramp, (100, 1)), np.tile(ramp[::-1], (100, 1)), rng.random((100, 120)) * 255], -1)
    return Image.fromarray(pixels.astype(np.uint8))


@pytest.fixture(scope="module")
def subject() -> np.ndarray:
    mask = np.zeros((100, 120), dtype=bool)
    mask[20:90, 35:85] = True
    return mask


def fc_request(photo: Image.Image, subject: np.ndarray, **fields: Any) -> EngineRequest:
    return EngineRequest(image=photo, mask=subject, prompt=fields.pop("prompt", "sunlight from the left, beach"),
                         **fields)


def fbc_request(photo: Image.Image, subject: np.ndarray, **fields: Any) -> EngineRequest:
    return EngineRequest(image=photo, mask=subject, prompt="warm light", params={"background": photo}, **fields)


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


class Canceling(NullContext):
    def progress(self, done: int, total: int) -> None:
        super().progress(done, total)
        raise TaskCanceled()


class Spy:
    """Stands in for a pipeline: keeps the arguments of every call."""

    def __init__(self, pipe: Any) -> None:
        self.pipe, self.calls = pipe, []

    def __call__(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        return self.pipe(**kwargs)

    def __getattr__(self, item: str) -> Any:
        return getattr(self.pipe, item)


# --- running -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make_request", [fc_request, fbc_request], ids=["fc", "fbc"])
def test_runs_at_the_input_size_with_seeds(make_request: Any, both: IcLight, photo: Image.Image,
                                           subject: np.ndarray) -> None:
    pair = both.run(RELIGHT, make_request(photo, subject, n=2, seed=5), NullContext())
    assert [(i.mode, i.size) for i in pair] == [("RGB", photo.size)] * 2
    assert np.abs(pixels(pair[0]) - pixels(pair[1])).mean() > 1, "two images of one request differ"
    alone = both.run(RELIGHT, make_request(photo, subject, seed=5), NullContext())[0]
    assert np.abs(pixels(alone) - pixels(pair[0])).max() <= 2, "the first image is its seed's image"
    again = both.run(RELIGHT, make_request(photo, subject, seed=5), NullContext())[0]
    assert np.array_equal(pixels(again), pixels(alone)), "the same seed repeats"
    other = both.run(RELIGHT, make_request(photo, subject, seed=6), NullContext())[0]
    assert np.abs(pixels(other) - pixels(alone)).mean() > 1, "another seed differs"


def test_fc_and_fbc_use_their_own_unet(both: IcLight, photo: Image.Image, subject: np.ndarray) -> None:
    assert both.pipes["fc"].t2i.unet.conv_in.in_channels == 8
    assert both.pipes["fbc"].t2i.unet.conv_in.in_channels == 12
    for pipes in both.pipes.values():
        assert pipes.t2i.unet.config.in_channels == 4, "the pipelines size their noise from it"
        assert pipes.i2i.unet is pipes.t2i.unet
    assert both.pipes["fc"].t2i.vae is both.pipes["fbc"].t2i.vae, "one VAE and text encoder for both"
    fc = both.run(RELIGHT, fc_request(photo, subject, seed=1, prompt="warm light"), NullContext())[0]
    fbc = both.run(RELIGHT, fbc_request(photo, subject, seed=1), NullContext())[0]
    assert np.abs(pixels(fc) - pixels(fbc)).mean() > 1


def test_offsets_are_merged_onto_the_widened_conv_in(root: Path, both: IcLight) -> None:
    import torch
    from diffusers import UNet2DConditionModel
    from safetensors.torch import load_file

    base = UNet2DConditionModel.from_pretrained(tiny_iclight.build_sd15(root), subfolder="unet")
    offset = load_file(str(tiny_iclight.build_offset("fbc", root)))
    merged = both.pipes["fbc"].t2i.unet
    weight = merged.conv_in.weight.detach()
    assert torch.allclose(weight[:, :4], base.conv_in.weight + offset["conv_in.weight"][:, :4], atol=1e-6)
    assert torch.allclose(weight[:, 4:], offset["conv_in.weight"][:, 4:], atol=1e-6), "new channels: zero + offset"
    key = "mid_block.attentions.0.proj_in.weight"
    assert torch.allclose(merged.state_dict()[key], base.state_dict()[key] + offset[key], atol=1e-6)


def test_light_direction_starts_fc_from_a_gradient(both: IcLight, photo: Image.Image, subject: np.ndarray) -> None:
    pipes = both.pipes["fc"]
    pipes.t2i, pipes.i2i = t2i, i2i = Spy(pipes.t2i), Spy(pipes.i2i)
    try:
        both.run(RELIGHT, fc_request(photo, subject, prompt="光从左侧照过来"), NullContext())
        assert len(t2i.calls) == 0 and len(i2i.calls) == 2, "gradient img2img, then the high-res pass"
        assert i2i.calls[0]["strength"] == 0.9 and i2i.calls[1]["strength"] == 0.5
        both.run(RELIGHT, fc_request(photo, subject, prompt="soft light"), NullContext())
        assert len(t2i.calls) == 1 and len(i2i.calls) == 3, "no direction: text-to-image first"
    finally:
        pipes.t2i, pipes.i2i = t2i.pipe, i2i.pipe
    first, highres = i2i.calls[0], i2i.calls[1]
    assert highres["image"].shape[-1] > first["image"].shape[-1], "the high-res pass is larger"
    assert highres["cross_attention_kwargs"]["concat_conds"].shape[1] == 4, "fc conditions on the foreground only"


def test_light_words() -> None:
    assert [light_from_prompt(p) for p in ("light from the left", "右侧打光", "顶光", "bottom light")] == \
        ["left", "right", "top", "bottom"]
    assert light_from_prompt("soft light, studio") is None and light_from_prompt("backlight") is None
    gradient = np.asarray(light_gradient((40, 20), "right"))
    assert gradient[:, -1].min() == 255 and gradient[:, 0].max() == 0


def test_progress_counts_both_passes_and_cancel_stops(both: IcLight, photo: Image.Image,
                                                      subject: np.ndarray) -> None:
    for make_request in (fc_request, fbc_request):
        ctx = NullContext()
        both.run(RELIGHT, make_request(photo, subject, steps=4), ctx)
        done = [d for d, _ in ctx.steps]
        assert done == list(range(1, len(done) + 1)) and len(done) >= 6, "the first pass and the high-res pass"
        assert {total for _, total in ctx.steps} == {done[-1]}
        canceling = Canceling()
        with pytest.raises(TaskCanceled):
            both.run(RELIGHT, make_request(photo, subject, steps=4), canceling)
        assert len(canceling.steps) == 1


def test_concurrent_calls_do_not_share_their_conditions(both: IcLight, photo: Image.Image,
                                                        subject: np.ndarray) -> None:
    requests = [fc_request(photo, subject, seed=3), fbc_request(photo, subject, seed=3),
                fc_request(photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT), subject[:, ::-1].copy(), seed=3)]
    alone = [both.run(RELIGHT, r, NullContext())[0] for r in requests]
    together: list[Any] = [None] * len(requests)

    def work(i: int) -> None:
        together[i] = both.run(RELIGHT, requests[i], NullContext())[0]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    for solo, shared in zip(alone, together, strict=True):
        assert np.array_equal(pixels(solo), pixels(shared))


def test_the_unet_refuses_a_call_without_conditions(both: IcLight) -> None:
    forward = both.pipes["fc"].t2i.unet.forward
    assert isinstance(forward, ConcatConds)
    with pytest.raises(RuntimeError, match="concat_conds"):
        forward(None, 0, None, cross_attention_kwargs=None)


def test_one_offset_file_serves_both_kinds_of_input(root: Path, photo: Image.Image, subject: np.ndarray) -> None:
    fc_only = make(root, fbc=None)
    ctx = NullContext()
    [image] = fc_only.run(RELIGHT, fbc_request(photo, subject), ctx)
    assert image.size == photo.size and "background was generated from the prompt" in ctx.notes[0]
    fbc_only = make(root, fc=None)
    ctx = NullContext()
    [image] = fbc_only.run(RELIGHT, fc_request(photo, subject), ctx)
    assert image.size == photo.size and "light gradient" in ctx.notes[0]
    assert list(fbc_only.pipes) == ["fbc"]


def test_unload_frees_both_pipelines(root: Path) -> None:
    backend = make(root)
    backend.load()
    assert backend.memory_bytes() > 0
    backend.unload()
    assert backend.pipes == {} and backend.pipe is None and backend.memory_bytes() == 0


# --- configuration errors --------------------------------------------------------------------------------------


def test_check_passes_and_describes_both_files(root: Path) -> None:
    backend = make(root)
    assert backend.check() is None
    assert "iclight_sd15_fc.safetensors" in backend.describe() and "iclight_sd15_fbc.safetensors" in backend.describe()


def test_offset_of_the_wrong_width(root: Path) -> None:
    fbc_file = tiny_iclight.build_offset("fbc", root)
    reason = make(root, fc=str(fbc_file), fbc=None).check()
    assert reason is not None and str(fbc_file) in reason
    assert "(8, 12, 3, 3)" in reason and "8 input channels" in reason and "found 12" in reason
    fc_file = tiny_iclight.build_offset("fc", root)
    reason = make(root, fc=None, fbc=str(fc_file)).check()
    assert reason is not None and "12 input channels" in reason and "found 8" in reason
    with pytest.raises(EngineUnavailable, match="input channels"):
        make(root, fc=None, fbc=str(fc_file)).load()


@pytest.mark.parametrize(("kind", "fragment"), [("other-unet", "shape"), ("missing-keys", "lacks"),
                                                ("no-conv", "no 4-d conv_in.weight")])
def test_offset_that_does_not_fit_the_unet(root: Path, kind: str, fragment: str) -> None:
    file = tiny_iclight.broken_offset(kind, root)
    reason = make(root, fc=str(file), fbc=None).check()
    assert reason is not None and str(file) in reason and fragment in reason, reason


def test_keys_are_merged_strictly_at_load(root: Path) -> None:
    """A UNet with no safetensors header to compare at check time still fails at load, naming the file."""
    file = tiny_iclight.broken_offset("missing-keys", root)
    backend = make(root, fc=str(file), fbc=None)
    backend.check = lambda: None  # type: ignore[method-assign]
    with pytest.raises(EngineUnavailable) as caught:
        backend.load()
    assert str(file) in caught.value.message and "lacks" in caught.value.message


def test_truncated_offset_fails_load(root: Path) -> None:
    file = tiny_iclight.broken_offset("truncated", root)
    backend = make(root, fc=str(file), fbc=None)
    reason = backend.check()
    assert reason is not None and str(file) in reason and "truncated" in reason
    backend.check = lambda: None  # type: ignore[method-assign]
    with pytest.raises(EngineUnavailable) as caught:
        backend.load()
    assert str(file) in caught.value.message


def test_missing_files(root: Path) -> None:
    gone = root / "nowhere" / "iclight_sd15_fc.safetensors"
    reason = make(root, fc=str(gone), fbc=None).check()
    assert reason is not None and str(gone) in reason and "does not exist" in reason
    assert "no offset file configured" in (make(root, fc=None, fbc=None).check() or "")
    no_weights = make(root, weights=str(root / "no-sd15"))
    assert "does not exist" in (no_weights.check() or "")
    assert "no weights configured" in (IcLight(BackendConfig(backend="ic-light")).check() or "")
    hub = IcLight(BackendConfig(backend="ic-light", weights=str(tiny_iclight.build_sd15(root)),
                                fc="lllyasviel/ic-light"), models_dir=root / "models")
    reason = hub.check() or ""
    assert str(root / "models" / "lllyasviel/ic-light") in reason and "easel pull lllyasviel/ic-light" in reason


def test_published_file_names_inside_a_folder(root: Path) -> None:
    backend = make(root, fc=str(root), fbc=str(root))  # the folder holding iclight_sd15_{fc,fbc}.safetensors
    assert backend.offset_files() == {"fc": tiny_iclight.build_offset("fc", root),
                                      "fbc": tiny_iclight.build_offset("fbc", root)}
    assert backend.check() is None


def test_engines_table_resolves_to_ic_light(root: Path) -> None:
    table = {"backend": "ic-light", "weights": str(tiny_iclight.build_sd15(root)),
             "fc": str(tiny_iclight.build_offset("fc", root))}
    engines = Engines(parse_engines_config({"relight": table}, None, root))
    assert engines.problem(RELIGHT) is None and engines.describe(RELIGHT).startswith("available: ic-light")
    broken = Engines(parse_engines_config({"relight": {**table, "fc": str(root / "gone.safetensors")}}, None, root))
    assert "gone.safetensors" in (broken.problem(RELIGHT) or "")
