"""Every weight file the project reads, in one table: its name, where it is looked for (argument, environment
variable, default under the checkout's ``checkpoints/`` or a cache), where it comes from, and what its
state_dict looks like (so a wrong file is named in words).

The table is plain data: nothing here builds a network, so every layer may ask it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping, Optional

CHECKOUT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHECKPOINTS_DIR = os.path.join(CHECKOUT, "checkpoints")


def hub_checkpoints_dir() -> str:
    """torch.hub's checkpoint cache, found as torch finds it ($TORCH_HOME, else $XDG_CACHE_HOME/torch, else
    ~/.cache/torch; then hub/checkpoints), without importing torch."""
    home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "torch"
    )
    return os.path.join(home, "hub", "checkpoints")


@dataclass(frozen=True)
class WeightFile:
    """One weight file: how it is found, described and recognised."""

    name: str  # key in WEIGHTS
    description: str  # what it is, as an error message says it ("an EmoGen generator")
    source: str  # where a user gets it
    default_file: str  # looked at when neither an argument nor the environment names a path
    env: Optional[str] = None  # environment variable that overrides the default
    legacy: tuple[str, ...] = ()  # older places still honoured (after the default)
    keys: int = 0  # number of state_dict entries (0: not recognised by shape)
    modules: frozenset = frozenset()  # the top-level module names of its state_dict keys
    in_hub: bool = False  # default_file lies in torch.hub's checkpoint cache, not in checkpoints/
    optional: frozenset = frozenset()  # top-level modules of options outside the released layout, not counted

    @property
    def default(self) -> str:
        """The default place: <checkout>/checkpoints/<file>, or torch.hub's cache for files torchvision and
        pytorch-fid download themselves (read when the run starts, so $TORCH_HOME set late still counts)."""
        return os.path.join(hub_checkpoints_dir() if self.in_hub else CHECKPOINTS_DIR, self.default_file)

    def path(self, explicit: Optional[str] = None) -> str:
        """The argument, else the environment variable, else the default, else an existing legacy place
        (the default when none exists, so messages name where the file should go)."""
        if explicit:
            return explicit
        if self.env and os.environ.get(self.env):
            return os.environ[self.env]
        if os.path.isfile(self.default):
            return self.default
        return next((p for p in self.legacy if os.path.isfile(p)), self.default)

    def missing_message(self, where: str, flag: Optional[str] = None) -> str:
        """One line: which file is missing, where it goes, where it comes from, how to point at it."""
        how = [f"put it at {self.default}"]
        if flag:
            how.append(f"pass {flag}")
        if self.env:
            how.append(f"set {self.env}")
        return f"{self.description.split(' ', 1)[1]} weights not found at {where}: get {self.source}, and {', or '.join(how)}"

    def matches(self, state_dict: Mapping[str, object]) -> bool:
        """True when a state_dict has this file's number of entries and top-level modules (its optional modules
        left aside)."""
        keys = [k for k in state_dict if k.split(".", 1)[0] not in self.optional]
        return bool(self.keys) and len(keys) == self.keys and {k.split(".", 1)[0] for k in keys} == set(self.modules)


# The generator's per-scale emotion layers (hparams emotion_film, models/wav2lip.py): outside the released layout.
EMOTION_FILM = "emotion_film"


def _m(*names: str) -> frozenset:
    return frozenset(names)


# S3FD's layers in face-alignment's s3fd.pth: the VGG trunk, the extra layers, the three L2-normed taps and the
# six heads' sources (each with a conf and a loc head).
S3FD_VGG_LAYERS = (
    "conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3",
    "conv4_1", "conv4_2", "conv4_3", "conv5_1", "conv5_2", "conv5_3", "fc6", "fc7",
)  # fmt: skip
S3FD_EXTRA_LAYERS = ("conv6_1", "conv6_2", "conv7_1", "conv7_2")
S3FD_NORM_LEVELS = ("3_3", "4_3", "5_3")
S3FD_HEAD_SOURCES = ("conv3_3_norm", "conv4_3_norm", "conv5_3_norm", "fc7", "conv6_2", "conv7_2")
_S3FD_HEADS = [f"{source}_mbox_{k}" for source in S3FD_HEAD_SOURCES for k in ("conf", "loc")]

WEIGHTS: dict[str, WeightFile] = {
    w.name: w
    for w in (
        WeightFile(
            "emogen_generator",
            "an EmoGen generator",
            "the EmoGen authors' release (linked from github.com/sahilg06/EmoGen)",
            "emogen_generator.pth",
            keys=356,
            modules=_m(
                "audio_encoder", "emotion_encoder", "face_decoder_blocks", "face_encoder_blocks", "output_block"
            ),
            optional=_m(EMOTION_FILM),
        ),
        WeightFile(
            "wav2lip_generator",
            "a Wav2Lip generator (lip sync only, no emotion)",
            "wav2lip_gan.pth or wav2lip.pth from the Wav2Lip project's README (github.com/Rudrabha/Wav2Lip; "
            "non-commercial licence)",
            "wav2lip_gan.pth",
            legacy=(os.path.join(CHECKOUT, "checkpoints", "wav2lip.pth"),),
            keys=352,
            modules=_m("audio_encoder", "face_decoder_blocks", "face_encoder_blocks", "output_block"),
        ),
        WeightFile(
            "syncnet_color",
            "a Wav2Lip lip-sync expert (SyncNet_color)",
            "the Wav2Lip project's expert discriminator (github.com/Rudrabha/Wav2Lip)",
            "lipsync_expert.pth",
            keys=217,
            modules=_m("audio_encoder", "face_encoder"),
        ),
        WeightFile(
            "wav2lip_disc_qual",
            "a Wav2Lip visual-quality discriminator",
            "the Wav2Lip project (github.com/Rudrabha/Wav2Lip)",
            "visual_quality_disc.pth",
            keys=28,
            modules=_m("binary_pred", "face_encoder_blocks"),
        ),
        WeightFile(
            "emotion_disc",
            "an EmoGen emotion discriminator (DISCEMO)",
            "the EmoGen authors' release, or train it with emotion_disc_train.py",
            "emotion_disc.pth",
            keys=20,
            modules=_m("cls", "conv_1", "conv_2", "conv_3", "conv_4", "conv_5", "projector", "rnn_1"),
        ),
        WeightFile(
            "s3fd",
            "an S3FD face detector",
            "s3fd-619a316812.pth from the face-alignment project (github.com/1adrianb/face-alignment), "
            "renamed s3fd.pth",
            "s3fd.pth",
            env="EMOGEN_S3FD_PATH",
            legacy=(os.path.join(CHECKOUT, "face_detection", "detection", "sfd", "s3fd.pth"),),
            keys=65,
            modules=_m(
                *S3FD_VGG_LAYERS,
                *S3FD_EXTRA_LAYERS,
                *(f"conv{level}_norm" for level in S3FD_NORM_LEVELS),
                *_S3FD_HEADS,
            ),
        ),
        WeightFile(
            "syncnet_eval",
            "a syncnet_python SyncNet (syncnet_v2.model)",
            "syncnet_v2.model from the syncnet_python project (github.com/joonson/syncnet_python, download_model.sh)",
            "syncnet_v2.model",
            env="EMOGEN_SYNCNET_PATH",
            keys=102,
            modules=_m("netcnnaud", "netcnnlip", "netfcaud", "netfclip"),
        ),
        WeightFile(
            "sfd_face",
            "a syncnet_python S3FD (LSE face detection)",
            "sfd_face.pth from the syncnet_python project (github.com/joonson/syncnet_python, download_model.sh "
            "puts it in detectors/s3fd/weights/; face-alignment's s3fd.pth is accepted too)",
            "sfd_face.pth",
            env="EMOGEN_SFD_FACE_PATH",
            keys=65,
            modules=_m("vgg", "L2Norm3_3", "L2Norm4_3", "L2Norm5_3", "extras", "loc", "conf"),
        ),
        WeightFile(
            "vgg19",
            "a VGG19 ImageNet",
            "torchvision's VGG19 ImageNet weights (torchvision downloads them on first use of "
            "vgg19(weights='IMAGENET1K_V1'))",
            "vgg19-dcbfe244.pth",
            in_hub=True,
        ),
        WeightFile(
            "inception",
            "an FID Inception",
            "pt_inception-2015-12-05-6726825d.pth from the pytorch-fid project's releases",
            "pt_inception-2015-12-05-6726825d.pth",
            env="EMOGEN_INCEPTION_PATH",
            in_hub=True,
        ),
    )
}


def weight_path(name: str, explicit: Optional[str] = None) -> str:
    """Where weight file ``name`` is (or should be): see WeightFile.path."""
    return WEIGHTS[name].path(explicit)


def identify_state_dict(state_dict: Mapping[str, object]) -> str:
    """Say in words which known network a state_dict belongs to (for error messages)."""
    for weight in WEIGHTS.values():
        if weight.matches(state_dict):
            return weight.description
    keys = set(state_dict)
    sample = ", ".join(sorted(keys)[:3])
    return f"an unknown network ({len(keys)} tensors, e.g. {sample})"
