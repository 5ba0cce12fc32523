"""The stages both demos run, as data: each builder returns the Stage (title, the script's arguments, the JSON
summary it writes) for one of the project's scripts, so the two demos share one spelling of each command."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Optional

from emogen.training.loop import SUMMARY_FILE

from .stages import Stage, has_checkpoints, resume_args

QUIET = ["--num_workers", "0", "--no_progress"]


def with_progress(common: list) -> list:
    """``common`` without --no_progress: a long stage's bar is shown live (``Stage.progress``)."""
    return [arg for arg in common if arg != "--no_progress"]


def convert_stage(source: str, target: str) -> Stage:
    """convertFPS.py: every clip of ``source`` at 25 fps in ``target``."""
    return Stage("convert to 25 fps", ["convertFPS.py", "-i", source, "-o", target, "--no_progress"])


def preprocess_stage(title: str, source: str, target: str, detector: str, filelists: str, split: bool) -> Stage:
    """preprocess_crema-d.py: face crops and mels of every clip, and the filelists (``split``: --split random)."""
    args = ["preprocess_crema-d.py", "--data_root", source, "--preprocessed_root", target]
    args += ["--face_detector", detector, "--filelist_dir", filelists, "--no_progress"]
    return Stage(title, args + (["--split", "random"] if split else []))


def expert_stage(title: str, data: str, folder: str, steps: int, common: list) -> Stage:
    """color_syncnet_train.py for ``steps`` steps with a batch of 4, evaluated and saved at its last step."""
    hparams = ["syncnet_batch_size=4", f"syncnet_eval_interval={steps}", f"syncnet_checkpoint_interval={steps}"]
    args = ["color_syncnet_train.py", "--data_root", data, "--checkpoint_dir", folder]
    args += [arg for h in hparams for arg in ("--hparams", h)]
    args += ["--eval_batches", "2", "--max_steps", str(steps), *common, *resume_args(folder)]
    return Stage(title, args, os.path.join(folder, SUMMARY_FILE))


@dataclass
class DiscRun:
    """An emotion classifier's run (emotion_disc_train.py): where, how long, its batch and the options."""

    data: str
    folder: str
    steps: int
    batch: int = 4
    lr: Optional[float] = None
    seed: Optional[int] = None
    precision: Optional[str] = None


def emotion_disc_stage(title: str, run: DiscRun, common: list) -> Stage:
    """emotion_disc_train.py, saving at its last step and resuming an earlier run in the same folder."""
    args = ["emotion_disc_train.py", "-i", run.data, "-o", run.folder, "--batch-size", str(run.batch)]
    args += ["--save_interval", str(run.steps), "--max_steps", str(run.steps)]
    for flag, value in (("--lr_emo", run.lr), ("--seed", run.seed), ("--precision", run.precision)):
        if value is not None:
            args += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    args += [*with_progress(common), *(["--resume"] if has_checkpoints(run.folder) else [])]
    return Stage(title, args, os.path.join(run.folder, SUMMARY_FILE), progress=True)


def hparam_settings(hparams: dict) -> list:
    """``key=value`` for each hyper-parameter, as train.py's --hparams reads it (a bool as True or False)."""
    return [f"{k}={v}" if isinstance(v, bool) else f"{k}={v:g}" for k, v in hparams.items()]


@dataclass
class GeneratorRun:
    """A generator's run (train.py): data, critics, the recipe (hparams), its limits and where it starts."""

    data: str
    folder: str
    expert: str
    disc: Optional[str]  # None: no emotion term, so train.py runs without a discriminator
    hparams: dict
    steps: Optional[int] = None
    minutes: Optional[float] = None
    flags: list = field(default_factory=list)  # train.py flags of the recipe (--reference neutral, ...)
    init_from: Optional[str] = None  # a new run starts from these weights (ignored when resuming)


def generator_stage(title: str, run: GeneratorRun, common: list) -> Stage:
    """train.py with the run's recipe, no periodic evaluation or checkpoint (one at its end), resuming an
    earlier run in the same folder."""
    args = ["train.py", "--data_root", run.data, "--checkpoint_dir", run.folder]
    args += ["--syncnet_checkpoint_path", run.expert, *(["--emotion_disc_path", run.disc] if run.disc else [])]
    args += [arg for setting in hparam_settings(run.hparams) for arg in ("--hparams", setting)]
    for h in ("eval_interval=1000000", "checkpoint_interval=1000000", "checkpoint_at_step_one=False"):
        args += ["--hparams", h]
    args += ["--eval_batches", "1", "--precision", "auto", "--no_sync_switch", *run.flags]
    args += ["--max_steps", str(run.steps)] if run.steps else []
    args += ["--max_minutes", f"{run.minutes:g}"] if run.minutes else []
    start = ["--init_from", run.init_from] if run.init_from else []
    args += [*with_progress(common), *(resume_args(run.folder) or start)]
    return Stage(title, args, os.path.join(run.folder, SUMMARY_FILE), progress=True)


def inference_stage(title: str, generator: str, face: str, speech: str, outfile: str, extra: list) -> Stage:
    """inference.py in all six emotions (or the emotion ``extra`` names), without progress bars."""
    args = ["inference.py", "--checkpoint_path", generator, "--face", face, "--audio", speech]
    emotion = [] if "--emotion" in extra else ["--emotion", "all"]
    return Stage(title, args + emotion + ["--outfile", outfile, *extra, "--no_progress"])


def lip_sync_stage(title: str, videos: str, source: str, summary: str, plot: Optional[str] = None) -> Stage:
    """evaluation/lip_sync.py on a folder of outputs drawn on ``source`` (``plot``: its picture too)."""
    args = ["evaluation/lip_sync.py", "--videos_dir", videos, "--source", source, *(["--plot", plot] if plot else [])]
    return Stage(title, args + ["--summary_json", summary, "--no_progress"], summary)


def image_quality_stage(title: str, real: str, generated: str, summary: str) -> Stage:
    """evaluation/img_eval.py: PSNR / SSIM / CPBD of the first 25 frames."""
    args = ["evaluation/img_eval.py", "--real_dir", real, "--generated_dir", generated, "--max_frames", "25"]
    return Stage(title, args + ["--summary_json", summary, "--no_progress"], summary)


def emotion_accuracy_stage(title: str, videos: str, disc: str, detector: str, reference: str, summary: str) -> Stage:
    """evaluation/emotion_accuracy.py with the faces located in the source video."""
    args = ["evaluation/emotion_accuracy.py", "--videos_dir", videos, "--emotion_disc_path", disc]
    args += ["--face_detector", detector, "--reference_dir", reference]
    return Stage(title, args + ["--summary_json", summary, "--no_progress"], summary)


def lse_stage(title: str, videos: str, syncnet: str, out_dir: str, detector: Optional[str]) -> Stage:
    """evaluation/score_lse.py (the published protocol's detector unless ``detector`` replaces it)."""
    args = ["evaluation/score_lse.py", "--videos_dir", videos, "--syncnet_path", syncnet, "--out_dir", out_dir]
    args += ["--face_detector", detector] if detector else []
    summary = os.path.join(out_dir, "summary.json")
    return Stage(title, args + ["--summary_json", summary, "--no_progress"], summary)
