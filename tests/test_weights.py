"""engine.weights: resolve / status / fetch, offline errors, hash checks, and `sgv weights`."""

import dataclasses
import hashlib
import socket
import warnings

import pytest
import torch

from engine import weights
from engine.cli import main


@pytest.fixture
def cache(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv("SGV_WEIGHTS_DIR", str(d))
    return d


def _with_entry(monkeypatch, **changes):
    e = dataclasses.replace(weights.REGISTRY["i3d"], **changes)
    monkeypatch.setitem(weights.REGISTRY, "i3d", e)
    return e


def test_registry_has_the_required_entries():
    for name in ("clip-vit-b-32-openai", "lpips-vgg", "vgg16", "i3d", "inception"):
        e = weights.REGISTRY[name]
        assert e.url.startswith("https://") and e.filename and e.feature and e.kind
    assert weights.REGISTRY["clip-vit-b-32-openai"].sha256 in weights.REGISTRY["clip-vit-b-32-openai"].url


def test_cache_dir_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SGV_WEIGHTS_DIR", str(tmp_path / "w"))
    assert weights.cache_dir() == tmp_path / "w"
    monkeypatch.delenv("SGV_WEIGHTS_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert weights.cache_dir() == tmp_path / "xdg" / "sgv-studio" / "weights"


def test_resolve_explicit_path_cached_and_missing(cache, tmp_path):
    f = tmp_path / "my_i3d.pt"
    f.write_bytes(b"x")
    assert weights.resolve("i3d", f) == f
    with pytest.raises(weights.WeightsMissing, match="not found"):
        weights.resolve("i3d", tmp_path / "nope.pt")
    with pytest.raises(weights.WeightsMissing) as err:
        weights.resolve("i3d")
    msg = str(err.value)
    assert "i3d_torchscript.pt" in msg and str(cache) in msg and "sgv weights fetch i3d" in msg
    assert "\n" not in msg
    cache.mkdir()
    (cache / "i3d_torchscript.pt").write_bytes(b"abc")
    assert weights.resolve("i3d") == cache / "i3d_torchscript.pt"
    with pytest.raises(weights.WeightsError, match="unknown weights name"):
        weights.resolve("nonexistent")


def test_lpips_linear_layers_resolve_to_the_package_copy(cache):
    p = weights.resolve("lpips-vgg")
    assert p.name == "vgg.pth" and "lpips" in str(p)
    sd = weights.load_state_dict("lpips-vgg")
    assert set(sd) == {f"lin{k}.model.1.weight" for k in range(5)}


def test_status_rows(cache):
    rows = {r["name"]: r for r in weights.status()}
    assert set(rows) == set(weights.REGISTRY)
    assert rows["lpips-vgg"]["present"] and rows["lpips-vgg"]["size"] > 0
    assert not rows["i3d"]["present"] and rows["i3d"]["path"] == str(cache / "i3d_torchscript.pt")


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_fetch_offline_is_one_clear_line(cache, monkeypatch):
    _with_entry(monkeypatch, url=f"http://127.0.0.1:{_closed_port()}/i3d_torchscript.pt")
    with pytest.raises(weights.WeightsError) as err:
        weights.fetch("i3d", timeout_s=5)
    msg = str(err.value)
    assert "i3d_torchscript.pt" in msg and "cannot download" in msg and str(cache) in msg and "\n" not in msg
    assert not list(cache.glob("*")) if cache.exists() else True


def test_fetch_verifies_sha256_and_is_atomic(cache, monkeypatch, tmp_path):
    src = tmp_path / "src.pt"
    src.write_bytes(b"good weights" * 1000)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    _with_entry(monkeypatch, url=src.as_uri(), sha256=digest)
    seen = []
    path = weights.fetch("i3d", progress=lambda done, total: seen.append((done, total)))
    assert path.read_bytes() == src.read_bytes() and seen and seen[-1][0] == src.stat().st_size

    src.write_bytes(b"tampered")
    with pytest.raises(weights.WeightsError, match="does not match.*refused"):
        weights.fetch("i3d")
    assert path.read_bytes() == b"good weights" * 1000  # the previous good copy is untouched
    assert sorted(p.name for p in cache.iterdir()) == ["i3d_torchscript.pt"]  # no temp files left

    _with_entry(monkeypatch, url=src.as_uri(), sha256=None, sha256_prefix="0000")
    with pytest.raises(weights.WeightsError, match="expected 0000"):
        weights.fetch("i3d")


def test_load_state_dict_and_torchscript(cache, tmp_path):
    sd_file, ts_file, bad = tmp_path / "sd.pt", tmp_path / "ts.pt", tmp_path / "bad.pt"
    lin = torch.nn.Linear(3, 2)
    torch.save(lin.state_dict(), sd_file)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit.script's deprecation notice
        torch.jit.script(lin).save(str(ts_file))
    bad.write_bytes(b"not a torch file")
    assert torch.equal(weights.load_state_dict("vgg16", sd_file)["weight"], lin.weight)
    assert torch.equal(weights.load_state_dict("i3d", ts_file)["weight"], lin.weight)  # TorchScript archive
    net = weights.load_torchscript("i3d", ts_file)
    assert torch.allclose(net(torch.ones(1, 3)), lin(torch.ones(1, 3)))
    with pytest.raises(weights.WeightsError, match="bad.pt: not a readable weights file"):
        weights.load_state_dict("vgg16", bad)
    with pytest.raises(weights.WeightsError, match="not a TorchScript file"):
        weights.load_torchscript("i3d", sd_file)


def test_cli_status_and_fetch(cache, monkeypatch, capsys):
    assert main(["weights", "status"]) == 0
    out = capsys.readouterr().out
    assert "clip-vit-b-32-openai" in out and "missing" in out and str(cache) in out
    assert main(["weights", "fetch", "bogus"]) == 2
    assert "unknown weights name" in capsys.readouterr().err
    _with_entry(monkeypatch, url=f"http://127.0.0.1:{_closed_port()}/x")
    assert main(["weights", "fetch", "i3d", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("sgv: i3d_torchscript.pt: cannot download")
