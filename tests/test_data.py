"""engine.data: every reader honours the contract; synth is deterministic and window-independent; prepare
crops/resizes/resamples, skips and lists bad files, resumes; video folders are cached; errors are one line."""

import io
import json
import os
import pickle
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import engine.data.opener as opener_mod
from engine.cli import main as sgv_main
from engine.data import (
    DatasetError,
    VideoDataset,
    open_dataset,
    prepare_dataset,
    synth_video,
    write_synthetic_dataset,
)
from engine.data.base import fit_square
from engine.media import VideoWriter

# ----------------------------------------------------------------------------------------------------
# helpers


def check_contract(ds: VideoDataset, resolution: int) -> None:
    """The interface the training loop relies on, for any reader."""
    assert isinstance(ds, VideoDataset)
    assert ds.resolution == resolution and isinstance(ds.fps, float) and ds.fps > 0
    assert len(ds) >= 1 and isinstance(ds.path, Path)
    for i in range(len(ds)):
        n = ds.num_frames(i)
        assert n >= 1 and isinstance(ds.video_name(i), str)
        idx = [n - 1, 0, n - 1, 0]  # any order, repeats
        x = ds.read_frames(i, idx)
        assert x.dtype == np.uint8 and x.shape == (4, resolution, resolution, 3)
        np.testing.assert_array_equal(x[0], x[2])
        np.testing.assert_array_equal(x[1], ds.read_frames(i, [0])[0])
        lab = ds.label(i)
        assert lab.dtype == np.float32 and lab.shape == (ds.c_dim,)
        with pytest.raises(IndexError):
            ds.read_frames(i, [n])
    assert ds.read_frames(0, []).shape == (0, resolution, resolution, 3)
    info = ds.describe()
    for key in ("path", "format", "videos", "frames", "min_frames", "median_frames", "max_frames", "fps", "resolution"):
        assert key in info
    assert info["videos"] == len(ds) and info["frames"] == sum(ds.num_frames(i) for i in range(len(ds)))
    clone = pickle.loads(pickle.dumps(ds))  # DataLoader workers get a copy
    np.testing.assert_array_equal(clone.read_frames(len(ds) - 1, [0]), ds.read_frames(len(ds) - 1, [0]))


def png(frame: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="PNG")
    return buf.getvalue()


def jpg(frame: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def write_video(path: Path, frames: np.ndarray, fps: float) -> None:
    with VideoWriter(path, fps=fps, size=(frames.shape[2], frames.shape[1]), crf=10) as w:
        w.write(frames)


def one_line(err) -> str:
    msg = str(err.value)
    assert "\n" not in msg and "Traceback" not in msg
    return msg


@pytest.fixture(scope="module")
def video_folder(tmp_path_factory) -> Path:
    """Good videos of several sizes/rates, plus corrupt, empty, truncated and non-video files."""
    d = tmp_path_factory.mktemp("videos")
    write_video(d / "wide.mp4", np.ascontiguousarray(synth_video(1, 30, 48)[:, 6:42]), fps=30)  # 48x36, 30 fps
    write_video(d / "single.mp4", synth_video(2, 1, 24), fps=25)  # one frame
    write_video(d / "odd.mp4", np.ascontiguousarray(synth_video(3, 8, 40)[:, :17, :33]), fps=12.5)  # 33x17
    (d / "sub").mkdir()
    write_video(d / "sub" / "nested.mov", synth_video(4, 5, 20), fps=24)
    (d / "corrupt.mp4").write_bytes(np.random.default_rng(0).bytes(3000))
    (d / "empty.mp4").write_bytes(b"")
    (d / "notes.txt").write_text("not a video")
    data = (d / "wide.mp4").read_bytes()
    (d / "truncated.mp4").write_bytes(data[: len(data) // 2])
    return d


GOOD = {"wide": 30, "single": 1, "odd": 8, "sub__nested": 5}
BAD = {"corrupt.mp4", "empty.mp4", "notes.txt", "truncated.mp4"}


# ----------------------------------------------------------------------------------------------------
# synthetic data


def test_synth_deterministic_and_varied():
    a = synth_video(7, 12, 32)
    assert a.dtype == np.uint8 and a.shape == (12, 32, 32, 3)
    np.testing.assert_array_equal(a, synth_video(7, 12, 32))
    assert not np.array_equal(a, synth_video(8, 12, 32))  # content varies per video
    np.testing.assert_array_equal(synth_video((3, 1), 4, 16), synth_video((3, 1), 4, 16))
    assert not np.array_equal(synth_video((3, 1), 4, 16), synth_video((3, 2), 4, 16))
    means = [synth_video(s, 1, 32)[0].reshape(-1, 3).mean(0) for s in range(6)]
    assert np.std(means, axis=0).max() > 10  # colours differ between videos


def test_synth_windows_render_independently():
    long = synth_video(11, 70, 24)
    for t0, n in ((0, 5), (13, 9), (64, 6)):
        np.testing.assert_array_equal(synth_video(11, n, 24, t0=t0), long[t0 : t0 + n])
    far = synth_video(11, 3, 24, t0=100_000)  # long horizons stay defined and distinct
    assert far.shape == (3, 24, 24, 3) and not np.array_equal(far[0], long[0])
    # chunked rendering (tiny chunks via a large resolution) equals a single pass
    big = synth_video(5, 3, 1024, t0=40)
    np.testing.assert_array_equal(big[1], synth_video(5, 1, 1024, t0=41)[0])


def test_synth_motion_is_smooth_but_visible():
    for seed in range(4):
        v = synth_video(seed, 40, 64).astype(np.int16)
        step = np.abs(v[1:] - v[:-1]).mean()
        assert 0.1 < step < 4.0, step  # moves every frame, by little (mean abs difference per channel value)
        assert np.abs(v[32] - v[0]).mean() > step  # drifts further over longer spans


def test_synth_dataset_formats_are_byte_identical(tmp_path):
    a, b = tmp_path / "1" / "d.zip", tmp_path / "2" / "d.zip"  # same name: the zip's top folder is its stem
    write_synthetic_dataset(a, videos=2, frames=3, resolution=16, seed=4, progress=False, workers=1)
    write_synthetic_dataset(b, videos=2, frames=3, resolution=16, seed=4, progress=False, workers=2)
    assert a.read_bytes() == b.read_bytes()
    f1, f2 = tmp_path / "f1", tmp_path / "f2"
    write_synthetic_dataset(f1, 2, 3, 16, seed=4, progress=False)
    write_synthetic_dataset(f2, 2, 3, 16, seed=4, progress=False)
    files = sorted(p.relative_to(f1) for p in f1.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(f2) for p in f2.rglob("*") if p.is_file())
    assert all((f1 / p).read_bytes() == (f2 / p).read_bytes() for p in files)
    ds = open_dataset(a)
    assert ds.fps == 25.0 and len(ds) == 2 and ds.num_frames(1) == 3
    np.testing.assert_array_equal(ds.read_frames(1, [0, 1, 2]), synth_video((4, 1), 3, 16))
    with pytest.raises(DatasetError, match="already exists"):
        write_synthetic_dataset(a, 1, 1, 16, progress=False)
    write_synthetic_dataset(a, 1, 2, 16, seed=9, overwrite=True, progress=False)
    assert len(open_dataset(a)) == 1


def test_synth_mp4_folder_reads_through_cache(tmp_path):
    out = write_synthetic_dataset(tmp_path / "mp4", 2, 6, 16, seed=1, format="mp4", progress=False)
    ds = open_dataset(out, resolution=16, cache_dir=tmp_path / "cache", progress=False)
    assert ds.format == "videos" and len(ds) == 2 and ds.num_frames(0) == 6 and ds.fps == 25.0
    ref = synth_video((1, 0), 6, 16).astype(np.int16)
    assert np.abs(ds.read_frames(0, range(6)).astype(np.int16) - ref).mean() < 6  # lossy codecs, same picture


# ----------------------------------------------------------------------------------------------------
# readers


def test_frame_folder_reader(tmp_path):
    root = tmp_path / "frames"
    clips = {"b": synth_video(1, 12, 16), "a": synth_video(2, 1, 16), "c10": synth_video(3, 2, 16)}
    for name, clip in clips.items():
        (root / name).mkdir(parents=True)
        for k, f in enumerate(clip):  # unpadded names: natural order must put frame_2 before frame_10
            (root / name / f"frame_{k}.png").write_bytes(png(f))
    (root / ".b.tmp-123-abc").mkdir()  # an interrupted write: ignored
    (root / ".b.tmp-123-abc" / "0.png").write_bytes(png(clips["b"][0]))
    ds = open_dataset(root)
    check_contract(ds, 16)
    assert [ds.video_name(i) for i in range(len(ds))] == ["a", "b", "c10"]
    assert ds.format == "frames" and ds.fps == 25.0 and ds.c_dim == 0
    np.testing.assert_array_equal(ds.read_frames(1, [10, 2, 11]), clips["b"][[10, 2, 11]])
    assert ds.read_frames(0, [0, 0, 0]).shape == (3, 16, 16, 3)  # 1-frame videos work


def test_zip_reader_upstream_layout_and_labels(tmp_path):
    path = tmp_path / "data.zip"
    clips = [synth_video(s, 3 + s, 16) for s in range(3)]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:  # deflated members too
        zf.writestr("data/", b"")
        for s, clip in enumerate(clips):
            zf.writestr(f"data/vid{s}/", b"")
            for k, f in enumerate(clip):
                zf.writestr(
                    f"data/vid{s}/{k:06d}.jpg" if s == 2 else f"data/vid{s}/{k:06d}.png", (jpg if s == 2 else png)(f)
                )
        zf.writestr("data/dataset.json", json.dumps({"fps": 30, "labels": {"vid0": 0, "vid1": 2, "vid2": 1}}))
    ds = open_dataset(path)
    check_contract(ds, 16)
    assert ds.format == "zip" and ds.fps == 30.0 and ds.c_dim == 3
    assert [ds.video_name(i) for i in range(3)] == ["vid0", "vid1", "vid2"]
    np.testing.assert_array_equal(ds.label(1), [0, 0, 1])
    np.testing.assert_array_equal(ds.read_frames(1, [3, 0]), clips[1][[3, 0]])
    assert np.abs(ds.read_frames(2, [1]).astype(int) - clips[2][1]).mean() < 8  # jpeg (4:2:0 at 16 px)


def test_zip_without_top_folder_and_float_labels(tmp_path):
    path = tmp_path / "flat.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for s in range(2):
            for k in range(2):
                zf.writestr(f"v{s}/{k}.png", png(synth_video(s, 2, 8)[k]))
        zf.writestr("dataset.json", json.dumps({"labels": [["v0/0.png", [0.5, 1.0]], ["v1/0.png", [0.0, 2.0]]]}))
    ds = open_dataset(path)
    check_contract(ds, 8)
    assert ds.c_dim == 2
    np.testing.assert_allclose(ds.label(1), [0.0, 2.0])


def test_frames_of_other_sizes_are_center_cropped_and_resized(tmp_path):
    root = tmp_path / "mixed"
    (root / "v").mkdir(parents=True)
    wide = np.zeros((20, 40, 3), np.uint8)
    wide[:, 10:30] = 200  # the centred square is all bright: a center crop keeps only it
    (root / "v" / "0.png").write_bytes(png(wide))
    (root / "v" / "1.png").write_bytes(png(np.full((33, 33, 3), 77, np.uint8)))
    ds = open_dataset(root, resolution=16)
    check_contract(ds, 16)
    x = ds.read_frames(0, [0, 1])
    assert np.all(x[0] >= 195) and np.all(x[1] == 77)
    assert open_dataset(root).resolution == 20  # no resolution: the short side of the first frame
    odd = fit_square(np.random.default_rng(0).integers(0, 255, (17, 33, 3), dtype=np.uint8), 8)
    assert odd.shape == (8, 8, 3)


def test_longvideogan_sharded_layout(tmp_path):
    root = tmp_path / "horseback"
    index_per_part = {0: {"ride_a": 4, "ride_b": 2}, 1: {"ride_c": 3}}
    for res_dir, (h, w) in (("0018x0032", (18, 32)), ("0036x0064", (36, 64))):
        (root / res_dir).mkdir(parents=True)
        for part, clips in index_per_part.items():
            with zipfile.ZipFile(root / res_dir / f"partition_{part:04d}.zip", "w") as zf:
                index = {}
                for clip, n in clips.items():
                    frames = synth_video(len(clip) + n, n, 64)[:, :, :, :]
                    names = [f"frame_{k:06d}.jpg" for k in range(n)]
                    for k, name in enumerate(names):
                        im = Image.fromarray(frames[k]).resize((w, h))
                        zf.writestr(f"{clip}/{name}", jpg(np.asarray(im)))
                    index[clip] = names
                zf.writestr("frame_paths.json", json.dumps(index))
    ds = open_dataset(root, resolution=16)  # picks 0018x0032: the smallest whose short side covers 16
    check_contract(ds, 16)
    assert ds.format == "sharded" and len(ds) == 3 and "0018x0032" in ds.describe()["archives"][0]
    assert [ds.num_frames(i) for i in range(3)] == [4, 2, 3]
    assert "0036x0064" in open_dataset(root, resolution=32).describe()["archives"][0]
    one = open_dataset(root / "0036x0064" / "partition_0001.zip", resolution=16)  # a single shard
    assert len(one) == 1 and one.video_name(0) == "ride_c"


def test_dataloader_with_two_workers_over_zip(tmp_path):
    path = write_synthetic_dataset(tmp_path / "d.zip", videos=4, frames=5, resolution=16, seed=2, progress=False)
    ds = open_dataset(path)
    ds.read_frames(0, [0])  # the parent has its own handle open before the workers fork

    class Clips(torch.utils.data.Dataset):
        def __len__(self):
            return 16

        def __getitem__(self, g):
            i = g % len(ds)
            return torch.from_numpy(ds.read_frames(i, [g % 5, 0])), i

    loader = torch.utils.data.DataLoader(Clips(), batch_size=4, num_workers=2)
    seen = 0
    for frames, vids in loader:
        assert frames.shape == (4, 2, 16, 16, 3) and frames.dtype == torch.uint8
        for x, i in zip(frames, vids.tolist()):
            np.testing.assert_array_equal(x[1].numpy(), synth_video((2, i), 1, 16)[0])
        seen += len(frames)
    assert seen == 16


# ----------------------------------------------------------------------------------------------------
# prepare


def test_prepare_skips_and_lists_bad_files(video_folder, tmp_path):
    out = tmp_path / "prep"
    result = prepare_dataset(video_folder, out, 16, workers=2, progress=False)
    assert {f for f, _ in result.skipped} == BAD and result.videos == len(GOOD)
    listed = (out / "skipped.txt").read_text().splitlines()
    assert len(listed) == len(BAD) and any(ln.startswith("empty.mp4: ") and "empty" in ln for ln in listed)
    assert any(ln.startswith("truncated.mp4: ") and "truncated" in ln for ln in listed)
    ds = open_dataset(out)
    check_contract(ds, 16)
    assert {ds.video_name(i): ds.num_frames(i) for i in range(len(ds))} == GOOD
    assert len(list((out / "wide").iterdir())) == 30 and (out / "wide" / "000000.jpg").is_file()
    assert ds.describe()["skipped"] == len(BAD)
    meta = json.loads((out / "dataset.json").read_text())
    assert meta["resolution"] == 16 and meta["prepare"]["options"]["resolution"] == 16
    assert "resamples" in result.summary()  # the videos have different rates: the summary says so


def test_prepare_resamples_fps_and_min_frames(video_folder, tmp_path):
    out = tmp_path / "fps.zip"
    result = prepare_dataset(video_folder, out, 8, fps=10, min_frames=4, progress=False, workers=1)
    ds = open_dataset(out)
    lengths = {ds.video_name(i): ds.num_frames(i) for i in range(len(ds))}
    # 30 frames at 30 fps = 1 s → 10 frames at 10 fps; 8 at 12.5 → 7 (t = 0, .1, … .6 s); 5 at 24 → 3 (skipped)
    assert lengths == {"wide": 10, "odd": 7}
    assert ds.fps == 10.0 and ds.format == "zip"
    reasons = dict(result.skipped)
    assert "only 1 frames (--min-frames 4)" in reasons["single.mp4"] and "only 3 frames" in reasons["sub/nested.mov"]
    assert (tmp_path / "fps.skipped.txt").is_file() and not (tmp_path / "fps.zip.partial").exists()
    with zipfile.ZipFile(out) as zf:  # upstream layout: one top folder with explicit directory entries
        assert zf.namelist()[0] == "fps/" and "fps/wide/" in zf.namelist()


def test_prepare_resumes_and_survives_interruption(video_folder, tmp_path, monkeypatch):
    src = tmp_path / "src"
    shutil.copytree(video_folder, src)
    out = tmp_path / "out"
    import engine.data.prepare as prep

    calls = {"n": 0}
    real = prep.encode_frame

    def flaky(frame, ext, *a, **k):  # Ctrl-C in the middle of the third good video (odd: 8, single: 1, nested: 5)
        calls["n"] += 1
        if calls["n"] == 8 + 1 + 3:
            raise KeyboardInterrupt
        return real(frame, ext, *a, **k)

    monkeypatch.setattr(prep, "encode_frame", flaky)
    with pytest.raises(KeyboardInterrupt):
        prepare_dataset(src, out, 16, workers=1, progress=False)
    monkeypatch.setattr(prep, "encode_frame", real)
    names = {p.name for p in out.iterdir()}
    assert not any(".tmp-" in n for n in names)  # no half video left behind
    assert {n for n in names if (out / n).is_dir()} == {"odd", "single"}
    assert not (out / "dataset.json").exists()

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (out / f".wide.tmp-{int(dead.stdout)}-abc").mkdir()  # left by a killed worker: removed on the next run
    (out / f".wide.tmp-{os.getpid()}-abc").mkdir()  # a live process's (a concurrent run): left alone
    progress = []
    r2 = prepare_dataset(src, out, 16, workers=1, progress=lambda d, t: progress.append((d, t)))
    assert [p.name for p in out.iterdir() if ".tmp-" in p.name] == [f".wide.tmp-{os.getpid()}-abc"]
    assert r2.videos == len(GOOD) and r2.converted == 3  # nested, truncated, wide; the rest is in the journal
    assert progress[0][0] == r2.reused and progress[-1] == (len(GOOD) + len(BAD),) * 2
    r3 = prepare_dataset(src, out, 16, workers=1, progress=False)
    assert r3.converted == 0 and r3.reused == len(GOOD) + len(BAD)  # skipped files are remembered too

    os.utime(src / "odd.mp4", ns=(1, 1))  # a changed source is redone; others kept
    (src / "corrupt.mp4").unlink()
    r4 = prepare_dataset(src, out, 16, workers=1, progress=False)
    assert r4.converted == 1 and "corrupt.mp4" not in dict(r4.skipped)
    with pytest.raises(DatasetError, match="--res 16"):
        prepare_dataset(src, out, 32, progress=False)


def test_prepare_zip_adds_new_videos_without_redoing(video_folder, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(video_folder / "odd.mp4", src)
    out = tmp_path / "d.zip"
    prepare_dataset(src, out, 8, progress=False)
    stamp = out.stat().st_mtime_ns
    assert prepare_dataset(src, out, 8, progress=False).converted == 0
    assert out.stat().st_mtime_ns == stamp  # nothing new: the zip is not rewritten
    shutil.copy(video_folder / "single.mp4", src)
    r = prepare_dataset(src, out, 8, progress=False)
    assert r.converted == 1 and r.reused == 1
    ds = open_dataset(out)
    assert [ds.video_name(i) for i in range(len(ds))] == ["odd", "single"] and ds.num_frames(0) == 8


def test_nothing_usable_is_one_clear_error(video_folder, tmp_path):
    src = tmp_path / "bad"
    src.mkdir()
    for name in BAD:
        shutil.copy(video_folder / name, src)
    with pytest.raises(DatasetError) as err:
        prepare_dataset(src, tmp_path / "out", 16, progress=False)
    msg = one_line(err)
    assert msg.startswith(f"{src}: no usable videos (4 files skipped") and (tmp_path / "out" / "skipped.txt").is_file()
    with pytest.raises(DatasetError, match="no usable videos"):
        open_dataset(src, resolution=16, cache_dir=tmp_path / "cache", progress=False)


# ----------------------------------------------------------------------------------------------------
# video folders through the cache


def test_video_folder_is_cached(video_folder, tmp_path, monkeypatch):
    src = tmp_path / "src"
    shutil.copytree(video_folder, src)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    ds = open_dataset(src, resolution=16, progress=False)
    check_contract(ds, 16)
    assert ds.format == "videos" and ds.path == src and len(ds.skipped) == len(BAD)
    assert Path(ds.describe()["cache"]).is_relative_to(tmp_path / "xdg" / "sgv-studio" / "datasets")
    assert {ds.video_name(i): ds.num_frames(i) for i in range(len(ds))} == GOOD

    def no_prepare(*a, **k):
        raise AssertionError("the cache should have been reused")

    monkeypatch.setattr(opener_mod, "prepare_dataset", no_prepare)
    again = open_dataset(src, resolution=16, progress=False)
    np.testing.assert_array_equal(again.read_frames(0, [0]), ds.read_frames(0, [0]))
    monkeypatch.undo()

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    (src / "single.mp4").unlink()  # removed sources leave the dataset
    assert len(open_dataset(src, resolution=16, progress=False)) == len(GOOD) - 1
    labels = {"wide.mp4": 0, "odd": 1, "sub/nested.mov": 2}  # by file name, with or without extension
    (src / "dataset.json").write_text(json.dumps({"labels": labels}))
    ds = open_dataset(src, resolution=16, progress=False)
    assert ds.c_dim == 3 and [int(ds.label(i).argmax()) for i in range(len(ds))] == [1, 2, 0]  # odd, nested, wide
    (src / "dataset.json").write_text(json.dumps({"labels": {**labels, "odd": 0}}))  # edited labels are picked up
    assert int(open_dataset(src, resolution=16, progress=False).label(0).argmax()) == 0
    other = open_dataset(src, resolution=8, cache_dir=tmp_path / "c2", progress=False)
    assert other.resolution == 8 and Path(other.cache).parent == tmp_path / "c2"
    one = open_dataset(src / "odd.mp4", resolution=8, cache_dir=tmp_path / "c2", progress=False)  # a single file
    assert len(one) == 1 and one.num_frames(0) == 8


# ----------------------------------------------------------------------------------------------------
# errors and the CLI


def test_clear_errors(tmp_path):
    cases = []
    cases.append((tmp_path / "missing", "no such file or folder"))
    (tmp_path / "empty").mkdir()
    cases.append((tmp_path / "empty", "empty folder"))
    (tmp_path / "bad.zip").write_bytes(b"PK\x03\x04 this is not really a zip")
    cases.append((tmp_path / "bad.zip", "not a valid zip"))
    with zipfile.ZipFile(tmp_path / "nofr.zip", "w") as zf:
        zf.writestr("readme.txt", "hi")
    cases.append((tmp_path / "nofr.zip", "no frame folders"))
    (tmp_path / "loose").mkdir()
    (tmp_path / "loose" / "0.png").write_bytes(png(np.zeros((4, 4, 3), np.uint8)))
    cases.append((tmp_path / "loose", "no video folders"))
    for path, problem in cases:
        with pytest.raises(DatasetError) as err:
            open_dataset(path, resolution=8)
        msg = one_line(err)
        assert msg.startswith(str(path)) and problem in msg, msg
    with pytest.raises(DatasetError, match="needs a resolution"):
        open_dataset(write_synthetic_dataset(tmp_path / "m", 1, 2, 8, format="mp4", progress=False))
    # a damaged member inside an otherwise valid zip is named when read
    path = write_synthetic_dataset(tmp_path / "ok.zip", 1, 2, 8, progress=False)
    data = bytearray(path.read_bytes())
    at = data.find(b"IDAT")
    data[at + 8 : at + 16] = b"\x00" * 8
    path.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match="checksum|damaged") as err:
        open_dataset(path).read_frames(0, [0])
    one_line(err)
    labels = tmp_path / "lab"
    write_synthetic_dataset(labels, 2, 1, 8, progress=False)
    (labels / "dataset.json").write_text(json.dumps({"labels": {"video_00000": 1}}))
    with pytest.raises(DatasetError, match="no label for video 'video_00001'"):
        open_dataset(labels)


def test_cli_synth_info_prepare(tmp_path, capsys, video_folder):
    out = tmp_path / "s.zip"
    assert (
        sgv_main(["dataset", "synth", "--out", str(out), "--videos", "2", "--frames", "3", "--res", "16", "--quiet"])
        == 0
    )
    assert sgv_main(["dataset", "info", str(out)]) == 0
    text = capsys.readouterr().out
    assert (
        "videos        2" in text
        and "min 3, median 3, max 3" in text
        and "16x16" in text
        and "fps           25" in text
    )
    assert sgv_main(["dataset", "info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["videos"] == 2 and info["frames"] == 6 and info["format"] == "zip"
    assert sgv_main(["dataset", "info", str(video_folder), "--json"]) == 0  # probes the files directly
    info = json.loads(capsys.readouterr().out)
    assert info["videos"] == len(GOOD) and {f for f, _ in info["skipped"]} == BAD and info["max_frames"] == 30
    assert (
        sgv_main(["dataset", "prepare", str(video_folder), "--out", str(tmp_path / "p"), "--res", "8", "--quiet"]) == 0
    )
    err = capsys.readouterr().err
    assert f"{len(GOOD)} videos" in err and f"{len(BAD)} skipped" in err
    assert sgv_main(["dataset", "info", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sgv: ") and "no such file" in err and "\n" not in err
    for sub in ("prepare", "synth", "info"):
        with pytest.raises(SystemExit):
            sgv_main(["dataset", sub, "--help"])
        assert "examples:" in capsys.readouterr().out
