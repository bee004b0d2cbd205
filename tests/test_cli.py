"""`sgv` end to end: generate, info, help texts, and one-line errors."""

import subprocess
import sys

from engine.media import probe_video


def sgv(*args, check=True):
    res = subprocess.run([sys.executable, "-m", "engine.cli", *map(str, args)], capture_output=True, text=True)
    if check:
        assert res.returncode == 0, res.stderr
    return res


def test_generate_mp4_and_grid(tiny_model_file, tmp_path):
    sgv(
        "generate",
        "--ckpt",
        tiny_model_file,
        "--out",
        tmp_path / "a.mp4",
        "--seeds",
        "3",
        "--frames",
        12,
        "--fps",
        60,
        "--t-start",
        "1e6",
        "--quiet",
    )
    info = probe_video(tmp_path / "a.mp4")
    assert info["frames"] == 12 and info["width"] == 32
    sgv(
        "generate",
        "--ckpt",
        tiny_model_file,
        "--out",
        tmp_path / "g.mp4",
        "--seeds",
        "0-2",
        "--motion-seed",
        "0-1",
        "--grid",
        "--duration",
        "0.5",
        "--quiet",
    )
    g = probe_video(tmp_path / "g.mp4")
    assert (g["width"], g["height"]) == (3 * 34 - 2, 2 * 34 - 2) and g["frames"] == 12  # 0.5 s at 25 fps
    sgv(
        "generate",
        "--ckpt",
        tiny_model_file,
        "--out",
        tmp_path / "frames",
        "--seeds",
        "1,2",
        "--frames",
        3,
        "--format",
        "png",
        "--time-scale",
        "-1",
        "--quiet",
    )
    assert len(list((tmp_path / "frames" / "seed0002").glob("*.png"))) == 3


def test_info(tiny_model_file):
    out = sgv("info", "--ckpt", tiny_model_file).stdout
    assert "32x32" in out and "fingerprint" in out and "anchors every 16 frames" in out


def test_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"garbage" * 10)
    for args in [
        ("info", "--ckpt", bad),
        ("generate", "--ckpt", bad, "--out", tmp_path / "x.mp4"),
        ("generate", "--ckpt", tmp_path / "missing.safetensors", "--out", tmp_path / "x.mp4"),
    ]:
        res = sgv(*args, check=False)
        assert res.returncode == 2
        lines = [line for line in res.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and "Traceback" not in res.stderr and lines[0].startswith("sgv: "), res.stderr


def test_help_has_runnable_examples():
    for cmd in ["generate", "info"]:
        text = sgv(cmd, "--help").stdout
        assert "examples:" in text and f"sgv {cmd} " in text
