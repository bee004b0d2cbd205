"""Ranks for `sgv train --gpus N` and `sgv metrics --gpus N`: torch.distributed with NCCL on GPUs and gloo on CPU.

Gradients are averaged by hand after each phase (as upstream does, instead of DDP: phases touch
different parameter subsets and lazy R1 runs every 16 steps), so every rank holds identical weights.
Runs started by torchrun are recognised from its environment variables; otherwise `launch` spawns them.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Ranks:
    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def init(rank: int, world: int, device_kind: str, master_port: int | None = None) -> Ranks:
    """Join the process group (no-op for one rank) and pick this rank's device."""
    if device_kind == "cuda":
        device = torch.device("cuda", rank % max(torch.cuda.device_count(), 1))
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        if master_port is not None:
            os.environ["MASTER_PORT"] = str(master_port)
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, rank=rank, world_size=world)
    return Ranks(rank, world, device)


def from_torchrun() -> tuple[int, int] | None:
    """(rank, world) when started by torchrun, else None."""
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ and "LOCAL_RANK" in os.environ:
        return int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    return None


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def average_gradients(params: list[torch.nn.Parameter], world: int) -> None:
    """All-reduce the mean gradient into every parameter (one flat buffer), NaN/inf zeroed as upstream."""
    params = [p for p in params if p.grad is not None]
    if not params:
        return
    flat = torch.cat([p.grad.flatten() for p in params])
    if world > 1:
        dist.all_reduce(flat)
        flat /= world
    torch.nan_to_num(flat, nan=0, posinf=1e5, neginf=-1e5, out=flat)
    for p, g in zip(params, flat.split([p.numel() for p in params])):
        p.grad.copy_(g.reshape(p.shape))


def reduce_sum(values: torch.Tensor, world: int) -> torch.Tensor:
    """Elementwise sum over ranks (float64 on the rank's device)."""
    if world > 1:
        values = values.clone()
        dist.all_reduce(values)
    return values


def comm_device(device: torch.device) -> torch.device:
    """Where collective ops take their tensors: the rank's GPU under NCCL, the CPU under gloo (or one rank)."""
    if dist.is_available() and dist.is_initialized() and dist.get_backend() == "nccl":
        return device
    return torch.device("cpu")


def broadcast_values(values: list[float], world: int, device: torch.device) -> list[float]:
    """Rank 0's values on every rank (float64; `device` is this rank's, e.g. a detector's)."""
    if world <= 1:
        return [float(v) for v in values]
    t = torch.tensor(values, dtype=torch.float64, device=comm_device(device))
    dist.broadcast(t, src=0)
    return [float(v) for v in t.cpu()]


def broadcast_flag(flag: bool, ranks: Ranks) -> bool:
    """True on every rank if it is True on any (an abort request on one rank stops all)."""
    if ranks.world == 1:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=ranks.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def launch(world: int, fn: Callable[[int, int, int], None], args: tuple = ()) -> None:
    """Run fn(rank, world, port, *args) in `world` processes (spawned; rank 0's error is re-raised)."""
    import torch.multiprocessing as mp

    port = free_port()
    mp.spawn(_entry, args=(world, port, fn, args), nprocs=world, join=True)


def _entry(rank: int, world: int, port: int, fn, args) -> None:
    fn(rank, world, port, *args)
