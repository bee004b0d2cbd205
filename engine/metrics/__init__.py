"""Video and image quality metrics by the StyleGAN-V protocol (docs/model.md §14): FVD and FID; offline FSD.

    import engine.metrics
    r = engine.metrics.calc("fvd2048_16f", G, "data/ffs.zip", run_dir="runs/ffs")
    r["results"]["fvd2048_16f"]

frechet.py   Fréchet distance (eigendecomposition, float64) and weighted feature statistics
protocol.py  the protocol as data and pure functions: eligible videos, clip offsets, fake draws, uint8
detectors.py the I3D / Inception TorchScript files (through engine.weights) and their call contracts
fakes.py     generated videos for the metrics (G.mapping / G.motion / G.synthesis, quantised)
fvd.py       FVD statistics (one clip per real video), fid.py FID statistics (every real frame)
cache.py     real statistics cached per dataset + detector + protocol
registry.py  METRICS and calc(); evaluate.py: what `sgv metrics` runs
synth_features.py  fsd2048's detector: a small network trained on `sgv dataset synth` ground truth (offline)
frame_stats.py     contrast and edge strength of generated frames against the data's (bench/quality.py)
"""

from engine.fileio import read_jsonl
from engine.metrics.detectors import Detector, MetricError
from engine.metrics.frechet import FeatureStats, frechet_distance
from engine.metrics.protocol import Protocol
from engine.metrics.registry import METRICS, calc, check, load_detector

__all__ = [
    "METRICS",
    "Detector",
    "FeatureStats",
    "MetricError",
    "Protocol",
    "calc",
    "check",
    "frechet_distance",
    "load_detector",
    "read_jsonl",
]
