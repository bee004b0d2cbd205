"""Upstream StyleGAN-V checkpoints (`network-snapshot-*.pkl`), read without executing anything.

Three parts, each with one job (docs/formats.md, "Upstream checkpoints"):

- engine.legacy.unpickler: the restricted unpickler (the security-critical part): a pickle becomes inert
  records and CPU tensors through one allow-list; nothing in the file runs;
- engine.legacy.config_reader: values from the inert OmegaConf config nodes, `${...}` resolved by us;
- engine.legacy.stylegan_v: the G_ema record → our GeneratorConfig and Generator, names and shapes checked.

Converting to a model file (`sgv import`) and describing a pickle (`sgv info`) are engine.checkpoint's
`import_upstream` and `model_info`: this package reads, it never writes and never imports engine.checkpoint.
"""

from engine.legacy.errors import LEGACY_SUFFIXES, LegacyError, PickleImportNote
from engine.legacy.stylegan_v import (
    UpstreamGenerator,
    collect_tensors,
    generator_config,
    load_upstream_generator,
    read_upstream,
)
from engine.legacy.unpickler import ALLOWED_GLOBALS, ConfigNode, ModuleRecord, StorageType, read_pickle

__all__ = [
    "ALLOWED_GLOBALS",
    "LEGACY_SUFFIXES",
    "ConfigNode",
    "LegacyError",
    "ModuleRecord",
    "PickleImportNote",
    "StorageType",
    "UpstreamGenerator",
    "collect_tensors",
    "generator_config",
    "load_upstream_generator",
    "read_pickle",
    "read_upstream",
]
