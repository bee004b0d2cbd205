"""Upstream StyleGAN-V checkpoints (`network-snapshot-*.pkl`), read without executing anything (model-spec §4).

Upstream pickles each network class together with the source code of its module and exec()s that source
when the pickle is loaded (`torch_utils.persistence`, §4.2), so opening a stranger's checkpoint with
upstream's loader runs the stranger's code. Here a restricted unpickler resolves every global the file
names through one explicit allow-list (`ALLOWED_GLOBALS`), and nothing it maps to runs code:

- persistent objects (`_reconstruct_persistent_obj(meta)`) become inert `ModuleRecord`s that keep the
  class name and the instance state; the embedded source text is dropped, never compiled;
- tensors are rebuilt by our own code from raw bytes, on the CPU (each storage is a legacy `torch.save`
  blob, parsed here with the same allow-list; CUDA tensors of optimizer states land on the CPU too);
- OmegaConf / EasyDict config objects, numpy arrays, optimizers and torch.nn containers become inert
  records whose state is plain data; none of their classes is imported;
- any other global (os.system, eval, builtins.getattr, subprocess, an unknown module...) raises
  LegacyError when the unpickler meets it, before anything is called.

From the inert G_ema record we read the hyper-parameters (init kwargs, attributes and the OmegaConf
config node, whose `${...}` interpolations we resolve ourselves) and the tensors, whose names already
are ours (§4.3), and build an `engine.nets.Generator`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import re
import struct
import zipfile
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from engine.config import ConfigError, GeneratorConfig, override, preset, to_json, validate
from engine.errors import CheckpointError
from engine.nets.generator import Generator

LEGACY_SUFFIXES = (".pkl", ".pickle")


class LegacyError(CheckpointError):
    """An upstream pickle that is unsafe, malformed, truncated or not a StyleGAN-V generator (an SgvError;
    a CheckpointError, so callers that open model files need no new except clause)."""


class PickleImportNote(UserWarning):
    """Emitted when a pickle is imported on the fly: saving it once as .safetensors loads much faster."""


# ----------------------------------------------------------------------------------------------------
# Inert stand-ins: what the allow-listed globals turn into. None of them runs code from the file.


class Inert:
    """An object of an allowed class we do not need to understand: constructor args and state as data."""

    qualname = "?"

    def __new__(cls, *args: Any, **kwargs: Any) -> Inert:
        obj = object.__new__(cls)
        obj.args, obj.state = args, None
        return obj

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"<inert {self.qualname}>"


class ModuleRecord(Inert):
    """An nn.Module as data: class name plus its `__dict__` (`_parameters`, `_buffers`, `_modules`, ...)."""

    class_name = "?"

    @classmethod
    def persistent(cls, class_name: str, state: dict) -> ModuleRecord:
        rec = cls()
        rec.class_name, rec.state = class_name, state
        return rec

    def attr(self, name: str, default: Any = None) -> Any:
        return self.state.get(name, default) if isinstance(self.state, dict) else default

    def child(self, name: str) -> ModuleRecord | None:
        child = (self.attr("_modules") or {}).get(name)
        return child if isinstance(child, ModuleRecord) else None

    def __repr__(self) -> str:
        return f"<module record {self.class_name}>"


class ConfigNode(Inert):
    """An OmegaConf DictConfig/ListConfig/value node as data (`_content` or `_val`, `_parent`, `_metadata`)."""

    def get_state(self, name: str) -> Any:
        return self.state.get(name) if isinstance(self.state, dict) else None


class PlainDict(dict):
    """Stand-in for dnnlib's EasyDict: a dict (the pickle fills it with SETITEMS)."""

    def __setstate__(self, state: Any) -> None:  # EasyDict keeps no attributes besides its items
        pass


def _inert_class(qualname: str, base: type = Inert, **attrs: Any) -> type:
    return type(qualname.rsplit(".", 1)[-1], (base,), {"qualname": qualname, **attrs})


@dataclass(frozen=True)
class StorageType:
    """A torch storage class named in a storage id (torch.FloatStorage, torch.cuda.HalfStorage, ...)."""

    name: str
    dtype: torch.dtype


_STORAGE_DTYPES = {
    "FloatStorage": torch.float32,
    "DoubleStorage": torch.float64,
    "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16,
    "LongStorage": torch.int64,
    "IntStorage": torch.int32,
    "ShortStorage": torch.int16,
    "CharStorage": torch.int8,
    "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool,
    "UntypedStorage": torch.uint8,
}


# ----------------------------------------------------------------------------------------------------
# Tensors, rebuilt by our code from bytes (replacing torch._utils / torch.storage functions)


def _rebuild_tensor(storage: Any, offset: Any, size: Any, stride: Any, *_ignored: Any) -> torch.Tensor:
    """torch._utils._rebuild_tensor(_v2): a strided view of a storage, bounds-checked."""
    if not isinstance(storage, torch.Tensor) or storage.ndim != 1:
        raise LegacyError("a tensor record does not point at a storage")
    ok = isinstance(offset, int) and offset >= 0 and isinstance(size, tuple) and isinstance(stride, tuple)
    ok = ok and len(size) == len(stride) and all(isinstance(v, int) and v >= 0 for v in size + stride)
    if not ok:
        raise LegacyError(f"a tensor record has an invalid layout (offset {offset!r}, size {size!r})")
    if all(size):
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= storage.numel():
            raise LegacyError(f"a tensor of shape {list(size)} reaches past the end of its storage")
    return storage.as_strided(size, stride, offset)


def _rebuild_parameter(data: Any, *_ignored: Any) -> torch.Tensor:
    if not isinstance(data, torch.Tensor):
        raise LegacyError("a parameter record holds no tensor")
    return data


def _rebuild_from_type(func: Any, new_type: Any, args: Any, state: Any = None) -> torch.Tensor:
    """torch._tensor._rebuild_from_type_v2: only for our own rebuild functions and plain tensor types."""
    if func not in (_rebuild_tensor, _rebuild_parameter) or not isinstance(args, tuple):
        raise LegacyError("a tensor record names an unexpected rebuild function")
    return func(*args)


def _read_exact(f: io.BufferedIOBase, n: int, what: str) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise LegacyError(f"{what} is truncated")
    return data


def _storage_from_blob(blob: Any) -> torch.Tensor:
    """torch.storage._load_from_bytes: a storage saved with torch's legacy (non-zip) format, as a 1-D tensor.

    Layout: pickles of magic number, protocol version, system info, the storage (a persistent id
    ('storage', type, key, location, numel, view)), the list of keys; then per key an int64 element count
    and the raw little-endian data.
    """
    if not isinstance(blob, bytes):
        raise LegacyError("a storage record holds no bytes")
    f = io.BytesIO(blob)
    header = [_restricted_load(f, "storage header") for _ in range(3)]
    if header[0] != 0x1950A86A20F9469CFC6C or header[1] != 1001:
        raise LegacyError("a storage record is not a torch storage (bad magic number)")
    if not isinstance(header[2], dict) or header[2].get("little_endian") is not True:
        raise LegacyError("a storage record was written on a big-endian machine; not supported")
    roots: dict[Any, torch.Tensor] = {}
    result = _restricted_load(f, "storage", storage_ids=roots, blob_size=len(blob))
    keys = _restricted_load(f, "storage keys")
    if not isinstance(keys, list) or set(keys) != set(roots):
        raise LegacyError("a storage record lists storages it does not define")
    for key in keys:
        root = roots[key]
        (numel,) = struct.unpack("<q", _read_exact(f, 8, "a storage record"))
        if numel != root.numel():
            raise LegacyError(f"a storage record holds {numel} elements where its header says {root.numel()}")
        raw = _read_exact(f, numel * root.element_size(), "a storage record")
        if raw:
            root.view(torch.uint8).copy_(torch.frombuffer(bytearray(raw), dtype=torch.uint8))
    return result


def _storage_id(saved_id: Any, roots: dict, blob_size: int) -> torch.Tensor:
    """persistent_load for the storage ids inside a legacy storage blob; storages are made on the CPU."""
    if not (isinstance(saved_id, tuple) and len(saved_id) == 6 and saved_id[0] == "storage"):
        raise LegacyError(f"unexpected persistent id {str(saved_id)[:60]!r} in a storage record")
    _, storage_type, key, _location, numel, view = saved_id
    if not isinstance(storage_type, StorageType) or not isinstance(numel, int) or numel < 0:
        raise LegacyError("a storage record has an invalid storage id")
    if key not in roots:
        claimed = numel * storage_type.dtype.itemsize + sum(r.numel() * r.element_size() for r in roots.values())
        if claimed > blob_size:  # refuse before allocating
            raise LegacyError(f"a storage record claims {numel} elements but holds only {blob_size} bytes")
        roots[key] = torch.empty(numel, dtype=storage_type.dtype)
    root = roots[key]
    if view is None:
        return root
    if not (isinstance(view, tuple) and len(view) == 3 and all(isinstance(v, int) for v in view[1:])):
        raise LegacyError("a storage record has an invalid view")
    _, offset, size = view
    if offset < 0 or size < 0 or offset + size > root.numel():
        raise LegacyError("a storage view reaches past the end of its storage")
    return root[offset : offset + size]


# ----------------------------------------------------------------------------------------------------
# The allow-list


def _defaultdict_as_dict(*_factory: Any) -> dict:
    return {}  # the default factory is never needed (and never called)


def _latin1_bytes(text: Any, encoding: Any = "latin1") -> bytes:
    """_codecs.encode as protocol 0-2 pickles use it for bytes objects: latin-1 text to bytes, nothing else."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise LegacyError("refusing _codecs.encode with anything but latin-1 text")
    return text.encode("latin1")


def _safe_reconstructor(cls: Any, base: Any, state: Any) -> Any:
    """copyreg._reconstructor (protocol 0/1 pickles), limited to our own stand-in classes."""
    if isinstance(cls, type) and issubclass(cls, PlainDict):
        return cls(state or {})
    if isinstance(cls, type) and issubclass(cls, Inert):
        return cls.__new__(cls)
    raise LegacyError(f"refusing to reconstruct an object of {getattr(cls, 'qualname', cls)!r}")


def _persistent_record(meta: Any) -> ModuleRecord:
    """torch_utils.persistence._reconstruct_persistent_obj, without exec()ing meta['module_src']."""
    if not isinstance(meta, dict) or meta.get("type") != "class":
        raise LegacyError("a persistent object record is malformed (expected type 'class')")
    class_name, state = meta.get("class_name"), meta.get("state")
    if not isinstance(class_name, str) or not isinstance(state, dict):
        raise LegacyError("a persistent object record has no class name or state")
    return ModuleRecord.persistent(class_name, state)


_MODULE_ALIASES = {  # upstream ran as `src.*` or with src/ on the path; numpy 2 renamed numpy.core
    "src.torch_utils.persistence": "torch_utils.persistence",
    "src.dnnlib.util": "dnnlib.util",
    "src.training.layers": "training.layers",
    "numpy._core.multiarray": "numpy.core.multiarray",
    "__builtin__": "builtins",  # protocol 0-2 pickles name builtins as Python 2 did
    "copy_reg": "copyreg",
}


def _allowed_globals() -> dict[tuple[str, str], Any]:
    allowed: dict[tuple[str, str], Any] = {
        ("collections", "OrderedDict"): OrderedDict,
        ("collections", "defaultdict"): _defaultdict_as_dict,
        ("builtins", "set"): set,
        ("builtins", "frozenset"): frozenset,
        ("copyreg", "_reconstructor"): _safe_reconstructor,
        ("_codecs", "encode"): _latin1_bytes,
        ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
        ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
        ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type,
        ("torch._utils", "_rebuild_from_type_v2"): _rebuild_from_type,
        ("torch.storage", "_load_from_bytes"): _storage_from_blob,
        ("torch_utils.persistence", "_reconstruct_persistent_obj"): _persistent_record,
        ("dnnlib.util", "EasyDict"): PlainDict,
    }
    for name, dtype in _STORAGE_DTYPES.items():
        allowed[("torch", name)] = StorageType(name, dtype)
        allowed[("torch.cuda", name)] = StorageType(name, dtype)
    # Values that are only ever referred to (types in OmegaConf metadata, tensor subclasses): markers.
    for module, names in {
        "builtins": ("dict", "list", "tuple", "str", "int", "float", "bool", "bytes", "object"),
        "typing": ("Any", "Dict", "List", "Tuple", "Optional", "Union"),
        "torch": ("Tensor",),
        "torch._tensor": ("Tensor",),
        "torch.nn.parameter": ("Parameter",),
        "numpy": ("ndarray", "dtype"),
        "numpy.core.multiarray": ("_reconstruct", "scalar"),
        "torch.optim.adam": ("Adam",),
    }.items():
        for name in names:
            allowed[(module, name)] = _inert_class(f"{module}.{name}")
    # Modules pickled by reference (not persistent classes) inside G, D and G_ema.
    for module, name in (
        ("torch.nn.modules.container", "Sequential"),
        ("torch.nn.modules.sparse", "Embedding"),
        ("training.layers", "TemporalDifferenceEncoder"),
    ):
        allowed[(module, name)] = _inert_class(f"{module}.{name}", ModuleRecord, class_name=name)
    for module, names in {
        "omegaconf.dictconfig": ("DictConfig",),
        "omegaconf.listconfig": ("ListConfig",),
        "omegaconf.nodes": ("AnyNode", "StringNode", "IntegerNode", "FloatNode", "BooleanNode", "EnumNode"),
        "omegaconf.base": ("Metadata", "ContainerMetadata"),
    }.items():
        for name in names:
            allowed[(module, name)] = _inert_class(f"{module}.{name}", ConfigNode)
    return allowed


ALLOWED_GLOBALS = _allowed_globals()


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: Any, storage_ids: dict | None = None, blob_size: int = 0, zip_reader: Any = None):
        super().__init__(file)
        self._storage_ids, self._blob_size, self._zip_reader = storage_ids, blob_size, zip_reader

    def find_class(self, module: str, name: str) -> Any:
        found = ALLOWED_GLOBALS.get((_MODULE_ALIASES.get(module, module), name))
        if found is None:
            raise LegacyError(f"refusing to load global '{module}.{name}': not something a StyleGAN-V checkpoint holds")
        return found

    def persistent_load(self, saved_id: Any) -> Any:
        if self._storage_ids is not None:
            return _storage_id(saved_id, self._storage_ids, self._blob_size)
        if self._zip_reader is not None:
            return self._zip_reader(saved_id)
        raise LegacyError("unexpected persistent id in a plain pickle")


def _restricted_load(f: Any, what: str, **kwargs: Any) -> Any:
    try:
        return _RestrictedUnpickler(f, **kwargs).load()
    except LegacyError:
        raise
    except EOFError:
        raise LegacyError(f"{what} is truncated") from None
    except RecursionError:
        raise LegacyError(f"{what} is nested too deeply") from None
    except MemoryError:
        raise LegacyError(f"{what} asks for more memory than is available") from None
    except Exception as e:  # a corrupt stream fails in many ways inside the C unpickler
        raise LegacyError(f"{what} is corrupt ({type(e).__name__}: {str(e)[:120]})") from None


# ----------------------------------------------------------------------------------------------------
# Files: a plain pickle (upstream's format) or a torch.save zip holding one


def _zip_storage_reader(zf: zipfile.ZipFile, prefix: str) -> Any:
    def read(saved_id: Any) -> torch.Tensor:
        if not (isinstance(saved_id, tuple) and len(saved_id) == 5 and saved_id[0] == "storage"):
            raise LegacyError(f"unexpected persistent id {str(saved_id)[:60]!r}")
        _, storage_type, key, _location, numel = saved_id
        if not isinstance(storage_type, StorageType) or not isinstance(key, str) or not isinstance(numel, int):
            raise LegacyError("invalid storage id")
        try:
            info = zf.getinfo(f"{prefix}data/{key}")
        except KeyError:
            raise LegacyError(f"storage {key!r} is missing from the archive") from None
        if info.compress_type != zipfile.ZIP_STORED:  # torch.save never compresses; refuse zip bombs
            raise LegacyError(f"storage {key!r} is compressed, which torch.save never does")
        raw = zf.read(info)
        if len(raw) < numel * storage_type.dtype.itemsize:
            raise LegacyError(f"storage {key!r} is truncated")
        if numel == 0:
            return torch.empty(0, dtype=storage_type.dtype)
        return torch.frombuffer(bytearray(raw), dtype=storage_type.dtype)[:numel]

    return read


def read_pickle(path: str | os.PathLike) -> Any:
    """Unpickle an upstream file with the restricted unpickler. Raises LegacyError (naming the file)."""
    path = Path(path)
    if not path.exists():
        raise LegacyError(f"{path}: no such file")
    if path.is_dir():
        raise LegacyError(f"{path}: is a directory, expected an upstream .pkl checkpoint")
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            if not head:
                raise LegacyError(f"{path}: file is empty")
            f.seek(0)
            if head.startswith(b"PK\x03\x04"):
                return _read_zip(path, f)
            if head[0] != 0x80 or not 2 <= head[1] <= 5:
                raise LegacyError(f"{path}: not a pickle ({_describe_head(head)})")
            return _restricted_load(f, "the file")
    except LegacyError as e:
        msg = str(e)
        raise LegacyError(msg if msg.startswith(f"{path}:") else f"{path}: {msg}") from None
    except OSError as e:
        raise LegacyError(f"{path}: cannot read ({e.strerror or e})") from None


def _read_zip(path: Path, f: Any) -> Any:
    try:
        zf = zipfile.ZipFile(f)
        pickles = [n for n in zf.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pickles) != 1:
            raise LegacyError("a zip archive but not a torch.save file (no single data.pkl)")
        prefix = pickles[0][: -len("data.pkl")]
        if f"{prefix}byteorder" in zf.namelist() and zf.read(f"{prefix}byteorder").strip() != b"little":
            raise LegacyError("a big-endian torch.save file; not supported")
        data = io.BytesIO(zf.read(pickles[0]))
        return _restricted_load(data, "the archive's data.pkl", zip_reader=_zip_storage_reader(zf, prefix))
    except zipfile.BadZipFile as e:
        raise LegacyError(f"a damaged zip archive ({e})") from None


def _describe_head(head: bytes) -> str:
    if len(head) == 8 and head[:1] != b"\x80":
        n = struct.unpack("<Q", head)[0]
        if 0 < n < 100_000_000:
            return "it looks like a safetensors file: open it directly, it needs no import"
    if head.startswith(b"\x1f\x8b"):
        return "it is gzip-compressed; decompress it first"
    return f"it starts with bytes {head[:4]!r}"


# ----------------------------------------------------------------------------------------------------
# Config values from inert OmegaConf nodes (or plain dicts), resolving `${a.b.c}` interpolations


_INTERPOLATION = re.compile(r"\$\{([^${}]*)\}")
_MISSING = object()
_MAX_HOPS = 64


class _Unresolvable(KeyError):
    pass


class ConfigReader:
    """Reads dotted paths from a config tree of ConfigNodes / dicts.

    Interpolations `${a.b}` (absolute, from the root reached through `_parent`) and `${.a}`, `${..a}`
    (relative) are followed, also through nodes whose value is an interpolation of a whole container
    (upstream's `sampling: ${sampling}`). Custom resolvers (`${env:X}`) are not evaluated: such a value
    counts as missing.
    """

    def get(self, node: Any, path: str, default: Any = _MISSING) -> Any:
        try:
            value = self._value(self._walk(node, path.split("."), 0), 0)
        except _Unresolvable:
            if default is _MISSING:
                raise
            return default
        return value

    # -- navigation --------------------------------------------------------------------------------------
    def _walk(self, node: Any, keys: list[str], hops: int) -> Any:
        for key in keys:
            node = self._child(self._deref(node, hops), key, hops)
        return node

    def _child(self, node: Any, key: str, hops: int) -> Any:
        content = _content(node) if isinstance(node, ConfigNode) else node
        if isinstance(content, dict) and key in content:
            return content[key]
        if isinstance(content, list) and key.isdigit() and int(key) < len(content):
            return content[int(key)]
        raise _Unresolvable(key)

    def _deref(self, node: Any, hops: int) -> Any:
        """A node whose whole value is one interpolation stands for the node it points at."""
        while isinstance(node, ConfigNode):
            text = _content(node)
            match = _INTERPOLATION.fullmatch(text) if isinstance(text, str) else None
            if match is None:
                return node
            hops += 1
            if hops > _MAX_HOPS:
                raise LegacyError("the config's interpolations form a cycle")
            node = self._lookup(match.group(1), node, hops)
        return node

    def _lookup(self, ref: str, holder: ConfigNode, hops: int) -> Any:
        ref = ref.strip()
        if ":" in ref or not ref:
            raise _Unresolvable(ref)  # a custom resolver (env:, oc.env:, hydra:) would run code; never evaluated
        base = holder.get_state("_parent")
        if ref.startswith("."):
            dots = len(ref) - len(ref.lstrip("."))
            for _ in range(dots - 1):
                base = base.get_state("_parent") if isinstance(base, ConfigNode) else None
            ref = ref[dots:]
        else:
            for _ in range(_MAX_HOPS):
                parent = base.get_state("_parent") if isinstance(base, ConfigNode) else None
                if parent is None:
                    break
                base = parent
        if base is None:
            raise _Unresolvable(ref)
        return self._walk(base, ref.split(".") if ref else [], hops)

    # -- values ------------------------------------------------------------------------------------------
    def _value(self, node: Any, hops: int) -> Any:
        if hops > _MAX_HOPS:
            raise LegacyError("the config's interpolations form a cycle")
        node = self._deref(node, hops)
        if not isinstance(node, ConfigNode):
            return node
        value = _content(node)
        if isinstance(value, (dict, list)) or value is None and "_content" in (node.state or {}):
            return node  # a container
        if value == "???":
            raise _Unresolvable("???")
        if isinstance(value, str) and "${" in value:  # string interpolation, e.g. "ffs_${dataset.resolution}"
            return _INTERPOLATION.sub(
                lambda m: str(self._value(self._lookup(m.group(1), node, hops + 1), hops + 1)), value
            )
        return value


def _content(node: ConfigNode) -> Any:
    state = node.state if isinstance(node.state, dict) else {}
    return state["_val"] if "_val" in state else state.get("_content")


def _first(*values: Any) -> Any:
    for v in values:
        if v is not None and v is not _MISSING:
            return v
    return None


def _init_kwargs(rec: ModuleRecord, positional: tuple[str, ...]) -> dict:
    """The constructor arguments persistence stored (`_init_kwargs`, with `_init_args` named)."""
    kwargs = dict(rec.attr("_init_kwargs") or {})
    args = rec.attr("_init_args") or ()
    for name, value in zip(positional, args if isinstance(args, (tuple, list)) else ()):
        kwargs.setdefault(name, value)
    return kwargs


def _number(value: Any, what: str, kind: type) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise LegacyError(f"cannot read {what} from the checkpoint (found {value!r})")
    if kind is int and value != int(value):
        raise LegacyError(f"{what} should be an integer, found {value!r}")
    return kind(value)


# ----------------------------------------------------------------------------------------------------
# G_ema: config + tensors → our Generator


@dataclass(frozen=True)
class UpstreamGenerator:
    """What an upstream pickle holds for us: G_ema as our Generator (CPU, eval) and facts about its run."""

    generator: Generator
    info: dict = field(default_factory=dict)


def generator_config(G: ModuleRecord, snapshot: dict | None = None) -> GeneratorConfig:
    """Our GeneratorConfig for an upstream Generator record (init kwargs, attributes, config node)."""
    kwargs = _init_kwargs(
        G, ("c_dim", "w_dim", "img_resolution", "img_channels", "mapping_kwargs", "synthesis_kwargs", "cfg")
    )
    mapping, synthesis = G.child("mapping"), G.child("synthesis")
    if mapping is None or synthesis is None:
        raise LegacyError("G_ema has no mapping or synthesis network; not a StyleGAN generator")
    motion = synthesis.child("motion_encoder")
    if motion is None:
        raise LegacyError("G_ema has no motion encoder: an image (StyleGAN2/3) generator, not StyleGAN-V")
    node = _first(kwargs.get("cfg"), G.attr("cfg"), synthesis.attr("cfg"))
    if node is None:
        raise LegacyError("G_ema carries no config (cfg); cannot tell its motion settings")
    reader = ConfigReader()

    def cfg(path: str, default: Any = _MISSING) -> Any:
        try:
            return reader.get(node, path, default)
        except _Unresolvable:
            raise LegacyError(f"cannot read '{path}' from G_ema's config") from None

    _check_supported(cfg)
    map_kwargs = {**dict(kwargs.get("mapping_kwargs") or {}), **_init_kwargs(mapping, ("z_dim", "c_dim", "w_dim"))}
    syn_kwargs = {
        **_init_kwargs(synthesis, ("w_dim", "img_resolution", "img_channels")),
        **dict(kwargs.get("synthesis_kwargs") or {}),
    }
    sampling = G.attr("sampling_dict") if isinstance(G.attr("sampling_dict"), dict) else {}
    conv0 = (motion.child("conv") or ModuleRecord()).child("0")
    dataset_kwargs = (snapshot or {}).get("training_set_kwargs")
    dataset_cfg = dataset_kwargs.get("cfg") if isinstance(dataset_kwargs, dict) else None
    conv_clamp = syn_kwargs.get("conv_clamp")  # upstream's default is None (no clamp); train.py sets 256
    values = {
        "mapping.z_dim": (_first(cfg("z_dim", None), G.attr("z_dim"), mapping.attr("z_dim")), int),
        "mapping.c_dim": (_first(kwargs.get("c_dim"), G.attr("c_dim"), mapping.attr("c_dim")), int),
        "mapping.w_dim": (_first(kwargs.get("w_dim"), G.attr("w_dim"), mapping.attr("w_dim")), int),
        "mapping.num_layers": (_first(mapping.attr("num_layers"), map_kwargs.get("num_layers"), 8), int),
        "mapping.lr_multiplier": (_first(map_kwargs.get("lr_multiplier"), 0.01), float),
        "mapping.w_avg_beta": (_first(mapping.attr("w_avg_beta"), map_kwargs.get("w_avg_beta"), 0.995), float),
        "motion.z_dim": (cfg("motion.z_dim"), int),
        "motion.v_dim": (cfg("motion.v_dim"), int),
        "motion.kernel_size": (cfg("motion.kernel_size"), int),
        "motion.delta_z": (cfg("motion.motion_z_distance"), float),
        "motion.time_enc_dim": (cfg("time_enc.dim"), int),
        "motion.min_period": (cfg("time_enc.min_period_len"), float),
        "motion.max_period": (cfg("time_enc.max_period_len"), float),
        "motion.max_num_frames": (
            _first(sampling.get("max_num_frames"), cfg("sampling.max_num_frames", None), 1024),
            int,
        ),
        "motion.lr_multiplier": (_first(conv0.attr("bias_gain") if conv0 else None, 0.01), float),
        "synthesis.img_resolution": (_first(kwargs.get("img_resolution"), G.attr("img_resolution")), int),
        "synthesis.img_channels": (_first(kwargs.get("img_channels"), G.attr("img_channels"), 3), int),
        "synthesis.channel_base": (_first(syn_kwargs.get("channel_base"), 32768), int),
        "synthesis.channel_max": (_first(syn_kwargs.get("channel_max"), 512), int),
        "synthesis.num_fp16_res": (_first(syn_kwargs.get("num_fp16_res"), 0), int),
        "native_fps": (
            _first(sampling.get("fps"), cfg("sampling.fps", None), _dataset_fps(reader, dataset_cfg), 25.0),
            float,
        ),
    }
    changes = {name: _number(value, name, kind) for name, (value, kind) in values.items()}
    changes["synthesis.conv_clamp"] = None if conv_clamp is None else _number(conv_clamp, "conv_clamp", float)
    try:
        config = override(preset("paper256").generator, **changes)
        validate(config)
    except ConfigError as e:
        raise LegacyError(f"G_ema's config is not one we can build: {e}") from None
    return config


def _check_supported(cfg: Any) -> None:
    """Upstream options our generator does not implement are refused by name, not mis-rendered."""
    checks = (
        ("use_noise", False, "per-pixel noise inputs (use_noise: true)"),
        ("input.type", "temporal", "an input layer other than 'temporal'"),
        ("time_enc.cond_type", "concat_const", "motion conditioning other than 'concat_const'"),
        ("motion.gen_strategy", "conv", "a motion generator other than 'conv'"),
        ("motion.fourier", True, "motion codes without the Fourier time encoder (motion.fourier: false)"),
    )
    for path, wanted, what in checks:
        found = cfg(path, wanted)
        if found != wanted:
            raise LegacyError(
                f"G_ema uses {what} ({path} = {found!r}); sgv-studio implements StyleGAN-V's released setup only"
            )


def _dataset_fps(reader: ConfigReader, dataset_cfg: Any) -> Any:
    if dataset_cfg is None:
        return None
    try:
        return reader.get(dataset_cfg, "fps", None)
    except LegacyError:
        return None


def collect_tensors(rec: ModuleRecord, prefix: str = "", out: dict | None = None, depth: int = 0) -> dict:
    """Flat state dict of a module record: its parameters and persistent buffers, then its children's."""
    out = {} if out is None else out
    if depth > 32:
        raise LegacyError("G_ema's modules are nested too deeply")
    skip = rec.attr("_non_persistent_buffers_set") or set()
    for group in ("_parameters", "_buffers"):
        items = rec.attr(group) or {}
        if not isinstance(items, dict):
            raise LegacyError(f"module {prefix or 'G_ema'} has a malformed {group}")
        for name, t in items.items():
            if t is None or (group == "_buffers" and name in skip):
                continue
            if not isinstance(t, torch.Tensor):
                raise LegacyError(f"{prefix}{name} is not a tensor ({type(t).__name__})")
            out[prefix + name] = t
    for name, child in (rec.attr("_modules") or {}).items():
        if child is None:
            continue
        if not isinstance(child, ModuleRecord):
            raise LegacyError(f"{prefix}{name} is not a module ({type(child).__name__})")
        collect_tensors(child, f"{prefix}{name}.", out, depth + 1)
    return out


def read_upstream(path: str | os.PathLike) -> UpstreamGenerator:
    """G_ema of an upstream StyleGAN-V pickle as our Generator (CPU, eval, weights checked), plus run facts."""
    path = Path(path)
    obj = read_pickle(path)
    try:
        return _from_object(obj)
    except LegacyError as e:
        raise LegacyError(f"{path}: {e}") from None


def _from_object(obj: Any) -> UpstreamGenerator:
    snapshot = obj if isinstance(obj, dict) else None
    if isinstance(obj, ModuleRecord):
        G = obj
    elif isinstance(obj, dict) and isinstance(obj.get("G_ema"), ModuleRecord):
        G = obj["G_ema"]
    elif isinstance(obj, dict):
        keys = ", ".join(sorted(str(k) for k in obj)[:8]) or "none"
        raise LegacyError(f"no G_ema network in this pickle (keys: {keys}); not an upstream StyleGAN-V snapshot")
    else:
        raise LegacyError(f"holds a {type(obj).__name__}, not an upstream StyleGAN-V snapshot")
    if G.class_name != "Generator":
        raise LegacyError(f"G_ema is a {G.class_name}, not a Generator")
    config = generator_config(G, snapshot)
    return UpstreamGenerator(_build(config, collect_tensors(G)), _snapshot_info(snapshot))


def _build(config: GeneratorConfig, tensors: dict[str, torch.Tensor]) -> Generator:
    """Our Generator with upstream's tensors, after checking that names, shapes and periods agree."""
    with torch.random.fork_rng(devices=[]):  # the initial weights are overwritten; leave the caller's RNG alone
        G = Generator(config)
    expected = G.state_dict()
    missing, unexpected = sorted(set(expected) - set(tensors)), sorted(set(tensors) - set(expected))
    if unexpected or missing:
        parts = ([f"{len(missing)} missing, e.g. {missing[0]}"] if missing else []) + (
            [f"{len(unexpected)} not in our generator, e.g. {unexpected[0]}"] if unexpected else []
        )
        raise LegacyError(f"G_ema's tensors do not fit the generator its config describes: {'; '.join(parts)}")
    for name, ref in expected.items():
        if tensors[name].shape != ref.shape:
            raise LegacyError(
                f"G_ema tensor {name} has shape {list(tensors[name].shape)}; its config implies {list(ref.shape)}"
            )
        if not tensors[name].is_floating_point():
            raise LegacyError(f"G_ema tensor {name} has dtype {tensors[name].dtype}, expected floating point")
    # The time encoder's frequencies are a function of the configured periods: a cheap check that we read
    # the right config for these weights (δz, which no tensor records, comes from the same config node).
    m, name = config.motion, "synthesis.motion_encoder.time_encoder.freqs"
    if not torch.allclose(tensors[name].float(), expected[name], rtol=1e-5, atol=0):
        raise LegacyError(
            f"G_ema's config says periods {m.min_period:g}..{m.max_period:g} frames, but its stored time-encoder "
            "frequencies disagree; the config does not describe these weights"
        )
    G.load_state_dict({k: v.to(torch.float32) for k, v in tensors.items()})
    return G.eval().requires_grad_(False)


def _snapshot_info(snapshot: dict | None) -> dict:
    info: dict[str, Any] = {"networks": sorted(str(k) for k in snapshot)} if snapshot else {}
    stats = (snapshot or {}).get("stats")
    if isinstance(stats, dict) and isinstance(stats.get("cur_nimg"), int):
        info["kimg"] = stats["cur_nimg"] / 1000
    ds = (snapshot or {}).get("training_set_kwargs")
    if isinstance(ds, dict):
        info.update(
            {f"dataset_{k}": ds[k] for k in ("path", "resolution", "max_size") if isinstance(ds.get(k), (str, int))}
        )
    return info


# ----------------------------------------------------------------------------------------------------
# Public entry points


def load_upstream_generator(path: str | os.PathLike, device: torch.device | str | None = None) -> Generator:
    """An eval-mode, grad-free `engine.Generator` with G_ema's weights, on `device` (default CUDA if any)."""
    device = device if device is not None else ("cuda" if torch.cuda.is_available() else "cpu")
    return read_upstream(path).generator.to(device)


def import_upstream(path: str | os.PathLike, out: str | os.PathLike) -> tuple[str, UpstreamGenerator]:
    """Convert an upstream pickle to our model file (atomic write). Returns (fingerprint, what was read)."""
    from engine.checkpoint import save_generator

    path = Path(path)
    up = read_upstream(path)
    provenance = {
        "source": "upstream StyleGAN-V pickle",
        "imported_from": path.name,
        "source_sha256": _sha256(path),
        **{k: v for k, v in up.info.items() if k != "networks"},
    }
    return save_generator(up.generator, out, provenance=provenance), up


def upstream_model_info(path: str | os.PathLike) -> dict:
    """`sgv info` for a pickle: the fields of checkpoint.model_info."""
    from engine.checkpoint import generator_fingerprint

    up = read_upstream(path)
    G = up.generator
    n_params = sum(
        t.numel()
        for k, t in G.state_dict().items()
        if "resample_filter" not in k and not k.endswith(("freqs", "phase_scales", "w_avg"))
    )
    return {
        "path": str(path),
        "format": "upstream StyleGAN-V pickle (read without executing it; `sgv import` converts it)",
        "fingerprint": generator_fingerprint(G),
        "parameters": n_params,
        "file_bytes": Path(path).stat().st_size,
        "config": json.loads(to_json(G.config)),
        "provenance": up.info or None,
    }


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
