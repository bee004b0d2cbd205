"""Upstream pickles: read safely (nothing in them runs) and rendered exactly as upstream renders them.

The pickles here are written by the tests from the record layout of upstream's persistence: persistent objects
as `_reconstruct_persistent_obj(meta)` with dummy source text, OmegaConf configs as DictConfig/AnyNode
records with `${...}` interpolations, tensors as torch's own pickles (legacy storage blobs). No upstream
code is involved at test time. (Checked once outside the project: upstream's own unpickler, with real
omegaconf 2.1.2, loads these pickles and resolves their configs; our reader loads snapshots written by
upstream's training-loop code.)

Reference numbers (tests/data/legacy_*.safetensors) were made by running upstream universome/stylegan-v
@ 3fecd69 outside the project (omegaconf 2.1.2 in a separate folder), with this venv's torch 2.14.1, on
the CPU in fp32 (`force_fp32=True`, `noise_mode='const'`), in eval mode:

- `legacy_small` / `legacy_small_cond` (32², z = w = 32, time_enc.dim 16, channel_base 512, channel_max
  32, num_fp16_res 0, c_dim 0 / 3): upstream's Generator built with torch.manual_seed(0) / (1), every
  bias += 0.1·randn, w_avg = 0.1·randn; `G.*` = its state dict; z ~ randn [2, 32], c one-hot rows
  (cond), motion_z ~ randn [2, L, 32] with L = ceil(max t / 16) + 2 + 20; `t` [2, 9] float64 shared by
  both videos; `img` = G(z, c, t, motion_z=motion_z) [18, 3, 32, 32]; `motion_v` likewise [18, 32].
- `legacy_paper256`: paper256's generator (channel_base 16384, 2 mapping layers, δz 16, periods
  16..1024, num_fp16_res 4) with the weights of `seeded_state_dict(G, 256)` below and z, motion_z from
  `paper256_inputs()`; frames at t = 0, 37.25, 9999.5 and 10000 stored as a stride-4 subsample
  (`img_sub`, [4, 3, 64, 64]) and a full-resolution 64² crop (`img_crop`, rows/cols 96..159), plus the
  full frames' mean and std and `motion_v`.

Tolerances (images of these random networks span about [-4.5, 4.5]). A parity bound must hold on any CPU
and build and still catch wrong arithmetic, so none of them is a fixed number between anchors:
- motion codes v_t (our float64 path and `G.motion(..., upstream_arithmetic=True)`) are compared with
  upstream's entry by entry, within a bound derived from the float32 error of the phases at that t (see
  `_motion_bound`: the dot products feeding a and φ differ by a few ulps between CPU kernels, and that
  difference is multiplied by ω·t, up to 1e4 rad here); at anchor times the bound is the aligners' own;
- the synthesis, fed upstream's motion codes, is within 1e-4 of upstream's frames at every t;
- frames drawn from our own codes are within 1e-4 plus what the motion bound can move that frame
  (measured in the test by pushing every code entry by its bound).
`test_parity_check_catches_a_wrong_weight` shows that one weight off by 1e-3 fails these checks.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import pickle
import re
import struct
import sys
import zipfile
import zlib
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

import engine
from engine import legacy
from engine.config import GeneratorConfig, MappingConfig, MotionConfig, SynthesisConfig
from engine.legacy import LegacyError
from engine.motion_codes import MotionCodes

DATA = Path(__file__).parent / "data"
# Opening a .pkl through engine.load_generator warns (import once is faster); tests that check it use pytest.warns.
pytestmark = pytest.mark.filterwarnings("ignore::engine.legacy.PickleImportNote")

# ----------------------------------------------------------------------------------------------------
# Writing upstream-format pickles from the record layout (docs/formats.md), without upstream code


class Ref:
    """A global written by name into the pickle; the named module need not exist here."""

    def __init__(self, module: str, name: str):
        self.module, self.name = module, name


class Obj:
    """An object pickled as NEWOBJ(cls) + BUILD(state), as copyreg does for plain classes (OmegaConf, Adam)."""

    def __init__(self, cls: Ref, state=None):
        self.cls, self.state = cls, state if state is not None else {}


class Call:
    """REDUCE: func(*args), e.g. a defaultdict or an attacker's os.system."""

    def __init__(self, func, args: tuple):
        self.func, self.args = func, args


class EasyDict(dict):
    """Pickled as upstream's dnnlib EasyDict (a dict subclass)."""


class Persistent:
    """A persistent-class instance: `_reconstruct_persistent_obj(meta)` (torch_utils.persistence, version 6)."""

    def __init__(self, class_name: str, state: dict, module_src: str):
        self.meta = dict(type="class", version=6, module_src=module_src, class_name=class_name, state=state)


class CudaTensor:
    """A tensor pickled as if it lived on the GPU (location 'cuda:0', torch.cuda.FloatStorage)."""

    def __init__(self, t: torch.Tensor):
        self.t = t.detach().contiguous()


DUMMY_SRC = "raise RuntimeError('upstream module source must never be executed')\n"


class UpstreamPickler(pickle._Pickler):
    dispatch = pickle._Pickler.dispatch.copy()

    def save_ref(self, obj: Ref) -> None:
        if self.proto >= 4:
            self.save(obj.module)
            self.save(obj.name)
            self.write(pickle.STACK_GLOBAL)
        else:
            self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
        self.memoize(obj)

    def save_obj(self, obj: Obj) -> None:
        self.save(obj.cls)
        self.save(())
        self.write(pickle.NEWOBJ)
        self.memoize(obj)
        self.save(obj.state)
        self.write(pickle.BUILD)

    def save_call(self, obj: Call) -> None:
        self.save(obj.func)
        self.save(obj.args)
        self.write(pickle.REDUCE)
        self.memoize(obj)

    def save_easydict(self, obj: EasyDict) -> None:
        self.save(Ref("src.dnnlib.util", "EasyDict"))
        self.save(())
        self.write(pickle.NEWOBJ)
        self.memoize(obj)
        self._batch_setitems(iter(obj.items()))

    def save_persistent(self, obj: Persistent) -> None:
        self.save(Ref("src.torch_utils.persistence", "_reconstruct_persistent_obj"))
        self.save((obj.meta,))
        self.write(pickle.REDUCE)
        self.memoize(obj)

    def save_cuda_tensor(self, obj: CudaTensor) -> None:
        t = obj.t
        storage = Call(Ref("torch.storage", "_load_from_bytes"), (legacy_storage_blob(t, "cuda:0"),))
        args = (storage, 0, tuple(t.shape), t.stride(), False, OrderedDict())
        self.save_call(Call(Ref("torch._utils", "_rebuild_tensor_v2"), args))

    dispatch[Ref] = save_ref
    dispatch[Obj] = save_obj
    dispatch[Call] = save_call
    dispatch[EasyDict] = save_easydict
    dispatch[Persistent] = save_persistent
    dispatch[CudaTensor] = save_cuda_tensor


def dumps(obj, protocol: int = 4) -> bytes:
    buf = io.BytesIO()
    UpstreamPickler(buf, protocol=protocol).dump(obj)
    return buf.getvalue()


def legacy_storage_blob(t: torch.Tensor, location: str) -> bytes:
    """torch's legacy torch.save layout of one float32 storage, written by hand (any location string)."""

    class Marker:
        pass

    marker, buf = Marker(), io.BytesIO()
    for header in (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True}):
        pickle.dump(header, buf, protocol=2)
    module = "torch.cuda" if location.startswith("cuda") else "torch"
    p = UpstreamPickler(buf, protocol=2)
    p.persistent_id = lambda o: (
        ("storage", Ref(module, "FloatStorage"), "k0", location, t.numel(), None) if o is marker else None
    )
    p.dump(marker)
    pickle.dump(["k0"], buf, protocol=2)
    buf.write(struct.pack("<q", t.numel()) + t.to(torch.float32).numpy().tobytes())
    return buf.getvalue()


def omega(value, parent=None, key=None, v20: bool = False):
    """An OmegaConf tree as pickled by omegaconf 2.1 (or 2.0 with `v20`): containers and AnyNodes with _parent links."""
    any_t = Ref("typing", "Any")
    cache = Call(Ref("collections", "defaultdict"), (Ref("builtins", "dict"),)) if v20 else {}
    if isinstance(value, (dict, list)):
        cls = (
            ("omegaconf.dictconfig", "DictConfig")
            if isinstance(value, dict)
            else ("omegaconf.listconfig", "ListConfig")
        )
        node = Obj(Ref(*cls))
        meta = {
            "ref_type": any_t,
            "object_type": None,
            "optional": True,
            "key": key,
            "flags": {},
            "resolver_cache": cache,
        }
        meta.update({"key_type": any_t, "element_type": any_t} | ({} if v20 else {"flags_root": False}))
        items = value.items() if isinstance(value, dict) else enumerate(value)
        content = {k: omega(v, node, k, v20) for k, v in items}
        node.state.update(
            _metadata=Obj(Ref("omegaconf.base", "ContainerMetadata"), meta),
            _parent=parent,
            _content=content if isinstance(value, dict) else list(content.values()),
        )
        return node
    meta = {"ref_type": any_t, "object_type": None, "optional": True, "key": key, "flags": {}, "resolver_cache": cache}
    return Obj(
        Ref("omegaconf.nodes", "AnyNode"),
        {"_metadata": Obj(Ref("omegaconf.base", "Metadata"), meta), "_parent": parent, "_val": value},
    )


def experiment_config(g: dict, c_dim: int = 0, min_period: float = 16, fps: int = 30, delta_z=None) -> dict:
    """A root config as upstream's experiment_config.yaml holds it (interpolations unresolved)."""
    generator = {
        "source": "networks",
        "use_noise": False,
        "w_dim": g["w"],
        "c_dim": "${dataset.c_dim}",
        "input": {"type": "temporal"},
        "motion": {
            "time_enc": {},
            "z_dim": g["mz"],
            "v_dim": g["mv"],
            "motion_z_distance": delta_z if delta_z is not None else "${model.generator.time_enc.min_period_len}",
            "gen_strategy": "conv",
            "kernel_size": 11,
            "use_fractional_t": True,
            "fourier": True,
        },
        "sampling": "${sampling}",
        "z_dim": g["z"],
        "time_enc": {
            "cond_type": "concat_const",
            "dim": g["te"],
            "min_period_len": min_period,
            "max_period_len": 1024,
            "phase_dropout_std": 1.0,
        },
    }
    return {
        "model": {"name": "stylegan-v", "generator": generator, "discriminator": {"sampling": "${sampling}"}},
        "dataset": {
            "name": "ffs_${dataset.resolution}_unstable",
            "c_dim": c_dim,
            "max_num_frames": 1024,
            "fps": fps,
            "resolution": g["res"],
        },
        "sampling": {
            "name": "random3_max32",
            "fps": "${dataset.fps}",
            "max_num_frames": "${dataset.max_num_frames}",
            "num_frames_per_video": 3,
            "type": "random",
            "total_dists": [1, 2, 4, 8],
            "max_dist": 32,
        },
        "env": {"project_path": "${hydra:runtime.cwd}"},
    }


SMALL = dict(res=32, z=32, w=32, mz=32, mv=32, te=16, base=512, max=32, fp16=0)
PAPER256 = dict(res=256, z=512, w=512, mz=512, mv=512, te=256, base=16384, max=512, fp16=4)

_BUFFERS = ("resample_filter", "freqs", "phase_scales", "w_avg")


def _class_name(path: str) -> str:
    last = path.rsplit(".", 1)[-1]
    if path == "":
        return "Generator"
    named = {"synthesis": "SynthesisNetwork", "mapping": "MappingNetwork", "motion_encoder": "MotionMappingNetwork"}
    named |= {
        "time_encoder": "AlignedTimeEncoder",
        "torgb": "ToRGBLayer",
        "conv0": "SynthesisLayer",
        "conv1": "SynthesisLayer",
    }
    if path.endswith("b4.input"):
        return "GenInput"
    if path.endswith("b4.input.input"):
        return "TemporalInput"
    if path.endswith("motion_encoder.conv.0") or path.endswith("motion_encoder.conv.1"):
        return "EqLRConv1d"
    if last in named:
        return named[last]
    if last.startswith("b") and last[1:].isdigit():
        return "SynthesisBlock"
    return "FullyConnectedLayer"


def module_records(state_dict: dict, attrs: dict, cuda: bool = False, src: str = DUMMY_SRC):
    """The nested persistent records of a module tree whose flat state dict is given (upstream names)."""
    tree: dict = {}
    for name, value in state_dict.items():
        *path, leaf = name.split(".")
        node = tree
        for part in path:
            node = node.setdefault(part, {})
        node[leaf] = value

    def build(node: dict, path: str):
        params, buffers, children = OrderedDict(), OrderedDict(), OrderedDict()
        for key, value in node.items():
            if isinstance(value, dict):
                children[key] = build(value, f"{path}.{key}" if path else key)
            elif key in _BUFFERS:
                buffers[key] = CudaTensor(value) if cuda else value
            elif cuda:
                params[key] = Call(Ref("torch._utils", "_rebuild_parameter"), (CudaTensor(value), False, OrderedDict()))
            else:
                params[key] = torch.nn.Parameter(value, requires_grad=False)
        state = {"training": False, "_parameters": params, "_buffers": buffers, "_non_persistent_buffers_set": set()}
        state |= {
            h: OrderedDict() for h in ("_backward_hooks", "_forward_hooks", "_forward_pre_hooks", "_state_dict_hooks")
        }
        state |= {"_modules": children, "_init_args": (), "_init_kwargs": {}}
        state |= attrs.get(path, {})
        if path.endswith("motion_encoder.conv"):  # torch.nn.Sequential: pickled by reference, not persistent
            return Obj(Ref("torch.nn.modules.container", "Sequential"), state)
        return Persistent(_class_name(path), state, src)

    return build(tree, "")


def snapshot(
    state_dict: dict,
    g: dict,
    c_dim: int = 0,
    *,
    min_period: float = 16,
    delta_z=None,
    fps: int = 30,
    cfg_override: dict | None = None,
    cuda: bool = False,
    extras: bool = True,
    src: str = DUMMY_SRC,
    v20: bool = False,
):
    """A network-snapshot dict laid out as upstream's training_loop.py writes it (docs/formats.md)."""
    root_dict = experiment_config(g, c_dim, min_period, fps, delta_z)
    for path, value in (cfg_override or {}).items():
        node = root_dict["model"]["generator"]
        *parents, leaf = path.split(".")
        for p in parents:
            node = node[p]
        node[leaf] = value
    root = omega(root_dict, v20=v20)
    gen_cfg = root.state["_content"]["model"].state["_content"]["generator"]
    num_ws = 2 * int(np.log2(g["res"])) - 2
    G_kwargs = {
        "w_dim": g["w"],
        "mapping_kwargs": EasyDict(num_layers=2, cfg=gen_cfg),
        "synthesis_kwargs": EasyDict(
            channel_base=g["base"], channel_max=g["max"], num_fp16_res=g["fp16"], conv_clamp=256
        ),
        "cfg": gen_cfg,
        "c_dim": c_dim,
        "img_resolution": g["res"],
        "img_channels": 3,
    }
    sampling = {"name": "random3_max32", "fps": fps, "max_num_frames": 1024, "num_frames_per_video": 3}
    attrs = {
        "": {
            "cfg": gen_cfg,
            "sampling_dict": sampling,
            "z_dim": g["z"],
            "c_dim": c_dim,
            "w_dim": g["w"],
            "img_resolution": g["res"],
            "img_channels": 3,
            "num_ws": num_ws,
            "_init_kwargs": G_kwargs,
        },
        "mapping": {
            "cfg": gen_cfg,
            "z_dim": g["z"],
            "c_dim": c_dim,
            "w_dim": g["w"],
            "num_ws": num_ws,
            "num_layers": 2,
            "w_avg_beta": 0.995,
            "_init_kwargs": {
                "z_dim": g["z"],
                "c_dim": c_dim,
                "w_dim": g["w"],
                "num_ws": num_ws,
                "num_layers": 2,
                "cfg": gen_cfg,
            },
        },
        "synthesis": {"cfg": gen_cfg, "w_dim": g["w"], "img_resolution": g["res"], "num_ws": num_ws},
        "synthesis.motion_encoder.conv.0": {
            "activation": "lrelu",
            "weight_gain": 0.01 / np.sqrt(11 * (g["mz"] + c_dim)),
            "bias_gain": 0.01,
            "padding": 0,
            "stride": 1,
        },
        "synthesis.motion_encoder.conv.1": {
            "activation": "lrelu",
            "weight_gain": 0.01 / np.sqrt(11 * g["mz"]),
            "bias_gain": 0.01,
            "padding": 0,
            "stride": 1,
        },
    }
    G_ema = module_records(state_dict, attrs, cuda, src)
    snap = {
        "training_set_kwargs": {
            "class_name": "training.dataset.VideoFramesFolderDataset",
            "path": "data/ffs_256_unstable.zip",
            "cfg": root.state["_content"]["dataset"],
            "use_labels": c_dim > 0,
            "max_size": 100,
            "xflip": True,
            "resolution": g["res"],
        }
    }
    if extras:  # what else a snapshot holds: a differently-trained G, D, the augment pipe, optimizers, vis grids
        zeros = {k: torch.zeros_like(v) for k, v in state_dict.items()}
        time_enc = Obj(
            Ref("src.training.layers", "TemporalDifferenceEncoder"),
            {
                "_parameters": OrderedDict(),
                "_buffers": OrderedDict(),
                "_modules": OrderedDict(
                    const_embed=Obj(
                        Ref("torch.nn.modules.sparse", "Embedding"),
                        {
                            "_parameters": OrderedDict(weight=torch.nn.Parameter(torch.randn(1024, 4))),
                            "_buffers": OrderedDict(),
                            "_modules": OrderedDict(),
                        },
                    )
                ),
            },
        )
        adam_state = {
            "defaults": {"lr": 0.0025, "betas": (0, 0.99), "eps": 1e-8},
            "state": {0: {"step": torch.tensor(3.0), "exp_avg": CudaTensor(torch.ones(4))}},
            "param_groups": [{"params": [0]}],
        }
        snap |= {
            "G": module_records(zeros, attrs),
            "D": Persistent(
                "Discriminator",
                {
                    "_parameters": OrderedDict(),
                    "_buffers": OrderedDict(),
                    "_modules": OrderedDict(time_encoder=time_enc),
                },
                src,
            ),
            "augment_pipe": Persistent(
                "AugmentPipe",
                {"_parameters": OrderedDict(), "_buffers": OrderedDict(p=torch.zeros([])), "_modules": OrderedDict()},
                src,
            ),
            "G_opt": Obj(Ref("torch.optim.adam", "Adam"), adam_state),
            "D_opt": None,
            "vis": {
                "grid_size": (2, 2),
                "labels": np.zeros([4, 0], np.float32),
                "frames_idx": np.arange(4),
                "grid_z": (CudaTensor(torch.randn(1, 8)),),
                "num_videos": 2,
            },
        }
    snap |= {"G_ema": G_ema, "stats": {"cur_nimg": 123_000, "cur_tick": 3, "batch_idx": 10}}
    return snap


def write_snapshot(path: Path, *args, protocol: int = 4, **kwargs) -> Path:
    path.write_bytes(dumps(snapshot(*args, **kwargs), protocol))
    return path


def small_config(c_dim: int = 0) -> GeneratorConfig:
    return GeneratorConfig(
        mapping=MappingConfig(z_dim=32, c_dim=c_dim, w_dim=32),
        motion=MotionConfig(z_dim=32, v_dim=32, time_enc_dim=16),
        synthesis=SynthesisConfig(img_resolution=32, channel_base=512, channel_max=32, num_fp16_res=0),
        native_fps=30.0,
    )


def seeded_state_dict(G: torch.nn.Module, seed: int) -> dict[str, torch.Tensor]:
    """Weights for G's architecture as upstream stores them (equalised LR: randn / lr_multiplier), random
    but identical on every machine: each tensor from numpy's PCG64 keyed by (seed, crc32 of its name).
    Fixed buffers (FIR filters, time-encoder frequencies) are the constructor's."""
    out = {}
    for name, ref in G.state_dict().items():
        if name.endswith(("resample_filter", "freqs", "phase_scales")):
            out[name] = ref.clone()
            continue
        rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
        noise = torch.from_numpy(rng.standard_normal(tuple(ref.shape), dtype=np.float32))
        if name.endswith("bias"):
            noise = noise * 0.1 + (1.0 if ".affine." in name else 0.0)
        elif name.endswith("w_avg"):
            noise = noise * 0.1
        elif (name.startswith("mapping.fc") or ".motion_encoder.conv." in name) and name.endswith("weight"):
            noise = noise / 0.01  # lr_multiplier 0.01
        out[name] = noise
    return out


PAPER256_T = [0.0, 37.25, 9999.5, 10000.0]


def paper256_inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """z [1, 512], motion_z [1, L, 512] (enough noise for t up to 10000) and t [1, 4] float64."""
    rng = np.random.default_rng(20260)
    z = torch.from_numpy(rng.standard_normal((1, 512), dtype=np.float32))
    length = int(np.ceil(max(PAPER256_T) / 16)) + 2 + 20
    motion_z = torch.from_numpy(rng.standard_normal((1, length, 512), dtype=np.float32))
    return z, motion_z, torch.tensor([PAPER256_T], dtype=torch.float64)


def state_digest(state_dict: dict) -> str:
    h = hashlib.sha256()
    for name in sorted(state_dict):
        h.update(name.encode() + state_dict[name].contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _reference(name: str) -> tuple[dict, dict]:
    from safetensors import safe_open

    with safe_open(str(DATA / name), framework="pt") as f:
        meta = f.metadata()
    return load_file(str(DATA / name)), meta


def _frame_errors(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    return (x.reshape(ref.shape) - ref).abs().flatten(1).amax(dim=1)


# How far float32 motion codes may legitimately be from upstream's, per entry. Each sinusoid's phase
# θ_τ = ω·a·τ + φ·s (ω its frequency, s its phase scale, a = 1 + tanh(W_a·u), φ = W_φ·u, u the left
# anchor's code, τ ∈ {t, t_L, t_R}) reaches 1e4 rad. Elementwise float32 products and sums are correctly
# rounded, so they agree on every CPU; what differs is the summation order inside dot products and convs
# (oneDNN picks AVX2 or AVX-512 kernels by CPU, arm64 has its own), which leaves u, a and φ a few ulps
# apart, and sin/cos/tanh, within an ulp of their result. Measured with torch 2.14.1 on one AVX-512 CPU:
# with ONEDNN_MAX_CPU_ISA=AVX2 the small references' motion codes are reproduced bit for bit, with the
# default AVX-512 kernels they differ by up to 2.6e-4 (frames by 1.7e-4); ATEN_CPU_CAPABILITY (which
# selects torch's own sin/cos kernels) changes nothing. A shift δa, δφ (shared by the three evaluations)
# moves v_t by |∂v/∂a|·δa + |∂v/∂φ|·δφ; to first order
#     δa ≤ eps·(1 + a(2 − a)·Σ|W_a||u|),   δφ ≤ eps·(|φ| + Σ|W_φ||u|)   (in ulps of the terms summed)
# and the derivatives are computed here in float64. Our float64 path is further from upstream by
# upstream's own rounding of θ_τ, independent in the three evaluations: ≤ 2·eps·(ω·a·|τ| + |φ|·s) each,
# none at an anchor (there pe(t) − pe(t_L) is 0 exactly). The largest ratio of a measured difference to
# these terms (both paths, the three references, AVX-512, AVX2 and SSE4.1 kernels) is below 2; the bounds
# allow SHARED_ULPS = 16 and ROUNDING_ULPS = 4. The aligners (1 − α)·A(u_L) + α·A(u_R) add their own
# dot-product slack eps·Σ|W_A||u|; the floor covers sin/cos, within an ulp of 1.
SHARED_ULPS = 16
ROUNDING_ULPS = 4
MOTION_FLOOR = 1e-6
EPS32 = torch.finfo(torch.float32).eps


def _motion_bound(G: engine.Generator, motions, t: torch.Tensor, c) -> torch.Tensor:
    """Per motion-code entry [N, T, 2D]: the allowed distance to upstream's codes."""
    enc = G.synthesis.motion_encoder
    te, dz = enc.time_encoder, enc.cfg.delta_z
    t = torch.as_tensor(t, dtype=torch.float64)
    t = t.unsqueeze(0).expand(len(motions), -1) if t.ndim == 1 else t
    u_left, u_right = (x.reshape(-1, x.shape[-1]).to(torch.float64) for x in enc.anchors_for_times(motions, t, c, None))
    u = u_left  # [M, V]: a and φ come from the left anchor

    def abs_dot(fc, x: torch.Tensor = u_left) -> torch.Tensor:  # Σ|W||u| per output
        return x.abs() @ (fc.weight.to(torch.float64).abs() * fc.weight_gain).t()

    omega, s = te.freqs.to(torch.float64), te.phase_scales.to(torch.float64)  # [1, D]
    a = te.periods_predictor(u).tanh() + 1
    phi = te.phase_predictor(u)
    d_a = 1 + a * (2 - a) * abs_dot(te.periods_predictor)
    d_phi = phi.abs() + abs_dot(te.phase_predictor)
    tau = t.reshape(-1, 1)
    alpha = torch.remainder(tau, dz) / dz
    t_left = tau - torch.remainder(tau, dz)
    taus = [(tau, 1.0), (t_left, -(1 - alpha)), (t_left + dz, -alpha)]  # v_t's pe terms and their weights
    thetas = [omega * a * x + phi * s for x, _ in taus]
    out_shared = []
    for f in (torch.cos, torch.sin):  # d sin = cos dθ, d cos = −sin dθ (the sign does not matter here)
        dv_da = sum(w * f(th) * omega * x for (x, w), th in zip(taus, thetas))
        dv_dphi = sum(w * f(th) * s for (x, w), th in zip(taus, thetas))
        out_shared.append(dv_da.abs() * d_a + dv_dphi.abs() * d_phi)
    rounding = sum(abs(w) * (omega * a * x.abs() + phi.abs() * s) for x, w in taus)
    rounding = torch.where(alpha == 0, 0.0, 2 * rounding)
    shared = torch.cat(out_shared, dim=1)
    shared = shared + (1 - alpha) * abs_dot(te.aligners_predictor) + alpha * abs_dot(te.aligners_predictor, u_right)
    rounding = torch.cat([rounding, rounding], dim=1)
    bound = MOTION_FLOOR + SHARED_ULPS * EPS32 * shared + ROUNDING_ULPS * EPS32 * rounding
    return bound.reshape(*t.shape, -1).float()


def _check_parity(G: engine.Generator, d: dict, motions, t: torch.Tensor, c, render, views, label: str) -> None:
    """Every comparison with upstream. `render(ws, v)` draws frames; `views` pairs a view of the frames
    (all of it, a subsample, a crop) with upstream's pixels for it.

    1. motion codes (both paths) within their bounds above, entry by entry;
    2. the synthesis, fed upstream's own motion codes, within 1e-4 at every t (no phases involved);
    3. the frames from our motion codes within 1e-4 plus what the bound of 1. can move that frame: twice the
       largest change of the frame when every code entry is pushed by its bound, with random signs.
    """
    with torch.no_grad():
        ws = G.mapping(d["z"], c)
        v64 = G.motion(motions, t, c)
        v_up = G.motion(motions, t, c, upstream_arithmetic=True)
        v_ref = d["motion_v"].reshape(v64.shape)
        bound = _motion_bound(G, motions, t, c)
        signs = torch.randint(0, 2, v64.shape, generator=torch.Generator().manual_seed(0)) * 2 - 1
        codes = [v64, v_up, v_ref, v_ref + signs * bound]
        frames = render(ws.repeat(len(codes), 1, 1), torch.cat(codes))
        x, x_up, x_ref, x_push = frames.reshape(-1, *frames.shape[-3:]).chunk(len(codes))
    assert (ws - d["ws"]).abs().max() <= 1e-5, label
    t_all = t.reshape(-1).tolist()
    for name, v in (("float64 motion", v64), ("upstream f32 motion", v_up)):
        over = ((v - v_ref).abs() / bound).amax(dim=2).reshape(-1)  # per frame, ≤ 1 passes
        print(f"{label}: {name} codes / bound: {[round(x, 3) for x in over.tolist()]}")
        assert over.max() <= 1, f"{label}: {name} codes off by {over.tolist()}× their bound, t = {t_all}"

    def errors(y: torch.Tensor, against=None) -> torch.Tensor:
        return torch.stack(
            [_frame_errors(view(y), ref if against is None else view(against)) for view, ref in views]
        ).amax(0)

    err_ref = errors(x_ref)
    assert err_ref.max() <= 1e-4, f"{label}: synthesis from upstream's codes: {err_ref.tolist()}"
    allowed = 1e-4 + 2 * errors(x_push, x_ref)
    print(f"{label}: t = {t_all}")
    for name, y in (("float64 motion", x), ("upstream f32 motion", x_up)):
        err = errors(y)
        print(f"  {name}: {[f'{e:.2g} ≤ {a:.2g}' for e, a in zip(err.tolist(), allowed.tolist())]}")
        assert (err <= allowed).all(), f"{label}: {name} frames {err.tolist()} > allowed {allowed.tolist()}"


# ----------------------------------------------------------------------------------------------------
# Parity with upstream's own frames


def _small_generator(tmp_path: Path, d: dict, c_dim: int) -> engine.Generator:
    sd = {k[2:]: v for k, v in d.items() if k.startswith("G.")}
    path = write_snapshot(tmp_path / "network-snapshot-000123.pkl", sd, SMALL, c_dim)  # also holds G (zeros), D, opts
    with pytest.warns(legacy.PickleImportNote, match="sgv import"):
        G = engine.load_generator(path, device="cpu")
    assert G.config == small_config(c_dim)
    return G


def _check_small(G: engine.Generator, d: dict, label: str) -> None:
    motions = MotionCodes.batch_from_noise(d["motion_z"])
    _check_parity(G, d, motions, d["t"], d.get("c"), G.synthesis, [(lambda y: y, d["img"])], label)


@pytest.mark.parametrize("name,c_dim", [("legacy_small.safetensors", 0), ("legacy_small_cond.safetensors", 3)])
def test_small_pickle_renders_upstream_frames(tmp_path, name, c_dim):
    d, _ = _reference(name)
    _check_small(_small_generator(tmp_path, d, c_dim), d, name)


@pytest.mark.parametrize(
    "weight,index",
    [
        ("synthesis.b16.conv1.bias", (3,)),  # the synthesis
        ("synthesis.b32.torgb.weight", (1, 7)),
        ("synthesis.motion_encoder.conv.1.bias", (4,)),  # one entry of every anchor code u
        ("synthesis.motion_encoder.time_encoder.periods_predictor.weight", (15, 0)),  # the fastest sinusoid's frequency
        ("synthesis.motion_encoder.time_encoder.phase_predictor.weight", (12, 5)),  # one sinusoid's phase
        ("synthesis.motion_encoder.time_encoder.aligners_predictor.weight", (9, 2)),  # one aligner
    ],
)
def test_parity_check_catches_a_wrong_weight(tmp_path, weight, index):
    """The bounds grow with the phases, but wrong arithmetic still fails them: one weight off by 1e-3 (weights
    are ~N(0, 1)) anywhere on the motion path, or in a bias or toRGB weight of the synthesis. (One weight of a
    3×3 conv with 32 input channels moves these frames by 1e-5..1e-4, as little as rounding does: the
    synthesis is checked within 1e-4, so such a weight is not a probe.)"""
    d, _ = _reference("legacy_small.safetensors")
    G = _small_generator(tmp_path, d, 0)
    _check_small(G, d, "as loaded")
    with torch.no_grad():
        G.get_parameter(weight)[index] += 1e-3
    with pytest.raises(AssertionError):
        _check_small(G, d, f"{weight}{list(index)} + 1e-3")


def test_paper256_pickle_renders_upstream_frames(tmp_path):
    d, meta = _reference("legacy_paper256.safetensors")
    with torch.random.fork_rng(devices=[]):
        G0 = engine.Generator(engine.preset("paper256").generator)
    sd = seeded_state_dict(G0, 256)
    del G0
    z, motion_z, t = paper256_inputs()
    # If numpy's streams ever change, say so instead of failing on the frames.
    assert state_digest(sd) == meta["weights_digest"], "seeded_state_dict no longer reproduces the reference weights"
    assert state_digest({"z": z, "motion_z": motion_z, "t": t}) == meta["inputs_digest"]
    path = write_snapshot(tmp_path / "paper256.pkl", sd, PAPER256, extras=False)
    del sd
    G = legacy.load_upstream_generator(path, device="cpu")
    assert G.config == dataclasses.replace(engine.preset("paper256").generator, native_fps=30.0)  # dataset fps 30
    assert (G.img_resolution, G.num_ws, G.delta_z, G.config.synthesis.channel_base) == (256, 14, 16, 16384)

    def render(ws, v):  # channels_last is the same fp32 math, faster on CPU
        y = G.synthesis(ws, v, channels_last=True)
        frames = y.reshape(len(ws), -1, *y.shape[-3:]).flatten(2)  # [B, T, C·H·W]
        stats = torch.maximum((frames.mean(2) - d["img_mean"]).abs(), (frames.std(2) - d["img_std"]).abs())
        rendered.append(stats)
        return y

    rendered = []
    views = [(lambda y: y[:, :, ::4, ::4], d["img_sub"]), (lambda y: y[:, :, 96:160, 96:160], d["img_crop"])]
    _check_parity(G, {**d, "z": z}, [MotionCodes.from_noise(motion_z)], t, None, render, views, "paper256")
    assert rendered[0][2].max() <= 1e-4  # mean and std of the whole frames drawn from upstream's codes


# ----------------------------------------------------------------------------------------------------
# What a snapshot may hold besides G_ema, and how its config is read


@pytest.fixture(scope="module")
def small_sd():
    d = load_file(str(DATA / "legacy_small.safetensors"))
    return {k[2:]: v for k, v in d.items() if k.startswith("G.")}


def _same_weights(G, sd) -> bool:
    got = G.state_dict()
    return set(got) == set(sd) and all(torch.equal(got[k], sd[k].float()) for k in sd)


@pytest.mark.parametrize("protocol", [2, 4])
@pytest.mark.parametrize("variant", ["plain", "cuda tensors", "omegaconf 2.0", "G_ema only"])
def test_reads_every_layout_upstream_writes(tmp_path, small_sd, protocol, variant):
    kwargs = {"cuda": variant == "cuda tensors", "v20": variant == "omegaconf 2.0"}
    if variant == "G_ema only":
        path = tmp_path / "g.pkl"
        path.write_bytes(dumps(snapshot(small_sd, SMALL, extras=False)["G_ema"], protocol))
    else:
        path = write_snapshot(tmp_path / "s.pkl", small_sd, SMALL, protocol=protocol, **kwargs)
    up = legacy.read_upstream(path)
    assert up.generator.config == small_config()
    assert _same_weights(up.generator, small_sd)  # G_ema's, not G's (zeros), all on the CPU
    assert all(t.device.type == "cpu" for t in up.generator.state_dict().values())
    if variant != "G_ema only":
        assert up.info["kimg"] == 123.0 and up.info["dataset_path"] == "data/ffs_256_unstable.zip"


def test_config_interpolations_and_sky_setting(tmp_path):
    cfg = engine.preset("tiny", min_period=256).generator  # SkyTimelapse: δz = min period = 256
    G0 = engine.Generator(cfg)
    g = dict(res=32, z=32, w=32, mz=32, mv=32, te=16, base=512, max=32, fp16=0)
    sd = seeded_state_dict(G0, 3)
    # δz as upstream writes it (${model.generator.time_enc.min_period_len}), as a relative interpolation, as a number
    for delta_z in (None, "${..time_enc.min_period_len}", 256):
        path = write_snapshot(tmp_path / "sky.pkl", sd, g, min_period=256, delta_z=delta_z, fps=25)
        G = legacy.load_upstream_generator(path, "cpu")
        assert (G.delta_z, G.config.motion.min_period, G.config.native_fps) == (256, 256, 25), delta_z
    # A custom resolver is never evaluated: the value is missing, and said so.
    path = write_snapshot(tmp_path / "env.pkl", sd, g, min_period=256, delta_z="${env:DELTA_Z}")
    with pytest.raises(LegacyError, match="motion_z_distance"):
        legacy.read_upstream(path)
    # An interpolation cycle is reported, not followed forever.
    path = write_snapshot(
        tmp_path / "cycle.pkl", sd, g, min_period=256, delta_z="${model.generator.motion.motion_z_distance}"
    )
    with pytest.raises(LegacyError, match="cycle"):
        legacy.read_upstream(path)
    # Periods that disagree with the stored frequencies mean the config was misread: refused.
    path = write_snapshot(tmp_path / "wrong.pkl", sd, g, min_period=16)
    with pytest.raises(LegacyError, match="frequencies disagree"):
        legacy.read_upstream(path)


@pytest.mark.parametrize("res", [512, 1024])
def test_high_resolution_configs(tmp_path, res):
    """paper512/1024's layout (fmaps 1: channel_base 32768), with few channels so the test stays small."""
    g = dict(res=res, z=32, w=32, mz=32, mv=32, te=16, base=32768, max=8, fp16=4)
    cfg = GeneratorConfig(
        mapping=MappingConfig(z_dim=32, w_dim=32),
        motion=MotionConfig(z_dim=32, v_dim=32, time_enc_dim=16),
        synthesis=SynthesisConfig(img_resolution=res, channel_base=32768, channel_max=8, num_fp16_res=4),
        native_fps=30.0,
    )
    sd = seeded_state_dict(engine.Generator(cfg), res)
    G = legacy.load_upstream_generator(write_snapshot(tmp_path / "hr.pkl", sd, g), "cpu")
    assert G.config == cfg and G.num_ws == 2 * int(np.log2(res)) - 2 and _same_weights(G, sd)
    if res == 512:
        x = engine.Video(G, content=1, motion=2).frame(3.5)
        assert x.shape == (3, 512, 512) and torch.isfinite(x).all()


def test_unsupported_networks_are_named(tmp_path, small_sd):
    noisy = write_snapshot(tmp_path / "noise.pkl", small_sd, SMALL, cfg_override={"use_noise": True})
    with pytest.raises(LegacyError, match="use_noise"):
        legacy.read_upstream(noisy)
    lstm = write_snapshot(
        tmp_path / "lstm.pkl", small_sd, SMALL, cfg_override={"motion.gen_strategy": "autoregressive"}
    )
    with pytest.raises(LegacyError, match="gen_strategy"):
        legacy.read_upstream(lstm)
    image_only = {k: v for k, v in small_sd.items() if "motion_encoder" not in k}
    with pytest.raises(LegacyError, match="no motion encoder"):
        legacy.read_upstream(write_snapshot(tmp_path / "sg2.pkl", image_only, SMALL))
    missing = {k: v for k, v in small_sd.items() if k != "synthesis.b8.conv0.bias"}
    with pytest.raises(LegacyError, match=r"1 missing, e\.g\. synthesis\.b8\.conv0\.bias"):
        legacy.read_upstream(write_snapshot(tmp_path / "missing.pkl", missing, SMALL))


# ----------------------------------------------------------------------------------------------------
# Safety: nothing in a pickle runs


def _payloads(sentinel: Path) -> dict[str, tuple[object, str]]:
    """Attacks that would create `sentinel` under plain pickle.load, each with the global it needs."""
    touch = f"open({str(sentinel)!r}, 'w').close()"
    system = Call(Ref("posix", "system"), (f"touch {sentinel}",))  # what pickle writes for os.system on Linux
    return {
        "os.system": (system, "posix"),
        "os.system by os": (Call(Ref("os", "system"), (f"touch {sentinel}",)), "os"),
        "eval": (Call(Ref("builtins", "eval"), (touch,)), "eval"),
        "exec": (Call(Ref("builtins", "exec"), (touch,)), "exec"),
        "subprocess.Popen": (Call(Ref("subprocess", "Popen"), (["touch", str(sentinel)],)), "subprocess"),
        "subprocess.run": (Call(Ref("subprocess", "run"), (["touch", str(sentinel)],)), "subprocess"),
        "getattr chain": (
            Call(
                Call(Ref("builtins", "getattr"), (Call(Ref("builtins", "__import__"), ("os",)), "system")),
                (f"touch {sentinel}",),
            ),
            "getattr",
        ),
        "unknown module": (Call(Ref("sgv_studio_no_such_module", "run"), (str(sentinel),)), "sgv_studio_no_such"),
        "copyreg reconstructor": (
            Call(Ref("copyreg", "_reconstructor"), (Ref("posix", "system"), Ref("builtins", "object"), None)),
            "posix",
        ),
        "inside a storage blob": (Call(Ref("torch.storage", "_load_from_bytes"), (dumps(system, 2),)), "posix"),
    }


def _names_global(data: bytes, name: str) -> bool:
    """The attack really is in the stream (so that these tests test something)."""
    import pickletools

    return name.encode() in data and any(op.name in ("GLOBAL", "STACK_GLOBAL") for op, _, _ in pickletools.genops(data))


@pytest.mark.parametrize("placement", ["whole file", "inside G_ema", "inside vis"])
@pytest.mark.parametrize("kind", list(_payloads(Path("x"))))
def test_malicious_pickles_are_refused_and_nothing_runs(tmp_path, small_sd, kind, placement):
    sentinel = tmp_path / "pwned"
    payload, needs = _payloads(sentinel)[kind]
    if placement == "whole file":
        obj = payload
    else:
        obj = snapshot(small_sd, SMALL, extras=placement == "inside vis")
        if placement == "inside G_ema":
            obj["G_ema"].meta["state"]["cfg"] = payload
        else:
            obj["vis"]["grid_z"] = (payload,)
    path = tmp_path / "evil.pkl"
    path.write_bytes(dumps(obj))
    assert _names_global(path.read_bytes(), needs)
    with pytest.raises(LegacyError) as e:
        legacy.load_upstream_generator(path, "cpu")
    msg = str(e.value)
    assert msg.startswith(f"{path}: ") and "\n" not in msg and "refusing" in msg, msg
    assert not sentinel.exists()


def test_classic_exploits_and_embedded_source_never_run(tmp_path, small_sd):
    sentinel = tmp_path / "pwned"
    cmd = f"touch {sentinel}".encode()
    classics = {
        "protocol 0 GLOBAL+REDUCE": b"cos\nsystem\n(V" + cmd + b"\ntR.",
        "INST opcode": b"\x80\x02(V" + cmd + b"\nios\nsystem\n.",
        "protocol 2 GLOBAL": b"\x80\x02cposix\nsystem\nq\x00V" + cmd + b"\n\x85R.",
    }
    for name, data in classics.items():
        path = tmp_path / f"{name}.pkl"
        path.write_bytes(data)
        with pytest.raises(LegacyError, match=f"^{re.escape(str(path))}: "):
            legacy.read_upstream(path)
        assert not sentinel.exists(), name
    # Upstream's own mechanism: persistent classes carry module source that upstream exec()s. Ours never
    # compiles it, so a snapshot whose source would create the sentinel loads fine and nothing happens.
    evil_src = f"import os\nos.system('touch {sentinel}')\nopen({str(sentinel)!r}, 'w').close()\n"
    path = write_snapshot(tmp_path / "src.pkl", small_sd, SMALL, src=evil_src, extras=False)
    assert evil_src.encode() in path.read_bytes()
    assert _same_weights(legacy.load_upstream_generator(path, "cpu"), small_sd)
    assert not sentinel.exists()


def test_cli_refuses_malicious_pickle(tmp_path, small_sd, capsys):
    from engine.cli import main

    sentinel, out = tmp_path / "pwned", tmp_path / "model.safetensors"
    path = tmp_path / "evil.pkl"
    path.write_bytes(dumps({"G_ema": _payloads(sentinel)["os.system"][0]}))
    assert main(["import", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"sgv: {path}: refusing to load global 'posix.system'") and "\n" not in err
    assert not sentinel.exists() and not out.exists()


# ----------------------------------------------------------------------------------------------------
# Malformed files: one clear line


def _bad_files(tmp_path: Path, good: bytes) -> dict[str, tuple[Path, str]]:
    files = {}

    def put(name: str, data: bytes, expect: str) -> None:
        path = tmp_path / name
        path.write_bytes(data)
        files[name] = (path, expect)

    put("empty.pkl", b"", "empty")
    put("text.pkl", b"hello, this is not a pickle\n", "not a pickle")
    put("header-only.pkl", b"\x80\x04", "truncated")
    put("truncated-early.pkl", good[:300], "truncated")
    put("truncated-half.pkl", good[: len(good) // 2], "truncated|corrupt")
    put("truncated-last-byte.pkl", good[:-1], "truncated|corrupt")
    put("garbage.pkl", b"\x80\x04" + bytes(range(256)) * 4, "corrupt|refusing")
    put("list.pkl", pickle.dumps([1, 2, 3], protocol=4), "holds a list")
    put("no-G_ema.pkl", pickle.dumps({"G": 1, "D": 2}, protocol=4), "no G_ema")
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("readme.txt", "not a checkpoint")
    put("other.zip.pkl", zipped.getvalue(), "not a torch.save file")
    torch.save({"mapping.fc0.weight": torch.ones(2, 2)}, tmp_path / "state_dict.pkl")
    files["state_dict.pkl"] = (tmp_path / "state_dict.pkl", "no G_ema")
    deflated = io.BytesIO()
    with (
        zipfile.ZipFile(tmp_path / "state_dict.pkl") as src,
        zipfile.ZipFile(deflated, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for item in src.namelist():
            dst.writestr(item, src.read(item))
    put("compressed.pkl", deflated.getvalue(), "compressed")
    save_file({"x": torch.zeros(2)}, str(tmp_path / "model.safetensors.pkl"))
    files["model.safetensors.pkl"] = (tmp_path / "model.safetensors.pkl", "safetensors")
    # A storage blob with a bad magic number, and a tensor that reaches past its storage.
    blob = Call(Ref("torch.storage", "_load_from_bytes"), (b"\x80\x02K\x01.\x80\x02K\x01.\x80\x02}q\x00.",))
    put("bad-storage.pkl", dumps({"G_ema": blob}), "bad magic")
    storage = Call(Ref("torch.storage", "_load_from_bytes"), (legacy_storage_blob(torch.ones(4), "cpu"),))
    oob = Call(Ref("torch._utils", "_rebuild_tensor_v2"), (storage, 0, (10,), (1,), False, OrderedDict()))
    put("out-of-bounds.pkl", dumps({"G_ema": oob}), "past the end")
    (tmp_path / "dir.pkl").mkdir()
    files["dir.pkl"] = (tmp_path / "dir.pkl", "directory")
    files["missing.pkl"] = (tmp_path / "missing.pkl", "no such file")
    return files


def test_malformed_files_give_one_clear_line(tmp_path, small_sd):
    good = dumps(snapshot(small_sd, SMALL, extras=False))
    for name, (path, expect) in _bad_files(tmp_path, good).items():
        with pytest.raises(LegacyError) as e:
            legacy.read_upstream(path)
        msg = str(e.value)
        assert msg.startswith(f"{path}: ") and "\n" not in msg, msg
        assert re.search(expect, msg), (name, msg)
        with pytest.raises(engine.SgvError):  # the same through the public API
            engine.load_generator(path, device="cpu")


def test_flipped_bytes_never_escape_as_tracebacks(tmp_path, small_sd):
    good = dumps(snapshot(small_sd, SMALL, extras=False))
    rng = np.random.default_rng(0)
    for i, pos in enumerate(rng.integers(2, len(good), size=24)):
        data = bytearray(good)
        data[pos] ^= 0xFF
        path = tmp_path / f"flip{i}.pkl"
        path.write_bytes(bytes(data))
        try:
            G = legacy.load_upstream_generator(path, "cpu")  # a flip inside tensor data still loads
        except LegacyError as e:
            assert str(e).startswith(f"{path}: ") and "\n" not in str(e)
        else:
            assert isinstance(G, engine.Generator)


# ----------------------------------------------------------------------------------------------------
# `sgv import`, `sgv info`, engine.load_generator


def test_sgv_import_writes_a_model_file_with_provenance(tmp_path, small_sd, capsys):
    from engine.checkpoint import model_info
    from engine.cli import main

    pkl = write_snapshot(tmp_path / "network-snapshot-000123.pkl", small_sd, SMALL)
    out = tmp_path / "models" / "small.safetensors"
    assert main(["import", str(pkl), "--out", str(out)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"{out}: G_ema of {pkl.name} (32², δz 16") and "123 kimg" in line
    G = engine.load_generator(out, device="cpu")
    assert _same_weights(G, small_sd) and G.config == small_config()
    info = model_info(out)
    assert info["provenance"]["imported_from"] == pkl.name and info["provenance"]["kimg"] == 123.0
    assert info["provenance"]["source_sha256"] == hashlib.sha256(pkl.read_bytes()).hexdigest()
    with pytest.warns(legacy.PickleImportNote):
        from_pickle = engine.load_generator(pkl, device="cpu")
    assert engine.generator_fingerprint(from_pickle) == info["fingerprint"]
    assert torch.equal(engine.Video(G, 1, 2).frame(7.5), engine.Video(from_pickle, 1, 2).frame(7.5))
    # `sgv info` reads pickles directly; a failed import leaves an existing model file untouched.
    assert main(["info", "--ckpt", str(pkl)]) == 0 and "upstream StyleGAN-V pickle" in capsys.readouterr().out
    before = out.read_bytes()
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(b"\x80\x04garbage")
    assert main(["import", str(bad), "--out", str(out)]) == 2
    assert out.read_bytes() == before and not list(out.parent.glob(".*tmp*"))
    assert main(["import", str(pkl)]) == 0 and pkl.with_suffix(".safetensors").exists()


def test_import_help_has_examples(capsys):
    from engine.cli import build_parser

    with pytest.raises(SystemExit) as e:
        build_parser().parse_args(["import", "--help"])
    assert e.value.code == 0 and "sgv import network-snapshot-025000.pkl --out" in capsys.readouterr().out


def test_allow_list_is_small_and_inert():
    """Every allowed global is one of ours or a harmless builtin; nothing imports upstream or omegaconf."""
    real = {OrderedDict, set, frozenset}
    for (module, name), obj in legacy.ALLOWED_GLOBALS.items():
        ours = getattr(obj, "__module__", "") == "engine.legacy.unpickler" or isinstance(obj, legacy.StorageType)
        assert ours or obj in real, (module, name, obj)
    assert "omegaconf" not in sys.modules and "dnnlib" not in sys.modules
    json.dumps(sorted(f"{m}.{n}" for m, n in legacy.ALLOWED_GLOBALS))
