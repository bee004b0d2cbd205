"""TrainingState: state_dict() and load_state_dict() are exact inverses, and the dict is weights_only-loadable."""

import io

import torch

from engine.train.state import TrainingState


def _state(seed: int) -> TrainingState:
    torch.manual_seed(seed)
    G, D = torch.nn.Linear(3, 2), torch.nn.Linear(2, 1)
    G_ema = torch.nn.Linear(3, 2)
    opt_G, opt_D = torch.optim.Adam(G.parameters(), lr=1e-3), torch.optim.Adam(D.parameters(), lr=1e-3)
    augment = torch.nn.Module()
    augment.register_buffer("p", torch.zeros([]))
    return TrainingState({"G": G, "D": D, "G_ema": G_ema}, {"opt_G": opt_G, "opt_D": opt_D}, augment)


def test_round_trip_restores_weights_moments_and_counters():
    a = _state(0)
    G = a.modules["G"]
    G(torch.randn(4, 3)).sum().backward()
    a.optimizers["opt_G"].step()  # optimizer moments exist
    a.augment.p.fill_(0.25)
    a.cur_nimg, a.step, a.cur_tick, a.ada_signs, a.total_sec = 1234, 17, 3, [2.0, 8.0], 12.5

    buf = io.BytesIO()
    torch.save(a.state_dict(extra={"options": "{}"}), buf)
    buf.seek(0)
    saved = torch.load(buf, weights_only=True)
    assert saved["options"] == "{}" and saved["cur_nimg"] == 1234

    b = _state(1)
    assert not torch.equal(b.modules["G"].weight, a.modules["G"].weight)
    b.load_state_dict(saved)
    for name in ("G", "D", "G_ema"):
        for x, y in zip(a.modules[name].state_dict().values(), b.modules[name].state_dict().values()):
            assert torch.equal(x, y)
    ma, mb = a.optimizers["opt_G"].state_dict()["state"], b.optimizers["opt_G"].state_dict()["state"]
    assert torch.equal(ma[0]["exp_avg"], mb[0]["exp_avg"])
    assert float(b.augment.p) == 0.25
    assert (b.cur_nimg, b.step, b.cur_tick, b.ada_signs, b.total_sec) == (1234, 17, 3, [2.0, 8.0], 12.5)


def test_without_augment_p_is_zero():
    s = _state(0)
    s.augment = None
    assert s.state_dict()["augment_p"] == 0.0
