"""The end-to-end demo: a tiny CREMA-D-style set from the bundled example, the real scripts on it, a report.

Every stage is the project's own script run as a subprocess with the arguments printed, so a user can copy
the commands and scale them up. The generator learns the example face for a few minutes. Two checks follow: the
video's last seconds, kept out of training, redrawn from their own speech (is the face right?), and the face
driven by speech it never spoke, judged by a landmark model trained elsewhere (does the mouth follow the speech,
or the source video's mouth?).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Optional

from emogen.common.atomic import atomic_path
from emogen.common.contract import EMOTIONS
from emogen.common.digest import file_digest
from emogen.common.errors import UserError, require_file
from emogen.common.examples import EXAMPLE_FACE, EXAMPLE_SPEECH
from emogen.common.media import input_arg, require_tool, run_ffmpeg

from . import demo_stages as st
from .heldout import HOLDOUT_SECONDS, score_heldout
from .stages import (
    DEFAULT_WORK_DIR,
    RELEASED_GENERATOR,
    has_checkpoints,
    picture_duration,
    render_precision,
    run_stage,
    wav2lip_generator,
)
from .work_folder import WorkFolder, claim_work_folder

ACTORS = ("1001", "1002")
SENTENCES = ("DFA", "IEO", "TIE", "IOM", "ITH", "MTI")
CLIP_SECONDS = 1.6
# The generator's budget counts steps, so every machine trains the same network (docs/quickstart.md has the curve
# of the held-out face); a time limit is an option.
DEFAULT_TRAIN_STEPS = 120
# What reaches a face fastest on one short video (the paper's recipe stays train.py's default): L1 alone, no
# expert or emotion term, Adam at 1e-3, batch 4, bfloat16 where the CPU runs it natively.
DEMO_GENERATOR_RECIPE = {"batch_size": 4, "initial_learning_rate": 1e-3, "syncnet_wt": 0.0, "pl_wt": 0.0, "emo_wt": 0.0}
DEMO_GENERATOR_FLAGS = ["--split", "random", "--freeze_emotion_disc", "--random_vgg"]


@dataclass
class DemoConfig:
    """Sizes of the demo run; paths are made absolute once, at the start."""

    work_dir: str = DEFAULT_WORK_DIR
    steps: int = 4  # training steps of the lip-sync expert and the emotion discriminator
    train_minutes: Optional[float] = None  # also stop the generator after this many minutes (None: no time limit)
    train_steps: Optional[int] = DEFAULT_TRAIN_STEPS  # the generator's steps; 0/None: none (then minutes are needed)
    audio_seconds: Optional[float] = None
    face: str = EXAMPLE_FACE
    speech: str = EXAMPLE_SPEECH
    generator: Optional[str] = None  # checkpoint for inference (default: the one the demo trains)

    def __post_init__(self) -> None:
        self.work_dir, self.face, self.speech = (os.path.abspath(p) for p in (self.work_dir, self.face, self.speech))
        if self.generator:
            self.generator = os.path.abspath(self.generator)


@dataclass
class DemoReport:
    """What the run produced."""

    artifacts: dict = field(default_factory=dict)
    numbers: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)


@dataclass
class QuickRun:
    """One demo run's folders, detector and the networks it trained."""

    cfg: DemoConfig
    work: str
    detector: str
    train_end: float
    folder: WorkFolder  # held (locked) while the run goes on
    report: DemoReport = field(default_factory=DemoReport)
    networks: dict = field(default_factory=dict)

    def path(self, *parts: str) -> str:
        """A path inside the work folder."""
        return os.path.join(self.work, *parts)

    @property
    def logs(self) -> str:
        """Where each stage's output is logged."""
        return self.path("logs")

    @property
    def common(self) -> list:
        """The flags every trainer gets here."""
        return ["--filelist_dir", self.path("filelists"), *st.QUIET]


def start(cfg: DemoConfig) -> QuickRun:
    """Check the inputs before any work and claim the work folder for them."""
    from face_detection.registry import download_free_detector

    require_tool("ffmpeg")
    require_file(cfg.face, "--face", "a talking-head video")
    require_file(cfg.speech, "--speech", "any audio or video with speech")
    duration = picture_duration(cfg.face)
    if duration < CLIP_SECONDS + HOLDOUT_SECONDS + 0.5:
        raise UserError(
            f"--face {cfg.face} lasts {duration:.1f} s; the demo needs at least "
            f"{CLIP_SECONDS + HOLDOUT_SECONDS + 0.5:.1f} s (training clips of {CLIP_SECONDS} s and the "
            f"last {HOLDOUT_SECONDS} s kept out for scoring)"
        )
    identity = {
        "demo": "quickstart",
        "face": file_digest(cfg.face),
        "speech": file_digest(cfg.speech),
        "recipe": {**DEMO_GENERATOR_RECIPE, "flags": DEMO_GENERATOR_FLAGS, "init": _starting_weights()},
    }
    steps = {"expert and emotion": max(1, cfg.steps), "generator": cfg.train_steps or 0}
    folder = claim_work_folder(cfg.work_dir, "--work_dir", identity, steps)
    return QuickRun(cfg, cfg.work_dir, download_free_detector(), duration - HOLDOUT_SECONDS, folder)


def _starting_weights() -> Optional[str]:
    """The released EmoGen generator to fine-tune, else Wav2Lip's to warm-start from, else None (scratch)."""
    return RELEASED_GENERATOR if os.path.isfile(RELEASED_GENERATOR) else wav2lip_generator()


def make_raw_clips(face: str, raw_dir: str, end: float) -> list[str]:
    """Cut the face video's first ``end`` seconds into CREMA-D-named 30 fps clips: two 'actors' x six emotions,
    different segments; each written atomically, so an interrupted cut is made again."""
    span = max(0.0, end - CLIP_SECONDS - 0.05)
    names = []
    for a, actor in enumerate(ACTORS):
        for e, emotion in enumerate(EMOTIONS):
            k = a * len(EMOTIONS) + e
            begin = (k * 0.37) % span if span > 0 else 0.0
            name = f"{actor}_{SENTENCES[e]}_{emotion}_XX"
            out = os.path.join(raw_dir, name + ".mp4")
            if not os.path.isfile(out):
                args = ["-ss", f"{begin:.2f}", "-i", input_arg(face), "-t", str(CLIP_SECONDS), "-r", "30"]
                with atomic_path(out, suffix=".mp4") as tmp:
                    run_ffmpeg([*args, "-c:v", "libx264", "-crf", "16", "-c:a", "aac", input_arg(tmp)], f"cut {name}")
            names.append(name)
    return names


def prepare_data(run: QuickRun) -> None:
    """The CREMA-D-style clips, at 25 fps, preprocessed into crops, mels and filelists."""
    make_raw_clips(run.cfg.face, run.path("raw"), run.train_end)
    run_stage(st.convert_stage(run.path("raw"), run.path("fps25")), run.logs)
    pre = st.preprocess_stage(
        "preprocess", run.path("fps25"), run.path("preprocessed"), run.detector, run.path("filelists"), split=False
    )
    run_stage(pre, run.logs)


def train(run: QuickRun) -> None:
    """The lip-sync expert and the emotion discriminator for a few steps, then the generator with the demo's
    recipe; their checkpoints go into ``run.networks``."""
    from emogen.training.checkpoint_files import latest_checkpoint, latest_emotion_checkpoint

    steps, data = max(1, run.cfg.steps), run.path("preprocessed")
    folders = {k: run.path("checkpoints", k) for k in ("expert", "emotion", "generator")}
    run_stage(st.expert_stage("train lip-sync expert", data, folders["expert"], steps, run.common), run.logs)
    disc = st.DiscRun(data, folders["emotion"], steps)
    run_stage(st.emotion_disc_stage("train emotion discriminator", disc, run.common), run.logs)
    run.networks["expert"] = latest_checkpoint(folders["expert"])
    run.networks["disc"] = latest_emotion_checkpoint(folders["emotion"])
    begin = _starting_weights()
    if begin == RELEASED_GENERATOR:
        origin = f"fine-tuned from the released {begin}"
    elif begin:
        origin = f"warm-started from Wav2Lip's {begin} (no checkpoints/emogen_generator.pth)"
    else:
        origin = "trained from scratch (no checkpoints/emogen_generator.pth, no Wav2Lip generator)"
    limits = [
        f"{run.cfg.train_steps} steps" if run.cfg.train_steps else "",
        f"{run.cfg.train_minutes:g} min" if run.cfg.train_minutes else "",
    ]
    limit = " or ".join(x for x in limits if x)
    run.report.notes.append(
        f"the generator was {origin} for {limit} with the demo's recipe: "
        + ", ".join(st.hparam_settings(DEMO_GENERATOR_RECIPE))
        + ", --precision auto, no emotion-discriminator updates (train.py's defaults are the paper's)"
    )
    gen = st.GeneratorRun(
        data,
        folders["generator"],
        run.networks["expert"],
        run.networks["disc"],
        DEMO_GENERATOR_RECIPE,
        steps=run.cfg.train_steps,
        minutes=run.cfg.train_minutes,
        flags=DEMO_GENERATOR_FLAGS,
        init_from=None if has_checkpoints(folders["generator"]) else begin,
    )
    summary = run_stage(st.generator_stage("train generator", gen, run.common), run.logs).summary
    if summary.get("first_losses", {}).get("l1") is not None:  # a rerun at its step limit trains nothing
        run.report.numbers["train L1, first 10 steps"] = summary["first_losses"]["l1"]
        run.report.numbers["train L1, last 10 steps"] = summary["last_losses"]["l1"]
    run.networks["generator"] = latest_checkpoint(folders["generator"])


def dub(run: QuickRun, generator: str) -> dict:
    """The face driven by the demo's speech (which it never spoke) in all six emotions, with inference's default
    reference; and the NEU video again with the original's reference (the frame itself), whose lip sync is
    reported beside it. Returns {emotion: video}."""
    speech = run.cfg.speech
    if run.cfg.audio_seconds:
        speech = run.path("speech_trimmed.wav")
        with atomic_path(speech, suffix=".wav") as tmp:
            run_ffmpeg(["-i", input_arg(run.cfg.speech), "-t", str(run.cfg.audio_seconds), input_arg(tmp)], "trim")
    extra = ["--face_detector", run.detector, "--detection_cache_dir", run.path("detection_cache")]
    extra += ["--precision", render_precision()]
    outfile = run.path("results", "demo.mp4")
    title = "inference, all six emotions"
    run_stage(st.inference_stage(title, generator, run.cfg.face, speech, outfile, extra), run.logs)
    original = run.path("results_frame_reference", "demo_NEU.mp4")
    title = "inference, NEU, with the original's reference (the frame itself)"
    original_extra = [*extra, "--emotion", "NEU", "--reference", "frame"]
    run_stage(st.inference_stage(title, generator, run.cfg.face, speech, original, original_extra), run.logs)
    return {e: run.path("results", f"demo_{e}.mp4") for e in EMOTIONS}


def score(run: QuickRun, results: str) -> None:
    """Lip sync on the new speech, image quality against the input face, emotion accuracy, and LSE where
    SyncNet's weights exist; every number read from the scripts' JSON summaries."""
    from emogen.common.weights import weight_path

    numbers, face = run.report.numbers, run.cfg.face
    plot = run.path("scores", "mouth_and_speech.png")
    summary = run.path("scores", "lip_sync.json")
    sync = run_stage(st.lip_sync_stage("lip sync on new speech", results, face, summary, plot), run.logs).summary
    numbers["dubbing sync, new speech (r)"] = sync["mean"]["dubbing_sync"]
    numbers["the real face with its own speech (r)"] = sync["real_baseline"]
    numbers["copy of the source video's mouth (r)"] = sync["mean"]["copy"]
    numbers["identity similarity to the source (cosine)"] = sync["mean"]["identity"]
    run.report.artifacts["mouth and speech over time"] = plot
    summary = run.path("scores", "lip_sync_frame_reference.json")
    stage = st.lip_sync_stage("lip sync, the original's reference", run.path("results_frame_reference"), face, summary)
    original = run_stage(stage, run.logs).summary["mean"]
    numbers["dubbing sync with the original's reference (the frame itself)"] = original["dubbing_sync"]
    numbers["copy with the original's reference"] = original["copy"]
    real_dir, reference_dir = run.path("real"), run.path("reference")
    for folder, names in ((real_dir, [f"demo_{e}.mp4" for e in EMOTIONS]), (reference_dir, ["demo.mp4"])):
        for name in names:  # the input face under the outputs' names, so the scorers pair them
            if not os.path.isfile(os.path.join(folder, name)):
                with atomic_path(os.path.join(folder, name), suffix=".mp4") as tmp:
                    with open(face, "rb") as src, open(tmp, "wb") as dst:
                        dst.write(src.read())
    image = st.image_quality_stage(
        "PSNR / SSIM / CPBD against the input face", real_dir, results, run.path("scores", "image.json")
    )
    numbers.update({k: v for k, v in run_stage(image, run.logs).summary["mean"].items()})
    emo = st.emotion_accuracy_stage(
        "emotion accuracy",
        results,
        run.networks["disc"],
        run.detector,
        reference_dir,
        run.path("scores", "emotion.json"),
    )
    numbers["EmoAcc"] = run_stage(emo, run.logs).summary["clip_accuracy"]
    syncnet = weight_path("syncnet_eval")
    if not os.path.isfile(syncnet):
        run.report.notes.append(f"LSE skipped: no SyncNet weights at {syncnet} (see checkpoints/README.md)")
        return
    from face_detection.detection.syncnet_s3fd import reference_weights_path

    # The published protocol needs sfd_face.pth (or s3fd.pth); without it the demo says it used its own.
    own = None if os.path.isfile(reference_weights_path()) else run.detector
    lse = run_stage(st.lse_stage("LSE-D / LSE-C", results, syncnet, run.path("scores"), own), run.logs).summary
    numbers["LSE-D"], numbers["LSE-C"] = lse["LSE-D"], lse["LSE-C"]
    run.report.artifacts["LSE scores"] = run.path("scores", "all_scores.txt")


def run_demo(cfg: DemoConfig) -> DemoReport:
    """Run every stage and return the artifacts and numbers."""
    run = start(cfg)
    try:
        return _run_stages(run)
    finally:
        run.folder.release()


def _run_stages(run: QuickRun) -> DemoReport:
    cfg = run.cfg
    prepare_data(run)
    train(run)
    generator = cfg.generator or run.networks["generator"]
    run.report.notes.append(
        "inference used " + (f"the generator {cfg.generator}" if cfg.generator else "the generator the demo trained")
    )
    held = score_heldout(cfg.face, run.train_end, generator, run.path("heldout"), run.detector, run.logs)
    run.report.numbers.update(
        {
            "held-out face PSNR, untrained (dB)": held.psnr_untrained,
            "held-out face PSNR (dB)": held.psnr,
            "held-out face SSIM, untrained": held.ssim_untrained,
            "held-out face SSIM": held.ssim,
        }
    )
    videos = dub(run, generator)
    score(run, run.path("results"))
    run.report.artifacts = {
        "held-out frames": f"{held.real} ({held.frames} frames never trained on)",
        "held-out side by side": held.picture,
        **run.report.artifacts,
        "preprocessed set": run.path("preprocessed"),
        "lip-sync expert": run.networks["expert"],
        "emotion discriminator": run.networks["disc"],
        "generator": run.networks["generator"],
        "output videos": ", ".join(videos[e] for e in EMOTIONS),
        "logs": run.logs,
    }
    return run.report


def format_report(report: DemoReport) -> str:
    """The closing summary: artifacts, numbers, notes, and what a smoke run means."""
    lines = ["", "== artifacts"]
    width = max(len(k) for k in report.artifacts)
    lines += [f"  {k:<{width}}  {v}" for k, v in report.artifacts.items()]
    lines += ["", "== numbers"]
    width = max(len(k) for k in report.numbers) if report.numbers else 0
    for k, v in report.numbers.items():
        lines.append(f"  {k:<{width}}  {v:.4f}" if v is not None else f"  {k:<{width}}  -")
    lines += [""] + [f"note: {n}" for n in report.notes]
    lines.append(
        "The held-out numbers compare frames the generator never trained on with what it drew for them from their "
        "own speech (the untrained row is the same network before training). Dubbing sync is read against the real "
        "face with its own speech; copy near 1 means the mouth follows the source video, not the speech. A few "
        "minutes on clips of one short video teach it that face, not the paper's model: the numbers say nothing "
        "about the paper's quality (CREMA-D and days of training)."
    )
    return "\n".join(lines)
