"""The clips of demo.py --dataset: every file of the folder checked before any work (a real video with a picture
and a soundtrack, one file per clip name), the actor whose six emotions are rendered, and the training parts
(each clip without its last seconds, which stay out of training for the held-out score)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from emogen.common.atomic import atomic_path
from emogen.common.contract import EMOTIONS
from emogen.common.errors import UserError
from emogen.common.media import input_arg, probe, run_ffmpeg
from emogen.data.crema_d import parse_crema_name
from emogen.data.fps_conversion import VIDEO_EXTENSIONS, find_videos

from .stages import picture_duration

RENDERED_CLIP = "NEU"
HOLDOUT_SECONDS = 0.4
MIN_SECONDS = 1.0  # a clip shorter than this leaves too little to train on once its held-out end is cut


@dataclass
class DatasetClips:
    """The checked clips ({stem: path}) and, by emotion, the stems of the actor the demo renders."""

    paths: dict
    chosen: dict

    @property
    def actor(self) -> str:
        """The rendered actor's id."""
        return self.chosen[RENDERED_CLIP].split("_", 1)[0]


def _check_clip(path: str, name: str) -> None:
    """A UserError naming ``name`` unless it is a regular file ffprobe reads as a video with sound."""
    if os.path.islink(path) and not os.path.isfile(path):
        raise UserError.about("dataset", f"{name} is a broken link")
    if not os.path.isfile(path) or os.path.getsize(path) == 0:
        raise UserError.about("dataset", f"{name} is {'empty' if os.path.isfile(path) else 'not a file'}")
    try:
        info = probe(path)
    except UserError:
        raise UserError.about("dataset", f"{name} is not a video ffmpeg can read") from None
    kinds = {s.get("codec_type") for s in info.get("streams", [])}
    for kind in ("video", "audio"):
        if kind not in kinds:
            raise UserError.about("dataset", f"{name} has no {kind} stream; each clip needs a face and its speech")
    duration = float(info.get("format", {}).get("duration") or 0.0)
    if duration < MIN_SECONDS:
        raise UserError.about(
            "dataset", f"{name} lasts {duration:.2f} s; clips of at least {MIN_SECONDS:g} s are needed"
        )


def check_dataset(folder: str) -> DatasetClips:
    """Every clip of ``folder`` (what convertFPS.py would convert) checked, and the actor to render: the first
    with all six emotions, its NEU clip's sentence where it says it in each emotion."""
    if not os.path.isdir(folder):
        raise UserError.about(
            "dataset", f"{folder} is not a folder; give a folder of CREMA-D clips (1001_DFA_NEU_XX.flv)"
        )
    for name in sorted(os.listdir(folder)):
        stem, ext = os.path.splitext(name)
        if parse_crema_name(stem) and ext.lower() not in VIDEO_EXTENSIONS:
            raise UserError.about(
                "dataset", f"{name}: a clip name on a {ext or 'nameless'} file; clips are {', '.join(VIDEO_EXTENSIONS)}"
            )
    paths: dict = {}
    for rel in find_videos(folder):
        stem = os.path.splitext(os.path.basename(rel))[0]
        if stem in paths:
            raise UserError.about("dataset", f"two files for the clip {stem}: {paths[stem]} and {rel}; keep one")
        _check_clip(os.path.join(folder, rel), rel)
        paths[stem] = os.path.join(folder, rel)
    return DatasetClips(paths, choose_actor(folder, list(paths)))


def choose_actor(folder: str, stems: list) -> dict:
    """{emotion: stem} of the first actor with all six emotions (see check_dataset)."""
    names = [parsed for stem in sorted(stems) for parsed in [parse_crema_name(stem)] if parsed]
    emotions_of: dict = {}
    for n in names:
        emotions_of.setdefault(n.actor, set()).add(n.emotion)
    actors = sorted(a for a, emotions in emotions_of.items() if emotions == set(EMOTIONS))
    if not actors:
        raise UserError.about(
            "dataset",
            f"{folder} has no actor with all six emotions ({', '.join(EMOTIONS)}) in CREMA-D names such as "
            "1001_DFA_NEU_XX.flv; the demo renders one actor's NEU clip with each label",
        )
    own = [n for n in names if n.actor == actors[0]]
    sentence = next(n.sentence for n in own if n.emotion == RENDERED_CLIP)
    chosen = {}
    for e in EMOTIONS:
        of_emotion = [n for n in own if n.emotion == e]
        pick = next((n for n in of_emotion if n.sentence == sentence), of_emotion[0])
        chosen[e] = f"{pick.actor}_{pick.sentence}_{pick.emotion}_{pick.intensity}"
    return chosen


def cut_training_parts(fps25: str, out_dir: str) -> dict:
    """Each 25 fps clip without its last HOLDOUT_SECONDS (kept out of training), as out_dir/<name>.mp4, written
    atomically; returns where each cut falls, in seconds."""
    os.makedirs(out_dir, exist_ok=True)
    cuts = {}
    for name in sorted(os.listdir(fps25)):
        stem, ext = os.path.splitext(name)
        if ext != ".mp4":
            continue
        cuts[stem] = picture_duration(os.path.join(fps25, name)) - HOLDOUT_SECONDS
        out = os.path.join(out_dir, name)
        if not os.path.isfile(out):
            src = os.path.join(fps25, name)
            args = ["-i", input_arg(src), "-t", f"{cuts[stem]:.3f}", "-c:v", "libx264", "-crf", "12"]
            with atomic_path(out, suffix=".mp4") as tmp:
                run_ffmpeg([*args, "-c:a", "aac", input_arg(tmp)], f"cut the training part of {stem}")
    return cuts
