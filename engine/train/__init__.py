"""Training StyleGAN-V (docs/model.md §8-§10): `run_training(TrainOptions(...))`, or `sgv train`.

options.py      TrainOptions (written as training_options.json), TrainingError
sampling.py     k-frame sparse sampling, deterministic per (seed, step, slot)
augment.py      ADA's bgc pipeline, made video-consistent
loss.py         non-saturating G loss, logistic D loss, lazy R1; phases as data
loop.py         the tick-gated training loop
snapshot.py     model/state snapshots, resume
samples.py      sample grid PNG + mp4 per snapshot
distributed.py  ranks under torch.distributed (NCCL / gloo)
run.py          launching ranks, signals (Ctrl-C / SIGTERM → snapshot, then exit)
"""

from engine.train.options import TrainingError, TrainOptions

__all__ = ["TrainOptions", "TrainingError", "run_training"]


def run_training(*args, **kwargs):
    from engine.train.run import run_training as _run

    return _run(*args, **kwargs)
