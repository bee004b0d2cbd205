"""Shared pieces of the projection / editing tests (also for the app's Project and Edit panel tests)."""

import json
import time
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from app.edit_jobs import StepInfo
from app.jobs import JobManager

# A tiny open_clip CLIP (1.6 M parameters, mostly the 49408-token embedding CLIP's tokenizer needs).
TINY_CLIP = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 8, "head_width": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}

# torchvision VGG16 `features` convolutions: index → (out, in) channels.
VGG_CONVS = {
    0: (64, 3), 2: (64, 64), 5: (128, 64), 7: (128, 128), 10: (256, 128), 12: (256, 256), 14: (256, 256),
    17: (512, 256), 19: (512, 512), 21: (512, 512), 24: (512, 512), 26: (512, 512), 28: (512, 512),
}  # fmt: skip


@pytest.fixture(autouse=True)
def empty_weights_cache(tmp_path, monkeypatch):
    """No hub weights for the CLI tests: every lookup misses, so the labelled fallbacks and messages show."""
    monkeypatch.setenv("SGV_WEIGHTS_DIR", str(tmp_path / "weights-cache"))


def sgv(capsys, *args):
    """`sgv ARGS...` in-process: (exit code, what it wrote to stderr)."""
    from engine.cli import main

    rc = main([str(a) for a in args])
    return rc, capsys.readouterr().err


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models gain nothing from a second thread, and on a shared 2-core machine OpenMP's spinning makes
    2 threads ~10x slower than 1 when another process holds a core."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def run_job(body, on_progress=None, wait_s: float = 180.0):
    """Runs an app job body (app/edit_jobs.py) on a JobManager thread; `on_progress(job)` while it runs."""
    job = JobManager().submit("test", body, "test")
    t0 = time.perf_counter()
    while not job.finished:
        if on_progress is not None:
            on_progress(job)
        time.sleep(0.01)
        assert time.perf_counter() - t0 < wait_s, "job did not finish"
    return job


def stop_after(stop, steps: int):
    """An `on_progress` for run_job: sets the job's Stop flag once it reports step `steps`."""

    def check(job) -> None:
        info = job.progress.preview
        if isinstance(info, StepInfo) and info.step >= steps:
            stop.set()

    return check


def fake_frame(state, fingerprint: str):
    """What a panel's draw gets, without a window: the app state, a viewer model with `fingerprint`, and
    notifications collected in `.notes`."""
    notes = []
    actions = SimpleNamespace(notify=lambda msg, error=False: notes.append((msg, error)))
    view = SimpleNamespace(model=SimpleNamespace(fingerprint=fingerprint))
    return SimpleNamespace(state=state, view=view, actions=actions, notes=notes, now=0.0)


def photo(w: int = 97, h: int = 61) -> np.ndarray:
    """A procedural 'photograph': colour gradients, a disc and a bar; not square, not the model's size."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([xx / w, yy / h, 1 - xx / w * 0.5], axis=2) * 200
    img[(xx - w * 0.6) ** 2 + (yy - h * 0.4) ** 2 < (h * 0.25) ** 2] = (250, 220, 30)
    img[int(h * 0.7) : int(h * 0.8), 5 : w // 2] = (20, 20, 120)
    return img.astype(np.uint8)


def random_vgg_file(path, seed: int = 0):
    """A RANDOM VGG16 `features` state dict saved like torchvision's file (59 MB), for LPIPS loading tests."""
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for i, (cout, cin) in VGG_CONVS.items():
        sd[f"features.{i}.weight"] = torch.randn(cout, cin, 3, 3, generator=g) * (2.0 / (cin * 9)) ** 0.5
        sd[f"features.{i}.bias"] = torch.zeros(cout)
    torch.save(sd, path)
    return path


def tiny_clip_files(folder, seed: int = 0):
    """Build a tiny RANDOM open_clip model, save its config (.json) and weights (.pt); return both paths."""
    from open_clip.model import CLIP

    (folder / "tiny-clip.json").write_text(json.dumps(TINY_CLIP))
    torch.manual_seed(seed)
    model = CLIP(**TINY_CLIP)
    torch.save(model.state_dict(), folder / "tiny-clip.pt")
    return folder / "tiny-clip.json", folder / "tiny-clip.pt", model
