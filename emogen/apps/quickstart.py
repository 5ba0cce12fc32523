"""The end-to-end demo: a tiny CREMA-D-style set from the bundled example, the real scripts on it, a report.

Every stage is the project's own script run as a subprocess with the arguments printed, so a user can copy
the commands and scale them up. A smoke-scale run shows the pipeline working, not the paper's quality.
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
from emogen.common.errors import UserError
from emogen.common.media import input_arg, probe, require_tool, run_ffmpeg
from emogen.common.weights import CHECKOUT, WEIGHTS

ROOT = CHECKOUT
EXAMPLE_FACE = os.path.join(ROOT, "examples", "face.mp4")
EXAMPLE_SPEECH = os.path.join(ROOT, "examples", "speech.wav")
RELEASED_GENERATOR = WEIGHTS["emogen_generator"].default
ACTORS = ("1001", "1002")
SENTENCES = ("DFA", "IEO", "TIE", "IOM", "ITH", "MTI")
CLIP_SECONDS = 1.6


@dataclass
class DemoConfig:
    """Sizes of the demo run."""

    work_dir: str = "demo_run"
    steps: int = 4
    audio_seconds: Optional[float] = None
    face: str = EXAMPLE_FACE
    speech: str = EXAMPLE_SPEECH
    generator: Optional[str] = None  # released checkpoint to use for inference (default: if present)


@dataclass
class DemoReport:
    """What the run produced."""

    artifacts: dict = field(default_factory=dict)
    numbers: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)


def _duration(path: str) -> float:
    return float(probe(path)["format"]["duration"])


def make_raw_clips(face: str, raw_dir: str) -> list[str]:
    """Cut the example into CREMA-D-named 30 fps clips: two 'actors' x six emotions, different segments."""
    os.makedirs(raw_dir, exist_ok=True)
    span = max(0.0, _duration(face) - CLIP_SECONDS - 0.05)
    names = []
    for a, actor in enumerate(ACTORS):
        for e, emotion in enumerate(EMOTIONS):
            k = a * len(EMOTIONS) + e
            start = (k * 0.37) % span if span > 0 else 0.0
            name = f"{actor}_{SENTENCES[e]}_{emotion}_XX"
            out = os.path.join(raw_dir, name + ".mp4")
            if not os.path.isfile(out):
                run_ffmpeg(["-ss", f"{start:.2f}", "-i", input_arg(face), "-t", str(CLIP_SECONDS), "-r", "30",
                            "-c:v", "libx264", "-crf", "16", "-c:a", "aac", input_arg(out)], f"cut {name}")
            names.append(name)
    return names


def _has_checkpoints(folder: str) -> bool:
    return os.path.isdir(folder) and any(f.endswith(".pth") for f in os.listdir(folder))


def _resume(folder: str) -> list[str]:
    # Re-running the demo continues its earlier training instead of being refused by the scripts.
    return ["--checkpoint_path", "latest"] if _has_checkpoints(folder) else []


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
    print(f"   ({time.perf_counter() - start:.0f} s, log {os.path.relpath(log, ROOT) if log.startswith(ROOT) else log})")
    # Exit 1 from conversion or preprocessing means some clips failed and the rest is usable; anything else stops.
    if proc.returncode not in (0,) and not (title.startswith(("convert", "preprocess")) and proc.returncode == 1):
        reason = next((ln.strip() for ln in reversed(output.splitlines()) if ln.strip().startswith("error:")),
                      tail[-1].strip() if tail else "no output")
        raise UserError(f"demo stage '{title}' failed (exit {proc.returncode}): {reason} (log: {log})")
    return output


def run_demo(cfg: DemoConfig) -> DemoReport:
    """Run every stage and return the artifacts and numbers."""
    from emogen.common.weights import weight_path
    from emogen.training.checkpoint_files import latest_checkpoint, latest_emotion_checkpoint
    from face_detection.registry import download_free_detector

    require_tool("ffmpeg")
    detector = download_free_detector()
    for path in (cfg.face, cfg.speech):
        if not os.path.isfile(path):
            raise UserError(f"example file missing: {path}")
    work = os.path.abspath(cfg.work_dir)
    ensure_writable_dir(work, f"--work_dir {cfg.work_dir}")
    logs = os.path.join(work, "logs")
    steps = max(1, cfg.steps)
    report = DemoReport()
    make_raw_clips(cfg.face, os.path.join(work, "raw"))
    d = {k: os.path.join(work, k) for k in ("raw", "fps25", "preprocessed", "filelists", "checkpoints", "results",
                                             "real", "scores")}
    run_stage("convert to 25 fps", ["convertFPS.py", "-i", d["raw"], "-o", d["fps25"], "--no_progress"], logs)
    run_stage("preprocess", ["preprocess_crema-d.py", "--data_root", d["fps25"], "--preprocessed_root",
                             d["preprocessed"], "--face_detector", detector, "--filelist_dir", d["filelists"],
                             "--no_progress"], logs)
    common = ["--filelist_dir", d["filelists"], "--num_workers", "0", "--no_progress", "--max_steps", str(steps)]
    expert_dir = os.path.join(d["checkpoints"], "expert")
    emotion_dir = os.path.join(d["checkpoints"], "emotion")
    generator_dir = os.path.join(d["checkpoints"], "generator")
    run_stage("train lip-sync expert", ["color_syncnet_train.py", "--data_root", d["preprocessed"], "--checkpoint_dir",
                                        expert_dir, "--hparams", "syncnet_batch_size=4", "--hparams",
                                        f"syncnet_eval_interval={steps}", "--hparams",
                                        f"syncnet_checkpoint_interval={steps}", "--eval_batches", "2", *common,
                                        *_resume(expert_dir)], logs)
    run_stage("train emotion discriminator", ["emotion_disc_train.py", "-i", d["preprocessed"], "-o", emotion_dir,
                                              "--batch-size", "4", "--save_interval", str(steps), *common,
                                              *(["--resume"] if _has_checkpoints(emotion_dir) else [])], logs)
    expert = latest_checkpoint(expert_dir)
    disc = latest_emotion_checkpoint(emotion_dir)
    vgg = [] if os.path.isfile(weight_path("vgg19")) else ["--random_vgg"]
    run_stage("train generator", ["train.py", "--data_root", d["preprocessed"], "--checkpoint_dir", generator_dir,
                                  "--syncnet_checkpoint_path", expert, "--emotion_disc_path", disc, "--hparams",
                                  "batch_size=2", "--hparams", f"eval_interval={steps}", "--hparams",
                                  f"checkpoint_interval={steps}", "--eval_batches", "1", *vgg, *common,
                                  *_resume(generator_dir)], logs)
    if vgg:
        report.notes.append("VGG19 weights absent: the generator's perceptual loss used a random VGG19")
    fresh = latest_checkpoint(generator_dir)
    released = cfg.generator or (RELEASED_GENERATOR if os.path.isfile(RELEASED_GENERATOR) else None)
    generator = released or fresh
    report.notes.append(f"inference used {'the released generator ' + released if released else 'the freshly trained generator'}")

    speech = cfg.speech
    if cfg.audio_seconds:
        speech = os.path.join(work, "speech_trimmed.wav")
        run_ffmpeg(["-i", input_arg(cfg.speech), "-t", str(cfg.audio_seconds), input_arg(speech)], "trim the speech")
    outfile = os.path.join(d["results"], "demo.mp4")
    run_stage("inference, all six emotions", ["inference.py", "--checkpoint_path", generator, "--face", cfg.face,
                                              "--audio", speech, "--emotion", "all", "--outfile", outfile,
                                              "--detection_cache_dir", os.path.join(work, "detection_cache"),
                                              "--no_progress"], logs)
    videos = {e: os.path.join(d["results"], f"demo_{e}.mp4") for e in EMOTIONS}

    syncnet = weight_path("syncnet_eval")
    if os.path.isfile(syncnet):
        from face_detection.detection.syncnet_s3fd import reference_weights_path

        # The published protocol needs sfd_face.pth (or s3fd.pth); without it the demo says it used its own.
        lse_detector = [] if os.path.isfile(reference_weights_path()) else ["--face_detector", detector]
        out = run_stage("LSE-D / LSE-C", ["evaluation/score_lse.py", "--videos_dir", d["results"], "--syncnet_path",
                                          syncnet, "--out_dir", d["scores"], *lse_detector, "--no_progress"], logs)
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
    out = run_stage("PSNR / SSIM / CPBD against the input face", ["evaluation/img_eval.py", "--real_dir", d["real"],
                                                                  "--generated_dir", d["results"], "--max_frames",
                                                                  "25", "--no_progress"],
                    logs)
    m = re.search(r"^mean\s+\d+\s+([-\d.inf]+)\s+([-\d.]+)\s+([-\d.]+)", out, re.M)
    if m:
        report.numbers.update(PSNR=float(m.group(1)), SSIM=float(m.group(2)), CPBD=float(m.group(3)))
    out = run_stage("emotion accuracy", ["evaluation/emotion_accuracy.py", "--videos_dir", d["results"],
                                         "--emotion_disc_path", disc, "--face_detector", detector,
                                         "--reference_dir", reference_dir, "--no_progress"], logs)
    m = re.search(r"EmoAcc \(clips[^)]*\): ([\d.]+)", out)
    if m:
        report.numbers["EmoAcc"] = float(m.group(1))
    report.artifacts = {"raw clips": d["raw"], "25 fps clips": d["fps25"], "preprocessed set": d["preprocessed"],
                        "filelists": d["filelists"], "lip-sync expert": expert, "emotion discriminator": disc,
                        "generator": fresh, "output videos": ", ".join(videos[e] for e in EMOTIONS),
                        "logs": logs}
    if "LSE-D" in report.numbers:
        report.artifacts["LSE scores"] = os.path.join(d["scores"], "all_scores.txt")
    return report


def format_report(report: DemoReport) -> str:
    """The closing summary: artifacts, numbers, notes, and what a smoke run means."""
    lines = ["", "== artifacts"]
    width = max(len(k) for k in report.artifacts)
    lines += [f"  {k:<{width}}  {v}" for k, v in report.artifacts.items()]
    lines += ["", "== numbers (smoke scale)"]
    for k, v in report.numbers.items():
        lines.append(f"  {k:<7} {v:.4f}")
    lines += [""] + [f"note: {n}" for n in report.notes]
    lines.append("This smoke-scale run (a few training steps on clips cut from one example video) shows the "
                 "pipeline working end to end; its numbers say nothing about the paper's quality.")
    return "\n".join(lines)
