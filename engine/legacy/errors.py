"""Errors and notes of the upstream-pickle reader (engine.legacy), apart so every part can raise them."""

from __future__ import annotations

from engine.errors import CheckpointError

LEGACY_SUFFIXES = (".pkl", ".pickle")


class LegacyError(CheckpointError):
    """An upstream pickle that is unsafe, malformed, truncated or not a StyleGAN-V generator (an SgvError;
    a CheckpointError, so callers that open model files need no new except clause)."""


class PickleImportNote(UserWarning):
    """Emitted when a pickle is imported on the fly: saving it once as .safetensors loads much faster."""
