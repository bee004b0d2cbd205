"""Datasets: readers of video / frame datasets, `sgv dataset prepare`, and the procedural synthetic videos.

base.py      the reader contract (VideoDataset), DatasetError, frame crop/resize, dataset.json labels
readers.py   frame folders, zips of frame folders (upstream), LongVideoGAN sharded zips
opener.py    open_dataset: layout detection, the frame cache of a folder of videos
prepare.py   videos → frame dataset (parallel, resumable, lists what it skips)
layout.py    writing frame folders and zips atomically, dataset.json
synth.py     synth_video / the synthetic dataset
(`sgv dataset prepare|synth|info` is engine/cli/dataset.py)
"""

from engine.data.base import DatasetError, VideoDataset
from engine.data.opener import VideoFolderDataset, default_cache_dir, open_dataset, probe_video_folder
from engine.data.prepare import PrepareResult, prepare_dataset
from engine.data.readers import FrameFolderDataset, ShardedZipDataset, ZipFramesDataset
from engine.data.synth import SYNTH_FPS, synth_video, write_synthetic_dataset

__all__ = [
    "SYNTH_FPS",
    "DatasetError",
    "FrameFolderDataset",
    "PrepareResult",
    "ShardedZipDataset",
    "VideoDataset",
    "VideoFolderDataset",
    "ZipFramesDataset",
    "default_cache_dir",
    "open_dataset",
    "prepare_dataset",
    "probe_video_folder",
    "synth_video",
    "write_synthetic_dataset",
]
