"""`sgv train --compile`: compiled G and D steps equal the eager ones; a failed compile falls back with one note."""

import pytest
import torch
from test_train_fastpaths import phase_grads

from engine import compiled as compiled_mod
from engine.config import preset
from engine.motion_codes import MotionCodes
from engine.nets import Discriminator, Generator
from engine.train.loss import Phase, VideoGANLoss


def _phase(G, D, name, compiled):
    return phase_grads(G, D, name, channels_last=True, compiled=compiled)


def test_compiled_steps_match_eager():
    """Parity of every phase against the fp32 eager reference within 1e-3 (the R1 pass runs eagerly)."""
    torch._dynamo.reset()
    cfg = preset("tiny")
    torch.manual_seed(0)
    G, D = Generator(cfg.generator).train(), Discriminator(cfg.discriminator).train()
    notes = []
    compiled = compiled_mod.compile_networks(G, D, "default", notes.append)
    for name in ("Gmain", "Dmain", "Dreg"):
        loss_e, grads_e = _phase(G, D, name, (None, None))
        loss_c, grads_c = _phase(G, D, name, compiled)
        assert abs(float(loss_e) - float(loss_c)) <= 1e-3 * (1 + abs(float(loss_e))), name
        for a, b in zip(grads_e, grads_c):
            assert (a - b).abs().max() <= 1e-3 * (1 + a.abs().max()), name
    assert notes == [], notes  # it really compiled: no fallback on this machine
    assert not compiled[0].failed and not compiled[1].failed
    # One graph per network and grad mode, no graph breaks (the CPU clamp skip reads a value: it once broke
    # every layer's graph), and an optimizer step's in-place edit of the weights reuses the graphs.
    assert dict(torch._dynamo.utils.counters["graph_break"]) == {}
    graphs = []
    for _ in range(3):
        with torch.no_grad():
            for p in [*G.parameters(), *D.parameters()]:
                p.add_(1e-3)
        _phase(G, D, "Gmain", compiled)
        _phase(G, D, "Dmain", compiled)
        graphs.append(torch._dynamo.utils.counters["stats"]["unique_graphs"])
    assert graphs[0] == graphs[-1], graphs


def test_failed_compile_falls_back_with_one_note(monkeypatch):
    def broken_compile(module, **kwargs):
        def run(*args, **kw):
            raise RuntimeError("Compiler: cc not found\nmore detail")

        return run

    monkeypatch.setattr(compiled_mod.torch, "compile", broken_compile)
    cfg = preset("tiny")
    torch.manual_seed(0)
    G, D = Generator(cfg.generator).train(), Discriminator(cfg.discriminator).train()
    notes = []
    compiled = compiled_mod.compile_networks(G, D, "reduce-overhead", notes.append)
    loss_e, grads_e = _phase(G, D, "Gmain", (None, None))
    loss_c, grads_c = _phase(G, D, "Gmain", compiled)
    _phase(G, D, "Dmain", compiled)
    assert torch.equal(loss_e, loss_c) and all(torch.equal(a, b) for a, b in zip(grads_e, grads_c))
    assert len(notes) == 2 and all("cc not found" in n and "running eagerly" in n for n in notes)  # once per network
    assert compiled_mod.compile_networks(G, D, "off", notes.append) == (None, None)
    with pytest.raises(ValueError, match="unknown compile mode"):
        compiled_mod.compile_networks(G, D, "fast", notes.append)


def test_r1_pass_never_uses_the_compiled_discriminator_even_with_augmentation():
    """R1 needs a double backward: its D call stays eager also when ADA augments the real clips first."""
    cfg = preset("tiny")
    torch.manual_seed(0)
    G, D = Generator(cfg.generator).train(), Discriminator(cfg.discriminator).train()
    calls = []

    def compiled_d(*args, **kwargs):
        calls.append(args[0].requires_grad)
        return D(*args, **kwargs)

    for name, expected in (("Dreg", []), ("Dmain", [False, False])):
        calls.clear()
        loss_fn = VideoGANLoss(G, D, lambda x: x.flip(-1), r1_gamma=1.0, compiled=(None, compiled_d))
        n, res = 2, G.img_resolution
        img = torch.rand(n, 3, 3, res, res) * 2 - 1
        t = torch.tensor([[0.0, 2.0, 5.0]] * n).double()
        fake = (torch.randn(n, G.z_dim), None, t + 1, [MotionCodes(seed=i) for i in range(n)])
        loss_fn.phase_loss(Phase(name, "D", 1, 1.0), (img, t, None), fake)
        assert calls == expected, name
