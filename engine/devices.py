"""The one place that picks a default torch device: a device is always an argument, this is its default."""

from __future__ import annotations

import torch


def default_device(name: str | torch.device | None = None) -> torch.device:
    """`name` as a device; None means CUDA when a GPU is visible, else the CPU."""
    if name is not None and str(name):
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def device_kind(name: str | torch.device | None = None) -> str:
    """'cuda' or 'cpu' (the type of `default_device(name)`), e.g. to pick a process-group backend."""
    return default_device(name).type
