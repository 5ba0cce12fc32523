"""The end-to-end demo: a tiny CREMA-D-style set from the bundled example, the real scripts on it, a report.

Every stage is the project's own script run as a subprocess with the arguments printed, so a user can copy
the commands and scale them up. The generator learns the example face for a few minutes; the video's last
seconds are kept out of training and scored, which shows the pipeline working, not the paper's quality.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Optional

from emogen.common.atomic import ensure_writable_dir
from emogen.common.contract import EMOTIONS
from emogen.common.errors import UserError, require_file
from emogen.common.examples import EXAMPLE_FACE, EXAMPLE_SPEECH
from emogen.common.media import input_arg, probe, require_tool, run_ffmpeg, video_fps
from emogen.common.weights import CHECKOUT, WEIGHTS

ROOT = CHECKOUT
RELEASED_GENERATOR = WEIGHTS["emogen_generator"].default
ACTORS = ("1001", "1002")
SENTENCES = ("DFA", "IEO", "TIE", "IOM", "ITH", "MTI")
CLIP_SECONDS = 1.6
HOLDOUT_SECONDS = 1.2  # the end of the face video, never trained on, rendered with its own speech and scored
HOLDOUT_EMOTION = "NEU"
DEFAULT_TRAIN_MINUTES = 4.0
# The generator also stops after this many steps: on the example the held-out face is best there and gets
# worse as the network fits its training clips ever closer (docs/quickstart.md has the curve).
DEFAULT_TRAIN_STEPS = 120
# What reaches a face fastest on one short video (the paper's recipe stays train.py's default): L1 alone, no
# expert or emotion term, Adam at 1e-3, batch 4, bfloat16 where the CPU runs it natively.
DEMO_GENERATOR_RECIPE = {"batch_size": 4, "initial_learning_rate": 1e-3, "syncnet_wt": 0.0, "pl_wt": 0.0, "emo_wt": 0.0}


DEFAULT_WORK_DIR = os.path.join(ROOT, "demo_run")
DATASET_WORK_DIR = os.path.join(ROOT, "demo_crema_d")  # demo.py --dataset


def wav2lip_generator() -> Optional[str]:
    """Wav2Lip's public generator when it is in checkpoints/ (wav2lip_gan.pth, else wav2lip.pth), else None."""
    path = WEIGHTS["wav2lip_generator"].path()
    return path if os.path.isfile(path) else None


def choose_generator(requested: Optional[str]) -> tuple[str, str]:
    """The generator the web page serves and a line saying what it is: the path asked for; else the released
    checkpoints/emogen_generator.pth; else the newest generator a demo trained (demo.py on the example face, or
    demo.py --dataset on CREMA-D clips; said on the page); else Wav2Lip's generator in checkpoints/ (lip sync
    only, said on the page); else the released path (the page then says it is missing and how to get one)."""
    if requested or os.path.isfile(RELEASED_GENERATOR):
        return requested or RELEASED_GENERATOR, ""
    from emogen.training.checkpoint_files import latest_checkpoint

    trained = [
        (path, work)
        for work in (DEFAULT_WORK_DIR, DATASET_WORK_DIR)
        for path in [latest_checkpoint(os.path.join(work, "checkpoints", "generator"))]
        if path is not None
    ]
    if not trained:
        # Wav2Lip's generator lip-syncs any face (the page says it has no emotions); else the missing file.
        return wav2lip_generator() or RELEASED_GENERATOR, ""
    path, work = max(trained, key=lambda pair: os.path.getmtime(pair[0]))
    # The page shows this line: a path inside the checkout, never the server's folders.
    shown = os.path.relpath(path, ROOT) if path.startswith(ROOT + os.sep) else os.path.basename(path)
    get_released = (
        "For any face, get the released EmoGen generator (checkpoints/README.md) and put it at "
        "checkpoints/emogen_generator.pth."
    )
    if work == DATASET_WORK_DIR:
        return path, (
            f"Using the generator demo.py --dataset trained ({shown}): it learned one CREMA-D actor saying one "
            "sentence in six emotions, so switch emotions on that actor's clip (demo_crema_d/fps25/ holds it); "
            f"other faces will look wrong. {get_released}"
        )
    return path, (
        f"Using the generator demo.py trained ({shown}): it learned the example face only, for a few "
        f"minutes, so other faces will look wrong. {get_released}"
    )


@dataclass
class DemoConfig:
    """Sizes of the demo run."""

    work_dir: str = DEFAULT_WORK_DIR
    steps: int = 4  # training steps of the lip-sync expert and the emotion discriminator
    train_minutes: float = DEFAULT_TRAIN_MINUTES  # the generator's training budget
    train_steps: Optional[int] = DEFAULT_TRAIN_STEPS  # and a step limit, whichever comes first; 0/None: none
    audio_seconds: Optional[float] = None
    face: str = EXAMPLE_FACE
    speech: str = EXAMPLE_SPEECH
    generator: Optional[str] = None  # checkpoint for inference (default: the one the demo trains)


@dataclass
class DemoReport:
    """What the run produced."""

    artifacts: dict = field(default_factory=dict)
    numbers: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)


def picture_duration(path: str) -> float:
    """The length of a video's picture (its audio may run a little longer), else of the file."""
    info = probe(path)
    video = next((st for st in info.get("streams", []) if st.get("codec_type") == "video" and st.get("duration")), None)
    return float(video["duration"] if video else info["format"]["duration"])


def make_raw_clips(face: str, raw_dir: str, end: float) -> list[str]:
    """Cut the face video's first ``end`` seconds into CREMA-D-named 30 fps clips: two 'actors' x six emotions,
    different segments."""
    os.makedirs(raw_dir, exist_ok=True)
    span = max(0.0, end - CLIP_SECONDS - 0.05)
    names = []
    for a, actor in enumerate(ACTORS):
        for e, emotion in enumerate(EMOTIONS):
            k = a * len(EMOTIONS) + e
            start = (k * 0.37) % span if span > 0 else 0.0
            name = f"{actor}_{SENTENCES[e]}_{emotion}_XX"
            out = os.path.join(raw_dir, name + ".mp4")
            if not os.path.isfile(out):
                run_ffmpeg(
                    [
                        "-ss",
                        f"{start:.2f}",
                        "-i",
                        input_arg(face),
                        "-t",
                        str(CLIP_SECONDS),
                        "-r",
                        "30",
                        "-c:v",
                        "libx264",
                        "-crf",
                        "16",
                        "-c:a",
                        "aac",
                        input_arg(out),
                    ],
                    f"cut {name}",
                )
            names.append(name)
    return names


def has_checkpoints(folder: str) -> bool:
    return os.path.isdir(folder) and any(f.endswith(".pth") for f in os.listdir(folder))


def resume_args(folder: str) -> list[str]:
    # Re-running the demo continues its earlier training instead of being refused by the scripts.
    return ["--checkpoint_path", "latest"] if has_checkpoints(folder) else []


def run_stage(title: str, args: list[str], log_dir: str) -> str:
    """Run one project script, print its command and the tail of its output; return the whole output."""
    cmd = [sys.executable, *args]
    print(f"\n== {title}\n$ {shlex.join(['python3', *args])}", flush=True)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, errors="replace")
    output = proc.stdout + proc.stderr
    os.makedirs(log_dir, exist_ok=True)
    log = os.path.join(log_dir, re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_") + ".log")
    with open(log, "w") as handle:
        handle.write(output)
    tail = [ln for ln in output.splitlines() if ln.strip() and "\r" not in ln][-4:]
    for line in tail:
        print(f"   {line}")
    print(
        f"   ({time.perf_counter() - start:.0f} s, log {os.path.relpath(log, ROOT) if log.startswith(ROOT) else log})"
    )
    # Exit 1 from conversion or preprocessing means some clips failed and the rest is usable; anything else stops.
    if proc.returncode not in (0,) and not (title.startswith(("convert", "preprocess")) and proc.returncode == 1):
        reason = next(
            (ln.strip() for ln in reversed(output.splitlines()) if ln.strip().startswith("error:")),
            tail[-1].strip() if tail else "no output",
        )
        raise UserError(f"demo stage '{title}' failed (exit {proc.returncode}): {reason} (log: {log})")
    return output


def render_precision() -> str:
    """--precision of the demo's renders: what auto picks in floating point (bf16 where native, else fp32-cl).
    auto's int8 would first quantize each generator the demo renders (two new ones per run), which costs more
    than it saves on these short clips."""
    from emogen.common.device import choose_device
    from emogen.common.precision import resolve_precision

    return resolve_precision("auto", choose_device(None)).name


def heldout_boxes(video: str, detector: str, cache: str) -> list:
    """The crop boxes inference used for ``video`` (read back from the detection cache, as inference.py ran)."""
    from emogen.inference.face_boxes import face_coords
    from emogen.inference.face_source import FaceSource
    from emogen.inference.options import InferenceOptions
    from emogen.inference.plan import plan_faces, resolve_runtime

    opts = InferenceOptions("", video, video, HOLDOUT_EMOTION, face_detector=detector, cache_dir=cache, progress=False)
    source = FaceSource(opts)
    frames = sum(1 for _ in source.frames(10**9))
    coords, _, _ = face_coords(opts, plan_faces(opts, resolve_runtime(opts)), source, frames, {})
    return coords


def score_heldout(
    face: str, start: float, generator: str, folder: str, cache: str, detector: str, logs: str, report: DemoReport
) -> dict:
    """Render the last seconds of the face video (never trained on) with its own speech, by the trained and by
    an untrained generator, and score both against the real frames inside the face box."""
    import torch

    from emogen.common.checkpoint_io import save_checkpoint
    from models import Wav2Lip

    from .face_scores import face_box_score, mouth_speech_correlation, side_by_side

    os.makedirs(folder, exist_ok=True)
    real = os.path.join(folder, "heldout.mp4")
    if not os.path.isfile(real):
        # Up to the last picture: where the soundtrack runs longer, ffmpeg would repeat the last frame.
        run_ffmpeg(
            [
                "-ss",
                f"{start:.3f}",
                "-i",
                input_arg(face),
                "-t",
                f"{picture_duration(face) - start:.3f}",
                "-c:v",
                "libx264",
                "-crf",
                "12",
                "-c:a",
                "aac",
                input_arg(real),
            ],
            "cut the held-out part",
        )
    untrained = os.path.join(folder, "untrained_generator.pth")
    if not os.path.isfile(untrained):
        torch.manual_seed(0)
        save_checkpoint(untrained, Wav2Lip())
    rendered = {}
    precision = render_precision()
    for label, weights in (("untrained", untrained), ("trained", generator)):
        rendered[label] = os.path.join(folder, f"{label}_{HOLDOUT_EMOTION}.mp4")
        run_stage(
            f"held-out render, {label} generator",
            [
                "inference.py",
                "--checkpoint_path",
                weights,
                "--face",
                real,
                "--audio",
                real,
                "--emotion",
                HOLDOUT_EMOTION,
                "--outfile",
                rendered[label],
                "--face_detector",
                detector,
                "--detection_cache_dir",
                cache,
                "--precision",
                precision,
                # The score is the generator's: a soft blend would mix real pixels into the box's border.
                "--blend",
                "hard",
                "--no_progress",
            ],
            logs,
        )
    coords = heldout_boxes(real, detector, cache)
    before, after = (face_box_score(real, rendered[k], coords) for k in ("untrained", "trained"))
    wav = os.path.join(folder, "heldout_16k.wav")
    run_ffmpeg(["-i", input_arg(real), "-vn", "-ac", "1", "-ar", "16000", input_arg(wav)], "read the held-out speech")
    fps = video_fps(real)
    r, r_untrained, r_real = (
        mouth_speech_correlation(video, wav, fps, coords)
        for video in (rendered["trained"], rendered["untrained"], real)
    )
    picture = side_by_side(
        real,
        [("trained", rendered["trained"]), ("untrained", rendered["untrained"])],
        coords,
        os.path.join(folder, "side_by_side.png"),
    )
    report.artifacts["held-out frames"] = f"{real} ({after.frames} frames never trained on)"
    report.artifacts["held-out side by side"] = picture
    return {
        "held-out face PSNR, untrained (dB)": before.psnr,
        "held-out face PSNR (dB)": after.psnr,
        "held-out face SSIM, untrained": before.ssim,
        "held-out face SSIM": after.ssim,
        "held-out mouth change vs speech change, r, untrained": r_untrained,
        "held-out mouth change vs speech change, r": r,
        "the same r of the real held-out frames": r_real,
    }


def run_demo(cfg: DemoConfig) -> DemoReport:
    """Run every stage and return the artifacts and numbers."""
    from emogen.common.weights import weight_path
    from emogen.training.checkpoint_files import latest_checkpoint, latest_emotion_checkpoint
    from emogen.training.loop import SUMMARY_FILE, TrainSummary
    from face_detection.registry import download_free_detector

    require_tool("ffmpeg")
    detector = download_free_detector()
    for path, flag in ((cfg.face, "--face"), (cfg.speech, "--speech")):
        require_file(path, flag, "a talking-head video" if flag == "--face" else "any audio or video with speech")
    work = os.path.abspath(cfg.work_dir)
    ensure_writable_dir(work, f"--work_dir {cfg.work_dir}")
    logs = os.path.join(work, "logs")
    steps = max(1, cfg.steps)
    report = DemoReport()
    duration = picture_duration(cfg.face)
    if duration < CLIP_SECONDS + HOLDOUT_SECONDS + 0.5:
        raise UserError(
            f"--face {cfg.face} lasts {duration:.1f} s; the demo needs at least "
            f"{CLIP_SECONDS + HOLDOUT_SECONDS + 0.5:.1f} s (training clips of {CLIP_SECONDS} s and the "
            f"last {HOLDOUT_SECONDS} s kept out for scoring)"
        )
    train_end = duration - HOLDOUT_SECONDS
    d = {
        k: os.path.join(work, k)
        for k in ("raw", "fps25", "preprocessed", "filelists", "checkpoints", "results", "real", "scores", "heldout")
    }
    make_raw_clips(cfg.face, d["raw"], train_end)
    run_stage("convert to 25 fps", ["convertFPS.py", "-i", d["raw"], "-o", d["fps25"], "--no_progress"], logs)
    run_stage(
        "preprocess",
        [
            "preprocess_crema-d.py",
            "--data_root",
            d["fps25"],
            "--preprocessed_root",
            d["preprocessed"],
            "--face_detector",
            detector,
            "--filelist_dir",
            d["filelists"],
            "--no_progress",
        ],
        logs,
    )
    common = ["--filelist_dir", d["filelists"], "--num_workers", "0", "--no_progress"]
    expert_dir = os.path.join(d["checkpoints"], "expert")
    emotion_dir = os.path.join(d["checkpoints"], "emotion")
    generator_dir = os.path.join(d["checkpoints"], "generator")
    run_stage(
        "train lip-sync expert",
        [
            "color_syncnet_train.py",
            "--data_root",
            d["preprocessed"],
            "--checkpoint_dir",
            expert_dir,
            "--hparams",
            "syncnet_batch_size=4",
            "--hparams",
            f"syncnet_eval_interval={steps}",
            "--hparams",
            f"syncnet_checkpoint_interval={steps}",
            "--eval_batches",
            "2",
            "--max_steps",
            str(steps),
            *common,
            *resume_args(expert_dir),
        ],
        logs,
    )
    run_stage(
        "train emotion discriminator",
        [
            "emotion_disc_train.py",
            "-i",
            d["preprocessed"],
            "-o",
            emotion_dir,
            "--batch-size",
            "4",
            "--save_interval",
            str(steps),
            "--max_steps",
            str(steps),
            *common,
            *(["--resume"] if has_checkpoints(emotion_dir) else []),
        ],
        logs,
    )
    expert = latest_checkpoint(expert_dir)
    disc = latest_emotion_checkpoint(emotion_dir)
    released = RELEASED_GENERATOR if os.path.isfile(RELEASED_GENERATOR) else None
    wav2lip = None if released else wav2lip_generator()
    begin = released or wav2lip
    start = ["--init_from", begin] if begin and not has_checkpoints(generator_dir) else []
    if released:
        origin = f"fine-tuned from the released {released}"
    elif wav2lip:
        origin = f"warm-started from Wav2Lip's {wav2lip} (no checkpoints/emogen_generator.pth)"
    else:
        origin = "trained from scratch (no checkpoints/emogen_generator.pth, no Wav2Lip generator)"
    limit = f"{cfg.train_minutes:g} min" + (f" or {cfg.train_steps} steps" if cfg.train_steps else "")
    report.notes.append(
        f"the generator was {origin} for {limit} with the demo's recipe: "
        + ", ".join(f"{k}={v:g}" for k, v in DEMO_GENERATOR_RECIPE.items())
        + ", --precision auto, no emotion-discriminator updates (train.py's defaults are the paper's)"
    )
    recipe = [arg for k, v in DEMO_GENERATOR_RECIPE.items() for arg in ("--hparams", f"{k}={v:g}")]
    run_stage(
        "train generator",
        [
            "train.py",
            "--data_root",
            d["preprocessed"],
            "--checkpoint_dir",
            generator_dir,
            "--syncnet_checkpoint_path",
            expert,
            "--emotion_disc_path",
            disc,
            *recipe,
            "--hparams",
            "eval_interval=1000000",
            "--hparams",
            "checkpoint_interval=1000000",
            "--hparams",
            "checkpoint_at_step_one=False",
            "--eval_batches",
            "1",
            "--split",
            "random",
            "--precision",
            "auto",
            "--freeze_emotion_disc",
            "--no_sync_switch",
            "--max_minutes",
            f"{cfg.train_minutes:g}",
            "--random_vgg",
            *start,
            *common,
            *(["--max_steps", str(cfg.train_steps)] if cfg.train_steps else []),
            *resume_args(generator_dir),
        ],
        logs,
    )
    summary = TrainSummary.load(os.path.join(generator_dir, SUMMARY_FILE))
    if "l1" in summary.first_losses:  # a rerun at its step limit trains nothing and has no losses
        report.numbers["train L1, first 10 steps"] = summary.first_losses["l1"]
        report.numbers["train L1, last 10 steps"] = summary.last_losses["l1"]
    fresh = latest_checkpoint(generator_dir)
    generator = cfg.generator or fresh
    report.notes.append(
        "inference used " + (f"the generator {cfg.generator}" if cfg.generator else "the generator the demo trained")
    )
    cache = os.path.join(work, "detection_cache")
    report.numbers.update(score_heldout(cfg.face, train_end, generator, d["heldout"], cache, detector, logs, report))

    speech = cfg.speech
    if cfg.audio_seconds:
        speech = os.path.join(work, "speech_trimmed.wav")
        run_ffmpeg(["-i", input_arg(cfg.speech), "-t", str(cfg.audio_seconds), input_arg(speech)], "trim the speech")
    outfile = os.path.join(d["results"], "demo.mp4")
    run_stage(
        "inference, all six emotions",
        [
            "inference.py",
            "--checkpoint_path",
            generator,
            "--face",
            cfg.face,
            "--audio",
            speech,
            "--emotion",
            "all",
            "--outfile",
            outfile,
            "--face_detector",
            detector,
            "--detection_cache_dir",
            cache,
            "--precision",
            render_precision(),
            "--no_progress",
        ],
        logs,
    )
    videos = {e: os.path.join(d["results"], f"demo_{e}.mp4") for e in EMOTIONS}

    syncnet = weight_path("syncnet_eval")
    if os.path.isfile(syncnet):
        from face_detection.detection.syncnet_s3fd import reference_weights_path

        # The published protocol needs sfd_face.pth (or s3fd.pth); without it the demo says it used its own.
        lse_detector = [] if os.path.isfile(reference_weights_path()) else ["--face_detector", detector]
        out = run_stage(
            "LSE-D / LSE-C",
            [
                "evaluation/score_lse.py",
                "--videos_dir",
                d["results"],
                "--syncnet_path",
                syncnet,
                "--out_dir",
                d["scores"],
                *lse_detector,
                "--no_progress",
            ],
            logs,
        )
        m = re.search(r"^mean\s+([-\d.]+)\s+([-\d.]+)", out, re.M)
        if m:
            report.numbers["LSE-D"], report.numbers["LSE-C"] = float(m.group(1)), float(m.group(2))
    else:
        report.notes.append(f"LSE skipped: no SyncNet weights at {syncnet} (see checkpoints/README.md)")
    os.makedirs(d["real"], exist_ok=True)
    reference_dir = os.path.join(work, "reference")
    os.makedirs(reference_dir, exist_ok=True)
    with open(cfg.face, "rb") as src, open(os.path.join(reference_dir, "demo.mp4"), "wb") as dst:
        dst.write(src.read())  # demo_<EMOTION>.mp4 -> demo.mp4: faces located once in the source video
    for e in EMOTIONS:
        real = os.path.join(d["real"], f"demo_{e}.mp4")
        if not os.path.isfile(real):
            with open(cfg.face, "rb") as src, open(real, "wb") as dst:
                dst.write(src.read())
    out = run_stage(
        "PSNR / SSIM / CPBD against the input face",
        [
            "evaluation/img_eval.py",
            "--real_dir",
            d["real"],
            "--generated_dir",
            d["results"],
            "--max_frames",
            "25",
            "--no_progress",
        ],
        logs,
    )
    m = re.search(r"^mean\s+\d+\s+([-\d.inf]+)\s+([-\d.]+)\s+([-\d.]+)", out, re.M)
    if m:
        report.numbers.update(PSNR=float(m.group(1)), SSIM=float(m.group(2)), CPBD=float(m.group(3)))
    out = run_stage(
        "emotion accuracy",
        [
            "evaluation/emotion_accuracy.py",
            "--videos_dir",
            d["results"],
            "--emotion_disc_path",
            disc,
            "--face_detector",
            detector,
            "--reference_dir",
            reference_dir,
            "--no_progress",
        ],
        logs,
    )
    m = re.search(r"EmoAcc \(clips[^)]*\): ([\d.]+)", out)
    if m:
        report.numbers["EmoAcc"] = float(m.group(1))
    report.artifacts = {
        **report.artifacts,
        "raw clips": d["raw"],
        "25 fps clips": d["fps25"],
        "preprocessed set": d["preprocessed"],
        "filelists": d["filelists"],
        "lip-sync expert": expert,
        "emotion discriminator": disc,
        "generator": fresh,
        "output videos": ", ".join(videos[e] for e in EMOTIONS),
        "logs": logs,
    }
    if "LSE-D" in report.numbers:
        report.artifacts["LSE scores"] = os.path.join(d["scores"], "all_scores.txt")
    return report


def format_report(report: DemoReport) -> str:
    """The closing summary: artifacts, numbers, notes, and what a smoke run means."""
    lines = ["", "== artifacts"]
    width = max(len(k) for k in report.artifacts)
    lines += [f"  {k:<{width}}  {v}" for k, v in report.artifacts.items()]
    lines += ["", "== numbers"]
    width = max(len(k) for k in report.numbers) if report.numbers else 0
    for k, v in report.numbers.items():
        lines.append(f"  {k:<{width}}  {v:.4f}")
    lines += [""] + [f"note: {n}" for n in report.notes]
    lines.append(
        "The held-out numbers compare frames the generator never trained on with what it drew for them "
        "from their own speech (the untrained row is the same network before training). A few minutes on "
        "clips of one short video teach it that face, not the paper's model: the numbers say nothing "
        "about the paper's quality (CREMA-D and days of training)."
    )
    return "\n".join(lines)
