"""Real-ESRGAN super-resolution engine: sizes, seamless tiling, real gain over naive upscaling, input checks."""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from easel.engines.superres import SUPERRES_MODELS, RealEsrgan, upscale
from easel.engines.superres.realesrgan import _to_uint8


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    """A 64x64 crop of the astronaut's face: real photo detail (eyes, skin, hair edge)."""
    return data.astronaut()[40:104, 180:244].copy()


@pytest.fixture(scope="module")
def odd() -> np.ndarray:
    """48x40 crop of a real photo, odd-sized tiles when split."""
    return data.coffee()[100:148, 200:240].copy()


@pytest.mark.parametrize("factor", [1, 2, 3, 4, 2.5])
def test_output_size_is_exact_for_every_factor(odd: np.ndarray, factor: float) -> None:
    out = RealEsrgan("animevideov3", tile=16).upscale(odd, factor)
    assert out.shape == (round(48 * factor), round(40 * factor), 3)
    assert out.dtype == np.uint8


@pytest.mark.parametrize(("h", "w", "factor"), [(37, 29, 2.5), (1, 5, 3), (13, 8, 1.7), (21, 33, 4)])
def test_odd_and_tiny_inputs_keep_exact_size(h: int, w: int, factor: float) -> None:
    rgb = np.random.default_rng(h * w).integers(0, 256, (h, w, 3), dtype=np.uint8)
    out = RealEsrgan("animevideov3", tile=10).upscale(rgb, factor)
    assert out.shape == (round(h * factor), round(w * factor), 3)


@pytest.mark.parametrize("model", ["x4plus", "x4plus-anime"])
def test_rrdb_models_keep_sizes_with_several_tiles(odd: np.ndarray, model: str) -> None:
    upscaler = RealEsrgan(model, tile=24)
    assert upscaler.upscale(odd, 4).shape == (192, 160, 3)
    assert upscaler.upscale(odd, 1).shape == (48, 40, 3)


def test_factor_one_sharpens_without_changing_the_picture(face: np.ndarray) -> None:
    same = upscale(face, 1, model="x4plus")
    assert same.shape == face.shape
    assert not np.array_equal(same, face)
    assert psnr(same, face) > 22  # still the same picture, not noise


def seam_step_ratio(img: np.ndarray, col: int) -> float:
    """Mean jump across the vertical line at `col`, relative to the jumps across nearby lines."""
    grey = img.astype(np.float64).mean(axis=2)
    jump = np.abs(np.diff(grey, axis=1)).mean(axis=0)  # jump[c] is between columns c and c+1
    return float(jump[col - 1] / np.mean(jump[[col - 4, col - 3, col + 1, col + 2]]))


def test_x4plus_tiles_join_without_seams() -> None:
    crop = data.coffee()[100:196, 200:296].copy()
    whole = RealEsrgan("x4plus", tile=96, threads=1).upscale(crop, 4)  # one tile
    tiled = RealEsrgan("x4plus", tile=48).upscale(crop, 4)  # 2x2 tiles, seams at output row/col 192
    assert psnr(tiled, whole) > 40
    # A hard cut between tiles shows as a jump ~1.4x the normal pixel-to-pixel change (measured);
    # the feathered overlap leaves the seam column like its neighbours.
    assert seam_step_ratio(tiled, 192) < 1.2
    assert seam_step_ratio(tiled.transpose(1, 0, 2), 192) < 1.2


def test_animevideov3_tiles_match_the_whole_image(face: np.ndarray) -> None:
    # Its margin covers the whole receptive field, so tiling must be (nearly) exact.
    whole = RealEsrgan("animevideov3", tile=64, threads=1).upscale(face, 4)
    tiled = RealEsrgan("animevideov3", tile=24).upscale(face, 4)  # 3x3 tiles
    assert psnr(tiled, whole) > 60


@pytest.mark.parametrize("model", ["x4plus", "animevideov3"])
def test_upscaling_beats_nearest_neighbour_on_a_real_photo(model: str) -> None:
    truth = np.asarray(Image.fromarray(data.astronaut()).resize((256, 256), Image.Resampling.BOX))
    small = Image.fromarray(truth).resize((64, 64), Image.Resampling.BICUBIC)
    nearest = np.asarray(small.resize((256, 256), Image.Resampling.NEAREST))
    restored = upscale(np.asarray(small), 4, model=model)
    # Measured: x4plus +0.7 dB, animevideov3 +1.1 dB over nearest neighbour.
    assert psnr(restored, truth) > psnr(nearest, truth) + 0.4


def test_x4plus_restores_detail_that_agrees_with_the_input(face: np.ndarray) -> None:
    small = Image.fromarray(face).resize((16, 16), Image.Resampling.BICUBIC)
    bicubic = np.asarray(small.resize((64, 64), Image.Resampling.BICUBIC))
    restored = upscale(np.asarray(small), 4, model="x4plus")

    def detail(img: np.ndarray) -> float:
        return float(np.abs(np.diff(img.astype(np.float64).mean(axis=2), axis=1)).mean())

    # Sharper than bicubic, close to the real face's detail (measured 8.4 vs truth 10.4, bicubic 4.0) ...
    assert detail(restored) > 1.6 * detail(bicubic)
    assert detail(restored) < 1.3 * detail(face)
    # ... and not invented from nothing: shrunk back, it is the input again.
    back = np.asarray(Image.fromarray(restored).resize((16, 16), Image.Resampling.BICUBIC))
    assert psnr(back, np.asarray(small)) > 25


def test_module_upscale_matches_an_instance(odd: np.ndarray) -> None:
    expected = RealEsrgan("animevideov3").upscale(odd, 2)
    assert np.array_equal(upscale(odd, 2, model="animevideov3"), expected)


def test_concurrent_calls_give_the_serial_result(odd: np.ndarray) -> None:
    upscaler = RealEsrgan("animevideov3", tile=16)
    expected = upscaler.upscale(odd, 3)
    results: list[np.ndarray] = []
    threads = [threading.Thread(target=lambda: results.append(upscaler.upscale(odd, 3))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 3
    assert all(np.array_equal(result, expected) for result in results)


def test_network_output_is_clipped_and_rounded() -> None:
    values = np.array([-0.2, 0.0, 0.5 / 255 - 1e-4, 0.5 / 255 + 1e-4, 0.5, 1.0, 1.3], np.float32)
    out = _to_uint8(values)
    assert out.dtype == np.uint8
    assert out.tolist() == [0, 0, 0, 1, 128, 255, 255]


def test_models_are_registered_with_their_native_scales() -> None:
    assert set(SUPERRES_MODELS["x4plus"].files) == {4}
    assert set(SUPERRES_MODELS["animevideov3"].files) == {2, 3, 4}
    assert SUPERRES_MODELS["animevideov3"].native_scale_for(2.5) == 3
    assert SUPERRES_MODELS["animevideov3"].native_scale_for(1) == 2


@pytest.mark.parametrize(
    "rgb",
    [
        np.zeros((8, 8), np.uint8),
        np.zeros((8, 8, 4), np.uint8),
        np.zeros((8, 8, 3), np.float32),
        np.zeros((0, 8, 3), np.uint8),
        [[[0, 0, 0]]],
    ],
)
def test_bad_images_raise_value_error(rgb: np.ndarray) -> None:
    with pytest.raises(ValueError):
        upscale(rgb, 2, model="animevideov3")


@pytest.mark.parametrize("factor", [0.5, 0.99, 4.01, 8, float("nan")])
def test_bad_factors_raise_value_error(factor: float) -> None:
    with pytest.raises(ValueError):
        upscale(np.zeros((8, 8, 3), np.uint8), factor, model="animevideov3")


def test_unknown_model_and_bad_tile_raise_value_error() -> None:
    with pytest.raises(ValueError):
        RealEsrgan("x8-imaginary")
    with pytest.raises(ValueError):
        upscale(np.zeros((8, 8, 3), np.uint8), 2, model="x8-imaginary")
    with pytest.raises(ValueError):
        RealEsrgan("x4plus", tile=0)


# --- runtimes: ncnn everywhere, torch bf16 where the CPU has AMX -------------------------------------

def test_runtime_defaults_to_torch_only_with_amx_and_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    from easel.engines.superres import realesrgan

    monkeypatch.setattr(realesrgan, "_cpu_flags", lambda: {"avx512f", "avx512_bf16"})
    assert realesrgan.default_runtime() == "ncnn"  # bf16 without AMX is no faster than ncnn
    monkeypatch.setattr(realesrgan, "_cpu_flags", lambda: {"avx512f", "amx_bf16"})
    has_torch = importlib.util.find_spec("torch") is not None
    assert realesrgan.default_runtime() == ("torch" if has_torch else "ncnn")


def test_unknown_runtime_raises_value_error() -> None:
    with pytest.raises(ValueError, match="runtime"):
        RealEsrgan("animevideov3", runtime="onnx")


@pytest.mark.parametrize("model", ["x4plus", "animevideov3"])
def test_torch_runtime_matches_ncnn(odd: np.ndarray, model: str) -> None:
    pytest.importorskip("torch")
    on_ncnn = RealEsrgan(model, tile=24, runtime="ncnn").upscale(odd, 4)
    on_torch = RealEsrgan(model, tile=24, runtime="torch").upscale(odd, 4)
    # Both store activations in bf16; measured 53.8 dB (x4plus) and 58 dB (animevideov3) apart.
    assert psnr(on_torch, on_ncnn) > 45


def test_torch_runtime_serves_every_factor_from_the_x4_graph(odd: np.ndarray) -> None:
    pytest.importorskip("torch")
    upscaler = RealEsrgan("animevideov3", tile=24, runtime="torch")
    assert upscaler.upscale(odd, 2).shape == (96, 80, 3)
    assert upscaler.upscale(odd, 2.5).shape == (120, 100, 3)


def test_torch_thread_limit_is_per_thread() -> None:
    torch = pytest.importorskip("torch")
    from easel.engines.superres.torch_graph import limit_threads_of_this_thread

    before = torch.get_num_threads()
    seen: dict[str, int] = {}

    def limited() -> None:
        assert limit_threads_of_this_thread(1)
        seen["limited"] = torch.get_num_threads()

    def fresh() -> None:
        seen["fresh"] = torch.get_num_threads()

    for target in (limited, fresh):
        thread = threading.Thread(target=target)
        thread.start()
        thread.join()
    assert seen == {"limited": 1, "fresh": before}
    assert torch.get_num_threads() == before  # other engines in the process keep their threads


def test_ncnn_files_are_read_whole(tmp_path: Path) -> None:
    from easel.engines.superres.ncnn_files import ConvWeights, read_param, read_weights
    from easel.engines.superres.realesrgan import weights_dir

    layers = read_param(weights_dir() / "realesr-animevideov3-x4.param")
    weights = read_weights(weights_dir() / "realesr-animevideov3-x4.bin", layers)
    first = weights["Conv_0"]
    assert isinstance(first, ConvWeights) and first.weight.shape == (64, 3, 3, 3) and first.bias.shape == (64,)
    assert sum(isinstance(w, ConvWeights) for w in weights.values()) == 18
    truncated = tmp_path / "short.bin"
    truncated.write_bytes((weights_dir() / "realesr-animevideov3-x4.bin").read_bytes()[:-8])
    with pytest.raises(ValueError):
        read_weights(truncated, layers)


def test_torch_runner_refuses_layers_it_does_not_reproduce(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from easel.engines.superres.realesrgan import weights_dir
    from easel.engines.superres.torch_graph import TorchGraph

    folder = weights_dir()
    with pytest.raises(ValueError, match="Resize_40"):  # the x2 graph's bicubic shrink
        TorchGraph(folder / "realesr-animevideov3-x2.param", folder / "realesr-animevideov3-x2.bin")
    param = tmp_path / "pool.param"
    param.write_text("7767517\n2 2\nInput data 0 1 data\nPooling pool 1 1 data output 0=0 1=2\n")
    (tmp_path / "pool.bin").write_bytes(b"")
    with pytest.raises(ValueError, match="Pooling"):
        TorchGraph(param, tmp_path / "pool.bin")
