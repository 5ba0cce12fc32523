"""Train the EmoGen generator with a frozen lip-sync expert and the emotion discriminator.

Single process: python train.py --data_root ... --checkpoint_dir ... --syncnet_checkpoint_path ... --emotion_disc_path ...
Several GPUs or processes: torchrun --nproc_per_node N train.py (same flags).
"""

from __future__ import annotations

import argparse
from typing import Optional, Sequence


def get_args_parser() -> argparse.ArgumentParser:
    """Command line of train.py."""
    from emogen.common.cli import ArgumentParser, positive_float, positive_int
    from emogen.training.options import add_common_training_args, add_hparams_argument

    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data_root", required=True, help="preprocessed dataset (preprocess_crema-d.py output)")
    p.add_argument("--checkpoint_dir", required=True, help="where checkpoints and sample collages are written")
    p.add_argument("--syncnet_checkpoint_path", required=True, help="trained lip-sync expert (color_syncnet_train.py)")
    p.add_argument(
        "--emotion_disc_path",
        default=None,
        help="trained emotion discriminator (emotion_disc_train.py); needed by the emotion terms (emo_wt, "
        "emo_swap_wt), so it may be left out only when both are 0 (the run then has no discriminator to update)",
    )
    p.add_argument(
        "--checkpoint_path",
        default=None,
        help="resume the generator from this checkpoint ('latest': newest in --checkpoint_dir); the "
        "matching disc_emo_ checkpoint beside it is resumed too",
    )
    p.add_argument(
        "--init_from",
        default=None,
        help="start a new run from these generator weights: an EmoGen generator (e.g. the released one, to "
        "fine-tune on your own face), or Wav2Lip's wav2lip.pth / wav2lip_gan.pth (every shared tensor copied, the "
        "emotion half of the first decoder layer zero); the optimizer and step start fresh (--checkpoint_path "
        "resumes instead)",
    )
    p.add_argument(
        "--freeze_emotion_disc",
        action="store_true",
        help="keep the emotion discriminator as loaded (by default, as the original, it takes one step on "
        "the real frames after every generator step); faster when emo_wt is 0",
    )
    p.add_argument(
        "--no_sync_switch",
        action="store_true",
        help="keep syncnet_wt as hparams gives it (by default, as the original, it becomes 0.03 once the "
        "evaluation sync loss falls below 0.75)",
    )
    p.add_argument(
        "--vgg_path",
        default=None,
        help="VGG19 ImageNet weights for the perceptual term (default: torchvision's cache; where they are "
        "missing the term is left out, saying so)",
    )
    p.add_argument(
        "--random_vgg",
        action="store_true",
        help="use a randomly initialised VGG19 when no weights exist (tests; not the paper's loss); without "
        "this flag and without the weights, the perceptual term is left out with a note",
    )
    p.add_argument(
        "--reference",
        choices=["same_clip", "other_emotion", "neutral"],
        default="same_clip",
        help="where each sample's reference window comes from: same_clip (default, as the original: "
        "another window of the target's clip, whose expression already matches the label), "
        "other_emotion (a clip of the same actor with another emotion, so the expression has to "
        "come from the label) or neutral (the same actor's NEU clips: a neutral face made emotional, as a "
        "user's face usually is at inference); docs/training.md has the measurements",
    )
    p.add_argument(
        "--reference_mouth",
        choices=["keep", "mask"],
        default="keep",
        help="keep (default, as the original) the reference window's mouth, or mask it (MOUTH_REGION set to zero), "
        "so the generator cannot copy the reference's mouth and learns it from the speech; a generator trained "
        "so renders with inference.py --reference masked_mouth",
    )
    p.add_argument("--disc_lr", type=positive_float, default=1e-6, help="emotion discriminator learning rate (1e-6)")
    p.add_argument(
        "--eval_batches",
        type=positive_int,
        default=51,
        help="validation batches per evaluation, cycling the loader if it is shorter (51: the original "
        "stops after its 51st batch, 'step > 50')",
    )
    p.add_argument(
        "--expert_bn",
        choices=["train", "eval"],
        default="train",
        help="BatchNorm mode of the frozen lip-sync expert: train (default, as the original, which never "
        "calls .eval(): batch statistics, running averages keep moving) or eval (running "
        "statistics; a steadier sync loss)",
    )
    add_common_training_args(p)
    add_hparams_argument(p)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Parse arguments, train the generator; the run reports as it goes."""
    args = get_args_parser().parse_args(argv)
    from emogen.training.runs import run_generator_training

    run_generator_training(args)  # the loop reports how it stopped; the summary goes beside the checkpoints
    return 0


def cli() -> None:
    """Console-script entry: run ``main`` on ``sys.argv`` and exit with its status."""
    from emogen.common.errors import run_script

    run_script(main)
