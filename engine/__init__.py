"""StyleGAN-V Studio engine: a continuous-time video generator and everything around it.

import engine
G = engine.load_generator("model.safetensors")        # or engine.build_generator("tiny")
video = engine.Video(G, content=3, motion=7)             # content seed / W+ codes, motion seed / MotionCodes
x = video.frame(12.37)                                   # any real t, 10**6 costs what 0 costs
engine.export_video(video, "out.mp4", duration_s=10, fps=60)
"""

import importlib

# Names resolve on first use, so `import engine.config` (the app's widgets, a training node's option parsing)
# does not load torch and the networks.
_EXPORTS = {
    "generator_fingerprint": "engine.checkpoint",
    "load_generator": "engine.checkpoint",
    "save_generator": "engine.checkpoint",
    "GeneratorConfig": "engine.config",
    "ModelConfig": "engine.config",
    "preset": "engine.config",
    "CheckpointError": "engine.errors",
    "SgvError": "engine.errors",
    "MotionCodes": "engine.motion_codes",
    "Discriminator": "engine.nets",
    "Generator": "engine.nets",
    "build_generator": "engine.nets",
    "Video": "engine.video",
    "export_grid_video": "engine.video",
    "export_video": "engine.video",
    "frame_times": "engine.video",
    "grid_frames": "engine.video",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    try:
        return importlib.import_module(f"engine.{name}")  # engine.nets, engine.video, ... as attributes
    except ModuleNotFoundError as e:
        if e.name != f"engine.{name}":
            raise
        raise AttributeError(f"module 'engine' has no attribute '{name}'") from None


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


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
