"""`sgv train --data-on-device`: the same clips as the loader path, gathered from the dataset held on the device."""

from __future__ import annotations

import pytest
import torch
from test_train import opts_for, write_frame_folders

from engine.data import open_dataset
from engine.train import TrainingError
from engine.train.device_data import DeviceClips
from engine.train.loop import training_loop
from engine.train.sampling import StepBatches, TrainClips


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_frame_folders(tmp_path_factory.mktemp("dev") / "shapes", lengths=(1, 2, 3, 9, 40, 17), res=32)


def test_batches_equal_the_loader_path(data):
    """Videos of 1, 2, 3 … 40 frames, mirroring on, 6 steps of 5 samples: identical frames, times and labels."""
    clips = TrainClips(open_dataset(data), k=3, max_dist=32, max_num_frames=24, mirror=True, seed=7)
    device_clips = DeviceClips(clips, torch.device("cpu"), max_bytes=2**30, threads=2)
    mine = device_clips.batches(StepBatches(5, 0, 1, 5, start_step=3))
    flips = 0
    for slots in _first(StepBatches(5, 0, 1, 5, start_step=3), 6):
        want = torch.utils.data.default_collate([clips[g] for g in slots])
        got = next(mine)
        assert got[0].dtype == torch.uint8 and got[0].shape == want[0].shape
        assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1]) and torch.equal(got[2], want[2])
        flips += sum(clips.video_of(g)[1] for g in slots)
    assert 0 < flips < 30  # both mirrored and plain videos were compared


def _first(sampler, n):
    it = iter(sampler)
    return [next(it) for _ in range(n)]


def test_too_large_for_the_budget_is_one_line(data):
    clips = TrainClips(open_dataset(data), k=3, max_dist=32, max_num_frames=24, mirror=False, seed=0)
    with pytest.raises(TrainingError, match=r"shapes: --data-on-device needs .* GiB for 72 frames of 32²") as e:
        DeviceClips(clips, torch.device("cpu"), max_bytes=1000)
    assert "\n" not in str(e.value)


def test_training_on_device_data_gives_the_same_weights(data, tmp_path):
    """The loop end to end: 2 ticks with loader workers and with --data-on-device end in identical G_ema."""
    a = training_loop(opts_for(data, tmp_path / "a", workers=1, total_kimg=0.048))
    b = training_loop(opts_for(data, tmp_path / "b", data_on_device=True, total_kimg=0.048))
    wa, wb = a.G_ema.state_dict(), b.G_ema.state_dict()
    assert a.cur_nimg == b.cur_nimg > 0
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
