"""The restricted unpickler: upstream pickles are read without executing anything in them.

This is the security-critical part of engine.legacy and has one job. Upstream pickles each network class
together with the source code of its module and exec()s that source when the pickle is loaded (torch_utils
persistence), so opening a stranger's checkpoint with upstream's loader runs the stranger's code. Here every
global the file names is resolved through one explicit allow-list (`ALLOWED_GLOBALS`), and nothing it maps to
runs code:

- persistent objects (`_reconstruct_persistent_obj(meta)`) become inert `ModuleRecord`s that keep the
  class name and the instance state; the embedded source text is dropped, never compiled;
- tensors are rebuilt by our own code from raw bytes, on the CPU (each storage is a legacy `torch.save`
  blob, parsed here with the same allow-list; CUDA tensors of optimizer states land on the CPU too);
- OmegaConf / EasyDict config objects, numpy arrays, optimizers and torch.nn containers become inert
  records whose state is plain data; none of their classes is imported;
- any other global (os.system, eval, builtins.getattr, subprocess, an unknown module...) raises
  LegacyError when the unpickler meets it, before anything is called.

Only this module may call pickle; it imports nothing of the engine but its errors. See docs/formats.md.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from engine.legacy.errors import LegacyError

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
