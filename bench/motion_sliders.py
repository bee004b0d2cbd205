"""How much the Motion panel's slider ends change the frame (RMSE of uint8 frames, % of 255).

    python bench/motion_sliders.py                   # the bundled model
    python bench/motion_sliders.py --ckpt model.safetensors --anchor 4

For directions 1-3 at ±SLIDER_RANGE, in the panel's unit (σ = the spread of the anchor codes) and in the
earlier unit (±4 of each direction's own σ), at the edited anchor's time (the frame there depends on that
anchor's code only) and halfway to the next anchor. Baseline, measured in the same run: the same frames
under other motion seeds (what replacing the whole motion changes).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from app.renderer import EngineBackend  # noqa: E402
from app.state import Content, Motion  # noqa: E402
from app.widgets.motion import SLIDER_RANGE, move, set_anchors  # noqa: E402

OLD_RANGE = 4.0


def rmse(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sqrt(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean(axis=(1, 2, 3))) / 255


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ckpt")
    p.add_argument("--anchor", type=int, default=4)
    p.add_argument("--content-seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    b = EngineBackend.load(a.ckpt, "cpu")
    dirs = b.motion_directions()
    old = dataclasses.replace(dirs, spread=0.0)  # spread 0: each direction's own σ (the earlier unit)
    dz, content = b.info.delta_z, Content.from_seed(a.content_seed)
    ts = [a.anchor * dz, (a.anchor + 0.5) * dz]
    base = b.anchor_codes(0, a.anchor, a.anchor)[0]
    ref = b.render(content, Motion(0), ts, "fp32")
    print(
        f"model: {b.info.path}; codes {b.info.motion_u_dim}-d, spread σ = {dirs.spread:.3f}, own σ of directions "
        f"1-8: {', '.join(f'{x:.3f}' for x in dirs.std)}"
    )
    print(f"RMSE at t = {ts[0]:g} (anchor {a.anchor}) / t = {ts[1]:g}")
    others = np.stack([rmse(ref, b.render(content, Motion(s), ts, "fp32")) for s in (1, 2, 3)])
    print(f"  other motion seeds (baseline)      {100 * others.mean(0)[0]:5.2f} % / {100 * others.mean(0)[1]:5.2f} %")
    for label, d, r in (("earlier: ±4 own σ", old, OLD_RANGE), (f"now: ±{SLIDER_RANGE:g} σ", dirs, SLIDER_RANGE)):
        for j in range(3):
            for end in (-r, r):
                m = set_anchors(Motion(0), {a.anchor: (move(base, d, j, end), base)})
                e = rmse(ref, b.render(content, m, ts, "fp32"))
                print(f"  {label:18s} dir {j + 1} {end:+g}   {100 * e[0]:5.2f} % / {100 * e[1]:5.2f} %")


if __name__ == "__main__":
    main()
