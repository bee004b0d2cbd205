"""Model files: bit-identical round trip, atomic writes, one clear line for every kind of bad file."""

import hashlib
import json
import struct

import pytest
import torch
from safetensors.torch import save_file

import engine
from engine.checkpoint import FORMAT, fingerprint, read_model_file
from engine.errors import CheckpointError


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_save_load_is_bit_identical(tiny_G, tiny_model_file):
    G2 = engine.load_generator(tiny_model_file, device="cpu")
    assert G2.config == tiny_G.config
    sd1, sd2 = tiny_G.state_dict(), G2.state_dict()
    assert sd1.keys() == sd2.keys()
    assert all(torch.equal(sd1[k], sd2[k]) for k in sd1)
    a = engine.Video(tiny_G, content=3, motion=1).frames([0.0, 5.5])
    b = engine.Video(G2, content=3, motion=1).frames([0.0, 5.5])
    assert torch.equal(a, b)
    assert engine.generator_fingerprint(G2) == read_model_file(tiny_model_file)[2]["fingerprint"]


def test_conditional_and_config_round_trip(tmp_path):
    cfg = engine.preset("tiny", c_dim=4, min_period=256).generator
    G = engine.Generator(cfg).eval()
    engine.save_generator(G, tmp_path / "c.safetensors")
    G2 = engine.load_generator(tmp_path / "c.safetensors", device="cpu")
    assert G2.config == cfg and G2.c_dim == 4 and G2.delta_z == 256


def _bad_files(tmp_path, good):
    data = good.read_bytes()
    files = {}
    files["missing"] = tmp_path / "nope.safetensors"
    files["directory"] = tmp_path
    (tmp_path / "empty.safetensors").write_bytes(b"")
    files["empty"] = tmp_path / "empty.safetensors"
    (tmp_path / "trunc.safetensors").write_bytes(data[: len(data) // 2])
    files["truncated"] = tmp_path / "trunc.safetensors"
    (tmp_path / "trunc_header.safetensors").write_bytes(data[:20])
    files["truncated header"] = tmp_path / "trunc_header.safetensors"
    (tmp_path / "text.safetensors").write_bytes(b"hello, I am not a model\n" * 10)
    files["text"] = tmp_path / "text.safetensors"
    save_file({"x": torch.zeros(3)}, str(tmp_path / "foreign.safetensors"))
    files["foreign"] = tmp_path / "foreign.safetensors"
    save_file({"x": torch.zeros(3)}, str(tmp_path / "other.safetensors"), metadata={"format": "pt"})
    files["other format"] = tmp_path / "other.safetensors"
    flipped = bytearray(data)
    flipped[-5] ^= 0x40
    (tmp_path / "flipped.safetensors").write_bytes(bytes(flipped))
    files["flipped byte"] = tmp_path / "flipped.safetensors"
    header_len = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8 : 8 + header_len])
    meta = header["__metadata__"]
    for name, change in {
        "newer": {"format_version": "99"},
        "bad config": {"config": "{not json"},
        "unknown key": {"config": json.dumps({**json.loads(meta["config"]), "colour": 1})},
    }.items():
        h = dict(header)
        h["__metadata__"] = {**meta, **change}
        raw = json.dumps(h).encode()
        raw += b" " * ((8 - len(raw) % 8) % 8)
        path = tmp_path / f"{name.replace(' ', '_')}.safetensors"
        path.write_bytes(struct.pack("<Q", len(raw)) + raw + data[8 + header_len :])
        files[name] = path
    wrong = engine.Generator(engine.preset("tiny").generator)
    tensors = {k: v.contiguous() for k, v in wrong.state_dict().items()}
    tensors["mapping.fc0.weight"] = torch.zeros(5, 5)
    meta_ok = {**meta, "fingerprint": fingerprint(meta["config"], tensors)}  # intact file, wrong shapes
    save_file(tensors, str(tmp_path / "shape.safetensors"), metadata=meta_ok)
    files["shape mismatch"] = tmp_path / "shape.safetensors"
    files["pickle"] = tmp_path / "network.pkl"
    files["pickle"].write_bytes(b"\x80\x04K\x01.")
    return files


def test_bad_files_give_one_clear_line(tmp_path, tiny_model_file):
    before = _sha(tiny_model_file)
    for kind, path in _bad_files(tmp_path, tiny_model_file).items():
        snapshot = _sha(path) if path.is_file() else None
        with pytest.raises(CheckpointError) as e:
            engine.load_generator(path, device="cpu")
        msg = str(e.value)
        assert "\n" not in msg and str(path) in msg, (kind, msg)
        assert len(msg) < 300, (kind, msg)
        if snapshot is not None:
            assert _sha(path) == snapshot, f"{kind}: loading modified the file"
    assert _sha(tiny_model_file) == before


@pytest.mark.parametrize(
    "kind,needle",
    [
        ("truncated", "truncated"),
        ("foreign", "not an sgv-studio model"),
        ("newer", "newer"),
        ("flipped byte", "corrupt"),
        ("shape mismatch", "the config needs"),
        ("missing", "no such file"),
        ("unknown key", "unknown key"),
        ("pickle", "not an upstream StyleGAN-V snapshot"),  # .pkl files are imported by engine.legacy
    ],
)
def test_error_names_the_problem(tmp_path, tiny_model_file, kind, needle):
    path = _bad_files(tmp_path, tiny_model_file)[kind]
    with pytest.raises(CheckpointError, match=needle):
        engine.load_generator(path, device="cpu")


def test_failed_save_keeps_previous_file(tmp_path, tiny_G, monkeypatch):
    path = tmp_path / "m.safetensors"
    engine.save_generator(tiny_G, path)
    before = _sha(path)

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("engine.checkpoint.save_file", boom)
    with pytest.raises(KeyboardInterrupt):
        engine.save_generator(tiny_G, path)
    assert _sha(path) == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


def test_metadata_format(tiny_model_file):
    _, _, meta = read_model_file(tiny_model_file)
    assert meta["format"] == FORMAT and meta["format_version"] == "1"
    assert json.loads(meta["provenance"]) == {"made_by": "tests"}
    assert json.loads(meta["config"])["synthesis"]["img_resolution"] == 32
