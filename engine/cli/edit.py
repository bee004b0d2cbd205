"""`sgv project` (image → latents, reconstruction, video) and `sgv edit` (CLIP text edit of latents)."""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.cli.common import add_command, add_model_args, load_latents, load_model, note, progress_bar
from engine.errors import SgvError

PROJECT_EXAMPLES = """examples:
  sgv project --ckpt model.safetensors --image photo.jpg --out out/photo              # out/photo.npz + .png
  sgv project --ckpt model.safetensors --image photo.jpg --out out/photo --video      # + out/photo.mp4
  sgv project --image photo.png --out out/p --steps 300 --motion-seed 7 --video out/p7.mp4 --duration 8
  sgv project --image photo.png --out out/p --loss pixel     # no LPIPS weights needed (blurrier)
  sgv project --image photo.png --out out/p --fit pad        # keep the whole picture, pad to a square
  sgv project --clip clip.mp4 --out out/clip --frames 32 --start 2.5 --loss pixel --continue 4
  sgv project --clip clip.mov --out out/clip --fps 30        # the file's frame rate is missing or wrong

Writes OUT.npz (content codes + motion + provenance; `sgv edit --latents`, the app), OUT.png (the
reconstruction at t = 0) and OUT-target.png (the image as the model sees it). With --clip (a video): OUT.npz
holds the content, the fitted motion anchors and the clip's time range; OUT.mp4 (or --video PATH) shows
target | reconstruction; --continue SECONDS also writes OUT-continued.mp4, where the model's own motion
(--motion-seed) carries on after the clip. With --clip, --fps is the clip's frame rate (default: the file's)
and the videos are written at it. Render the result again any time: `sgv generate --latents OUT.npz`.
--loss auto (default) uses LPIPS when its weights are installed (`sgv weights fetch vgg16`) and otherwise
says so and uses the pixel fallback.
Ctrl-C stops early and still writes the best codes so far.
"""

EDIT_EXAMPLES = """examples:
  sgv edit --ckpt model.safetensors --latents out/photo.npz --prompt "a snowy mountain" --out out/snow
  sgv edit --ckpt model.safetensors --seed 3 --prompt "sunset" --out out/sunset --video --steps 100
  sgv edit --latents out/photo.npz --prompt "smiling" --out out/smile --save-direction out/smile-dir.npz
  sgv edit --latents out/other.npz --direction out/smile-dir.npz --strength 1.5 --out out/other-smile
  sgv edit --latents a.npz --prompt "red hair" --out b --keep-mask face.png --mask-lambda 1  # keep white area
  sgv edit --seed 0 --prompt "a cat" --out out/cat --clip-model my.json --clip-pretrained my.pt

Writes OUT.npz (edited latents; the motion is unchanged) and OUT.png (before | after at t = 0). CLIP weights:
`sgv weights fetch clip-vit-b-32-openai` (or --clip-pretrained PATH).
"""


def register(sub) -> None:
    p = add_command(sub, "project", "find content codes that reproduce an image, then animate it", PROJECT_EXAMPLES)
    add_model_args(p)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--image", type=Path, help="PNG, JPEG, WebP, ... (any size, mode, bit depth)")
    what.add_argument("--clip", type=Path, help="a video (mp4, mov, mkv, webm, avi): fit its content and motion")
    p.add_argument("--out", type=Path, required=True, help="output stem: writes OUT.npz, OUT.png, OUT-target.png")
    p.add_argument("--start", type=float, default=0.0, help="--clip: where the clip starts, in seconds (0)")
    p.add_argument("--frames", type=int, default=None, help="--clip: number of frames (default: all)")
    p.add_argument(
        "--continue",
        dest="continue_s",
        type=float,
        default=None,
        metavar="SECONDS",
        help="--clip: also write OUT-continued.mp4, the video going on SECONDS after the clip",
    )
    p.add_argument("--steps", type=int, default=None, help="optimisation steps (default 1000; 500 with --clip)")
    p.add_argument("--loss", choices=["auto", "lpips", "pixel"], default="auto", help="image distance (auto)")
    p.add_argument("--motion-seed", type=int, default=0, help="the fixed motion during projection (default 0)")
    p.add_argument("--fit", choices=["crop", "pad"], default="crop", help="non-square images: crop or pad")
    p.add_argument("--lr", type=float, default=0.1, help="initial learning rate (default 0.1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the w-noise (default 0)")
    p.add_argument("--vgg16", type=Path, default=None, help="LPIPS backbone weights file (default: the cache)")
    _add_video_args(p)
    p.set_defaults(func=cmd_project)

    e = add_command(
        sub, "edit", "edit content codes with a text prompt (CLIP), or apply a saved edit direction", EDIT_EXAMPLES
    )
    add_model_args(e)
    src = e.add_mutually_exclusive_group(required=True)
    src.add_argument("--latents", type=Path, help="start from a latents .npz (sgv project, the app)")
    src.add_argument("--seed", type=int, help="start from the content of this seed")
    e.add_argument("--motion-seed", type=int, default=0, help="motion with --seed (default 0)")
    e.add_argument("--psi", type=float, default=1.0, help="truncation with --seed (default 1)")
    e.add_argument("--prompt", default=None, help="what the frame should look like")
    e.add_argument("--out", type=Path, required=True, help="output stem: writes OUT.npz and OUT.png")
    e.add_argument("--steps", type=int, default=40, help="optimisation steps (default 40, as upstream)")
    e.add_argument("--l2", type=float, default=0.001, help="weight of the L2 pull to the start codes (0.001)")
    e.add_argument("--max-dist", type=float, default=None, help="hard bound on ‖w − w_start‖₂ (default none)")
    e.add_argument("--lr", type=float, default=0.1, help="initial learning rate (default 0.1)")
    e.add_argument("--motions-per-step", type=int, default=1, help="motions drawn per step (default 1)")
    e.add_argument("--edit-seed", type=int, default=0, help="seed of the per-step motion draws")
    e.add_argument("--clip-model", default="ViT-B-32", help="open_clip model name or config .json")
    e.add_argument("--clip-pretrained", default="openai", help="pretrained tag or checkpoint path")
    e.add_argument("--keep-mask", type=Path, default=None, help="image; white = keep (masked LPIPS term)")
    e.add_argument("--mask-lambda", type=float, default=1.0, help="weight of the --keep-mask term (default 1)")
    e.add_argument("--save-direction", type=Path, default=None, help="also save the edit as a direction .npz")
    e.add_argument("--direction", type=Path, default=None, help="apply this direction .npz instead of CLIP")
    e.add_argument("--strength", type=float, default=1.0, help="strength of --direction (default 1)")
    _add_video_args(e)
    e.set_defaults(func=cmd_edit)


def _add_video_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--video", nargs="?", const=True, default=None, metavar="PATH", help="also write a video")
    p.add_argument("--animate-seed", type=int, default=None, help="video motion seed (default: the latents')")
    p.add_argument("--duration", type=float, default=4.0, help="video seconds (default 4)")
    p.add_argument("--fps", type=float, default=None, help="video fps (default: the model's native fps)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _stem(out: Path) -> Path:
    return out.with_suffix("") if out.suffix.lower() in (".npz", ".png") else out


def _run_steps(job, desc: str, quiet: bool, postfix) -> bool:
    """Drive a step iterator with a progress bar; returns False if Ctrl-C stopped it (the job stays usable)."""
    bar = progress_bar(job.config.num_steps, desc, quiet)
    try:
        for state in job:
            bar.update(1)
            bar.set_postfix_str(postfix(state), refresh=False)
    except KeyboardInterrupt:
        return False
    finally:
        bar.close()
    return True


def _project_and_save(proj, desc: str, args, postfix) -> tuple[bool, Path, object]:
    """Run a projector with a progress bar and save its codes as OUT.npz: (finished, stem, latents).
    Ctrl-C before the first step saves nothing."""
    from engine.latents import save_latents

    finished = _run_steps(proj, desc, args.quiet, postfix)
    if proj.step_index == 0:
        raise KeyboardInterrupt
    stem = _stem(args.out)
    latents = proj.result()
    save_latents(stem.with_suffix(".npz"), latents)
    return finished, stem, latents


def _write_video(args, G, latents, stem: Path) -> Path | None:
    if args.video is None:
        return None
    import engine
    from engine.motion_codes import MotionCodes

    path = Path(stem.with_suffix(".mp4") if args.video is True else args.video)
    motion = latents.motion if args.animate_seed is None else MotionCodes(seed=args.animate_seed)
    video = engine.Video(G, content=latents.ws_batch(G.device), motion=motion, c=latents.c)
    fps = args.fps or video.native_fps
    bar = progress_bar(max(1, int(args.duration * fps)), "video", args.quiet, unit="frame")

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    try:
        engine.export_video(video, path, duration_s=args.duration, fps=fps, progress=progress)
    finally:
        bar.close()
    return path


def _video_unless_stopped(args, G, latents, stem: Path, finished: bool, cmd: str) -> int:
    """Exit code 130 after Ctrl-C (the results so far are saved, no video); else the --video clip and 0."""
    if not finished:
        return 130
    video = _write_video(args, G, latents, stem)
    if video is not None:
        note(f"{cmd}: video -> {video}")
    return 0


def _project_clip(args, G, loss) -> int:
    from engine.edit.video_projection import (
        VideoProjectionConfig,
        VideoProjector,
        continuation_frames,
        load_clip,
        side_by_side,
        write_video_frames,
    )

    if args.continue_s is not None and not args.continue_s >= 0:
        raise SgvError(f"--continue must be seconds >= 0, got {args.continue_s}")
    clip = load_clip(args.clip, G.img_resolution, args.start, args.frames, args.fps, args.fit)
    for text in clip.notes:
        note(f"note: {args.clip}: {text}")
    steps = args.steps or 500
    cfg = VideoProjectionConfig(num_steps=steps, initial_lr=args.lr, motion_seed=args.motion_seed, seed=args.seed)
    proj = VideoProjector(G, clip, cfg, image_loss=loss)
    finished, stem, latents = _project_and_save(
        proj, "project clip", args, lambda s: f"{loss.kind} {s.terms['image']:.4f}"
    )
    recon = Path(stem.with_suffix(".mp4") if args.video in (None, True) else args.video)
    fitted_fps = clip.fps * clip.num_frames / (clip.indices[-1] + 1)  # subsampled clips play in their real time
    write_video_frames(recon, side_by_side(clip.frames, proj.reconstruction(latents)), fitted_fps)
    t0, t1 = proj.time_range()
    note(
        f"project: {'stopped early' if not finished else 'done'} after {proj.step_index}/{steps} steps, "
        f"{clip.num_frames} frames at t {t0:g}..{t1:g}, anchors {proj.lo}..{proj.hi}, mean PSNR "
        f"{latents.provenance['psnr_db']:.2f} dB -> {stem.with_suffix('.npz')}, target|fit {recon}"
    )
    if not finished:
        return 130
    if args.continue_s is not None:
        cont = stem.parent / f"{stem.name}-continued.mp4"
        write_video_frames(cont, continuation_frames(G, latents, clip, after_s=args.continue_s), clip.fps)
        note(f"project: continued {args.continue_s:g} s with motion seed {args.motion_seed} -> {cont}")
    return 0


def cmd_project(args) -> int:
    from engine.edit.losses import make_image_loss
    from engine.edit.projection import ProjectionConfig, Projector
    from engine.media import write_image

    if args.steps is not None and args.steps < 1:
        raise SgvError(f"--steps must be at least 1, got {args.steps}")
    if args.clip is None and (args.continue_s is not None or args.frames is not None or args.start):
        raise SgvError("--start, --frames and --continue go with --clip (a video)")
    G = load_model(args)
    if args.loss == "lpips" or args.vgg16 is not None:
        loss = make_image_loss("lpips", G.device, vgg_path=args.vgg16)
    else:
        loss = make_image_loss(args.loss, G.device)
    if loss.fallback_reason:
        note(f"note: LPIPS unavailable ({loss.fallback_reason}); using the {loss.label}")
    if args.clip is not None:
        return _project_clip(args, G, loss)
    args.steps = args.steps or 1000
    cfg = ProjectionConfig(num_steps=args.steps, initial_lr=args.lr, fit=args.fit, seed=args.seed)
    proj = Projector(G, args.image, motion=args.motion_seed, config=cfg, image_loss=loss)
    finished, stem, latents = _project_and_save(proj, "project", args, lambda s: f"loss {s.loss:.4f}")
    write_image(stem.with_suffix(".png"), proj.reconstruction())
    write_image(stem.parent / f"{stem.name}-target.png", proj.target_uint8)
    state = "stopped early" if not finished else "done"
    note(
        f"project: {state} after {proj.step_index}/{args.steps} steps, {loss.kind} loss {proj.best_loss:.4f}, "
        f"PSNR {latents.provenance['psnr_db']:.2f} dB -> {stem.with_suffix('.npz')}, {stem.with_suffix('.png')}"
    )
    return _video_unless_stopped(args, G, latents, stem, finished, "project")


def _start_latents(args, G):
    from engine.latents import from_seed

    if args.latents is not None:
        return load_latents(args.latents, G)
    return from_seed(G, args.seed, motion=args.motion_seed, psi=args.psi)


def cmd_edit(args) -> int:
    import torch

    from engine.edit.directions import Direction, load_direction, save_direction
    from engine.edit.images import frames_at, keep_mask, side_by_side
    from engine.latents import save_latents
    from engine.media import write_image

    if args.direction is None and not args.prompt:
        raise SgvError("give --prompt TEXT (or --direction FILE to apply a saved edit)")
    if args.steps < 1:
        raise SgvError(f"--steps must be at least 1, got {args.steps}")
    G = load_model(args)
    start = _start_latents(args, G)
    stem = _stem(args.out)
    finished = True
    if args.direction is not None:
        edited = load_direction(args.direction).apply(start, args.strength)
    else:
        from engine.edit.clip_edit import ClipEditor, EditConfig
        from engine.edit.clip_model import load_clip

        clip = load_clip(args.clip_model, args.clip_pretrained, G.device)
        mask = image_loss = None
        if args.keep_mask is not None:
            from engine.edit.losses import make_image_loss

            mask, image_loss = keep_mask(args.keep_mask, G.img_resolution), make_image_loss("lpips", G.device)
        cfg = EditConfig(
            num_steps=args.steps,
            lr=args.lr,
            l2_lambda=args.l2,
            max_distance=args.max_dist,
            mask_lambda=args.mask_lambda if mask is not None else 0.0,
            motions_per_step=args.motions_per_step,
            seed=args.edit_seed,
            preview_every=0,
        )
        editor = ClipEditor(G, start, args.prompt, clip, cfg, mask=mask, image_loss=image_loss)
        finished = _run_steps(
            editor, "edit", args.quiet, lambda s: f"clip {s.terms['clip']:.4f} dist {s.terms['distance']:.2f}"
        )
        if editor.step_index == 0:
            raise KeyboardInterrupt
        edited = editor.result()
        with torch.no_grad():
            before, after = editor.clip_score(start.ws_batch(G.device)), editor.clip_score()
        note(
            f"edit: {'done' if finished else 'stopped early'} after {editor.step_index}/{args.steps} steps, "
            f"CLIP loss {before:.4f} -> {after:.4f} (1 - cos, 8 motions), distance {editor.distance():.3f}"
        )
    save_latents(stem.with_suffix(".npz"), edited)
    write_image(stem.with_suffix(".png"), side_by_side(frames_at(G, (start, edited), t=0.0)))
    if args.save_direction is not None:
        save_direction(args.save_direction, Direction.between(start, edited))
        note(f"edit: direction -> {args.save_direction}")
    note(f"edit: latents -> {stem.with_suffix('.npz')}, before|after -> {stem.with_suffix('.png')}")
    return _video_unless_stopped(args, G, edited, stem, finished, "edit")
