"""Super-resolution engines."""

from easel.engines.superres.realesrgan import SUPERRES_MODELS, RealEsrgan, SuperResModel, upscale

__all__ = ["SUPERRES_MODELS", "RealEsrgan", "SuperResModel", "upscale"]
