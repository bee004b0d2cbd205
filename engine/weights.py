"""External network weights (CLIP, LPIPS, I3D, Inception): where each comes from, its hash, its cache path.

Nothing here downloads behind the user's back: `resolve()` only looks (an explicit path, our cache, or a copy
bundled inside an installed package) and raises `WeightsMissing` naming the file, the cache path and the
`sgv weights fetch NAME` command; `fetch()` downloads on request, to a temp file, verifies the hash and renames
atomically. Libraries that keep their own caches (open_clip, torchvision via torch.hub) are never asked to
download: callers load the state dict from the path `resolve()` returns, so `torch.hub.set_dir` (global state)
is never touched.
"""

from __future__ import annotations

import importlib.util
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.errors import SgvError
from engine.fileio import atomic_path, sha256_file
from engine.paths import cache_root


class WeightsMissing(SgvError):
    """A weights file a feature needs is not on this machine."""


class WeightsError(SgvError):
    """A weights file could not be downloaded, or its content does not match the registry's hash."""


@dataclass(frozen=True)
class WeightsEntry:
    name: str  # registry key, used by `sgv weights fetch NAME`
    description: str
    url: str
    sha256: str | None  # full hex digest, or None where no published hash is known
    filename: str  # file name inside cache_dir()
    feature: str  # which feature needs it (shown by `sgv weights status`)
    kind: str  # "torchscript" (torch.jit.load), "state_dict" (torch.load weights_only), "clip-torchscript"
    # Hash prefix some publishers put in the file name or URL (torchvision: first 8 hex digits of the sha256).
    sha256_prefix: str | None = None
    # "package:relative/path" of a copy shipped inside an installed Python package (used when not cached).
    package_file: str | None = None


REGISTRY: dict[str, WeightsEntry] = {
    e.name: e
    for e in (
        WeightsEntry(
            name="clip-vit-b-32-openai",
            description="OpenAI CLIP ViT-B/32 (TorchScript archive; open_clip model 'ViT-B-32', tag 'openai')",
            # open_clip's pretrained.py lists this URL for ViT-B-32/openai; the path component is the sha256.
            url="https://openaipublic.azureedge.net/clip/models/"
            "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af/ViT-B-32.pt",
            sha256="40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af",
            filename="ViT-B-32.pt",
            feature="sgv edit (CLIP text editing)",
            kind="clip-torchscript",
        ),
        WeightsEntry(
            name="lpips-vgg",
            description="LPIPS v0.1 linear calibration layers for VGG16 (ships inside the lpips package)",
            url="https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/vgg.pth",
            sha256=None,
            filename="lpips-v0.1-vgg.pth",
            feature="sgv project (LPIPS loss), sgv edit --keep-mask",
            kind="state_dict",
            package_file="lpips:weights/v0.1/vgg.pth",
        ),
        WeightsEntry(
            name="vgg16",
            description="torchvision VGG16 ImageNet weights (IMAGENET1K_V1), the LPIPS backbone",
            url="https://download.pytorch.org/models/vgg16-397923af.pth",
            sha256=None,
            filename="vgg16-397923af.pth",
            feature="sgv project (LPIPS loss), sgv edit --keep-mask",
            kind="state_dict",
            sha256_prefix="397923af",
        ),
        WeightsEntry(
            name="i3d",
            description="I3D Kinetics-400 TorchScript (tf.hub deepmind/i3d-kinetics-400/1 port; StyleGAN-V's FVD)",
            url="https://www.dropbox.com/s/ge9e5ujwgetktms/i3d_torchscript.pt?dl=1",
            sha256=None,
            filename="i3d_torchscript.pt",
            feature="sgv metrics (FVD)",
            kind="torchscript",
        ),
        WeightsEntry(
            name="inception",
            description="Inception-v3 TorchScript (TF inception-2015-12-05 port; StyleGAN2-ADA/StyleGAN-V FID)",
            # The TorchScript file loads with torch.jit.load; the StyleGAN3 NGC '.pkl' of the same network
            # would need pickle (arbitrary code on load), so it is deliberately not used.
            url="https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/inception-2015-12-05.pt",
            sha256=None,
            filename="inception-2015-12-05.pt",
            feature="sgv metrics (FID)",
            kind="torchscript",
        ),
    )
}


def cache_dir() -> Path:
    """$SGV_WEIGHTS_DIR, else $XDG_CACHE_HOME/sgv-studio/weights, else ~/.cache/sgv-studio/weights."""
    env = os.environ.get("SGV_WEIGHTS_DIR")
    return Path(env).expanduser() if env else cache_root() / "weights"


def entry(name: str) -> WeightsEntry:
    try:
        return REGISTRY[name]
    except KeyError:
        raise WeightsError(f"unknown weights name {name!r}; known: {', '.join(sorted(REGISTRY))}") from None


def cached_path(name: str) -> Path:
    """Where `fetch(name)` puts the file (it may not exist)."""
    return cache_dir() / entry(name).filename


def _package_path(e: WeightsEntry) -> Path | None:
    if not e.package_file:
        return None
    package, _, rel = e.package_file.partition(":")
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        p = Path(root) / rel
        if p.is_file():
            return p
    return None


def missing_message(name: str) -> str:
    e = entry(name)
    return (
        f"{e.filename}: weights '{name}' ({e.feature}) not found at {cached_path(name)}; "
        f"run `sgv weights fetch {name}` or pass the file's path"
    )


def resolve(name: str, path: str | os.PathLike | None = None) -> Path:
    """The weights file for `name`: `path` if given (it must exist), else the cached or package-bundled copy."""
    e = entry(name)
    if path is not None:
        p = Path(path).expanduser()
        if not p.is_file():
            raise WeightsMissing(f"{p}: weights file for '{name}' not found")
        if p.stat().st_size == 0:
            raise WeightsError(f"{p}: weights file for '{name}' is empty")
        return p
    p = cached_path(name)
    if p.is_file() and p.stat().st_size > 0:
        return p
    bundled = _package_path(e)
    if bundled is not None:
        return bundled
    raise WeightsMissing(missing_message(name))


def status() -> list[dict]:
    """One row per registry entry: name, present, path (resolved or the cache target), size in bytes, feature."""
    rows = []
    for name, e in REGISTRY.items():
        try:
            p, present = resolve(name), True
        except SgvError:
            p, present = cached_path(name), False
        rows.append(
            {
                "name": name,
                "present": present,
                "path": str(p),
                "size": p.stat().st_size if present else None,
                "feature": e.feature,
                "description": e.description,
            }
        )
    return rows


def verify(name: str, path: str | os.PathLike, label: str | None = None) -> str:
    """Check `path` against the registry's sha256 (or published prefix); return its digest or raise WeightsError.

    `label` names the file in the message (a download's temp file is not what the user should see).
    """
    e = entry(name)
    digest = sha256_file(path)
    expected = (e.sha256 or "").lower()
    prefix = (e.sha256_prefix or "").lower()
    if (expected and digest != expected) or (prefix and not digest.startswith(prefix)):
        shown = expected[:16] if expected else prefix
        raise WeightsError(
            f"{label or path}: sha256 {digest[:16]}… does not match weights '{name}' (expected {shown}…); refused"
        )
    return digest


ProgressFn = Callable[[int, int | None], None]  # (bytes done, total bytes or None)


def fetch(name: str, progress: ProgressFn | None = None, *, timeout_s: float = 60.0) -> Path:
    """Download `name` into cache_dir() (temp file, hash check, atomic rename) and return its path.

    Offline or refused: a WeightsError with one line naming the file, the URL and where to put a copy by hand.
    A hash mismatch leaves no file behind and any previous good copy untouched.
    """
    e = entry(name)
    target = cached_path(name)
    try:
        with atomic_path(target) as tmp:
            try:
                req = urllib.request.Request(e.url, headers={"User-Agent": "sgv-studio"})
                with urllib.request.urlopen(req, timeout=timeout_s) as src, open(tmp, "wb") as dst:
                    total = src.headers.get("Content-Length") if hasattr(src, "headers") else None
                    total_bytes = int(total) if total and str(total).isdigit() else None
                    done = 0
                    while block := src.read(1 << 20):
                        dst.write(block)
                        done += len(block)
                        if progress is not None:
                            progress(done, total_bytes)
            except (urllib.error.URLError, OSError, ValueError) as err:
                reason = getattr(err, "reason", None) or err
                raise WeightsError(
                    f"{e.filename}: cannot download weights '{name}' from {e.url} ({reason}); "
                    f"download it by hand and place it at {target}"
                ) from None
            if tmp.stat().st_size == 0:
                raise WeightsError(f"{e.filename}: download of '{name}' from {e.url} is empty")
            verify(name, tmp, label=f"{e.filename} (downloaded from {e.url})")
    except PermissionError as err:
        raise WeightsError(f"{target}: cannot write weights cache ({err.strerror})") from None
    return target


def load_state_dict(name: str, path: str | os.PathLike | None = None) -> dict:
    """The tensors of a `state_dict` (or TorchScript) weights file, loaded without running any pickled code."""
    import torch

    p = resolve(name, path)
    try:
        if _is_torchscript(p):
            return dict(_jit_load(p, "cpu").state_dict())
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for corrupt files; all mean "not this file"
        raise WeightsError(f"{p}: not a readable weights file for '{name}' ({type(err).__name__})") from None
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise WeightsError(f"{p}: weights file for '{name}' holds no state dict")
    return obj


def load_torchscript(name: str, path: str | os.PathLike | None = None, device="cpu"):
    """A TorchScript network (I3D, Inception) in eval mode on `device`."""

    p = resolve(name, path)
    try:
        return _jit_load(p, device).eval()
    except Exception as err:
        raise WeightsError(f"{p}: not a TorchScript file for '{name}' ({type(err).__name__})") from None


def _jit_load(path: Path, device):
    """torch.jit.load without its deprecation notice: the published I3D/Inception/CLIP files are TorchScript."""
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return torch.jit.load(str(path), map_location=device)


def _is_torchscript(path: Path) -> bool:
    """A TorchScript archive is a zip holding `<root>/code/` or `<root>/constants.pkl`; a state dict is not."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            return any(n.split("/", 1)[-1].startswith(("code/", "constants.pkl")) for n in z.namelist())
    except (zipfile.BadZipFile, OSError):
        return False
