"""StyleGAN-V Studio engine: a continuous-time video generator and everything around it.

import engine
G = engine.load_generator("model.safetensors")        # or engine.build_generator("tiny")
video = engine.Video(G, content=3, motion=7)             # content seed / W+ codes, motion seed / MotionCodes
x = video.frame(12.37)                                   # any real t, 10**6 costs what 0 costs
engine.export_video(video, "out.mp4", duration_s=10, fps=60)
"""

from engine.checkpoint import generator_fingerprint, load_generator, save_generator
from engine.config import GeneratorConfig, ModelConfig, preset
from engine.errors import CheckpointError, SgvError
from engine.motion_codes import MotionCodes
from engine.nets import Discriminator, Generator, build_generator
from engine.video import Video, export_grid_video, export_video, frame_times, grid_frames

__version__ = "0.1.0"

__all__ = [
    "CheckpointError",
    "Discriminator",
    "Generator",
    "GeneratorConfig",
    "ModelConfig",
    "MotionCodes",
    "SgvError",
    "Video",
    "build_generator",
    "export_grid_video",
    "export_video",
    "frame_times",
    "generator_fingerprint",
    "grid_frames",
    "load_generator",
    "preset",
    "save_generator",
]
