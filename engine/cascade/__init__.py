"""Cascade super-resolution: a low-resolution StyleGAN-V base followed by an SR level (docs/cascade.md).

import engine
from engine.cascade import CascadeVideo, load_sr
base = engine.Video(engine.load_generator("base.safetensors"), content=3, motion=7)
video = CascadeVideo(base, load_sr("sr.safetensors"))      # high-resolution frames at any real t
engine.export_video(video, "out.mp4", duration_s=10)         # constant memory, no seams
"""

from engine.cascade.checkpoint import BUNDLED_SR, check_fits, load_sr, read_sr_file, save_sr, sr_model_info
from engine.cascade.config import SRDiscriminatorConfig, SRGeneratorConfig, SRModelConfig, sr_preset
from engine.cascade.nets import SRDiscriminator, SRGenerator, windows_of
from engine.cascade.video import CascadeVideo

__all__ = [
    "BUNDLED_SR",
    "CascadeVideo",
    "SRDiscriminator",
    "SRDiscriminatorConfig",
    "SRGenerator",
    "SRGeneratorConfig",
    "SRModelConfig",
    "check_fits",
    "load_sr",
    "read_sr_file",
    "save_sr",
    "sr_model_info",
    "sr_preset",
    "windows_of",
]
